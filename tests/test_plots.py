"""Rule `plot`: each figure is a real PNG of the expected size, diverged runs included."""

import matplotlib.image
import pytest
from conftest import make_result

from tale_of_two import plots, summary

EXPECTED_SIZE = (round(plots.FIGSIZE[1] * plots.DPI), round(plots.FIGSIZE[0] * plots.DPI))  # rows, columns


@pytest.fixture
def results(metadata):
    sha = metadata["sha256"]
    return [
        make_result("torch", "scratch", 0.1, 0.2, sha),
        make_result("torch", "layers", 0.11, 0.29, sha, epochs=8),
        make_result("tensorflow", "fit", 0.1, 0.28, sha, loss_name="mae"),
        make_result("tensorflow", "scratch", 0.0, 0.0, sha, status="diverged"),
    ]


@pytest.mark.parametrize("name", sorted(plots.PLOTS))
def test_plot_writes_a_png_of_the_expected_size(name, results, metadata, arrays, tmp_path):
    path = tmp_path / f"{name}.png"
    if name == "fits":
        plots.plot_fits(arrays["x"], arrays["y"], metadata, results, path)
    elif name == "losses":
        plots.plot_losses(results, metadata, path)
    else:
        table = summary.summarize(results, metadata, arrays["x"], arrays["y"])
        plots.plot_timings(table, results, metadata, path)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == EXPECTED_SIZE
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_styles_colour_by_framework_and_dash_by_variant(results):
    styles = plots.run_styles(results)
    assert styles[("torch", "scratch")]["color"] == styles[("torch", "layers")]["color"]
    assert styles[("torch", "scratch")]["color"] != styles[("tensorflow", "scratch")]["color"]
    assert styles[("torch", "scratch")]["linestyle"] == styles[("tensorflow", "scratch")]["linestyle"]
    assert styles[("torch", "scratch")]["linestyle"] != styles[("torch", "layers")]["linestyle"]
