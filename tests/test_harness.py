"""The harness on a fake framework: what it times, what it leaves out, when it stops."""

import sys
import types

import numpy as np
import pytest

from tale_of_two.fit import harness


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def fake_framework(monkeypatch):
    """A framework whose epochs cost known, fake-clock time: 1 s for the first, 10 ms after."""
    clock = FakeClock()
    monkeypatch.setattr(harness, "time", clock)
    syncs = []

    def runtime(device_kind):
        # A device that needs synchronising, unless the run asked for the CPU.
        sync = None if device_kind == "cpu" else (lambda: syncs.append(clock.now))
        return harness.Runtime("fake", device_kind, "fake GPU", 1, sync=sync)

    class Steady:
        LOSS = "mse"

        def __init__(self, x, y, settings, runtime):
            clock.now += 0.5  # setup
            self.epochs = 0

        def loss(self):
            return 1.0 / self.epochs

        def train(self, epochs, callback):
            for epoch in range(epochs):
                clock.now += 1.0 if epoch == 0 else 0.010
                self.epochs += 1
                if not callback(self.loss()):
                    break

        def parameters(self):
            return 0.1, 0.3

    class Exploding(Steady):
        def loss(self):
            return float("inf") if self.epochs == 3 else 1.0

    class NoCompiler(Steady):
        COMPILED = True

        def train(self, epochs, callback):
            raise OSError("no C++ compiler")  # what this fake's compiler_unavailable recognises

    class CompiledBug(NoCompiler):
        def train(self, epochs, callback):
            raise ZeroDivisionError("a bug in shared code")

    module = types.ModuleType("tale_of_two.fit.frameworks.fake")
    module.VERSION = "0.0"
    module.VARIANTS = {"steady": Steady, "exploding": Exploding, "no_compiler": NoCompiler, "compiled_bug": CompiledBug}
    module.compiler_unavailable = lambda error: isinstance(error, OSError)

    def configure(device, threads):
        if device == "cuda":
            raise harness.DeviceUnavailable("device 'cuda' requested but fake sees no GPU")
        return runtime(device if device != "auto" else "cuda")

    module.configure = configure
    monkeypatch.setitem(sys.modules, "tale_of_two.fit.frameworks.fake", module)
    return syncs


def measure(variant, **settings):
    x = np.zeros(8, np.float32)
    return harness.measure("fake", variant, x, x, harness.Settings(**settings))


def test_warm_up_is_excluded_and_medians_are_right(fake_framework):
    result = measure("steady", epochs=50, warmup_epochs=2, repeats=3)
    timings = result["timings"]
    assert timings["first_epoch_s"] == pytest.approx(1.0)
    assert timings["setup_s"] == pytest.approx(0.5)
    assert timings["epoch_s"]["median"] == pytest.approx(0.010)
    assert timings["epoch_s"]["max"] == pytest.approx(0.010)  # the 1 s first epoch is warm-up
    assert timings["epoch_s"]["count"] == 3 * 48
    assert timings["train_s"]["median"] == pytest.approx(1.0 + 49 * 0.010)
    assert result["loss_history"][:3] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert result["repeats_identical"] is True


def test_device_is_synchronised_before_every_clock_read(fake_framework):
    measure("steady", epochs=10, warmup_epochs=1, repeats=1)
    # setup, clock start, one per epoch, end of training; then the untimed memory run: clock start, one per epoch
    assert len(fake_framework) == (1 + 1 + 10 + 1) + (1 + 10)
    fake_framework.clear()
    measure("steady", epochs=10, warmup_epochs=1, repeats=1, device="cpu")
    assert fake_framework == []  # a synchronous CPU has no sync: reading the loss back is the barrier


def test_divergence_stops_training_and_is_reported(fake_framework):
    result = measure("exploding", epochs=100, warmup_epochs=1, repeats=1)
    assert result["status"] == "diverged"
    assert result["diverged_at_epoch"] == 3
    assert result["loss_history"] == [1.0, 1.0, None]
    assert result["final_loss"] is None


def test_the_log_headline_of_a_run_that_fitted_nothing_says_none(fake_framework):
    """train.py prints it after writing the result: a crash there would make Snakemake delete the result."""
    diverged = {
        "framework": "fake",
        "variant": "exploding",
        **measure("exploding", epochs=100, warmup_epochs=1, repeats=1),
    }
    assert harness.headline(diverged).endswith("final mse = none, status diverged")
    unsupported = {"framework": "fake", "variant": "no_compiler", **measure("no_compiler", epochs=5, warmup_epochs=1)}
    assert harness.headline(unsupported) == (
        "fake/no_compiler: w = none, b = none, final mse = none, status unsupported (OSError: no C++ compiler)"
    )


def test_only_a_missing_compiler_makes_a_compiled_run_unsupported(fake_framework):
    result = measure("no_compiler", epochs=5, warmup_epochs=1, repeats=1)
    assert result["status"] == "unsupported" and result["error"] == "OSError: no C++ compiler"
    assert result["loss_history"] == [] and result["fitted"] == {"w": None, "b": None}
    with pytest.raises(ZeroDivisionError, match="a bug in shared code"):
        measure("compiled_bug", epochs=5, warmup_epochs=1, repeats=1)


def test_unknown_framework_and_variant_are_named():
    with pytest.raises(ValueError, match="unknown framework 'nope'"):
        harness.load_framework("nope")


def test_unknown_variant_is_named(fake_framework):
    with pytest.raises(ValueError, match="unknown variant 'nope' for framework 'fake'"):
        measure("nope")


def test_batch_size_larger_than_n_is_refused(fake_framework):
    with pytest.raises(ValueError, match="batch_size 9 must be between 1 and n = 8"):
        measure("steady", batch_size=9)


def test_batches_cover_the_data_in_order():
    parts = harness.Settings(batch_size=3).batches(8)
    assert [(p.start, p.stop) for p in parts] == [(0, 3), (3, 6), (6, 8)]
    assert harness.Settings().batches(8) == [slice(0, 8)]


def test_mini_batches_are_columns_in_order_and_their_mean_weighs_by_size():
    x = np.arange(8, dtype=np.float32)
    batches = harness.MiniBatches.of(x, -x, harness.Settings(batch_size=3))
    assert [xb.ravel().tolist() for xb, _ in batches] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert all(xb.shape == yb.shape == (len(xb), 1) for xb, yb in batches)
    assert batches.mean([1.0, 2.0, 4.0]) == pytest.approx((3 * 1 + 3 * 2 + 2 * 4) / 8)
    full = harness.MiniBatches.of(x, -x, harness.Settings())
    assert len(full.pairs) == 1 and full.mean(["the loss itself"]) == "the loss itself"


def test_uniform_init_is_shared_and_framework_init_is_not():
    assert harness.Settings(seed=3).initial_parameters() == harness.Settings(seed=3).initial_parameters()
    w0, b0 = harness.Settings(seed=3).initial_parameters()
    assert -0.1 <= w0 <= 0.1 and -0.1 <= b0 <= 0.1
    assert harness.Settings(init="framework").initial_parameters() is None


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="unknown training setting"):
        harness.settings_from_dict({"lr": 0.1, "learning_rate": 0.1})


def test_missing_gpu_is_an_error_unless_cpu_fallback_is_asked(fake_framework):
    with pytest.raises(harness.DeviceUnavailable, match="fake sees no GPU"):
        measure("steady", epochs=3, warmup_epochs=1, repeats=1, device="cuda")
    result = measure("steady", epochs=3, warmup_epochs=1, repeats=1, device="cuda", device_fallback="cpu")
    assert result["device"] == "cpu" and result["device_fell_back"] is True
    assert measure("steady", epochs=3, warmup_epochs=1, repeats=1)["device_fell_back"] is False


TOY_FRAMEWORK = '''
"""A framework written the way the README says: one module, one config entry."""
import numpy as np

from tale_of_two.fit.harness import MiniBatches, Runtime

VERSION = "toy 1.0"


def configure(device, threads):
    return Runtime("cpu", "cpu", "cpu", 1)


class Descent:
    LOSS = "mse"
    # api: model: none
    # api: zero_grad: not needed
    # api: optimizer: none

    def __init__(self, x, y, settings, runtime):
        self.batches = MiniBatches.of(x.astype(np.float64), y.astype(np.float64), settings)
        self.w, self.b = settings.initial_parameters()  # api: parameters
        self.lr = settings.lr

    def parameters(self):
        return self.w, self.b  # api: read

    def train(self, epochs, callback):
        for epoch in range(epochs):  # api: training
            losses = []
            for x, y in self.batches:
                residual = self.w * x + self.b - y  # api: forward
                losses.append(float(np.mean(residual**2)))  # api: loss
                grad_w, grad_b = 2 * float(np.mean(residual * x)), 2 * float(np.mean(residual))  # api: gradients
                self.w, self.b = self.w - self.lr * grad_w, self.b - self.lr * grad_b  # api: update
            if not callback(self.batches.mean(losses)):
                break


VARIANTS = {"descent": Descent}
'''


def test_a_new_framework_is_one_module_and_one_config_entry(tmp_path, monkeypatch, arrays, metadata):
    """What README's "Adding a framework or a variant" promises: a module in a folder of frameworks, nothing else."""
    import tale_of_two.fit.frameworks
    from tale_of_two import config
    from tale_of_two.analysis import api

    (tmp_path / "toy.py").write_text(TOY_FRAMEWORK)
    monkeypatch.setattr(tale_of_two.fit.frameworks, "__path__", [*tale_of_two.fit.frameworks.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "tale_of_two.fit.frameworks.toy", raising=False)
    runs = config.resolve_runs(
        {
            "dataset": {"n": 64, "x_low": -10, "x_high": 10},
            "training": vars(harness.Settings(lr=0.01, epochs=800)),
            "runs": {"toy": {"descent": {}}},
        },
        tmp_path,
    )
    settings = harness.settings_from_dict({**runs[("toy", "descent")], "repeats": 1, "warmup_epochs": 1})
    result = harness.measure("toy", "descent", arrays["x"], arrays["y"], settings)
    assert result["status"] == "ok" and result["framework_version"] == "toy 1.0"
    assert len(result["loss_history"]) == 800
    # b closes its gap by a factor (1 - 2 lr) = 0.98 an epoch: after 800, 1e-7 of 0.3 (measured below 1e-7 on both).
    assert result["fitted"]["w"] == pytest.approx(metadata["ols"]["w"], abs=1e-6)
    assert result["fitted"]["b"] == pytest.approx(metadata["ols"]["b"], abs=1e-6)
    table = api.api_table([("toy", "descent")], tmp_path)
    assert table.loc["Loss", "toy/descent"] == "`losses.append(float(np.mean(residual**2)))`"
