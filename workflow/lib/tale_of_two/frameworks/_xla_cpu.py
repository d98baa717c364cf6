"""Starting JAX's backends with a chosen number of CPU threads: shared by jax.py and keras_jax.py.

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
from jax._src import xla_bridge  # backends_are_initialized(): JAX has no public way to ask

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
