"""numpy: the baseline every framework is timed against.

Full-batch gradient descent written out by hand: no auto-diff, no framework, one thread of float32
arithmetic. Anything a framework adds on top of this is its overhead.
"""

from __future__ import annotations

import numpy as np

from tale_of_two.fit import workloads
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


# --- the MLP (workload `mlp`, tale_of_two.fit.workloads): the reference, its backpropagation written by hand ----
# The model spec (settings.hidden, settings.activation) and the start (settings.initial_weights(d)) are the
# harness's; every framework's mlp_* variant reads the same. numpy has no initialiser of its own: `init:
# framework` takes the same numpy draw.


def initial_layers(d: int, settings: Settings) -> list:
    init = settings.initial_weights(d)
    if init is None:
        init = workloads.initial_weights(d, settings.hidden, settings.seed, settings.init_low, settings.init_high)
    return [(weight.copy(), bias.copy()) for weight, bias in init]


# Each activation with its derivative, written from its input z and its output a.
ACTIVATIONS = {
    "tanh": (np.tanh, lambda z, a: np.float32(1) - a * a),
    "relu": (lambda z: np.maximum(z, np.float32(0)), lambda z, a: (z > 0).astype(z.dtype)),
}


class MlpScratch(ArticleLoop):
    LOSS = "mse"
    # api: model: none: a list of (W, b) arrays
    # api: zero_grad: not needed
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings)
        self.layers = initial_layers(x.shape[1], settings)  # api: parameters
        self.activate, self.derivative = ACTIVATIONS[settings.activation]
        self.lr = np.float32(settings.lr)

    def parameters(self) -> list:
        return [array for layer in self.layers for array in layer]  # api: read

    def train_step(self, x: np.ndarray, y: np.ndarray) -> np.float32:
        last = len(self.layers) - 1
        inputs, outputs = [], []  # each layer's input, and its pre-activation z with its output a
        a = x
        for index, (weight, bias) in enumerate(self.layers):
            inputs.append(a)
            z = a @ weight + bias  # api: forward
            a = self.activate(z) if index < last else z  # the output layer is linear
            outputs.append((z, a))
        residual = a - y
        grad = np.float32(2) * residual / np.float32(len(x))  # api: gradients: backpropagation by hand
        for index in range(last, -1, -1):
            weight, bias = self.layers[index]
            if index < last:
                grad = grad * self.derivative(*outputs[index])  # through the activation
            grad_weight, grad_bias = inputs[index].T @ grad, grad.sum(axis=0)
            if index > 0:
                grad = grad @ weight.T  # to the layer's input, with W as it was before its update
            weight -= self.lr * grad_weight  # api: update
            bias -= self.lr * grad_bias
        return np.mean(residual * residual)  # api: loss: hand-written, the loss before the step


# --- mlp_layers: the same network from layer objects that each know their backward pass, an MSE and an SGD ------


class Dense:
    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight, self.bias = weight, bias

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.weight + self.bias

    def backward(self, grad: np.ndarray, to_input: bool = True):
        self.grads = (self.x.T @ grad, grad.sum(axis=0))
        return grad @ self.weight.T if to_input else None

    def parameters(self) -> list:
        return [(self.weight, self.grads[0]), (self.bias, self.grads[1])]


class Activation:
    def __init__(self, name: str):
        self.activate, self.derivative = ACTIVATIONS[name]

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.z, self.a = z, self.activate(z)
        return self.a

    def backward(self, grad: np.ndarray, to_input: bool = True) -> np.ndarray:
        return grad * self.derivative(self.z, self.a)

    def parameters(self) -> list:
        return []


class Sequential:  # api: model
    def __init__(self, layers: list):
        self.layers = layers

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> None:
        for index in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[index].backward(grad, to_input=index > 0)

    def parameters(self) -> list:
        return [pair for layer in self.layers for pair in layer.parameters()]


class MeanSquaredError:
    def __call__(self, y_pred: np.ndarray, y_true: np.ndarray):
        residual = y_pred - y_true
        return np.mean(residual * residual), np.float32(2) * residual / np.float32(len(residual))


class SGD:
    def __init__(self, model: Sequential, lr: float):
        self.model, self.lr = model, np.float32(lr)

    def step(self) -> None:
        for param, grad in self.model.parameters():
            param -= self.lr * grad


class MlpLayers(ArticleLoop):
    LOSS = "mse"
    # api: zero_grad: not needed: each backward overwrites the gradients

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings)
        layers = []
        for weight, bias in initial_layers(x.shape[1], settings):
            layers += [Dense(weight, bias), Activation(settings.activation)]  # api: parameters
        self.model = Sequential(layers[:-1])  # the output layer is linear
        self.loss_fn = MeanSquaredError()  # api: loss
        self.optimizer = SGD(self.model, settings.lr)  # api: optimizer

    def parameters(self) -> list:
        dense = [layer for layer in self.model.layers if isinstance(layer, Dense)]
        return [array for layer in dense for array in (layer.weight, layer.bias)]  # api: read

    def train_step(self, x: np.ndarray, y: np.ndarray) -> np.float32:
        loss, grad = self.loss_fn(self.model(x), y)  # api: forward
        self.model.backward(grad)  # api: gradients: each layer's backward, by hand
        self.optimizer.step()  # api: update
        return loss


VARIANTS = {"scratch": Scratch, "scratch_inplace": ScratchInplace, "mlp_scratch": MlpScratch, "mlp_layers": MlpLayers}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "scratch_inplace": (
        "scratch",
        "new arrays of n floats every epoch (`w * x + b - y`, the products), page-faulted in where their memory is "
        "fresh; no large-n profile yet: docs/remedies.md counts the faults",
    ),
}
