"""Where an epoch's time goes: a variant run for a few epochs under cProfile (and torch.profiler for torch).

cProfile sees every Python function and every call into native code (a "built-in method"), with who
called whom. Each function's own time (not counting what it calls) is put in one group:

* harness: our timing and bookkeeping (`tale_of_two/fit/harness.py`), and anything it calls;
* data pipeline: tf.data and Keras's data adapters and epoch iterators, and anything they call;
* variant code: the article's lines (`tale_of_two/fit/frameworks/`);
* framework Python/dispatch: the framework's own Python (and the standard library it calls): dispatch,
  tracing checks, bookkeeping;
* kernels (native): calls into C/C++, the kernels plus the C++ dispatch in front of them (cProfile cannot
  split the two; torch.profiler's table, where there is one, shows each op's time).

A native call or framework function inherits harness or data pipeline from its nearest caller in those
groups (time split by callers in proportion to the time each call path took).

numpy, the framework and the standard library only: this runs in the same processes as training.
"""

from __future__ import annotations

import cProfile
import dataclasses
import gc
import glob
import os
import pstats
import re
import shutil
import time

import numpy as np

from tale_of_two.fit import data, harness

GROUPS = ("variant code", "framework Python/dispatch", "kernels (native)", "data pipeline", "harness", "other")
CONTEXT_GROUPS = ("harness", "data pipeline")  # groups a callee inherits from its caller
# tf.data, and Keras's data adapters and epoch iterators: Keras 3's, Keras 2's (keras/engine/ from TensorFlow
# 2.6 on, tensorflow/python/keras/engine/ before).
DATA_PIPELINE = re.compile(
    r"tensorflow/python/data/|keras/src/trainers/(data_adapters|epoch_iterator)|keras/engine/data_adapter"
)
FRAMEWORK_PACKAGES = re.compile(r"site-packages/|dist-packages/|/lib/python3\.\d+/")


def own_group(function: tuple[str, int, str]) -> str:
    """The group a function's own code belongs to, from where it is defined."""
    path, _, name = function
    path = path.replace(os.sep, "/")
    if path.endswith("tale_of_two/fit/harness.py"):
        return "harness"
    if "tale_of_two/fit/frameworks/" in path:
        return "variant code"
    if DATA_PIPELINE.search(path):
        return "data pipeline"
    if path == "~":  # cProfile's name for native code: "<built-in method ...>", "<method 'item' of ...>"
        return "kernels (native)"
    if FRAMEWORK_PACKAGES.search(path):
        return "framework Python/dispatch"
    return "other"


def grouped(stats: pstats.Stats, sweeps: int = 100) -> dict[tuple, dict[str, float]]:
    """{function: {group: seconds of its own time}}: its own group, or the context its callers pass down.

    A function's context is the mix of its callers' contexts, weighted by the time each call path took;
    harness and data pipeline functions set their own. Solved by sweeping until nothing changes (the call
    graph's depth; recursion converges too).
    """
    table = stats.stats  # {function: (primitive calls, calls, own time, cumulative time, {caller: timing})}
    fixed = {f: {own_group(f): 1.0} for f in table if own_group(f) in CONTEXT_GROUPS}
    contexts: dict[tuple, dict] = {f: fixed.get(f, {None: 1.0}) for f in table}
    for _ in range(sweeps):
        changed = False
        for function, (_, _, _, _, callers) in table.items():
            if function in fixed:
                continue
            weights = {caller: timing[3] for caller, timing in callers.items() if caller in contexts}
            total = sum(weights.values())
            if total <= 0:
                continue
            mixed: dict = {}
            for caller, weight in weights.items():
                for key, share in contexts[caller].items():
                    mixed[key] = mixed.get(key, 0.0) + share * weight / total
            if any(
                abs(mixed.get(k, 0.0) - contexts[function].get(k, 0.0)) > 1e-9 for k in {*mixed, *contexts[function]}
            ):
                contexts[function], changed = mixed, True
        if not changed:
            break
    out = {}
    for function, (_, _, own, _, _) in table.items():
        base, shares = own_group(function), {}
        for key, share in contexts[function].items():
            group = key if key in CONTEXT_GROUPS else base
            shares[group] = shares.get(group, 0.0) + share * own
        out[function] = shares
    return out


def describe(function: tuple[str, int, str]) -> str:
    path, line, name = function
    if path == "~":
        return name
    parts = path.replace(os.sep, "/").split("/")
    for anchor in ("site-packages", "dist-packages", "lib"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{'/'.join(parts[-3:])}:{line} {name}"


@dataclasses.dataclass
class Profile:
    framework: str
    variant: str
    n: int
    epochs: int
    warmup_epochs: int
    epoch_s: list[float]  # epochs timed without a profiler
    profiled_epoch_s: list[float]  # the same number of epochs under cProfile
    groups: dict[str, float]  # seconds per epoch, under cProfile
    top_own: list[tuple[str, str, float, float]]  # (function, group, own s per epoch, calls per epoch)
    top_cumulative: list[tuple[str, float, float]]  # (function, cumulative s per epoch, calls per epoch)
    torch_ops: list[tuple[str, float, float]]  # (op, self CPU s per epoch, calls per epoch), torch only
    gc_s: float  # garbage collection per profiled epoch (inside the groups: charged to whatever was running)
    load_average: list[float] | None
    version: str
    cpu_s: float = float("nan")  # CPU seconds (user + system, every thread) per plain epoch
    system_s: float = float("nan")  # of which in the kernel (page faults, thread wake-ups)
    page_faults: float = float("nan")  # minor page faults per plain epoch: fresh memory touched for the first time
    os_threads: int | None = None  # threads in the process after training (the framework's pools included)
    busy_threads: int | None = None  # threads that used CPU time during the plain epochs
    malloc: dict = dataclasses.field(default_factory=dict)  # glibc malloc tunables set for this process
    xla_modules: list[dict] = dataclasses.field(default_factory=list)  # `xla_dump_summary`, where XLA dumped
    profiled_s: float = float("nan")  # the whole profile's seconds, loading the data included


def profile(framework: str, variant: str, x: np.ndarray, y: np.ndarray, settings: harness.Settings, epochs: int):
    """Warm up, time `epochs` epochs plainly, then the same under cProfile (and torch.profiler for torch)."""
    module, _ = harness.load_framework(framework)
    runtime = harness.configure(module, framework, settings.device, settings)
    with runtime.scope():
        runtime.seed(settings.seed)
        model = module.VARIANTS[variant](x, y, settings, runtime)
        model.train(settings.warmup_epochs, harness.EpochClock(runtime.sync))  # tracing and compiling: not profiled
        plain = harness.EpochClock(runtime.sync)
        usage, threads = resource_usage(), thread_cpu_ticks()
        plain.start()
        model.train(epochs, plain)
        usage = [(after - before) / epochs for before, after in zip(usage, resource_usage())]
        busy = thread_cpu_ticks()
        busy = None if busy is None or threads is None else sum(1 for t in busy if busy[t] > threads.get(t, 0))
        profiler, profiled, collections = cProfile.Profile(), harness.EpochClock(runtime.sync), GcClock()
        gc.callbacks.append(collections)
        profiled.start()
        profiler.enable()
        model.train(epochs, profiled)
        profiler.disable()
        gc.callbacks.remove(collections)
        torch_ops = profile_torch_ops(model, epochs, runtime) if framework == "torch" else []
    stats = pstats.Stats(profiler)
    by_function = grouped(stats)
    groups = {group: 0.0 for group in GROUPS}
    for shares in by_function.values():
        for group, seconds in shares.items():
            groups[group] += seconds / epochs
    own = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    cumulative = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)[:15]
    return Profile(
        framework=framework,
        variant=variant,
        n=len(x),
        epochs=epochs,
        warmup_epochs=settings.warmup_epochs,
        epoch_s=plain.epoch_times,
        profiled_epoch_s=profiled.epoch_times,
        groups=groups,
        top_own=[
            (describe(f), max(by_function[f], key=by_function[f].get), t[2] / epochs, t[1] / epochs) for f, t in own
        ],
        top_cumulative=[(describe(f), t[3] / epochs, t[1] / epochs) for f, t in cumulative],
        torch_ops=torch_ops,
        gc_s=collections.seconds / epochs,
        load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        version=module.VERSION,
        cpu_s=usage[0] + usage[1],
        system_s=usage[1],
        page_faults=usage[2],
        os_threads=process_threads(),
        busy_threads=busy,
        malloc={name: value for name, value in os.environ.items() if name.startswith("MALLOC_")},
    )


def resource_usage() -> tuple[float, float, float]:
    """(user CPU s, system CPU s, minor page faults) of this process so far, every thread included."""
    try:
        import resource
    except ImportError:  # not on Linux or macOS
        return (float("nan"),) * 3
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, float(usage.ru_minflt)


def thread_cpu_ticks() -> dict[str, int] | None:
    """{thread id: user + system clock ticks} of every thread of this process (Linux's /proc; None elsewhere)."""
    try:
        ticks = {}
        for thread in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{thread}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks[thread] = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
        return ticks
    except OSError:
        return None


def process_threads() -> int | None:
    """The threads this process runs (Linux's /proc; None elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    except (OSError, StopIteration):
        return None


# One HLO instruction of an optimised module: `%name = f32[1000000,1]{1,0} fusion(%a, %b), kind=kLoop, ...`
HLO_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\([^=]*?\)|\w+\[[\d,]*\](?:\{[\d,]*\})?) ([\w\-]+)\((.*)$")


def elements(shape: str) -> int:
    """Elements of an HLO array shape `f32[1000000,1]{1,0}` (1 for a scalar `f32[]`; 0 for a tuple)."""
    match = re.match(r"\w+\[([\d,]*)\]", shape)
    if not match:
        return 0
    count = 1
    for size in filter(None, match.group(1).split(",")):
        count *= int(size)
    return count


def hlo_entry_summary(text: str, n: int) -> dict:
    """What an optimised HLO module's entry computation does with arrays of n elements.

    Each instruction of the entry runs as one kernel over its operands. Counted: the kernels, the fusions
    among them, the kernels that touch an n-element array (passes over the data), the n-element arrays they
    read and write (in units of one such array: x and y once is 2), and the kernels XLA split into parallel
    partitions.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ENTRY ")), None)
    if start is None:
        return {"kernels": 0, "fusions": 0, "passes": 0, "arrays_read": 0, "arrays_written": 0, "parallel": 0}
    shapes: dict[str, str] = {}
    kernels = fusions = passes = read = written = parallel = 0
    for line in lines[start + 1 :]:
        if line.startswith("}"):
            break
        match = HLO_INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, opcode, rest = match.groups()
        shapes[name] = shape
        if opcode in ("parameter", "constant", "tuple", "get-tuple-element", "bitcast"):
            continue
        operands = re.findall(r"%([\w.\-]+)", rest.split("),")[0])
        big_in = sum(1 for operand in set(operands) if elements(shapes.get(operand, "")) == n)
        big_out = int(elements(shape) == n)
        kernels += 1
        fusions += opcode == "fusion"
        passes += bool(big_in or big_out)
        read, written = read + big_in, written + big_out
        partitions = re.search(r'"outer_dimension_partitions":\[([^\]]*)\]', line)
        parallel += bool(partitions and partitions.group(1).strip())
    return {
        "kernels": kernels,
        "fusions": fusions,
        "passes": passes,
        "arrays_read": read,
        "arrays_written": written,
        "parallel": parallel,
    }


def xla_dump_summary(directory: str, n: int) -> list[dict]:
    """Every module XLA compiled into `directory` (its `*after_optimizations.txt`), summarised (`hlo_entry_summary`)."""
    modules = []
    for path in sorted(glob.glob(os.path.join(directory, "*after_optimizations.txt"))):
        name = os.path.basename(path).split("after_optimizations")[0].rstrip("._-")
        name = re.sub(r"_config_proto_\d+|_executor_type_\d+", "", name)  # TF's long suffixes
        with open(path) as handle:
            modules.append({"module": name, **hlo_entry_summary(handle.read(), n)})
    return modules


class GcClock:
    """A `gc.callbacks` entry: the time Python's garbage collector runs (cProfile charges it to whatever ran)."""

    def __init__(self):
        self.seconds, self.started = 0.0, None

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.seconds += time.perf_counter() - self.started


def profile_torch_ops(model, epochs: int, runtime) -> list[tuple[str, float, float]]:
    """torch.profiler's view of the same epochs: time inside each aten op (its kernel and the dispatch below it)."""
    import torch

    if hasattr(torch, "profiler"):
        profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    else:  # torch < 1.8: the autograd profiler, the same op table
        profiler = torch.autograd.profiler.profile()
    with profiler as prof:
        model.train(epochs, harness.EpochClock(runtime.sync))
    ops = sorted(prof.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)[:12]
    return [(op.key, op.self_cpu_time_total / 1e6 / epochs, op.count / epochs) for op in ops]


def to_markdown(result: Profile) -> str:
    plain, profiled = float(np.median(result.epoch_s)), float(np.mean(result.profiled_epoch_s))
    total = sum(result.groups.values())
    load = (
        f" Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in result.load_average)} "
        "(a shared machine: other work ran beside this profile)."
        if result.load_average
        else ""
    )
    lines = [
        f"# Profile: {result.framework}/{result.variant}\n",
        f"{result.framework} {result.version}, n = {result.n}, {result.epochs} epochs profiled after "
        f"{result.warmup_epochs} warm-up epochs (tracing and compiling happen there, not here).{load}\n",
        f"Epoch time without a profiler: **{1e3 * plain:.3f} ms** (median of {len(result.epoch_s)}; mean "
        f"{1e3 * np.mean(result.epoch_s):.3f} ms); under cProfile: mean {1e3 * profiled:.3f} ms, which the groups "
        "below add up to. cProfile adds a fixed cost to every Python call it records, so Python-heavy groups are "
        "inflated against native ones; the shares are of the profiled time.\n",
        "## Where one epoch's time goes\n",
        "| group | ms per epoch (profiled) | share |\n|---|---|---|",
    ]
    for group in GROUPS:
        seconds = result.groups[group]
        lines.append(f"| {group} | {1e3 * seconds:.3f} | {seconds / total:.0%} |")
    lines.append(
        "\nGroups: harness = our per-epoch bookkeeping and what it calls; data pipeline = tf.data and Keras's data "
        "adapters and iterators, and what they call; variant code = the article's lines; framework Python/dispatch = "
        "the framework's Python (and the standard library under it); kernels (native) = calls into C/C++ (kernels "
        "and their C++ dispatch); other = Python outside these. Two blind spots of cProfile: a tensor operator "
        "(`w * x + b`, `param -= ...`) and a compiled callable (a `jax.jit` function) are not calls it records, so "
        "their time counts in the line that uses them (variant code); and where dispatch is asynchronous (JAX), "
        "the device's work shows where the harness reads the loss back.\n"
    )
    lines.append(
        f"Python's garbage collector ran {1e3 * result.gc_s:.3f} ms per profiled epoch ({result.gc_s / total:.0%}); "
        "cProfile charges that time to whichever function was running, so it sits inside the groups above.\n"
    )
    lines.append(
        f"Per plain epoch, every thread: {1e3 * result.cpu_s:.3f} ms of CPU ({1e3 * result.system_s:.3f} ms of it "
        f"in the kernel), {result.page_faults:.0f} minor page faults (each one a 4 KiB page of fresh memory: "
        f"an n-element float32 temporary is {4 * result.n / 4096:.0f} of them if the allocator got it from the "
        f"system anew). Threads: {result.os_threads if result.os_threads is not None else 'unknown'} in the process, "
        f"{result.busy_threads if result.busy_threads is not None else 'unknown'} of them used CPU during the "
        "plain epochs (clock-tick resolution, 10 ms: a thread busy for less may not count). CPU time below the "
        "epoch time is time the process waited: for another thread, or for a core on a loaded machine. malloc "
        f"settings: {', '.join(f'{k}={v}' for k, v in sorted(result.malloc.items())) or 'glibc defaults'}.\n"
    )
    if result.xla_modules:
        lines.append(f"## XLA's dump: what it compiled (n = {result.n:,})\n")
        lines.append(
            "Per module XLA compiled (`*after_optimizations.txt` in the dump), its entry computation: each "
            "instruction runs as one kernel. Passes: kernels touching an array of n elements; arrays read and "
            "written: n-element arrays in and out of those kernels, summed (x and y read once is 2 read, 0 "
            "written: the memory pass); parallel: kernels XLA split into partitions across threads.\n\n"
            "| module | kernels | fusions | passes over n | arrays read | arrays written | parallel |\n"
            "|---|---|---|---|---|---|---|"
        )
        lines += [
            f"| `{m['module']}` | {m['kernels']} | {m['fusions']} | {m['passes']} | {m['arrays_read']} | "
            f"{m['arrays_written']} | {m['parallel']} |"
            for m in result.xla_modules
        ]
        lines.append("")
    lines.append("## Top functions by cumulative time (per epoch)\n")
    lines.append("| function | ms per epoch | calls per epoch |\n|---|---|---|")
    lines += [f"| `{name}` | {1e3 * s:.3f} | {calls:g} |" for name, s, calls in result.top_cumulative]
    lines.append("\n## Top functions by own time (per epoch)\n")
    lines.append("| function | group | ms per epoch | calls per epoch |\n|---|---|---|---|")
    lines += [f"| `{name}` | {group} | {1e3 * s:.3f} | {calls:g} |" for name, group, s, calls in result.top_own]
    if result.torch_ops:
        lines.append("\n## torch.profiler: time inside each op (per epoch)\n")
        lines.append(
            "Self CPU time of each op: its kernel and the dispatch below it, without the Python above it.\n\n"
            "| op | ms per epoch | calls per epoch |\n|---|---|---|"
        )
        lines += [f"| `{name}` | {1e3 * s:.3f} | {calls:g} |" for name, s, calls in result.torch_ops]
    lines.append(f"\nProfiled in {result.profiled_s:.1f} s.")
    return "\n".join(lines) + "\n"


def as_document(result: Profile) -> dict:
    """The profile's figures as a JSON document (NaN, a figure this system does not give, as null)."""
    document = dataclasses.asdict(result)
    return {key: None if isinstance(value, float) and value != value else value for key, value in document.items()}


def profile_run(
    framework: str, variant: str, dataset_path: str, metadata_path: str, settings, epochs: int, xla_dump: str = None
) -> str:
    """One run's profile (`profile`) on the checked dataset. With `xla_dump`, XLA (read by JAX and TF
    as they start) dumps what it compiles there, and the profile summarises it: call this before the framework is
    imported."""
    if xla_dump:
        shutil.rmtree(xla_dump, ignore_errors=True)
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={xla_dump}".strip()
    _, arrays = data.load_dataset(dataset_path, metadata_path)
    started = time.perf_counter()
    result = profile(framework, variant, arrays["x"], arrays["y"], settings, epochs)
    if xla_dump:
        result.xla_modules = xla_dump_summary(xla_dump, result.n)
    result.profiled_s = time.perf_counter() - started
    return result
