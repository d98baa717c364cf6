"""The scaling benchmark: steady-state epoch time against n, every run beside numpy and the memory bound."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tale_of_two import plots
from tale_of_two.summary import number

REFERENCE = ("numpy", "scratch")
# Goals the benchmark reports against (it measures; it does not assert).
GOAL_RATIO_TO_NUMPY = 1.5
GOAL_CV = 0.05
GOAL_OVERHEAD_FRACTION = 0.01


def scaling_table(results: list[dict]) -> pd.DataFrame:
    rows = []
    for result in results:
        timings = result["timings"]
        per_repeat = [np.median(t[timings["warmup_epochs"] :]) for t in timings["epoch_times_s"] if t]
        mean = float(np.mean(per_repeat)) if per_repeat else np.nan
        rows.append(
            {
                "n": result["dataset"]["n"],
                "framework": result["framework"],
                "variant": result["variant"],
                "status": result["status"],
                "epoch_time_s": timings["epoch_s"]["median"],
                "epoch_time_q1_s": timings["epoch_s"]["q1"],
                "epoch_time_q3_s": timings["epoch_s"]["q3"],
                # Repeat-to-repeat stability: spread of each repeat's median epoch over their mean.
                "cv_between_repeats": float(np.std(per_repeat) / mean) if len(per_repeat) > 1 else np.nan,
                "first_epoch_s": timings["first_epoch_s"],
                "memory_pass_s": timings["memory_pass_s"]["median"],
                "harness_overhead_s": timings["harness_overhead_s"],
                "framework_version": result["framework_version"],
                "device": result["device"],
                "threads": result["threads"],
                "error": result["error"],
            }
        )
    table = pd.DataFrame(rows).sort_values(["n", "framework", "variant"], ignore_index=True)
    table["epoch_over_memory_pass"] = table["epoch_time_s"] / table["memory_pass_s"]
    numpy_times = table[(table["framework"] == REFERENCE[0]) & (table["variant"] == REFERENCE[1])]
    table["ratio_to_numpy"] = table["epoch_time_s"] / table["n"].map(numpy_times.set_index("n")["epoch_time_s"])
    return table


def goals_markdown(table: pd.DataFrame) -> str:
    """What the benchmark set out to check, with the measured numbers."""
    ok = table[table["status"] == "ok"]
    largest = ok["n"].max()
    at_largest = ok[(ok["n"] == largest) & (ok["framework"] != REFERENCE[0])]
    lines = [
        f"## Goals\n\nAt n = {largest:,} (full batch): the fastest variant of each framework against numpy's "
        f"hand-written gradient descent epoch (goal: within {GOAL_RATIO_TO_NUMPY}x).\n"
    ]
    fastest = at_largest.loc[at_largest.groupby("framework")["epoch_time_s"].idxmin()]
    verdicts = pd.DataFrame(
        {
            "framework": fastest["framework"],
            "fastest variant": fastest["variant"],
            "epoch, ms": (1e3 * fastest["epoch_time_s"]).map("{:.3f}".format),
            "x numpy": fastest["ratio_to_numpy"].map("{:.2f}".format),
            "goal met": np.where(fastest["ratio_to_numpy"] <= GOAL_RATIO_TO_NUMPY, "yes", "no"),
        }
    )
    lines.append(verdicts.to_markdown(index=False, disable_numparse=True) + "\n")
    worst_cv = ok["cv_between_repeats"].max()
    lines.append(
        f"Largest coefficient of variation between repeats: {worst_cv:.1%} "
        f"(goal: under {GOAL_CV:.0%} on a quiet machine).\n"
    )
    smallest = ok[ok["n"] == ok["n"].min()]
    fraction = smallest["harness_overhead_s"].median() / smallest["epoch_time_s"].min()
    lines.append(
        f"Harness bookkeeping per epoch: {1e6 * smallest['harness_overhead_s'].median():.2f} us, "
        f"{fraction:.2%} of the fastest epoch at n = {smallest['n'].iloc[0]:,} "
        f"(goal: under {GOAL_OVERHEAD_FRACTION:.0%}).\n"
    )
    unsupported = table[table["status"] == "unsupported"]
    for _, row in unsupported.iterrows():
        lines.append(f"- {row['framework']}/{row['variant']} at n = {row['n']:,} could not run: {row['error']}\n")
    return "\n".join(lines)


def scaling_markdown(table: pd.DataFrame) -> str:
    shown = table.assign(
        run=table["framework"] + "/" + table["variant"],
        epoch_ms=(1e3 * table["epoch_time_s"]).map(number(".4g")),
        iqr_ms=[
            "" if pd.isna(q1) else f"[{1e3 * q1:.4g}, {1e3 * q3:.4g}]"
            for q1, q3 in zip(table["epoch_time_q1_s"], table["epoch_time_q3_s"], strict=True)
        ],
        x_numpy=table["ratio_to_numpy"].map(number(".2f")),
        x_memory_pass=table["epoch_over_memory_pass"].map(number(".1f")),
        cv=table["cv_between_repeats"].map(number(".1%")),
        first_epoch_s=table["first_epoch_s"].map(number(".3f")),
    )[["n", "run", "status", "epoch_ms", "iqr_ms", "x_numpy", "x_memory_pass", "cv", "first_epoch_s"]]
    header = "# Scaling: steady-state time per full-batch epoch\n\n"
    return header + shown.to_markdown(index=False, disable_numparse=True) + "\n\n" + goals_markdown(table)


def plot_scaling(table: pd.DataFrame, results: list[dict], path) -> None:
    """Log-log: time per epoch against n, one line per run, with numpy and the memory-pass bound."""
    styles = plots.run_styles(results)
    fig, ax = plots.plt.subplots(figsize=plots.FIGSIZE, dpi=plots.DPI, constrained_layout=True)
    ok = table[table["status"] == "ok"]
    for (framework, variant), runs in ok.groupby(["framework", "variant"], sort=True):
        if (framework, variant) == REFERENCE:
            style = {"color": plots.REFERENCE_COLOR, "linestyle": "--"}
        else:
            style = styles[(framework, variant)]
        ax.plot(runs["n"], 1e3 * runs["epoch_time_s"], marker="o", label=f"{framework}/{variant}", **style)
    bound = ok.groupby("n")["memory_pass_s"].median()
    ax.plot(
        bound.index,
        1e3 * bound.to_numpy(),
        color="0.5",
        linestyle=":",
        linewidth=2,
        label="memory pass over x and y (lower bound)",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="n (points, full batch)",
        ylabel="time per epoch, ms (median)",
        title=f"Scaling on {ok['device'].iloc[0]}, {ok['threads'].max()} thread(s): steady-state epoch time vs n",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plots.save(fig, path)
