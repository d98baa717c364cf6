"""From config to runs: overrides merge, unknown names and inconsistent values are named."""

import copy
import dataclasses

import pytest
import yaml
from conftest import ROOT

from tale_of_two.analysis.remedies import declared as declared_remedies
from tale_of_two.config import (
    ConfigError,
    available_frameworks,
    check_config,
    check_environment_files,
    declared_variants,
    resolve_bench_jobs,
    resolve_bench_runs,
    resolve_profile_runs,
    resolve_runs,
)
from tale_of_two.fit.data import DatasetSpec
from tale_of_two.fit.harness import Settings

DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())
# Settings' defaults as the config resolves them: the MLP's hidden widths as a list, as YAML and JSON write it.
DEFAULTS = {**dataclasses.asdict(Settings()), "hidden": list(Settings().hidden)}


def config(**changes):
    cfg = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value
    return cfg


def test_default_config_is_the_article_s_five_runs_and_the_numpy_reference():
    runs = resolve_runs(DEFAULT)
    remedies = {(framework, remedy) for framework, remedy, _, _ in declared_remedies()}  # tests/test_remedies.py
    # The MLP's runs (tests/test_mlp.py): mlp_scratch and mlp_layers in four frameworks, Keras fit on two backends.
    mlp = [run for run in runs if run[1].startswith("mlp_")]
    assert sorted(mlp) == sorted(
        [(f, v) for f in ("torch", "tensorflow", "numpy", "jax") for v in ("mlp_scratch", "mlp_layers")]
        + [("keras_torch", "mlp_fit"), ("keras_jax", "mlp_fit")]
    )
    assert all(runs[run]["init"] == "uniform" and runs[run]["hidden"] == [16, 16] for run in mlp)
    assert [run for run in runs if run not in remedies and run not in mlp] == [
        ("torch", "scratch"),
        ("torch", "layers"),
        ("tensorflow", "scratch"),
        ("tensorflow", "layers"),
        ("tensorflow", "fit"),
        ("numpy", "scratch"),
        ("numba", "scratch"),
        ("jax", "scratch"),
        ("jax", "layers"),
        ("keras_torch", "fit"),
        ("keras_jax", "fit"),
    ]
    assert runs[("torch", "scratch")]["epochs"] == 500 and runs[("torch", "layers")]["epochs"] == 1500
    assert runs[("tensorflow", "fit")]["epochs"] == 500 and runs[("tensorflow", "fit")]["batch_size"] is None
    assert all(settings["lr"] == 0.001 for run, settings in runs.items() if run not in mlp)
    assert runs[("torch", "layers")]["init"] == "framework" and runs[("torch", "scratch")]["init"] == "uniform"


def test_article_dataset_settings():
    assert DEFAULT["dataset"] | {"seed": None} == {
        "n": 200,
        "w_true": 0.1,
        "b_true": 0.3,
        "x_low": -10.0,
        "x_high": 10.0,
        "noise_std": 0.15,
        "dtype": "float32",
        "seed": None,
    }


def test_null_overrides_mean_the_defaults():
    # config/config.yaml sets no training key: every default is Settings' (the one place defaults live).
    runs = resolve_runs(config(runs={"torch": {"scratch": None}}))
    assert runs[("torch", "scratch")] == DEFAULTS | DEFAULT["training"]


def test_unknown_framework_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"runs\.mxnet: unknown framework 'mxnet'; known: .*tensorflow.*torch"):
        resolve_runs(config(runs={"mxnet": {"scratch": {}}}))


def test_unknown_variant_is_named_with_the_known_ones():
    with pytest.raises(
        ConfigError,
        match=r"runs\.torch\.fit: unknown variant 'fit' for framework 'torch'; "
        r"known: layers, layers_compiled, layers_foreach, layers_fused, mlp_layers, mlp_layers_fused, mlp_scratch, "
        r"mlp_scratch_compiled, scratch, scratch_compiled",
    ):
        resolve_runs(config(runs={"torch": {"fit": {}}}))


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"training__batch_size": 500}, r"runs\.torch\.scratch: batch_size 500 is larger than dataset\.n = 200"),
        ({"training__init_low": 0.5}, r"init_low \(0\.5\) must be below init_high"),
        ({"training__warmup_epochs": 500}, r"runs\.torch\.scratch: warmup_epochs \(500\) must be below epochs"),
        ({"dataset__x_low": 10.0}, r"dataset\.x_low \(10\.0\) must be below dataset\.x_high"),
    ],
)
def test_inconsistent_values_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        resolve_runs(config(**changes))


def test_declared_variants_are_read_without_importing(tmp_path):
    (tmp_path / "fake.py").write_text("import not_installed\nVARIANTS = {'b': B, 'a': A}\n")
    assert declared_variants("fake", tmp_path) == ["a", "b"]
    (tmp_path / "bare.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match="no `VARIANTS"):
        declared_variants("bare", tmp_path)


def test_bench_runs_every_run_at_every_size_with_bench_settings():
    runs = resolve_bench_runs(DEFAULT)
    sizes = DEFAULT["bench"]["sizes"]
    per_size = sum(len(variants) for variants in DEFAULT["bench"]["runs"].values())
    assert len(runs) == len(sizes) * per_size
    assert {n for n, _, _ in runs} == set(sizes)
    settings = runs[(sizes[0], "torch", "scratch_compiled")]
    assert settings["epochs"] == DEFAULT["bench"]["training"]["epochs"] and settings["lr"] == 0.001


def test_bench_size_smaller_than_a_batch_is_named():
    cfg = config(bench__sizes=[10, 1000], bench__training={"batch_size": 100, "epochs": 20, "warmup_epochs": 2})
    with pytest.raises(ConfigError, match=r"bench \(n = 10\): runs\.numpy\.scratch: batch_size 100 is larger"):
        resolve_bench_runs(cfg)


def test_every_framework_has_its_environment_file():
    check_environment_files(available_frameworks())


def test_a_framework_without_its_environment_file_is_named(tmp_path):
    (tmp_path / "numpy.yaml").write_text("dependencies: [numpy]\n")
    check_environment_files(["numpy"], tmp_path)
    with pytest.raises(ConfigError, match=r"no environment file for framework 'mine' \(.*/mine\.yaml\)") as error:
        check_environment_files(["numpy", "mine"], tmp_path)
    assert "'numpy'" not in str(error.value)


def test_the_mini_batch_axis_runs_every_bench_run_at_one_n_per_batch_size_in_processes_of_its_own():
    cfg = config(bench__batch_n=4096, bench__batch_sizes=[None, 1024, 32])
    jobs = resolve_bench_jobs(cfg)
    batch_jobs = {key: job for key, job in jobs.items() if key[1].startswith("batch")}
    assert {mode for _, mode, _ in batch_jobs} == {"batchfull", "batch1024", "batch32"}
    assert {n for n, _, _ in batch_jobs} == {4096}
    assert len(batch_jobs) == 3 * len(DEFAULT["bench"]["runs"])
    assert batch_jobs[(4096, "batch32", "torch")]["scratch_compiled"]["batch_size"] == 32
    assert batch_jobs[(4096, "batchfull", "torch")]["scratch_compiled"]["batch_size"] is None
    assert set(batch_jobs[(4096, "batch32", "tensorflow")]) == set(DEFAULT["bench"]["runs"]["tensorflow"])
    # the size axis is untouched: full batch at every size
    assert all(
        s["batch_size"] is None for (_, mode, _), job in jobs.items() if "batch" not in mode for s in job.values()
    )


def test_the_mini_batch_axis_names_a_missing_n_and_a_batch_larger_than_it():
    bench = {k: v for k, v in DEFAULT["bench"].items() if k != "batch_n"}
    with pytest.raises(ConfigError, match=r"bench.batch_sizes: needs bench.batch_n"):
        resolve_bench_jobs({**DEFAULT, "bench": {**bench, "batch_sizes": [32]}})
    with pytest.raises(ConfigError, match=r"bench.batch_sizes: 8192 is larger than bench.batch_n = 4096"):
        resolve_bench_jobs(config(bench__batch_n=4096, bench__batch_sizes=[8192]))


def test_profiles_default_to_the_article_s_n_and_the_bench_s_largest():
    runs = resolve_profile_runs(DEFAULT)
    largest = max(DEFAULT["bench"]["sizes"])
    assert {n for n, _, _ in runs} == {DEFAULT["dataset"]["n"], largest}
    at_article = {(f, v) for n, f, v in runs if n == DEFAULT["dataset"]["n"]}
    assert at_article == set(resolve_runs(DEFAULT))  # the default runs, as they train
    at_largest = {(f, v): s for (n, f, v), s in runs.items() if n == largest}
    assert ("torch", "scratch_compiled") in at_largest and ("tensorflow", "scratch_xla") in at_largest
    assert at_largest[("torch", "scratch_compiled")]["epochs"] == DEFAULT["bench"]["training"]["epochs"]


def test_profile_sizes_are_a_setting_and_need_a_bench_beyond_the_dataset_s_n():
    assert {n for n, _, _ in resolve_profile_runs(config(profile__sizes=[10000]))} == {10000}
    without_bench = {k: v for k, v in config(profile__sizes=[200, 5000]).items() if k != "bench"}
    with pytest.raises(ConfigError, match=r"profile.sizes: n = 5000 is not dataset.n and there is no bench"):
        resolve_profile_runs(without_bench)


@pytest.mark.parametrize(
    "changes,message",
    [
        # Each of these was accepted before check_config, and failed later, inside a job (or gave NaN data).
        ({"dataset__x_low": float("nan")}, r"^dataset\.x_low: nan is not a finite number$"),
        ({"training__lr": float("inf")}, r"^training\.lr: inf is not a finite number$"),
        ({"training__epochs": 2.0}, r"^training\.epochs: 2\.0 is not of type 'integer'"),
        ({"bench__rounds": 2.0}, r"^bench\.rounds: 2\.0 is not of type 'integer'"),
        ({"runs": {1: {"scratch": {}}}}, r"^runs: key 1 \(int\) must be a string$"),
        ({"eras__training": {"batch_size": 500}}, r"^eras\.runs\[0\] \(torch/scratch\): batch_size 500 is larger"),
        ({"runs": {"numpy": {"scratch": {"deterministic": False}}}}, r"^runs\.numpy\.scratch: deterministic: false"),
        ({"bench__nondeterministic": {"numpy": {"scratch": {}}}}, r"^bench \(n = 200\): runs\.numpy\.scratch: det"),
        ({"dataset__x_high": 1e300}, r"^dataset: x_low, x_high, .* beyond float32's range"),
        ({"training__init_high": 1e39}, r"^runs\.torch\.scratch: init_low \(-0\.1\) and init_high \(1e\+39\) must lie"),
        ({"training__lr": 1e-320}, r"^runs\.torch\.scratch: lr 1e-320 is 0 or infinite in float32"),
        ({"training__seed": 2**32}, r"^training\.seed: 4294967296 is greater than the maximum of 4294967295"),
        ({"dataset__n": 10**7 + 1}, r"^dataset\.n: 10000001 is greater than the maximum of 10000000"),
        ({"bench__sizes": [200, 10**8]}, r"^bench\.sizes\[1\]: 100000000 is greater than the maximum of 10000000"),
        # Eras: each names its key; the requirements file is read before any job (it says which runs train).
        ({"eras__timeline": ["then", "tf3.0", "now"]}, r"^eras\.timeline\[1\]: no era 'tf3\.0' in eras\.environments"),
        ({"eras__environments__tf2.15__requirements": "envs/eras/no.txt"}, r"^eras\.environments\.tf2\.15\.requirem"),
        ({"eras__environments__tf2.15__python_version": None}, r"^eras\.environments\.tf2\.15: give python_version"),
        ({"eras__environments__then__requirements": "envs/eras/tf2.15.txt"}, r"^eras\.environments\.then: .* no torch"),
        (
            {"eras__environments__tf2.15__python_version": "3"},
            r"^eras\.environments\.tf2\.15\.python_version: '3' does",
        ),
    ],
)
def test_values_a_job_could_not_run_with_are_named_before_any_job(changes, message):
    with pytest.raises(ConfigError, match=message):
        check_config(config(**changes))


def test_an_era_without_then_and_now_is_named():
    cfg = config()
    del cfg["eras"]["environments"]["then"]
    with pytest.raises(ConfigError, match=r"^eras\.environments: no 'then': `snakemake then_vs_now` sets"):
        check_config(cfg)


def test_the_default_timeline_spans_six_tensorflow_and_five_torch_releases_each_pinned_by_its_era():
    eras = check_config(config()).eras
    timeline = DEFAULT["eras"]["timeline"]
    releases = {
        framework: [eras[name].frameworks[framework] for name in timeline if framework in eras[name].frameworks]
        for framework in ("tensorflow", "torch")
    }
    assert releases == {
        "tensorflow": ["2.3.4", "2.6.5", "2.9.3", "2.12.1", "2.15.1", "2.16.2", "2.21.0"],
        "torch": ["1.7.1", "1.10.2", "1.13.1", "2.0.1", "2.4.1", "2.13.0"],
    }
    assert timeline[0] == "then" and timeline[-1] == "now"  # oldest first, today's last: the losses' reference
    assert eras["now"].python == "python" and not eras["now"].built_here
    assert all(eras[name].built_here for name in timeline[:-1])


def test_check_config_resolves_every_default_from_the_code():
    cfg = config()
    del cfg["profile"], cfg["bench"]["rounds"]
    resolved = check_config(cfg)
    assert resolved.training == DEFAULTS  # config/config.yaml sets no training key
    assert resolved.dataset == dataclasses.asdict(DatasetSpec())  # and the article's data are DatasetSpec's
    assert resolved.runs == resolve_runs(DEFAULT) and resolved.era_runs[("torch", "layers")]["epochs"] == 1500
    # the schema's own defaults, filled in
    assert cfg["profile"] == {"epochs": 20, "sizes": None} and cfg["bench"]["rounds"] == 1
