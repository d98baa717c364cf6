"""Keras 3 `fit` on the PyTorch backend: the article's TensorFlow `fit` variant, run by torch."""

from __future__ import annotations

from tale_of_two.fit.frameworks._keras import on_keras, select_backend

keras = select_backend("torch")  # sets KERAS_BACKEND, then imports Keras
from tale_of_two.fit.frameworks import torch  # noqa: E402  (torch's device, threads and determinism settings)
from tale_of_two.fit.frameworks._keras_fit import Fit, FitDataset, MlpFit, MlpFitDataset  # noqa: E402
from tale_of_two.fit.harness import Runtime  # noqa: E402

VERSION = f"keras {keras.__version__} (backend {keras.backend.backend()} {torch.VERSION})"


def configure(device: str, threads: int) -> Runtime:
    return on_keras(torch.configure(device, threads))


VARIANTS = {"fit": Fit, "fit_dataset": FitDataset, "mlp_fit": MlpFit, "mlp_fit_dataset": MlpFitDataset}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "mlp_fit_dataset": ("mlp_fit", "as fit_dataset's: a new iterator over x and y's batches every epoch"),
    "fit_dataset": (
        "fit",
        "Keras 3's torch epoch iterator builds a new torch DataLoader over x and y at the start of every epoch and "
        "another after its last step: the data pipeline group",
    ),
}
