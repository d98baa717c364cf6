"""JAX: the article's loop from scratch (a pytree and jax.value_and_grad) and with Flax NNX layers and Optax."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from tale_of_two.frameworks._xla_cpu import gpus, start_backends
from tale_of_two.harness import DeviceUnavailable, Settings

VERSION = jax.__version__


@dataclass
class Runtime:
    device: jax.Device
    device_kind: str
    device_name: str
    threads: int

    def seed(self, seed: int) -> None:
        # JAX has no global RNG to seed: the variants derive their keys from settings.seed.
        pass

    def sync(self) -> None:
        # JAX has no device-wide barrier, and needs none here: each variant blocks on its arrays at the end of
        # its setup, and the harness reads each epoch's loss back, which waits for the step that computed it
        # (the same XLA execution as the updated parameters).
        pass

    def scope(self):
        return jax.default_device(self.device)


def configure(device: str, threads: int) -> Runtime:
    # XLA's CPU thread pool can only be sized when JAX starts its backends (see _xla_cpu.py).
    pool = start_backends(threads)
    found = gpus()
    if device == "cuda" and not found:
        raise DeviceUnavailable("device 'cuda' requested but JAX sees no GPU (jax.devices('gpu') finds none)")
    if device == "cuda" or (device == "auto" and found):
        return Runtime(found[0], "cuda", found[0].device_kind, pool)
    return Runtime(jax.devices("cpu")[0], "cpu", "cpu", pool)


def to_batches(x, y, settings: Settings, device) -> list[tuple[jax.Array, jax.Array]]:
    """Column arrays (n, 1) on the device, split into the configured mini-batches."""
    x = jax.device_put(x.reshape(-1, 1), device)
    y = jax.device_put(y.reshape(-1, 1), device)
    return [(x[part], y[part]) for part in settings.batches(len(x))]


def epoch_loss(batch_losses: list[jax.Array], batches) -> jax.Array:
    """The epoch's loss: the batch losses weighted by batch size (the loss itself when full batch)."""
    if len(batch_losses) == 1:
        return batch_losses[0]
    sizes = jnp.array([len(x) for x, _ in batches], dtype=batch_losses[0].dtype)
    return jnp.dot(jnp.stack(batch_losses), sizes / sizes.sum())


# --- scratch: a pytree of parameters, hand-written MSE, jax.value_and_grad, manual update under jit ---------


def predict(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return params["w"] * x + params["b"]


def squared_error(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(predict(params, x) - y))


@jax.jit
def sgd_step(params: dict[str, jax.Array], x: jax.Array, y: jax.Array, lr: jax.Array):
    """One step: loss and gradients in one pass, then w <- w - lr * dw for every leaf. Pure: returns new params."""
    loss, grads = jax.value_and_grad(squared_error)(params, x, y)
    return jax.tree.map(lambda param, grad: param - lr * grad, params, grads), loss


class Scratch:
    LOSS = "mse"
    API = {
        "parameters": 'a pytree (a dict) of arrays: `self.params = {"w": ..., "b": ...}`',
        "model": "none: a pure function `predict(params, x)`",
        "forward": '`params["w"] * x + params["b"]`',
        "loss": "hand-written: `jnp.mean(jnp.square(predict(params, x) - y))`",
        "gradients": "`jax.value_and_grad(squared_error)(params, x, y)`: a pytree shaped like `params`",
        "update": "`jax.tree.map(lambda param, grad: param - lr * grad, params, grads)`: new arrays, rebound",
        "zero_grad": "not needed: gradients are return values, nothing accumulates",
        "optimizer": "none: naive gradient descent",
        "training": "custom loop over epochs, each step compiled by `jax.jit`",
        "read": '`float(self.params["w"])`',
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings, runtime.device)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG: an explicit key, from the seed
            init = jax.random.uniform(
                jax.random.key(settings.seed), (2,), jnp.float32, settings.init_low, settings.init_high
            )
        # A pytree: any nesting of dicts, lists and tuples of arrays; grads come back in the same shape.
        self.params = {"w": jnp.asarray(init[0], jnp.float32), "b": jnp.asarray(init[1], jnp.float32)}
        self.lr = jnp.asarray(settings.lr, jnp.float32)
        jax.block_until_ready((self.batches, self.params, self.lr))

    def epoch(self) -> jax.Array:
        losses = []
        for x, y in self.batches:
            self.params, loss = sgd_step(self.params, x, y, self.lr)  # arrays are immutable: rebind
            losses.append(loss)
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return float(self.params["w"]), float(self.params["b"])


# --- layers: flax nnx.Linear, optax.sgd, optax's squared error -------------------------------------------


@nnx.jit
def train_step(model: nnx.Linear, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
    def loss_fn(model: nnx.Linear) -> jax.Array:
        return optax.losses.squared_error(model(x), y).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)  # updates the model's parameters in place
    return loss


class Layers:
    LOSS = "mse"
    API = {
        "parameters": "created by `nnx.Linear(1, 1, rngs=nnx.Rngs(settings.seed))`",
        "model": "`nnx.Linear` itself: NNX modules hold their parameters, like torch's",
        "forward": "`model(x)`",
        "loss": "the mean of `optax.losses.squared_error(model(x), y)`",
        "gradients": "`nnx.value_and_grad(loss_fn)(model)`",
        "update": "`optimizer.update(model, grads)`: in place",
        "zero_grad": "not needed: gradients are return values, nothing accumulates",
        "optimizer": "`nnx.Optimizer(self.model, optax.sgd(settings.lr), wrt=nnx.Param)`",
        "training": "custom loop over epochs, each step compiled by `nnx.jit`, bound by `nnx.cached_partial`",
        "read": "`self.model.kernel.value`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings, runtime.device)
        # nnx.Linear's default initialiser: LeCun-normal kernel, zero bias, from the seeded key stream.
        self.model = nnx.Linear(1, 1, rngs=nnx.Rngs(settings.seed))
        init = settings.initial_parameters()
        if init is not None:
            self.model.kernel.value = jnp.full((1, 1), init[0], jnp.float32)
            self.model.bias.value = jnp.full((1,), init[1], jnp.float32)
        self.optimizer = nnx.Optimizer(self.model, optax.sgd(settings.lr), wrt=nnx.Param)
        # nnx.jit walks the model and optimizer graphs on every call; cached_partial walks them once.
        self.step = nnx.cached_partial(train_step, self.model, self.optimizer)
        jax.block_until_ready((self.batches, nnx.state(self.model)))

    def epoch(self) -> jax.Array:
        losses = [self.step(x, y) for x, y in self.batches]
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return float(self.model.kernel.value[0, 0]), float(self.model.bias.value[0])


VARIANTS = {"scratch": Scratch, "layers": Layers}
