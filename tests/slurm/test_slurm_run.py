"""The tiny config through `snakemake --executor slurm` on a real SLURM cluster, against a local run.

Runs only inside the CI stage `.ci/slurm.sh`, which starts a one-node cluster (munged, slurmctld,
slurmd, a fake GPU) and sets TALE_OF_TWO_SLURM=1; anywhere else every test here is skipped.
The shipped profile (profiles/slurm) is used as it is, with tests/slurm/profile under it for what only
the CI cluster needs (job states from squeue, SLURM logs kept).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TINY, snakemake

# The environment running these tests, and so Snakemake: the jobs must run its own snakemake.
SNAKEMAKE_MAIN = str(Path(importlib.util.find_spec("snakemake").origin).parent / "__main__.py")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
JOB_STATS = re.compile(r"^Job stats:\njob +count\n[- ]+\n(.*?)\ntotal +\d+$", re.MULTILINE | re.DOTALL)
LOCAL_RULES = {"all"}  # no command: Snakemake finishes them itself

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("TALE_OF_TWO_SLURM") != "1",
        reason="needs a running SLURM cluster: .ci/slurm.sh starts one and sets TALE_OF_TWO_SLURM=1",
    ),
]


def snakemake_run(
    workdir: Path,
    *,
    limit_s: int,
    slurm: bool = True,
    configfiles: tuple[Path, ...] = (),
    targets: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """The real command line, under `timeout -k` so that a hung status loop fails instead of waiting.

    `--foreground` keeps it in the process group of .ci/slurm.sh's own `timeout`, which stops it too.
    """
    if slurm:
        how = ["--workflow-profile", str(ROOT / "profiles/slurm"), "--profile", str(ROOT / "tests/slurm/profile")]
    else:
        how = ["--cores", "2"]
    configs = [TINY, *map(str, configfiles)]
    timeout = ("timeout", "--foreground", "-k", "10", str(limit_s))
    done = snakemake(
        workdir, *targets, *how, "--configfile", *configs, check=False, timeout=None, timing_slots=None, prefix=timeout
    )
    if done.returncode in (124, 137):
        pytest.fail(f"{shlex.join(done.args)} ran past {limit_s} s:\n{done.output[-6000:]}")
    return done


def submissions(output: str) -> list[dict]:
    """Each SLURM submission Snakemake reported: its rule, SLURM job id and SLURM log."""
    found = []
    for match in SUBMITTED.finditer(output):
        log = Path(match.group(3))
        rule = next(part for part in log.parts if part.startswith("rule_"))[len("rule_") :]
        found.append({"jobid": match.group(2), "rule": rule, "log": log, "at": match.start()})
    return found


def job_stats(output: str) -> dict[str, int]:
    """The jobs Snakemake planned, per rule (its "Job stats:" table)."""
    rows = JOB_STATS.search(output).group(1).splitlines()
    return {rule: int(count) for rule, count in (row.split() for row in rows)}


def run_results(workdir: Path) -> list[str]:
    """The runs' result files, as "framework/variant"."""
    return sorted(
        str(path.relative_to(workdir / "results/runs"))[: -len(".json")]
        for path in workdir.glob("results/runs/*/*.json")
    )


def scontrol(jobid: str) -> dict[str, str]:
    """`scontrol show job` as a dict of the fields these tests read (the cluster keeps jobs for MinJobAge)."""
    line = subprocess.run(
        ["scontrol", "show", "job", "-o", jobid], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    fields = {}
    for key in ("JobName", "JobState", "ExitCode", "TimeLimit", "MinMemoryNode", "WorkDir", "StdOut", "TresPerJob"):
        match = re.search(rf"(?:^|\s){key}=(\S+)", line)
        fields[key] = match.group(1) if match else None
    return fields


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("local")
    done = snakemake_run(workdir, slurm=False, limit_s=480)
    assert done.returncode == 0, done.output[-6000:]
    return workdir


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm")
    done = snakemake_run(workdir, limit_s=480)
    assert done.returncode == 0, done.output[-6000:]
    return workdir, done.output


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory, slurm_run):
    """A training job that fails on its node: `device: cuda` on a cluster whose GPU is a fake."""
    workdir = tmp_path_factory.mktemp("failing")
    # The dataset of the good run (same settings), so that only the failing job is submitted.
    shutil.copytree(slurm_run[0] / "results/data", workdir / "results/data")
    cuda = workdir / "cuda.yaml"
    cuda.write_text("training: {device: cuda, device_fallback: null}\n")
    done = snakemake_run(workdir, configfiles=(cuda,), targets=("results/runs/torch/scratch.json",), limit_s=180)
    return workdir, done


def test_results_equal_the_local_run(local_run, slurm_run):
    workdir = slurm_run[0]
    local_data = json.loads((local_run / "results/data/dataset.json").read_text())
    slurm_data = json.loads((workdir / "results/data/dataset.json").read_text())
    assert slurm_data["sha256"] == local_data["sha256"]
    runs = run_results(local_run)
    assert "torch/scratch" in runs and "tensorflow/fit" in runs, runs
    assert run_results(workdir) == runs
    for run in runs:
        local = json.loads((local_run / f"results/runs/{run}.json").read_text())
        remote = json.loads((workdir / f"results/runs/{run}.json").read_text())
        assert remote["status"] == local["status"] == "ok", run
        assert remote["device"] == local["device"], run
        np.testing.assert_allclose(  # an MLP's w, b: null -> nan, compared as equal
            np.array([remote["fitted"]["w"], remote["fitted"]["b"]], dtype=float),
            np.array([local["fitted"]["w"], local["fitted"]["b"]], dtype=float),
            rtol=1e-5,
            err_msg=run,
        )
        np.testing.assert_allclose(remote["loss_history"], local["loss_history"], rtol=1e-5, err_msg=run)
    for name in ("summary.csv", "summary.md", "plots/fits.png", "plots/losses.png", "plots/timings.png"):
        assert (workdir / "results" / name).stat().st_size > 0, name


def test_every_job_ran_as_a_slurm_job(slurm_run):
    workdir, output = slurm_run
    jobs = submissions(output)
    planned = {rule: count for rule, count in job_stats(output).items() if rule not in LOCAL_RULES}
    assert planned["train"] >= 5 and planned["dataset"] == 1, planned
    submitted = {rule: sum(job["rule"] == rule for job in jobs) for rule in planned}
    assert submitted == planned and len(jobs) == sum(planned.values()), output[-6000:]
    assert len({job["jobid"] for job in jobs}) == len(jobs)
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    controller_log = Path(os.environ["TALE_OF_TWO_SLURMCTLD_LOG"]).read_text()
    for job in jobs:
        info = scontrol(job["jobid"])
        assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", (job, info)
        assert info["JobName"] == run_id and info["WorkDir"] == str(workdir), (job, info)
        assert info["StdOut"] == str(job["log"]), (job, info)
        assert f"_job_complete: JobId={job['jobid']} WEXITSTATUS 0" in controller_log, job
        # The job ran Snakemake again on the node, from the same environment as this test.
        slurm_log = job["log"].read_text()
        assert f"Command: {SNAKEMAKE_MAIN}" in slurm_log, (job, slurm_log[:2000])
        assert f"rule {job['rule']}:" in slurm_log, job
        # The profile's resources reached sbatch; no GPU was asked for (gpu=0 adds no flag).
        if job["rule"] == "train":
            assert (info["TimeLimit"], info["MinMemoryNode"]) == ("01:00:00", "8000M"), (job, info)
        else:
            assert (info["TimeLimit"], info["MinMemoryNode"]) == ("00:30:00", "2000M"), (job, info)
        assert info["TresPerJob"] is None, (job, info)
    for run in run_results(workdir):
        assert "w = " in (workdir / f"logs/train/{run}.log").read_text(), run


def test_timed_jobs_are_submitted_side_by_side(slurm_run):
    """On a cluster the timing slot is no limit (profiles/slurm): no training job waits for another.

    Each is submitted as soon as its dataset is written (the mlp_* runs have their own), before any
    training job has finished.
    """
    output = slurm_run[1]
    train = [job for job in submissions(output) if job["rule"] == "train"]
    first_trained = re.search(r"Finished jobid: \d+ \(Rule: train\)", output).start()
    assert all(job["at"] < first_trained for job in train), output[-6000:]


def test_failing_job_fails_the_run_and_names_its_logs(failing_run):
    workdir, done = failing_run
    assert done.returncode == 1, done.output[-6000:]
    jobs = submissions(done.output)
    assert [job["rule"] for job in jobs] == ["train"], done.output[-6000:]
    job = jobs[0]
    message = done.output[done.output.index("Error in rule train:") :]
    assert f"SLURM-job '{job['jobid']}' failed, SLURM status is: 'FAILED'" in message
    # Both logs are named in the error: the rule's own and the SLURM job's.
    assert re.search(rf"log: logs/train/torch/scratch\.log, {re.escape(str(job['log']))}", message), message
    assert "DeviceUnavailable: device 'cuda' requested" in (workdir / "logs/train/torch/scratch.log").read_text()
    assert "srun: error" in job["log"].read_text()
    info = scontrol(job["jobid"])
    assert info["JobState"] == "FAILED" and info["ExitCode"] == "1:0", info
    # device: cuda asked SLURM for a GPU (gpu=1 became --gpus=1), which SLURM granted.
    assert info["TresPerJob"] == "gres:gpu:1", info
    assert not (workdir / "results/runs/torch/scratch.json").exists()
