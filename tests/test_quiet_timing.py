"""Quiet timing: no job runs beside a timed training job under profiles/default."""

import re

import yaml
from conftest import ROOT, TINY_ARGS, snakemake


def test_every_job_takes_the_one_timing_slot(tmp_path):
    # profiles/default gives every job one timing slot (`default-resources`) and has one slot
    # (`resources`): Snakemake then runs one job at a time, so no two timed jobs overlap and a training job
    # never shares the machine. The rules need not, and do not, ask for the slot themselves. The dry run
    # covers every target at once (`all bench profile`), where analysis jobs of one could meet timed
    # jobs of another.
    defaults = yaml.safe_load((ROOT / "profiles/default/config.yaml").read_text())
    assert defaults["resources"]["timing_slot"] == 1 and defaults["default-resources"]["timing_slot"] == 1
    asking = [path.name for path in (ROOT / "workflow/rules").glob("*.smk") if "timing_slot" in path.read_text()]
    assert not asking, f"rules that set the slot themselves (it is profiles/default's default-resources): {asking}"

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


def test_profiles_gpu_and_slurm_give_every_job_a_slot_too():
    # Each replaces profiles/default when used as `--workflow-profile`: without the default, its jobs
    # would ask for no slot and its `resources: timing_slot` would limit nothing.
    for name in ("gpu", "slurm"):
        settings = yaml.safe_load((ROOT / f"profiles/{name}/config.yaml").read_text())
        assert settings["default-resources"]["timing_slot"] == 1, name
