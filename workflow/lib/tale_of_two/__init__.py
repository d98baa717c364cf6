"""tale-of-two: PyTorch and TensorFlow fit the same line, side by side."""
