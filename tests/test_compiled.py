"""Compiled variants compile what they say: one graph for the whole step, no graph break, no fallback to eager.

Each compiled run records what its compiler did per repeat (`result["compile"]`); these tests hold the
records to it. torch.compile takes 10 to 60 s per variant on a loaded 2-core machine.
"""

import importlib

import numpy as np
import pytest

from tale_of_two.fit import harness

torch = pytest.importorskip("torch")
COMPILED_TORCH = ["scratch_compiled", "layers_compiled"]
TRACED_TF = ["scratch_graph", "layers_graph", "scratch_xla", "layers_xla"]
SETTINGS = dict(device="cpu", lr=0.01, epochs=4, warmup_epochs=1)


def measure(arrays, framework, variant, **settings):
    return harness.measure(framework, variant, arrays["x"], arrays["y"], harness.Settings(**{**SETTINGS, **settings}))


@pytest.mark.parametrize("variant", COMPILED_TORCH)
def test_torch_compiles_the_whole_step_once_without_graph_breaks(arrays, variant):
    torch._dynamo.reset()  # a fresh process's compiler: no graph of another variant to recompile from
    result = measure(arrays, "torch", variant, repeats=2)
    assert result["status"] == "ok", result["error"]  # fullgraph=True: a graph break is an error here
    first, second = result["compile"]["repeats"]
    # One graph: forward, gradients and update together. Eager fallback would compile none.
    assert (first["graphs"], first["graph_breaks"], first["recompilations"]) == (1, 0, 0)
    # The second repeat runs the same compiled graph with a new model: nothing compiled again.
    assert (second["graphs"], second["graph_breaks"], second["recompilations"]) == (0, 0, 0)
    assert first["deterministic_algorithms"] and first["inductor_config_deterministic"]


def test_compiled_torch_follows_the_eager_trajectory(arrays):
    """Same start, same updates; Inductor's fused float32 kernels sum in another order. Measured: relative
    difference in the loss at most 6.4e-8 over these 4 epochs (3.0e-7 over 1000); 1e-6 covers it."""
    eager = measure(arrays, "torch", "scratch", repeats=1)
    compiled = measure(arrays, "torch", "scratch_compiled", repeats=1)
    np.testing.assert_allclose(compiled["loss_history"], eager["loss_history"], rtol=1e-6)


def test_torch_determinism_is_a_setting_inductor_follows():
    torch_framework = importlib.import_module("tale_of_two.fit.frameworks.torch")
    try:
        torch_framework.configure("cpu", 1, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
        # torch.use_deterministic_algorithms also sets Inductor's own switch (torch/__init__.py).
        assert torch._inductor.config.deterministic is False
    finally:
        torch_framework.configure("cpu", 1)
    assert torch.are_deterministic_algorithms_enabled() and torch._inductor.config.deterministic is True


@pytest.mark.parametrize("variant", TRACED_TF)
def test_tensorflow_traces_each_step_once_per_repeat(arrays, variant):
    pytest.importorskip("tensorflow")
    result = measure(arrays, "tensorflow", variant, repeats=2)
    assert result["status"] == "ok", result["error"]
    assert ("jit_compile=True" in result["compile"]["compiler"]) == variant.endswith("_xla")
    # Each repeat wraps a new step in tf.function: one trace each, never a retrace.
    assert [(r["graphs"], r["recompilations"]) for r in result["compile"]["repeats"]] == [(1, 0), (1, 0)]


def test_runs_that_do_not_compile_record_no_compiler(arrays):
    assert measure(arrays, "numpy", "scratch", repeats=1)["compile"] is None


def test_jax_records_its_xla_compilations(arrays):
    jax = pytest.importorskip("jax")
    jax.clear_caches()  # as in a job's own process: another test in this one may have compiled the same step
    result = measure(arrays, "jax", "scratch", repeats=2)
    first, second = result["compile"]["repeats"]
    assert first["graphs"] >= 1 and first["graph_breaks"] is None
    assert second["graphs"] == 0  # the jitted step is cached across repeats


def test_a_framework_without_a_non_deterministic_mode_says_so(arrays):
    with pytest.raises(ValueError, match="deterministic: false: framework 'numpy' has no non-deterministic mode"):
        measure(arrays, "numpy", "scratch", repeats=1, deterministic=False)
