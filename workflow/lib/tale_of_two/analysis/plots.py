"""The comparison figures: fitted lines over the data, loss curves, timings.

Colours follow the framework and line styles the variant, the same in every figure. Runs whose curves
agree to within drawing precision (`MERGE_PIXELS` on the laid-out panel) would hide each other: they are
drawn once, labelled with every run's name and the largest difference measured between them.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator, NullFormatter  # noqa: E402

from tale_of_two.analysis import summary  # noqa: E402

FIGSIZE = (11, 5.5)
DPI = 120
# Per figure: the loss figure holds two rows of panels, the timing figure one row per run.
FIGSIZES = {"fits": FIGSIZE, "losses": (11, 8.5), "timings": (11, 6.5)}
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1))]
REFERENCE_COLOR = "black"
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINEWIDTH = 1.8  # points: 3 pixels at DPI 120
# Drawing precision: curves closer than this many pixels on their panel, as laid out, are one line to the eye
# (half the width of a drawn line). They are drawn once, labelled with every name.
MERGE_PIXELS = 1.5
LEGEND_FONTSIZE = 8


def save(fig, path) -> None:
    """Write beside the target, then rename: an interrupted job leaves no half-drawn PNG."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(temporary)
        os.replace(temporary, path)
    finally:
        plt.close(fig)
        temporary.unlink(missing_ok=True)


def run_styles(results: list[dict]) -> dict[tuple[str, str], dict]:
    """Framework -> colour (tab10, in sorted order), variant -> line style: stable as runs are added."""
    frameworks = sorted({r["framework"] for r in results})
    variants = sorted({r["variant"] for r in results})
    palette = plt.get_cmap("tab10").colors
    return {
        (r["framework"], r["variant"]): {
            "color": palette[frameworks.index(r["framework"]) % len(palette)],
            "linestyle": LINESTYLES[variants.index(r["variant"]) % len(LINESTYLES)],
        }
        for r in results
    }


def label(result: dict) -> str:
    return f"{result['framework']}/{result['variant']}"


def subtitle(results: list[dict], metadata: dict) -> str:
    epochs = sorted({r["settings"]["epochs"] for r in results})
    devices = sorted({r["device_name"] if r["device"] == "cuda" else "cpu" for r in results})
    lrs = sorted({r["settings"]["lr"] for r in results})
    return (
        f"n = {metadata['n']}, epochs = {'/'.join(map(str, epochs))}, lr = {'/'.join(map(str, lrs))}, "
        f"device: {', '.join(devices)}"
    )


def init_marker(result: dict) -> str:
    """How a legend says where a run started: its framework's own initialiser, or the shared draw."""
    return " [own init]" if result["settings"]["init"] == "framework" else ""


def merge_identical(curves: dict[str, np.ndarray], tolerance: float) -> list[list[str]]:
    """Group curves (name -> values at the same points) that differ nowhere by more than `tolerance`.

    Every member of a group is within `tolerance` of every other member, so a group drawn as one line
    hides nothing larger than that. Curves of different lengths, or with NaNs in different places,
    are never grouped. Groups keep the order of `curves`.
    """
    groups: list[list[str]] = []
    for name, values in curves.items():
        for group in groups:
            if all(largest_difference(curves[other], values) <= tolerance for other in group):
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference between two curves; infinite if they cannot be compared point by point."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return np.inf
    finite = ~np.isnan(a)
    return float(np.max(np.abs(a[finite] - b[finite]), initial=0.0))


def group_difference(curves: dict[str, np.ndarray], group: list[str]) -> float:
    return max((largest_difference(curves[a], curves[b]) for a in group for b in group), default=0.0)


def pixel_height(ax) -> float:
    """How much of the y axis one pixel spans on `ax` as laid out now (in decades on a log axis)."""
    low, high = ax.get_ylim()
    if ax.get_yscale() == "log":
        low, high = np.log10(low), np.log10(high)
    return abs(high - low) / ax.get_window_extent().height


def draw_merged(fig, ax, x, curves: dict[str, np.ndarray], styles: dict, describe, markers=False) -> list[list[str]]:
    """Draw every curve on `ax`, lay the figure out, then keep one line per group of curves closer than
    MERGE_PIXELS there, labelled `describe(group, largest difference)`; return the groups.

    A log axis compares log10 values. The axis limits are frozen first, so removing duplicates moves
    nothing; later additions (a legend) only shrink the panel, so a merged group stays within tolerance.
    """
    lines = {name: ax.plot(x[: len(v)], v, linewidth=LINEWIDTH, **styles[name])[0] for name, v in curves.items()}
    fig.canvas.draw()
    ax.set_ylim(ax.get_ylim())
    compared = {n: np.log10(v) if ax.get_yscale() == "log" else v for n, v in curves.items()}
    groups = merge_identical(compared, MERGE_PIXELS * pixel_height(ax))
    for group in groups:
        lines[group[0]].set_label(describe(group, group_difference(compared, group)))
        for other in group[1:]:
            lines[other].remove()
    if markers:  # curves that meet for part of their length stay told apart by markers, placed in turn
        for index, group in enumerate(groups):
            line = lines[group[0]]
            step = max(len(line.get_xdata()) // 8, 1)
            line.set(marker=MARKERS[index % len(MARKERS)], markersize=5, markevery=(index * step // len(groups), step))
    return groups


def group_label(names: list[str], difference: float, unit: str) -> str:
    """One name, or every name of a merged line with how far apart its runs are at most."""
    if len(names) == 1:
        return names[0]
    lines = [", ".join(names[i : i + 3]) for i in range(0, len(names), 3)]
    return ",\n".join(lines) + f"\n(one line: they differ by at most {difference:.1e}{unit})"


def plot_fits(x: np.ndarray, y: np.ndarray, metadata: dict, results: list[dict], path) -> None:
    save(draw_fits(x, y, metadata, results), path)


def draw_fits(x: np.ndarray, y: np.ndarray, metadata: dict, results: list[dict]):
    """Left: the article's picture, data and every learned line. Right: each line minus the OLS line."""
    styles = run_styles(results)
    fig, (ax_data, ax_diff) = plt.subplots(1, 2, figsize=FIGSIZES["fits"], dpi=DPI, layout="constrained")
    grid = np.linspace(float(x.min()), float(x.max()), 200)
    ols_line = metadata["ols"]["w"] * grid + metadata["ols"]["b"]
    ax_data.scatter(x, y, s=10, color="0.6", alpha=0.6)
    references = [
        ("true", "true line", (0, (2, 2))),
        ("ols", "OLS (MSE optimum)", "-"),
        ("lad", "LAD (MAE optimum)", ":"),
    ]
    reference_curves = []
    for name, text, style in references:
        w, b = metadata[name]["w"], metadata[name]["b"]
        reference_curves.append(w * grid + b - ols_line)
        for axis, offset in ((ax_data, 0.0), (ax_diff, ols_line)):
            legend_text = text if axis is ax_diff else None  # the figure legend is built from ax_diff
            axis.plot(
                grid, w * grid + b - offset, color=REFERENCE_COLOR, linestyle=style, linewidth=1, label=legend_text
            )
    finished = {label(r): r for r in results if r["status"] == "ok"}
    styles_by_name = {name: styles[(r["framework"], r["variant"])] for name, r in finished.items()}

    def describe(group: list[str], difference: float) -> str:
        w, b = finished[group[0]]["fitted"]["w"], finished[group[0]]["fitted"]["b"]
        markers = "".join(sorted({init_marker(finished[n]) for n in group}))
        return group_label(group, difference, " in y") + f": w = {w:.4f}, b = {b:.4f}{markers}"

    # Merged on the right-hand panel, the finer one: lines that are one there are one on the left too.
    curves = {name: r["fitted"]["w"] * grid + r["fitted"]["b"] - ols_line for name, r in finished.items()}
    for group in draw_merged(fig, ax_diff, grid, curves, styles_by_name, describe):
        w, b = finished[group[0]]["fitted"]["w"], finished[group[0]]["fitted"]["b"]
        ax_data.plot(grid, w * grid + b, linewidth=LINEWIDTH, **styles_by_name[group[0]])
    for result in results:
        if result["status"] != "ok":
            ax_diff.plot(
                [], [], color="red", marker="x", linestyle="", label=f"{label(result)}: {result['status']}, not drawn"
            )
    ax_data.set(xlabel="x", ylabel="y", title="Learned lines over the data")
    ax_diff.set(xlabel="x", ylabel="prediction - OLS prediction (units of y)", title="Distance of each line from OLS")
    ax_diff.axhline(0, color="0.85", linewidth=0.5, zorder=0)
    handles, labels = ax_diff.get_legend_handles_labels()
    handles.insert(0, ax_data.collections[0])
    labels.insert(0, f"data (n = {metadata['n']})")
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=LEGEND_FONTSIZE)
    fig.suptitle(f"Fitted lines: {subtitle(results, metadata)}. [own init]: from the framework's own initialiser")
    return fig


LOSS_PANELS = [
    ("mse", "ols", "MSE runs", "MSE (units of y$^2$)", "OLS MSE (lowest MSE)"),
    ("mae", "lad", "MAE runs", "MAE (units of y)", "LAD MAE (lowest MAE)"),
]


def loss_history(result: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in result["loss_history"]], dtype=float)


def plot_losses(results: list[dict], metadata: dict, path) -> None:
    save(draw_losses(results, metadata), path)


def draw_losses(results: list[dict], metadata: dict):
    """One column per loss (MSE, MAE): the loss per epoch on a log axis above, each run's final loss on
    a linear axis below, where it can be read to three digits."""
    styles = run_styles(results)
    kinds = [panel for panel in LOSS_PANELS if any(r["loss_name"] == panel[0] for r in results)] or LOSS_PANELS[:1]
    fig, axes = plt.subplots(
        2,
        len(kinds),
        figsize=FIGSIZES["losses"],
        dpi=DPI,
        layout="constrained",
        height_ratios=[3, 2],
        squeeze=False,
    )
    for column, (loss_name, optimum, title, unit, reference_text) in enumerate(kinds):
        ax_curve, ax_final = axes[0, column], axes[1, column]
        runs = {label(r): r for r in results if r["loss_name"] == loss_name}
        best = metadata[optimum][loss_name]
        ax_curve.set_yscale("log")
        ax_curve.axhline(best, color=REFERENCE_COLOR, linewidth=0.8, linestyle=":", label=reference_text)

        def describe(group: list[str], difference: float, runs=runs) -> str:
            # The largest gap in decades, as a ratio of the two losses: 10**difference - 1.
            text = group_label(group, 10**difference - 1, " relative")
            text += "".join(sorted({init_marker(runs[n]) for n in group}))
            first = runs[group[0]]
            diverged = first["status"] == "diverged"
            return text + (f", diverged at epoch {first['diverged_at_epoch']}" if diverged else "")

        curves = {name: loss_history(r) for name, r in runs.items()}
        epochs = np.arange(1, max((len(c) for c in curves.values()), default=0) + 1)
        draw_merged(
            fig,
            ax_curve,
            epochs,
            curves,
            {n: styles[(r["framework"], r["variant"])] for n, r in runs.items()},
            describe,
            markers=True,
        )
        ax_curve.set(xlabel="epoch", ylabel=f"{unit}, log scale", title=f"{title}: loss per epoch")
        ax_curve.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_curve.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax_curve.yaxis.set_minor_formatter(FuncFormatter(minor_log_label))
        ax_curve.grid(True, which="both", alpha=0.3)
        ax_curve.legend(fontsize=LEGEND_FONTSIZE, loc="upper right")
        draw_final_losses(ax_final, list(runs.values()), styles, best, unit)
    fig.suptitle(f"Training loss: {subtitle(results, metadata)}. [own init]: from the framework's own initialiser")
    return fig


def draw_final_losses(ax, runs: list[dict], styles: dict, best: float, unit: str) -> None:
    """Each run's last loss as a point on a linear axis, value beside it, the optimum as a line."""
    finished = [r for r in runs if r["status"] == "ok"]
    positions = np.arange(len(runs))
    for position, result in zip(positions, runs, strict=True):
        color = styles[(result["framework"], result["variant"])]["color"]
        if result["status"] != "ok":
            ax.annotate(f"  {result['status']}", (best, position), va="center", fontsize=LEGEND_FONTSIZE, color="red")
            continue
        ax.plot([result["final_loss"]], [position], marker="o", color=color, linestyle="")
        ax.annotate(f"  {result['final_loss']:.4f}", (result["final_loss"], position), va="center", fontsize=8)
    ax.axvline(best, color=REFERENCE_COLOR, linewidth=0.8, linestyle=":")
    values = [r["final_loss"] for r in finished] + [best]
    low, high = min(values), max(values)
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
    ax.set_xlim(low - margin, high + 4 * margin)  # room for the values written right of the points
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    # Minor ticks one unit of the smallest value's second significant digit apart, where they are few enough
    # to see: with them a final loss reads to two significant digits off the axis alone.
    digit = 10.0 ** (np.floor(np.log10(low)) - 1) if low > 0 else None
    if digit is not None and (high + 4 * margin - low) / digit <= 60:
        ax.xaxis.set_minor_locator(MultipleLocator(digit))
    ax.set_yticks(positions, [label(r) + init_marker(r) for r in runs], fontsize=LEGEND_FONTSIZE)
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.set(xlabel=f"{unit}, linear scale; dotted: the optimum", title="Loss after the last epoch")
    ax.grid(True, axis="x", alpha=0.3)


def plot_timings(table: pd.DataFrame, results: list[dict], metadata: dict, path) -> None:
    save(draw_timings(table, results, metadata), path)


TIME_PARTS = [
    ("import_s", "framework import", "o"),
    ("setup_s", "model + optimizer setup", "s"),
    ("first_epoch_s", "first epoch (part of training; compiles, if the run compiles)", "^"),
    ("train_time_s", "training, every epoch of one repeat (median)", "D"),
]
# What one run costs, start to end: the first epoch is inside the training time.
TOTAL_PARTS = ["import_s", "setup_s", "train_time_s"]


def minor_log_label(value: float, _=None) -> str:
    """Label the 2x, 3x and 5x ticks of a decade: a log axis read to one digit without crowding."""
    mantissa = value / 10 ** np.floor(np.log10(value) + 1e-9)
    return f"{value:g}" if round(mantissa) in (2, 3, 5) and abs(mantissa - round(mantissa)) < 1e-6 else ""


def plain_log_axis(axis) -> None:
    """Decades written as plain numbers (0.01, 1, 100), no crowded minor labels."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def log_limits(lowest: np.ndarray, highest: np.ndarray) -> tuple[float, float]:
    """Log-axis limits around the positive values, with room right of the largest for its written value."""
    low, high = np.asarray(lowest, dtype=float), np.asarray(highest, dtype=float)
    low, high = low[np.isfinite(low) & (low > 0)], high[np.isfinite(high) & (high > 0)]
    if not low.size or not high.size:
        return 0.1, 10.0
    return float(low.min()) / 2, float(high.max()) * 8


def draw_timings(table: pd.DataFrame, results: list[dict], metadata: dict):
    """Left: steady-state time per epoch, median with its IQR, log axis. Right: a run's parts, log axis."""
    styles = run_styles(results)
    runs = summary.trained_rows(table).reset_index(drop=True)
    names = list(runs["framework"] + "/" + runs["variant"])
    colors = [styles[(f, v)]["color"] for f, v in zip(runs["framework"], runs["variant"], strict=True)]
    positions = np.arange(len(runs))
    fig, (ax_epoch, ax_parts) = plt.subplots(1, 2, figsize=FIGSIZES["timings"], dpi=DPI, layout="constrained")

    median_ms = 1e3 * runs["epoch_time_s"].to_numpy(float)
    q1_ms, q3_ms = 1e3 * runs["epoch_time_q1_s"].to_numpy(float), 1e3 * runs["epoch_time_q3_s"].to_numpy(float)
    for position, color, median, q1, q3 in zip(positions, colors, median_ms, q1_ms, q3_ms, strict=True):
        if not np.isfinite(median) or median <= 0:
            ax_epoch.annotate("not timed", (1.0, position), xycoords=("axes fraction", "data"), ha="right", fontsize=8)
            continue
        ax_epoch.errorbar(
            [median], [position], xerr=[[median - q1], [q3 - median]], fmt="o", color=color, capsize=3, markersize=5
        )
        ax_epoch.annotate(f"  {median:.3g} ms", (q3, position), va="center", fontsize=8)
    ax_epoch.set_xscale("log")
    plain_log_axis(ax_epoch.xaxis)
    ax_epoch.set_xlim(*log_limits(q1_ms, q3_ms))
    ax_epoch.set_yticks(positions, names)
    ax_epoch.set_ylim(len(runs) - 0.5, -0.5)
    ax_epoch.set(xlabel="ms per epoch, log scale", title="Steady-state epoch: median, bars: IQR over repeats")
    ax_epoch.grid(True, axis="x", which="both", alpha=0.3)

    for column, text, marker in TIME_PARTS:
        values = runs[column].to_numpy(float)
        shown = np.where(values > 0, values, np.nan)  # a log axis has no zero: a part that took no time is left out
        ax_parts.plot(shown, positions, marker=marker, linestyle="", color="0.25", markerfacecolor="none", label=text)
    total = runs[TOTAL_PARTS].sum(axis=1).to_numpy(float)
    for position, color, value in zip(positions, colors, total, strict=True):
        ax_parts.plot([value], [position], marker="|", markersize=14, color=color, linestyle="")
        ax_parts.annotate(f"  {value:.3g} s", (value, position), va="center", fontsize=8)
    ax_parts.plot([], [], marker="|", markersize=10, color="0.25", linestyle="", label="import + setup + training")
    ax_parts.set_xscale("log")
    plain_log_axis(ax_parts.xaxis)
    ax_parts.set_xlim(*log_limits(runs[[column for column, _, _ in TIME_PARTS]].to_numpy(float), total))
    ax_parts.set_yticks(positions, names)
    ax_parts.set_ylim(len(runs) - 0.5, -0.5)
    ax_parts.set(xlabel="seconds, log scale", title="Where one run's time goes")
    ax_parts.grid(True, axis="x", which="both", alpha=0.3)
    fig.legend(*ax_parts.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=LEGEND_FONTSIZE)
    fig.suptitle(f"Timings: {subtitle(results, metadata)}")
    return fig


PLOTS = {"fits", "losses", "timings"}


# A run's peak resident memory, stage by stage: each segment is what that stage added to the process's peak.
MEMORY_STAGES = [
    ("peak_rss_before_import_bytes", "interpreter, numpy, dataset"),
    ("peak_rss_after_import_bytes", "framework import"),
    ("peak_rss_after_setup_bytes", "model + optimizer setup"),
    ("peak_rss_after_training_bytes", "training (every repeat)"),
]


def plot_memory(table: pd.DataFrame, results: list[dict], metadata: dict, path) -> None:
    save(draw_memory(table, results, metadata), path)


def draw_memory(table: pd.DataFrame, results: list[dict], metadata: dict):
    """Each run's peak resident memory as stacked bars, one segment per stage, with its growth per epoch."""
    runs = summary.trained_rows(table).reset_index(drop=True)
    names = list(runs["framework"] + "/" + runs["variant"])
    positions = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=FIGSIZES["timings"], dpi=DPI, layout="constrained")
    peaks = np.column_stack([runs[column].to_numpy(float) for column, _ in MEMORY_STAGES]) / 1e6
    # The peak only grows; a stage that added nothing (or less than the counters' rounding) draws no segment.
    added = np.diff(np.column_stack([np.zeros(len(runs)), np.fmax.accumulate(peaks, axis=1)]), axis=1)
    left = np.zeros(len(runs))
    for (_, text), color, widths in zip(MEMORY_STAGES, ("0.8", "C0", "C1", "C3"), added.T, strict=True):
        ax.barh(positions, np.nan_to_num(widths), left=left, color=color, label=text, height=0.7)
        left += np.nan_to_num(widths)
    growth = runs["rss_growth_bytes_per_epoch"].to_numpy(float) / 1e3
    for position, total, kb in zip(positions, peaks[:, -1], growth, strict=True):
        if np.isfinite(total):
            grew = "" if not np.isfinite(kb) else f", {kb:+.1f} KB/epoch"
            ax.annotate(f"  {total:.0f} MB{grew}", (total, position), va="center", fontsize=8)
    ax.set_yticks(positions, names)
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.set_xlim(0, 1.3 * np.nanmax(peaks) if np.isfinite(peaks).any() else 1)
    ax.set(
        xlabel="peak resident memory of the run's process, MB",
        title="What each run holds: its peak, stage by stage, and its growth per steady epoch",
    )
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=4, fontsize=LEGEND_FONTSIZE)
    fig.suptitle(f"Memory: {subtitle(results, metadata)}")
    return fig
