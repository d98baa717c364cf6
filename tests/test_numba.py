"""numba/scratch is numpy/scratch's gradient descent as one fused pass: the same losses, compiled once.

Same start, same updates; the fused loop sums in SIMD lanes (`fastmath={"reassoc"}`) where numpy sums
pairwise, so the two agree to float32 rounding. Measured largest relative difference in the loss at any
epoch: 2.4e-7 (n = 64, 500 epochs, full batch), 1.5e-7 (batches of 16), 3.4e-7 (n = 100,000, 50 epochs),
1.2e-6 (n = 1,000,000, 20 epochs). rtol 1e-6 covers the first three; a gradient off by any factor moves
the loss by far more within a few epochs (half the gradient: 3e-3 relative after 500 epochs).
"""

import numpy as np
import pytest

from tale_of_two.fit import data, harness

pytest.importorskip("numba")
RTOL = 1e-6


def losses(framework, x, y, **settings):
    settings = harness.Settings(**{"device": "cpu", "repeats": 1, "warmup_epochs": 1, **settings})
    result = harness.measure(framework, "scratch", x, y, settings)
    assert result["status"] == "ok", result["error"]
    return result


@pytest.mark.parametrize("batch_size", [None, 16])
def test_numba_follows_numpy_at_every_epoch(arrays, batch_size):
    reference = losses("numpy", arrays["x"], arrays["y"], epochs=500, batch_size=batch_size)
    fused = losses("numba", arrays["x"], arrays["y"], epochs=500, batch_size=batch_size)
    np.testing.assert_allclose(fused["loss_history"], reference["loss_history"], rtol=RTOL)
    assert fused["fitted"]["w"] == pytest.approx(reference["fitted"]["w"], rel=RTOL)
    assert fused["fitted"]["b"] == pytest.approx(reference["fitted"]["b"], rel=RTOL)


def test_numba_follows_numpy_where_the_sums_are_long():
    """100,000 points: each sum runs over long lanes, the order differs most from numpy's pairwise sums."""
    arrays = data.generate(data.DatasetSpec(n=100_000, seed=7))
    reference = losses("numpy", arrays["x"], arrays["y"], epochs=50)
    fused = losses("numba", arrays["x"], arrays["y"], epochs=50)
    np.testing.assert_allclose(fused["loss_history"], reference["loss_history"], rtol=RTOL)


def test_numba_compiles_the_step_once_for_float32_and_records_it(arrays):
    from tale_of_two.fit.frameworks import numba as fused

    # Other tests in this process may already have compiled the step for other array flags (read-only arrays
    # are a type of their own to numba): count what this run adds.
    before = set(fused.fused_train_step.signatures)
    result = losses("numba", arrays["x"], arrays["y"], epochs=4, repeats=2)
    first, second = result["compile"]["repeats"]
    added = set(fused.fused_train_step.signatures) - before
    # Compiled at most once per run, for float32 arrays and scalars: a float64 w or b coming back from the
    # step would compile it a second time (a recompilation) and run the update in float64.
    assert first["graphs"] + second["graphs"] == len(added) <= 1
    assert first["recompilations"] == second["recompilations"] == 0
    for signature in fused.fused_train_step.signatures:
        assert [str(t) for t in signature][2:] == ["array(float32, 1d, C)", "float32"]
