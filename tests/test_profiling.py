"""Profiles: each function's own time lands in one group, inherited from its callers where they set one."""

import numpy as np
import pytest

from tale_of_two.fit import harness, profiling

HARNESS = ("/x/tale_of_two/fit/harness.py", 10, "__call__")
VARIANT = ("/x/tale_of_two/fit/frameworks/torch.py", 20, "train")
FRAMEWORK = ("/v/lib/python3.11/site-packages/torch/nn/module.py", 30, "_call_impl")
DATA = ("/v/lib/python3.11/site-packages/tensorflow/python/data/ops/iterator_ops.py", 40, "_create_iterator")
NATIVE = ("~", 0, "<built-in method torch._C._nn.linear>")


def test_own_groups_come_from_where_a_function_is_defined():
    assert [profiling.own_group(f) for f in (HARNESS, VARIANT, FRAMEWORK, DATA, NATIVE)] == [
        "harness",
        "variant code",
        "framework Python/dispatch",
        "data pipeline",
        "kernels (native)",
    ]


class FakeStats:
    """pstats' table: {function: (primitive calls, calls, own s, cumulative s, {caller: (.., .., own, cum)})}."""

    def __init__(self, table):
        self.stats = table


def test_native_time_is_split_between_caller_contexts_by_time():
    stats = FakeStats(
        {
            VARIANT: (1, 1, 0.1, 10.0, {}),
            HARNESS: (1, 1, 0.5, 1.5, {VARIANT: (1, 1, 0.5, 1.5)}),
            DATA: (1, 1, 0.2, 3.2, {FRAMEWORK: (1, 1, 0.2, 3.2)}),
            FRAMEWORK: (1, 1, 1.0, 8.0, {VARIANT: (1, 1, 1.0, 8.0)}),
            # 4 s of native time: 1 s of calls from the harness, 3 s from the data pipeline, 4 s from the framework
            NATIVE: (8, 8, 4.0, 4.0, {HARNESS: (1, 1, 0.5, 1.0), DATA: (3, 3, 1.5, 3.0), FRAMEWORK: (4, 4, 2, 4.0)}),
        }
    )
    grouped = profiling.grouped(stats)
    assert grouped[NATIVE] == pytest.approx({"harness": 0.5, "data pipeline": 1.5, "kernels (native)": 2.0})
    assert grouped[FRAMEWORK] == {"framework Python/dispatch": 1.0}
    assert grouped[DATA] == {"data pipeline": 0.2}


def test_a_real_profile_accounts_for_the_epoch(arrays):
    settings = harness.Settings(device="cpu", epochs=10, warmup_epochs=2)
    result = profiling.profile("numpy", "scratch", arrays["x"], arrays["y"], settings, epochs=30)
    assert len(result.epoch_s) == len(result.profiled_epoch_s) == 30
    # The groups share out the profiled epochs' time: per epoch, they add up to the mean profiled epoch (the
    # clock also counts the moments between two epochs that cProfile does not see; measured: 99 %).
    assert 0.8 * np.mean(result.profiled_epoch_s) <= sum(result.groups.values()) <= np.mean(result.profiled_epoch_s)
    assert result.groups["variant code"] > result.groups["harness"]
    text = profiling.to_markdown(result)
    assert "# Profile: numpy/scratch" in text and "| kernels (native) |" in text
    assert "## Top functions by own time" in text and "garbage collector ran" in text


# An optimised module as XLA:CPU dumps it (jax/scratch at n = 8, cut down): the residual r = w x + b - y is
# written once and read by three reductions; a fused pass would read x and y once and write nothing.
HLO = """HloModule jit_scratch_train_step, is_scheduled=true

%fused_computation (param_0.1: f32[], param_1.1: f32[8,1]) -> f32[] {
  %param_1.1 = f32[8,1]{1,0} parameter(1)
  ROOT %reduce_sum.0 = f32[] reduce(%param_1.1, %param_0.1), dimensions={0,1}, to_apply=%region_0.1
}

ENTRY %main.4 (b: f32[], w: f32[], x.1: f32[8,1], y.1: f32[8,1]) -> (f32[], f32[]) {
  %b = f32[] parameter(0)
  %w = f32[] parameter(1)
  %x.1 = f32[8,1]{1,0} parameter(2), sharding={replicated}
  %y.1 = f32[8,1]{1,0} parameter(3)
  %zero = f32[] constant(0)
  %r = f32[8,1]{1,0} fusion(%y.1, %b, %x.1, %w), kind=kLoop, calls=%fused_computation.6
  %ynn = f32[] fusion(%zero, %r), kind=kCustom, calls=%fused_computation
  %ynn.1 = f32[] fusion(%zero, %r, %x.1), kind=kCustom, calls=%c, backend_config={"outer_dimension_partitions":[2]}
  %multiply = f32[] multiply(%ynn, %w)
  ROOT %tuple.1 = (f32[], f32[]) tuple(%multiply, %ynn.1)
}
"""


def test_an_xla_module_s_passes_over_the_data_are_counted_from_its_entry():
    summary = profiling.hlo_entry_summary(HLO, n=8)
    # 4 kernels (the tuple and parameters are not), 3 of them fusions; 3 touch the 8-element arrays: they read
    # y, x, r, r and x (5 arrays) and write r (1); one is split into partitions.
    assert summary == {"kernels": 4, "fusions": 3, "passes": 3, "arrays_read": 5, "arrays_written": 1, "parallel": 1}
    assert profiling.elements("f32[1000000,1]{1,0}") == 1_000_000 and profiling.elements("f32[]") == 1


def test_a_profile_with_an_xla_dump_summarises_each_module(arrays, tmp_path):
    (tmp_path / "module_0002.jit_step.cpu_after_optimizations.txt").write_text(HLO)
    (tmp_path / "module_0002.jit_step.cpu_after_optimizations-buffer-assignment.txt").write_text("not a module")
    (modules,) = [profiling.xla_dump_summary(str(tmp_path), 8)]
    assert modules == [
        {"module": "module_0002.jit_step.cpu", **profiling.hlo_entry_summary(HLO, 8)},
    ]
    settings = harness.Settings(device="cpu", epochs=10, warmup_epochs=2)
    result = profiling.profile("numpy", "scratch", arrays["x"], arrays["y"], settings, epochs=5)
    result.xla_modules = modules
    text = profiling.to_markdown(result)
    assert "## XLA's dump: what it compiled (n = 64)" in text
    assert "| `module_0002.jit_step.cpu` | 4 | 3 | 3 | 5 | 1 | 1 |" in text
    assert "minor page faults" in text and result.os_threads >= 1 and result.cpu_s > 0 and result.page_faults >= 0
    assert "malloc settings: " in text


FAULTS = """
import sys
from tale_of_two.fit import data, harness, profiling
arrays = data.load(sys.argv[1])
settings = harness.Settings(device="cpu", epochs=10, warmup_epochs=3)
print(profiling.profile("numpy", "scratch", arrays["x"], arrays["y"], settings, epochs=10).page_faults)
"""


def test_the_bench_s_malloc_setting_stops_numpy_page_faulting_its_temporaries_every_epoch(tmp_path):
    """numpy/scratch at n = 1e6, data loaded as a job loads it: with glibc's default malloc each epoch page-faults
    two 4 MB temporaries in anew (measured 1,921 faults an epoch, 2 x 977 pages); with `bench.environment`, 0."""
    import os
    import subprocess
    import sys

    import yaml
    from conftest import ROOT

    from tale_of_two.fit import data

    path = tmp_path / "dataset.npz"
    data.save_npz(path, data.generate(data.DatasetSpec(n=1_000_000, seed=7)))
    setting = yaml.safe_load((ROOT / "config/config.yaml").read_text())["bench"]["environment"]
    plain = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    plain["PYTHONPATH"] = str(ROOT / "workflow/lib")

    def faults(env):
        done = subprocess.run([sys.executable, "-c", FAULTS, str(path)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return float(done.stdout.split()[-1])

    assert faults(plain) > 1000
    assert faults({**plain, **setting}) < 50
