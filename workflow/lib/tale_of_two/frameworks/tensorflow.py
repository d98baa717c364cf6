"""TensorFlow: the article's loop from scratch, its loop with built-in layers, and Keras fit."""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # keep job logs to warnings and errors
import tensorflow as tf  # noqa: E402

from tale_of_two.harness import DeviceUnavailable, Settings  # noqa: E402

keras = tf.keras
VERSION = tf.__version__


@dataclass
class Runtime:
    device: str
    device_kind: str
    device_name: str
    threads: int

    def seed(self, seed: int) -> None:
        keras.utils.set_random_seed(seed)

    def sync(self) -> None:
        # Nothing to wait on: the harness reads each epoch's loss back, which blocks until it is computed.
        pass

    def scope(self):
        return tf.device(self.device)


def configure(device: str, threads: int) -> Runtime:
    # Thread pools can only be sized before TensorFlow starts its runtime.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.config.experimental.enable_op_determinism()
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cuda" and not gpus:
        raise DeviceUnavailable(
            "device 'cuda' requested but TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is empty)"
        )
    if device == "cuda" or (device == "auto" and gpus):
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
        return Runtime("/GPU:0", "cuda", name, threads)
    return Runtime("/CPU:0", "cpu", "cpu", threads)


def to_batches(x, y, settings: Settings) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """Column tensors (n, 1), split into the configured mini-batches."""
    x = tf.constant(x.reshape(-1, 1))
    y = tf.constant(y.reshape(-1, 1))
    return [(x[part], y[part]) for part in settings.batches(len(x))]


def epoch_loss(batch_losses: list[tf.Tensor], batches) -> tf.Tensor:
    """The epoch's loss: the batch losses weighted by batch size (the loss itself when full batch)."""
    if len(batch_losses) == 1:
        return batch_losses[0]
    sizes = tf.constant([len(x) for x, _ in batches], dtype=batch_losses[0].dtype)
    return tf.tensordot(tf.stack(batch_losses), sizes / tf.reduce_sum(sizes), axes=1)


# --- scratch: tf.Variable in a tf.Module, hand-written MSE, GradientTape --------------------------


class LinearRegression(tf.Module):
    def __init__(self, w0, b0):
        super().__init__()
        # tf.Module tracks tf.Variable attributes by itself: no Parameter wrapper needed.
        self.w = tf.Variable(w0, dtype=tf.float32)
        self.b = tf.Variable(b0, dtype=tf.float32)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.w * x + self.b


def squared_error(y_pred: tf.Tensor, y_true: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(y_pred - y_true))


class Scratch:
    LOSS = "mse"
    API = {
        "parameters": "`tf.Variable(w0)`, `tf.Variable(b0)`",
        "model": "`tf.Module` subclass",
        "forward": "`__call__(self, x)`: `self.w * x + self.b`",
        "loss": "hand-written: `tf.reduce_mean(tf.square(y_pred - y_true))`",
        "gradients": "`tf.GradientTape()`, `tape.gradient(loss, [self.model.w, self.model.b])`",
        "update": "`self.model.w.assign_sub(self.lr * dw)`",
        "zero_grad": "not needed: each tape records afresh",
        "optimizer": "none: naive gradient descent",
        "training": "custom loop over epochs",
        "read": "`self.model.w.numpy()`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG
            init = tf.random.uniform([2], settings.init_low, settings.init_high)
        self.model = LinearRegression(init[0], init[1])
        self.lr = settings.lr

    def epoch(self) -> tf.Tensor:
        losses = []
        for x, y in self.batches:
            with tf.GradientTape() as tape:  # records the forward pass to differentiate it
                loss = squared_error(self.model(x), y)
            dw, db = tape.gradient(loss, [self.model.w, self.model.b])
            self.model.w.assign_sub(self.lr * dw)
            self.model.b.assign_sub(self.lr * db)
            losses.append(loss)
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return float(self.model.w.numpy()), float(self.model.b.numpy())


# --- layers: keras Dense, tf.losses.mse, keras SGD.apply_gradients --------------------------------


class LinearModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


def build_model(settings: Settings) -> LinearModel:
    model = LinearModel()
    model(tf.zeros((1, 1)))  # creates the Dense weights
    init = settings.initial_parameters()
    if init is not None:  # otherwise Dense's default: Glorot-uniform kernel, zero bias
        model.dense.kernel.assign([[init[0]]])
        model.dense.bias.assign([init[1]])
    return model


class Layers:
    LOSS = "mse"
    API = {
        "parameters": "created by `keras.layers.Dense(1)`",
        "model": "`keras.Model` subclass",
        "forward": "`call(self, x)`: `self.dense(x)`",
        "loss": "`tf.losses.mse(y, self.model(x))`",
        "gradients": "`tf.GradientTape()`, `tape.gradient(loss, self.model.trainable_variables)`",
        "update": "`self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))`",
        "zero_grad": "not needed: each tape records afresh",
        "optimizer": "`keras.optimizers.SGD(learning_rate=settings.lr)`",
        "training": "custom loop over epochs",
        "read": "`self.model.dense.kernel.numpy()`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = to_batches(x, y, settings)
        self.model = build_model(settings)
        self.optimizer = keras.optimizers.SGD(learning_rate=settings.lr)

    def epoch(self) -> tf.Tensor:
        losses = []
        for x, y in self.batches:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.losses.mse(y, self.model(x)))
            grads = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=False))
            losses.append(loss)
        return epoch_loss(losses, self.batches)

    def parameters(self) -> tuple[float, float]:
        return float(self.model.dense.kernel.numpy()[0, 0]), float(self.model.dense.bias.numpy()[0])


# --- fit: compile(SGD, mean_absolute_error) then fit(x, y, epochs, batch_size) ---------------------


class Fit:
    LOSS = "mae"
    API = {
        "parameters": "created by `keras.layers.Dense(1)`",
        "model": "`keras.Model` subclass",
        "forward": "`call(self, x)`: `self.dense(x)`",
        "loss": '`loss="mean_absolute_error"` in `compile`',
        "gradients": "inside `fit`",
        "update": "inside `fit`",
        "zero_grad": "not needed",
        "optimizer": "`keras.optimizers.SGD(learning_rate=settings.lr)` in `compile`",
        "training": "`self.model.compile(...)`, then `self.model.fit(self.x, self.y, epochs=epochs, batch_size=...)`",
        "read": "`self.model.dense.kernel.numpy()`",
    }

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.x, self.y = x.reshape(-1, 1), y.reshape(-1, 1)
        self.batch_size = settings.batch_size or len(x)
        self.model = build_model(settings)
        self.model.compile(optimizer=keras.optimizers.SGD(learning_rate=settings.lr), loss="mean_absolute_error")

    def train(self, epochs: int, on_epoch_end) -> None:
        class EpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if not on_epoch_end(logs["loss"]):
                    self.model.stop_training = True

        self.model.fit(self.x, self.y, epochs=epochs, batch_size=self.batch_size, verbose=0, callbacks=[EpochEnd()])

    def parameters(self) -> tuple[float, float]:
        return float(self.model.dense.kernel.numpy()[0, 0]), float(self.model.dense.bias.numpy()[0])


# --- compiled: the same loops traced once into a graph by tf.function ----------------------------------
# (Keras fit already runs its step as a tf.function; its XLA option, jit_compile, is refused under the
# op determinism this project turns on, so there is no separate compiled fit.)


class ScratchCompiled(Scratch):
    COMPILED = True
    API = {**Scratch.API, "training": "custom loop, epoch traced by `tf.function(self.epoch)`"}

    def __init__(self, *args):
        super().__init__(*args)
        self.epoch = tf.function(self.epoch)


class LayersCompiled(Layers):
    COMPILED = True
    API = {**Layers.API, "training": "custom loop, epoch traced by `tf.function(self.epoch)`"}

    def __init__(self, *args):
        super().__init__(*args)
        self.optimizer.build(self.model.trainable_variables)  # its variables must exist before tracing
        self.epoch = tf.function(self.epoch)


VARIANTS = {
    "scratch": Scratch,
    "layers": Layers,
    "fit": Fit,
    "scratch_compiled": ScratchCompiled,
    "layers_compiled": LayersCompiled,
}
