"""numpy: the reference every framework is timed against.

Full-batch gradient descent written out by hand: no auto-diff, no framework, one thread of float32
arithmetic. Anything a framework adds on top of this is its overhead.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from tale_of_two.harness import DeviceUnavailable, Settings

VERSION = np.__version__


@dataclass
class Runtime:
    device: str = "cpu"
    device_kind: str = "cpu"
    device_name: str = "cpu"
    threads: int = 1  # element-wise float32 maths: numpy runs it on one thread

    def seed(self, seed: int) -> None:
        pass  # every draw below is from a generator seeded by the settings

    def sync(self) -> None:
        pass  # numpy is synchronous

    def scope(self):
        return contextlib.nullcontext()


def configure(device: str, threads: int) -> Runtime:
    if device == "cuda":
        raise DeviceUnavailable("device 'cuda' requested but numpy runs on the CPU only")
    return Runtime()


class Scratch:
    LOSS = "mse"
    API = {
        "parameters": "`np.float32` scalars",
        "model": "none: `self.w * x + self.b`",
        "forward": "`self.w * x + self.b`",
        "loss": "hand-written: `np.mean(residual * residual)`",
        "gradients": "by hand: `np.mean(residual * x)`, `np.mean(residual)`",
        "update": "`self.w -= self.lr * grad_w`",
        "zero_grad": "not needed",
        "optimizer": "none: naive gradient descent",
        "training": "custom loop over epochs",
        "read": "`float(self.w)`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = [(x[part], y[part]) for part in settings.batches(len(x))]
        self.sizes = np.array([len(batch) for batch, _ in self.batches], dtype=np.float32) / len(x)
        init = settings.initial_parameters()
        if init is None:
            init = np.random.default_rng(settings.seed).uniform(settings.init_low, settings.init_high, 2)
        self.w, self.b = np.float32(init[0]), np.float32(init[1])
        self.lr = np.float32(settings.lr)

    def epoch(self) -> np.float32:
        losses = []
        for x, y in self.batches:
            residual = self.w * x + self.b - y
            losses.append(np.mean(residual * residual))
            # d/dw and d/db of mean((w x + b - y)^2), by hand
            grad_w = np.float32(2) * np.mean(residual * x)
            grad_b = np.float32(2) * np.mean(residual)
            self.w -= self.lr * grad_w
            self.b -= self.lr * grad_b
        return losses[0] if len(losses) == 1 else np.dot(losses, self.sizes)

    def parameters(self) -> tuple[float, float]:
        return float(self.w), float(self.b)


VARIANTS = {"scratch": Scratch}
