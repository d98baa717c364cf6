"""The GPU check's runs (tools/gpu_check.py, docs/gpu.md): the harness's own fit, and what a GPU run adds to it.

Each run is `harness.measure` as the pipeline runs it, on the device asked for, then:

* its yardstick on that device: one pass reading x and y (a dot product) timed as the harness times an epoch,
  the clock stopped after a device synchronisation; on the CPU, the harness's own numpy pass;
* its peak device memory (None on the CPU);
* a CPU run of the same variant from the same start, and the largest relative difference between the losses of
  the two at every epoch both ran;
* how the clock was synchronised: every runtime the harness gets is given a counted `sync` (the backend's device
  synchronisation where a device runtime has none, since it relies on the loss's read-back), and the check fails a
  run whose epochs were timed without it.

numpy, the frameworks and the standard library only, as the rest of `tale_of_two.fit`: it runs on a lent GPU
machine that has no Snakemake, pandas' analysis code aside.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback

import numpy as np

from tale_of_two.fit import data, harness

# The frameworks that can run on a GPU, and the backend whose device, memory and synchronisation each uses.
# numpy and numba run on the CPU only. A framework whose module cannot be imported here is skipped, with the reason.
BACKEND_OF = {
    "torch": "torch",
    "jax": "jax",
    "keras_torch": "torch",
    "keras_jax": "jax",
    "tensorflow": "tensorflow",
    "keras_tensorflow": "tensorflow",
}
NUMPY_PASS = "numpy.dot(x, y) on the CPU (the harness's memory pass)"


class SyncSkipped(RuntimeError):
    """A run's epochs were timed without the device synchronisation the clock must wait for."""


# --- the backends: device synchronisation, memory pass, peak memory ------------------------------------------------


def device_sync(backend: str):
    """(how, function): the backend's wait for all the work queued on its GPU."""
    if backend == "torch":
        import torch

        return "torch.cuda.synchronize", torch.cuda.synchronize
    if backend == "jax":
        import jax

        # JAX queues work by producing arrays: once every live array is ready, the device has done its work.
        return "jax.block_until_ready(jax.live_arrays())", lambda: jax.block_until_ready(jax.live_arrays())
    if backend == "tensorflow":
        import tensorflow as tf

        return "tf.test.experimental.sync_devices", tf.test.experimental.sync_devices
    raise ValueError(f"no device synchronisation known for backend {backend!r}")


def device_pass(backend: str, x: np.ndarray, y: np.ndarray):
    """(what, one_pass): a function that reads x and y once on the backend's GPU and returns a scalar."""
    if backend == "torch":
        import torch

        x_on, y_on = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
        return "torch.dot(x, y) on the GPU", lambda: torch.dot(x_on, y_on)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        gpu = jax.devices("gpu")[0]
        x_on, y_on = jax.device_put(x, gpu), jax.device_put(y, gpu)
        dot = jax.jit(jnp.dot)
        return "jax.jit(jnp.dot)(x, y) on the GPU", lambda: dot(x_on, y_on)
    raise ValueError(f"no device memory pass known for backend {backend!r}")


def time_passes(one_pass, sync, passes: int, warmup: int) -> dict:
    """`passes` calls of `one_pass`, each timed by the harness's EpochClock: the scalar read back, then `sync`."""
    clock = harness.EpochClock(sync)
    clock.start()
    for _ in range(passes):
        clock(one_pass())
    return harness.spread(clock.epoch_times[warmup:])


def reset_peak(backend: str) -> None:
    if backend == "torch":
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_bytes(backend: str):
    """(bytes, scope): the GPU's peak allocation; scope "run" since `reset_peak`, "process" where it cannot reset."""
    if backend == "torch":
        import torch

        return int(torch.cuda.max_memory_allocated()), "run"
    if backend == "jax":
        import jax

        stats = jax.devices("gpu")[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return (None if peak is None else int(peak)), "process"
    return None, None


# --- observing the runtime the harness gets ------------------------------------------------------------------------


class Observed:
    """A framework module whose `configure` hands the harness a runtime with a counted `sync`.

    The harness times with `runtime.sync` (its EpochClock calls it before stamping each epoch). Where the framework
    gives none on a device, it is the backend's device synchronisation; on the CPU, a counted no-op (the CPU runs
    synchronously). `calls` and `how` say what the last runtime's clock did.
    """

    def __init__(self, module, backend: str):
        self.module, self.backend = module, backend
        self.configure = module.configure
        self.runtime = None
        self.calls, self.how = 0, None
        module.configure = self.observed_configure

    def observed_configure(self, device, threads, **options):
        runtime = self.configure(device, threads, **options)
        own = runtime.sync
        if own is not None:
            self.how = "the framework's runtime.sync"
        elif runtime.device_kind == "cuda":
            self.how, own = device_sync(self.backend)
        else:
            self.how = "none needed: the CPU runs synchronously (counted only)"

        def counted():
            self.calls += 1
            if own is not None:
                own()

        self.runtime, self.calls = dataclasses.replace(runtime, sync=counted), 0
        return self.runtime

    def restore(self) -> None:
        self.module.configure = self.configure


def max_rel_loss_diff(first, second):
    """Largest relative difference of two loss histories over the epochs both ran (summary.equivalence's measure)."""
    epochs = min(len(first), len(second))
    if epochs == 0 or any(v is None for v in first[:epochs] + second[:epochs]):
        return None
    losses = np.array([first[:epochs], second[:epochs]], dtype=float)
    relative = np.abs(losses[0] - losses[1]) / np.maximum(np.abs(losses[1]), np.finfo(np.float32).tiny)
    return float(np.max(relative))


# --- one run, and one framework's runs -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the check runs: sizes, the device runs' settings, and how many epochs the CPU runs repeat at each n."""

    sizes: tuple
    settings: harness.Settings
    cpu_epochs_large_n: int = 10  # above LARGE_N the CPU runs' epochs are the slow part: only the first ones compared
    only: tuple = ()  # framework or framework/variant names; empty: every variant

    def wanted(self, framework: str, variant: str) -> bool:
        return not self.only or framework in self.only or f"{framework}/{variant}" in self.only

    def cpu_settings(self, n: int) -> harness.Settings:
        epochs = self.settings.epochs if n <= LARGE_N else min(self.settings.epochs, self.cpu_epochs_large_n)
        warmup = min(self.settings.warmup_epochs, epochs - 1)
        return dataclasses.replace(self.settings, device="cpu", epochs=epochs, warmup_epochs=warmup, repeats=1)


LARGE_N = 10**6


def dataset(n: int):
    """The article's recipe at n points (DatasetSpec's defaults, seed included), drawn in memory, not written."""
    spec = data.DatasetSpec(n=n)
    arrays = data.generate(spec)
    record = {
        "path": f"(in memory) DatasetSpec(n={n})",
        "sha256": data.arrays_sha256(arrays),
        "n": n,
        "seed": spec.seed,
    }
    return arrays, record


def check_run(observed: Observed, framework: str, variant: str, arrays: dict, record: dict, plan: Plan) -> dict:
    """One variant at one n: the device run's result document, with its `gpu_check` record."""
    x, y, settings = arrays["x"], arrays["y"], plan.settings
    on_device = settings.device == "cuda"
    if on_device:
        reset_peak(observed.backend)
    measured = harness.measure(framework, variant, x, y, settings)
    peak, scope = peak_bytes(observed.backend) if on_device else (None, None)
    runtime, sync = observed.runtime, {"how": observed.how, "calls": observed.calls}
    epochs_timed = settings.repeats * len(measured["loss_history"])
    if measured["status"] != "unsupported" and sync["calls"] < epochs_timed:
        raise SyncSkipped(
            f"{framework}/{variant}: {epochs_timed} epochs timed with {sync['calls']} call(s) of the runtime's sync "
            f"({sync['how']}): the clock stopped without waiting for the device"
        )
    if on_device:
        what, one_pass = device_pass(observed.backend, x, y)
        passes = time_passes(one_pass, runtime.sync, max(settings.epochs, 200), settings.warmup_epochs)
    else:
        what, passes = NUMPY_PASS, measured["timings"]["memory_pass_s"]
    cpu = harness.measure(framework, variant, x, y, plan.cpu_settings(len(x)))
    document = harness.document(framework, variant, measured, settings, record)
    document["gpu_check"] = {
        "yardstick": what,
        "device_memory_pass_s": passes,
        "device_peak_bytes": peak,
        "device_peak_scope": scope,
        "sync": {**sync, "epochs_timed": epochs_timed},
        "cpu": {
            "status": cpu["status"],
            "threads": cpu["threads"],
            "epochs": len(cpu["loss_history"]),
            "epoch_s": cpu["timings"]["epoch_s"],
            "fitted": cpu["fitted"],
            "final_loss": cpu["final_loss"],
            "max_rel_loss_diff": max_rel_loss_diff(measured["loss_history"], cpu["loss_history"]),
        },
    }
    return document


def check_framework(framework: str, plan: Plan, write, deadline: float) -> dict:
    """Every wanted variant of one framework at every n, each document passed to `write(n, variant, document)`.

    Returns what was not run: the framework skipped (not importable here), runs left out for the time budget, and
    runs that failed (with their error), so that one broken run costs the lent device no other run.
    """
    report = {"framework": framework, "skipped": None, "failed": [], "out_of_time": [], "written": 0}
    try:
        module, _ = harness.load_framework(framework)
    except ImportError as error:
        report["skipped"] = f"{type(error).__name__}: {error}"
        return report
    observed = Observed(module, BACKEND_OF[framework])
    try:
        variants = [variant for variant in module.VARIANTS if plan.wanted(framework, variant)]
        for n in plan.sizes:
            arrays, record = dataset(n)
            for variant in variants:
                if time.time() > deadline:
                    report["out_of_time"].append(f"{framework}/{variant} at n = {n}")
                    continue
                try:
                    document = check_run(observed, framework, variant, arrays, record, plan)
                except harness.DeviceUnavailable:
                    raise
                except Exception as error:  # recorded, and the check exits non-zero
                    traceback.print_exc(file=sys.stderr)
                    report["failed"].append(
                        {"run": f"{framework}/{variant}", "n": n, "error": f"{type(error).__name__}: {error}"[:2000]}
                    )
                    continue
                write(n, variant, document)
                report["written"] += 1
    finally:
        observed.restore()
    return report
