"""Keras 3 `fit` on the JAX backend: the article's TensorFlow `fit` variant, run by JAX."""

from __future__ import annotations

import jax

from tale_of_two.fit.frameworks._keras import on_keras, select_backend
from tale_of_two.fit.frameworks._xla_cpu import configure_jax
from tale_of_two.fit.harness import Runtime

keras = select_backend("jax")  # sets KERAS_BACKEND, then imports Keras
from tale_of_two.fit.frameworks._keras_fit import Fit, FitDataset, MlpFit, MlpFitDataset  # noqa: E402

VERSION = f"keras {keras.__version__} (backend {keras.backend.backend()} {jax.__version__})"


def configure(device: str, threads: int) -> Runtime:
    return on_keras(configure_jax(device, threads))


VARIANTS = {"fit": Fit, "fit_dataset": FitDataset, "mlp_fit": MlpFit, "mlp_fit_dataset": MlpFitDataset}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "mlp_fit_dataset": ("mlp_fit", "as fit_dataset's: a new iterator over x and y's batches every epoch"),
    "fit_dataset": (
        "fit",
        "Keras 3's JAX epoch iterator builds a new iterator over x and y's batches at the start of every epoch and "
        "another after its last step: the data pipeline group",
    ),
}
