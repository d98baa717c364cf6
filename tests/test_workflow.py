"""The real `snakemake` command line on the real Snakefile, in a temporary working directory."""

import json

import jsonschema
import pandas as pd
import pytest
from conftest import MLP_RUNS, RESULT_SCHEMA, ROOT, RUNS, TINY_ARGS, run_json, snakemake

pytestmark = pytest.mark.e2e


def test_pipeline_writes_summary_plots_results_and_logs(tiny_run):
    table = pd.read_csv(tiny_run / "results/summary.csv")
    assert list(table["framework"] + "/" + table["variant"]) == [
        "exact/true",
        "exact/ols",
        "exact/lad",
        *RUNS,
    ]
    assert (table["status"] == "ok").all()
    assert table.loc[3:, "epoch_time_s"].gt(0).all() and table.loc[3:, "train_time_s"].gt(0).all()
    assert (tiny_run / "results/summary.md").read_text().count("| torch/") == sum(r.startswith("torch/") for r in RUNS)
    for plot in ("fits", "losses", "timings"):
        assert (tiny_run / f"results/plots/{plot}.png").stat().st_size > 10_000
    api = (tiny_run / "results/api_differences.md").read_text()
    assert all(f"| {run}" in api or f" {run} " in api for run in RUNS)
    metadata = json.loads((tiny_run / "results/data/dataset.json").read_text())
    mlp_metadata = json.loads((tiny_run / "results/data/mlp.json").read_text())  # the mlp_* runs' data
    for run in RUNS:
        result = run_json(tiny_run, run)
        jsonschema.validate(result, RESULT_SCHEMA)
        data = mlp_metadata if run in MLP_RUNS else metadata
        assert result["dataset"]["sha256"] == data["sha256"] and result["dataset"]["n"] == 50
        assert f"{run}: w = " in (tiny_run / f"logs/train/{run}.log").read_text()
        assert (tiny_run / f"benchmarks/train/{run}.tsv").exists()
    assert (tiny_run / "logs/dataset.log").exists() and (tiny_run / "logs/summarize.log").exists()


def test_rerun_with_nothing_changed_runs_no_job(tiny_copy):
    done = snakemake(tiny_copy, *TINY_ARGS, "--cores", "2")
    assert "Nothing to be done" in done.stdout + done.stderr


def test_one_result_can_be_rebuilt_alone(tiny_copy):
    target = tiny_copy / "results/runs/torch/scratch.json"
    before = json.loads(target.read_text())
    target.unlink()
    done = snakemake(tiny_copy, *TINY_ARGS, "--cores", "1", "results/runs/torch/scratch.json")
    assert "train" in done.stdout + done.stderr
    after = json.loads(target.read_text())
    assert after["fitted"] == before["fitted"] and after["loss_history"] == before["loss_history"]
    # atomic_write_bytes writes `.scratch.json.<random>.tmp` beside the target, then renames it.
    torch_runs = sorted(f"{run.split('/')[1]}.json" for run in RUNS if run.startswith("torch/"))
    assert sorted(p.name for p in (tiny_copy / "results/runs/torch").iterdir()) == torch_runs


def test_lint_is_clean():
    done = snakemake(ROOT, "--lint", timeout=300)
    assert "Lints for" not in done.output
