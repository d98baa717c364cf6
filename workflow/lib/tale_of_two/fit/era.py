"""Which era this interpreter is: the versions of Python, numpy and the frameworks it has imported.

Written into every then_vs_now result and idioms record, so that each says what ran it. What a 2020
framework lacks is handled, and recorded as `notes`, by the framework modules themselves.
numpy and the standard library only; Python 3.8.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import numpy as np


def versions() -> dict[str, str]:
    """The interpreter, numpy, and the frameworks this process has imported (with TensorFlow, its Keras)."""
    found = {"python": platform.python_version(), "numpy": np.__version__}
    if "torch" in sys.modules:
        found["torch"] = sys.modules["torch"].__version__
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        found["tensorflow"] = tf.__version__
        # tf.keras of TensorFlow 2.6 to 2.15 is the separate `keras` package's, which has no __version__ there.
        found["keras"] = getattr(tf.keras, "__version__", None) or metadata.version("keras")
    return found
