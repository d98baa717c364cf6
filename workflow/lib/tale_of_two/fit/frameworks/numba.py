"""numba: numpy/scratch's gradient descent as one fused pass, the yardstick of what a single pass does.

numpy's `w * x + b - y` makes a new array per operation, and its epoch reads and writes n-element arrays
several times. Here one `@numba.njit` loop reads x and y once per step and accumulates the loss and both
gradients as it goes: float32 throughout, as numpy's. `fastmath={"reassoc"}` lets LLVM split each sum into
several SIMD lanes (a strict left-to-right float sum cannot be vectorised); the sums then add up in another
order than numpy's pairwise sums, so the losses agree to float32 rounding, not bit for bit.

numba compiles the step for its argument types at its first call (the first epoch, in the warm-up); the
compilations are recorded (`compile_stats`) from numba's own "numba:compile" events.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba.core import event

from tale_of_two.fit.harness import MiniBatches, Runtime, Settings

VERSION = numba.__version__


def configure(device: str, threads: int) -> Runtime:
    # A plain loop on one thread (no `parallel=True`): the same work per core as numpy's reference.
    notes = ["numba runs on the CPU only here: device 'cuda' does not apply"] if device == "cuda" else []
    return Runtime("cpu", "cpu", "cpu", 1, notes=notes)


def compiler_unavailable(error: BaseException) -> bool:
    """Never: numba brings its own LLVM (llvmlite), there is no external toolchain to be missing."""
    return False


@numba.njit(fastmath={"reassoc"}, cache=False)
def fused_train_step(x: np.ndarray, y: np.ndarray, params: np.ndarray, lr: np.float32) -> float:
    """One pass over x and y: the loss before the step and both gradients; `params` (w, b) updated in place."""
    w, b = params[0], params[1]
    loss, sum_rx, sum_r = np.float32(0), np.float32(0), np.float32(0)
    for i in range(x.shape[0]):  # api: forward: one residual per point, never stored
        residual = w * x[i] + b - y[i]
        loss += residual * residual
        sum_rx += residual * x[i]  # api: gradients: by hand, accumulated in the same pass
        sum_r += residual
    n = np.float32(x.shape[0])
    grad_w = np.float32(2) * (sum_rx / n)
    grad_b = np.float32(2) * (sum_r / n)
    params[0] = w - lr * grad_w  # api: update: in place
    params[1] = b - lr * grad_b
    return loss / n


class CompileEvents(event.Listener):
    """numba's "numba:compile" events for one dispatcher: how many compilations, and their seconds."""

    def __init__(self, dispatcher):
        self.dispatcher, self.count, self.seconds, self._started = dispatcher, 0, 0.0, []

    def on_start(self, compile_event) -> None:
        if compile_event.data.get("dispatcher") is self.dispatcher:
            self._started.append(time.perf_counter())

    def on_end(self, compile_event) -> None:
        if compile_event.data.get("dispatcher") is self.dispatcher:
            self.count += 1
            self.seconds += time.perf_counter() - self._started.pop()


COMPILES = CompileEvents(fused_train_step)
event.register("numba:compile", COMPILES)


class Scratch:
    LOSS = "mse"
    COMPILED = True
    # api: model: none
    # api: zero_grad: not needed
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        # 1-D contiguous float32 views: the one array type the step is compiled for (full batch or a slice).
        self.batches = MiniBatches.of(x, y, settings, lambda column: np.ascontiguousarray(column.ravel()))
        init = settings.initial_parameters()
        if init is None:
            init = np.random.default_rng(settings.seed).uniform(settings.init_low, settings.init_high, 2)
        # w and b in one float32 array the step updates in place (numba returns scalars as Python floats: float64).
        self.params = np.array(init, dtype=np.float32)  # api: parameters
        self.lr = np.float32(settings.lr)
        self.compiles_at_start, self.compile_s_at_start = COMPILES.count, COMPILES.seconds

    def parameters(self) -> tuple[float, float]:
        return float(self.params[0]), float(self.params[1])  # api: read

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return fused_train_step(x, y, self.params, self.lr)  # api: loss: from the same pass, a float32 value

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training: each step one compiled pass
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break

    def compile_stats(self) -> dict:
        compiled = COMPILES.count - self.compiles_at_start
        return {
            "compiler": "numba.njit: LLVM",
            "graphs": compiled,  # one machine-code function per set of argument types
            "graph_breaks": None,  # njit compiles the whole function or fails (no object-mode fallback)
            # Every compilation after the step's first in this process: new argument types.
            "recompilations": COMPILES.count - max(self.compiles_at_start, 1) if COMPILES.count else 0,
            "compile_s": COMPILES.seconds - self.compile_s_at_start,
        }


VARIANTS = {"scratch": Scratch}
