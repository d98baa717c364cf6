"""`snakemake then_vs_now`: its DAG, its interpreter, and the default run left as it was (dry runs)."""

import re

import pytest
from conftest import ROOT, RUNS, TINY_ARGS, config_file, snakemake

pytestmark = pytest.mark.e2e


def jobs(output: str) -> dict[str, int]:
    """The job counts of a dry run's summary table."""
    counts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0].isidentifier() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def test_then_vs_now_trains_every_then_run_in_both_eras_and_runs_the_idioms_in_both(tmp_path):
    python = tmp_path / "py38/bin/python"
    python.parent.mkdir(parents=True)
    python.touch()
    done = snakemake(
        tmp_path,
        *TINY_ARGS,
        "--config",
        f"eras={{environments: {{then: {{python: {python}}}}}}}",
        "-n",
        "-p",
        "then_vs_now",
    )
    output = done.stdout + done.stderr
    assert jobs(output) == {"dataset": 1, "train_era": 10, "idioms": 2, "compare_eras": 1, "then_vs_now": 1}
    for era in ("then", "now"):
        for run in ("torch/scratch", "torch/layers", "tensorflow/scratch", "tensorflow/layers", "tensorflow/fit"):
            assert f"results/eras/{era}/runs/{run}.json" in output
    # The 2020 jobs run with the configured interpreter, today's with this environment's `python`.
    assert output.count(f"{python} ") == 6 and output.count("python /") + output.count("python '") >= 6
    assert '"init": "uniform"' in output  # both eras from the shared start
    # Every job that writes a file takes the one timing slot: none runs beside a timed one.
    jobs_text = re.split(r"\n(?=(?:local)?rule \w+:)", output)
    working = [job for job in jobs_text if re.match(r"(?:local)?rule \w+:", job) and "\n    output: " in job]
    assert len(working) == 14 and all("timing_slot=1" in job for job in working)


def test_the_default_run_is_unchanged(tmp_path):
    output = snakemake(tmp_path, *TINY_ARGS, "-n").stdout
    counts = jobs(output)
    assert "train_era" not in counts and "idioms" not in counts and counts["train"] == len(RUNS)


def test_a_missing_2020_environment_is_named_with_how_to_make_it(tmp_path):
    done = snakemake(
        tmp_path,
        *TINY_ARGS,
        "--config",
        "eras={environments: {then: {python: no-such/python}}}",
        "-n",
        "then_vs_now",
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"eras.environments.then.python: {ROOT}/no-such/python does not exist" in output
    assert "builds .venv-then itself" in output


def test_an_era_run_that_is_not_a_run_stops_before_any_job(tmp_path):
    config = config_file(tmp_path, "eras: {runs: [torch/scratch, torch/fit]}")
    done = snakemake(tmp_path, "--configfile", config, "-n", check=False)
    assert done.returncode != 0
    assert "eras.runs[1]: 'torch/fit' is not a run of `runs:`" in done.stdout + done.stderr
    config = config_file(tmp_path, "eras: {runs: [torch-scratch]}")
    done = snakemake(tmp_path, "--configfile", config, "-n", check=False)
    assert done.returncode != 0 and "['eras']['runs'][0]" in done.stdout + done.stderr
