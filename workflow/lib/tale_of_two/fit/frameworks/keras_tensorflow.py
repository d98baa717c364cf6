"""Keras 3 `fit` on the TensorFlow backend: the article's `fit` variant, as tensorflow/fit runs it."""

from __future__ import annotations

from tale_of_two.fit.frameworks._keras import on_keras, select_backend

keras = select_backend("tensorflow")  # sets KERAS_BACKEND, then imports Keras
from tale_of_two.fit.frameworks import tensorflow  # noqa: E402  (after Keras is on its backend)
from tale_of_two.fit.frameworks._keras_fit import Fit  # noqa: E402
from tale_of_two.fit.harness import Runtime  # noqa: E402

VERSION = f"keras {keras.__version__} (backend {keras.backend.backend()} {tensorflow.VERSION})"


def configure(device: str, threads: int) -> Runtime:
    return on_keras(tensorflow.configure(device, threads))


VARIANTS = {"fit": Fit}
