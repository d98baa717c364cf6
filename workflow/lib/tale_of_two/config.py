"""Checking and resolving the config: from the config file to the runs and their effective settings.

`check_config` is what Snakemake runs before any job starts (workflow/rules/common.smk), and what the
config fuzzer (tests/test_faults_config.py) calls: a config is either rejected with a `ConfigError` whose
message names the key, or resolved to complete, valid settings for every run.

The JSON schema checks types and ranges key by key. Defaults come from the code, one place each:
`Settings` (fit/harness.py) for every training key, `DatasetSpec` (fit/data.py) for the data. Every
check that ties keys together, or that a schema cannot express, is here.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from tale_of_two.fit.data import DatasetSpec
from tale_of_two.fit.harness import Settings
from tale_of_two.fit.workloads import MLPDatasetSpec, workload_of

FRAMEWORKS_DIR = Path(__file__).resolve().parent / "fit" / "frameworks"
ROOT = Path(__file__).resolve().parents[3]  # the repository
ENVS_DIR = ROOT / "envs"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
# Every framework trains in float32: a number the data or the initial draw holds must fit in it.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.401298464324817e-45  # the smallest positive float32 (subnormal)
# y = w x + b + noise: the noise's bound is taken at 10 standard deviations (a normal draw beyond it: p < 2e-23).
NOISE_BOUND_SIGMAS = 10


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


class EraConfigError(ConfigError):
    """An `eras:` config value the workflow cannot run with; the message names the key."""


@dataclass(frozen=True)
class Era:
    """One era of `eras.environments`: where its runs train, and which framework releases it pins."""

    name: str
    requirements: str  # relative to the repository
    python_version: str | None  # what .venv-NAME is built with; None: Snakemake's own environment
    python: str | None  # the configured interpreter; None: .venv-NAME/bin/python, built by the pipeline
    conda: str | None
    container: str | None
    frameworks: dict[str, str]  # framework -> the version its requirements file pins

    @property
    def built_here(self) -> bool:
        """Whether the pipeline builds this era's environment (.venv-NAME) before its jobs run."""
        return self.python is None

    @property
    def interpreter(self) -> str:
        return self.python or f".venv-{self.name}/bin/python"


@dataclass(frozen=True)
class Resolved:
    """What a checked config resolves to: complete settings for everything the workflow runs."""

    dataset: dict  # every DatasetSpec field
    mlp_dataset: dict  # every MLPDatasetSpec field: the data of the MLP's runs (variants mlp_*)
    training: dict  # every Settings field: the settings of a run that overrides nothing
    runs: dict[tuple[str, str], dict]  # (framework, variant) -> settings
    bench_jobs: dict[tuple[int, str, str], dict]  # (n, mode, framework) -> {variant: settings}
    width_jobs: dict[tuple[int, str], dict]  # (hidden width, framework) -> {variant: settings}: the MLP's size axis
    era_runs: dict[tuple[str, str], dict]  # (framework, variant) -> settings in every era
    eras: dict[str, Era]  # name -> era, in config order
    profile_runs: dict[tuple[int, str, str], dict]  # (n, framework, variant) -> settings, for `snakemake profile`


def check_config(
    config, schema_path: Path = SCHEMA_PATH, frameworks_dir: Path = FRAMEWORKS_DIR, root: Path = ROOT
) -> Resolved:
    """Check `config` (a dict as Snakemake loaded it) and resolve it, or raise a `ConfigError` naming the key.

    The schema's defaults (outside `training` and `dataset`, whose defaults are the code's) are written into
    `config` where a key is missing, as `snakemake.utils.validate` does, and so, once checked, are `training`'s
    and `dataset`'s from `Settings` and `DatasetSpec`: what the report's captions read of `config` is what ran.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"config: must be a mapping of keys to values; got {type(config).__name__}")
    check_keys_and_numbers(config)
    check_schema(config, schema_path)
    runs = resolve_runs(config, frameworks_dir)
    bench_jobs = resolve_bench_jobs(config, frameworks_dir)
    width_jobs = resolve_width_jobs(config, frameworks_dir)
    check_environment_files(
        sorted({framework for framework, _ in runs} | {key[-1] for key in bench_jobs} | {f for _, f in width_jobs})
    )
    resolved = Resolved(
        dataset=resolve_dataset(config),
        mlp_dataset=resolve_mlp_dataset(config),
        training=resolve_training(config),
        runs=runs,
        bench_jobs=bench_jobs,
        width_jobs=width_jobs,
        era_runs=resolve_era_runs(config, runs),
        eras=resolve_eras(config, root),
        profile_runs=resolve_profile_runs(config, frameworks_dir),
    )
    config["dataset"], config["training"] = dict(resolved.dataset), dict(resolved.training)
    return resolved


def dotted(path) -> str:
    """`['runs', 'torch', 'scratch', 'lr']` as `runs.torch.scratch.lr`; list indices as `[i]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def check_keys_and_numbers(node, path: tuple = ()) -> None:
    """Every mapping key a string (YAML reads `1:`, `on:` or `null:` as other types), every number finite."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise ConfigError(f"{dotted(path)}: key {key!r} ({type(key).__name__}) must be a string")
            check_keys_and_numbers(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_keys_and_numbers(value, (*path, index))
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{dotted(path)}: {node} is not a finite number")


@functools.lru_cache(maxsize=8)
def _validator(schema_path: str, mtime_ns: int):
    """The schema's own draft, except that `integer` means an int (JSON Schema also takes 2.0, and `range(2.0)`
    does not), and that a missing key with a `default` gets it (as `snakemake.utils.validate` does)."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    base = jsonschema.validators.validator_for(schema)
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    check_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    extended = jsonschema.validators.extend(base, {"properties": properties_with_defaults}, type_checker=checker)
    return extended(schema)


def check_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Types and ranges, key by key; the message names the key as a path and as Snakemake's validate does."""
    path = Path(schema_path)
    validator = _validator(str(path), path.stat().st_mtime_ns)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = "".join(f"[{part!r}]" for part in error.absolute_path)
        raise ConfigError(f"{dotted(error.absolute_path)}: {error.message} (On instance{where})")


@functools.lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int) -> ast.Module:
    return ast.parse(Path(path).read_text(), filename=path)


def parse_module(path: Path) -> ast.Module:
    """A framework module's syntax tree, parsed once per version of the file (the config is checked often)."""
    return _parsed(str(path), path.stat().st_mtime_ns)


def resolve_dataset(config: dict, key: str = "dataset") -> dict:
    """The data recipe: `DatasetSpec`'s defaults under the config's `dataset`, checked."""
    dataset = {**dataclasses.asdict(DatasetSpec()), **config["dataset"]}
    if dataset["x_low"] >= dataset["x_high"]:
        raise ConfigError(f"{key}.x_low ({dataset['x_low']}) must be below {key}.x_high ({dataset['x_high']})")
    reach = max(abs(dataset["x_low"]), abs(dataset["x_high"]))
    bound = abs(dataset["w_true"]) * reach + abs(dataset["b_true"]) + NOISE_BOUND_SIGMAS * dataset["noise_std"]
    if not bound <= FLOAT32_MAX or not reach <= FLOAT32_MAX:
        raise ConfigError(
            f"{key}: x_low, x_high, w_true, b_true and noise_std give |x| up to {reach:.3g} and |y| up to "
            f"{bound:.3g}, beyond float32's range ({FLOAT32_MAX:.3g}), which every framework trains in"
        )
    return dataset


def resolve_mlp_dataset(config: dict) -> dict:
    """The MLP's data recipe: `MLPDatasetSpec`'s defaults under the config's `mlp_dataset` (the schema bounds it)."""
    return {**dataclasses.asdict(MLPDatasetSpec()), **(config.get("mlp_dataset") or {})}


def workload_n(config: dict, variant: str) -> int:
    """The number of points the variant's workload trains on: `dataset.n`, or `mlp_dataset.n` for an mlp_* run."""
    return resolve_mlp_dataset(config)["n"] if workload_of(variant) == "mlp" else resolve_dataset(config)["n"]


def resolve_training(config: dict) -> dict:
    """The settings of a run that overrides nothing: `Settings`' defaults under the config's `training`."""
    defaults = {**dataclasses.asdict(Settings()), "hidden": list(Settings.hidden)}  # a list, as YAML and JSON write it
    return {**defaults, **(config.get("training") or {})}


def check_settings(
    settings: dict, n: int, key: str, framework: str, frameworks_dir: Path = FRAMEWORKS_DIR, data: str = "dataset"
) -> None:
    """The checks that tie a run's settings to each other, to the data (`data`, of n points) and to its framework."""
    if not FLOAT32_TINY <= settings["lr"] <= FLOAT32_MAX:
        raise ConfigError(
            f"{key}: lr {settings['lr']} is 0 or infinite in float32, the precision every framework steps in"
        )
    batch_size = settings["batch_size"]
    if batch_size is not None and batch_size > n:
        raise ConfigError(f"{key}: batch_size {batch_size} is larger than {data}.n = {n}")
    if settings["init_low"] >= settings["init_high"]:
        raise ConfigError(f"{key}: init_low ({settings['init_low']}) must be below init_high ({settings['init_high']})")
    if not max(abs(settings["init_low"]), abs(settings["init_high"])) <= FLOAT32_MAX:
        raise ConfigError(
            f"{key}: init_low ({settings['init_low']}) and init_high ({settings['init_high']}) must lie within "
            f"float32's range ({FLOAT32_MAX:.3g}): w and b start as float32"
        )
    if settings["warmup_epochs"] >= settings["epochs"]:
        raise ConfigError(
            f"{key}: warmup_epochs ({settings['warmup_epochs']}) must be below epochs ({settings['epochs']}), "
            "or no epoch is left to time"
        )
    if not settings["deterministic"] and not has_nondeterministic_mode(framework, frameworks_dir):
        raise ConfigError(
            f"{key}: deterministic: false, but framework {framework!r} has no non-deterministic mode "
            "(its `configure` takes no `deterministic`)"
        )


def available_frameworks(frameworks_dir: Path = FRAMEWORKS_DIR) -> list[str]:
    """Every framework module; a leading underscore marks a helper module shared by several."""
    return sorted(p.stem for p in frameworks_dir.glob("*.py") if not p.stem.startswith("_"))


def variant_classes(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[str, str]:
    """`VARIANTS = {name: Class}` in the framework's module, as names, read without importing the framework."""
    module = frameworks_dir / f"{framework}.py"
    if framework.startswith("_") or not module.is_file():
        known = available_frameworks(frameworks_dir)
        raise ConfigError(f"runs.{framework}: unknown framework {framework!r}; known: {', '.join(known)}")
    for node in parse_module(module).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "VARIANTS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return {
                key.value: value.id
                for key, value in zip(node.value.keys, node.value.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(value, ast.Name)
            }
    raise ConfigError(f"{module}: no `VARIANTS = {{...}}` dict literal at module level")


def framework_files(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> list[Path]:
    """The framework's module and every framework module it imports, transitively (helpers like `_keras_fit.py`,
    or `tensorflow.py` for `keras_tensorflow`): the code a run of it executes, besides the harness."""
    found, queue = [], [framework]
    while queue:
        name = queue.pop(0)
        path = frameworks_dir / f"{name}.py"
        if path in found:
            continue
        found.append(path)
        for node in ast.walk(parse_module(path)):
            if isinstance(node, ast.ImportFrom) and node.module == "tale_of_two.fit.frameworks":
                queue += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tale_of_two.fit.frameworks."):
                queue.append(node.module.rsplit(".", 1)[1])
    return found


def check_environment_files(frameworks, envs_dir: Path = ENVS_DIR) -> None:
    """Every framework a job runs has its `envs/<framework>.yaml`: Snakemake reads a job's `conda:` file even
    without `--sdm conda` (to record it once the job is done), so a missing one fails only after training."""
    missing = [framework for framework in frameworks if not (envs_dir / f"{framework}.yaml").is_file()]
    if missing:
        raise ConfigError(
            "no environment file for "
            + ", ".join(f"framework {framework!r} ({envs_dir / framework}.yaml)" for framework in missing)
            + f"; every framework that runs needs one: copy {envs_dir / 'numpy.yaml'} and list its packages"
        )


def declared_variants(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> list[str]:
    """The variant names the framework's module declares, sorted."""
    return sorted(variant_classes(framework, frameworks_dir))


def has_nondeterministic_mode(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> bool:
    """Whether the framework's `configure` takes `deterministic` (what the harness asks it), read without importing:
    a `def configure` in its module, or one it imports under that name from another framework module."""
    module, function = framework, "configure"
    for _ in range(len(available_frameworks(frameworks_dir)) + 8):  # at most one hop per module
        path = frameworks_dir / f"{module}.py"
        tree = parse_module(path)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                return "deterministic" in [arg.arg for arg in node.args.args + node.args.kwonlyargs]
        imported = [
            (node.module.rsplit(".", 1)[1], alias.name)
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tale_of_two.fit.frameworks.")
            for alias in node.names
            if (alias.asname or alias.name) == function
        ]
        if not imported:
            return False
        module, function = imported[0]
    return False


def resolve_runs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[str, str], dict]:
    """{(framework, variant): effective training settings}, in config order: `Settings`' defaults, then the
    config's `training`, then the run's overrides."""
    training = resolve_training(config)
    runs = {}
    for framework, variants in config["runs"].items():
        known = declared_variants(framework, frameworks_dir)
        for variant, overrides in variants.items():
            n = workload_n(config, variant)
            key = f"runs.{framework}.{variant}"
            if variant not in known:
                raise ConfigError(
                    f"{key}: unknown variant {variant!r} for framework {framework!r}; known: {', '.join(known)}"
                )
            settings = {**training, **(overrides or {})}
            data = "mlp_dataset" if workload_of(variant) == "mlp" else "dataset"
            check_settings(settings, n, key, framework, frameworks_dir, data)
            runs[(framework, variant)] = settings
    return runs


def resolve_era_runs(config: dict, runs: dict) -> dict[tuple[str, str], dict]:
    """{(framework, variant): settings} of the runs that also train in other eras, from `eras:`.

    Each is a run of `runs:` (given here resolved, as {(framework, variant): settings}), with
    `eras.training` applied on top; every era runs it with these settings, checked as any run's are.
    """
    eras = config.get("eras") or {}
    overrides = eras.get("training") or {}
    n = resolve_dataset(config)["n"]
    resolved = {}
    for index, run in enumerate(eras.get("runs") or []):
        framework, _, variant = run.partition("/")
        if (framework, variant) not in runs:
            known = ", ".join(f"{f}/{v}" for f, v in runs)
            raise EraConfigError(f"eras.runs[{index}]: {run!r} is not a run of `runs:`; known: {known}")
        settings = {**runs[(framework, variant)], **overrides}
        try:
            check_settings(settings, n, f"eras.runs[{index}] ({run})", framework)
        except ConfigError as error:
            raise EraConfigError(f"{error} once eras.training is applied") from None
        resolved[(framework, variant)] = settings
    return resolved


# A requirements file's pin of a framework: `torch==1.10.2`, `tensorflow-cpu==2.6.5` (a lock's line ends in " \").
FRAMEWORK_PIN = re.compile(r"^(torch|tensorflow|tensorflow-cpu)==([^\s;\\]+)", re.IGNORECASE | re.MULTILINE)


def pinned_frameworks(requirements: str) -> dict[str, str]:
    """{framework: version} of the torch and TensorFlow pins in a requirements file's text."""
    found = {}
    for package, version in FRAMEWORK_PIN.findall(requirements):
        found["torch" if package.lower() == "torch" else "tensorflow"] = version.split("+")[0]
    return found


def resolve_eras(config: dict, root: Path = ROOT) -> dict[str, Era]:
    """{name: Era} of `eras.environments`, each with the framework releases its requirements file pins.

    `then` and `now` must be there (`snakemake then_vs_now` sets them side by side) and pin every framework of
    `eras.runs`; each era of `eras.timeline` must be one of them and pin at least one.
    """
    section = config.get("eras")
    if not section:
        return {}
    environments = section["environments"]
    for required in ("then", "now"):
        if required not in environments:
            raise EraConfigError(
                f"eras.environments: no {required!r}: `snakemake then_vs_now` sets `then` (the 2020 versions) "
                "beside `now` (this environment)"
            )
    eras = {}
    for name, entry in environments.items():
        key = f"eras.environments.{name}"
        path = root / entry["requirements"]
        if not path.is_file():
            raise EraConfigError(f"{key}.requirements: {entry['requirements']} is not a file (relative to {root})")
        frameworks = pinned_frameworks(path.read_text())
        if entry.get("python") is None and entry.get("python_version") is None:
            raise EraConfigError(
                f"{key}: give python_version (what .venv-{name} is built with) or python (an interpreter to use)"
            )
        eras[name] = Era(
            name=name,
            requirements=entry["requirements"],
            python_version=entry.get("python_version"),
            python=entry.get("python"),
            conda=entry.get("conda"),
            container=entry.get("container"),
            frameworks=frameworks,
        )
    needed = sorted({run.partition("/")[0] for run in section.get("runs") or []})
    for name in ("then", "now"):
        missing = [framework for framework in needed if framework not in eras[name].frameworks]
        if missing:
            raise EraConfigError(
                f"eras.environments.{name}: {eras[name].requirements} pins no {missing[0]}, "
                f"and eras.runs trains {missing[0]} in every era of then_vs_now"
            )
    for index, name in enumerate(section.get("timeline") or []):
        if name not in eras:
            known = ", ".join(eras)
            raise EraConfigError(f"eras.timeline[{index}]: no era {name!r} in eras.environments; known: {known}")
        if not any(framework in eras[name].frameworks for framework in needed):
            raise EraConfigError(
                f"eras.timeline[{index}]: {name}'s {eras[name].requirements} pins none of the frameworks of "
                f"eras.runs ({', '.join(needed)})"
            )
    return eras


def put_interpreter_first_on_path(interpreter: str) -> None:
    """Make `python` in job shell commands the environment running Snakemake, activated or not."""
    directory = str(Path(interpreter).parent)
    os.environ["PATH"] = os.pathsep.join([directory, os.environ.get("PATH", "")])


def resolve_bench_runs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str, str], dict]:
    """{(n, framework, variant): settings} for the scaling benchmark: every bench run at every size."""
    bench = config.get("bench")
    if not bench:
        return {}
    runs = {}
    for n in bench["sizes"]:
        sized = {
            "dataset": {**(config.get("dataset") or {}), "n": n},
            "training": {**(config.get("training") or {}), **(bench.get("training") or {})},
            "runs": bench["runs"],
        }
        try:
            resolved = resolve_runs(sized, frameworks_dir)
        except ConfigError as error:
            raise ConfigError(f"bench (n = {n}): {error}") from None
        runs.update({(n, framework, variant): settings for (framework, variant), settings in resolved.items()})
    return runs


BENCH_MODES = ("deterministic", "nondeterministic")


def resolve_bench_jobs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str, str], dict]:
    """{(n, mode, framework): {variant: settings}}: the benchmark's processes, one per size, mode and framework.

    A process runs its framework's variants with their repeats interleaved. `bench.runs` run as configured
    (deterministic by default); `bench.nondeterministic` runs again with `deterministic: false`, in processes
    of their own, since determinism is set once per process. The mode is read from each run's settings.
    The mini-batch axis (`resolve_batch_jobs`) adds a mode per batch size.
    """
    bench = config.get("bench")
    if not bench:
        return {}
    jobs: dict[tuple[int, str, str], dict] = {}
    for key, forced in (("runs", {}), ("nondeterministic", {"deterministic": False})):
        entries = {
            framework: {variant: {**(overrides or {}), **forced} for variant, overrides in variants.items()}
            for framework, variants in (bench.get(key) or {}).items()
        }
        resolved = resolve_bench_runs({**config, "bench": {**bench, "runs": entries}}, frameworks_dir)
        for (n, framework, variant), settings in resolved.items():
            mode = BENCH_MODES[0] if settings["deterministic"] else BENCH_MODES[1]
            job = jobs.setdefault((n, mode, framework), {})
            if variant in job:
                raise ConfigError(f"bench.{key}.{framework}.{variant}: already benchmarked {mode}ally")
            job[variant] = settings
    jobs.update(resolve_batch_jobs(config, frameworks_dir))
    return jobs


def batch_mode(batch_size: int | None) -> str:
    """The mode (a folder of results/bench/n{n}/) of the mini-batch axis' runs at one batch size."""
    return "batchfull" if batch_size is None else f"batch{batch_size}"


def resolve_batch_jobs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str, str], dict]:
    """The mini-batch axis: every `bench.runs` run again at n = `bench.batch_n`, once per `bench.batch_sizes`
    entry (null: full batch), deterministic, each batch size in processes of its own (mode `batch<B>`)."""
    bench = config.get("bench") or {}
    sizes = bench.get("batch_sizes") or []
    if not sizes:
        return {}
    if "batch_n" not in bench:
        raise ConfigError("bench.batch_sizes: needs bench.batch_n, the one n the batch sizes run at")
    n = bench["batch_n"]
    jobs: dict[tuple[int, str, str], dict] = {}
    for batch_size in sizes:
        if batch_size is not None and batch_size > n:
            raise ConfigError(f"bench.batch_sizes: {batch_size} is larger than bench.batch_n = {n}")
        training = {**(config.get("training") or {}), **(bench.get("training") or {}), "batch_size": batch_size}
        sized = {**config, "bench": {**bench, "sizes": [n], "training": training}}
        for (_, framework, variant), settings in resolve_bench_runs(sized, frameworks_dir).items():
            job = jobs.setdefault((n, batch_mode(batch_size), framework), {})
            job[variant] = {**settings, "batch_size": batch_size}
    return jobs


def resolve_width_jobs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str], dict]:
    """The model-size axis: every `bench.width_runs` run (MLP variants) with `bench.width_layers` hidden layers of
    each of `bench.widths`, at n = `bench.width_n` of the MLP's data, full batch unless set; one process per width
    and framework, its variants' repeats interleaved (the remedies beside the runs they remedy)."""
    bench = config.get("bench") or {}
    widths = bench.get("widths") or []
    if not widths:
        return {}
    for key in ("width_n", "width_runs"):
        if key not in bench:
            raise ConfigError(f"bench.widths: needs bench.{key}")
    layers = bench.get("width_layers", 2)
    training = {**(config.get("training") or {}), **(bench.get("width_training") or {})}
    jobs: dict[tuple[int, str], dict] = {}
    for width in widths:
        sized = {
            **config,
            "mlp_dataset": {**(config.get("mlp_dataset") or {}), "n": bench["width_n"]},
            "training": training,
            "runs": bench["width_runs"],
        }
        try:
            resolved = resolve_runs(sized, frameworks_dir)
        except ConfigError as error:
            raise ConfigError(f"bench.width_runs (width {width}): {error}") from None
        for (framework, variant), settings in resolved.items():
            if workload_of(variant) != "mlp":
                raise ConfigError(
                    f"bench.width_runs.{framework}.{variant}: not an MLP variant (mlp_*): the width axis sizes the MLP"
                )
            jobs.setdefault((width, framework), {})[variant] = {**settings, "hidden": [width] * layers}
    return jobs


def profile_sizes(config: dict) -> list[int]:
    """`profile.sizes`; null (the default): the dataset's n and the bench's largest n."""
    sizes = (config.get("profile") or {}).get("sizes")
    if sizes is None:
        bench_sizes = (config.get("bench") or {}).get("sizes") or []
        sizes = [resolve_dataset(config)["n"], *([max(bench_sizes)] if bench_sizes else [])]
    return sorted(set(sizes))


def resolve_profile_runs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str, str], dict]:
    """{(n, framework, variant): settings} that `snakemake profile` profiles, at each of `profile_sizes`.

    At the dataset's n: every default run, as it trains. At any other n: every `bench.runs` run, with the
    bench's settings at that n (its data is the bench's dataset of that size): the runs the scaling
    benchmark times, where its large-n numbers need explaining.
    """
    runs = {}
    for n in profile_sizes(config):
        if n == resolve_dataset(config)["n"]:
            resolved = {(n, *key): settings for key, settings in resolve_runs(config, frameworks_dir).items()}
        elif config.get("bench"):
            resolved = resolve_bench_runs({**config, "bench": {**config["bench"], "sizes": [n]}}, frameworks_dir)
        else:
            raise ConfigError(f"profile.sizes: n = {n} is not dataset.n and there is no bench: block to take runs from")
        runs.update(resolved)
    return runs
