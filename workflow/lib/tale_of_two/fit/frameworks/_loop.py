"""The article's training loop, written once: torch's, TensorFlow's and numpy's scratch and layers runs share it.

Not a framework (no ``VARIANTS``): a variant subclasses `ArticleLoop` and provides ``batches`` (`MiniBatches`) and
``train_step(x, y)``, which returns the batch's loss.
"""


class ArticleLoop:
    """The article's `for epoch in range(epochs):` loop: every epoch, one `train_step` per mini-batch."""

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break
