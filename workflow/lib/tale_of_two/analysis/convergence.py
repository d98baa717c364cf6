"""Time to solution, as benchopt draws it: suboptimality of each run's loss against its training wall time.

From what every result already records: the loss after each epoch (`loss_history`) and each epoch's
wall time (`epoch_times_s`, first repeat; its first epoch holds any tracing or compiling). The optimum is
that loss's own: the OLS line's MSE for MSE runs, the LAD line's MAE for MAE runs, in float64. The MLP
(`mlp_*` runs) has no closed-form optimum: each is judged against the lowest loss any `mlp_*` run of the same
network (hidden widths, activation) recorded, which is its optimum only where those runs converged
(config/converged.yaml).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tale_of_two.analysis import plots
from tale_of_two.analysis.summary import OPTIMUM_OF_LOSS, line_errors
from tale_of_two.fit.workloads import workload_of

THRESHOLDS = (1e-2, 1e-4, 1e-6)


def optimum_loss(loss_name: str, metadata: dict, x: np.ndarray, y: np.ndarray) -> float:
    line = metadata[OPTIMUM_OF_LOSS[loss_name]]
    return line_errors(line["w"], line["b"], x, y)[loss_name]


def network(result: dict) -> tuple:
    """Which MLP a run trains: runs of the same network share a reference loss."""
    settings = result["settings"]
    return tuple(settings.get("hidden") or ()), settings.get("activation")


def best_mlp_losses(results: list[dict]) -> dict[tuple, float]:
    """{network: the lowest loss any mlp_* run of it recorded}: the MLP's reference, having no closed form."""
    best: dict[tuple, float] = {}
    for result in results:
        finite = [v for v in result["loss_history"] if v is not None and np.isfinite(v)]
        if workload_of(result["variant"]) == "mlp" and finite and result["status"] != "unsupported":
            best[network(result)] = min(best.get(network(result), np.inf), min(finite))
    return best


def reference_loss(result: dict, results: list[dict], metadata: dict, x: np.ndarray, y: np.ndarray) -> float:
    """The loss a run is judged against: its loss's optimum for the line, the best reached for the MLP."""
    if workload_of(result["variant"]) == "mlp":
        return best_mlp_losses(results)[network(result)]
    return optimum_loss(result["loss_name"], metadata, x, y)


def trajectory(
    result: dict, metadata: dict, x: np.ndarray, y: np.ndarray, optimum: float | None = None
) -> pd.DataFrame:
    """Per epoch: cumulative training wall time, loss, and relative suboptimality (loss - optimum) / optimum;
    the optimum of the run's loss unless given (the MLP's reference, `reference_loss`)."""
    losses = np.array([np.nan if v is None else v for v in result["loss_history"]], dtype=float)
    times = np.cumsum(result["timings"]["epoch_times_s"][0])[: len(losses)]
    if optimum is None:
        optimum = optimum_loss(result["loss_name"], metadata, x, y)
    return pd.DataFrame(
        {
            "epoch": np.arange(1, len(times) + 1),
            "time_s": times,
            "loss": losses[: len(times)],
            "relative_suboptimality": (losses[: len(times)] - optimum) / optimum,
        }
    )


def time_to_solution(results: list[dict], metadata: dict, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Per run and threshold: the first epoch at or below that relative suboptimality, and the time it took."""
    rows = []
    for result in results:
        if result["status"] == "unsupported" or not result["loss_history"]:
            continue
        path = trajectory(result, metadata, x, y, reference_loss(result, results, metadata, x, y))
        row = {
            "run": plots.label(result),
            "loss": result["loss_name"],
            "epochs": len(path),
            "total_s": float(path["time_s"].iloc[-1]),
            "best": float(path["relative_suboptimality"].min()),
        }
        for threshold in THRESHOLDS:
            reached = path[path["relative_suboptimality"] <= threshold]
            row[f"epoch@{threshold:g}"] = int(reached["epoch"].iloc[0]) if len(reached) else None
            row[f"s@{threshold:g}"] = float(reached["time_s"].iloc[0]) if len(reached) else None
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, epochs_note: str) -> str:
    shown = pd.DataFrame({"run": table["run"], "loss": table["loss"]})
    for threshold in THRESHOLDS:
        shown[f"to {threshold:g}"] = [
            "not reached" if pd.isna(epoch) else f"{seconds:.3g} s (epoch {epoch:.0f})"
            for epoch, seconds in zip(table[f"epoch@{threshold:g}"], table[f"s@{threshold:g}"], strict=True)
        ]
    shown["best reached"] = table["best"].map(lambda v: f"{v:.1e}")
    shown["epochs, total s"] = [f"{e}, {s:.3g}" for e, s in zip(table["epochs"], table["total_s"], strict=True)]
    return (
        "# Time to solution\n\n"
        "Training wall time each run needs to bring its loss within a relative suboptimality of "
        f"{', '.join(f'{t:g}' for t in THRESHOLDS)} of the optimum of that loss ((loss - optimum) / optimum; the "
        "OLS line's MSE for MSE runs, the LAD line's MAE for MAE runs, in float64; for the `mlp_*` runs, which "
        "have no closed-form optimum, the lowest loss any `mlp_*` run of the same network recorded here, their "
        "optimum only where they converged, as on config/converged.yaml: the run that recorded it reaches every "
        "threshold by definition). Time counts from the start of "
        "training, first epoch included (where tracing and compiling land), first repeat; the loss is the one the "
        f"run recorded after each epoch, in float32. {epochs_note}\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n"
    )


def plot_suboptimality(results: list[dict], metadata: dict, x: np.ndarray, y: np.ndarray, path) -> None:
    plots.save(draw_suboptimality(results, metadata, x, y), path)


def draw_suboptimality(results: list[dict], metadata: dict, x: np.ndarray, y: np.ndarray):
    """Log-log: loss minus its optimum against cumulative training time, one line per run, one panel per loss
    (MSE, MAE) as in losses.png, each with the thresholds of time_to_solution drawn from that loss's optimum."""
    styles = plots.run_styles(results)
    drawn = [r for r in results if r["status"] != "unsupported" and r["loss_history"]]
    line = [r for r in drawn if workload_of(r["variant"]) == "line"]
    kinds = [panel for panel in plots.LOSS_PANELS if any(r["loss_name"] == panel[0] for r in line)]
    # The MLP's runs, one panel per network, each against the best loss any run of it reached.
    best = best_mlp_losses(drawn)
    kinds += [("mse", None, f"MLP {list(net[0])}, {net[1]}", None, None, net) for net in best]
    kinds = kinds or plots.LOSS_PANELS[:1]
    fig, axes = plots.plt.subplots(
        1, len(kinds), figsize=plots.FIGSIZE, dpi=plots.DPI, layout="constrained", squeeze=False
    )
    for ax, (loss_name, optimum_name, title, *rest) in zip(axes[0], kinds, strict=True):
        net = rest[2] if len(rest) > 2 else None
        if net is None:
            optimum = optimum_loss(loss_name, metadata, x, y)
            panel = [r for r in line if r["loss_name"] == loss_name]
        else:
            optimum, optimum_name = best[net], "best reached"
            panel = [r for r in drawn if workload_of(r["variant"]) == "mlp" and network(r) == net]
        for result in panel:
            points = trajectory(result, metadata, x, y, optimum)
            gap = points["relative_suboptimality"] * optimum
            shown = gap > 0  # at or below the optimum (float32 rounding) has no place on a log axis
            style = styles[(result["framework"], result["variant"])]
            label = plots.label(result) + plots.init_marker(result)
            ax.plot(points["time_s"][shown], gap[shown], label=label, **style)
        reference = f"{optimum_name.upper()} {loss_name.upper()}"
        for threshold in THRESHOLDS:
            ax.axhline(threshold * optimum, color="0.3", linewidth=0.9, linestyle=":")
            ax.annotate(
                f"{threshold:g}",
                (1, threshold * optimum),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 2),
                textcoords="offset points",
                ha="right",
                fontsize=plots.LEGEND_FONTSIZE,
                color="0.3",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="cumulative training wall time, s (first repeat, compile included)",
            ylabel=f"{loss_name.upper()} - {reference}",
            title=f"{title}: {reference} = {optimum:.4g}",
        )
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=plots.LEGEND_FONTSIZE, loc="lower left")
    thresholds = ", ".join(f"{threshold:g}" for threshold in THRESHOLDS)
    fig.suptitle(f"Time to solution: each loss above its own optimum (dotted: {thresholds} x that optimum)")
    return fig
