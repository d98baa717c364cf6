"""95 % confidence intervals on median epoch times and on their ratios, by bootstrap over a run's repeats.

The unit resampled is the repeat, not the epoch: epochs of one repeat share its process, its moment and the
machine's load then, so they are not independent draws, and an interval from them alone would be far too narrow
(see tests/test_confidence.py). A statistic is the median over the steady epochs of the repeats drawn, as the
tables state it. `scipy.stats.bootstrap` does the resampling, percentile intervals. With few repeats a bootstrap
covers less than its nominal 95 %: in simulated runs with a 10 % spread between repeats, about 84 % at 3 repeats,
89 % at 6 and 93 % at 10 (BCa did no better); so more repeats or rounds, not a finer method, tighten a claim.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 2000
# Fewer repeats than this give no interval: two repeats resample to three distinct medians at most.
MIN_REPEATS = 3
NO_DIFFERENCE = "no difference measured"


def steady_repeats(result: dict) -> list[np.ndarray]:
    """A result's steady epoch times, one array per repeat (warm-up epochs left out)."""
    timings = result["timings"]
    warmup = timings["warmup_epochs"]
    return [np.asarray(times[warmup:], float) for times in timings["epoch_times_s"] if len(times) > warmup]


def _pooled_median(repeats: list[np.ndarray]):
    """The statistic of one sample of repeat indices: the median of the chosen repeats' epochs, pooled."""
    return lambda chosen: np.median(np.concatenate([repeats[int(i)] for i in chosen]))


def _interval(samples: tuple, statistic) -> tuple[float, float]:
    found = stats.bootstrap(
        samples,
        statistic,
        vectorized=False,
        paired=False,
        n_resamples=RESAMPLES,
        confidence_level=LEVEL,
        method="percentile",
        random_state=np.random.default_rng(0),  # the same table from the same results
    )
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def median_interval(repeats: list[np.ndarray]) -> tuple[float, float] | None:
    """95 % interval of the pooled median epoch time; None with fewer than MIN_REPEATS repeats."""
    if len(repeats) < MIN_REPEATS:
        return None
    return _interval((np.arange(len(repeats)),), _pooled_median(repeats))


def ratio_interval(numerator: list[np.ndarray], denominator: list[np.ndarray]) -> tuple[float, float] | None:
    """95 % interval of median(numerator) / median(denominator), each run's repeats resampled independently;
    None where either has fewer than MIN_REPEATS repeats."""
    if min(len(numerator), len(denominator)) < MIN_REPEATS:
        return None
    top, bottom = _pooled_median(numerator), _pooled_median(denominator)
    return _interval((np.arange(len(numerator)), np.arange(len(denominator))), lambda a, b: top(a) / bottom(b))


def includes_one(interval: tuple[float, float] | None) -> bool:
    return interval is not None and interval[0] <= 1.0 <= interval[1]


def ratio_text(ratio: float, interval: tuple[float, float] | None, spec: str = ".2f") -> str:
    """A ratio as a table states it: `1.71x [1.52, 1.90]`; `no difference measured (1.02x [0.95, 1.10])` where
    the interval includes 1; `1.71x (no interval: under 3 repeats)` where there is none."""
    if interval is None:
        return f"{ratio:{spec}}x (no interval: under {MIN_REPEATS} repeats)"
    text = f"{ratio:{spec}}x [{interval[0]:{spec}}, {interval[1]:{spec}}]"
    return f"{NO_DIFFERENCE} ({text})" if includes_one(interval) else text
