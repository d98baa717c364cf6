"""The documents: tools/doc_tables.py writes their measured tables from result files; every generated section is
as its generator wrote it, every relative link (file or #anchor) resolves, and the pages say what they claim."""

import inspect
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import ROOT, make_result
from test_bench import compiled, timed
from test_remedies import bench_result
from test_then_vs_now import era_result, idiom_records
from test_timeline import profile
from test_timeline import result as timeline_result

from tale_of_two.analysis import bench, convergence, summary, then_vs_now, timeline
from tale_of_two.fit import data, idioms, profiling

sys.path.insert(0, str(ROOT / "tools"))
import doc_tables  # noqa: E402

RUNS = ["torch/scratch", "jax/scratch", "tensorflow/fit", "keras_jax/fit", "keras_torch/fit"]
PAGE = "# Title\n\nBefore.\n\n<!-- doc_tables:{name}:start -->\nold table\n<!-- doc_tables:{name}:end -->\n\nAfter.\n"
# Relative suboptimality after each epoch of torch/scratch in `run_dir`: 1e-2 first reached at epoch 2,
# 1e-4 at epoch 4, 1e-6 at epoch 6 (each value half the threshold, clear of float rounding).
GAPS = [5e-2, 5e-3, 5e-4, 5e-5, 5e-6, 5e-7, 4e-7]


@pytest.fixture
def run_dir(tmp_path, spec, metadata, arrays):
    """What a finished run leaves: summary.csv, one JSON per run, the dataset, Snakemake's job benchmarks."""
    results = []
    for index, run in enumerate(RUNS):
        loss = "mae" if run.endswith("fit") else "mse"
        result = make_result(*run.split("/"), 0.1, 0.2 + index / 100, metadata["sha256"], loss_name=loss)
        result["environment"].update(machine="x86_64", cpu_count=2, platform="Linux-test", load_average=[index, 0, 0])
        result["finished_utc"] = f"2026-11-25T19:0{index}:00+00:00"
        results.append(result)
        bench = tmp_path / "benchmarks/train" / f"{run}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text(f"s\th:m:s\n{10.0 + index}\t0:00:10\n")
    for index in (0, 2):  # torch/scratch and tensorflow/fit from their framework's own initialiser
        results[index]["settings"]["init"] = "framework"
    optimum = convergence.optimum_loss("mse", metadata, arrays["x"], arrays["y"])
    results[0]["loss_history"] = [optimum * (1 + gap) for gap in GAPS]
    results[0]["final_loss"] = results[0]["loss_history"][-1]
    results[0]["timings"]["epoch_times_s"] = [[0.25] * len(GAPS)]
    results[0]["settings"]["epochs"] = len(GAPS)
    for run, result in zip(RUNS, results, strict=True):
        path = tmp_path / "results/runs" / f"{run}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    summary.summarize(results, metadata, arrays["x"], arrays["y"]).to_csv(tmp_path / "results/summary.csv", index=False)
    (tmp_path / "results/data").mkdir()
    (tmp_path / "results/data/dataset.json").write_text(json.dumps(metadata))
    data.save_npz(tmp_path / "results/data/dataset.npz", arrays)
    return tmp_path


def table_rows(block: str) -> list[list[str]]:
    lines = [line for line in block.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip("|"))] for line in lines]  # \| is in a cell


def by_run(block: str) -> dict[str, dict[str, str]]:
    header, separator, *rows = table_rows(block)
    assert all(set(cell) == {"-"} for cell in separator) and len(separator) == len(header)
    assert all(len(row) == len(header) for row in rows)
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def tool(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools/doc_tables.py"), *args], capture_output=True, text=True)


# --- the generators, on hand-made result files ---------------------------------------------------------------


def test_runs_section_is_a_table_of_every_run_with_date_and_machine(run_dir):
    body = doc_tables.runs_section(run_dir)
    runs = by_run(body)
    assert list(runs) == RUNS  # the summary's order, JAX and Keras included
    assert runs["torch/scratch"]["start"] == "own initialiser" and runs["jax/scratch"]["start"] == "shared draw"
    assert runs["jax/scratch"]["ms per epoch, median [IQR]"] == "1 [0.9, 1.1]"
    assert (
        runs["keras_jax/fit"]["final loss"] == "0.2500 (MAE)" and runs["keras_torch/fit"]["training job, s"] == "14.0"
    )
    assert "2026-11-25 19:00 to 2026-11-25 19:04 UTC on Linux-test, x86_64, 2 CPUs, Python 3.11" in body
    # conftest's memory runs: 4 epochs of 1 ms each, 20 ms of the jobs' 60 s
    assert (
        "The 5 training jobs took 60 s together (they run one at a time); their memory runs, 0.0 s of it (0.0%)."
        in body
    )
    # Only runs from the same start are compared: the two Keras fits (same losses, b 0.01 apart).
    assert "agree at every epoch: `fit` (keras_jax, keras_torch) to a relative 0.0e+00 in the loss and 1.0e-02" in body


def test_memory_section_gives_each_run_s_peak_stage_by_stage(run_dir):
    body = doc_tables.memory_section(run_dir)
    runs = by_run(body)
    assert list(runs) == RUNS
    # conftest's make_result: 30 MB before the import, 200 after it, 210 after set-up, 220 after training
    stages = ["before import, MB", "+ import, MB", "+ setup, MB", "+ training, MB", "peak, MB"]
    assert [runs["torch/scratch"][key] for key in stages] == ["30", "170", "10", "10", "220"]
    assert runs["torch/scratch"]["growth, KB/epoch"] == "0.0" and runs["torch/scratch"]["device peak"] == "CPU run"
    assert "(x and y: 512 bytes)" in body and "as the runs started: 0.0 to 4.0" in body
    assert "What importing each framework adds (median over its runs): jax 170 MB" in body


def test_a_section_measured_above_the_load_limit_is_refused_or_marked(run_dir, tmp_path):
    (tmp_path / "README.md").write_text(PAGE.format(name="runs"))
    args = ("--root", str(run_dir), "--pages", str(tmp_path), "runs")
    refused = tool(*args, "--max-load", "3.5")  # the runs started at loads 0 to 4
    assert refused.returncode == 2 and "section 'runs' was measured at a load average up to 4.0" in refused.stderr
    assert (
        "above the limit of 3.5 (--max-load)" in refused.stderr and "old table" in (tmp_path / "README.md").read_text()
    )
    assert tool(*args, "--max-load", "4").returncode == 0
    written = (tmp_path / "README.md").read_text()
    assert "--force" not in written and "| torch/scratch |" in written
    assert tool(*args, "--max-load", "3.5", "--force").returncode == 0
    forced = (tmp_path / "README.md").read_text()
    assert "**Written with --force**: measured at a load average up to 4.0, above the limit of 3.5" in forced
    # Bytes, not seconds: the memory table is written at any load, and says its load all the same.
    (tmp_path / "README.md").write_text(PAGE.format(name="memory"))
    assert tool("--root", str(run_dir), "--pages", str(tmp_path), "--max-load", "3.5", "memory").returncode == 0
    assert "as the runs started: 0.0 to 4.0" in (tmp_path / "README.md").read_text()
    assert doc_tables.stated_load("Load average (1 min) as the runs started: 0.5 to 1.5 (one job") == 1.5
    assert doc_tables.stated_load("load average (1 min) at each profile's start 6.5 to 7.5.") == 7.5
    assert doc_tables.stated_load("no timings here") is None


def test_every_section_with_timings_states_its_load():
    """The gate reads the load a section states: a generator of timings that stated none would slip past it."""
    untimed = {"idioms", "gpu"}  # outcomes of idioms; the GPU page before any GPU run
    for name, generator in doc_tables.GENERATORS.items():
        source = inspect.getsource(generator)
        assert name in untimed or any(call in source for call in ("load_line(", "heading(", "load average")), name


def test_time_to_solution_section_gives_each_run_s_time_to_each_threshold(run_dir):
    body = doc_tables.time_to_solution_section(run_dir)
    runs = by_run(body)
    assert list(runs) == RUNS
    # 0.25 s an epoch: epoch 2 is 0.5 s, epoch 4 1 s, epoch 6 1.5 s.
    assert [runs["torch/scratch"][t] for t in ("1e-2", "1e-4", "1e-6")] == [
        "0.5 s (epoch 2)",
        "1 s (epoch 4)",
        "1.5 s (epoch 6)",
    ]
    assert runs["torch/scratch"]["best reached"] == "4.0e-07" and runs["torch/scratch"]["lr, epochs"] == "0.01, 7"
    assert runs["keras_jax/fit"]["loss"] == "MAE" and runs["keras_jax/fit"]["1e-2"] == "not reached"
    assert "Load average (1 min) as the runs started: 0.0 to 4.0" in body


def test_missing_inputs_are_named(run_dir):
    (run_dir / "results/data/dataset.npz").write_bytes(b"not a zip")
    with pytest.raises(doc_tables.TablesError, match=r"dataset\.npz: not a readable dataset"):
        doc_tables.time_to_solution_section(run_dir)
    (run_dir / "results/runs/keras_jax/fit.json").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"keras_jax/fit\.json: missing, but .*summary\.csv has a row"):
        doc_tables.runs_section(run_dir)
    with pytest.raises(doc_tables.TablesError, match=r"summary\.csv: missing; run"):
        doc_tables.runs_section(run_dir / "elsewhere")


@pytest.fixture
def then_dir(tmp_path):
    """What `snakemake then_vs_now` leaves: then_vs_now.csv, each run's result in each era, both idiom records."""
    results = [
        era_result("torch", "scratch", "then", [1.0, 0.5], epoch_s=0.001),
        era_result("torch", "scratch", "now", [1.0, 0.5], epoch_s=0.004, import_s=3.0),
        era_result("tensorflow", "fit", "then", [2.0, 1.0], loss_name="mae"),
        era_result("tensorflow", "fit", "now", [2.0, 1.0 + 1e-3], loss_name="mae"),
    ]
    for index, result in enumerate(results):
        result["framework_version"] = "2.10"  # the number 2.1 to pandas, unless read as text
        result["environment"].update(load_average=[2.0 + index, 0, 0])
        result["finished_utc"] = f"2026-12-01T11:0{index}:00+00:00"
        path = tmp_path / "results/eras" / result["era"]["name"] / "runs" / result["framework"]
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{result['variant']}.json").write_text(json.dumps(result))
    then_vs_now.table(results).to_csv(tmp_path / "results/then_vs_now.csv", index=False)  # as compare_eras does
    (tmp_path / "results/then_vs_now/idioms").mkdir(parents=True)
    for record in idiom_records():
        (tmp_path / f"results/then_vs_now/idioms/{record['era']}.json").write_text(json.dumps(record))
    return tmp_path


def test_then_vs_now_section_has_each_run_in_both_eras_and_how_they_compare(then_dir):
    body = doc_tables.then_vs_now_section(then_dir)
    runs, compared = (block for block in body.split("\n\n") if block.startswith("|"))
    rows = table_rows(runs)
    assert rows[0][:3] == ["run", "era", "versions"] and len(rows) == 2 + 4
    assert rows[2] == [
        "torch/scratch",
        "then",
        "Python 3.8.18, torch 2.10",
        "0.100000",
        "0.300000",
        "0.500000 (mse)",
        "1.00",
        "10.000",
        "1.000 [0.900, 1.100]",
        "220",  # peak memory, MB (conftest's make_result)
        "170",  # what the import added
    ]
    assert rows[3][2] == "Python 3.11.7, torch 2.10" and rows[4][2] == "Python 3.8.18, tensorflow 2.10, Keras 2.4.0"
    by = by_run(compared)
    assert list(by) == ["torch/scratch", "tensorflow/fit"]
    assert by["torch/scratch"]["agree"] == "yes (rtol 1e-06)" and by["torch/scratch"]["epoch now/then [95 % CI]"] == (
        "4.00x (no interval: under 3 repeats)"
    )
    assert by["torch/scratch"]["import now/then"] == "3.00" and by["tensorflow/fit"]["agree"] == "no (rtol 1e-06)"
    assert "largest relative difference 1.0e-03; 1 of 2 runs agree to rtol 1e-06" in body
    assert "2026-12-01 11:00 to 2026-12-01 11:03 UTC" in body and "as the runs started: 2.0 to 5.0" in body


def test_idioms_section_quotes_each_outcome_in_each_era(then_dir):
    body = doc_tables.idioms_section(then_dir)
    assert "*then*: Python 3.8.18, TensorFlow 2.3.4 (Keras 2.4.0), torch 1.7.1; *now*: Python 3.11.7" in body
    assert table_rows(body)[2] == [
        "`raw then`",
        "works",
        "fails: ValueError: not enough values \\| to unpack",  # the | escaped, the cell whole
        "`raw today`: then works; now works, warns: UserWarning: careful",
    ]
    # Today's code that runs alike in both eras says so once.
    record = json.loads((then_dir / "results/then_vs_now/idioms/now.json").read_text())
    record["idioms"][1].update(outcome="works", warnings=[])
    (then_dir / "results/then_vs_now/idioms/now.json").write_text(json.dumps(record))
    assert table_rows(doc_tables.idioms_section(then_dir))[2][3] == "`raw today`: works"


def test_then_and_now_inputs_missing_or_untrustworthy_are_named(then_dir):
    record = json.loads((then_dir / "results/then_vs_now/idioms/now.json").read_text())
    record["idioms"][0]["outcome"] = "works"  # an outcome its error contradicts
    (then_dir / "results/then_vs_now/idioms/now.json").write_text(json.dumps(record))
    with pytest.raises(doc_tables.TablesError, match=r"idioms: now: raw \(then\): outcome 'works' does not follow"):
        doc_tables.idioms_section(then_dir)
    (then_dir / "results/then_vs_now/idioms/then.json").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"idioms/then\.json: missing; run `.*snakemake then_vs_now"):
        doc_tables.idioms_section(then_dir)
    (then_dir / "results/eras/now/runs/tensorflow/fit.json").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"now/runs/tensorflow/fit\.json: missing; run `"):
        doc_tables.then_vs_now_section(then_dir)
    (then_dir / "results/then_vs_now.csv").write_text("run,era\n")
    with pytest.raises(doc_tables.TablesError, match=r"then_vs_now\.csv: not a then-and-now table"):
        doc_tables.then_vs_now_section(then_dir)


@pytest.fixture
def bench_dir(tmp_path):
    """What `snakemake bench` leaves: one file per bench job ({"results": [...]}) and scaling.csv."""
    results = [
        timed("numpy", "scratch", 1000, 0.001),
        timed("numpy", "scratch", 100000, 0.010),
        timed("torch", "scratch", 1000, 0.002),
        timed("torch", "scratch", 100000, 0.012, repeats=((1.0,) * 6, (1.2,) * 6)),
        compiled(timed("torch", "scratch_compiled", 1000, 0.0005)),
        compiled(timed("torch", "scratch_compiled", 100000, 0.0015)),
    ]
    results[5]["compile"]["repeats"][0]["recompilations"] = 1
    for result in results:
        result["finished_utc"] = f"2026-12-01T12:0{result['dataset']['n'] // 100000}:00+00:00"
        result["environment"].update(machine="x86_64", cpu_count=2, platform="Linux-test", load_average=[1.5, 0, 0])
        result["settings"]["repeats"] = result["timings"]["repeats"] = 2
    for n in (1000, 100000):
        for framework in ("numpy", "torch"):
            path = tmp_path / f"results/bench/n{n}/deterministic/round0/{framework}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            job = [r for r in results if r["dataset"]["n"] == n and r["framework"] == framework]
            path.write_text(json.dumps({"results": job}))
    bench.scaling_table(results).to_csv(tmp_path / "results/bench/scaling.csv", index=False)  # as bench_summary does
    return tmp_path


def test_bench_section_gives_each_run_at_the_smallest_and_largest_n_with_its_cost_model(bench_dir):
    body = doc_tables.bench_section(bench_dir)
    runs = by_run(body)
    assert list(runs) == ["numpy/scratch", "torch/scratch", "torch/scratch_compiled", "memory pass (bound)"]
    # numpy: 1 ms at 1e3, 10 ms at 1e5, so t0 + c*n gives c = 9e-3 / 99,000 s a point (0.088 GB/s) and
    # t0 = 1 ms - 1,000 c = 909 us, through both points exactly.
    assert list(runs["numpy/scratch"].values())[1:] == ["1", "10", "909", "0.088 (0%)", ""]
    assert runs["torch/scratch"]["n = 1,000"] == "2 (2x)" and runs["torch/scratch"]["n = 100,000"] == "12 (1.2x)"
    assert runs["torch/scratch_compiled"]["n = 100,000"] == "1.5 (0.15x)"
    assert runs["torch/scratch_compiled"]["compiler's record at n = 100,000"] == (
        "1 graph(s), 0 break(s), 1 recompilation(s)"
    )
    assert runs["torch/scratch"]["compiler's record at n = 100,000"] == ""
    # The memory pass: a tenth of each run's epoch, median over the runs at each n.
    assert runs["memory pass (bound)"]["n = 1,000"] == "0.1" and runs["memory pass (bound)"]["n = 100,000"] == "1"
    assert "Sizes 1,000, 100,000; 1 round(s) x 2 repeat(s) of 4 epochs, 1 of them warm-up" in body
    assert runs["torch/scratch"]["t0, us"] == "1899"  # 2 ms - 1,000 c with c = 10 ms / 99,000 (no exponent)
    assert (
        "CV between repeats is above 5% for 1 of 6 runs, worst 9%" in body
    )  # torch/scratch at 1e5: repeats 1.0 and 1.2
    assert "2026-12-01 12:00 to 2026-12-01 12:01 UTC" in body and "as the runs started: 1.5 to 1.5" in body


def test_bench_inputs_missing_are_named(bench_dir):
    for job in (bench_dir / "results/bench").glob("n*/*/round*/*.json"):
        job.unlink()
    with pytest.raises(doc_tables.TablesError, match=r"bench: no bench job's results for the runs of .*scaling\.csv"):
        doc_tables.bench_section(bench_dir)
    (bench_dir / "results/bench/scaling.csv").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"scaling\.csv: missing; run `\.venv/bin/snakemake bench"):
        doc_tables.bench_section(bench_dir)


@pytest.fixture
def remedies_dir(tmp_path):
    """What `snakemake bench` leaves for the remedies: bench jobs holding torch/layers beside its remedy
    torch/layers_fused at three sizes (only the smallest and the largest are shown)."""
    results = [
        bench_result("torch", "layers", 200, 0.004, [1.0, 0.5, 0.25]),
        bench_result("torch", "layers_fused", 200, 0.001, [1.0, 0.5, 0.25 * (1 + 3e-7)]),
        bench_result("torch", "layers", 1000, 0.5, [1.0]),
        bench_result("torch", "layers_fused", 1000, 0.5, [1.0]),
        bench_result("torch", "layers", 10**6, 0.010, [1.0]),
        bench_result("torch", "layers_fused", 10**6, 0.008, [1.0]),
    ]
    for index, result in enumerate(results):
        result["finished_utc"] = f"2026-12-01T10:5{index}:00+00:00"
        result["environment"].update(machine="x86_64", cpu_count=2, platform="Linux-test", load_average=[8.0 + index])
        result["settings"].update(repeats=3, epochs=20, warmup_epochs=4)
        if result["dataset"]["n"] == 1000:  # not shown, so not in the section's when and load either
            result["finished_utc"], result["environment"]["load_average"] = "2026-12-01T09:00:00+00:00", [1.0]
        path = tmp_path / f"results/bench/n{result['dataset']['n']}/deterministic/round0/torch.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs = json.loads(path.read_text())["results"] if path.exists() else []
        path.write_text(json.dumps({"results": [*jobs, result]}))
    return tmp_path


def test_remedies_section_gives_each_remedy_beside_its_run_at_the_smallest_and_largest_n(remedies_dir):
    body = doc_tables.remedies_section(remedies_dir)
    header, _, *rows = table_rows(body)
    columns = [
        "n",
        "slow run",
        "cause (profile)",
        "remedy",
        "changed lines",
        "ms before",
        "ms after",
        "speed-up [95 % CI]",
    ]
    assert header == [*columns, "loss rel. diff", "status"]  # results/remedies.md's columns
    fused = {row[0]: dict(zip(header, row, strict=True)) for row in rows if row[3] == "torch/layers_fused"}
    assert list(fused) == ["200", "1,000,000"]  # n = 1,000 is neither the smallest nor the largest: not shown
    keys = ("ms before", "ms after", "speed-up [95 % CI]", "loss rel. diff", "status")
    assert [fused["200"][key] for key in keys] == [
        "4",
        "1",
        "4.00x (no interval: under 3 repeats)",
        "3.0e-07",
        "ok",
    ]
    assert (
        fused["1,000,000"]["speed-up [95 % CI]"].startswith("1.25x") and "fused=True" in fused["200"]["changed lines"]
    )
    assert {row[-1] for row in rows if row[3] != "torch/layers_fused"} == {"not benchmarked"}
    assert body.endswith("no run (tensorflow/fit_dataset, keras_jax/fit not in this benchmark at n = 200).")
    # When and where: the four timed runs (n = 200 and 1e6), not the n = 1,000 pair.
    assert "Runs finished 2026-12-01 10:50 to 2026-12-01 10:55 UTC on Linux-test, x86_64, 2 CPUs" in body
    assert "as the runs started: 8.0 to 13.0" in body and "1 round(s) x 3 repeat(s) of 20 epochs, 4 of" in body


def test_remedies_inputs_missing_or_unpaired_are_named(remedies_dir):
    for job in (remedies_dir / "results/bench").glob("n*/*/round*/*.json"):
        record = json.loads(job.read_text())
        job.write_text(json.dumps({"results": [r for r in record["results"] if r["variant"] == "layers"]}))
    with pytest.raises(doc_tables.TablesError, match=r"bench: no remedy benchmarked beside the run it remedies"):
        doc_tables.remedies_section(remedies_dir)
    with pytest.raises(doc_tables.TablesError, match=r"no remedy benchmarked .*run `\.venv/bin/snakemake bench"):
        doc_tables.remedies_section(remedies_dir / "elsewhere")


def profile_of(framework, variant, n, *, epoch_s, cpu_s, faults, busy, load=6.5, xla_modules=()):
    """A profile's Markdown as `snakemake profile` writes it (`profiling.to_markdown`), with chosen figures."""
    return profiling.to_markdown(
        profiling.Profile(
            framework=framework,
            variant=variant,
            n=n,
            epochs=2,
            warmup_epochs=1,
            epoch_s=[epoch_s, epoch_s],
            profiled_epoch_s=[2 * epoch_s] * 2,
            groups=dict.fromkeys(profiling.GROUPS, epoch_s),
            top_own=[],
            top_cumulative=[],
            torch_ops=[],
            gc_s=0.0,
            load_average=[load, 1.0, 1.0],
            version="1.0",
            cpu_s=cpu_s,
            system_s=0.0,
            page_faults=faults,
            os_threads=4,
            busy_threads=busy,
            xla_modules=list(xla_modules),
        )
    )


def xla_module(name, kernels, passes, read, written):
    return dict(
        module=name, kernels=kernels, fusions=1, passes=passes, arrays_read=read, arrays_written=written, parallel=0
    )


@pytest.fixture
def profile_dir(tmp_path):
    """What `snakemake profile` leaves: profiles at the dataset's n (ignored) and at two large n."""
    profiles = {
        "numpy/scratch.n1000000.md": profile_of(
            "numpy", "scratch", 10**6, epoch_s=1.4e-3, cpu_s=1.3e-3, faults=1921, busy=1
        ),
        "numba/scratch.n1000000.md": profile_of(
            "numba", "scratch", 10**6, epoch_s=9.1e-5, cpu_s=1.15e-4, faults=0, busy=0
        ),
        "jax/scratch.n1000000.md": profile_of(
            "jax",
            "scratch",
            10**6,
            epoch_s=2.3e-3,
            cpu_s=2.338e-3,
            faults=1,
            busy=2,
            load=7.5,
            xla_modules=[
                xla_module("module_0000.jit_convert_element_type.cpu", 1, 0, 0, 0),
                xla_module("module_0002.jit_scratch_train_step.cpu", 8, 5, 7, 2),
                xla_module("module_0004.jit_scratch_train_step.cpu", 8, 5, 7, 2),  # the recompilation: the same
            ],
        ),
        "numpy/scratch.n1000.md": profile_of("numpy", "scratch", 1000, epoch_s=1e-5, cpu_s=1e-5, faults=0, busy=1),
        "numpy/scratch.md": profile_of("numpy", "scratch", 200, epoch_s=1e-5, cpu_s=1e-5, faults=0, busy=1),
    }
    for name, text in profiles.items():
        path = tmp_path / "results/profile" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_profiles_section_gives_each_profile_s_figures_at_the_largest_n_by_cpu_time(profile_dir):
    body = doc_tables.profiles_section(profile_dir)
    runs = by_run(body)
    assert list(runs) == ["numba/scratch", "numpy/scratch", "jax/scratch"]  # by CPU ms per epoch; n = 1e3 left out
    assert list(runs["numpy/scratch"].values())[1:] == ["1.400", "1.300", "1921", "1", ""]
    assert runs["numba/scratch"]["threads at work"] == "0 (under a tick)"
    assert runs["jax/scratch"]["XLA: kernels, passes over n, n-arrays read + written"] == "8, 5, 7 + 2"
    assert "3 profiles at n = 1,000,000; load average (1 min) at each profile's start 6.5 to 7.5" in body


def test_profiles_missing_or_unreadable_are_named(profile_dir):
    path = profile_dir / "results/profile/numba/scratch.n1000000.md"
    path.write_text(path.read_text().replace("Per plain epoch, every thread", "Per epoch"))
    with pytest.raises(doc_tables.TablesError, match=r"numba/scratch\.n1000000\.md: not a profile .*no cpu_ms"):
        doc_tables.profiles_section(profile_dir)
    with pytest.raises(doc_tables.TablesError, match=r"profile: no profile at a large n .*snakemake profile"):
        doc_tables.profiles_section(profile_dir / "elsewhere")


# --- the pages -----------------------------------------------------------------------------------------------


def test_sections_are_rewritten_between_their_markers_only_and_check_sees_drift(run_dir, tmp_path):
    pages = tmp_path / "repo"
    (pages / "docs").mkdir(parents=True)
    (pages / "README.md").write_text(PAGE.format(name="runs") + "\n" + PAGE.format(name="time_to_solution"))
    (pages / "docs/timing.md").write_text(PAGE.format(name="time_to_solution"))
    args = ("--root", str(run_dir), "--pages", str(pages), "--max-load", "10", "runs", "time_to_solution")
    check = tool(*args, "--check")
    assert check.returncode == 1 and "README.md: its measured tables differ" in check.stderr
    assert tool(*args).returncode == 0
    readme, timing = (pages / "README.md").read_text(), (pages / "docs/timing.md").read_text()
    assert readme.startswith("# Title\n\nBefore.\n\n<!-- doc_tables:runs:start -->\n<!-- Generated by")
    assert "old table" not in readme + timing and "| keras_torch/fit | shared draw |" in readme
    assert timing.endswith("-->\n\nAfter.\n") and "| torch/scratch | MSE | 0.01, 7 | 0.5 s (epoch 2) |" in timing
    assert tool(*args, "--check").returncode == 0 and tool("--verify", "--pages", str(pages)).returncode == 0
    assert tool(*args).returncode == 0 and (pages / "README.md").read_text() == readme  # idempotent
    assert tool(*args, "nosuch").returncode == 2  # no such generator: argparse names it


def test_a_section_no_page_has_and_unpaired_markers_are_named(run_dir, tmp_path):
    (tmp_path / "README.md").write_text(PAGE.format(name="runs"))
    done = tool("--root", str(run_dir), "--pages", str(tmp_path), "--max-load", "10", "time_to_solution")
    assert done.returncode == 2 and "no page has a section 'time_to_solution'" in done.stderr
    with pytest.raises(doc_tables.TablesError, match="page: 1 doc_tables markers, 0 whole sections"):
        doc_tables.sections("text\n<!-- doc_tables:runs:start -->\nno end\n")
    with pytest.raises(doc_tables.TablesError, match="section 'runs' ends with the end marker of 'bench'"):
        doc_tables.sections("<!-- doc_tables:runs:start -->\nx\n<!-- doc_tables:bench:end -->\n")


def test_verify_names_hand_edits_unknown_sections_and_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    body = "<!-- Generated -->\n| a |\n|---|\n| 1 |"
    sealed = doc_tables.render("runs", body)
    (tmp_path / "docs/a.md").write_text(
        '# A\n\n## Two words\n\n## Two words\n\n<a id="here"></a>\n\n'
        "[ok](../README.md#the-top) [dup](#two-words-1) [html](#here) [web](https://example.org/x)\n\n"
        "`[code](nowhere.md)`\n\n"
        "```\n[fenced](nowhere.md)\n```\n\n[ref]: ../README.md\n"
    )
    (tmp_path / "README.md").write_text(f"# The top\n\n[a](docs/a.md#two-words)\n\n{sealed}\n")
    assert doc_tables.seal_problems(tmp_path) == [] and doc_tables.broken_links(tmp_path) == []

    (tmp_path / "README.md").write_text(
        f"# The top\n\n[a](docs/a.md#three-words) [b](docs/b.md) [out](../../etc/passwd) [c](#top)\n\n"
        f"{sealed.replace('| 1 |', '| 2 |')}\n\n{doc_tables.render('nosuch', body)}\n"
    )
    links = doc_tables.broken_links(tmp_path)
    assert links == [
        "README.md: link 'docs/a.md#three-words': no heading #three-words in docs/a.md",
        "README.md: link 'docs/b.md': no file docs/b.md",
        "README.md: link '../../etc/passwd' leads out of the repository",
        "README.md: link '#top': no heading #top in README.md",
    ]
    seals = doc_tables.seal_problems(tmp_path)
    assert len(seals) == 2 and "section 'runs' differs from what its generator wrote" in seals[0]
    assert (
        "section 'nosuch' names no generator (known: runs, time_to_solution, then_vs_now, idioms, timeline, bench, "
        "remedies, profiles, memory, era_memory, gpu, width)" in seals[1]
    )
    done = tool("--verify", "--pages", str(tmp_path))
    assert done.returncode == 1 and done.stderr.count("doc_tables: ") == 6


def test_github_anchors():
    assert doc_tables.slug("What lands in `results/`") == "what-lands-in-results"
    assert (
        doc_tables.slug("`containers`: the images (`--use-singularity`)") == "containers-the-images---use-singularity"
    )
    assert doc_tables.slug("2020 idioms, run in [both](x.md) eras") == "2020-idioms-run-in-both-eras"


def test_every_page_is_as_its_generators_wrote_it_and_every_relative_link_resolves():
    names = {str(path.relative_to(ROOT)) for path in doc_tables.pages()}
    assert {"README.md", "config/README.md", "tests/README.md", "containers/README.md", "docs/contract.md"} <= names
    assert doc_tables.seal_problems() == []
    assert doc_tables.broken_links() == []


def test_a_section_s_skeleton_is_its_form_without_its_numbers():
    body = "Runs finished 2026-12-01 on x.\n\n| run | a |\n|---|---|\n| r1 | fails: x \\| y |\n| r2 | 3 |\n"
    assert doc_tables.skeleton(body) == ["Runs finished #", "| run | a |", "|---|---|", "| rows of 2 cells |"]
    assert doc_tables.skeleton(body.replace("| run | a |", "| run | b |")) != doc_tables.skeleton(body)


@pytest.mark.e2e
def test_every_section_of_the_default_run_has_the_form_its_generator_gives_on_a_real_run(tiny_run):
    """The pages describe other runs than the tests' tiny one; their form must still be what the generator
    writes today, so a changed generator fails here until the pages are regenerated. (The then-and-now
    sections: tests/then/test_then_run.py, on its own run; the bench's: no test runs the bench for real.)"""
    found = set()
    for path in doc_tables.pages():
        for section in doc_tables.sections(path.read_text(), str(path)):
            if doc_tables.RUN_OF[section.name].startswith(doc_tables.DEFAULT_COMMAND):  # the default pipeline
                assert doc_tables.skeleton(section.body) == doc_tables.skeleton(
                    doc_tables.GENERATORS[section.name](tiny_run)
                ), path
                found.add(section.name)
    assert found == {"runs", "time_to_solution", "memory"}


def test_every_generator_writes_a_section_of_some_page_and_says_which_run_it_reads():
    names = {s.name for path in doc_tables.pages() for s in doc_tables.sections(path.read_text(), str(path))}
    assert names == set(doc_tables.GENERATORS) == set(doc_tables.RUN_OF)


def configured_runs(*files: str) -> list[str]:
    """framework/variant of every run, the config files merged key by key as Snakemake merges them."""
    runs: dict = {}
    for file in files:
        for framework, variants in yaml.safe_load((ROOT / file).read_text())["runs"].items():
            runs.setdefault(framework, {}).update(variants)
    return [f"{framework}/{variant}" for framework, variants in runs.items() for variant in variants]


@pytest.mark.parametrize(
    "name, configs",
    [("runs", ["config/config.yaml"]), ("time_to_solution", ["config/config.yaml", "config/converged.yaml"])],
)
def test_each_section_lists_exactly_the_runs_of_the_config_it_describes(name, configs):
    bodies = [s.body for path in doc_tables.pages() for s in doc_tables.sections(path.read_text()) if s.name == name]
    assert bodies
    for body in bodies:
        assert sorted(by_run(body)) == sorted(configured_runs(*configs))  # in the pipeline's order
        assert re.search(r"Runs finished \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC on .*, \d+ CPUs", body)


@pytest.fixture
def timeline_dir(tmp_path):
    """What `snakemake timeline` leaves: timeline.csv, and each era's run result and profile."""
    results = [
        timeline_result("torch", "scratch", "then", "1.7.1", epoch_s=0.002),
        timeline_result("torch", "scratch", "now", "2.13.0+cpu", epoch_s=0.001),
        timeline_result("tensorflow", "fit", "then", "2.3.4", [2.0, 1.0], epoch_s=0.001, loss_name="mae"),
        timeline_result("tensorflow", "fit", "tf2.15", "2.15.1", [2.0, 1.0], epoch_s=0.0011, loss_name="mae"),
        timeline_result("tensorflow", "fit", "now", "2.21.0", [2.0, 1.0], epoch_s=0.02, loss_name="mae"),
    ]
    for index, run in enumerate(results):
        run["finished_utc"] = f"2026-12-01T11:0{index}:00+00:00"
        era, name = run["era"]["name"], f"{run['framework']}/{run['variant']}"
        for kind, document in (("runs", run), ("profiles", profile(run["timings"]["epoch_s"]["median"]))):
            path = tmp_path / "results/eras" / era / kind / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document))
    frame = timeline.table(results, ["then", "tf2.15", "now"], {"tf2.15": {"size_bytes": 1.29e9}})
    frame.to_csv(tmp_path / "results/timeline.csv", index=False)  # as timeline_table does
    return tmp_path


def test_era_memory_section_gives_each_run_s_peak_per_release_and_the_keras_3_step(timeline_dir):
    frame = pd.read_csv(timeline_dir / "results/timeline.csv")
    # tensorflow/fit on TensorFlow 2.21 (Keras 3) holds 100 MB more after its import than on 2.15 (Keras 2).
    later = (frame["run"] == "tensorflow/fit") & (frame["era"] == "now")
    frame.loc[later, ["peak_rss_after_training_bytes", "framework_rss_bytes"]] += 100e6
    frame.loc[frame["era"] == "tf2.15", "keras_version"] = "2.15.0"  # TensorFlow 2.15 came with Keras 2
    frame.to_csv(timeline_dir / "results/timeline.csv", index=False)
    body = doc_tables.era_memory_section(timeline_dir)
    rows = by_run(next(block for block in body.split("\n\n") if block.startswith("|")))
    assert list(rows["tensorflow/fit"].values()) == ["tensorflow/fit", "220 (170)", "220 (170)", "320 (270)"]
    assert rows["torch/scratch"]["tf2.15"] == ""  # no torch run on that era
    assert (
        "(TensorFlow 2.15, Keras 2.15.0 to TensorFlow 2.21, Keras 3.15.1), the import's share went from 170 to" in body
    )
    assert "270 MB (median over the TensorFlow runs), and each run's peak changed by 1.45x to 1.45x." in body


def test_timeline_section_has_every_run_and_release_each_run_s_step_and_the_environments(timeline_dir):
    body = doc_tables.timeline_section(timeline_dir)
    blocks = [block for block in body.split("\n\n") if block.startswith("|")]
    runs, steps = blocks[0], blocks[1]
    assert [f"{row[0]} {row[1]}" for row in table_rows(runs)[2:]] == [
        "torch/scratch then",
        "torch/scratch now",
        "tensorflow/fit then",
        "tensorflow/fit tf2.15",
        "tensorflow/fit now",
    ]
    assert table_rows(runs)[5][2] == "tensorflow 2.15.1 (2023-11-14)"
    assert by_run(steps)["tensorflow/fit"]["to"] == "2.21 (now)" and by_run(steps)["tensorflow/fit"][
        "ratio [95 % CI]"
    ] == ("18.18x (no interval: under 3 repeats)")
    assert "**tensorflow/fit: 2.15 to 2.21**" in body
    assert "| tf2.15 | 1.29 |" in body
    (timeline_dir / "results/eras/tf2.15/profiles/tensorflow/fit.json").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"tf2\.15/profiles/tensorflow/fit\.json: missing; run `"):
        doc_tables.timeline_section(timeline_dir)
    (timeline_dir / "results/timeline.csv").write_text("run,era\n")
    with pytest.raises(doc_tables.TablesError, match=r"timeline\.csv: not a timeline table"):
        doc_tables.timeline_section(timeline_dir)


def test_the_timeline_page_holds_what_its_text_says():
    """docs/timeline.md: every run on every release of the default timeline, all agreeing with today's, and
    tensorflow/fit's biggest step at TensorFlow 2.16 (Keras 3), confirmed by its profiles: the data pipeline."""
    (body,) = section_bodies("timeline")
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())["eras"]
    runs = table_rows([block for block in body.split("\n\n") if block.startswith("|")][0])[2:]
    assert sorted({row[1] for row in runs}) == sorted(config["timeline"])
    assert {row[0] for row in runs} == set(config["runs"]) and len(runs) == 33
    assert all(row[-1].endswith("(agrees)") for row in runs)
    steps = by_run([block for block in body.split("\n\n") if block.startswith("| run | from")][0])
    assert (
        steps["tensorflow/fit"]["from"] == "2.15 (tf2.15)" and steps["tensorflow/fit"]["to"] == "2.16 (tf2.16-torch2.4)"
    )
    explained = body.split("**tensorflow/fit: 2.15 to 2.16**")[1].split("\n\n")[1]
    assert ": the same step). Under cProfile the groups that moved most: data pipeline +" in explained


def section_bodies(name: str) -> list[str]:
    return [s.body for path in doc_tables.pages() for s in doc_tables.sections(path.read_text()) if s.name == name]


def test_the_then_and_now_sections_list_the_era_runs_in_both_eras_and_every_one_agrees():
    """docs/then-and-now.md says the results still hold: every run of `eras.runs`, in both eras, agreeing."""
    then_runs = yaml.safe_load((ROOT / "config/config.yaml").read_text())["eras"]["runs"]
    bodies = section_bodies("then_vs_now")
    assert bodies
    for body in bodies:
        runs, compared = (block for block in body.split("\n\n") if block.startswith("|"))
        assert [f"{row[0]} {row[1]}" for row in table_rows(runs)[2:]] == [
            f"{run} {era}" for run in then_runs for era in then_vs_now.ERAS
        ]
        assert list(by_run(compared)) == then_runs
        assert all(row["agree"].startswith("yes") for row in by_run(compared).values())
        assert re.search(r"Runs finished \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC on .*, \d+ CPUs", body)


def test_the_idioms_section_shows_every_idiom_of_the_code():
    bodies = section_bodies("idioms")
    assert bodies
    for body in bodies:
        assert [row[0] for row in table_rows(body)[2:]] == [idiom.then_code for idiom in idioms.IDIOMS]


def test_the_bench_section_lists_the_configured_bench_runs():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())["bench"]
    expected = [f"{framework}/{variant}" for framework, variants in config["runs"].items() for variant in variants]
    expected += [
        f"{framework}/{variant} (nondeterministic)"
        for framework, variants in (config.get("nondeterministic") or {}).items()
        for variant in variants
    ]
    bodies = section_bodies("bench")
    assert bodies
    for body in bodies:
        assert sorted(by_run(body)) == sorted([*expected, "memory pass (bound)"])
        assert re.search(r"Runs finished \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC on .*, \d+ CPUs", body)


def test_the_remedies_section_has_the_form_its_generator_gives(remedies_dir):
    bodies = section_bodies("remedies")
    assert bodies
    for body in bodies:
        assert doc_tables.skeleton(body) == doc_tables.skeleton(doc_tables.remedies_section(remedies_dir))


# --- what the pages claim ------------------------------------------------------------------------------------


def schema_keys(node: dict, prefix: str, definitions: dict) -> list[str]:
    """Every key the schema allows, dotted; the top-level `training` block's keys are those of its definition
    (under `bench.training` and `eras.training` the same keys are overrides, explained with `training`); the
    entries of a mapping by name (`eras.environments`) are NAME."""
    keys = []
    for name, value in node.get("properties", {}).items():
        key = prefix + name
        keys.append(key)
        references = [value.get("$ref"), *(part.get("$ref") for part in value.get("allOf", []))]
        if not prefix and "#/definitions/training" in references:
            keys += schema_keys(definitions["training"], f"{key}.", definitions)
        elif value.get("type") == "object" and "properties" in value:
            keys += schema_keys(value, f"{key}.", definitions)
        elif isinstance(value.get("additionalProperties"), dict) and "properties" in value["additionalProperties"]:
            keys += schema_keys(value["additionalProperties"], f"{key}.NAME.", definitions)
    return keys


def test_config_readme_explains_every_key_of_the_schema():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    keys = schema_keys(schema, "", schema["definitions"])
    assert {"dataset.n", "training.lr", "bench.training", "eras.environments.NAME.python", "profile.epochs"} <= set(
        keys
    )
    text = (ROOT / "config/README.md").read_text()
    documented = set(re.findall(r"`([a-z_]+(?:\.(?:[a-z_]+|NAME))*)`", text))
    missing = [key for key in keys if key not in documented]
    assert not missing, f"config/README.md does not explain: {missing}"


def test_the_readme_is_a_short_front_door_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "./setup.sh && .venv/bin/snakemake --cores 2 " in readme
    assert "./setup.sh --tests && .venv/bin/python -m pytest " in readme
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert "./setup.sh --tests && .venv/bin/python -m pytest" in ci


def test_tests_readme_names_every_test_file():
    text = (ROOT / "tests/README.md").read_text()
    files = sorted(p.relative_to(ROOT / "tests") for p in (ROOT / "tests").glob("test_*.py"))
    assert files and not [str(f) for f in files if f"({f})" not in text]
    for stage in ("containers", "slurm", "then"):
        assert f"({stage})" in text and f"(../.ci/{stage}.sh)" in text
