"""Shared fixtures: a small dataset and hand-made result documents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from tale_of_two.analysis import optima
from tale_of_two.fit import data

ROOT = Path(__file__).resolve().parents[1]
RESULT_SCHEMA = json.loads((ROOT / "workflow/schemas/result.schema.json").read_text())
RUNS = [  # in the summary's order: tests/config/tiny.yaml's, then config/config.yaml's runs it leaves out
    "torch/scratch",
    "torch/layers",
    "torch/layers_foreach",  # remedies (results/remedies.md) follow the run they remedy
    "torch/layers_fused",
    "tensorflow/scratch",
    "tensorflow/scratch_graph",
    "tensorflow/layers",
    "tensorflow/layers_graph",
    "tensorflow/fit",
    "tensorflow/fit_dataset",
    "jax/scratch",
    "jax/layers",
    "keras_tensorflow/fit",
    "keras_torch/fit",
    "keras_torch/fit_dataset",
    "keras_jax/fit",
    "keras_jax/fit_dataset",
    "numpy/scratch",
    "numpy/scratch_inplace",
]
TINY = str(ROOT / "tests/config/tiny.yaml")
TINY_ARGS = ("--configfile", TINY)


def config_file(directory, text):
    """A config file merged over the others (`--configfile TINY extra`): YAML `text` in `directory`."""
    path = directory / "extra.yaml"
    path.write_text(text + "\n")
    return str(path)


def run_json(workdir, run):
    return json.loads((workdir / f"results/runs/{run}.json").read_text())


def snakemake(workdir, *args, check=True):
    """The real command line on the real Snakefile, in `workdir`; fails the test with its output.

    Tests time nothing: they lift the default profile's one timing slot to two, so two jobs run at once.
    """
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    if "--resources" not in args:
        command += ["--resources", "timing_slot=2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, request):
    """The whole pipeline once on tests/config/tiny.yaml, shared by the tests that read its outputs.

    Once per test session, however many pytest-xdist workers need it: the first builds it under a lock
    in the session's shared temporary folder, the others wait and read it. Read-only: a test that runs
    Snakemake in it takes `tiny_copy`.
    """
    shared = tmp_path_factory.getbasetemp()  # this session's
    if hasattr(request.config, "workerinput"):  # a pytest-xdist worker: the session's is the folder above
        shared = shared.parent
    workdir, done = shared / "tiny", shared / "tiny.done"
    with FileLock(shared / "tiny.lock"):
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a worker that failed half-way
            workdir.mkdir()
            snakemake(workdir, *TINY_ARGS, "--cores", "2")
            done.touch()
    return workdir


@pytest.fixture
def tiny_copy(tiny_run, tmp_path):
    """A copy of the tiny run (file times and Snakemake's records kept) for a test that runs Snakemake in it."""
    return shutil.copytree(tiny_run, tmp_path / "tiny", symlinks=True)


@pytest.fixture(scope="session")
def spec() -> data.DatasetSpec:
    return data.DatasetSpec(n=64, seed=7)


@pytest.fixture(scope="session")
def arrays(spec):
    return data.generate(spec)


@pytest.fixture(scope="session")
def metadata(spec, arrays):
    return optima.dataset_metadata(spec, arrays)


@pytest.fixture(scope="session")
def outliers(arrays):
    """The 64 points with every 8th y lifted by 3, and the optima of both losses on them.

    OLS follows the outliers and LAD does not: |b_OLS - b_LAD| = 0.367, |w_OLS - w_LAD| = 0.004, so a run
    that minimised the other loss misses its own optimum by far more than any tolerance of the tests.
    """
    import numpy as np

    x, y = arrays["x"], arrays["y"].copy()
    y[::8] += np.float32(3.0)
    (w_ols, b_ols), (w_lad, b_lad) = data.ols(x, y), optima.lad(x, y)
    assert abs(b_ols - b_lad) > 0.3  # what makes the MSE/MAE distinction testable here
    return {"x": x, "y": y, "mse": {"w": w_ols, "b": b_ols}, "mae": {"w": w_lad, "b": b_lad}}


def make_result(
    framework: str,
    variant: str,
    w: float,
    b: float,
    sha256: str,
    *,
    loss_name: str = "mse",
    epochs: int = 4,
    status: str = "ok",
    epoch_s: float = 0.001,
    n: int = 64,
) -> dict:
    """A schema-valid result document with chosen numbers, as the train rule would write it."""
    history = [1.0 / (epoch + 1) for epoch in range(epochs)]
    spread = {
        "median": epoch_s,
        "q1": 0.9 * epoch_s,
        "q3": 1.1 * epoch_s,
        "min": 0.8 * epoch_s,
        "max": 1.2 * epoch_s,
        "count": epochs,
    }
    return {
        "schema_version": 1,
        "framework": framework,
        "variant": variant,
        "status": status,
        "diverged_at_epoch": epochs if status == "diverged" else None,
        "error": None,
        "framework_version": "1.0",
        "device": "cpu",
        "device_fell_back": False,
        "device_name": "cpu",
        "threads": 1,
        "loss_name": loss_name,
        "fitted": {"w": w, "b": b},
        "loss_history": history if status == "ok" else history[:-1] + [None],
        "final_loss": history[-1] if status == "ok" else None,
        "repeats_identical": True,
        "timings": {
            "import_s": 1.0,
            "setup_s": 0.01,
            "first_epoch_s": 0.1,
            "train_s": {**spread, "median": epochs * epoch_s, "count": 1},
            "epoch_s": spread,
            "harness_overhead_s": 1e-6,
            "memory_pass_s": {**spread, "median": epoch_s / 10},
            "warmup_epochs": 1,
            "repeats": 1,
            "epoch_times_s": [[epoch_s] * epochs],
        },
        "settings": {
            "lr": 0.01,
            "epochs": epochs,
            "batch_size": None,
            "init": "uniform",
            "init_low": -0.1,
            "init_high": 0.1,
            "seed": 0,
            "device": "cpu",
            "device_fallback": None,
            "threads": 1,
            "warmup_epochs": 1,
            "repeats": 1,
        },
        "dataset": {"path": "results/data/dataset.npz", "sha256": sha256, "n": n, "seed": 7},
        "environment": {
            "python": "3.11",
            "numpy": "2",
            "platform": "linux",
            "container": {"apptainer": False, "image": None},
        },
        "finished_utc": "2026-01-01T00:00:00+00:00",
    }
