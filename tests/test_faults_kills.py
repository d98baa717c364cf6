"""Kills at random moments, one job killed while others go on, and two `snakemake`s in one directory.

To keep a trial to seconds, each runs only fast targets of tests/config/tiny.yaml: the dataset and three
runs (numpy/scratch, torch/scratch, torch/layers: 40 to 60 epochs, 2 repeats). After every interruption,
`--unlock` and `--rerun-incomplete` must give results identical to an uninterrupted run: fitted values, loss
histories, and the dataset's bytes (.npz and .json).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, TINY, snakemake

pytestmark = pytest.mark.faults

RUNS = ["numpy/scratch", "torch/scratch", "torch/layers"]
TARGETS = ["results/data/dataset.npz", "results/data/dataset.json", *(f"results/runs/{run}.json" for run in RUNS)]
TRIALS = int(os.environ.get("KILL_TRIALS", 20))
SEED = 20  # the kill moments are drawn from it: the same trials every time


def start(workdir, *extra) -> subprocess.Popen:
    """Snakemake in the background, in a session of its own: one killpg reaches it and every job it started."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    command += [*TARGETS, "--configfile", TINY, "--cores", "2", *extra, "--resources", "timing_slot=2"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def outcome(workdir) -> dict:
    """What must not change: every run's fitted values and loss history, and the dataset's bytes."""
    found = {}
    for run in RUNS:
        result = json.loads((workdir / f"results/runs/{run}.json").read_text())
        found[run] = {"fitted": result["fitted"], "loss_history": result["loss_history"]}
    for name in ("dataset.npz", "dataset.json"):
        found[name] = (workdir / "results/data" / name).read_bytes()
    return found


def visible_files(workdir) -> list:
    return sorted(str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if p.is_file())


def assert_complete_or_absent(workdir, reference) -> None:
    """Right after a kill: every output present is whole (it parses and matches the uninterrupted run's)."""
    for path in visible_files(workdir):
        name = path.rsplit("/", 1)[1]
        assert not name.startswith("."), f"a temporary file survived the kill: {path}"
        if path.endswith(".npz") or name == "dataset.json":
            assert (workdir / path).read_bytes() == reference[name], f"{path} is not the uninterrupted run's"
        else:
            run = path.removeprefix("results/runs/").removesuffix(".json")
            result = json.loads((workdir / path).read_text())
            assert result["loss_history"] == reference[run]["loss_history"], f"{path} differs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, and how long it took (the kill moments are drawn within it)."""
    workdir = tmp_path_factory.mktemp("reference")
    started = time.monotonic()
    snakemake(workdir, "--configfile", TINY, "--cores", "2", *TARGETS)
    return {"outcome": outcome(workdir), "seconds": time.monotonic() - started}


def recover(workdir) -> subprocess.CompletedProcess:
    snakemake(workdir, "--configfile", TINY, "--unlock")
    return snakemake(workdir, "--configfile", TINY, "--cores", "2", "--rerun-incomplete", *TARGETS)


def test_killed_at_random_moments_the_rerun_matches_an_uninterrupted_run(reference, tmp_path):
    rng = np.random.default_rng(SEED)
    moments = rng.uniform(0.5, reference["seconds"], TRIALS)
    counts = {"tried": 0, "killed_mid_run": 0}
    for trial, moment in enumerate(moments):
        workdir = tmp_path / f"trial{trial}"
        workdir.mkdir()
        process = start(workdir)
        time.sleep(moment)
        finished = process.poll() is not None
        try:
            os.killpg(process.pid, signal.SIGKILL)  # Snakemake and its jobs: as abrupt as a lost node
        except ProcessLookupError:  # it had finished, and every job with it
            pass
        process.communicate(timeout=60)
        counts["tried"] += 1
        counts["killed_mid_run"] += not finished
        assert_complete_or_absent(workdir, reference["outcome"])
        recover(workdir)
        assert outcome(workdir) == reference["outcome"], f"trial {trial} (killed at {moment:.1f} s) differs"
    print(
        f"\nFAULTS kills: tried {counts['tried']}, killed mid-run {counts['killed_mid_run']}, "
        f"lost 0 (run {reference['seconds']:.0f} s uninterrupted; kills at 0.5 s to that, seed {SEED})",
        flush=True,
    )
    assert counts["killed_mid_run"] >= TRIALS // 2, "most kills came after the run: draw them earlier"


def training_job(process: subprocess.Popen, framework: str, variant: str, timeout: float = 120) -> int:
    """The pid of the training job for framework/variant among the processes of Snakemake's session."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getsid(int(entry)) != process.pid:
                    continue
                argv = (open(f"/proc/{entry}/cmdline", "rb").read()).split(b"\0")
            except (OSError, ProcessLookupError):
                continue
            words = [word.decode(errors="replace") for word in argv]
            if any(w.endswith("train.py") for w in words) and framework in words and variant in words:
                return int(entry)
        time.sleep(0.1)
    raise AssertionError(f"no training job for {framework}/{variant} appeared")


def test_one_killed_job_fails_alone_while_the_others_finish(reference, tmp_path):
    process = start(tmp_path, "--keep-going")
    os.kill(training_job(process, "torch", "layers"), signal.SIGKILL)
    output, _ = process.communicate(timeout=600)
    assert process.returncode != 0, "Snakemake did not report the killed job"
    assert "train" in output and "torch" in output
    assert not (tmp_path / "results/runs/torch/layers.json").exists()  # the killed job left nothing
    for run in ("numpy/scratch", "torch/scratch"):  # the others went on to the end
        result = json.loads((tmp_path / f"results/runs/{run}.json").read_text())
        assert result["loss_history"] == reference["outcome"][run]["loss_history"]
    snakemake(tmp_path, "--configfile", TINY, "--cores", "2", *TARGETS)  # no lock left: Snakemake itself lived
    assert outcome(tmp_path) == reference["outcome"]
    print("\nFAULTS one job killed: tried 1, lost 0", flush=True)


def test_a_second_snakemake_in_the_same_directory_is_refused_and_the_first_finishes(reference, tmp_path):
    first = start(tmp_path)
    deadline = time.monotonic() + 60
    while not list((tmp_path / ".snakemake/locks").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, f"the first run ended before the second could start: {first.communicate()[0][-3000:]}"
    second = snakemake(tmp_path, "--configfile", TINY, "--cores", "2", *TARGETS, check=False)
    output, _ = first.communicate(timeout=600)
    assert second.returncode != 0 and "cannot be locked" in second.stdout + second.stderr
    assert first.returncode == 0, output[-3000:]
    assert outcome(tmp_path) == reference["outcome"]
    print("\nFAULTS two at once: tried 1, refused 1, lost 0", flush=True)
