"""Keras 3 `fit` on the TensorFlow backend: the article's `fit` variant, as tensorflow/fit runs it."""

from __future__ import annotations

import tensorflow as tf

from tale_of_two.frameworks._keras import Runtime, select_backend
from tale_of_two.harness import DeviceUnavailable, Settings

keras = select_backend("tensorflow")  # sets KERAS_BACKEND, then imports Keras
VERSION = f"keras {keras.__version__} (backend {keras.backend.backend()} {tf.__version__})"


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
        return Runtime("gpu:0", "cuda", name, threads)
    return Runtime("cpu", "cpu", "cpu", threads)


# --- fit: compile(SGD, mean_absolute_error) then fit(x, y, epochs, batch_size) ---------------------
# The model and the variant are tensorflow.py's, unchanged (a test compares them), on this backend.


class LinearModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


def build_model(settings: Settings) -> LinearModel:
    model = LinearModel()
    model(keras.ops.zeros((1, 1)))  # creates the Dense weights
    init = settings.initial_parameters()
    if init is not None:  # otherwise Dense's default: Glorot-uniform kernel, zero bias
        model.dense.kernel.assign([[init[0]]])
        model.dense.bias.assign([init[1]])
    return model


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


VARIANTS = {"fit": Fit}
