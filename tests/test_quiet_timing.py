"""Quiet timing: no job runs beside a timed training job under the default profile."""

import re

import yaml
from conftest import ROOT, TINY_ARGS, snakemake


def test_every_job_takes_the_one_timing_slot(tmp_path):
    # Every job that writes a file asks for timing_slot=1, and the default profile has one slot:
    # Snakemake then runs one job at a time, so a training job never shares the machine. The dry run
    # covers every target at once (`all bench profile`), where analysis jobs of one could meet timed
    # jobs of another.
    profile = yaml.safe_load((ROOT / "profiles/default/config.yaml").read_text())
    assert profile["resources"]["timing_slot"] == 1

    done = snakemake(tmp_path, "all", "bench", "profile", "--dry-run", "--forceall", *TINY_ARGS)
    jobs = re.split(r"\n(?=(?:local)?rule \w+:)", done.stdout + done.stderr)
    working = [job for job in jobs if re.match(r"(?:local)?rule \w+:", job) and "\n    output: " in job]
    rules = {re.match(r"(?:local)?rule (\w+):", job).group(1) for job in working}
    assert {
        "dataset",
        "train",
        "api_differences",
        "summarize",
        "plot",
        "bench_train",
        "profile_run",
        "time_to_solution",
    } <= rules, rules
    without = sorted(
        {re.match(r"(?:local)?rule (\w+):", job).group(1) for job in working if "timing_slot=1" not in job}
    )
    assert not without, f"jobs that may run beside a timed training job: {without}"
