"""Shared fixtures: a small dataset and hand-made result documents."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from tale_of_two.analysis import optima
from tale_of_two.fit import data, harness

ROOT = Path(__file__).resolve().parents[1]
RESULT_SCHEMA = json.loads((ROOT / "workflow/schemas/result.schema.json").read_text())
RUNS = [  # in the summary's order: tests/config/tiny.yaml's, then config/config.yaml's runs it leaves out
    "torch/scratch",
    "torch/layers",
    "torch/layers_foreach",  # remedies (results/remedies.md) follow the run they remedy
    "torch/layers_fused",
    "torch/mlp_scratch",  # the MLP's runs (variants mlp_*, on their own data): config/config.yaml's
    "torch/mlp_layers",
    "tensorflow/scratch",
    "tensorflow/scratch_graph",
    "tensorflow/layers",
    "tensorflow/layers_graph",
    "tensorflow/fit",
    "tensorflow/fit_dataset",
    "tensorflow/mlp_scratch",
    "tensorflow/mlp_layers",
    "jax/scratch",
    "jax/layers",
    "jax/mlp_scratch",
    "jax/mlp_layers",
    "keras_tensorflow/fit",
    "keras_torch/fit",
    "keras_torch/fit_dataset",
    "keras_torch/mlp_fit",
    "keras_jax/fit",
    "keras_jax/fit_dataset",
    "keras_jax/mlp_fit",
    "numpy/scratch",
    "numpy/scratch_inplace",
    "numpy/mlp_scratch",
    "numpy/mlp_layers",
    "numba/scratch",
]
MLP_RUNS = [run for run in RUNS if run.split("/")[1].startswith("mlp_")]
TINY = str(ROOT / "tests/config/tiny.yaml")
TINY_ARGS = ("--configfile", TINY)


def pytest_addoption(parser):
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="exit with status 1, naming them, when any test was skipped (the CI stages, which exist to run them)",
    )


def pytest_sessionfinish(session, exitstatus):
    """--no-skips: a skipped test fails the session. Read from the terminal's tally, which under
    pytest-xdist is the controller's and holds every worker's reports."""
    if not session.config.getoption("--no-skips") or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report for report in reporter.stats.get("skipped", []) if not hasattr(report, "wasxfail")]
    if skipped:
        names = "\n".join(f"  {report.nodeid}: {report.longrepr[-1]}" for report in skipped)
        reporter.write_line(f"--no-skips: {len(skipped)} test(s) skipped, which fails this run:\n{names}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def config_file(directory, text):
    """A config file merged over the others (`--configfile TINY extra`): YAML `text` in `directory`."""
    path = directory / "extra.yaml"
    path.write_text(text + "\n")
    return str(path)


def run_json(workdir, run):
    return json.loads((workdir / f"results/runs/{run}.json").read_text())


def python_workers(script: str, arguments: dict) -> dict:
    """`python -c script *arguments[key]` for every key, in processes of their own started together (Keras picks
    one backend per process); each prints its result as JSON on its last line: {key: that result}."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "workflow" / "lib"), env.get("PYTHONPATH", "")])
    workers = {
        key: subprocess.Popen(
            [sys.executable, "-c", script, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for key, argv in arguments.items()
    }
    outputs = {}
    for key, worker in workers.items():
        stdout, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, f"{key} worker failed:\n{stderr[-4000:]}"
        outputs[key] = json.loads(stdout.strip().splitlines()[-1])
    return outputs


def snakemake_command(workdir, *args, timing_slots: int | None = 2, snakefile: Path = ROOT / "Snakefile") -> list[str]:
    """The real command line on the real Snakefile (or a copy's), in `workdir`.

    Tests time nothing: they lift profiles/default's one timing slot to `timing_slots`, so that jobs run
    side by side (None, or `--resources` in `args`, leaves the slots to the command's own settings).
    """
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir), *args]
    if timing_slots is not None and "--resources" not in args:
        command += ["--resources", f"timing_slot={timing_slots}"]
    return command


def snakemake(
    workdir,
    *args,
    check: bool = True,
    timeout: float | None = 900,
    env: dict | None = None,
    timing_slots: int | None = 2,
    prefix: tuple[str, ...] = (),
    snakefile: Path = ROOT / "Snakefile",
):
    """Run `snakemake_command` (after `prefix`, e.g. a `timeout` of its own) from the repository root.

    Returns the finished process, its stdout and stderr together as `output`. With `check`, a failure fails
    the test with the command, its output and the end of every job log.
    """
    command = [*prefix, *snakemake_command(workdir, *args, timing_slots=timing_slots, snakefile=snakefile)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    done.output = done.stdout + done.stderr
    if check and done.returncode != 0:
        logs = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in sorted(Path(workdir).glob("logs/**/*.log")))
        pytest.fail(f"{shlex.join(command)} failed ({done.returncode}):\n{done.output[-6000:]}\n{logs}")
    return done


def chromium():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def headless(binary, user_data, *args):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={user_data}",
        "--virtual-time-budget=15000",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=180)


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
    """A schema-valid result document with chosen numbers, built as the train rule builds it."""
    history = [1.0 / (epoch + 1) for epoch in range(epochs)]
    spread = {
        "median": epoch_s,
        "q1": 0.9 * epoch_s,
        "q3": 1.1 * epoch_s,
        "min": 0.8 * epoch_s,
        "max": 1.2 * epoch_s,
        "count": epochs,
    }
    identity = {"framework_version": "1.0", "device": "cpu", "device_fell_back": False, "device_name": "cpu"}
    measured = harness.result(
        {**identity, "threads": 1, "loss_name": loss_name, "notes": []},
        status=status,
        w=w,
        b=b,
        losses=history if status == "ok" else history[:-1] + [float("nan")],
        timings=harness.timing_record(
            import_s=1.0,
            setup_s=0.01,
            first_epoch_s=0.1,
            train_s={**spread, "median": epochs * epoch_s, "count": 1},
            epoch_s=spread,
            harness_overhead_s=1e-6,
            memory_pass_s={**spread, "median": epoch_s / 10},
            warmup_epochs=1,
            repeats=1,
            epoch_times_s=[[epoch_s] * epochs],
        ),
        memory={
            "dataset_bytes": 8 * n,
            "peak_rss_before_import_bytes": 30_000_000,
            "peak_rss_after_import_bytes": 200_000_000,
            "peak_rss_after_setup_bytes": 210_000_000,
            "peak_rss_after_training_bytes": 220_000_000,
            "setup_held_bytes": 8 * n,
            "rss_growth_bytes_per_epoch": 0.0,
            "growth_epochs": epochs,
            "memory_run_s": epochs * epoch_s,
            "device_peak_bytes": None,
        },
    )
    settings = harness.Settings(lr=0.01, epochs=epochs, device="cpu", warmup_epochs=1, repeats=1)
    return harness.document(
        framework,
        variant,
        measured,
        settings,
        {"path": "results/data/dataset.npz", "sha256": sha256, "n": n, "seed": 7},
        where={"python": "3.11", "numpy": "2", "platform": "linux", "container": {"apptainer": False, "image": None}},
        when="2026-01-01T00:00:00+00:00",
    )
