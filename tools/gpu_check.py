"""The GPU leg in one command: every GPU-capable run, at the article's n and at large n, on one device.

    python3 tools/gpu_check.py --out DIR                  # on a machine with a CUDA GPU (docs/gpu.md)
    python3 tools/gpu_check.py --out DIR --device cpu --sizes 200,1000 --epochs 6   # the same path, no GPU

No Snakemake: each framework runs in a process of its own (Keras holds one backend per process), through
`tale_of_two.fit.gpu`, which calls the harness's `measure` and `document`. DIR gets one result file per run and
n, DIR/n{n}/{framework}/{variant}.json (result.schema.json, with a `gpu_check` record), and DIR/gpu_check.json:
what ran, what was skipped and why, and how long the check took. Without the device asked for, the check stops
before any run with the framework's DeviceUnavailable error and writes nothing: DIR is made only at the end.
Then `tools/doc_tables.py gpu` writes docs/gpu.md's section from docs/gpu-results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "lib"))

from tale_of_two.fit import data, gpu, harness  # noqa: E402

GPU_SIZES = "200,1e6,1e7,1e8"  # the article's n, and up to 800 MB of x and y, where HBM bandwidth bounds an epoch
CPU_SIZES = "200,1000"
NO_DEVICE = 3  # a process's exit status for DeviceUnavailable: the whole check stops, nothing written
CHILD_ENV = {"PYTHONUNBUFFERED": "1"}  # torch's configure sets cuBLAS's workspace for deterministic mode itself


def sizes(text: str) -> tuple:
    return tuple(int(float(size)) for size in text.split(","))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="the folder to write (made at the end, must not hold files)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--sizes", type=sizes, help=f"n, comma-separated (default {GPU_SIZES} on cuda, {CPU_SIZES} on cpu)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup-epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="each framework's CPU threads (default: all)")
    p.add_argument(
        "--cpu-epochs-large-n", type=int, default=10, help=f"epochs of the CPU runs above n = {gpu.LARGE_N:.0e}"
    )
    p.add_argument("--runs", default="", help="frameworks or framework/variant, comma-separated (default: all)")
    p.add_argument("--budget-s", type=float, default=420.0, help="start no run after this many seconds")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # one framework's runs, in a process of its own
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)  # does every backend see the device?
    p.add_argument("--stage", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    return p


def plan(args) -> gpu.Plan:
    settings = harness.Settings(
        epochs=args.epochs,
        repeats=args.repeats,
        warmup_epochs=args.warmup_epochs,
        device=args.device,
        threads=args.threads,
    )
    only = tuple(run for run in args.runs.split(",") if run)
    return gpu.Plan(args.sizes, settings, args.cpu_epochs_large_n, only)


def frameworks(args) -> list[str]:
    only = {run.split("/")[0] for run in args.runs.split(",") if run}
    return [framework for framework in gpu.BACKEND_OF if not only or framework in only]


# --- in the child processes ---------------------------------------------------------------------------------------

PROBES = {  # each backend's configure, importing no more than the backend
    "torch": "tale_of_two.fit.frameworks.torch",
    "jax": "tale_of_two.fit.frameworks._xla_cpu",
    "tensorflow": "tale_of_two.fit.frameworks.tensorflow",
}


def probe(args) -> int:
    """Every backend the runs use that is installed sees the device; a missing one is the workers' to report."""
    import importlib

    for backend in dict.fromkeys(gpu.BACKEND_OF[framework] for framework in frameworks(args)):
        try:
            module = importlib.import_module(PROBES[backend])
        except ImportError:
            continue
        configure = module.configure_jax if backend == "jax" else module.configure
        try:
            configure(args.device, args.threads)
        except harness.DeviceUnavailable as error:
            print(f"DeviceUnavailable: {error}", file=sys.stderr)
            return NO_DEVICE
    return 0


def worker(args) -> int:
    def write(n, variant, document):
        data.atomic_write_json(args.stage / f"n{n}" / args.worker / f"{variant}.json", document)

    try:
        report = gpu.check_framework(args.worker, plan(args), write, args.deadline)
    except harness.DeviceUnavailable as error:
        print(f"DeviceUnavailable: {error}", file=sys.stderr)
        return NO_DEVICE
    data.atomic_write_json(args.stage / "_reports" / f"{args.worker}.json", report)
    return 0


# --- the command ----------------------------------------------------------------------------------------------


def child(args, *extra: str, stage: Path | None = None, deadline: float | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, __file__, "--out", str(args.out), "--device", args.device, "--runs", args.runs]
    command += ["--sizes", ",".join(map(str, args.sizes)), "--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    command += ["--warmup-epochs", str(args.warmup_epochs), "--threads", str(args.threads)]
    command += ["--cpu-epochs-large-n", str(args.cpu_epochs_large_n), *extra]
    if stage is not None:
        command += ["--stage", str(stage), "--deadline", repr(deadline)]
    env = {**os.environ, **{key: os.environ.get(key, value) for key, value in CHILD_ENV.items()}}
    # stdout and stderr pass through: on a lent device they are the only log there is.
    return subprocess.run(command, env=env, check=False)


def run_check(args) -> int:
    started, clock = datetime.datetime.now(datetime.UTC), time.time()
    if args.out.exists() and any(args.out.iterdir()):
        print(f"gpu_check: {args.out} already holds files: give a new folder", file=sys.stderr)
        return 2
    if args.device == "cuda" and child(args, "--probe").returncode != 0:
        print("gpu_check: stopped before any run; nothing written", file=sys.stderr)
        return 1
    names = frameworks(args)
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as folder:
        stage, reports = Path(folder), []
        for index, framework in enumerate(names):
            # An equal share of what is left of the budget for each framework: a slow one cannot starve the rest.
            left = args.budget_s - (time.time() - clock)
            deadline = time.time() + left / (len(names) - index)
            print(f"gpu_check: {framework} ({left:.0f} s of the budget left)", file=sys.stderr, flush=True)
            done = child(args, "--worker", framework, stage=stage, deadline=deadline)
            if done.returncode == NO_DEVICE:
                print("gpu_check: stopped; nothing written", file=sys.stderr)
                return 1
            path = stage / "_reports" / f"{framework}.json"
            if done.returncode != 0 or not path.exists():
                error = f"its process exited with status {done.returncode} (its stderr above)"
                reports.append(
                    {"framework": framework, "skipped": None, "failed": [{"run": framework, "error": error}]}
                )
                continue
            reports.append({k: v for k, v in data.read_json(path).items() if k != data.SEAL})
        shutil.rmtree(stage / "_reports", ignore_errors=True)
        written = sorted(str(p.relative_to(stage)) for p in stage.glob("n*/*/*.json"))
        manifest = {
            "device": args.device,
            "command": [Path(sys.executable).name, *sys.argv],
            "sizes": list(args.sizes),
            "settings": dataclasses.asdict(plan(args).settings),
            "cpu_epochs_large_n": args.cpu_epochs_large_n,
            "large_n": gpu.LARGE_N,
            "budget_s": args.budget_s,
            "started_utc": started.isoformat(timespec="seconds"),
            "wall_s": round(time.time() - clock, 1),
            "environment": {**harness.environment(), "set": CHILD_ENV},
            "frameworks": reports,
            "results": written,
        }
        data.atomic_write_json(stage / "gpu_check.json", manifest)
        args.out.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.iterdir()):
            shutil.move(str(item), str(args.out / item.name))
    failed = [failure for report in reports for failure in report.get("failed", [])]
    print(f"gpu_check: {len(written)} result files in {args.out}, {len(failed)} failed, {manifest['wall_s']} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.sizes is None:
        args.sizes = sizes(GPU_SIZES if args.device == "cuda" else CPU_SIZES)
    if args.probe:
        return probe(args)
    if args.worker:
        return worker(args)
    return run_check(args)


if __name__ == "__main__":
    sys.exit(main())
