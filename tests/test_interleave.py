"""Interleaved repeats: several variants of one framework take turns, and each ends up with one merged result."""

import sys
import types

import numpy as np
import pytest

from tale_of_two.fit import harness


@pytest.fixture
def turns(monkeypatch):
    """A framework whose variants log when they train; variant `b`'s epochs take twice as long as `a`'s."""
    log = []

    def variant(name, epoch_s):
        class Variant:
            LOSS = "mse"

            def __init__(self, x, y, settings, runtime):
                pass

            def train(self, epochs, callback):
                log.append(name)
                for epoch in range(epochs):
                    harness.time.sleep(epoch_s)
                    callback(1.0 / (epoch + 1))

            def parameters(self):
                return 0.1, 0.3

        return Variant

    module = types.ModuleType("tale_of_two.fit.frameworks.turns")
    module.VERSION = "0.0"
    module.VARIANTS = {"a": variant("a", 0.001), "b": variant("b", 0.002)}
    module.configure = lambda device, threads: harness.Runtime("cpu", "cpu", "cpu", 1)
    monkeypatch.setitem(sys.modules, "tale_of_two.fit.frameworks.turns", module)
    return log


def test_repeats_take_turns_and_merge_per_variant(turns):
    settings = harness.Settings(epochs=4, warmup_epochs=1, repeats=3)
    x = np.zeros(8, np.float32)
    results = harness.measure_interleaved("turns", {"a": settings, "b": settings}, x, x)
    # Turns, not a a a b b b; in its first turn each variant also trains once more, untimed, for its memory.
    assert turns == ["a", "a", "b", "b", "a", "b", "a", "b"]
    for result in results.values():
        timings = result["timings"]
        assert timings["repeats"] == 3 and len(timings["epoch_times_s"]) == 3
        assert timings["epoch_s"]["count"] == 3 * 3  # 3 steady epochs per repeat, warm-up left out
        assert result["loss_history"] == [1.0, 0.5, pytest.approx(1 / 3), 0.25]
        assert result["repeats_identical"] is True
    # Each variant keeps its own times: sleep() may overshoot, never undershoot, so b's epochs are all >= 2 ms.
    assert results["b"]["timings"]["epoch_s"]["min"] >= 0.002


def test_a_variant_with_fewer_repeats_drops_out_of_later_rounds(turns):
    x = np.zeros(8, np.float32)
    runs = {
        "a": harness.Settings(epochs=2, warmup_epochs=1, repeats=1),
        "b": harness.Settings(epochs=2, warmup_epochs=1, repeats=2),
    }
    results = harness.measure_interleaved("turns", runs, x, x)
    assert turns == ["a", "a", "b", "b", "b"]  # the first turn of each: a timed repeat, then the memory run
    assert results["a"]["timings"]["repeats"] == 1 and results["b"]["timings"]["repeats"] == 2
