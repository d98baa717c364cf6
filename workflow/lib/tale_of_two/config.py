"""Resolving the config: from a validated config to the runs and their effective settings.

The JSON schema checks types and ranges key by key; this checks what a schema cannot:
that each framework and variant exists, and rules that tie keys together.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

FRAMEWORKS_DIR = Path(__file__).resolve().parent / "fit" / "frameworks"
ENVS_DIR = Path(__file__).resolve().parents[3] / "envs"


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


def available_frameworks(frameworks_dir: Path = FRAMEWORKS_DIR) -> list[str]:
    """Every framework module; a leading underscore marks a helper module shared by several."""
    return sorted(p.stem for p in frameworks_dir.glob("*.py") if not p.stem.startswith("_"))


def variant_classes(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[str, str]:
    """`VARIANTS = {name: Class}` in the framework's module, as names, read without importing the framework."""
    module = frameworks_dir / f"{framework}.py"
    if framework.startswith("_") or not module.is_file():
        known = available_frameworks(frameworks_dir)
        raise ConfigError(f"runs.{framework}: unknown framework {framework!r}; known: {', '.join(known)}")
    for node in ast.parse(module.read_text(), filename=str(module)).body:
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
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
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


def resolve_runs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[str, str], dict]:
    """{(framework, variant): effective training settings}, in config order."""
    dataset = config["dataset"]
    if dataset["x_low"] >= dataset["x_high"]:
        raise ConfigError(f"dataset.x_low ({dataset['x_low']}) must be below dataset.x_high ({dataset['x_high']})")
    runs = {}
    for framework, variants in config["runs"].items():
        known = declared_variants(framework, frameworks_dir)
        for variant, overrides in variants.items():
            key = f"runs.{framework}.{variant}"
            if variant not in known:
                raise ConfigError(
                    f"{key}: unknown variant {variant!r} for framework {framework!r}; known: {', '.join(known)}"
                )
            settings = {**config["training"], **(overrides or {})}
            batch_size = settings["batch_size"]
            if batch_size is not None and batch_size > dataset["n"]:
                raise ConfigError(f"{key}: batch_size {batch_size} is larger than dataset.n = {dataset['n']}")
            if settings["init_low"] >= settings["init_high"]:
                raise ConfigError(
                    f"{key}: init_low ({settings['init_low']}) must be below init_high ({settings['init_high']})"
                )
            if settings["warmup_epochs"] >= settings["epochs"]:
                raise ConfigError(
                    f"{key}: warmup_epochs ({settings['warmup_epochs']}) must be below epochs ({settings['epochs']}), "
                    "or no epoch is left to time"
                )
            runs[(framework, variant)] = settings
    return runs


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
            "dataset": {**config["dataset"], "n": n},
            "training": {**config["training"], **bench.get("training", {})},
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
        training = {**config["training"], **bench.get("training", {}), "batch_size": batch_size}
        sized = {**config, "bench": {**bench, "sizes": [n], "training": training}}
        for (_, framework, variant), settings in resolve_bench_runs(sized, frameworks_dir).items():
            job = jobs.setdefault((n, batch_mode(batch_size), framework), {})
            job[variant] = {**settings, "batch_size": batch_size}
    return jobs


def profile_sizes(config: dict) -> list[int]:
    """`profile.sizes`; null (the default): the dataset's n and the bench's largest n."""
    sizes = (config.get("profile") or {}).get("sizes")
    if sizes is None:
        bench_sizes = (config.get("bench") or {}).get("sizes") or []
        sizes = [config["dataset"]["n"], *([max(bench_sizes)] if bench_sizes else [])]
    return sorted(set(sizes))


def resolve_profile_runs(config: dict, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[tuple[int, str, str], dict]:
    """{(n, framework, variant): settings} that `snakemake profile` profiles, at each of `profile_sizes`.

    At the dataset's n: every default run, as it trains. At any other n: every `bench.runs` run, with the
    bench's settings at that n (its data is the bench's dataset of that size): the runs the scaling
    benchmark times, where its large-n numbers need explaining.
    """
    runs = {}
    for n in profile_sizes(config):
        if n == config["dataset"]["n"]:
            resolved = {(n, *key): settings for key, settings in resolve_runs(config, frameworks_dir).items()}
        elif config.get("bench"):
            resolved = resolve_bench_runs({**config, "bench": {**config["bench"], "sizes": [n]}}, frameworks_dir)
        else:
            raise ConfigError(f"profile.sizes: n = {n} is not dataset.n and there is no bench: block to take runs from")
        runs.update(resolved)
    return runs
