"""The training harness: the variant fits, the harness times and records (benchopt's callback style).

What a framework module and a variant class provide (the framework contract), and how to add one, is
written once, in docs/contract.md at the repository's root.

numpy and the standard library only: this runs inside the official framework images, and on the
article's own Python 3.8 (no 3.9+ syntax or standard library here or in the framework modules).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import importlib
import inspect
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ContextManager

import numpy as np

from tale_of_two.fit import data, workloads
from tale_of_two.fit.era import versions
from tale_of_two.fit.memory import peak_rss_bytes, rss_bytes

RESULT_SCHEMA_VERSION = 1
# A loss this large has left any sensible basin: stop rather than overflow.
DIVERGENCE_LOSS = 1e12


class DeviceUnavailable(RuntimeError):
    """The config asked for a device this machine does not have."""


class MemoryLimitExceeded(RuntimeError):
    """A run's resident memory went above its `memory_limit_mb`."""


@dataclass
class Runtime:
    """Where a framework runs: its device handle, what to record, and how to seed, synchronise and scope."""

    device: Any  # the framework's own handle: torch.device, "/CPU:0", jax.Device, ...
    device_kind: str  # "cpu" or "cuda"
    device_name: str
    threads: int
    seed: Callable[[int], None] = lambda seed: None  # frameworks without a global RNG draw from settings.seed
    # None where the device is synchronous, or where reading the loss back waits for the epoch (CPU, TF, JAX).
    sync: Callable[[], None] | None = None
    scope: Callable[[], ContextManager] = contextlib.nullcontext  # e.g. tf.device(...) around the whole run
    # What this framework version could not do as asked and what it did instead (recorded in the result).
    notes: list[str] = field(default_factory=list)
    # The framework's own peak of device memory in bytes (torch.cuda.max_memory_allocated); None off a GPU.
    device_peak_bytes: Callable[[], int | None] | None = None

    def synchronize(self) -> None:
        if self.sync is not None:
            self.sync()


@dataclass(frozen=True)
class Settings:
    """Effective hyper-parameters and measurement settings of one run."""

    lr: float = 0.001
    epochs: int = 500
    batch_size: int | None = None  # None: full batch
    init: str = "uniform"  # "uniform": w, b ~ U(init_low, init_high); "framework": its default initialiser
    init_low: float = -0.1
    init_high: float = 0.1
    seed: int = 0
    device: str = "auto"
    device_fallback: str | None = None  # "cpu": run on the CPU, recorded as fallen back, when `device: cuda` has no GPU
    threads: int = 1
    # False lets a framework pick faster non-deterministic kernels or compilers (TF XLA under Keras, Inductor).
    deterministic: bool = True
    warmup_epochs: int = 5
    repeats: int = 3
    memory_limit_mb: int | None = None  # stop with MemoryLimitExceeded when the peak resident memory exceeds it
    # The MLP workload's model spec (variants `mlp_*`, tale_of_two.fit.workloads); the line's variants ignore it.
    hidden: tuple[int, ...] = (16, 16)  # widths of the hidden layers
    activation: str = "tanh"  # between layers (workloads.ACTIVATIONS); the output layer is linear

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))  # a JSON list read back

    def initial_weights(self, d: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """The MLP's [(W, b), ...] for d inputs, drawn with numpy so that every framework starts from the same
        weights (`workloads.initial_weights`); None for `init: framework`."""
        if self.init != "uniform":
            return None
        return workloads.initial_weights(d, self.hidden, self.seed, self.init_low, self.init_high)

    def initial_parameters(self) -> tuple[float, float] | None:
        """Drawn with numpy so that every framework starts from the same w and b."""
        if self.init != "uniform":
            return None
        w0, b0 = np.random.default_rng(self.seed).uniform(self.init_low, self.init_high, 2)
        return float(np.float32(w0)), float(np.float32(b0))

    def batches(self, n: int) -> list[slice]:
        """Contiguous, unshuffled mini-batches (one when full batch): the same order in every framework."""
        size = n if self.batch_size is None else self.batch_size
        return [slice(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass
class MiniBatches:
    """x and y as (n, 1) columns (x as (n, d) for the MLP) of the framework's arrays, in the configured
    mini-batches (one when full batch).

    Iterate for ``(x, y)`` pairs; ``mean(batch_losses)`` is the epoch's loss, each batch weighted by its size.
    """

    pairs: list
    weights: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, settings: Settings, to_array: Callable = lambda a: a) -> MiniBatches:
        parts = settings.batches(len(x))
        # x: (n,) for the line, (n, d) for the MLP; each as n rows
        column_x, column_y = to_array(x.reshape(len(x), -1)), to_array(y.reshape(-1, 1))
        return cls([(column_x[part], column_y[part]) for part in parts], [(p.stop - p.start) / len(x) for p in parts])

    def __iter__(self):
        return iter(self.pairs)

    def mean(self, batch_losses: Sequence):
        """In the framework's own arithmetic: scalars times Python floats work for every array type."""
        if len(batch_losses) == 1:
            return batch_losses[0]
        return sum(weight * loss for weight, loss in zip(self.weights, batch_losses))


class EpochClock:
    """Called by the training loop after every epoch: reads the loss back, synchronises, stamps the time.

    Kept to a few attribute look-ups: its own cost is measured (`harness_overhead_s`) and must stay
    far below the fastest epoch.
    """

    def __init__(self, sync: Callable[[], None] | None = None):
        self.sync = sync  # None where the device is synchronous (CPU): reading the loss back is enough
        self.losses: list[float] = []
        self._stamps: list[float] = []
        # Bound once: each look-up saved here is saved on every epoch.
        self._now = time.perf_counter
        self._stamp = self._stamps.append
        self._record = self.losses.append

    def start(self) -> None:
        if self.sync is not None:
            self.sync()
        self._stamps.clear()
        self._stamp(self._now())

    def __call__(self, loss) -> bool:
        """Record one epoch; return False when training should stop (loss not finite or exploding)."""
        value = float(loss)  # reading the value back waits for the device to finish the epoch
        if self.sync is not None:
            self.sync()
        self._stamp(self._now())
        self._record(value)
        return abs(value) < DIVERGENCE_LOSS  # False for NaN and infinity too

    @property
    def epoch_times(self) -> list[float]:
        return np.diff(self._stamps).tolist()

    @property
    def diverged(self) -> bool:
        return bool(self.losses) and not abs(self.losses[-1]) < DIVERGENCE_LOSS


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged loss is written as null."""
    return value if value is not None and math.isfinite(value) else None


def spread(values: list[float]) -> dict[str, float | int]:
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return {"median": None, "q1": None, "q3": None, "min": None, "max": None, "count": 0}
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(array.min()),
        "max": float(array.max()),
        "count": int(array.size),
    }


def load_framework(framework: str):
    """Import `tale_of_two.fit.frameworks.<framework>`, timing the import (the framework's cold start)."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"tale_of_two.fit.frameworks.{framework}")
    except ModuleNotFoundError as error:
        if error.name == f"tale_of_two.fit.frameworks.{framework}":
            raise ValueError(
                f"unknown framework {framework!r}: no module tale_of_two/fit/frameworks/{framework}.py"
            ) from None
        raise
    return module, time.perf_counter() - start


def measure(
    framework: str, variant: str, x: np.ndarray, y: np.ndarray, settings: Settings, memory_run: bool = True
) -> dict:
    """Fit `repeats` times, then (with `memory_run`) once more for the memory growth; return the measurements (the
    caller adds provenance)."""
    before_import = peak_rss_bytes()
    module, import_s = load_framework(framework)
    memory = memory_record(x, y, before_import, peak_rss_bytes())
    if variant not in module.VARIANTS:
        raise ValueError(f"unknown variant {variant!r} for framework {framework!r}; known: {sorted(module.VARIANTS)}")
    # tale_of_two.config checks this for every run of the workflow, before any job starts. It stays here too
    # because workflow/scripts/train.py also runs by hand, with any --settings and any dataset.
    if settings.batch_size is not None and not 1 <= settings.batch_size <= len(x):
        raise ValueError(f"batch_size {settings.batch_size} must be between 1 and n = {len(x)}")
    variant_class = module.VARIANTS[variant]
    try:
        runtime = configure(module, framework, settings.device, settings)
        fell_back = False
    except DeviceUnavailable:
        if settings.device_fallback != "cpu":
            raise
        runtime, fell_back = configure(module, framework, "cpu", settings), True

    repeats = []
    with runtime.scope():
        for _ in range(settings.repeats):
            runtime.seed(settings.seed)
            clock = EpochClock(runtime.sync)
            try:
                held_before = rss_bytes()
                start = time.perf_counter()
                model = variant_class(x, y, settings, runtime)
                runtime.synchronize()
                setup_s = time.perf_counter() - start
                if not repeats:  # outside the timed spans, as are the other memory readings
                    memory["peak_rss_after_setup_bytes"] = peak_rss_bytes()
                    held_after = rss_bytes()
                    if None not in (held_before, held_after):
                        memory["setup_held_bytes"] = held_after - held_before
                clock.start()
                started = time.perf_counter()
                model.train(settings.epochs, clock)
                runtime.synchronize()
                train_s = time.perf_counter() - started
                compile_stats = model.compile_stats() if hasattr(model, "compile_stats") else None
            except Exception as error:
                # A compiled variant whose compiler cannot run here (no C++ toolchain) is a result to report,
                # not a crash; any other failure, or one after training began, is a bug and fails the job.
                compiled = getattr(variant_class, "COMPILED", False)
                if compiled and not clock.losses and module.compiler_unavailable(error):
                    identity = run_identity(module, variant_class, runtime, fell_back)
                    return unsupported_result(identity, import_s, settings, error, memory)
                raise
            check_memory_limit(settings, f"{framework}/{variant}", f"repeat {len(repeats) + 1}")
            fitted = fitted_record(model.parameters())
            del model  # before the next repeat builds its own: one model at a time in memory
            repeats.append(
                {"setup_s": setup_s, "train_s": train_s, "clock": clock, "fitted": fitted, "compile": compile_stats}
            )
        memory["peak_rss_after_training_bytes"] = peak_rss_bytes()
        memory["device_peak_bytes"] = runtime.device_peak_bytes() if runtime.device_peak_bytes else None
        if memory_run:
            memory.update(memory_growth(variant_class, x, y, settings, runtime))
        check_memory_limit(settings, f"{framework}/{variant}", "the memory run")

    first = repeats[0]
    clock: EpochClock = first["clock"]
    steady = [t for r in repeats for t in r["clock"].epoch_times[settings.warmup_epochs :]]
    return result(
        run_identity(module, variant_class, runtime, fell_back),
        status="diverged" if clock.diverged else "ok",
        compile=compile_record([r["compile"] for r in repeats]),
        w=first["fitted"]["w"],
        b=first["fitted"]["b"],
        weights=first["fitted"].get("weights"),
        losses=clock.losses,
        repeats_identical=all(r["clock"].losses == clock.losses and r["fitted"] == first["fitted"] for r in repeats),
        timings=timing_record(
            import_s=import_s,
            setup_s=first["setup_s"],
            first_epoch_s=clock.epoch_times[0] if clock.epoch_times else None,
            train_s=spread([r["train_s"] for r in repeats]),
            epoch_s=spread(steady),
            **yardsticks(x, y, settings),
            warmup_epochs=settings.warmup_epochs,
            repeats=settings.repeats,
            epoch_times_s=[r["clock"].epoch_times for r in repeats],
        ),
        memory=memory,
    )


# The memory run's steady epochs (after its warm-up): long enough to see a leak of a few KiB an epoch over the
# page-sized steps of the resident memory, short enough to add little to the run (tensorflow/fit: 50 of 1,500).
MEMORY_RUN_EPOCHS = 50


class MemoryClock(EpochClock):
    """An EpochClock that also reads the resident memory after every epoch: for the memory run only, never a
    timed one (a read of /proc costs microseconds, more than the fastest epoch)."""

    def __init__(self, sync: Callable[[], None] | None = None):
        super().__init__(sync)
        self.rss: list[int | None] = []

    def __call__(self, loss) -> bool:
        going = super().__call__(loss)
        self.rss.append(rss_bytes())
        return going


def memory_growth(variant_class, x: np.ndarray, y: np.ndarray, settings: Settings, runtime: Runtime) -> dict:
    """One more fit, untimed, apart from the timed repeats (TorchBench measures memory in runs of its own): its
    resident memory after every epoch, and the least-squares slope over the epochs after the warm-up, in bytes
    per epoch. A leak shows as a steady slope; allocator caches filling up show in the warm-up, left out."""
    epochs = min(settings.epochs, settings.warmup_epochs + MEMORY_RUN_EPOCHS)
    started = time.perf_counter()
    runtime.seed(settings.seed)
    clock = MemoryClock(runtime.sync)
    model = variant_class(x, y, settings, runtime)
    clock.start()
    model.train(epochs, clock)
    cost = {"memory_run_s": time.perf_counter() - started}  # what measuring the growth adds to the job
    steady = clock.rss[settings.warmup_epochs :]
    if len(steady) < 2 or None in steady:
        return {"rss_growth_bytes_per_epoch": None, "growth_epochs": len(steady), **cost}
    slope = np.polyfit(np.arange(len(steady), dtype=float), np.asarray(steady, dtype=float), 1)[0]
    return {"rss_growth_bytes_per_epoch": float(slope), "growth_epochs": len(steady), **cost}


def memory_record(x: np.ndarray, y: np.ndarray, before_import: int | None, after_import: int | None) -> dict:
    """A result's `memory`, every key in the schema's order: the readings not yet taken are None.

    Peaks are the process's high-water mark of resident memory (`tale_of_two.fit.memory`) as each stage ends:
    before the framework's import (interpreter, numpy, the dataset), after it, after the first repeat's set-up,
    after the last repeat's training. `dataset_bytes` is what x and y hold, so that the framework's share shows;
    `setup_held_bytes` is what the first repeat's set-up added to the resident memory now (not the peak: a figure
    that holds in a process shared with other runs, as the bench's), where a copy of x and y shows as their bytes.
    """
    return {
        "dataset_bytes": int(x.nbytes + y.nbytes),
        "peak_rss_before_import_bytes": before_import,
        "peak_rss_after_import_bytes": after_import,
        "peak_rss_after_setup_bytes": None,
        "peak_rss_after_training_bytes": None,
        "setup_held_bytes": None,
        "rss_growth_bytes_per_epoch": None,
        "growth_epochs": 0,
        "memory_run_s": None,
        "device_peak_bytes": None,
    }


def check_memory_limit(settings: Settings, run: str, stage: str) -> None:
    """Stop a run whose peak resident memory went above its `memory_limit_mb` (MB: 10^6 bytes, Snakemake's mem_mb)."""
    if settings.memory_limit_mb is None:
        return
    peak = peak_rss_bytes()
    if peak is not None and peak > settings.memory_limit_mb * 1e6:
        raise MemoryLimitExceeded(
            f"{run}: peak resident memory {peak / 1e6:.0f} MB after {stage} exceeds memory_limit_mb = "
            f"{settings.memory_limit_mb} MB; raise the limit or shrink the run (no result written)"
        )


def measure_interleaved(framework: str, runs: dict[str, Settings], x: np.ndarray, y: np.ndarray) -> dict[str, dict]:
    """The repeats of several variants of one framework, interleaved in one process: A B C, A B C, ...

    On a shared machine the load drifts over seconds and minutes. Back-to-back repeats charge a busy
    minute to whichever variant ran in it; interleaved, every variant samples the same stretch of time
    (asv's "rounds", inside one process). Each repeat is one call to `measure`; a variant's repeats are then
    merged into one result, as `measure` would have written it.
    """
    parts: dict[str, list[dict]] = {variant: [] for variant in runs}
    for repeat in range(max(settings.repeats for settings in runs.values())):
        for variant, settings in runs.items():
            if repeat < settings.repeats:
                one = dataclasses.replace(settings, repeats=1)
                # One memory run per variant, in its first turn: the growth does not need every round's.
                parts[variant].append(measure(framework, variant, x, y, one, memory_run=repeat == 0))
    return {variant: merge_repeats(measured, runs[variant].warmup_epochs) for variant, measured in parts.items()}


def merge_repeats(parts: list[dict], warmup_epochs: int) -> dict:
    """Results of the same run, one or more repeats each, as one result holding all their repeats."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if any(part["status"] == "unsupported" for part in parts):
        return next(part for part in parts if part["status"] == "unsupported")
    timings = [part["timings"] for part in parts]
    epoch_times = [times for t in timings for times in t["epoch_times_s"]]
    steady = [seconds for times in epoch_times for seconds in times[warmup_epochs:]]
    memory = [t["memory_pass_s"]["median"] for t in timings if t["memory_pass_s"]["median"] is not None]
    overhead = [t["harness_overhead_s"] for t in timings if t["harness_overhead_s"] is not None]
    compiled = [part.get("compile") for part in parts]
    return result(
        {key: first[key] for key in IDENTITY},
        status=first["status"],
        memory=merge_memory([part["memory"] for part in parts]),
        error=first["error"],
        compile=None if compiled[0] is None else compile_record([r for c in compiled for r in c["repeats"]]),
        w=first["fitted"]["w"],
        b=first["fitted"]["b"],
        weights=first["fitted"].get("weights"),
        losses=first["loss_history"],
        repeats_identical=all(
            part["repeats_identical"]
            and part["loss_history"] == first["loss_history"]
            and part["fitted"] == first["fitted"]
            for part in parts
        ),
        timings=timing_record(
            # import, setup and first epoch: the first repeat's, as `measure` reports them
            **{key: first["timings"][key] for key in ("import_s", "setup_s", "first_epoch_s", "warmup_epochs")},
            train_s=spread([t["train_s"]["median"] for t in timings]),  # exact where each part is one repeat
            epoch_s=spread(steady),
            harness_overhead_s=float(np.median(overhead)) if overhead else None,
            memory_pass_s=spread(memory),
            repeats=len(epoch_times),
            epoch_times_s=epoch_times,
        ),
    )


def merge_memory(records: list[dict]) -> dict:
    """The memory of several parts of one run: the first part's import and set-up (later parts may find the
    framework imported), the highest peaks, the median growth."""
    merged = dict(records[0])
    for key in ("peak_rss_after_training_bytes", "device_peak_bytes"):
        values = [record[key] for record in records if record[key] is not None]
        merged[key] = max(values) if values else None
    measured = [record for record in records if record["rss_growth_bytes_per_epoch"] is not None]
    if measured:  # the parts that had a memory run (`measure_interleaved`: the first)
        merged["rss_growth_bytes_per_epoch"] = float(np.median([r["rss_growth_bytes_per_epoch"] for r in measured]))
        merged["growth_epochs"] = measured[0]["growth_epochs"]
    costs = [record["memory_run_s"] for record in records if record["memory_run_s"] is not None]
    merged["memory_run_s"] = float(sum(costs)) if costs else None
    return merged


def configure(module, framework: str, device: str, settings: Settings) -> Runtime:
    """The framework's runtime; ``deterministic=False`` is passed only when asked, to frameworks that take it."""
    if settings.deterministic:
        return module.configure(device, settings.threads)
    if "deterministic" not in inspect.signature(module.configure).parameters:
        raise ValueError(f"deterministic: false: framework {framework!r} has no non-deterministic mode")
    return module.configure(device, settings.threads, deterministic=False)


def compile_record(per_repeat: list[dict | None]) -> dict | None:
    """What the compiler did in each repeat (None for a variant that does not compile)."""
    if per_repeat[0] is None:
        return None
    return {"compiler": per_repeat[0]["compiler"], "repeats": per_repeat}


# What identifies how a run ran: the first keys of its result.
IDENTITY = ("framework_version", "device", "device_fell_back", "device_name", "threads", "loss_name", "notes")


def run_identity(module, variant_class, runtime, fell_back: bool) -> dict:
    values = (module.VERSION, runtime.device_kind, fell_back, runtime.device_name, runtime.threads)
    return dict(zip(IDENTITY, (*values, variant_class.LOSS, runtime.notes)))


def result(
    identity: dict,
    *,
    status: str,
    timings: dict,
    w: float | None = None,
    b: float | None = None,
    losses: Sequence[float | None] = (),
    error: str | None = None,
    memory: dict,
    compile: dict | None = None,
    repeats_identical: bool = True,
    weights: dict | None = None,
) -> dict:
    """The measured part of a result document, every key in the schema's order (the caller adds provenance).

    The one place its shape is written: a fit (`measure`), merged repeats, an unsupported run and the tests'
    hand-made results all come through here. A diverged run stopped at its last loss.
    """
    return {
        **identity,
        "status": status,
        "diverged_at_epoch": len(losses) if status == "diverged" else None,
        "error": error,
        "compile": compile,
        "fitted": {"w": finite_or_none(w), "b": finite_or_none(b), **({"weights": weights} if weights else {})},
        "loss_history": [finite_or_none(v) for v in losses],
        "final_loss": finite_or_none(losses[-1]) if losses else None,
        "repeats_identical": repeats_identical,
        "timings": timings,
        "memory": memory,
    }


def fitted_record(parameters) -> dict:
    """What a variant's `parameters()` fitted: the line's (w, b) as floats; an MLP's [W1, b1, W2, ...] (arrays) as
    their count, norm and the sha256 of their float32 bytes (w and b null), which repeats must match."""
    if len(parameters) == 2 and all(np.ndim(value) == 0 for value in parameters):
        return {"w": float(parameters[0]), "b": float(parameters[1])}
    arrays = [np.ascontiguousarray(value, dtype=np.float32) for value in parameters]
    flat = np.concatenate([array.ravel() for array in arrays]) if arrays else np.zeros(0, np.float32)
    digest = hashlib.sha256(b"".join(array.tobytes() for array in arrays)).hexdigest()
    norm = float(np.linalg.norm(flat.astype(np.float64)))
    return {"w": None, "b": None, "weights": {"count": int(flat.size), "norm": finite_or_none(norm), "sha256": digest}}


def timing_record(
    *,
    import_s: float,
    setup_s: float,
    first_epoch_s: float | None,
    train_s: dict,
    epoch_s: dict,
    harness_overhead_s: float | None,
    memory_pass_s: dict,
    warmup_epochs: int,
    repeats: int,
    epoch_times_s: list[list[float]],
) -> dict:
    """A result's `timings`: spreads (see `spread`) and seconds, every key in the schema's order."""
    return {
        "import_s": import_s,
        "setup_s": setup_s,
        "first_epoch_s": first_epoch_s,
        "train_s": train_s,
        "epoch_s": epoch_s,
        "harness_overhead_s": harness_overhead_s,
        "memory_pass_s": memory_pass_s,
        "warmup_epochs": warmup_epochs,
        "repeats": repeats,
        "epoch_times_s": epoch_times_s,
    }


def unsupported_result(identity: dict, import_s: float, settings: Settings, error: Exception, memory: dict) -> dict:
    message = f"{type(error).__name__}: {error}".strip()
    return result(
        identity,
        status="unsupported",
        memory=memory,
        error=message[:2000],
        timings=timing_record(
            import_s=import_s,
            setup_s=0.0,
            first_epoch_s=None,
            train_s=spread([]),
            epoch_s=spread([]),
            harness_overhead_s=None,
            memory_pass_s=spread([]),
            warmup_epochs=settings.warmup_epochs,
            repeats=settings.repeats,
            epoch_times_s=[],
        ),
    )


def headline(result: dict) -> str:
    """One line for the job log; a run that fitted nothing (unsupported, or diverged to infinity) says so."""

    def number(value):
        return "none" if value is None else f"{value:.6f}"

    fitted = result["fitted"]
    line = (
        f"{result['framework']}/{result['variant']}: w = {number(fitted['w'])}, b = {number(fitted['b'])}, "
        f"final {result['loss_name']} = {number(result['final_loss'])}, status {result['status']}"
    )
    return f"{line} ({result['error'].splitlines()[0]})" if result.get("error") else line


def yardsticks(x: np.ndarray, y: np.ndarray, settings: Settings) -> dict:
    """Two yardsticks timed by the same clock as the epochs.

    * harness_overhead_s: what the per-epoch bookkeeping itself costs (a step that does nothing);
    * memory_pass_s: one numpy pass reading x and y once, the bytes any full-batch epoch must read:
      a lower bound on an epoch's time on this CPU.
    """
    passes = max(settings.epochs, 200)
    overhead = EpochClock()
    overhead.start()
    for _ in range(passes):
        overhead(0.0)
    memory = EpochClock()
    # The MLP's x is (n, d): y @ x reads it once too, summed to the one number the clock reads back.
    one_pass = np.dot if x.ndim == 1 else lambda x, y: np.dot(y, x).sum()
    memory.start()
    for _ in range(passes):
        memory(one_pass(x, y))
    return {
        "harness_overhead_s": spread(overhead.epoch_times)["median"],
        "memory_pass_s": spread(memory.epoch_times[settings.warmup_epochs :]),
    }


def environment() -> dict:
    """Where the run happened: interpreter, numpy, host, and whether inside an Apptainer container."""
    in_container = os.path.isdir("/.singularity.d")
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        # How busy the machine was as the run started (1, 5, 15 min): timings on a loaded machine say so.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "container": {
            "apptainer": in_container,
            "image": os.environ.get("APPTAINER_CONTAINER") or os.environ.get("SINGULARITY_CONTAINER"),
        },
        "argv": sys.argv,
        # glibc malloc tunables (bench.environment): they change how often fresh memory is page-faulted in.
        "malloc": {name: value for name, value in os.environ.items() if name.startswith("MALLOC_")},
    }


def settings_from_dict(values: dict) -> Settings:
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
    return Settings(**values)


def fit_run(
    framework: str, variant: str, dataset_path: str, metadata_path: str, settings: Settings, era: str | None = None
) -> dict:
    """One run, start to finish: the dataset checked against its metadata, the fit, the result document.

    With `era` (then_vs_now's "then" or "now"), the document also records it: its name and the versions
    of Python, numpy and the framework that ran it (`tale_of_two.fit.era`).
    """
    metadata, arrays = data.load_dataset(dataset_path, metadata_path)
    measured = measure(framework, variant, arrays["x"], arrays["y"], settings)
    result = document(framework, variant, measured, settings, dataset_record(dataset_path, metadata, arrays))
    if era is not None:
        result["era"] = {"name": era, "versions": versions()}  # after the fit: the framework is imported
    return result


def fit_runs_interleaved(
    framework: str, runs: dict[str, Settings], dataset_path: str, metadata_path: str
) -> list[dict]:
    """Several variants of one framework on one dataset, their repeats interleaved (see `measure_interleaved`)."""
    metadata, arrays = data.load_dataset(dataset_path, metadata_path)
    measured = measure_interleaved(framework, runs, arrays["x"], arrays["y"])
    dataset = dataset_record(dataset_path, metadata, arrays)
    return [document(framework, variant, measured[variant], settings, dataset) for variant, settings in runs.items()]


def dataset_record(path, metadata: dict, arrays: dict) -> dict:
    """Which data a run fitted: the file, its checked sha256, its size and the seed that drew it."""
    return {
        "path": str(path),
        "sha256": metadata["sha256"],
        "n": int(len(arrays["x"])),
        "seed": metadata["spec"]["seed"],
    }


def document(
    framework: str,
    variant: str,
    measured: dict,
    settings: Settings,
    dataset: dict,
    where: dict | None = None,
    when: str | None = None,
) -> dict:
    """A result document: the measurements (`result`) and their provenance, `where` (`environment()`) and
    `when` (UTC, ISO 8601) the run happened: here and now unless given."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "framework": framework,
        "variant": variant,
        **measured,
        "settings": dataclasses.asdict(settings),
        "dataset": dataset,
        "environment": environment() if where is None else where,
        "finished_utc": when or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
