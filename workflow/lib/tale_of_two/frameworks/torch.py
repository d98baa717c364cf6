"""PyTorch: the article's loop from scratch and its loop with built-in layers."""

from __future__ import annotations

import torch
from torch import nn, optim

from tale_of_two.harness import DeviceUnavailable, MiniBatches, Runtime, Settings

VERSION = torch.__version__


def configure(device: str, threads: int) -> Runtime:
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "device 'cuda' requested but torch sees no CUDA GPU (torch.cuda.is_available() is False)"
        )
    torch.set_num_threads(threads)
    notes = []
    if hasattr(torch, "use_deterministic_algorithms"):
        torch.use_deterministic_algorithms(True)
    else:  # torch < 1.8, the article's 2020 era
        torch.set_deterministic(True)
        notes.append("torch < 1.8 has no torch.use_deterministic_algorithms: used torch.set_deterministic(True)")
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        name, synchronize = torch.cuda.get_device_name(0), torch.cuda.synchronize
        return Runtime(
            torch.device("cuda"), "cuda", name, torch.get_num_threads(), torch.manual_seed, synchronize, notes=notes
        )
    return Runtime(torch.device("cpu"), "cpu", "cpu", torch.get_num_threads(), torch.manual_seed, notes=notes)


def compiler_unavailable(error: BaseException) -> bool:
    """torch.compile cannot run here: this torch has none, or Inductor finds no working C++ compiler."""
    if isinstance(error, AttributeError) and not hasattr(torch, "compile"):  # torch < 2.0
        return True
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import CppCompileError, InvalidCxxCompiler

    return isinstance(error, BackendCompilerFailed) and isinstance(
        error.inner_exception, (InvalidCxxCompiler, CppCompileError)
    )


def batches(x, y, settings: Settings, device: torch.device) -> MiniBatches:
    return MiniBatches.of(x, y, settings, lambda array: torch.tensor(array, device=device))


# --- scratch: explicit Parameters, hand-written MSE, naive gradient descent ----------------------


class LinearRegression(nn.Module):  # api: model
    def __init__(self, w0: torch.Tensor, b0: torch.Tensor):
        super().__init__()
        # nn.Parameter registers w and b with the module, so they appear in parameters().
        self.w = nn.Parameter(w0)  # api: parameters
        self.b = nn.Parameter(b0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # api: article: the article's w was a (1, 1) Parameter used as `x @ w`; a scalar `w * x` is the same line
        return self.w * x + self.b  # api: forward


def squared_error(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.square(y_pred - y_true))  # api: loss: hand-written


class Scratch:
    LOSS = "mse"
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG
            w0, b0 = torch.empty(2).uniform_(settings.init_low, settings.init_high)
        else:
            w0, b0 = torch.tensor(init)
        self.model = LinearRegression(w0.clone(), b0.clone()).to(runtime.device)
        self.lr = settings.lr

    def parameters(self) -> tuple[float, float]:
        return self.model.w.item(), self.model.b.item()  # api: read

    def gradient_descent_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = squared_error(self.model(x), y)
        loss.backward()  # api: gradients
        with torch.no_grad():  # the update itself must not be recorded by autograd
            for param in (self.model.w, self.model.b):
                param -= self.lr * param.grad  # api: update
                param.grad.zero_()  # api: zero_grad: otherwise backward() accumulates into it
        return loss.detach()

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training
            losses = [self.gradient_descent_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break


# --- layers: nn.Linear, nn.MSELoss, optim.SGD -------------------------------------------------


class LinearModel(nn.Module):  # api: model
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)  # api: parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # api: forward


class Layers:
    LOSS = "mse"

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        self.model = LinearModel().to(runtime.device)
        init = settings.initial_parameters()
        if init is not None:  # otherwise nn.Linear's default (Kaiming-uniform) initialiser
            with torch.no_grad():
                self.model.linear.weight.fill_(init[0])
                self.model.linear.bias.fill_(init[1])
        self.loss_fn = nn.MSELoss()  # api: loss
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr)  # api: optimizer

    def parameters(self) -> tuple[float, float]:
        return self.model.linear.weight.item(), self.model.linear.bias.item()  # api: read

    def optimizer_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad()  # api: zero_grad
        loss = self.loss_fn(self.model(x), y)
        loss.backward()  # api: gradients
        self.optimizer.step()  # api: update
        return loss.detach()

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training
            losses = [self.optimizer_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break


# --- compiled: the same step, compiled by torch.compile (TorchInductor; needs a C++ compiler on CPU) ---


class ScratchCompiled(Scratch):
    COMPILED = True

    def __init__(self, *args):
        super().__init__(*args)
        self.gradient_descent_step = torch.compile(self.gradient_descent_step)  # api: training


class LayersCompiled(Layers):
    COMPILED = True

    def __init__(self, *args):
        super().__init__(*args)
        self.optimizer_step = torch.compile(self.optimizer_step)  # api: training


VARIANTS = {
    "scratch": Scratch,
    "layers": Layers,
    "scratch_compiled": ScratchCompiled,
    "layers_compiled": LayersCompiled,
}
