"""The MLP workload (variants `mlp_*`): its data, its shared start, its FLOPs, and every framework's variants
following numpy's hand-written backpropagation epoch by epoch from the same draw of every weight.

A wrong initial weight, activation or hidden-layer gradient in any framework's `mlp_*` variant moves its loss
history off numpy's far beyond the tolerance (each was broken once and turned these red); numpy's own gradient
is checked against central differences in float64, so the reference cannot be wrong in the same way.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from conftest import python_workers

from tale_of_two.fit import data, harness, workloads

# config/config.yaml's mlp_dataset: 200 points of 4 inputs, seed 43 (workloads.MLPDatasetSpec's defaults).
DEFAULT_MLP_SHA256 = "bc28284ae19133dcb381e74403c27c9a39f6d71666a88f922094e680ab5d332f"
# Full batch from the same start: float32 rounding in sums each framework orders its own way. Measured at most
# 2e-7 over these 100 epochs (2026-12-07); a wrong weight, activation or gradient is off by 1e-3 or more.
TOLERANCE = 1e-5
SETTINGS = dict(lr=0.1, epochs=100, init="uniform", hidden=(16, 16), activation="tanh")
FRAMEWORK_RUNS = [
    ("numpy", "mlp_layers"),
    ("torch", "mlp_scratch"),
    ("torch", "mlp_layers"),
    ("tensorflow", "mlp_scratch"),
    ("tensorflow", "mlp_layers"),
    ("tensorflow", "mlp_fit"),
    ("tensorflow", "mlp_fit_dataset"),
    ("jax", "mlp_scratch"),
    ("jax", "mlp_layers"),
    # the remedies of the width axis: the same losses as the runs they remedy
    ("tensorflow", "mlp_scratch_graph"),
    ("tensorflow", "mlp_layers_graph"),
    ("torch", "mlp_layers_fused"),
    ("torch", "mlp_scratch_compiled"),
]
KERAS_BACKENDS = ["keras_torch", "keras_jax"]

KERAS_WORKER = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
framework, dataset, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
arrays = np.load(dataset)
settings = harness.Settings(device="cpu", repeats=1, warmup_epochs=1, **settings)
variants = ("mlp_fit", "mlp_fit_dataset")
print(json.dumps({v: harness.measure(framework, v, arrays["x"], arrays["y"], settings) for v in variants}))
"""


@pytest.fixture(scope="module")
def mlp_data():
    return workloads.generate_mlp(workloads.MLPDatasetSpec())


def run_settings(**settings) -> harness.Settings:
    return harness.Settings(**{"device": "cpu", "repeats": 1, "warmup_epochs": 1, **SETTINGS, **settings})


@functools.cache
def measured(framework: str, variant: str, activation: str = "tanh") -> dict:
    arrays = workloads.generate_mlp(workloads.MLPDatasetSpec())
    return harness.measure(framework, variant, arrays["x"], arrays["y"], run_settings(activation=activation))


def relative_gap(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --- the data, the start, the FLOPs ---------------------------------------------------------------------------


def test_the_mlp_dataset_is_seeded_float32_and_pinned(mlp_data):
    assert mlp_data["x"].shape == (200, 4) and mlp_data["y"].shape == (200,)
    assert mlp_data["x"].dtype == mlp_data["y"].dtype == np.float32
    assert data.arrays_sha256(mlp_data) == DEFAULT_MLP_SHA256
    other = workloads.generate_mlp(workloads.MLPDatasetSpec(seed=44))
    assert data.arrays_sha256(other) != DEFAULT_MLP_SHA256


def test_the_mlp_dataset_saves_and_loads_checked(mlp_data, tmp_path):
    data.save_npz(tmp_path / "mlp.npz", mlp_data)
    loaded = data.load(tmp_path / "mlp.npz", expected_sha256=DEFAULT_MLP_SHA256)
    assert np.array_equal(loaded["x"], mlp_data["x"]) and np.array_equal(loaded["y"], mlp_data["y"])


def test_the_target_is_nonlinear_a_line_fits_it_badly(mlp_data):
    from tale_of_two.analysis.optima import mlp_metadata

    metadata = mlp_metadata(workloads.MLPDatasetSpec(), mlp_data)
    assert metadata["affine_mse"] > 5 * 0.1**2  # the best affine fit: seven times the noise's variance


def test_every_weight_is_drawn_once_with_numpy_the_same_for_every_framework():
    first = harness.Settings(seed=3, hidden=(5, 7)).initial_weights(4)
    again = harness.Settings(seed=3, hidden=[5, 7]).initial_weights(4)  # a JSON list, as a job reads it
    assert [(w.shape, b.shape) for w, b in first] == [((4, 5), (5,)), ((5, 7), (7,)), ((7, 1), (1,))]
    pairs = [(a, b) for layer, other in zip(first, again, strict=True) for a, b in zip(layer, other, strict=True)]
    assert all(np.array_equal(a, b) for a, b in pairs)
    assert all(w.dtype == b.dtype == np.float32 for w, b in first)
    for (weight, bias), (fan_in, fan_out) in zip(first, [(4, 5), (5, 7), (7, 1)], strict=True):
        assert np.abs(weight).max() <= np.sqrt(6 / (fan_in + fan_out))  # Glorot-uniform
        assert np.all((-0.1 <= bias) & (bias <= 0.1)) and np.any(bias != 0)
    other = harness.Settings(seed=4, hidden=(5, 7)).initial_weights(4)
    assert not np.array_equal(other[0][0], first[0][0])
    assert harness.Settings(init="framework").initial_weights(4) is None


def test_flops_per_step_match_a_hand_count():
    # n = 10 points, d = 3 inputs, hidden [4, 5]: layers 3x4, 4x5, 5x1, each product 2 * n * fan_in * fan_out.
    forward = 2 * 10 * (3 * 4) + 2 * 10 * (4 * 5) + 2 * 10 * (5 * 1)  # 240 + 400 + 100
    weight_gradients = forward
    input_gradients = 2 * 10 * (4 * 5) + 2 * 10 * (5 * 1)  # none for the first layer: x needs no gradient
    assert forward + weight_gradients + input_gradients == 1980
    assert workloads.flops_per_step(10, 3, [4, 5]) == 1980
    assert workloads.parameter_count(3, [4, 5]) == 3 * 4 + 4 + 4 * 5 + 5 + 5 * 1 + 1


def test_a_variants_workload_is_read_from_its_name():
    assert workloads.workload_of("mlp_scratch") == workloads.workload_of("mlp_fit_dataset") == "mlp"
    assert workloads.workload_of("scratch") == workloads.workload_of("layers_fused") == "line"


# --- the reference: numpy's backpropagation by hand --------------------------------------------------------------


def float64_loss(layers, x, y, activation=np.tanh) -> float:
    a = x.astype(np.float64)
    for index, (weight, bias) in enumerate(layers):
        a = a @ weight + bias
        if index < len(layers) - 1:
            a = activation(a)
    return float(np.mean((a[:, 0] - y) ** 2))


@pytest.mark.parametrize("variant", ["mlp_scratch", "mlp_layers"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_numpy_backpropagation_is_the_gradient(mlp_data, variant, activation):
    """One step of numpy's hand-written backprop against central differences of the float64 loss."""
    from tale_of_two.fit.frameworks import numpy as numpy_framework

    lr = 1e-3
    x, y = mlp_data["x"][:50], mlp_data["y"][:50]
    settings = run_settings(lr=lr, activation=activation, hidden=(6, 5))
    model = numpy_framework.VARIANTS[variant](x, y, settings, numpy_framework.configure("cpu", 1))
    before = [a.astype(np.float64) for a in model.parameters()]
    ((batch_x, batch_y),) = model.batches
    loss = model.train_step(batch_x, batch_y)
    step = [(b - a.astype(np.float64)) / lr for b, a in zip(before, model.parameters(), strict=True)]  # = the gradient
    layers = [(before[i], before[i + 1]) for i in range(0, len(before), 2)]
    function = np.tanh if activation == "tanh" else lambda z: np.maximum(z, 0)
    assert float(loss) == pytest.approx(float64_loss(layers, x, y, function), rel=1e-5)
    rng = np.random.default_rng(0)
    for index, gradient in enumerate(step):
        for flat in rng.choice(gradient.size, min(5, gradient.size), replace=False):
            shifted = [[a.copy() for a in layer] for layer in layers]
            array = shifted[index // 2][index % 2].reshape(-1)
            array[flat] += 1e-6
            up = float64_loss(shifted, x, y, function)
            array[flat] -= 2e-6
            down = float64_loss(shifted, x, y, function)
            numeric = (up - down) / 2e-6
            assert gradient.reshape(-1)[flat] == pytest.approx(numeric, rel=2e-2, abs=2e-4), (index, flat)


def test_numpy_learns_the_mlp():
    losses = measured("numpy", "mlp_scratch")["loss_history"]
    assert losses[-1] < 0.1 * losses[0]


# --- every framework follows it --------------------------------------------------------------------------------


@pytest.mark.parametrize("framework,variant", FRAMEWORK_RUNS)
def test_every_framework_follows_numpy_from_the_same_start(framework, variant):
    reference = measured("numpy", "mlp_scratch")
    result = measured(framework, variant)
    assert result["status"] == "ok" and result["loss_name"] == "mse"
    assert len(result["loss_history"]) == SETTINGS["epochs"]
    # Epoch 1 is the loss of the shared start: a wrong initial weight or activation shows here already.
    assert result["loss_history"][0] == pytest.approx(reference["loss_history"][0], rel=TOLERANCE)
    assert relative_gap(result["loss_history"], reference["loss_history"]) <= TOLERANCE
    weights, expected = result["fitted"]["weights"], reference["fitted"]["weights"]
    assert weights["count"] == expected["count"] == workloads.parameter_count(4, SETTINGS["hidden"])
    assert weights["norm"] == pytest.approx(expected["norm"], rel=TOLERANCE)
    assert result["fitted"]["w"] is None and result["fitted"]["b"] is None


@pytest.mark.parametrize("framework", ["torch", "tensorflow", "jax"])
def test_relu_too(framework):
    reference = measured("numpy", "mlp_scratch", "relu")
    for variant in ("mlp_scratch", "mlp_layers"):
        result = measured(framework, variant, "relu")
        assert relative_gap(result["loss_history"], reference["loss_history"]) <= TOLERANCE, variant
    assert relative_gap(reference["loss_history"], measured("numpy", "mlp_scratch")["loss_history"]) > 1e-3


@pytest.fixture(scope="module")
def keras_runs(mlp_data, tmp_path_factory):
    dataset = tmp_path_factory.mktemp("keras_mlp") / "mlp.npz"
    np.savez(dataset, x=mlp_data["x"], y=mlp_data["y"])
    settings = json.dumps({**SETTINGS, "hidden": list(SETTINGS["hidden"])})
    return python_workers(KERAS_WORKER, {name: [name, str(dataset), settings] for name in KERAS_BACKENDS})


@pytest.mark.parametrize("backend", KERAS_BACKENDS)
@pytest.mark.parametrize("variant", ["mlp_fit", "mlp_fit_dataset"])
def test_keras_fit_follows_numpy_on_every_backend(keras_runs, backend, variant):
    reference = measured("numpy", "mlp_scratch")
    result = keras_runs[backend][variant]
    assert result["status"] == "ok" and len(result["loss_history"]) == SETTINGS["epochs"]
    assert relative_gap(result["loss_history"], reference["loss_history"]) <= TOLERANCE
    assert result["fitted"]["weights"]["norm"] == pytest.approx(reference["fitted"]["weights"]["norm"], rel=TOLERANCE)


@pytest.mark.parametrize(
    "framework,variant", [("torch", "mlp_layers"), ("tensorflow", "mlp_layers"), ("jax", "mlp_layers")]
)
def test_own_initialisers_start_elsewhere_and_still_learn(mlp_data, framework, variant):
    settings = run_settings(init="framework", epochs=60)
    result = harness.measure(framework, variant, mlp_data["x"], mlp_data["y"], settings)
    shared = measured(framework, variant)
    assert result["loss_history"][0] != pytest.approx(shared["loss_history"][0], rel=1e-3)
    assert result["loss_history"][-1] < result["loss_history"][0]


def test_repeats_of_an_mlp_run_are_identical(mlp_data):
    settings = run_settings(repeats=2, epochs=20)
    result = harness.measure("torch", "mlp_layers", mlp_data["x"], mlp_data["y"], settings)
    assert result["repeats_identical"] and len(result["fitted"]["weights"]["sha256"]) == 64


def test_the_memory_pass_reads_the_mlps_inputs(mlp_data):
    marks = harness.yardsticks(mlp_data["x"], mlp_data["y"], run_settings())
    assert marks["memory_pass_s"]["count"] > 0 and marks["memory_pass_s"]["median"] > 0


# --- the config ------------------------------------------------------------------------------------------------


def default_config():
    import copy

    import yaml
    from conftest import ROOT

    return copy.deepcopy(yaml.safe_load((ROOT / "config/config.yaml").read_text()))


def test_the_config_checks_the_mlps_data_and_batches():
    from tale_of_two.config import ConfigError, check_config

    config = default_config()
    config["mlp_dataset"]["d"] = 0
    with pytest.raises(ConfigError, match=r"mlp_dataset\.d"):
        check_config(config)
    config = default_config()
    config["runs"]["torch"]["mlp_scratch"] = {"batch_size": 500}
    with pytest.raises(ConfigError, match=r"runs\.torch\.mlp_scratch: batch_size 500 is larger than mlp_dataset\.n"):
        check_config(config)
    config = default_config()
    config["runs"]["torch"]["mlp_scratch"] = {"activation": "sigmoid"}
    with pytest.raises(ConfigError, match=r"runs\.torch\.mlp_scratch\.activation"):
        check_config(config)


def test_the_width_axis_sizes_every_mlp_run_at_every_width():
    from tale_of_two.config import ConfigError, check_config

    config = default_config()
    jobs = check_config(config).width_jobs
    widths = config["bench"]["widths"]
    assert sorted({width for width, _ in jobs}) == sorted(widths)
    for (width, _), runs in jobs.items():
        for variant, settings in runs.items():
            assert variant.startswith("mlp_") and settings["hidden"] == [width] * config["bench"]["width_layers"]
    assert set(jobs[(widths[0], "tensorflow")]) >= {"mlp_fit", "mlp_fit_dataset", "mlp_scratch", "mlp_scratch_graph"}
    config["bench"]["width_runs"]["torch"]["scratch"] = {}
    with pytest.raises(ConfigError, match=r"bench\.width_runs\.torch\.scratch: not an MLP variant"):
        check_config(config)
    config = default_config()
    del config["bench"]["width_n"]
    with pytest.raises(ConfigError, match=r"bench\.widths: needs bench\.width_n"):
        check_config(config)
