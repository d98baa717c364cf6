"""Nothing lost, nothing silent: bad input, divergence, interruptions (determinism and devices: test_devices.py).

Each test drives the real `snakemake` command line in its own temporary working directory.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
from conftest import ROOT, TINY, config_file, run_json, snakemake, snakemake_command

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "config_text,expected",
    [
        ("dataset: {n: -5}", ["-5 is less than the minimum of 2", "['dataset']['n']"]),
        ("dataset: {n: 0}", ["0 is less than the minimum of 2", "['dataset']['n']"]),
        ("training: {epochs: 0}", ["0 is less than the minimum of 1", "['training']['epochs']"]),
        ("training: {lr: 0}", ["0 is less than or equal to the minimum of 0", "['training']['lr']"]),
        ("training: {lr: -0.1}", ["less than or equal to the minimum of 0", "['training']['lr']"]),
        ("training: {lr: fast}", ["'fast' is not of type 'number'", "['training']['lr']"]),
        ("training: {batch_size: 0}", ["0 is less than the minimum of 1", "['training']['batch_size']"]),
        ("training: {epochs: 2.5}", ["2.5 is not of type 'integer'", "['training']['epochs']"]),
        ("training: {device: tpu}", ["'tpu' is not one of ['auto', 'cpu', 'cuda']", "['training']['device']"]),
        ("training: {learning_rate: 0.1}", ["'learning_rate' was unexpected", "['training']"]),
        ("optimizer: adam", ["'optimizer' was unexpected"]),
        ("runs: {torch: {scratch: {lr: 0}}}", ["['runs']['torch']['scratch']"]),
        (
            "runs: {mxnet: {scratch: {}}}",
            ["runs.mxnet: unknown framework 'mxnet'; known: ", "numpy, tensorflow, torch"],
        ),
        (
            "runs: {torch: {fit: {}}}",
            ["runs.torch.fit: unknown variant 'fit' for framework 'torch'; known: layers, layers_compiled"],
        ),
        ("training: {batch_size: 1000}", ["runs.torch.scratch: batch_size 1000 is larger than dataset.n = 200"]),
        ("training: {warmup_epochs: 500}", ["warmup_epochs (500) must be below epochs (500)"]),
    ],
)
def test_bad_config_stops_before_any_job_and_names_the_key(tmp_path, config_text, expected):
    done = snakemake(tmp_path, "--configfile", config_file(tmp_path, config_text), "--cores", "1", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    for text in expected:
        assert text in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_a_framework_without_its_environment_file_stops_before_any_job(tmp_path):
    """A new framework module, run by the config, with no envs/<name>.yaml: named by the config check, in a dry
    run already. Otherwise its training job runs and Snakemake fails after it, recording the job's `conda:` file."""
    repo, workdir = tmp_path / "repo", tmp_path / "work"
    repo.mkdir()
    for part in ("config", "envs", "workflow"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Snakefile", repo)
    frameworks = repo / "workflow/lib/tale_of_two/fit/frameworks"
    shutil.copy(frameworks / "numpy.py", frameworks / "mine.py")
    extra = config_file(tmp_path, "runs: {mine: {scratch: {}}}")
    done = snakemake(workdir, "--configfile", extra, "-n", check=False, timeout=300, snakefile=repo / "Snakefile")
    assert done.returncode != 0
    assert f"no environment file for framework 'mine' ({repo / 'envs/mine.yaml'})" in done.output
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def test_divergence_is_a_result_and_the_rest_of_the_dag_completes(tiny_copy, tmp_path):
    # lr 1: each step multiplies the error in w by about 1 - 2 * lr * E[x^2] = -65.
    extra = config_file(tmp_path, "runs: {torch: {scratch: {lr: 1.0}}}")
    # Over the tiny run: the changed settings (a param of the job) rerun torch/scratch and all downstream.
    done = snakemake(tiny_copy, "--configfile", TINY, extra, "--cores", "2")
    for rule in ("train", "summarize", "plot"):  # Snakemake's job counts: one run retrained, all downstream rebuilt
        assert re.search(rf"^{rule}\s+1$", done.stdout + done.stderr, flags=re.MULTILINE), done.stderr[-3000:]
    diverged = run_json(tiny_copy, "torch/scratch")
    assert diverged["status"] == "diverged" and 1 < diverged["diverged_at_epoch"] < 40
    last_loss = diverged["loss_history"][-1]
    assert last_loss is None or last_loss > 1e12  # stopped at the first non-finite or exploding loss
    assert len(diverged["loss_history"]) == diverged["diverged_at_epoch"]
    table = pd.read_csv(tiny_copy / "results/summary.csv").set_index(["framework", "variant"])
    assert table.loc[("torch", "scratch"), "status"] == "diverged"
    assert (table.drop(index=("torch", "scratch"))["status"] == "ok").all()
    assert "diverged at epoch" in (tiny_copy / "results/summary.md").read_text()
    for plot in ("fits", "losses", "timings"):
        assert (tiny_copy / f"results/plots/{plot}.png").stat().st_size > 10_000


def test_corrupted_dataset_is_named_and_nothing_half_written_remains(tmp_path):
    target = "results/runs/torch/scratch.json"
    snakemake(tmp_path, "--configfile", TINY, "--cores", "1", target)
    dataset = tmp_path / "results/data/dataset.npz"
    dataset.write_bytes(dataset.read_bytes()[:-40])  # truncated: newer than the result, so the job reruns
    done = snakemake(tmp_path, "--configfile", TINY, "--cores", "1", target, check=False)
    assert done.returncode != 0
    log = (tmp_path / "logs/train/torch/scratch.log").read_text()
    assert "results/data/dataset.npz: not a readable dataset" in log
    assert not list((tmp_path / "results/runs/torch").glob("*"))  # no partial or temporary result


def test_broken_or_stale_result_file_stops_the_summary_and_is_named(tiny_copy):
    result_path = tiny_copy / "results/runs/tensorflow/layers.json"
    broken = json.loads(result_path.read_text())
    del broken["fitted"]
    result_path.write_text(json.dumps(broken))
    done = snakemake(tiny_copy, "--configfile", TINY, "--cores", "2", "results/summary.csv", check=False)
    assert done.returncode != 0
    log = (tiny_copy / "logs/summarize.log").read_text()
    assert "results/runs/tensorflow/layers.json: fails the result schema" in log and "'fitted'" in log

    stale = dict(broken, fitted={"w": 0.1, "b": 0.3}, dataset=dict(broken["dataset"], sha256="0" * 64))
    result_path.write_text(json.dumps(stale))
    done = snakemake(tiny_copy, "--configfile", TINY, "--cores", "2", "results/summary.csv", check=False)
    assert done.returncode != 0
    assert "layers.json: trained on dataset sha256 000000000000..." in (tiny_copy / "logs/summarize.log").read_text()
    # Snakemake removes the outputs of a failed job: no table built from a bad file is left to be read.
    assert not (tiny_copy / "results/summary.csv").exists()


def test_killed_training_job_leaves_no_output_and_the_rerun_matches_an_uninterrupted_run(tmp_path):
    slow = "runs: {torch: {scratch: {epochs: 60000, repeats: 1, warmup_epochs: 1}}}"
    target = "results/runs/torch/scratch.json"
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    interrupted.mkdir()
    extra = config_file(tmp_path, slow)
    command = snakemake_command(interrupted, "--configfile", TINY, extra, "--cores", "1", target)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = interrupted / "logs/train/torch/scratch.log"
    deadline = time.monotonic() + 120
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert log.exists(), "the training job never started"
    time.sleep(3)  # well into the 60000 epochs, long before the end
    assert process.poll() is None, "the job finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)  # Snakemake and the job: as abrupt as a lost node
    process.wait(timeout=30)
    assert not list((interrupted / "results/runs/torch").glob("*")), "a half-written result survived"

    locked = snakemake(interrupted, "--configfile", TINY, extra, "--cores", "1", target, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr  # the kill left the lock
    snakemake(interrupted, "--configfile", TINY, extra, "--unlock")
    done = snakemake(interrupted, "--configfile", TINY, extra, "--cores", "1", "--rerun-incomplete", target)
    assert "train" in done.stdout + done.stderr
    snakemake(reference, "--configfile", TINY, extra, "--cores", "1", target)
    after, uninterrupted = run_json(interrupted, "torch/scratch"), run_json(reference, "torch/scratch")
    assert after["fitted"] == uninterrupted["fitted"] and after["loss_history"] == uninterrupted["loss_history"]


@pytest.mark.parametrize(
    "target",
    ["results/runs/torch/../../../outside.json", "results/runs/mxnet/scratch.json", "results/runs/torch/x;rm.json"],
)
def test_targets_outside_the_configured_runs_have_no_rule(tmp_path, target):
    done = snakemake(tmp_path, "--cores", "1", "-n", target, check=False)
    assert done.returncode != 0
    assert "No rule to produce" in done.stdout + done.stderr or "not a valid" in done.stdout + done.stderr
