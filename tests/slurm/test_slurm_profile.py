"""profiles/slurm without a cluster: what it asks SLURM for, read from a dry run of the real command line.

The run on a real cluster is test_slurm_run.py (CI stage .ci/slurm.sh).
"""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT, TINY, snakemake

SHIPPED = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
CI = yaml.safe_load((ROOT / "tests/slurm/profile/config.yaml").read_text())


def test_ci_profile_sets_nothing_that_the_shipped_profile_sets():
    """The workflow profile wins key by key: a CI key also in profiles/slurm would be silently lost."""
    assert not set(SHIPPED) & set(CI)
    assert CI["slurm-status-command"] == "squeue"


def test_gpus_are_resources_not_slurm_extra():
    """The plugin rejects --gres/--gpus in slurm_extra; GPUs go through the `gpu` resource."""
    assert SHIPPED["executor"] == "slurm"
    sections = [SHIPPED.get("default-resources", {}), *SHIPPED.get("set-resources", {}).values()]
    for resources in sections:
        assert not re.search(r"--(gres|gpus)\b", str(resources.get("slurm_extra", ""))), resources


@pytest.mark.e2e
def test_dry_run_asks_a_gpu_only_for_cuda_runs(tmp_path):
    (tmp_path / "one-cuda.yaml").write_text("runs: {torch: {scratch: {device: cuda}}}\n")
    how = ["--workflow-profile", str(ROOT / "profiles/slurm"), "--dry-run"]
    configs = ["--configfile", TINY, str(tmp_path / "one-cuda.yaml")]
    output = snakemake(tmp_path, *how, *configs, timeout=300, timing_slots=None).output
    assert "workflow specific profile" in output and "profiles/default" not in output, output[:1000]
    train = {}
    for block in output.split("rule train:")[1:]:
        wildcards = re.search(r"wildcards: framework=(\w+), variant=(\w+)", block).groups()
        train["/".join(wildcards)] = re.search(r"resources: (.*)", block).group(1)
    assert "torch/scratch" in train and "tensorflow/fit" in train, output[-4000:]
    for run, resources in train.items():
        assert "runtime=60" in resources and "mem_mb=8000" in resources, (run, resources)
        assert ("gpu=1" if run == "torch/scratch" else "gpu=0") in resources, (run, resources)
