"""Rule `summarize`: the right rows and numbers from hand-made results; untrustworthy files are named."""

import json
import re

import pandas as pd
import pytest
from conftest import RESULT_SCHEMA, make_result

from tale_of_two.analysis import summary

REQUIRED = [
    "framework",
    "variant",
    "w",
    "b",
    "w_err",
    "b_err",
    "final_loss",
    "loss_name",
    "train_time_s",
    "epoch_time_s",
    "framework_version",
    "device",
]


@pytest.fixture
def results(metadata):
    sha = metadata["sha256"]
    return [
        make_result("torch", "scratch", metadata["ols"]["w"] + 0.01, metadata["ols"]["b"] - 0.2, sha, epoch_s=0.002),
        make_result("tensorflow", "fit", metadata["lad"]["w"], metadata["lad"]["b"] + 0.001, sha, loss_name="mae"),
    ]


def test_rows_are_exact_lines_then_runs_with_the_required_columns(results, metadata, arrays):
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
    assert list(table["framework"] + "/" + table["variant"]) == [
        "exact/true",
        "exact/ols",
        "exact/lad",
        "torch/scratch",
        "tensorflow/fit",
    ]
    assert set(REQUIRED) <= set(table.columns)


def test_errors_are_distances_to_ols_and_to_the_run_s_own_optimum(results, metadata, arrays):
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"]).set_index(["framework", "variant"])
    torch_row = table.loc[("torch", "scratch")]
    assert torch_row["w_err"] == pytest.approx(0.01) and torch_row["b_err"] == pytest.approx(0.2)
    assert torch_row["optimum"] == "ols" and torch_row["w_err_optimum"] == pytest.approx(0.01)
    fit_row = table.loc[("tensorflow", "fit")]
    assert fit_row["optimum"] == "lad" and fit_row["b_err_optimum"] == pytest.approx(0.001)
    assert fit_row["w_err"] == pytest.approx(abs(metadata["lad"]["w"] - metadata["ols"]["w"]))
    assert table.loc[("exact", "ols"), "w_err"] == 0
    assert table.loc[("exact", "ols"), "final_loss"] == pytest.approx(metadata["ols"]["mse"])
    assert torch_row["epoch_time_s"] == 0.002 and torch_row["train_time_s"] == pytest.approx(0.008)


def test_loss_of_each_line_is_recomputed_on_the_data(results, metadata, arrays):
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
    x, y = arrays["x"].astype(float), arrays["y"].astype(float)
    row = table.iloc[3]
    assert row["mse"] == pytest.approx(((y - (row["w"] * x + row["b"])) ** 2).mean())
    assert table.iloc[1]["mse"] <= table["mse"].min() + 1e-15  # nothing beats OLS at MSE


def test_csv_and_markdown_render(results, metadata, arrays, tmp_path):
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
    table.to_csv(tmp_path / "s.csv", index=False)
    assert len(pd.read_csv(tmp_path / "s.csv")) == 5
    markdown = summary.to_markdown(table, metadata)
    assert "| torch/scratch" in markdown and "exact/lad" in markdown and "2.000 [1.800, 2.200]" in markdown


def write(tmp_path, document, name="run.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_valid_result_loads(results, metadata, tmp_path):
    loaded = summary.load_result(write(tmp_path, results[0]), RESULT_SCHEMA, metadata["sha256"])
    assert loaded["framework"] == "torch"


def test_result_failing_its_schema_is_named(results, metadata, tmp_path):
    broken = dict(results[0], status="exploded")
    with pytest.raises(summary.ResultError, match=r"run\.json: fails the result schema at \$\.status"):
        summary.load_result(write(tmp_path, broken), RESULT_SCHEMA, metadata["sha256"])
    missing = {k: v for k, v in results[0].items() if k != "fitted"}
    with pytest.raises(summary.ResultError, match="'fitted' is a required property"):
        summary.load_result(write(tmp_path, missing), RESULT_SCHEMA, metadata["sha256"])


def test_result_from_another_dataset_is_named_stale(results, metadata, tmp_path):
    with pytest.raises(summary.ResultError, match=r"run\.json: trained on dataset sha256 .* the result is stale"):
        summary.load_result(write(tmp_path, results[0]), RESULT_SCHEMA, "f" * 64)


def test_truncated_result_is_named(results, metadata, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(results[0])[:50])
    with pytest.raises(summary.ResultError, match=r"run\.json: not valid JSON"):
        summary.load_result(path, RESULT_SCHEMA, metadata["sha256"])


def test_equivalence_compares_same_variant_same_start_across_frameworks(metadata):
    sha = metadata["sha256"]
    torch_run = make_result("torch", "scratch", 0.1, 0.2, sha)
    tf_run = make_result("tensorflow", "scratch", 0.1 + 2e-7, 0.2, sha)
    tf_run["loss_history"] = [v * (1 + 1e-6) for v in tf_run["loss_history"]]
    own_init = [make_result(f, "layers", 0.1, 0.2, sha) for f in ("torch", "tensorflow")]
    for run in own_init:
        run["settings"] = dict(run["settings"], init="framework")
    longer = make_result("tensorflow", "scratch", 0.1, 0.2, sha, epochs=8)  # other settings: not comparable
    table = summary.equivalence([torch_run, tf_run, *own_init, longer])
    assert list(zip(table["variant"], table["framework_a"], table["framework_b"], strict=True)) == [
        ("scratch", "torch", "tensorflow")
    ]
    assert table["w_diff"].iloc[0] == pytest.approx(2e-7) and table["b_diff"].iloc[0] == 0
    assert table["max_rel_loss_diff"].iloc[0] == pytest.approx(1e-6, rel=1e-3)
    markdown = summary.equivalence_markdown(table)
    assert "**1.00e-06**" in markdown and "| scratch" in markdown
    assert "No such pair" in summary.equivalence_markdown(summary.equivalence(own_init))


def test_diverged_run_keeps_its_row_with_no_parameters(metadata, arrays):
    diverged = make_result("torch", "scratch", 0.0, 0.0, metadata["sha256"], status="diverged")
    diverged["fitted"] = {"w": None, "b": None}
    table = summary.summarize([diverged], metadata, arrays["x"], arrays["y"])
    row = table.iloc[3]
    assert row["status"] == "diverged" and row["diverged_at_epoch"] == 4
    assert pd.isna(row["w"]) and pd.isna(row["w_err"]) and pd.isna(row["final_loss"])
    markdown = summary.to_markdown(table, metadata)
    assert re.search(r"\| torch/scratch +\| diverged at epoch 4 +\|", markdown)
    assert "nan" not in markdown


def test_summary_says_which_runs_start_from_their_framework_s_initialiser_and_why(metadata, arrays):
    sha = metadata["sha256"]
    runs = [make_result(f, "fit", 0.1, 0.28, sha, loss_name="mae") for f in ("tensorflow", "keras_torch", "keras_jax")]
    runs[0]["settings"] = dict(runs[0]["settings"], init="framework")
    table = summary.summarize(runs, metadata, arrays["x"], arrays["y"])
    note = summary.initial_values_note(table)
    assert "`tensorflow/fit` start from their framework's own initialiser" in note
    assert "Glorot-uniform" in note  # why: the article's Keras code leaves w and b to Keras
    assert "`keras_torch/fit`, `keras_jax/fit` start from one shared draw" in note
    assert "`tensorflow/fit` (own initialiser) and `keras_torch/fit`, `keras_jax/fit` (shared draw)" in note
    markdown = summary.to_markdown(table, metadata)
    assert note in markdown and re.search(r"\| tensorflow/fit +\|.*\| own initialiser +\|", markdown)
    assert "<code>tensorflow/fit</code> start from" in summary.to_html(table)
    same = summary.summarize(runs[1:], metadata, arrays["x"], arrays["y"])
    assert summary.initial_values_note(same).startswith("Every run starts from the same shared draw")
