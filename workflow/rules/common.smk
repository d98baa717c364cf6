import json
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "lib"))
from tale_of_two.config import (  # noqa: E402
    ConfigError,
    check_config,
    framework_files,
    put_interpreter_first_on_path,
)
from tale_of_two.eras import interpreter, missing_interpreter_message  # noqa: E402
from tale_of_two.fit.workloads import WORKLOADS, workload_of  # noqa: E402

# Types and ranges (the schema), then every check across keys; the schema's defaults are filled in.
try:
    RESOLVED = check_config(config)
except ConfigError as error:
    raise WorkflowError(f"config: {error}") from None
DATASET = RESOLVED.dataset  # every DatasetSpec field
MLP_DATASET = RESOLVED.mlp_dataset  # every MLPDatasetSpec field: the data of the mlp_* runs
TRAINING = RESOLVED.training  # every Settings field: a run that overrides nothing
RUNS = RESOLVED.runs
BENCH_JOBS = RESOLVED.bench_jobs
PROFILE_RUNS = RESOLVED.profile_runs

FRAMEWORKS = sorted({framework for framework, _ in RUNS} | {key[-1] for key in BENCH_JOBS})
VARIANTS = sorted({variant for _, variant in RUNS} | {variant for _, _, variant in PROFILE_RUNS})
RUN_RESULTS = [f"results/runs/{framework}/{variant}.json" for framework, variant in RUNS]
# The runs of each workload (tale_of_two.fit.workloads: an mlp_* variant fits the MLP, any other the line).
LINE_RUN_RESULTS = [f"results/runs/{f}/{v}.json" for f, v in RUNS if workload_of(v) == "line"]
MLP_RUN_RESULTS = [f"results/runs/{f}/{v}.json" for f, v in RUNS if workload_of(v) == "mlp"]
ANALYSIS_CONTAINER = config["containers"].get("analysis")
PLOTS = expand("results/plots/{plot}.png", plot=["fits", "losses", "timings"])
REPOSITORY = Path(workflow.basedir)
WORKFLOW_DIR = REPOSITORY / "workflow"
TRAIN_SCRIPT = WORKFLOW_DIR / "scripts" / "train.py"
RESULT_SCHEMA = WORKFLOW_DIR / "schemas" / "result.schema.json"
FRAMEWORK_MODULES = sorted({path for framework, _ in RUNS for path in framework_files(framework)})

# Jobs' `python` is the environment running Snakemake (it has the frameworks), activated or not. Inside a
# container apptainer does not pass the host's PATH in, and conda puts its env first: they use their own.
put_interpreter_first_on_path(sys.executable)


wildcard_constraints:
    framework="|".join(FRAMEWORKS),
    variant="|".join(VARIANTS),
    n=r"\d+",


def run_settings(wildcards):
    return RUNS[(wildcards.framework, wildcards.variant)]


def settings_json(wildcards):
    return json.dumps(run_settings(wildcards), sort_keys=True)


def dataset_file(workload, suffix):
    """results/data/dataset.{npz,json} for the line, results/data/mlp.{npz,json} for the MLP."""
    return f"results/data/{WORKLOADS[workload]}.{suffix}"


def run_dataset(suffix):
    """An input function: the data file (`npz` or `json`) of the workload the run's variant fits."""
    return lambda wildcards: dataset_file(workload_of(wildcards.variant), suffix)


# The MLP's data, wherever a rule reads every run (nothing when no mlp_* run is configured).
MLP_DATA = {"mlp_arrays": dataset_file("mlp", "npz"), "mlp_metadata": dataset_file("mlp", "json")}
MLP_DATA = MLP_DATA if MLP_RUN_RESULTS else {}


def framework_env(wildcards):
    return f"../../envs/{wildcards.framework}.yaml"


def training_code(wildcards):
    """The code that fits: editing it reruns the affected jobs."""
    lib = WORKFLOW_DIR / "lib" / "tale_of_two" / "fit"
    return [
        lib / "harness.py",
        lib / "data.py",
        lib / "workloads.py",
        lib / "era.py",
        lib / "cli.py",
        *framework_files(wildcards.framework),
    ]


def framework_container(wildcards):
    return config["containers"].get(wildcards.framework)


def gpus_requested(wildcards):
    """Schedule a GPU for jobs that must have one (device: cuda); `auto` takes one only if it is there."""
    return 1 if run_settings(wildcards)["device"] == "cuda" else 0


# --- Eras (workflow/rules/eras.smk): the `eras.runs` on other releases, each era an environment of its own ---
ERAS = RESOLVED.eras
ERA_RUNS = RESOLVED.era_runs
TIMELINE = (config.get("eras") or {}).get("timeline") or []
ERA_NAMES = "|".join(re.escape(name) for name in ERAS) or "no-eras"


def era_outputs(eras, kind):
    """Each era's result files of `kind` (runs, profiles): the runs whose framework the era pins."""
    return [
        f"results/eras/{era}/{kind}/{framework}/{variant}.json"
        for era in eras
        for framework, variant in ERA_RUNS
        if framework in ERAS[era].frameworks
    ]


def era_environment_record(wildcards):
    """The record of the era's .venv-NAME, for the eras the pipeline builds: the environment is built first."""
    era = ERAS[wildcards.era]
    return [str(REPOSITORY / f".venv-{era.name}" / "era.json")] if era.built_here else []


def era_python(wildcards):
    """The era's interpreter: its .venv-NAME, or the configured one (checked here, with how to make it)."""
    era = ERAS[wildcards.era]
    path = interpreter(era.interpreter, REPOSITORY)
    if not era.built_here and "/" in path and not Path(path).exists():
        raise WorkflowError(missing_interpreter_message(era.name, path))
    return path


def era_env(wildcards):
    era = ERAS[wildcards.era]
    if era.name != "now":
        return era.conda
    return framework_env(wildcards) if "framework" in wildcards.keys() else "../../envs/idioms.yaml"


def era_container(wildcards):
    era = ERAS[wildcards.era]
    if era.name != "now":
        return era.container
    return framework_container(wildcards) if "framework" in wildcards.keys() else None


def era_settings(wildcards):
    return json.dumps(ERA_RUNS[(wildcards.framework, wildcards.variant)], sort_keys=True)


# The scaling benchmark (workflow/rules/bench.smk): its processes, round by round.
BENCH_ROUNDS = config.get("bench", {}).get("rounds", 1)
BENCH_TRAIN_SCRIPT = WORKFLOW_DIR / "scripts" / "bench_train.py"


def bench_output(n, mode, round_, framework):
    return f"results/bench/n{n}/{mode}/round{round_}/{framework}.json"


BENCH_OUTPUTS = [
    bench_output(n, mode, round_, framework)
    for round_ in range(BENCH_ROUNDS)
    for n, mode, framework in BENCH_JOBS
]
# The size axis (full batch at every n) and the mini-batch axis (modes batch<B>), summarised apart.
BENCH_SIZE_OUTPUTS = [
    bench_output(n, mode, round_, framework)
    for round_ in range(BENCH_ROUNDS)
    for n, mode, framework in BENCH_JOBS
    if not mode.startswith("batch")
]
BENCH_BATCH_OUTPUTS = sorted(set(BENCH_OUTPUTS) - set(BENCH_SIZE_OUTPUTS))


def previous_round(wildcards):
    """Every job of the round before: rounds run one after another."""
    round_ = int(wildcards.round)
    return [bench_output(*job[:2], round_ - 1, job[2]) for job in BENCH_JOBS] if round_ else []


def bench_job(wildcards):
    return BENCH_JOBS[(int(wildcards.n), wildcards.mode, wildcards.framework)]


def bench_environment():
    """`bench.environment` as a shell prefix (`env NAME=value ...`), or nothing."""
    variables = (config.get("bench") or {}).get("environment") or {}
    return (
        "env " + " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
        if variables
        else ""
    )


# The model-size axis (workflow/rules/bench.smk): the MLP at each hidden width, its processes round by round.
WIDTH_JOBS = RESOLVED.width_jobs


def width_output(width, round_, framework):
    return f"results/bench/width/w{width}/round{round_}/{framework}.json"


WIDTH_ROUNDS = config.get("bench", {}).get("width_rounds", 1)
WIDTH_OUTPUTS = [
    width_output(width, round_, framework)
    for round_ in range(WIDTH_ROUNDS)
    for width, framework in WIDTH_JOBS
]


def width_job(wildcards):
    return WIDTH_JOBS[(int(wildcards.width), wildcards.framework)]


def previous_width_round(wildcards):
    """Every width job of the round before: rounds run one after another."""
    round_ = int(wildcards.round)
    return [width_output(*job[:1], round_ - 1, job[1]) for job in WIDTH_JOBS] if round_ else []


def width_environment():
    """bench.environment, and numpy's OpenBLAS held to one thread: the compute bound is one thread's, as each
    framework's step (threads: 1)."""
    prefix = bench_environment() or "env"
    return f"{prefix} OPENBLAS_NUM_THREADS=1"


def profile_settings(wildcards):
    """A profiled run's settings at another n than the dataset's (workflow/rules/profile.smk)."""
    return PROFILE_RUNS[(int(wildcards.n), wildcards.framework, wildcards.variant)]
