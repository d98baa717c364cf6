"""tools/list_images.py: each job's image, with no container runtime on PATH, as the config names it."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, RUNS

sys.path.insert(0, str(ROOT / "tools"))
import list_images  # noqa: E402

TINY = ROOT / "tests/config/tiny.yaml"


def list_jobs(tmp_path, *args):
    """The tool as a user runs it, where `apptainer` and `singularity` are stand-ins that fail and say so."""
    shims = tmp_path / "no-runtime"
    shims.mkdir(exist_ok=True)
    for name in ("apptainer", "singularity"):
        (shims / name).write_text(f"#!/bin/sh\ntouch {shims}/{name}-was-called\nexit 99\n")
        (shims / name).chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools/list_images.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not list(shims.glob("*-was-called"))
    return done.stdout


def test_every_job_is_listed_with_its_configured_image_and_profiles_gpu_nv(tmp_path):
    jobs = [json.loads(line) for line in list_jobs(tmp_path, "--configfile", str(TINY), "--json").splitlines()]
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())["containers"]
    train = {f"{j['wildcards']['framework']}/{j['wildcards']['variant']}": j for j in jobs if j["rule"] == "train"}
    assert sorted(train) == sorted(RUNS)
    for run, job in train.items():
        assert job["image"] == config.get(run.split("/")[0]), job
        assert job["nv_under_gpu_settings"] is (job["image"] is not None)  # profiles/gpu passes --nv
        assert job["gpu"] == 0  # device: auto asks the scheduler for no GPU
    assert train["torch/scratch"]["image"].startswith("docker://pytorch/pytorch:")
    assert train["numpy/scratch"]["image"] is None and train["jax/scratch"]["image"] is None
    others = {j["rule"]: j for j in jobs if j["rule"] != "train"}
    assert {"dataset", "summarize", "plot", "api_differences"} <= set(others)
    assert all(j["image"] == config["analysis"] for j in others.values())


def test_the_table_names_rule_job_image_and_nv_and_gpus_follow_the_config(tmp_path):
    cuda = tmp_path / "cuda.yaml"
    cuda.write_text("training: {device: cuda}\n")
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("software-deployment-method: apptainer\napptainer-args: '--bind /data'\n")
    text = list_jobs(tmp_path, "--configfile", str(cuda), "--gpu-settings", str(settings_file))
    header, *rows = text.splitlines()
    assert header.split() == ["rule", "job", "image", "--nv", "under", "profiles/gpu", "GPUs", "asked"]
    (torch_row,) = [row.split() for row in rows if "torch/scratch" in row]
    assert torch_row == ["train", "torch/scratch", "docker://pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime", "no", "1"]
    analysis = [row.split() for row in rows if row.split()[0] != "train"]
    assert {"api_differences", "dataset", "plot", "summarize"} <= {row[0] for row in analysis}
    assert all(" ".join(row[2:]) == "none: runs on the host no 0" for row in analysis)


@pytest.mark.parametrize(
    ("settings", "nv"),
    [
        ({"software-deployment-method": "apptainer", "apptainer-args": "--nv"}, True),
        ({"software-deployment-method": ["conda", "apptainer"], "apptainer-args": "--bind /x --nv"}, True),
        ({"software-deployment-method": "apptainer", "apptainer-args": "--nvccli"}, False),
        ({"apptainer-args": "--nv"}, False),  # no containers: nothing gets the flag
        ({}, False),
    ],
)
def test_nv_is_read_from_the_snakemake_settings(settings, nv, tmp_path):
    settings_file = tmp_path / "config.yaml"
    settings_file.write_text(yaml.safe_dump(settings))
    assert list_images.nv_under(settings_file) is nv


def test_profiles_gpu_passes_nv():
    assert list_images.nv_under(ROOT / "profiles/gpu/config.yaml") is True
