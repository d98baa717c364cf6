"""The article's `fit` cell, written once: tensorflow/fit and every keras_* backend run this code.

Not a framework (no ``VARIANTS``). It uses the Keras this process already runs: Keras 3 on the
backend that the importing module chose, or with Keras 2 (TensorFlow 2.15 and older) TensorFlow's tf.keras.
"""

from __future__ import annotations

import importlib
import random
import sys

import numpy as np

from tale_of_two.fit.harness import Runtime, Settings


def running_keras():
    module = sys.modules.get("keras")
    if module is None:
        try:
            module = importlib.import_module("keras")
        except ImportError:  # TensorFlow <= 2.5 with no standalone Keras: the one inside TensorFlow
            return importlib.import_module("tensorflow").keras
    if not str(getattr(module, "__version__", "2.")).startswith("2."):
        return module  # Keras 3
    # Keras 2 as its own package (TensorFlow 2.6 to 2.15): tf.keras is its public API; the package's top level
    # is not (keras 2.6's `keras.optimizers` has no SGD).
    return importlib.import_module("tensorflow").keras


keras = running_keras()


def set_random_seed(seed: int) -> None:
    """Python's, numpy's, Keras's and the backend's random generators."""
    if hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(seed)
    else:  # the Keras inside TensorFlow < 2.7 (the 2020 era): its three generators by hand
        random.seed(seed)
        np.random.seed(seed)
        importlib.import_module("tensorflow").random.set_seed(seed)


class LinearModel(keras.Model):  # api: model
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)  # api: parameters

    def call(self, x):
        return self.dense(x)  # api: forward


def build_model(settings: Settings) -> LinearModel:
    model = LinearModel()
    model(np.zeros((1, 1), np.float32))  # creates the Dense weights
    init = settings.initial_parameters()
    if init is not None:  # otherwise Dense's default: Glorot-uniform kernel, zero bias
        model.dense.kernel.assign([[init[0]]])
        model.dense.bias.assign([init[1]])
    return model


class FitLoop:
    """The article's `fit` call, written once for the line's `fit` and the MLP's `mlp_fit`: `self.model` compiled,
    `self.x`, `self.y` and `self.batch_size` set by the variant."""

    # api: gradients: inside `fit`
    # api: update: inside `fit`
    # api: zero_grad: not needed
    # api: article: `shuffle=False`: the article's `fit` kept Keras's default, a new order of the samples every epoch

    def train(self, epochs: int, callback) -> None:
        # shuffle=False: the harness's contiguous, unshuffled mini-batches, in the same order as every other run, so
        # that fit runs compare step by step. Keras shuffles the samples before every epoch by default (the article
        # ran that), each backend with its own generator: at batch_size 50, keras_torch/fit and keras_jax/fit were
        # 1.9e-3 apart in the loss shuffled, 1.5e-7 unshuffled. With a full batch the order changes only the order
        # of a sum. Keras 3.15 and TensorFlow 2.3's Keras 2.4 both spell it `shuffle` (tests/test_more_frameworks.py,
        # tests/then).
        self.model.fit(  # api: training
            self.x,
            self.y,
            epochs=epochs,
            batch_size=self.batch_size,
            shuffle=False,
            verbose=0,
            callbacks=[EpochEnd(callback)],
        )


class Fit(FitLoop):
    LOSS = "mae"

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.x, self.y = x.reshape(-1, 1), y.reshape(-1, 1)
        self.batch_size = settings.batch_size or len(x)
        self.model = build_model(settings)
        optimizer = keras.optimizers.SGD(learning_rate=settings.lr)  # api: optimizer
        self.model.compile(optimizer=optimizer, loss="mean_absolute_error")  # api: loss

    def parameters(self) -> tuple[float, float]:
        return float(self.model.dense.kernel.numpy()[0, 0]), float(self.model.dense.bias.numpy()[0])  # api: read


class EpochEnd(keras.callbacks.Callback):
    """The harness's callback, as Keras calls it after every epoch."""

    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def on_epoch_end(self, epoch, logs=None):
        if not self.callback(logs["loss"]):
            self.model.stop_training = True


# --- the remedy: one endless stream of batches and `steps_per_epoch` --------------------------------------
# Keras 3's EpochIterator (keras/src/trainers/epoch_iterator.py, `_enumerate_iterator`) makes a new iterator
# over x and y at the start of every epoch when `steps_per_epoch` is None, and another after the last step
# whenever the data has a known number of batches: on TensorFlow each is a new tf.data iterator. Fed a stream
# with no end and told `steps_per_epoch`, it makes one iterator for the whole `fit`. On TensorFlow the stream is
# a repeated tf.data dataset; on torch and JAX, whose Keras takes no tf.data without TensorFlow, a generator.


class EndlessData:
    """The remedy, for any Keras fit variant (before its fit variant in the bases)."""

    def train(self, epochs: int, callback) -> None:
        steps = -(-len(self.x) // self.batch_size)  # the batches of one epoch, the last one possibly short
        self.model.fit(  # api: training: one endless dataset, `steps_per_epoch`
            endless(self.x, self.y, self.batch_size),
            epochs=epochs,
            steps_per_epoch=steps,
            verbose=0,
            callbacks=[EpochEnd(callback)],
        )


class FitDataset(EndlessData, Fit):
    pass


def endless(x: np.ndarray, y: np.ndarray, batch_size: int):
    """The contiguous batches of (x, y) in order, over and over, in the form this Keras backend reads fastest."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if batch_size == len(x):
            return tf.data.Dataset.from_tensors((x, y)).repeat()
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).repeat()
    return repeat_forever(x, y, batch_size)


def repeat_forever(x: np.ndarray, y: np.ndarray, batch_size: int):
    """A generator (Keras reads only generators as endless Python data): the same batches, in order, every epoch."""
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]


# --- the MLP (workload `mlp`, tale_of_two.fit.workloads): Dense layers, compile + fit with an MSE --------------


def build_mlp(d: int, settings: Settings):
    """keras.Sequential of Dense layers (the output one linear), from the harness's shared draw of every weight
    (otherwise Dense's default: Glorot-uniform kernels, zero biases)."""
    hidden = [keras.layers.Dense(width, activation=settings.activation) for width in settings.hidden]  # api: parameters
    model = keras.Sequential([keras.Input((d,)), *hidden, keras.layers.Dense(1)])  # api: model
    init = settings.initial_weights(d)
    if init is not None:
        model.set_weights([array for layer in init for array in layer])  # Dense keeps W as (in, out), as drawn
    return model


def mlp_weights(model) -> list:
    return [np.asarray(array) for array in model.get_weights()]


class MlpFit(FitLoop):
    LOSS = "mse"
    # api: forward: inside `fit`

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.x, self.y = x, y.reshape(-1, 1)
        self.batch_size = settings.batch_size or len(x)
        self.model = build_mlp(x.shape[1], settings)
        optimizer = keras.optimizers.SGD(learning_rate=settings.lr)  # api: optimizer
        self.model.compile(optimizer=optimizer, loss="mean_squared_error")  # api: loss

    def parameters(self) -> list:
        return mlp_weights(self.model)  # api: read


class MlpFitDataset(EndlessData, MlpFit):
    pass
