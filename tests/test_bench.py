"""The scaling benchmark: its table and goals on hand-made results, its plot, and its DAG."""

import subprocess
import sys

import matplotlib.image
import pytest
import yaml
from conftest import ROOT, make_result

from tale_of_two import bench


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


def test_goals_name_the_fastest_variant_per_framework_at_the_largest_n(results):
    text = bench.goals_markdown(bench.scaling_table(results))
    assert "At n = 100,000" in text
    assert "| torch       | scratch           |" in text and "| tensorflow  | scratch           |" in text
    assert "| 1.20      | yes" in text and "| 3.00      | no" in text
    assert "Largest coefficient of variation between repeats: 9.1%" in text


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
def test_bench_target_builds_a_dataset_per_size_and_every_run_at_every_size(tmp_path):
    (tmp_path / "bench.yaml").write_text("bench:\n  sizes: [1000, 5000, 20000]\n")
    default_runs = yaml.safe_load((ROOT / "config/config.yaml").read_text())["bench"]["runs"]
    per_size = sum(len(variants) for variants in default_runs.values())
    output = dry_run(tmp_path, "bench", configfile=tmp_path / "bench.yaml")
    assert count(output, "bench_dataset") == 3
    assert count(output, "bench_train") == 3 * per_size
    assert count(output, "bench_summary") == 1
    assert count(output, "train") == 0  # the default runs are not part of the benchmark


@pytest.mark.e2e
def test_default_target_runs_no_benchmark_job(tmp_path):
    output = dry_run(tmp_path)
    assert count(output, "bench_train") == 0 and count(output, "train") == 10
