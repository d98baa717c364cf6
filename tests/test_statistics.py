"""The published dataset, pinned; the spread statistics, on samples where each differs from its neighbours.

A median tested on a symmetric sample equals the mean; a maximum tested on equal values equals the average:
such tests pass with the wrong statistic. Every sample here is skewed so that a swapped statistic (mean for
median, mean for maximum, sample for population deviation, warm-up kept) gives another number.
"""

import numpy as np
import pytest
from conftest import make_result

from tale_of_two.analysis import bench, summary, then_vs_now
from tale_of_two.fit import data
from tale_of_two.fit.harness import spread

# results/data/dataset.json's sha256 after a default run (config/config.yaml's dataset: 200 points, seed 42).
# A change of recipe, of seed handling or of numpy's generator changes it: say so where the data is published.
DEFAULT_DATASET_SHA256 = "638ce8fca771f6482aa130b8d1afc3ee5313053c227603fc737e26af5efda198"


def test_the_default_dataset_is_the_published_one():
    assert data.arrays_sha256(data.generate(data.DatasetSpec())) == DEFAULT_DATASET_SHA256


def test_the_default_dataset_spec_is_the_config_s(tmp_path):
    import yaml
    from conftest import ROOT

    from tale_of_two.config import resolve_dataset

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    assert data.DatasetSpec(**resolve_dataset(config)) == data.DatasetSpec()


def test_spread_is_median_quartiles_and_extremes_of_a_skewed_sample():
    values = [4.0, 1.0, 100.0, 2.0, 3.0]  # mean 22, median 3; unsorted, so min and max are not the ends
    assert spread(values) == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 100.0, "count": 5}
    # Quartiles between points are interpolated linearly (numpy's default): 6 points, q1 at 1.25, q3 at 3.75.
    assert spread([1.0, 2.0, 4.0, 8.0, 16.0, 1000.0]) | {"median": None} == {
        "median": None,
        "q1": 2.5,
        "q3": 14.0,
        "min": 1.0,
        "max": 1000.0,
        "count": 6,
    }
    assert spread([1.0, 2.0, 4.0, 8.0, 16.0, 1000.0])["median"] == 6.0  # (4 + 8) / 2, not the mean 171.8


def test_cv_between_repeats_is_population_std_of_repeat_medians_after_warmup_over_their_mean():
    # Warm-up epoch 0 is left out. Repeat medians: 2 (mean 4) and 4 (mean 9): CV = std([2, 4]) / 3 = 1 / 3.
    timings = {"warmup_epochs": 1, "epoch_times_s": [[9.0, 1.0, 2.0, 9.0], [9.0, 3.0, 4.0, 20.0]]}
    assert summary.cv_between_repeats(timings) == pytest.approx(1 / 3, rel=1e-12)
    # What the swaps would give: means 0.385, warm-up kept 0.0833, sample std 0.471.
    assert summary.cv_between_repeats({**timings, "warmup_epochs": 0}) == pytest.approx(0.5 / 6, rel=1e-12)


def test_equivalence_maxima_are_maxima_over_epochs_each_at_its_own_epoch():
    sha = "0" * 64
    first, second = make_result("torch", "scratch", 0.1, 0.3, sha), make_result("jax", "scratch", 0.125, 0.25, sha)
    first["loss_history"], second["loss_history"] = [10.0, 1.0, 0.5], [10.5, 1.2, 0.4]
    row = summary.equivalence([first, second]).iloc[0]
    # |differences| 0.5, 0.2, 0.1 (mean 0.27): the largest is at epoch 0; relative 0.048, 0.167, 0.25: at epoch 2.
    assert row["max_abs_loss_diff"] == pytest.approx(0.5, rel=1e-12)
    assert row["max_rel_loss_diff"] == pytest.approx(0.25, rel=1e-12)
    assert (row["w_diff"], row["b_diff"]) == (pytest.approx(0.025), pytest.approx(0.05))


def test_then_and_now_difference_is_the_largest_relative_one():
    # Relative differences 0.1, 0.01, 0.2 (mean 0.103): the maximum, at the last epoch.
    assert then_vs_now.max_relative_difference([1.1, 2.02, 1.2], [1.0, 2.0, 1.0]) == pytest.approx(0.2, rel=1e-12)


def test_cost_model_fit_error_is_the_worst_size_not_the_average():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    seconds = 1e-4 + 1e-9 * n
    seconds[2] *= 1.5  # one size 50 % slow: the line misses it by far more than the others
    fit = bench.fit_cost(n, seconds)
    fitted = fit["t0_s"] + fit["s_per_point"] * n
    errors = np.abs(fitted - seconds) / seconds
    assert fit["fit_error"] == pytest.approx(errors.max(), rel=1e-12)
    assert errors.max() > 2 * errors.mean()  # the sample tells a maximum from an average


def test_merged_repeats_take_the_median_of_their_steady_epochs(monkeypatch):
    from tale_of_two.fit import harness

    def part(epoch_times):  # one repeat's result, through the harness's one builder
        return harness.result(
            dict.fromkeys(harness.IDENTITY),
            status="ok",
            w=0.1,
            b=0.3,
            losses=[1.0],
            timings=harness.timing_record(
                import_s=1.0,
                setup_s=0.1,
                first_epoch_s=epoch_times[0],
                train_s=spread([sum(epoch_times)]),
                epoch_s=spread(epoch_times[1:]),
                harness_overhead_s=1e-6,
                memory_pass_s=spread([1.0]),
                warmup_epochs=1,
                repeats=1,
                epoch_times_s=[epoch_times],
            ),
            memory=harness.memory_record(np.zeros(4, np.float32), np.zeros(4, np.float32), 1, 2),
        )

    # Steady epochs (warm-up 1 left out): 1, 2, 3 and 4, 50, 60: median 3.5, mean 20.
    merged = harness.merge_repeats([part([100.0, 1.0, 2.0, 3.0]), part([100.0, 4.0, 50.0, 60.0])], warmup_epochs=1)
    assert merged["timings"]["epoch_s"]["median"] == 3.5
    assert merged["timings"]["epoch_s"]["max"] == 60.0 and merged["timings"]["epoch_s"]["min"] == 1.0
    assert merged["timings"]["train_s"]["median"] == pytest.approx((106 + 214) / 2)
