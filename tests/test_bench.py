"""The scaling benchmark: its table and goals on hand-made results, its plot, and its DAG."""

import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import yaml
from conftest import ROOT, make_result

from tale_of_two.analysis import bench


def timed(framework, variant, n, epoch_s, repeats=((1.0,) * 6, (1.0,) * 6)):
    result = make_result(framework, variant, 0.1, 0.3, "a" * 64, epoch_s=epoch_s, n=n)
    result["timings"]["epoch_times_s"] = [[epoch_s * factor for factor in repeat] for repeat in repeats]
    result["timings"]["warmup_epochs"] = 1
    return result


@pytest.fixture
def results():
    return [
        timed("numpy", "scratch", 1000, 0.001),
        timed("numpy", "scratch", 100000, 0.010),
        timed("torch", "scratch", 1000, 0.002),
        timed("torch", "scratch", 100000, 0.012, repeats=((1.0,) * 6, (1.2,) * 6)),
        timed("torch", "layers", 100000, 0.020),
        timed("tensorflow", "scratch", 100000, 0.030),
    ]


def test_ratios_to_numpy_memory_pass_and_repeat_spread(results):
    table = bench.scaling_table(results).set_index(["n", "framework", "variant"])
    assert table.loc[(100000, "torch", "scratch"), "ratio_to_numpy"] == pytest.approx(1.2)
    assert table.loc[(1000, "torch", "scratch"), "ratio_to_numpy"] == pytest.approx(2.0)
    assert table.loc[(100000, "numpy", "scratch"), "epoch_over_memory_pass"] == pytest.approx(10.0)
    # repeat medians 0.012 and 0.0144: std / mean = 0.0012 / 0.0132
    assert table.loc[(100000, "torch", "scratch"), "cv_between_repeats"] == pytest.approx(0.0012 / 0.0132)
    assert table.loc[(100000, "torch", "layers"), "cv_between_repeats"] == pytest.approx(0.0)


def compiled(result, graphs=1):
    result["compile"] = {
        "compiler": "a compiler",
        "repeats": [{"compiler": "a compiler", "graphs": graphs, "graph_breaks": 0, "recompilations": 0}],
    }
    return result


def test_goals_name_the_fastest_compiled_variant_per_framework_at_the_largest_n(results):
    results += [
        compiled(timed("torch", "scratch_compiled", 100000, 0.008)),
        compiled(timed("tensorflow", "scratch_xla", 100000, 0.015)),
    ]
    text = bench.goals_markdown(bench.scaling_table(results))
    assert "At n = 100,000" in text
    # torch: 0.8x numpy, and the memory pass (epoch / 10) is 10 % of its epoch's speed: not met on the bound.
    assert "| torch       | torch/scratch_compiled | 8.000       | 0.80      | 10%              | not met" in text
    assert "| tensorflow  | tensorflow/scratch_xla | 15.000      | 1.50      | 10%              | not met" in text
    assert "1.00 us (median over runs), 0.10% of the fastest epoch (numpy/scratch at n = 1,000" in text
    assert "Coefficient of variation between repeats: worst 9.1% (torch/scratch at n = 100,000)" in text


def test_a_framework_with_no_compiled_run_fails_its_goal(results):
    text = bench.goals_markdown(bench.scaling_table(results))
    assert "| torch       | none ran" in text


def test_rounds_of_the_same_run_merge_into_one_with_all_their_repeats():
    first = timed("torch", "scratch", 1000, 0.002, repeats=((1.0,) * 6,))
    second = timed("torch", "scratch", 1000, 0.002, repeats=((2.0,) * 6,))
    (merged,) = bench.merge_rounds([first, second])
    assert merged["timings"]["repeats"] == 2
    assert merged["timings"]["epoch_times_s"] == [[0.002] * 6, [0.004] * 6]
    # warm-up (1 epoch) left out of each repeat: 5 epochs at 2 ms and 5 at 4 ms
    assert merged["timings"]["epoch_s"]["median"] == pytest.approx(0.003)
    other_mode = timed("torch", "scratch", 1000, 0.002)
    other_mode["settings"]["deterministic"] = False
    assert len(bench.merge_rounds([first, second, other_mode])) == 2


def test_cost_model_recovers_a_fixed_cost_and_a_throughput():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    fit = bench.fit_cost(n, 50e-6 + 4e-9 * n)  # 50 us per epoch, 4 ns a point
    assert fit["t0_s"] == pytest.approx(50e-6) and fit["s_per_point"] == pytest.approx(4e-9)
    assert fit["gb_per_s"] == pytest.approx(8 / 4e-9 / 1e9)  # 2 GB/s of x and y
    assert fit["fit_error"] == pytest.approx(0, abs=1e-9)
    noisy = bench.fit_cost(n, (50e-6 + 4e-9 * n) * np.array([1, 1.2, 1, 1]))
    assert noisy["fit_error"] > 0.05  # the line cannot follow a 20 % bump


def test_scaling_markdown_has_the_cost_model_beside_numpy_and_the_bound(results):
    text = bench.scaling_markdown(bench.scaling_table(results), rounds=2)
    assert "## Cost model" in text and "| run " in text and "| t0, us " in text and "| GB/s " in text
    assert "memory pass (bound)" in text
    assert "2 such process(es) per job" in text


def test_unsupported_runs_are_listed_with_their_error(results):
    failed = timed("torch", "scratch_compiled", 100000, 0.01)
    failed.update(status="unsupported", error="InductorError: no C++ compiler")
    text = bench.scaling_markdown(bench.scaling_table([*results, failed]))
    assert "torch/scratch_compiled at n = 100,000 could not run: InductorError: no C++ compiler" in text


def test_scaling_plot_is_a_png(results, tmp_path):
    path = tmp_path / "scaling.png"
    bench.plot_scaling(bench.scaling_table(results), results, path)
    assert matplotlib.image.imread(path).shape[:2] == (660, 1320)


def dry_run(workdir, *targets, configfile=None):
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *targets, "-n", "--quiet", "rules"]
    command += ["--directory", str(workdir)] + (["--configfile", str(configfile)] if configfile else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def count(output, rule):
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == rule:
            return int(parts[1])
    return 0


@pytest.mark.e2e
def test_bench_target_runs_a_process_per_size_mode_framework_and_round(tmp_path):
    (tmp_path / "bench.yaml").write_text("bench:\n  sizes: [1000, 5000, 20000]\n  rounds: 2\n")
    bench_config = yaml.safe_load((ROOT / "config/config.yaml").read_text())["bench"]
    per_size = len(bench_config["runs"]) + len(bench_config["nondeterministic"])
    output = dry_run(tmp_path, "bench", configfile=tmp_path / "bench.yaml")
    assert count(output, "bench_dataset") == 3
    assert count(output, "bench_train") == 2 * 3 * per_size
    assert count(output, "bench_summary") == 1
    assert count(output, "remedies") == 1  # results/remedies.md, from the same processes
    assert count(output, "train") == 0  # the default runs are not part of the benchmark


@pytest.mark.e2e
def test_default_target_runs_no_benchmark_job(tmp_path):
    output = dry_run(tmp_path)
    runs = sum(len(variants) for variants in yaml.safe_load((ROOT / "config/config.yaml").read_text())["runs"].values())
    assert count(output, "bench_train") == 0 and count(output, "train") == runs == 18  # 10 runs, 8 remedies
