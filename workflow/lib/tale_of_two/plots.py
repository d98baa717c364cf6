"""The comparison figures: fitted lines over the data, loss curves, timings.

Colours follow the framework and line styles the variant, the same in every figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

FIGSIZE = (11, 5.5)
DPI = 120
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1))]
REFERENCE_COLOR = "black"


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


def plot_fits(x: np.ndarray, y: np.ndarray, metadata: dict, results: list[dict], path) -> None:
    """Left: the article's picture, data and every learned line. Right: each line minus the OLS line."""
    styles = run_styles(results)
    fig, (ax_data, ax_diff) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, constrained_layout=True)
    grid = np.linspace(float(x.min()), float(x.max()), 200)
    ols_line = metadata["ols"]["w"] * grid + metadata["ols"]["b"]
    ax_data.scatter(x, y, s=10, color="0.6", alpha=0.6)
    references = [
        ("true", "true line", (0, (2, 2))),
        ("ols", "OLS (MSE optimum)", "-"),
        ("lad", "LAD (MAE optimum)", ":"),
    ]
    for name, text, style in references:
        w, b = metadata[name]["w"], metadata[name]["b"]
        for axis, offset in ((ax_data, 0.0), (ax_diff, ols_line)):
            legend_text = text if axis is ax_diff else None  # the figure legend is built from ax_diff
            axis.plot(
                grid, w * grid + b - offset, color=REFERENCE_COLOR, linestyle=style, linewidth=1, label=legend_text
            )
    for result in results:
        if result["status"] != "ok":
            ax_diff.plot([], [], color="red", marker="x", linestyle="", label=f"{label(result)}: diverged, not drawn")
            continue
        w, b = result["fitted"]["w"], result["fitted"]["b"]
        text = f"{label(result)}: w = {w:.4f}, b = {b:.4f}"
        ax_data.plot(grid, w * grid + b, linewidth=1.8, **styles[(result["framework"], result["variant"])])
        ax_diff.plot(
            grid, w * grid + b - ols_line, linewidth=1.8, label=text, **styles[(result["framework"], result["variant"])]
        )
    ax_data.set(xlabel="x", ylabel="y", title="Learned lines over the data")
    ax_diff.set(xlabel="x", ylabel="prediction - OLS prediction (units of y)", title="Distance of each line from OLS")
    ax_diff.axhline(0, color="0.85", linewidth=0.5, zorder=0)
    handles, labels = ax_diff.get_legend_handles_labels()
    handles.insert(0, ax_data.collections[0])
    labels.insert(0, f"data (n = {metadata['n']})")
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"Fitted lines: {subtitle(results, metadata)}")
    save(fig, path)


def plot_losses(results: list[dict], metadata: dict, path) -> None:
    """Every run's loss per epoch on one log axis, with the best loss each kind of run can reach."""
    styles = run_styles(results)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, constrained_layout=True)
    for result in results:
        history = np.array([np.nan if v is None else v for v in result["loss_history"]], dtype=float)
        text = f"{label(result)} ({result['loss_name'].upper()})"
        if result["status"] != "ok":
            text += f", diverged at epoch {result['diverged_at_epoch']}"
        ax.plot(
            np.arange(1, len(history) + 1),
            history,
            label=text,
            linewidth=1.6,
            **styles[(result["framework"], result["variant"])],
        )
    ax.axhline(
        metadata["ols"]["mse"], color=REFERENCE_COLOR, linewidth=0.8, linestyle="-", label="OLS MSE (lowest MSE)"
    )
    ax.axhline(
        metadata["lad"]["mae"], color=REFERENCE_COLOR, linewidth=0.8, linestyle=":", label="LAD MAE (lowest MAE)"
    )
    ax.set_yscale("log")
    ax.set(
        xlabel="epoch",
        ylabel="training loss (MSE or MAE, units of y$^2$ or y)",
        title=f"Loss per epoch: {subtitle(results, metadata)}",
    )
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, path)


def plot_timings(table: pd.DataFrame, results: list[dict], metadata: dict, path) -> None:
    """Left: steady-state time per epoch (median, IQR whiskers). Right: where a run's wall time goes."""
    styles = run_styles(results)
    runs = table[table["framework"] != "reference"].reset_index(drop=True)
    names = runs["framework"] + "/" + runs["variant"]
    colors = [styles[(f, v)]["color"] for f, v in zip(runs["framework"], runs["variant"], strict=True)]
    positions = np.arange(len(runs))
    fig, (ax_epoch, ax_total) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, constrained_layout=True)

    median_ms = 1e3 * runs["epoch_time_s"].to_numpy(float)
    whiskers = 1e3 * np.vstack(
        [runs["epoch_time_s"] - runs["epoch_time_q1_s"], runs["epoch_time_q3_s"] - runs["epoch_time_s"]]
    ).astype(float)
    ax_epoch.barh(positions, median_ms, xerr=whiskers, color=colors, capsize=3)
    for position, value, upper in zip(positions, median_ms, median_ms + whiskers[1], strict=True):
        ax_epoch.annotate(f"  {value:.3f} ms", (upper, position), va="center", fontsize=8)
    ax_epoch.set_xscale("log")
    ax_epoch.set_xlim(right=ax_epoch.get_xlim()[1] * 4)  # room for the labels
    ax_epoch.set(
        yticks=positions,
        yticklabels=names,
        xlabel="time per epoch, ms (log scale; median of repeats after warm-up, whiskers: IQR)",
        title="Steady-state epoch time",
    )
    ax_epoch.invert_yaxis()

    left = np.zeros(len(runs))
    swatches = []
    parts = [
        ("import_s", "framework import", "//"),
        ("setup_s", "model + optimizer setup", ".."),
        ("train_time_s", "training (median)", ""),
    ]
    for column, text, hatch in parts:
        values = runs[column].to_numpy(float)
        ax_total.barh(
            positions, values, left=left, color=colors, hatch=hatch, alpha=0.8, edgecolor="black", linewidth=0.5
        )
        swatches.append(Patch(facecolor="white", hatch=hatch, edgecolor="black", label=text))
        left += values
    ax_total.set(
        yticks=positions, yticklabels=names, xlabel="seconds", title="Wall time of one run: import, setup, training"
    )
    ax_total.invert_yaxis()
    ax_total.legend(handles=swatches, fontsize=8, loc="upper right")
    fig.suptitle(f"Timings: {subtitle(results, metadata)}")
    save(fig, path)


PLOTS = {"fits", "losses", "timings"}
