"""JAX, and Keras 3 `fit` on each backend: every run fits its optimum, runs where it says, and JAX follows torch.

Keras fixes its backend when it is first imported, so a process holds one Keras backend: each
``keras_<backend>`` module runs in a process of its own (the three side by side), JAX in this one.
Tolerances and data as in test_variants.py: 1e-3 of LAD for MAE runs on the outlier data (JAX's own fits
to their optimum are test_variants' too).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import json

import numpy as np
import pytest
from conftest import python_workers

from tale_of_two.fit import harness

MAE_TOLERANCE = 1e-3
# As test_variants' MAE runs, on the outlier data: within 2.9e-4 of LAD after 300 epochs (measured, keras_jax).
CONVERGED_MAE = dict(lr=0.005, epochs=300)
KERAS_BACKENDS = ["tensorflow", "torch", "jax"]
# Keras on TensorFlow from its own initialiser is tensorflow/fit, number for number (test_variants covers it).
KERAS_INITS = {"tensorflow": ["uniform"], "torch": ["uniform", "framework"], "jax": ["uniform", "framework"]}
KERAS_RUNS = [(backend, init) for backend in KERAS_BACKENDS for init in KERAS_INITS[backend]]
# Mini-batches of 16 of the 64 points, from the shared start: fit must take them in the harness's order.
IN_ORDER = dict(init="uniform", lr=0.005, epochs=40, batch_size=16)

# Runs in a fresh interpreter: every Keras run of one backend, then a second Keras backend, which must refuse.
KERAS_WORKER = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
framework, dataset, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
arrays = np.load(dataset)
x, y = arrays["x"], arrays["y"]
results = {
    name: harness.measure(framework, "fit", x, y, harness.Settings(device="cpu", repeats=1, warmup_epochs=1, **extra))
    for name, extra in runs.items()
}
import keras
other = "keras_torch" if framework != "keras_torch" else "keras_jax"
try:
    __import__("tale_of_two.fit.frameworks." + other)
    refusal = None
except ImportError as error:
    refusal = str(error)
print(json.dumps({"results": results, "keras_backend": keras.backend.backend(), "refusal": refusal}))
"""


def keras_settings(backend: str) -> dict[str, dict]:
    return {**{init: dict(init=init, **CONVERGED_MAE) for init in KERAS_INITS[backend]}, "in_order": IN_ORDER}


def mae_descent_in_order(x, y, settings: harness.Settings) -> tuple[list[float], float, float]:
    """What `fit` computes with unshuffled mini-batches, in float64: one MAE sub-gradient step per batch, in the
    order of `Settings.batches`; an epoch's loss is the mean of its batches' losses (each before its step),
    weighted by batch size, as Keras logs it. Returns the losses and the final w, b."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    w, b = settings.initial_parameters()
    losses = []
    for _ in range(settings.epochs):
        batch_losses, sizes = [], []
        for part in settings.batches(len(x)):
            residual = w * x[part] + b - y[part]
            batch_losses.append(np.mean(np.abs(residual)))
            sizes.append(len(residual))
            w, b = w - settings.lr * np.mean(np.sign(residual) * x[part]), b - settings.lr * np.mean(np.sign(residual))
        losses.append(float(np.average(batch_losses, weights=sizes)))
    return losses, w, b


def run_settings(**settings) -> harness.Settings:
    return harness.Settings(device="cpu", repeats=1, warmup_epochs=1, **settings)


@functools.cache
def fit(framework, variant, x_bytes, y_bytes, **settings):
    x, y = np.frombuffer(x_bytes, np.float32), np.frombuffer(y_bytes, np.float32)
    return harness.measure(framework, variant, x, y, run_settings(**settings))


def fitted(arrays, framework, variant, **settings):
    return fit(framework, variant, arrays["x"].tobytes(), arrays["y"].tobytes(), **settings)


@pytest.fixture(scope="module")
def keras_runs(outliers, tmp_path_factory):
    """{backend: worker output}: the three Keras backends, each in its own process, all at once."""
    dataset = tmp_path_factory.mktemp("keras") / "dataset.npz"
    np.savez(dataset, x=outliers["x"], y=outliers["y"])
    arguments = {
        backend: [f"keras_{backend}", str(dataset), json.dumps(keras_settings(backend))] for backend in KERAS_BACKENDS
    }
    return python_workers(KERAS_WORKER, arguments)


# --- JAX ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["scratch", "layers"])
def test_jax_and_torch_agree_at_every_epoch(arrays, variant):
    """Same start, same full-batch updates: the same trajectory up to float32 rounding."""
    settings = dict(lr=0.001, epochs=500, init="uniform")
    jax_run = fitted(arrays, "jax", variant, **settings)
    torch_run = fitted(arrays, "torch", variant, **settings)
    np.testing.assert_allclose(jax_run["loss_history"], torch_run["loss_history"], rtol=1e-5)
    assert jax_run["fitted"]["w"] == pytest.approx(torch_run["fitted"]["w"], abs=1e-6)
    assert jax_run["fitted"]["b"] == pytest.approx(torch_run["fitted"]["b"], abs=1e-6)


def test_jax_is_deterministic_and_records_what_it_ran_on(arrays):
    import jax

    settings = harness.Settings(device="cpu", repeats=2, warmup_epochs=1, lr=0.01, epochs=20, init="framework")
    result = harness.measure("jax", "layers", arrays["x"], arrays["y"], settings)
    assert result["repeats_identical"]
    assert result["framework_version"] == jax.__version__
    assert result["device"] == "cpu" and result["device_name"] == "cpu" and result["threads"] == 1


def test_jax_thread_pool_is_sized_once(arrays):
    module = importlib.import_module("tale_of_two.fit.frameworks.jax")
    assert module.configure("cpu", 1).threads == 1
    with pytest.raises(RuntimeError, match="sized once per process"):
        module.configure("cpu", 2)


def test_jax_without_a_gpu_refuses_cuda():
    module = importlib.import_module("tale_of_two.fit.frameworks.jax")
    module.configure("cpu", 1)
    if importlib.import_module("tale_of_two.fit.frameworks._xla_cpu").gpus():
        pytest.skip("this machine has a GPU")
    with pytest.raises(harness.DeviceUnavailable, match="JAX sees no GPU"):
        module.configure("cuda", 1)


# --- Keras 3 fit, one backend per process -----------------------------------------------------------


def test_keras_tensorflow_fit_is_tensorflow_fit_to_the_last_digit(keras_runs, outliers):
    """The claim in config/config.yaml: the same code on the same backend from the same start, bit for bit."""
    own_process = fitted(outliers, "tensorflow", "fit", init="uniform", **CONVERGED_MAE)
    keras_tensorflow = keras_runs["tensorflow"]["results"]["uniform"]
    assert keras_tensorflow["loss_history"] == own_process["loss_history"]
    assert keras_tensorflow["fitted"] == own_process["fitted"]


@pytest.mark.parametrize("backend,init", KERAS_RUNS)
def test_keras_fit_reaches_lad(keras_runs, outliers, backend, init):
    result = keras_runs[backend]["results"][init]
    assert result["status"] == "ok" and result["loss_name"] == "mae"
    assert len(result["loss_history"]) == CONVERGED_MAE["epochs"]
    assert result["fitted"]["w"] == pytest.approx(outliers["mae"]["w"], abs=MAE_TOLERANCE)
    assert result["fitted"]["b"] == pytest.approx(outliers["mae"]["b"], abs=MAE_TOLERANCE)


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
def test_keras_ran_on_the_backend_it_names(keras_runs, backend):
    worker = keras_runs[backend]
    keras_version = importlib.metadata.version("keras")
    assert worker["keras_backend"] == backend
    for result in worker["results"].values():
        assert result["framework_version"].startswith(f"keras {keras_version} (backend {backend} ")


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
def test_a_second_keras_backend_in_one_process_is_refused(keras_runs, backend):
    assert "already imported in this process" in keras_runs[backend]["refusal"]


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
def test_keras_fit_takes_the_mini_batches_in_order_unshuffled(keras_runs, outliers, backend):
    """`fit(shuffle=False)`: the harness's batches in order, as every variant takes them. Measured against the
    float64 reference: 1.9e-7 relative in the loss, 4e-7 in w and b on every backend; Keras's default shuffle
    is off by 2e-2 to 4e-2 in the loss and 3e-3 to 1.5e-2 in w and b."""
    result = keras_runs[backend]["results"]["in_order"]
    losses, w, b = mae_descent_in_order(outliers["x"], outliers["y"], run_settings(**IN_ORDER))
    np.testing.assert_allclose(result["loss_history"], losses, rtol=1e-5)
    assert result["fitted"]["w"] == pytest.approx(w, abs=1e-5) and result["fitted"]["b"] == pytest.approx(b, abs=1e-5)


def test_keras_backends_agree_from_the_same_start(keras_runs):
    """One fit, three engines, the same start: the same MAE at every epoch up to float32 rounding."""
    histories = {backend: keras_runs[backend]["results"]["uniform"]["loss_history"] for backend in KERAS_BACKENDS}
    for backend in KERAS_BACKENDS[1:]:
        np.testing.assert_allclose(histories[backend], histories["tensorflow"], rtol=1e-5, err_msg=backend)
