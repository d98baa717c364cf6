"""Gather run results into one table: fitted parameters against the optima, losses, timings."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd

from tale_of_two.analysis.confidence import median_interval, steady_repeats
from tale_of_two.analysis.pages import inline_code, page
from tale_of_two.fit.data import check_sealed, read_json
from tale_of_two.fit.workloads import workload_of

# Which optimum a run is judged against, by the loss it minimised.
OPTIMUM_OF_LOSS = {"mse": "ols", "mae": "lad"}
COLUMNS = [
    "framework",
    "variant",
    "status",
    "w",
    "b",
    "w_err",
    "b_err",
    "optimum",
    "w_err_optimum",
    "b_err_optimum",
    "final_loss",
    "loss_name",
    "mse",
    "mae",
    "epochs_run",
    "lr",
    "batch_size",
    "init",
    "train_time_s",
    "epoch_time_s",
    "epoch_time_q1_s",
    "epoch_time_q3_s",
    "epoch_time_ci_low_s",
    "epoch_time_ci_high_s",
    "cv_between_repeats",
    "first_epoch_s",
    "harness_overhead_s",
    "memory_pass_s",
    "epoch_over_memory_pass",
    "setup_s",
    "import_s",
    "dataset_bytes",
    "peak_rss_before_import_bytes",
    "peak_rss_after_import_bytes",
    "peak_rss_after_setup_bytes",
    "peak_rss_after_training_bytes",
    "framework_rss_bytes",
    "rss_growth_bytes_per_epoch",
    "device_peak_bytes",
    "repeats",
    "repeats_identical",
    "framework_version",
    "device",
    "device_fell_back",
    "device_name",
    "threads",
    "deterministic",
    "compiler",
    "graphs",
    "graph_breaks",
    "recompilations",
    "diverged_at_epoch",
    "error",
]

# The summary's rows for lines that are computed, not trained (true, OLS, LAD) carry this framework name.
EXACT = "exact"


def trained_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The summary's rows of training runs, without the exact lines."""
    return table[table["framework"] != EXACT]


def cv_between_repeats(timings: dict) -> float:
    """Repeat-to-repeat stability: the spread (std) of each repeat's median steady epoch over their mean."""
    per_repeat = [np.median(t[timings["warmup_epochs"] :]) for t in timings["epoch_times_s"] if t]
    return float(np.std(per_repeat) / np.mean(per_repeat)) if len(per_repeat) > 1 else np.nan


def compile_counts(result: dict) -> dict:
    """The compiler, and its graphs, graph breaks and recompilations summed over the repeats (NaN where the run
    does not compile, or where the compiler has no such notion)."""
    compiled = result.get("compile")
    if not compiled:
        return {"compiler": "", "graphs": np.nan, "graph_breaks": np.nan, "recompilations": np.nan}

    def total(key):
        values = [repeat[key] for repeat in compiled["repeats"]]
        return np.nan if any(value is None for value in values) else sum(values)

    counts = {key: total(key) for key in ("graphs", "graph_breaks", "recompilations")}
    return {"compiler": compiled["compiler"], **counts}


def number(spec: str, scale: float = 1.0):
    """A formatter for table cells: the value in `spec` (times `scale`), or blank where it is missing."""
    return lambda value: "" if pd.isna(value) else format(scale * value, spec)


class ResultError(ValueError):
    """A result file that cannot be trusted; the message names the file and the problem."""


def load_result(path: str | Path, schema: dict, expected_sha256: str) -> dict:
    path = Path(path)
    result = read_json(path, ResultError, check_seal=False)
    problems = sorted(jsonschema.Draft202012Validator(schema).iter_errors(result), key=lambda e: e.json_path)
    if problems:
        raise ResultError(f"{path}: fails the result schema at {problems[0].json_path}: {problems[0].message}")
    if result["dataset"]["sha256"] != expected_sha256:
        raise ResultError(
            f"{path}: trained on dataset sha256 {result['dataset']['sha256'][:12]}..., "
            f"but the current dataset is {expected_sha256[:12]}...: the result is stale; rerun its training job"
        )
    check_sealed(result, path, ResultError)  # last: a schema or staleness problem is the more telling message
    return result


def line_errors(w: float, b: float, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MSE and MAE of the line w*x + b on the data, in float64: the same yardstick for every run."""
    residual = y.astype(np.float64) - (w * x.astype(np.float64) + b)
    return {"mse": float(np.mean(residual**2)), "mae": float(np.mean(np.abs(residual)))}


def exact_rows(metadata: dict, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """The lines computed exactly rather than trained: the generating line and the two optima."""
    rows = []
    for name, loss_name in (("true", "mse"), ("ols", "mse"), ("lad", "mae")):
        w, b = metadata[name]["w"], metadata[name]["b"]
        errors = line_errors(w, b, x, y)
        rows.append(
            {
                "framework": EXACT,
                "variant": name,
                "status": "ok",
                "w": w,
                "b": b,
                "final_loss": errors[loss_name],
                "loss_name": loss_name,
                **errors,
            }
        )
    return rows


def memory_columns(memory: dict) -> dict:
    """A result's memory as summary columns; `framework_rss_bytes` is what the framework's import added to the
    process's peak (interpreter, numpy and the dataset come before it)."""
    before, after = memory["peak_rss_before_import_bytes"], memory["peak_rss_after_import_bytes"]
    columns = {key: memory[key] for key in COLUMNS if key in memory}
    return {**columns, "framework_rss_bytes": None if None in (before, after) else after - before}


def epoch_interval(result: dict) -> dict:
    """The median epoch's 95 % interval (`confidence.median_interval`), NaN with too few repeats."""
    low, high = median_interval(steady_repeats(result)) or (np.nan, np.nan)
    return {"epoch_time_ci_low_s": low, "epoch_time_ci_high_s": high}


def run_row(result: dict, metadata: dict, x: np.ndarray, y: np.ndarray) -> dict:
    # A diverged run may have no finite parameters: NaN keeps the row and the column types.
    w, b = (np.nan if v is None else v for v in (result["fitted"]["w"], result["fitted"]["b"]))
    timings, settings = result["timings"], result["settings"]
    if workload_of(result["variant"]) == "mlp":
        # Its own data, no w and b and no closed-form optimum: its MSE is its final loss (time_to_solution judges it).
        optimum, fit = None, {"w_err_optimum": np.nan, "b_err_optimum": np.nan, "mse": result["final_loss"]}
    else:
        optimum = OPTIMUM_OF_LOSS[result["loss_name"]]
        fit = {
            "w_err_optimum": abs(w - metadata[optimum]["w"]),
            "b_err_optimum": abs(b - metadata[optimum]["b"]),
            **line_errors(w, b, x, y),
        }
    return {
        "framework": result["framework"],
        "variant": result["variant"],
        "status": result["status"],
        "w": w,
        "b": b,
        "optimum": optimum,
        "final_loss": result["final_loss"],
        "loss_name": result["loss_name"],
        **fit,
        "epochs_run": len(result["loss_history"]),
        "lr": settings["lr"],
        "batch_size": settings["batch_size"] or result["dataset"]["n"],
        "init": settings["init"],
        "train_time_s": timings["train_s"]["median"],
        "epoch_time_s": timings["epoch_s"]["median"],
        "epoch_time_q1_s": timings["epoch_s"]["q1"],
        "epoch_time_q3_s": timings["epoch_s"]["q3"],
        **epoch_interval(result),
        "cv_between_repeats": cv_between_repeats(timings),
        "first_epoch_s": timings["first_epoch_s"],
        "harness_overhead_s": timings["harness_overhead_s"],
        "memory_pass_s": timings["memory_pass_s"]["median"],
        "setup_s": timings["setup_s"],
        "import_s": timings["import_s"],
        **memory_columns(result["memory"]),
        "repeats": timings["repeats"],
        "repeats_identical": result["repeats_identical"],
        "framework_version": result["framework_version"],
        "device": result["device"],
        "device_fell_back": result["device_fell_back"],
        "device_name": result["device_name"],
        "threads": result["threads"],
        "deterministic": settings.get("deterministic", True),
        **compile_counts(result),
        "diverged_at_epoch": result["diverged_at_epoch"],
        "error": result["error"],
    }


def summarize(results: list[dict], metadata: dict, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Reference rows (true, OLS, LAD), then one row per run; `w_err`/`b_err` are distances to OLS."""
    rows = exact_rows(metadata, x, y) + [run_row(r, metadata, x, y) for r in results]
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["w_err"] = (table["w"] - metadata["ols"]["w"]).abs()
    table["b_err"] = (table["b"] - metadata["ols"]["b"]).abs()
    # How many times the bare memory pass over the same bytes an epoch takes (1 would be the bound).
    table["epoch_over_memory_pass"] = table["epoch_time_s"] / table["memory_pass_s"]
    return table


# How the summary names a run's starting point (settings.init).
START = {"uniform": "shared draw", "framework": "own initialiser"}


def initial_values_note(table: pd.DataFrame) -> str:
    """Which runs start from the shared draw of w and b and which from their framework's own initialiser,
    and the variants run both ways: their results differ because their starts do."""
    runs = trained_rows(table)
    names = runs["framework"] + "/" + runs["variant"]
    own = list(names[runs["init"] == "framework"])
    if not own:
        return "Every run starts from the same shared draw of w and b (`init: uniform`)."
    shared = list(names[runs["init"] != "framework"])
    text = (
        f"Not every run starts from the same w and b. {', '.join(f'`{n}`' for n in own)} "
        "start from their framework's own initialiser (`init: framework`): the article's layer and Keras code "
        "leaves w and b to the framework, e.g. Keras' Dense draws a Glorot-uniform kernel and a zero bias."
    )
    if shared:
        text += (
            f" {', '.join(f'`{n}`' for n in shared)} start from one shared draw (`init: uniform`): the same "
            "numbers in every framework, so that the frameworks can be compared step by step."
        )
    for variant, group in runs.groupby("variant", sort=False):
        if group["init"].nunique() > 1:
            starts = {
                init: ", ".join(f"`{f}/{variant}`" for f in group.loc[group["init"] == init, "framework"])
                for init in ("framework", "uniform")
            }
            text += (
                f" {starts['framework']} (own initialiser) and {starts['uniform']} (shared draw) run the same "
                "variant from different starts: their fitted w, b and final losses are not expected to agree."
            )
    return text


def to_markdown(table: pd.DataFrame, metadata: dict, mlp_metadata: dict | None = None) -> str:
    """The table a person reads: parameters, errors, losses and times, in readable units."""

    status = [
        f"diverged at epoch {int(epoch)}" if state == "diverged" else state
        for state, epoch in zip(table["status"], table["diverged_at_epoch"], strict=True)
    ]
    shown = pd.DataFrame(
        {
            "run": table["framework"] + "/" + table["variant"],
            "status": status,
            "w": table["w"].map(number(".5f")),
            "b": table["b"].map(number(".5f")),
            "|w - w_ols|": table["w_err"].map(number(".1e")),
            "|b - b_ols|": table["b_err"].map(number(".1e")),
            "final loss": [
                "" if pd.isna(v) else f"{v:.4f} ({name})"
                for v, name in zip(table["final_loss"], table["loss_name"], strict=True)
            ],
            "epochs": table["epochs_run"].map(number(".0f")),
            "start": table["init"].map(START).fillna(""),
            "epoch time, ms (median [IQR])": [
                "" if pd.isna(m) else f"{1e3 * m:.3f} [{1e3 * q1:.3f}, {1e3 * q3:.3f}]"
                for m, q1, q3 in zip(
                    table["epoch_time_s"], table["epoch_time_q1_s"], table["epoch_time_q3_s"], strict=True
                )
            ],
            "median's 95 % CI, ms": [
                "" if pd.isna(low) else f"[{1e3 * low:.3f}, {1e3 * high:.3f}]"
                for low, high in zip(table["epoch_time_ci_low_s"], table["epoch_time_ci_high_s"], strict=True)
            ],
            "CV": table["cv_between_repeats"].map(number(".1%")),
            "graphs / breaks / recompiles": [
                "" if pd.isna(g) else "/".join("-" if pd.isna(v) else f"{v:.0f}" for v in (g, b, r))
                for g, b, r in zip(table["graphs"], table["graph_breaks"], table["recompilations"], strict=True)
            ],
            "training, s": table["train_time_s"].map(number(".3f")),
            "peak memory, MB": table["peak_rss_after_training_bytes"].map(number(".0f", 1e-6)),
            "framework's import, MB": table["framework_rss_bytes"].map(number(".0f", 1e-6)),
            "growth, KB/epoch": table["rss_growth_bytes_per_epoch"].map(number(".1f", 1e-3)),
            "version": table["framework_version"].fillna(""),
            "device": table["device"].fillna(""),
        }
    )
    spec = metadata["spec"]
    header = (
        f"# Summary\n\n{metadata['n']} points, y = {spec['w_true']} x + {spec['b_true']} + N(0, {spec['noise_std']}), "
        f"dataset sha256 `{metadata['sha256'][:12]}`. Errors are distances to the OLS line; "
        "MAE runs converge to the LAD line instead (row `exact/lad`). CV: the spread of the repeats' median "
        "epochs over their mean. Graphs / breaks / recompiles: what a compiling run's compiler did, over all "
        "repeats (- where the compiler has no such notion). The median's 95 % CI: a bootstrap over the repeats "
        "(none under 3). Peak memory: the job's peak resident memory after training (interpreter and dataset "
        "included); framework's import: what importing the framework added to it; growth: the resident memory's "
        "slope over 50 steady epochs of an untimed run (a 4 KiB page over them is 0.08 KB/epoch: below about "
        "1 KB/epoch, no leak).\n\n"
        f"{initial_values_note(table)}\n\n"
    )
    if mlp_metadata is not None:
        spec = mlp_metadata["spec"]
        header += (
            f"The `mlp_*` rows fit the second workload, an MLP (hidden widths and activation in each run's settings), "
            f"on data of their own: {mlp_metadata['n']} points of {mlp_metadata['d']} inputs, y = sin(2 x.u) + "
            f"(x.v)^2 / 2 + N(0, {spec['noise_std']}), dataset sha256 `{mlp_metadata['sha256'][:12]}`. They have no "
            f"w and b; their final loss is their MSE there (the best affine fit's: "
            f"{mlp_metadata['affine_mse']:.4f}).\n\n"
        )
    return header + shown.to_markdown(index=False) + "\n"


# Settings that must match for two frameworks to be expected to follow the same trajectory.
SAME_TRAJECTORY_SETTINGS = (
    "lr",
    "epochs",
    "batch_size",
    "init",
    "init_low",
    "init_high",
    "seed",
    "hidden",
    "activation",
)


def difference(a: float | None, b: float | None) -> float:
    """|a - b|, NaN where either is missing (an MLP has no w and b)."""
    return np.nan if a is None or b is None else abs(a - b)


def equivalence(results: list[dict]) -> pd.DataFrame:
    """For each variant run by several frameworks from the same shared start: how far apart they ended up.

    Only pairs started from the shared uniform draw with the same settings are compared; a framework's
    own initialiser starts elsewhere by design.
    """
    rows = []
    comparable = [r for r in results if r["status"] == "ok" and r["settings"]["init"] == "uniform"]
    for i, first in enumerate(comparable):
        for second in comparable[i + 1 :]:
            same_settings = all(first["settings"].get(k) == second["settings"].get(k) for k in SAME_TRAJECTORY_SETTINGS)
            if first["variant"] != second["variant"] or first["framework"] == second["framework"] or not same_settings:
                continue
            losses = np.array([first["loss_history"], second["loss_history"]], dtype=float)
            relative = np.abs(losses[0] - losses[1]) / np.maximum(np.abs(losses[1]), np.finfo(np.float32).tiny)
            rows.append(
                {
                    "variant": first["variant"],
                    "framework_a": first["framework"],
                    "framework_b": second["framework"],
                    "epochs": len(first["loss_history"]),
                    "max_abs_loss_diff": float(np.max(np.abs(losses[0] - losses[1]))),
                    "max_rel_loss_diff": float(np.max(relative)),
                    "w_diff": difference(first["fitted"]["w"], second["fitted"]["w"]),
                    "b_diff": difference(first["fitted"]["b"], second["fitted"]["b"]),
                }
            )
    columns = [
        "variant",
        "framework_a",
        "framework_b",
        "epochs",
        "max_abs_loss_diff",
        "max_rel_loss_diff",
        "w_diff",
        "b_diff",
    ]
    return pd.DataFrame(rows, columns=columns)


def equivalence_markdown(table: pd.DataFrame) -> str:
    text = (
        "# Same start, same updates: do the frameworks agree?\n\n"
        "Runs of one variant in different frameworks, started from the same shared draw of w and b with the same "
        "settings, compared at every epoch.\n\n"
    )
    if table.empty:
        return text + "No such pair in this configuration (set `init: uniform` on runs of the same variant).\n"
    worst = table["max_rel_loss_diff"].max()
    text += f"Largest relative difference in the loss at any epoch: **{worst:.2e}** (float32 resolution: 1.2e-07).\n\n"
    mlp = table[[workload_of(variant) == "mlp" for variant in table["variant"]]]
    if not mlp.empty:
        worst_mlp = mlp["max_rel_loss_diff"].max()
        text += (
            "The `mlp_*` rows start from one shared numpy draw of every weight of the MLP (w and b do not apply). "
            f"Their largest relative difference in the loss: **{worst_mlp:.2e}**, "
            f"{'within' if worst_mlp <= MLP_TOLERANCE else 'beyond'} the {MLP_TOLERANCE:g} the tests hold them to "
            "at full batch: a few float32 roundings (1.2e-07 each) in sums and products that each framework orders "
            "its own way, compounded over the epochs, and far below the difference one wrong weight or gradient "
            "makes.\n\n"
        )
    return text + table.to_markdown(index=False, floatfmt=".3g") + "\n"


# The largest relative loss difference the mlp_* runs of two frameworks may show at full batch from the same start.
MLP_TOLERANCE = 1e-5


def to_html(table: pd.DataFrame) -> str:
    """The summary for the report, marking what a reader looks for: best and worst fit, fastest and
    slowest epoch (among runs that finished), and any run that diverged or could not run."""
    runs = trained_rows(table)
    finished = runs[runs["status"] == "ok"]
    shown = pd.DataFrame(
        {
            "run": table["framework"] + "/" + table["variant"],
            "status": table["status"],
            "w": table["w"],
            "b": table["b"],
            "optimum": table["optimum"].fillna(""),
            "|w - optimum|": table["w_err_optimum"],
            "|b - optimum|": table["b_err_optimum"],
            "final loss": table["final_loss"],
            "loss": table["loss_name"],
            "epochs": table["epochs_run"],
            "start": table["init"].map(START).fillna(""),
            "epoch, ms": 1e3 * table["epoch_time_s"],
            "training, s": table["train_time_s"],
            "peak memory, MB": 1e-6 * table["peak_rss_after_training_bytes"],
            "device": table["device"].fillna(""),
            "version": table["framework_version"].fillna(""),
        }
    )
    error = finished["w_err_optimum"] + finished["b_err_optimum"]
    marks = pd.DataFrame("", index=shown.index, columns=shown.columns)
    best, worst = "background-color:#d4f4d4", "background-color:#f8d4d4"
    if not finished.empty:
        for column in ("|w - optimum|", "|b - optimum|"):
            marks.loc[error.idxmin(), column], marks.loc[error.idxmax(), column] = best, worst
        marks.loc[finished["epoch_time_s"].idxmin(), "epoch, ms"] = best
        marks.loc[finished["epoch_time_s"].idxmax(), "epoch, ms"] = worst
    for index in runs.index[runs["status"] != "ok"]:
        marks.loc[index, :] = "background-color:#ffe4b0"
    styler = (
        shown.style.apply(lambda _: marks, axis=None)
        .format(
            {
                "w": "{:.5f}",
                "b": "{:.5f}",
                "final loss": "{:.5f}",
                "epoch, ms": "{:.3f}",
                "training, s": "{:.3f}",
                "peak memory, MB": "{:.0f}",
                "|w - optimum|": "{:.1e}",
                "|b - optimum|": "{:.1e}",
                "epochs": "{:.0f}",
            },
            na_rep="",
        )
        .hide(axis="index")
    )
    legend = (
        f"<p>{inline_code(initial_values_note(table))}</p>"
        "<p>Green: best fit (distance to the optimum of its own loss) and fastest epoch among finished runs; red: "
        "worst and slowest; orange rows: runs that diverged or could not run.</p>"
    )
    return page("Summary", legend + styler.to_html())
