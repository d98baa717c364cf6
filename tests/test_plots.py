"""Rule `plot`: each figure is a real PNG a person can read: every run named, identical runs merged into
one labelled line, MSE and MAE apart, epoch times as points with their IQR, no text cut off."""

import re

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import make_result
from matplotlib.patches import Rectangle

from tale_of_two.analysis import plots, summary

IDENTICAL = ["torch/scratch", "tensorflow/scratch", "numpy/scratch"]
IDENTICAL_FIT = ["keras_torch/fit", "keras_jax/fit"]


def with_history(result: dict, history: list[float]) -> dict:
    result["loss_history"], result["final_loss"] = history, history[-1]
    return result


@pytest.fixture
def results(metadata):
    """Three identical scratch runs and one a hair apart, two identical Keras fits, runs that differ, one
    that diverged."""
    sha = metadata["sha256"]
    scratch = [make_result(*run.split("/"), 0.1, 0.2, sha) for run in IDENTICAL]
    # Apart by far less than a pixel, in line and loss: drawn as one line with the others, not hidden.
    close = with_history(make_result("jax", "scratch", 0.1 + 1e-7, 0.2, sha), [1.0, 0.5, 0.3334, 0.25])
    apart = with_history(make_result("jax", "layers", 0.09, 0.31, sha, epochs=8), [3.0, 1.5, 0.6, 0.3] + [0.05] * 4)
    fits = [
        with_history(make_result(*run.split("/"), 0.1, 0.28, sha, loss_name="mae"), [0.9, 0.5, 0.3, 0.1237])
        for run in IDENTICAL_FIT
    ]
    own_start = with_history(
        make_result("tensorflow", "fit", 0.1, 0.27, sha, loss_name="mae"), [0.8, 0.45, 0.28, 0.1219]
    )
    own_start["settings"]["init"] = "framework"
    layers = with_history(
        make_result("torch", "layers", 0.11, 0.29, sha, epochs=8), [2.0, 1, 0.5, 0.2, 0.1] + [0.03] * 3
    )
    return [
        *scratch,
        close,
        layers,
        apart,
        *fits,
        own_start,
        make_result("tensorflow", "layers", 0.0, 0.0, sha, status="diverged"),
    ]


def draw(name, results, metadata, arrays):
    if name == "fits":
        return plots.draw_fits(arrays["x"], arrays["y"], metadata, results)
    if name == "losses":
        return plots.draw_losses(results, metadata)
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
    return plots.draw_timings(table, results, metadata)


@pytest.fixture(params=sorted(plots.PLOTS))
def figure(request, results, metadata, arrays):
    fig = draw(request.param, results, metadata, arrays)
    fig.canvas.draw()  # lays the figure out, as saving does
    yield request.param, fig
    plt.close(fig)


def legend_texts(fig, axes=None) -> list[str]:
    legends = fig.legends if axes is None else [ax.get_legend() for ax in axes]
    return [text.get_text() for legend in legends if legend for text in legend.get_texts()]


def curve_axes(fig):
    """The panels that draw one line per run (or per merged group): where runs can hide each other."""
    return [ax for ax in fig.axes if ax.get_title().endswith("loss per epoch") or "from OLS" in ax.get_title()]


def test_plot_writes_a_png_of_the_expected_size(figure, results, metadata, arrays, tmp_path):
    name, _ = figure
    path = tmp_path / f"{name}.png"
    getattr(plots, f"plot_{name}")(
        *(
            (arrays["x"], arrays["y"], metadata, results)
            if name == "fits"
            else (results, metadata)
            if name == "losses"
            else (summary.summarize(results, metadata, arrays["x"], arrays["y"]), results, metadata)
        ),
        path,
    )
    width, height = plots.FIGSIZES[name]
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (round(height * plots.DPI), round(width * plots.DPI))
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert not list(tmp_path.glob(".*.tmp.png"))


def test_every_run_is_named_where_a_reader_looks(figure, results):
    """Fits and losses: in a legend entry of its own or in a merged line's label. Timings: one row per run."""
    name, fig = figure
    if name == "timings":
        for ax in fig.axes:
            assert [t.get_text() for t in ax.get_yticklabels()] == [plots.label(r) for r in results]
        return
    texts = legend_texts(fig) if name == "fits" else legend_texts(fig, curve_axes(fig))
    for result in results:
        assert any(plots.label(result) in text for text in texts), (plots.label(result), texts)


@pytest.mark.parametrize("name", ["fits", "losses"])
def test_identical_runs_share_one_labelled_line_and_different_runs_do_not(name, results, metadata, arrays):
    fig = draw(name, results, metadata, arrays)
    texts = legend_texts(fig) if name == "fits" else legend_texts(fig, curve_axes(fig))
    merged_groups = [(IDENTICAL + ["jax/scratch"], 1e-7 * 10), (IDENTICAL_FIT, 0.0)]  # |dw| * |x| <= 1e-7 * 10
    if name == "losses":
        merged_groups = [(IDENTICAL + ["jax/scratch"], 0.3334 * 3 - 1), (IDENTICAL_FIT, 0.0)]  # 0.3334 vs 1/3
    for group, difference in merged_groups:
        merged = [text for text in texts if group[0] in text]
        assert len(merged) == 1 and all(run in merged[0] for run in group), merged
        stated = float(re.search(r"differ by at most (\S+)", merged[0]).group(1))
        assert stated == pytest.approx(difference, rel=0.05, abs=1e-9), merged[0]
    for one, other in [("torch/layers", "jax/layers"), ("tensorflow/fit", "keras_torch/fit")]:
        assert not [text for text in texts if one in text and other in text]
    # tensorflow/fit starts elsewhere: its own line, marked as starting from its own initialiser.
    (own,) = [text for text in texts if "tensorflow/fit" in text]
    assert "keras" not in own and "[own init]" in own
    drawn = [line for ax in curve_axes(fig) for line in ax.get_lines() if not line.get_label().startswith("_")]
    labels = [line.get_label() for line in drawn]
    assert len(labels) == len(set(labels))
    plt.close(fig)


def test_no_text_leaves_the_figure(figure):
    """Everything drawn (titles, labels, legends, values written beside points) lies inside the canvas."""
    name, fig = figure
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, what saving with bbox_inches="tight" keeps
    width, height = fig.get_size_inches()
    tolerance = 1 / plots.DPI  # one pixel
    assert drawn.x0 >= -tolerance and drawn.y0 >= -tolerance, (name, drawn)
    assert drawn.x1 <= width + tolerance and drawn.y1 <= height + tolerance, (name, drawn, (width, height))


def test_merged_runs_differ_by_less_than_the_merge_distance_in_pixels(results, metadata, arrays):
    """What a merged label states, measured on the figure as saved: under MERGE_PIXELS of its panel."""
    for name in ("fits", "losses"):
        fig = draw(name, results, metadata, arrays)
        fig.canvas.draw()
        for ax in curve_axes(fig):
            for line in ax.get_lines():
                found = re.search(r"differ by at most (\S+) (in y|relative)", line.get_label())
                if found:
                    stated = float(found.group(1))
                    distance = stated if found.group(2) == "in y" else np.log10(1 + stated)
                    assert distance / plots.pixel_height(ax) < plots.MERGE_PIXELS, line.get_label()
        plt.close(fig)


def test_mse_and_mae_have_separate_panels_and_every_final_loss_is_written(results, metadata):
    fig = plots.draw_losses(results, metadata)
    mse, mae = curve_axes(fig)
    assert "MSE" in mse.get_title() and "MAE" in mae.get_title()
    assert not any("fit" in text for text in legend_texts(fig, [mse]))
    assert not any("scratch" in text for text in legend_texts(fig, [mae]))
    finals = [ax for ax in fig.axes if ax.get_title() == "Loss after the last epoch"]
    written = " ".join(text.get_text() for ax in finals for text in ax.texts)
    for result in results:
        assert (f"{result['final_loss']:.4f}" if result["status"] == "ok" else "diverged") in written
    plt.close(fig)


def test_final_losses_of_the_default_run_read_to_two_digits_off_the_axis(metadata):
    """Final losses spread as in the default run (MSE 0.0225 to 0.0390, MAE 0.1219 to 0.1237): a linear axis
    where one unit of the second significant digit spans 10 pixels or more, each marked by a minor tick."""
    sha = metadata["sha256"]
    finals = [("torch/scratch", "mse", 0.0390), ("torch/layers", "mse", 0.0225), ("tensorflow/layers", "mse", 0.0226)]
    finals += [("tensorflow/fit", "mae", 0.1219), ("keras_jax/fit", "mae", 0.1237)]
    results = [
        with_history(make_result(*run.split("/"), 0.1, 0.3, sha, loss_name=loss), [1.0, 0.5, final])
        for run, loss, final in finals
    ]
    fig = plots.draw_losses(results, metadata)
    fig.canvas.draw()
    for ax in [ax for ax in fig.axes if ax.get_title() == "Loss after the last epoch"]:
        assert ax.get_xscale() == "linear"
        values = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
        low, high = ax.get_xlim()
        assert len([t for t in ax.xaxis.get_majorticklocs() if low <= t <= high]) >= 3
        digit = 10.0 ** (np.floor(np.log10(min(values))) - 1)
        assert digit * ax.get_window_extent().width / (high - low) >= 10
        ticks = np.union1d(ax.xaxis.get_minorticklocs(), ax.xaxis.get_majorticklocs())
        steps = np.diff(ticks[(ticks >= low) & (ticks <= high)])
        assert steps.size and steps.max() <= digit * 1.001  # a tick, labelled or minor, at each such unit
    plt.close(fig)


def test_epoch_times_are_points_with_iqr_on_a_log_axis(results, metadata, arrays):
    table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
    fig = plots.draw_timings(table, results, metadata)
    ax_epoch, ax_parts = fig.axes
    assert ax_epoch.get_xscale() == "log" and ax_parts.get_xscale() == "log"
    assert not [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]  # no bars
    assert len(ax_epoch.containers) == len(results)  # one errorbar per run
    bars = ax_epoch.containers[0].lines[2][0].get_segments()[0]  # the IQR of the first run, in ms
    assert bars[:, 0] == pytest.approx([0.9, 1.1])
    plt.close(fig)


def test_merge_identical_groups_only_curves_within_the_tolerance():
    base = np.array([1.0, 2.0, 3.0])
    curves = {
        "a": base,
        "b": base + 0.5,  # within 1 of a
        "c": base + 1.2,  # within 1 of b, not of a: a group drawn as one line must hide at most 1
        "d": base[:2],  # another length
        "e": np.array([1.0, np.nan, 3.0]),  # NaN where a has none
        "f": base.copy(),
    }
    assert plots.merge_identical(curves, tolerance=1.0) == [["a", "b", "f"], ["c"], ["d"], ["e"]]
    assert plots.group_difference(curves, ["a", "b", "f"]) == 0.5


def test_styles_colour_by_framework_and_dash_by_variant(results):
    styles = plots.run_styles(results)
    assert styles[("torch", "scratch")]["color"] == styles[("torch", "layers")]["color"]
    assert styles[("torch", "scratch")]["color"] != styles[("tensorflow", "scratch")]["color"]
    assert styles[("torch", "scratch")]["linestyle"] == styles[("tensorflow", "scratch")]["linestyle"]
    assert styles[("torch", "scratch")]["linestyle"] != styles[("torch", "layers")]["linestyle"]
