"""tools/readme_tables.py: the README's measured block, built from result files, rewritten in place."""

import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, make_result

from tale_of_two.analysis import summary

sys.path.insert(0, str(ROOT / "tools"))
import readme_tables  # noqa: E402

RUNS = ["torch/scratch", "jax/scratch", "tensorflow/fit", "keras_jax/fit", "keras_torch/fit"]
README = "# Title\n\nBefore.\n\n{start}\nold table\n{end}\n\nAfter.\n"


@pytest.fixture
def run_dir(tmp_path, metadata, arrays):
    """What a finished run leaves: summary.csv, one JSON per run, dataset.json, Snakemake's job benchmarks."""
    results = []
    for index, run in enumerate(RUNS):
        loss = "mae" if run.endswith("fit") else "mse"
        result = make_result(*run.split("/"), 0.1, 0.2 + index / 100, metadata["sha256"], loss_name=loss)
        result["environment"].update(machine="x86_64", cpu_count=2, platform="Linux-test")
        result["finished_utc"] = f"2026-11-25T19:0{index}:00+00:00"
        results.append(result)
        path = tmp_path / "results/runs" / f"{run}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
        bench = tmp_path / "benchmarks/train" / f"{run}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text(f"s\th:m:s\n{10.0 + index}\t0:00:10\n")
    for index in (0, 2):  # torch/scratch and tensorflow/fit from their framework's own initialiser
        results[index]["settings"]["init"] = "framework"
        (tmp_path / f"results/runs/{RUNS[index]}.json").write_text(json.dumps(results[index]))
    summary.summarize(results, metadata, arrays["x"], arrays["y"]).to_csv(tmp_path / "results/summary.csv", index=False)
    (tmp_path / "results/data").mkdir()
    (tmp_path / "results/data/dataset.json").write_text(json.dumps(metadata))
    return tmp_path


def table_rows(block: str) -> list[list[str]]:
    lines = [line for line in block.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_block_is_a_well_formed_table_of_every_run_with_date_and_machine(run_dir):
    block = readme_tables.block(run_dir)
    assert block.startswith(readme_tables.START_MARKER) and block.endswith(readme_tables.END_MARKER)
    header, separator, *rows = table_rows(block)
    assert all(set(cell) == {"-"} for cell in separator) and len(separator) == len(header)
    assert all(len(row) == len(header) for row in rows)
    assert [row[0] for row in rows] == RUNS  # the summary's order, JAX and Keras included
    by_run = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_run["torch/scratch"]["start"] == "own initialiser" and by_run["jax/scratch"]["start"] == "shared draw"
    assert by_run["jax/scratch"]["ms per epoch, median [IQR]"] == "1 [0.9, 1.1]"
    assert (
        by_run["keras_jax/fit"]["final loss"] == "0.2500 (MAE)"
        and by_run["keras_torch/fit"]["training job, s"] == "14.0"
    )
    assert "2026-11-25 19:00 to 2026-11-25 19:04 UTC on Linux-test, x86_64, 2 CPUs, Python 3.11" in block
    assert "The 5 training jobs took 60 s together" in block
    # Only runs from the same start are compared: the two Keras fits (same losses, b 0.01 apart).
    assert "agree at every epoch: `fit` (keras_jax, keras_torch) to a relative 0.0e+00 in the loss and 1.0e-02" in block


def test_readme_is_rewritten_between_the_markers_only_and_check_sees_drift(run_dir):
    readme = run_dir / "README.md"
    readme.write_text(README.format(start=readme_tables.START_MARKER, end=readme_tables.END_MARKER))
    tool = [sys.executable, str(ROOT / "tools/readme_tables.py"), "--root", str(run_dir), "--readme", str(readme)]
    check = subprocess.run([*tool, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "differ" in check.stderr
    subprocess.run(tool, check=True)
    text = readme.read_text()
    assert text.startswith("# Title\n\nBefore.\n\n<!-- readme_tables:start -->") and text.endswith("-->\n\nAfter.\n")
    assert "old table" not in text and "| keras_torch/fit |" in text
    assert subprocess.run([*tool, "--check"]).returncode == 0
    subprocess.run(tool, check=True)
    assert readme.read_text() == text  # idempotent


def test_missing_inputs_and_markers_are_named(run_dir):
    with pytest.raises(readme_tables.TablesError, match="exactly one <!-- readme_tables:start -->"):
        readme_tables.replace_block("no markers here", "x")
    (run_dir / "results/runs/keras_jax/fit.json").unlink()
    with pytest.raises(readme_tables.TablesError, match=r"keras_jax/fit\.json: missing, but .*summary\.csv has a row"):
        readme_tables.block(run_dir)
    with pytest.raises(readme_tables.TablesError, match=r"summary\.csv: missing; run"):
        readme_tables.block(run_dir / "elsewhere")


def test_the_readme_holds_one_generated_block_with_every_default_run():
    text = (ROOT / "README.md").read_text()
    start, end = text.index(readme_tables.START_MARKER), text.index(readme_tables.END_MARKER)
    block = text[start:end]
    header, _, *rows = table_rows(block)
    assert all(len(row) == len(header) for row in rows)
    names = [row[0] for row in rows]
    assert {"jax/scratch", "jax/layers", "keras_torch/fit", "keras_jax/fit", "numpy/scratch"} <= set(names)
    assert re.search(r"Runs finished \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC on .*, \d+ CPUs", block)
