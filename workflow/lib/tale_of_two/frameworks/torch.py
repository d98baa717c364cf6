"""PyTorch: the article's loop from scratch and its loop with built-in layers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn, optim

from tale_of_two.harness import DeviceUnavailable, Settings

VERSION = torch.__version__


@dataclass
class Runtime:
    device: torch.device
    device_kind: str
    device_name: str
    threads: int

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def sync(self) -> None:
        if self.device_kind == "cuda":
            torch.cuda.synchronize()

    def scope(self):
        return contextlib.nullcontext()


def configure(device: str, threads: int) -> Runtime:
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "device 'cuda' requested but torch sees no CUDA GPU (torch.cuda.is_available() is False)"
        )
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    if use_cuda:
        return Runtime(torch.device("cuda"), "cuda", torch.cuda.get_device_name(0), torch.get_num_threads())
    return Runtime(torch.device("cpu"), "cpu", "cpu", torch.get_num_threads())


def to_batches(x, y, settings: Settings, device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Column tensors (n, 1) on the device, split into the configured mini-batches."""
    x = torch.tensor(x.reshape(-1, 1), device=device)
    y = torch.tensor(y.reshape(-1, 1), device=device)
    return [(x[part], y[part]) for part in settings.batches(len(x))]


def epoch_loss(batch_losses: list[torch.Tensor], batches) -> torch.Tensor:
    """The epoch's loss: the batch losses weighted by batch size (the loss itself when full batch)."""
    if len(batch_losses) == 1:
        return batch_losses[0]
    sizes = torch.tensor([len(x) for x, _ in batches], dtype=batch_losses[0].dtype, device=batch_losses[0].device)
    return torch.dot(torch.stack(batch_losses), sizes / sizes.sum())


# --- scratch: explicit Parameters, hand-written MSE, naive gradient descent ----------------------


class LinearRegression(nn.Module):
    def __init__(self, w0: torch.Tensor, b0: torch.Tensor):
        super().__init__()
        # nn.Parameter registers w and b with the module, so they appear in parameters().
        self.w = nn.Parameter(w0)
        self.b = nn.Parameter(b0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x + self.b


def squared_error(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.square(y_pred - y_true))


class Scratch:
    LOSS = "mse"
    API = {
        "parameters": "`nn.Parameter(w0)`, `nn.Parameter(b0)`",
        "model": "`nn.Module` subclass",
        "forward": "`forward(self, x)`: `self.w * x + self.b`",
        "loss": "hand-written: `torch.mean(torch.square(y_pred - y_true))`",
        "gradients": "`loss.backward()`",
        "update": "`param -= self.lr * param.grad` inside `torch.no_grad()`",
        "zero_grad": "`param.grad.zero_()`",
        "optimizer": "none: naive gradient descent",
        "training": "custom loop over epochs",
        "read": "`self.model.w.item()`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings, runtime.device)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG
            w0, b0 = torch.empty(2).uniform_(settings.init_low, settings.init_high)
        else:
            w0, b0 = torch.tensor(init)
        self.model = LinearRegression(w0.clone(), b0.clone()).to(runtime.device)
        self.lr = settings.lr

    def epoch(self) -> torch.Tensor:
        losses = []
        for x, y in self.batches:
            loss = squared_error(self.model(x), y)
            loss.backward()
            with torch.no_grad():  # the update itself must not be recorded by autograd
                for param in (self.model.w, self.model.b):
                    param -= self.lr * param.grad
                    param.grad.zero_()  # otherwise backward() accumulates into it
            losses.append(loss.detach())
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return self.model.w.item(), self.model.b.item()


# --- layers: nn.Linear, nn.MSELoss, optim.SGD -------------------------------------------------


class LinearModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Layers:
    LOSS = "mse"
    API = {
        "parameters": "created by `nn.Linear(1, 1)`",
        "model": "`nn.Module` subclass",
        "forward": "`forward(self, x)`: `self.linear(x)`",
        "loss": "`nn.MSELoss()`",
        "gradients": "`loss.backward()`",
        "update": "`self.optimizer.step()`",
        "zero_grad": "`self.optimizer.zero_grad()`",
        "optimizer": "`optim.SGD(self.model.parameters(), lr=settings.lr)`",
        "training": "custom loop over epochs",
        "read": "`self.model.linear.weight.item()`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings, runtime.device)
        self.model = LinearModel().to(runtime.device)
        init = settings.initial_parameters()
        if init is not None:  # otherwise nn.Linear's default (Kaiming-uniform) initialiser
            with torch.no_grad():
                self.model.linear.weight.fill_(init[0])
                self.model.linear.bias.fill_(init[1])
        self.loss_fn = nn.MSELoss()
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr)

    def epoch(self) -> torch.Tensor:
        losses = []
        for x, y in self.batches:
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return self.model.linear.weight.item(), self.model.linear.bias.item()


# --- compiled: the same loops, compiled by torch.compile (TorchInductor; needs a C++ compiler on CPU) ---


class ScratchCompiled(Scratch):
    COMPILED = True
    API = {**Scratch.API, "training": "custom loop, epoch compiled by `torch.compile(self.epoch)`"}

    def __init__(self, *args):
        super().__init__(*args)
        self.epoch = torch.compile(self.epoch)


class LayersCompiled(Layers):
    COMPILED = True
    API = {**Layers.API, "training": "custom loop, epoch compiled by `torch.compile(self.epoch)`"}

    def __init__(self, *args):
        super().__init__(*args)
        self.epoch = torch.compile(self.epoch)


VARIANTS = {
    "scratch": Scratch,
    "layers": Layers,
    "scratch_compiled": ScratchCompiled,
    "layers_compiled": LayersCompiled,
}
