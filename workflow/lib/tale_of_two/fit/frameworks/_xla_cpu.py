"""Starting JAX's backends with a chosen number of CPU threads, and JAX's runtime: shared by jax.py and keras_jax.py.

Not a framework (no ``VARIANTS``): a helper of the modules that run on JAX, importing only JAX and the
standard library.

XLA sizes its CPU thread pool once per process, when JAX starts its backends, from the CPUs the
process may run on. jaxlib 0.10 has no API or flag for it: ``--xla_cpu_multi_thread_eigen=false`` no
longer keeps XLA:CPU to one thread, and ``intra_op_parallelism_threads`` is not an XLA flag. So the
calling thread is confined to ``threads`` CPUs while the backends start, then set free: the pool's
threads, created then, keep that CPU set; the rest of the process does not.
"""

from __future__ import annotations

import os

import jax

# Private, on purpose: JAX 0.10's public API (jax.extend.backend included) can start the backends but not
# ask whether they have started, and asking after the fact is too late to size the pool.
from jax._src import xla_bridge

from tale_of_two.fit.harness import DeviceUnavailable, Runtime

# Bit-for-bit repeatable GPU kernels (XLA:CPU is deterministic already). Read when the backends start.
DETERMINISM_FLAG = "--xla_gpu_deterministic_ops=true"

_started: dict[str, int] = {}  # {"requested": threads, "pool": CPUs the pool got}, once started here


def start_backends(threads: int) -> int:
    """Start JAX's backends with a CPU pool of `threads` threads (at most the CPUs available); return its size."""
    if not _started:
        if xla_bridge.backends_are_initialized():
            raise RuntimeError(
                "JAX's backends were started before configure(): its CPU thread pool is already sized, "
                f"threads = {threads} cannot be applied"
            )
        allowed = sorted(os.sched_getaffinity(0))
        chosen = allowed[:threads]
        flags = os.environ.get("XLA_FLAGS")
        os.environ["XLA_FLAGS"] = f"{flags or ''} {DETERMINISM_FLAG}".strip()
        os.sched_setaffinity(0, chosen)
        try:
            jax.devices()  # starts every backend: CPU, and a GPU when there is one
        finally:
            os.sched_setaffinity(0, allowed)
            if flags is None:
                del os.environ["XLA_FLAGS"]
            else:
                os.environ["XLA_FLAGS"] = flags
        _started.update(requested=threads, pool=len(chosen))
    elif threads != _started["requested"]:
        raise RuntimeError(
            f"JAX's CPU thread pool is sized once per process: it started with threads = {_started['requested']}, "
            f"threads = {threads} cannot be applied now"
        )
    return _started["pool"]


def gpus() -> list:
    """JAX's GPUs; empty when it has no GPU backend (a CPU-only jaxlib, or no device)."""
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def configure_jax(device: str, threads: int) -> Runtime:
    # XLA's CPU thread pool can only be sized when JAX starts its backends (see start_backends).
    pool = start_backends(threads)
    found = gpus()
    if device == "cuda" and not found:
        raise DeviceUnavailable(
            "device 'cuda' requested but JAX sees no GPU (jax.devices('gpu') finds none; the pinned jaxlib is "
            "CPU-only: on a GPU machine install a CUDA one, pip install 'jax[cuda12]==0.10.2', or set "
            "device_fallback: cpu)"
        )
    # No seed (JAX has no global RNG: variants derive their keys from settings.seed) and no sync (each variant
    # blocks on its arrays at the end of its setup, and the harness reads each epoch's loss back, which waits
    # for the XLA execution that also updated the parameters).
    chosen = found[0] if device == "cuda" or (device == "auto" and found) else jax.devices("cpu")[0]
    kind, name = ("cuda", chosen.device_kind) if chosen in found else ("cpu", "cpu")
    # XLA's allocator reports its peak on a GPU (memory_stats() is None on the CPU).
    peak = (lambda: (chosen.memory_stats() or {}).get("peak_bytes_in_use")) if kind == "cuda" else None
    return Runtime(chosen, kind, name, pool, scope=lambda: jax.default_device(chosen), device_peak_bytes=peak)
