"""Remedies: each gives the loss of the run it remedies at every epoch, from the same start; results/remedies.md
sets them side by side; code.md shows each as a diff; the default run and the benchmark both run them.

Tolerance: the relative difference of the loss at any epoch, from the same start, is at most LOSS_RTOL = 1e-5.
Measured (n = 64, lr 0.001, 300 epochs, both starts, 2026-12-01): 0 for numpy/scratch_inplace, torch's foreach
and fused SGD and TensorFlow's tf.function steps (the same float32 operations); 1.4e-7 to 3.1e-7 for the Keras
fit_dataset remedies, and 2.5e-6 for keras_torch from Keras's own start (fit shuffles the rows of its one batch,
which reorders the sums; fit_dataset does not). 1e-5 covers 2.5e-6 four times over; a changed learning rate or
a batch of 32 where the run is full batch is far outside it (tried by hand: see the report of issue 19).
"""

import copy
import html
import json

import numpy as np
import pytest
import yaml
from conftest import ROOT, make_result, python_workers
from snakemake.utils import update_config

from tale_of_two.analysis import api, remedies
from tale_of_two.config import resolve_bench_runs, resolve_runs
from tale_of_two.fit import harness

LOSS_RTOL = 1e-5
DECLARED = remedies.declared()
IN_PROCESS = [(f, remedy, slow) for f, remedy, slow, _ in DECLARED if not f.startswith("keras_")]
KERAS = sorted({f for f, *_ in DECLARED if f.startswith("keras_")})
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())
SETTINGS = dict(device="cpu", lr=0.001, epochs=300, repeats=1, warmup_epochs=1)


def largest_relative_difference(a, b):
    return remedies.largest_relative_difference(a["loss_history"], b["loss_history"])


def test_the_issue_s_remedies_are_declared():
    pairs = {(f, remedy, slow) for f, remedy, slow, _ in DECLARED}
    assert {
        ("tensorflow", "fit_dataset", "fit"),
        ("keras_torch", "fit_dataset", "fit"),
        ("keras_jax", "fit_dataset", "fit"),
        ("tensorflow", "scratch_graph", "scratch"),
        ("tensorflow", "layers_graph", "layers"),
        ("torch", "layers_foreach", "layers"),
        ("torch", "layers_fused", "layers"),
        ("numpy", "scratch_inplace", "scratch"),
    } <= pairs


@pytest.mark.parametrize("framework,remedy,slow", IN_PROCESS)
@pytest.mark.parametrize("init", ["uniform", "framework"])
def test_a_remedy_gives_its_run_s_loss_at_every_epoch(arrays, framework, remedy, slow, init):
    runs = {variant: harness.Settings(init=init, **SETTINGS) for variant in (slow, remedy)}
    results = harness.measure_interleaved(framework, runs, arrays["x"], arrays["y"])
    assert [r["status"] for r in results.values()] == ["ok", "ok"]
    assert len(results[remedy]["loss_history"]) == SETTINGS["epochs"]
    distance = largest_relative_difference(results[slow], results[remedy])
    print(f"{framework}/{remedy} vs {slow} ({init}): {distance:.2e}")
    assert distance <= LOSS_RTOL


KERAS_WORKER = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
framework, dataset, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
arrays = np.load(dataset)
out = {}
for init in ("uniform", "framework"):
    runs = {v: harness.Settings(init=init, **settings) for v in ("fit", "fit_dataset")}
    out[init] = harness.measure_interleaved(framework, runs, arrays["x"], arrays["y"])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def keras_pairs(arrays, tmp_path_factory):
    """{backend: {init: {variant: result}}}: fit and fit_dataset of each Keras backend, each in a process of its own."""
    dataset = tmp_path_factory.mktemp("remedies") / "dataset.npz"
    np.savez(dataset, x=arrays["x"], y=arrays["y"])
    return python_workers(
        KERAS_WORKER, {framework: [framework, str(dataset), json.dumps(SETTINGS)] for framework in KERAS}
    )


@pytest.mark.parametrize("framework", KERAS)
@pytest.mark.parametrize("init", ["uniform", "framework"])
def test_keras_fit_dataset_gives_fit_s_loss_at_every_epoch(keras_pairs, framework, init):
    results = keras_pairs[framework][init]
    assert results["fit"]["status"] == results["fit_dataset"]["status"] == "ok"
    assert len(results["fit_dataset"]["loss_history"]) == SETTINGS["epochs"]
    distance = largest_relative_difference(results["fit"], results["fit_dataset"])
    print(f"{framework}/fit_dataset vs fit ({init}): {distance:.2e}")
    assert distance <= LOSS_RTOL


def test_fit_dataset_takes_fit_s_mini_batches_in_fit_s_order(arrays):
    """fit takes contiguous, unshuffled batches (shuffle=False); its remedy must take the same ones."""
    runs = {
        variant: harness.Settings(batch_size=16, **{**SETTINGS, "epochs": 40}) for variant in ("fit", "fit_dataset")
    }
    results = harness.measure_interleaved("tensorflow", runs, arrays["x"], arrays["y"])
    distance = largest_relative_difference(results["fit"], results["fit_dataset"])
    print(f"tensorflow/fit_dataset vs fit, batches of 16: {distance:.2e}")
    assert distance <= LOSS_RTOL


@pytest.mark.parametrize("extra", [None, "config/converged.yaml", "tests/config/tiny.yaml"])
def test_the_default_run_and_the_bench_run_every_remedy_beside_its_run_with_its_settings(extra):
    config = copy.deepcopy(DEFAULT)
    if extra is not None:
        update_config(config, yaml.safe_load((ROOT / extra).read_text()))
    runs = resolve_runs(config)
    bench = resolve_bench_runs(DEFAULT)
    sizes = DEFAULT["bench"]["sizes"]
    for framework, remedy, slow, _ in DECLARED:
        assert runs[(framework, remedy)] == runs[(framework, slow)], f"{framework}/{remedy} starts elsewhere"
        for n in sizes:
            assert bench[(n, framework, remedy)] == bench[(n, framework, slow)]
    assert DEFAULT["dataset"]["n"] == min(sizes)  # remedies.md reports at the article's n and the largest


def test_no_remedy_runs_in_the_2020_era():
    """The remedies use what later versions added (foreach/fused SGD): they are not `eras:` runs."""
    then = set(DEFAULT["eras"]["runs"])
    assert not {f"{framework}/{remedy}" for framework, remedy, _, _ in DECLARED} & then


# --- results/remedies.md and the code diffs -------------------------------------------------------------------


def bench_result(framework, variant, n, epoch_s, losses, status="ok"):
    result = make_result(framework, variant, 0.1, 0.3, "0" * 64, epochs=max(len(losses), 1), epoch_s=epoch_s, n=n)
    result["loss_history"] = list(losses)
    result["status"] = status
    return result


def test_remedies_table_has_before_after_speed_up_and_loss_difference():
    losses = [1.0, 0.5, 0.25]
    results = [
        bench_result("torch", "layers", 200, 0.004, losses),
        bench_result("torch", "layers_fused", 200, 0.001, [1.0, 0.5, 0.25 * (1 + 3e-7)]),
        bench_result("torch", "layers", 10**6, 0.010, losses),
        bench_result("torch", "layers_fused", 10**6, 0.008, losses),
        bench_result("torch", "layers", 1000, 0.5, losses),  # neither the smallest nor the largest size: not shown
        bench_result("torch", "layers_fused", 1000, 0.5, losses),
    ]
    table = remedies.remedies_table(results)
    fused = table[table["remedy"] == "torch/layers_fused"].set_index("n")
    assert list(fused.index) == [200, 10**6]
    assert fused.loc[200, "ms before"] == pytest.approx(4.0) and fused.loc[200, "ms after"] == pytest.approx(1.0)
    assert fused.loc[200, "speed-up"] == pytest.approx(4.0)
    assert fused.loc[200, "loss rel. diff"] == pytest.approx(3e-7, rel=1e-3)
    assert fused.loc[10**6, "speed-up"] == pytest.approx(1.25)
    assert "fused=True" in fused.loc[200, "changed lines"]
    assert "results/profile/torch/layers.md" in fused.loc[200, "cause"]
    others = table[table["remedy"] != "torch/layers_fused"]
    assert set(others["status"]) == {"not benchmarked"}
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in remedies.remedies_markdown(table).splitlines()]
    fused_at_200 = next(row for row in rows if row[:2] == ["200", "torch/layers"] and row[3] == "torch/layers_fused")
    assert fused_at_200[5:] == ["4", "1", "4.00x (no interval: under 3 repeats)", "3.0e-07", "ok"]


def with_repeats(result: dict, epoch_times: list[list[float]]) -> dict:
    """A result whose repeats took these epoch times (warm-up 0), its median over them all."""
    result["timings"].update(epoch_times_s=epoch_times, warmup_epochs=0, repeats=len(epoch_times))
    result["timings"]["epoch_s"]["median"] = float(np.median(np.concatenate(epoch_times)))
    return result


def test_a_speed_up_within_the_noise_reads_as_no_difference_measured():
    rng = np.random.default_rng(3)

    def repeats(scale):  # 6 repeats, each at its own level (10 %), epochs noisy about it (20 %)
        return [list(scale * np.exp(rng.normal(0, 0.1)) * rng.lognormal(0, 0.2, 30)) for _ in range(6)]

    def pair(n, after_scale):
        return [
            with_repeats(bench_result("torch", "layers", n, 0.004, [1.0]), repeats(0.004)),
            with_repeats(bench_result("torch", "layers_fused", n, 0.004, [1.0]), repeats(0.004 * after_scale)),
        ]

    table = remedies.remedies_table(pair(200, 1.0) + pair(10**6, 0.5))
    shown = remedies.shown(table[table["remedy"] == "torch/layers_fused"]).set_index("n")
    same, faster = shown.loc["200", "speed-up [95 % CI]"], shown.loc["1,000,000", "speed-up [95 % CI]"]
    assert same.startswith("no difference measured (") and "x [" in same
    assert not faster.startswith("no difference") and faster.startswith(("1.9", "2.", "1.8"))
    row = table[(table["remedy"] == "torch/layers_fused") & (table["n"] == 10**6)].iloc[0]
    assert 1.0 < row["speed-up low"] < row["speed-up"] < row["speed-up high"]


def test_a_failed_side_is_named_not_timed():
    results = [
        bench_result("torch", "layers", 200, 0.004, [1.0]),
        bench_result("torch", "layers_fused", 200, 0.001, [], status="unsupported"),
    ]
    row = remedies.remedies_table(results).set_index("remedy").loc["torch/layers_fused"]
    assert row["status"] == "torch/layers_fused: unsupported" and pd_isna(row.get("speed-up"))


def pd_isna(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def test_code_md_shows_a_remedy_as_a_diff_under_the_run_it_remedies():
    styles = api.code_listings([("torch", "layers"), ("torch", "layers_foreach"), ("numpy", "scratch_inplace")])
    foreach = next(listing for listing in styles["layers"] if "torch/layers_foreach" in listing["runs"])
    assert foreach["remedy_of"] == ["torch/layers"]
    added = [line for line in foreach["diff"].splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("foreach=True" in line for line in added)
    assert not any(line.startswith("-") and not line.startswith("---") for line in foreach["diff"].splitlines())
    markdown = api.code_markdown(styles)
    assert "```diff\n--- torch/layers\n+++ torch/layers_foreach" in markdown
    assert "A remedy of numpy/scratch" in markdown
    page = api.code_html(styles)
    assert "A remedy of numpy/scratch: its code, as a diff against that run's." in page
    # foreach's added line, highlighted as Pygments' DiffLexer marks an added line
    assert f'<span class="gi">{html.escape(next(line for line in added if "foreach=True" in line))}</span>' in page
