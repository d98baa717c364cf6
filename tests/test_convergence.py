"""Time to solution: suboptimality of the recorded losses against cumulative epoch time."""

import matplotlib.image
import pytest
from conftest import make_result

from tale_of_two.analysis import convergence


@pytest.fixture
def optimum(metadata, arrays):
    return convergence.optimum_loss("mse", metadata, arrays["x"], arrays["y"])


def with_history(optimum, relative_gaps, epoch_s=0.5):
    result = make_result("torch", "scratch", 0.1, 0.3, "a" * 64, epochs=len(relative_gaps))
    result["loss_history"] = [optimum * (1 + gap) for gap in relative_gaps]
    result["timings"]["epoch_times_s"] = [[epoch_s] * len(relative_gaps), [9.0] * len(relative_gaps)]
    return result


def test_the_first_epoch_under_each_threshold_and_its_time(optimum, metadata, arrays):
    result = with_history(optimum, [1.0, 5e-3, 5e-5, 2e-5])
    (row,) = convergence.time_to_solution([result], metadata, arrays["x"], arrays["y"]).to_dict("records")
    assert (row["epoch@0.01"], row["s@0.01"]) == (2, pytest.approx(1.0))  # first repeat's epochs: 0.5 s each
    assert (row["epoch@0.0001"], row["s@0.0001"]) == (3, pytest.approx(1.5))
    assert row["epoch@1e-06"] is None
    assert row["best"] == pytest.approx(2e-5, rel=1e-6)


def test_not_reached_is_written_out(optimum, metadata, arrays):
    table = convergence.time_to_solution([with_history(optimum, [1.0, 0.5])], metadata, arrays["x"], arrays["y"])
    text = convergence.to_markdown(table, "note")
    assert text.count("not reached") == 3 and "| torch/scratch" in text


def test_the_optimum_is_that_loss_s_own(metadata, arrays):
    mse, mae = (convergence.optimum_loss(name, metadata, arrays["x"], arrays["y"]) for name in ("mse", "mae"))
    assert mse < mae  # the OLS MSE and the LAD MAE: different optima of different losses
    residual = arrays["y"].astype(float) - (metadata["lad"]["w"] * arrays["x"].astype(float) + metadata["lad"]["b"])
    assert mae == pytest.approx(abs(residual).mean())


def test_suboptimality_plot_is_a_png(optimum, metadata, arrays, tmp_path):
    path = tmp_path / "suboptimality.png"
    convergence.plot_suboptimality([with_history(optimum, [1.0, 1e-3, 0.0])], metadata, arrays["x"], arrays["y"], path)
    assert matplotlib.image.imread(path).shape[:2] == (660, 1320)


def test_each_loss_s_thresholds_are_drawn_from_its_own_optimum(optimum, metadata, arrays, tmp_path, monkeypatch):
    """suboptimality.png: every panel's dotted lines are 1e-2, 1e-4, 1e-6 times the optimum of the loss of the
    runs drawn on it (the LAD MAE for MAE runs, not the OLS MSE: 0.11 against 0.018 on these data)."""
    figures = []
    monkeypatch.setattr(convergence.plots, "save", lambda fig, path: figures.append(fig))
    mae_optimum = convergence.optimum_loss("mae", metadata, arrays["x"], arrays["y"])
    mse_run = with_history(optimum, [1.0, 1e-3, 1e-5])
    mae_run = with_history(mae_optimum, [1.0, 1e-3, 1e-5])
    mae_run.update(framework="tensorflow", variant="fit", loss_name="mae")
    convergence.plot_suboptimality([mse_run, mae_run], metadata, arrays["x"], arrays["y"], tmp_path / "s.png")
    optima = {"torch/scratch": optimum, "tensorflow/fit": mae_optimum}
    panels = 0
    for ax in figures[0].axes:
        runs = {name for line in ax.get_lines() for name in optima if line.get_label().startswith(name)}
        if not runs:
            continue
        panels += 1
        dotted = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
        assert len(runs) == 1, f"runs of different losses share a panel: {runs}"
        (run,) = runs
        expected = sorted(threshold * optima[run] for threshold in convergence.THRESHOLDS)
        assert dotted == pytest.approx(expected, rel=1e-12)
    assert panels == 2
