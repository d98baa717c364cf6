"""Keras 3 on a chosen backend: what keras_tensorflow, keras_torch and keras_jax share.

Not a framework (no ``VARIANTS``). Keras reads ``KERAS_BACKEND`` once, when it is first imported, so
a process holds one Keras backend: ``select_backend`` sets it and imports Keras, or refuses where this
process already runs Keras on another backend (each Snakemake job is a process of its own).
"""

from __future__ import annotations

import importlib
import os
import sys

from tale_of_two.fit.harness import Runtime


def select_backend(backend: str):
    """Keras, imported on `backend`; an ImportError when Keras already runs here on another backend."""
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != backend:
        raise ImportError(
            f"keras_{backend}: Keras was already imported in this process with the {loaded.backend.backend()!r} "
            f"backend and cannot switch to {backend!r}; run keras_{backend} in a process of its own"
        )
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # Keras imports TensorFlow where installed, any backend
    return importlib.import_module("keras")


def on_keras(backend_runtime: Runtime) -> Runtime:
    """The backend framework's runtime (its device, threads and determinism), scoped and seeded by Keras."""
    keras = sys.modules["keras"]
    # "cpu", not "cpu:0": under "cpu:0" the torch backend moves each new weight to a device torch counts as
    # another, and the copy gets no gradient.
    device = "cpu" if backend_runtime.device_kind == "cpu" else "gpu:0"
    return Runtime(
        device,
        backend_runtime.device_kind,
        backend_runtime.device_name,
        backend_runtime.threads,
        keras.utils.set_random_seed,  # Python, numpy, Keras's seed generator and the backend's
        scope=lambda: keras.device(device),  # tf.device, torch's default device or jax.default_device
        notes=backend_runtime.notes,
        device_peak_bytes=backend_runtime.device_peak_bytes,
    )
