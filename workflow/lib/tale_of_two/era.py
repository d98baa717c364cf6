"""Today's training code on a 2020 framework: the one marked place where the two eras differ.

harness.py and the framework modules are written for today's APIs and run unchanged in both eras.
A few APIs they call are younger than the 2020 releases (TensorFlow 2.3, torch 1.7). When the framework
is imported, `fill_gaps` puts the nearest 2020 equivalent in the place of each missing one, and lists
what it did, for the run's result. An API with no 2020 equivalent (`torch.compile`) is left missing: a
variant that calls it fails with the framework's own error, which the harness records.

numpy and the standard library only (the framework is handed in, never imported here); Python 3.8.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import platform
import random
import sys
from collections.abc import Callable

import numpy as np


def gap(api: str, added_in: str, substitute) -> dict[str, object]:
    return {"api": api, "added_in": added_in, "substitute": substitute}


def fill_torch(torch) -> list[dict]:
    gaps = []
    if not hasattr(torch, "use_deterministic_algorithms"):
        # torch 1.7 had the same switch under its first name.
        torch.use_deterministic_algorithms = torch.set_deterministic
        gaps.append(gap("torch.use_deterministic_algorithms", "torch 1.8", "torch.set_deterministic"))
    if not hasattr(torch, "compile"):
        gaps.append(gap("torch.compile", "torch 2.0", None))
    return gaps


def fill_tensorflow(tf) -> list[dict]:
    gaps = []
    if not hasattr(tf.keras.utils, "set_random_seed"):

        def set_random_seed(seed):
            # What keras.utils.set_random_seed does: seed Python, numpy and TensorFlow.
            random.seed(seed)
            np.random.seed(seed)
            tf.random.set_seed(seed)

        tf.keras.utils.set_random_seed = set_random_seed
        gaps.append(
            gap("keras.utils.set_random_seed", "TensorFlow 2.7", "random.seed, np.random.seed, tf.random.set_seed")
        )
    if not hasattr(tf.config.experimental, "enable_op_determinism"):

        def enable_op_determinism():
            # TensorFlow 2.3 read its deterministic-ops switch from the environment.
            os.environ["TF_DETERMINISTIC_OPS"] = "1"

        tf.config.experimental.enable_op_determinism = enable_op_determinism
        gaps.append(gap("tf.config.experimental.enable_op_determinism", "TensorFlow 2.8", "TF_DETERMINISTIC_OPS=1"))
    return gaps


FILLERS: dict[str, Callable] = {"torch": fill_torch, "tensorflow": fill_tensorflow}


class AfterImport(importlib.abc.MetaPathFinder):
    """Calls `callback(module)` right after the top-level module `name` is first imported.

    Hooked into the import itself, so that the harness still times the framework's import from cold,
    and the gaps are filled before any of the framework module's code calls the missing APIs.
    """

    def __init__(self, name: str, callback: Callable):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and let the other finders find the real module
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_fill(module):
            exec_module(module)
            self.callback(module)

        spec.loader.exec_module = exec_then_fill
        return spec


def fill_gaps(framework: str) -> list[dict]:
    """Arrange for `framework`'s missing APIs to be filled when it is imported; the list fills as they are.

    Call it before anything imports the framework. A framework without fillers gets an empty list.
    """
    gaps: list[dict] = []
    filler = FILLERS.get(framework)
    if filler is None:
        return gaps
    if framework in sys.modules:
        raise RuntimeError(f"{framework} is already imported: fill_gaps must run before it is")
    sys.meta_path.insert(0, AfterImport(framework, lambda module: gaps.extend(filler(module))))
    return gaps


def versions() -> dict[str, str]:
    """The interpreter, numpy, and the frameworks this process has imported (with TensorFlow, its Keras)."""
    found = {"python": platform.python_version(), "numpy": np.__version__}
    if "torch" in sys.modules:
        found["torch"] = sys.modules["torch"].__version__
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        found["tensorflow"] = tf.__version__
        found["keras"] = tf.keras.__version__
    return found
