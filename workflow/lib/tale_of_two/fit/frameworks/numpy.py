"""numpy: the baseline every framework is timed against.

Full-batch gradient descent written out by hand: no auto-diff, no framework, one thread of float32
arithmetic. Anything a framework adds on top of this is its overhead.
"""

from __future__ import annotations

import numpy as np

from tale_of_two.fit.frameworks._loop import ArticleLoop
from tale_of_two.fit.harness import MiniBatches, Runtime, Settings

VERSION = np.__version__


def configure(device: str, threads: int) -> Runtime:
    # numpy has no GPU: `device: cuda` (a GPU recipe for every run) is not an error here; the result says so.
    notes = ["numpy runs on the CPU only: device 'cuda' does not apply"] if device == "cuda" else []
    # Element-wise float32 maths runs on one thread; every draw below is from a generator seeded by the settings.
    return Runtime("cpu", "cpu", "cpu", 1, notes=notes)


class Scratch(ArticleLoop):
    LOSS = "mse"
    # api: model: none
    # api: zero_grad: not needed
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings)
        init = settings.initial_parameters()
        if init is None:
            init = np.random.default_rng(settings.seed).uniform(settings.init_low, settings.init_high, 2)
        self.w, self.b = np.float32(init[0]), np.float32(init[1])  # api: parameters
        self.lr = np.float32(settings.lr)

    def parameters(self) -> tuple[float, float]:
        return float(self.w), float(self.b)  # api: read

    def train_step(self, x: np.ndarray, y: np.ndarray) -> np.float32:
        residual = self.w * x + self.b - y  # api: forward
        # d/dw and d/db of mean((w x + b - y)^2), by hand
        grad_w = np.float32(2) * np.mean(residual * x)  # api: gradients: by hand
        grad_b = np.float32(2) * np.mean(residual)  # api: gradients
        self.w -= self.lr * grad_w  # api: update
        self.b -= self.lr * grad_b
        return np.mean(residual * residual)  # api: loss: hand-written, the loss before the step


# --- the remedy at large n: the same epoch with no new array ---------------------------------------------
# `w * x + b - y`, `residual * x` and `residual * residual` make new arrays of n floats every epoch: memory the
# epoch allocates and frees, and, where it is fresh to the process, faults in page by page (docs/remedies.md
# counts the faults). Here every ufunc writes into two buffers allocated once (`out=`, in-place `+=`), the same
# operations in the same order.


class ScratchInplace(Scratch):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        largest = max(len(batch_x) for batch_x, _ in self.batches)
        self.residual = np.empty((largest, 1), np.float32)  # two buffers, allocated once
        self.product = np.empty((largest, 1), np.float32)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> np.float32:
        residual, product = self.residual[: len(x)], self.product[: len(x)]
        np.multiply(self.w, x, out=residual)  # api: forward: in place, `out=`
        residual += self.b
        residual -= y
        grad_w = np.float32(2) * np.mean(np.multiply(residual, x, out=product))  # api: gradients: by hand
        grad_b = np.float32(2) * np.mean(residual)
        self.w -= self.lr * grad_w  # api: update
        self.b -= self.lr * grad_b
        return np.mean(np.multiply(residual, residual, out=product))  # api: loss: hand-written, into a buffer


VARIANTS = {"scratch": Scratch, "scratch_inplace": ScratchInplace}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "scratch_inplace": (
        "scratch",
        "new arrays of n floats every epoch (`w * x + b - y`, the products), page-faulted in where their memory is "
        "fresh; no large-n profile yet: docs/remedies.md counts the faults",
    ),
}
