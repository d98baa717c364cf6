"""JAX: the article's loop from scratch (a pytree and jax.value_and_grad) and with Flax NNX layers and Optax."""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tale_of_two.fit import workloads
from tale_of_two.fit.frameworks._xla_cpu import configure_jax as configure  # noqa: F401  (the framework's configure)
from tale_of_two.fit.harness import MiniBatches, Runtime, Settings

VERSION = jax.__version__

# XLA compilations in this process, by function ("jit(scratch_train_step)"): from JAX's public monitoring events.
XLA_COMPILES: collections.Counter = collections.Counter()


def count_compile(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        XLA_COMPILES[kwargs.get("fun_name", "")] += 1


jax.monitoring.register_event_duration_secs_listener(count_compile)


class JitStep:
    """Where `jax.jit` compiles: the XLA compilations of the variant's step since the variant was built."""

    STEP = ""  # the step's name in JAX's events

    def count_compiles(self) -> None:
        self.compiles_at_start = XLA_COMPILES[self.STEP]

    def compile_stats(self) -> dict:
        before, after = self.compiles_at_start, XLA_COMPILES[self.STEP]
        return {
            "compiler": f"{self.STEP}: XLA",
            "graphs": after - before,
            "graph_breaks": None,  # none to have: jit traces the whole function or fails
            # Every compilation after the step's first in this process: a new shape, dtype or placement of an input.
            "recompilations": after - max(before, 1) if after else 0,
        }


def batches(x, y, settings: Settings, device: jax.Device) -> MiniBatches:
    return MiniBatches.of(x, y, settings, lambda array: jax.device_put(array, device))


# --- scratch: a pytree of parameters, hand-written MSE, jax.value_and_grad, manual update under jit ---------


def predict(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:  # api: model: none, a pure function
    return params["w"] * x + params["b"]  # api: forward


def squared_error(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(predict(params, x) - y))  # api: loss: hand-written


@jax.jit
def scratch_train_step(params: dict[str, jax.Array], x: jax.Array, y: jax.Array, lr: jax.Array):
    """One step: loss and gradients in one pass, then w <- w - lr * dw for every leaf. Pure: returns new params."""
    loss, grads = jax.value_and_grad(squared_error)(params, x, y)  # api: gradients: a pytree shaped like `params`
    return jax.tree.map(lambda param, grad: param - lr * grad, params, grads), loss  # api: update: new arrays


class Scratch(JitStep):
    LOSS = "mse"
    STEP = "jit(scratch_train_step)"
    # api: zero_grad: not needed: gradients are return values, nothing accumulates
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG: an explicit key, from the seed
            init = jax.random.uniform(
                jax.random.key(settings.seed), (2,), jnp.float32, settings.init_low, settings.init_high
            )
        # A pytree: any nesting of dicts, lists and tuples of arrays; grads come back in the same shape.
        w0, b0 = jnp.asarray(init[0], jnp.float32), jnp.asarray(init[1], jnp.float32)
        self.params = {"w": w0, "b": b0}  # api: parameters
        self.lr = jnp.asarray(settings.lr, jnp.float32)
        jax.block_until_ready((self.batches.pairs, self.params, self.lr))
        self.count_compiles()

    def parameters(self) -> tuple[float, float]:
        return float(self.params["w"]), float(self.params["b"])  # api: read

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training: each step compiled by `jax.jit`
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break

    def train_step(self, x: jax.Array, y: jax.Array) -> jax.Array:
        self.params, loss = scratch_train_step(self.params, x, y, self.lr)  # arrays are immutable: rebind
        return loss


# --- layers: flax nnx.Linear, optax.sgd, optax's squared error -------------------------------------------


@nnx.jit
def layers_train_step(model: nnx.Linear, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
    def loss_fn(model: nnx.Linear) -> jax.Array:
        return optax.losses.squared_error(model(x), y).mean()  # api: loss

    loss, grads = nnx.value_and_grad(loss_fn)(model)  # api: gradients
    optimizer.update(model, grads)  # api: update: in place
    return loss


class Layers(JitStep):
    LOSS = "mse"
    STEP = "jit(layers_train_step)"
    # api: model: `nnx.Linear` itself: NNX modules hold their parameters, like torch's
    # api: forward: `model(x)`
    # api: zero_grad: not needed: gradients are return values, nothing accumulates

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        # nnx.Linear's default initialiser: LeCun-normal kernel, zero bias, from the seeded key stream.
        self.model = nnx.Linear(1, 1, rngs=nnx.Rngs(settings.seed))  # api: parameters
        init = settings.initial_parameters()
        if init is not None:
            self.model.kernel.value = jnp.full((1, 1), init[0], jnp.float32)
            self.model.bias.value = jnp.full((1,), init[1], jnp.float32)
        self.optimizer = nnx.Optimizer(self.model, optax.sgd(settings.lr), wrt=nnx.Param)  # api: optimizer
        # nnx.jit walks the model and optimizer graphs on every call; cached_partial walks them once.
        self.train_step = nnx.cached_partial(layers_train_step, self.model, self.optimizer)
        jax.block_until_ready((self.batches.pairs, nnx.state(self.model)))
        self.count_compiles()

    def parameters(self) -> tuple[float, float]:
        return float(self.model.kernel.value[0, 0]), float(self.model.bias.value[0])  # api: read

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training: each step compiled by `nnx.jit`
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break


# --- the MLP (workload `mlp`, tale_of_two.fit.workloads): the harness's model spec and shared start -----------

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}


def mlp_predict(params: list, x: jax.Array, activation) -> jax.Array:  # api: model: none, a pure function
    for layer in params[:-1]:
        x = activation(x @ layer["w"] + layer["b"])  # api: forward
    return x @ params[-1]["w"] + params[-1]["b"]  # the output layer is linear


def mlp_squared_error(params: list, x: jax.Array, y: jax.Array, activation) -> jax.Array:
    return jnp.mean(jnp.square(mlp_predict(params, x, activation) - y))  # api: loss: hand-written


@functools.partial(jax.jit, static_argnames="activation")
def mlp_scratch_train_step(params: list, x: jax.Array, y: jax.Array, lr: jax.Array, activation):
    loss, grads = jax.value_and_grad(mlp_squared_error)(params, x, y, activation)  # api: gradients: a pytree
    return jax.tree.map(lambda param, grad: param - lr * grad, params, grads), loss  # api: update: new arrays


def mlp_start(d: int, settings: Settings) -> list:
    """The harness's shared draw; with `init: framework`, nnx.Linear's own (LeCun-normal kernel, zero bias)."""
    init = settings.initial_weights(d)
    if init is None:
        sizes = workloads.layer_sizes(d, settings.hidden)
        rngs = nnx.Rngs(settings.seed)
        linears = [nnx.Linear(i, o, rngs=rngs) for i, o in zip(sizes[:-1], sizes[1:])]
        init = [(linear.kernel.value, linear.bias.value) for linear in linears]
    return init


class MlpScratch(JitStep):
    LOSS = "mse"
    STEP = "jit(mlp_scratch_train_step)"
    # api: zero_grad: not needed: gradients are return values, nothing accumulates
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        start = mlp_start(x.shape[1], settings)
        self.params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in start]  # api: parameters
        self.activation = ACTIVATIONS[settings.activation]
        self.lr = jnp.asarray(settings.lr, jnp.float32)
        jax.block_until_ready((self.batches.pairs, self.params, self.lr))
        self.count_compiles()

    def parameters(self) -> list:
        return [np.asarray(layer[key]) for layer in self.params for key in ("w", "b")]  # api: read

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training: each step compiled by `jax.jit`
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break

    def train_step(self, x: jax.Array, y: jax.Array) -> jax.Array:
        self.params, loss = mlp_scratch_train_step(self.params, x, y, self.lr, self.activation)
        return loss


@nnx.jit
def mlp_layers_train_step(model: nnx.Sequential, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array):
    def loss_fn(model: nnx.Sequential) -> jax.Array:
        return optax.losses.squared_error(model(x), y).mean()  # api: loss

    loss, grads = nnx.value_and_grad(loss_fn)(model)  # api: gradients
    optimizer.update(model, grads)  # api: update: in place
    return loss


class MlpLayers(JitStep):
    LOSS = "mse"
    STEP = "jit(mlp_layers_train_step)"
    # api: forward: `model(x)`
    # api: zero_grad: not needed: gradients are return values, nothing accumulates

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        sizes, rngs = workloads.layer_sizes(x.shape[1], settings.hidden), nnx.Rngs(settings.seed)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nnx.Linear(fan_in, fan_out, rngs=rngs), ACTIVATIONS[settings.activation]]  # api: parameters
        self.model = nnx.Sequential(*layers[:-1])  # api: model: `nnx.Sequential`; the output layer is linear
        init = settings.initial_weights(x.shape[1])
        if init is not None:  # otherwise nnx.Linear's own: LeCun-normal kernel, zero bias
            for linear, (weight, bias) in zip(self.model.layers[0::2], init):
                linear.kernel.value, linear.bias.value = jnp.asarray(weight), jnp.asarray(bias)
        self.optimizer = nnx.Optimizer(self.model, optax.sgd(settings.lr), wrt=nnx.Param)  # api: optimizer
        self.train_step = nnx.cached_partial(mlp_layers_train_step, self.model, self.optimizer)
        jax.block_until_ready((self.batches.pairs, nnx.state(self.model)))
        self.count_compiles()

    def parameters(self) -> list:
        linears = self.model.layers[0::2]
        return [np.asarray(a) for linear in linears for a in (linear.kernel.value, linear.bias.value)]  # api: read

    def train(self, epochs: int, callback) -> None:
        for epoch in range(epochs):  # api: training: each step compiled by `nnx.jit`
            losses = [self.train_step(x, y) for x, y in self.batches]
            if not callback(self.batches.mean(losses)):
                break


VARIANTS = {"scratch": Scratch, "layers": Layers, "mlp_scratch": MlpScratch, "mlp_layers": MlpLayers}
