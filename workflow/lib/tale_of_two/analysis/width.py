"""The model-size axis (`snakemake bench`, `bench.widths`): the MLP's step time against its FLOPs per step.

Every run on the axis trains the MLP at one n, full batch (one step per epoch), with `bench.width_layers` hidden
layers of each width. Each process also timed numpy's matrix products of the step's shapes (`compute_bound` in
its results, `workloads.matmul_seconds`): the compute bound of that step on this machine, one thread. A step
within 2x of it is compute-bound: its framework's overhead no longer matters there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tale_of_two.analysis import plots
from tale_of_two.analysis.api import remedies_of
from tale_of_two.fit import harness

REFERENCE = ("numpy", "mlp_scratch")  # backpropagation by hand: the baseline every framework is set against
WITHIN = 2.0  # a step within this factor of the compute bound is called compute-bound


def merge_width_rounds(results: list[dict]) -> list[dict]:
    """One result per (width, framework, variant), every round's repeats together, with the compute bound's
    samples of every round (each round's median)."""
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        key = (tuple(result["settings"]["hidden"]), result["framework"], result["variant"])
        groups.setdefault(key, []).append(result)
    merged = []
    for parts in groups.values():
        one = harness.merge_repeats(parts, parts[0]["settings"]["warmup_epochs"])
        one = {**one, "settings": parts[0]["settings"], "dataset": parts[0]["dataset"]}
        one["environment"] = parts[0]["environment"]
        bounds = [part["compute_bound"] for part in parts]
        one["compute_bound"] = {
            **bounds[0],
            "matmul_s": float(np.median([bound["matmul_s"]["median"] for bound in bounds])),
        }
        merged.append(one)
    return merged


def width_table(results: list[dict]) -> pd.DataFrame:
    """One row per run and width: ms per step, FLOPs per step, the compute bound, and the ratios."""
    rows = []
    for result in merge_width_rounds(results):
        bound = result["compute_bound"]
        hidden = result["settings"]["hidden"]
        memory = (result.get("memory") or {}).get("peak_rss_after_training_bytes")  # issue #25's, where recorded
        rows.append(
            {
                "width": int(hidden[0]),
                "layers": len(hidden),
                "n": result["dataset"]["n"],
                "framework": result["framework"],
                "variant": result["variant"],
                "run": f"{result['framework']}/{result['variant']}",
                "status": result["status"],
                "step_s": result["timings"]["epoch_s"]["median"],
                "step_q1_s": result["timings"]["epoch_s"]["q1"],
                "step_q3_s": result["timings"]["epoch_s"]["q3"],
                "flops_per_step": bound["flops_per_step"],
                "parameters": bound["parameters"],
                "bound_s": bound["matmul_s"],
                "peak_rss_bytes": memory,
                "framework_version": result["framework_version"],
                "threads": result["threads"],
                "load_average": (result["environment"].get("load_average") or [np.nan])[0],
            }
        )
    table = pd.DataFrame(rows).sort_values(["width", "framework", "variant"], ignore_index=True)
    table["over_bound"] = table["step_s"] / table["bound_s"]
    table["gflops"] = table["flops_per_step"] / table["step_s"] / 1e9
    table["bound_gflops"] = table["flops_per_step"] / table["bound_s"] / 1e9
    reference = table[(table["framework"] == REFERENCE[0]) & (table["variant"] == REFERENCE[1])]
    table["ratio_to_numpy"] = table["step_s"] / table["width"].map(reference.set_index("width")["step_s"])
    return table


def crossovers(table: pd.DataFrame) -> pd.DataFrame:
    """Per run: the smallest width (and its FLOPs per step) from which every wider step is within 2x of the bound."""
    rows = []
    for run, group in table[table["status"] == "ok"].groupby("run", sort=True):
        group = group.sort_values("width")
        within = group["over_bound"].to_numpy() <= WITHIN
        # the first width after which the step stays within 2x: the widths from there on are all within
        first = next((i for i in range(len(group)) if within[i:].all()), None)
        rows.append(
            {
                "run": run,
                "within_from_width": None if first is None else int(group["width"].iloc[first]),
                "flops_per_step": None if first is None else int(group["flops_per_step"].iloc[first]),
                "over_bound_at_smallest": float(group["over_bound"].iloc[0]),
                "over_bound_at_largest": float(group["over_bound"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def remedy_table(table: pd.DataFrame) -> pd.DataFrame:
    """Each MLP remedy (its framework's REMEDIES) beside the run it remedies, at every width: timed in one process."""
    rows = []
    ok = table[table["status"] == "ok"].set_index(["width", "framework", "variant"])
    for framework in sorted(table["framework"].unique()):
        for remedy, (slow, _) in remedies_of(framework).items():
            for width in sorted(table["width"].unique()):
                if (width, framework, remedy) in ok.index and (width, framework, slow) in ok.index:
                    before, after = ok.loc[(width, framework, slow)], ok.loc[(width, framework, remedy)]
                    rows.append(
                        {
                            "width": width,
                            "slow run": f"{framework}/{slow}",
                            "remedy": f"{framework}/{remedy}",
                            "slow_step_s": before["step_s"],
                            "remedy_step_s": after["step_s"],
                            "speedup": before["step_s"] / after["step_s"],
                        }
                    )
    return pd.DataFrame(rows, columns=["width", "slow run", "remedy", "slow_step_s", "remedy_step_s", "speedup"])


def ms(value: float) -> str:
    return "" if pd.isna(value) else (f"{1e3 * value:.3g}" if value < 1 else f"{1e3 * value:.0f}")


def to_markdown(table: pd.DataFrame) -> str:
    """The page's three tables and what they say, from the table alone."""
    widths = sorted(table["width"].unique())
    smallest, largest = widths[0], widths[-1]
    n, layers = int(table["n"].iloc[0]), int(table["layers"].iloc[0])
    shown = table.pivot_table(index="run", columns="width", values="step_s", aggfunc="first")
    steps = pd.DataFrame({f"w = {w}": shown[w].map(ms) for w in widths})
    bound_row = table.groupby("width")["bound_s"].median()
    flops_row = table.groupby("width")["flops_per_step"].first()
    steps.loc["compute bound (numpy matmuls)"] = [ms(bound_row[w]) for w in widths]
    steps.loc["FLOPs per step"] = [f"{flops_row[w]:.3g}" for w in widths]
    cross = crossovers(table)
    cross_shown = pd.DataFrame(
        {
            "run": cross["run"],
            "within 2x of the bound from": [
                "at no width measured" if pd.isna(w) else f"width {w:.0f} ({f:.3g} FLOPs per step)"
                for w, f in zip(cross["within_from_width"], cross["flops_per_step"], strict=True)
            ],
            f"step / bound at width {smallest}": cross["over_bound_at_smallest"].map(lambda v: f"{v:.3g}"),
            f"step / bound at width {largest}": cross["over_bound_at_largest"].map(lambda v: f"{v:.3g}"),
        }
    )
    ratio = table.pivot_table(index="run", columns="width", values="ratio_to_numpy", aggfunc="first")
    ratios = pd.DataFrame(
        {
            "run": ratio.index,
            f"x numpy at width {smallest}": ratio[smallest].map(lambda v: f"{v:.3g}"),
            f"x numpy at width {largest}": ratio[largest].map(lambda v: f"{v:.3g}"),
        }
    )
    spread_small, spread_large = (
        ratio[smallest].max() / ratio[smallest].min(),
        ratio[largest].max() / ratio[largest].min(),
    )
    remedies = remedy_table(table)
    text = (
        f"# The model-size axis\n\nThe MLP, {layers} hidden layers of each width, n = {n}, full batch (one step per "
        "epoch), one thread per framework. ms per step: the median steady-state step over every repeat of every "
        "round. Compute bound: numpy's float32 matrix products of the step's shapes (forward, weights' and inputs' "
        "gradients), timed in the same process after its fits, on one OpenBLAS thread: a bound for the step on "
        "numpy's BLAS, which a framework with its own faster kernels can beat (a step / bound below 1). FLOPs per "
        "step from the shapes (2 per multiply-add of those products).\n\n## ms per step\n\n"
        + steps.to_markdown()
        + "\n\n## Where each run's step comes within 2x of the compute bound\n\n"
        + cross_shown.to_markdown(index=False)
        + "\n\n## Do the framework ratios at the smallest size survive at the largest?\n\n"
        + f"Each run's step over numpy's hand-written one at the same width. From slowest to fastest run: "
        f"{spread_small:.3g}x apart at width {smallest}, {spread_large:.3g}x at width {largest}.\n\n"
        + ratios.to_markdown(index=False)
        + "\n"
    )
    if not remedies.empty:
        remedies["pair"] = remedies["remedy"] + " (of " + remedies["slow run"].str.split("/").str[1] + ")"
        pivot = remedies.pivot_table(index="pair", columns="width", values="speedup", aggfunc="first")
        shown_remedies = pivot.map(lambda v: "" if pd.isna(v) else f"{v:.3g}x")
        shown_remedies.columns = [f"speed-up at w = {w}" for w in shown_remedies.columns]
        shown_remedies.index.name = "remedy (of the run)"
        text += (
            "\n## Does each remedy still pay?\n\nThe slow run's step over its remedy's, timed in the same "
            "process (their repeats interleaved), at each width:\n\n" + shown_remedies.to_markdown() + "\n"
        )
    return text


def plot_width(table: pd.DataFrame, results: list[dict], path) -> None:
    plots.save(draw_width(table, results), path)


def draw_width(table: pd.DataFrame, results: list[dict]):
    """Log-log: ms per step against FLOPs per step, one line per run, and the compute bound (dashed)."""
    styles = plots.run_styles(results)
    fig, ax = plots.plt.subplots(figsize=plots.FIGSIZE, dpi=plots.DPI, layout="constrained")
    ok = table[table["status"] == "ok"]
    for run, group in ok.groupby("run", sort=True):
        group = group.sort_values("flops_per_step")
        style = dict(styles.get((group["framework"].iloc[0], group["variant"].iloc[0]), {}))
        ax.plot(group["flops_per_step"], 1e3 * group["step_s"], marker="o", label=run, **style)
    bound = ok.groupby("flops_per_step")["bound_s"].median()
    ax.plot(bound.index, 1e3 * bound.to_numpy(), color="0.2", linestyle="--", linewidth=2, label="compute bound")
    ax.plot(bound.index, WITHIN * 1e3 * bound.to_numpy(), color="0.5", linestyle=":", label=f"{WITHIN:g}x the bound")
    widths = ok.groupby("flops_per_step")["width"].first()
    for flops, width in widths.items():
        ax.annotate(
            f"width {width}", (flops, 0.01), xycoords=("data", "axes fraction"), fontsize=7, ha="center", color="0.3"
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="FLOPs per step (from the shapes)",
        ylabel="ms per step (median)",
        title=f"The MLP's step against its size, n = {ok['n'].iloc[0]}, {ok['threads'].max()} thread(s)",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig
