"""TensorFlow: the article's loop from scratch, its loop with built-in layers, and Keras fit."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # keep job logs to warnings and errors
import tensorflow as tf  # noqa: E402

from tale_of_two.fit import workloads  # noqa: E402
from tale_of_two.fit.frameworks._keras_fit import (  # noqa: E402
    Fit,
    FitDataset,
    MlpFit,
    MlpFitDataset,
    build_mlp,
    build_model,
    mlp_weights,
    set_random_seed,
)
from tale_of_two.fit.frameworks._loop import ArticleLoop  # noqa: E402
from tale_of_two.fit.harness import DeviceUnavailable, MiniBatches, Runtime, Settings  # noqa: E402

keras = tf.keras
VERSION = tf.__version__


def configure(device: str, threads: int, deterministic: bool = True) -> Runtime:
    notes = []
    threads = size_thread_pools(threads, notes)
    if not deterministic:  # op determinism is off unless enabled. Keras 3 then compiles `fit` with XLA
        notes.append("op determinism off: Keras 3 `fit` may compile its step with XLA (jit_compile='auto')")
    elif hasattr(tf.config.experimental, "enable_op_determinism"):
        tf.config.experimental.enable_op_determinism()
    else:  # TensorFlow < 2.8, the article's 2020 era: the environment variable it read instead
        os.environ["TF_DETERMINISTIC_OPS"] = "1"
        notes.append("TensorFlow < 2.8 has no enable_op_determinism: set TF_DETERMINISTIC_OPS=1")
    if not hasattr(keras.utils, "set_random_seed"):
        notes.append("Keras < 2.7 has no keras.utils.set_random_seed: seeded random, numpy and tf.random by hand")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cuda" and not gpus:
        raise DeviceUnavailable(
            "device 'cuda' requested but TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is empty)"
        )
    # No sync: the harness reads each epoch's loss back, which blocks until it is computed.
    if device == "cuda" or (device == "auto" and gpus):
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
        return Runtime(
            "/GPU:0",
            "cuda",
            name,
            threads,
            set_random_seed,
            scope=lambda: tf.device("/GPU:0"),
            notes=notes,
            device_peak_bytes=lambda: tf.config.experimental.get_memory_info("GPU:0")["peak"],  # TF's BFC allocator
        )
    return Runtime("/CPU:0", "cpu", "cpu", threads, set_random_seed, scope=lambda: tf.device("/CPU:0"), notes=notes)


def size_thread_pools(threads: int, notes: list[str]) -> int:
    """Size both pools to `threads`; return the intra-op size in effect.

    TensorFlow sizes its pools once, when its runtime starts. Where something in this process started it
    first (the tests, which run many fits in one process), the pools stay as they are and a note says so.
    """
    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
        return threads
    except RuntimeError:  # "... cannot be modified after initialization"
        intra, inter = threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
        notes.append(
            f"TensorFlow's runtime had started before this run was configured: its thread pools stay at "
            f"{intra} intra-op / {inter} inter-op (0: TensorFlow's choice), not {threads}"
        )
        return intra or os.cpu_count() or 1


def compiler_unavailable(error: BaseException) -> bool:
    """tf.function traces into TensorFlow's own graph runtime: it needs no compiler that could be missing."""
    return False


# --- scratch: tf.Variable in a tf.Module, hand-written MSE, GradientTape --------------------------


class LinearRegression(tf.Module):  # api: model
    # api: article: the article subclassed keras.Model, which in Keras 3 no longer tracks raw tf.Variable attributes
    def __init__(self, w0, b0):
        super().__init__()
        # tf.Module tracks tf.Variable attributes by itself: no Parameter wrapper needed.
        self.w = tf.Variable(w0, dtype=tf.float32)  # api: parameters
        self.b = tf.Variable(b0, dtype=tf.float32)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.w * x + self.b  # api: forward


@tf.function  # traced into a graph once, as the article did
def squared_error(y_pred: tf.Tensor, y_true: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(y_pred - y_true))  # api: loss: hand-written, under `@tf.function`


class Scratch(ArticleLoop):
    LOSS = "mse"
    # api: zero_grad: not needed: each tape records afresh
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings, tf.constant)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG
            init = tf.random.uniform([2], settings.init_low, settings.init_high)
        self.model = LinearRegression(init[0], init[1])
        self.lr = settings.lr

    def parameters(self) -> tuple[float, float]:
        return float(self.model.w.numpy()), float(self.model.b.numpy())  # api: read

    def train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:  # api: gradients: records the forward pass to differentiate it
            loss = squared_error(self.model(x), y)
        dw, db = tape.gradient(loss, [self.model.w, self.model.b])  # api: gradients
        self.model.w.assign_sub(self.lr * dw)  # api: update
        self.model.b.assign_sub(self.lr * db)
        return loss


# --- layers: keras Dense, tf.losses.mse, keras SGD.apply_gradients --------------------------------


class Layers(ArticleLoop):
    LOSS = "mse"
    # api: zero_grad: not needed: each tape records afresh

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings, tf.constant)
        self.model = build_model(settings)
        self.optimizer = keras.optimizers.SGD(learning_rate=settings.lr)  # api: optimizer

    def parameters(self) -> tuple[float, float]:
        return float(self.model.dense.kernel.numpy()[0, 0]), float(self.model.dense.bias.numpy()[0])  # api: read

    def train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:  # api: gradients
            loss = tf.reduce_mean(tf.losses.mse(y, self.model(x)))  # api: loss
        grads = tape.gradient(loss, self.model.trainable_variables)  # api: gradients
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))  # api: update
        return loss


# --- fit: compile(SGD, mean_absolute_error) then fit(x, y, epochs, batch_size) ---------------------
# `Fit` is written once in _keras_fit.py: this module and every keras_* backend run that code.


# --- graph and xla: the same step, traced once into a TensorFlow graph by tf.function -------------------------
# *_graph run that graph on TensorFlow's executor, op by op; *_xla also compile it with XLA (jit_compile=True),
# which fuses the ops into a few kernels. (Keras fit already runs its step as a tf.function.)


class TracedStep:
    """What the graph and xla variants share: the step under tf.function, and how often it was traced."""

    COMPILED = True
    JIT_COMPILE = False

    def trace_train_step(self) -> None:
        # jit_compile only where asked: TensorFlow < 2.5 calls it experimental_compile.
        options = {"jit_compile": True} if self.JIT_COMPILE else {}
        self.train_step = tf.function(self.train_step, **options)  # api: training: `tf.function`

    def compile_stats(self) -> dict | None:
        if not hasattr(self.train_step, "experimental_get_tracing_count"):  # TensorFlow < 2.4 does not count its traces
            return None
        traces = self.train_step.experimental_get_tracing_count()
        return {
            "compiler": "tf.function(jit_compile=True): XLA" if self.JIT_COMPILE else "tf.function: graph executor",
            "graphs": traces,
            "graph_breaks": None,  # none to have: Python runs once, while tracing; what it calls is in the graph
            "recompilations": max(traces - 1, 0),
        }


class ScratchGraph(TracedStep, Scratch):
    def __init__(self, *args):
        super().__init__(*args)
        self.trace_train_step()


class LayersGraph(TracedStep, Layers):
    def __init__(self, *args):
        super().__init__(*args)
        self.optimizer.build(self.model.trainable_variables)  # its variables must exist before tracing
        self.trace_train_step()


class ScratchXla(ScratchGraph):
    JIT_COMPILE = True  # api: training: `tf.function(jit_compile=True)`


class LayersXla(LayersGraph):
    JIT_COMPILE = True  # api: training: `tf.function(jit_compile=True)`


# --- the MLP (workload `mlp`, tale_of_two.fit.workloads): the harness's model spec and shared start -----------

ACTIVATIONS = {"tanh": tf.tanh, "relu": tf.nn.relu}


class MLP(tf.Module):  # api: model
    def __init__(self, layers: list, activation: str):
        super().__init__()
        self.params = [tf.Variable(array) for layer in layers for array in layer]  # api: parameters
        self.activation = ACTIVATIONS[activation]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        weights, biases = self.params[0::2], self.params[1::2]
        for weight, bias in zip(weights[:-1], biases[:-1]):
            x = self.activation(x @ weight + bias)  # api: forward
        return x @ weights[-1] + biases[-1]  # the output layer is linear


def mlp_start(d: int, settings: Settings) -> list:
    """The harness's shared draw; with `init: framework`, Glorot-uniform kernels and zero biases (Dense's)."""
    init = settings.initial_weights(d)
    if init is None:
        sizes = workloads.layer_sizes(d, settings.hidden)
        glorot = keras.initializers.GlorotUniform()
        init = [(glorot((i, o)).numpy(), tf.zeros([o]).numpy()) for i, o in zip(sizes[:-1], sizes[1:])]
    return init


class MlpScratch(ArticleLoop):
    LOSS = "mse"
    # api: zero_grad: not needed: each tape records afresh
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings, tf.constant)
        self.model = MLP(mlp_start(x.shape[1], settings), settings.activation)
        self.lr = settings.lr

    def parameters(self) -> list:
        return [param.numpy() for param in self.model.params]  # api: read

    def train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:  # api: gradients
            loss = squared_error(self.model(x), y)
        grads = tape.gradient(loss, self.model.params)  # api: gradients
        for param, grad in zip(self.model.params, grads):
            param.assign_sub(self.lr * grad)  # api: update
        return loss


class MlpLayers(ArticleLoop):
    LOSS = "mse"
    # api: forward: `model(x)`
    # api: zero_grad: not needed: each tape records afresh

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = MiniBatches.of(x, y, settings, tf.constant)
        self.model = build_mlp(x.shape[1], settings)
        self.optimizer = keras.optimizers.SGD(learning_rate=settings.lr)  # api: optimizer

    def parameters(self) -> list:
        return mlp_weights(self.model)  # api: read

    def train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:  # api: gradients
            loss = tf.reduce_mean(tf.losses.mse(y, self.model(x)))  # api: loss
        grads = tape.gradient(loss, self.model.trainable_variables)  # api: gradients
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))  # api: update
        return loss


class MlpScratchGraph(TracedStep, MlpScratch):
    def __init__(self, *args):
        super().__init__(*args)
        self.trace_train_step()


class MlpLayersGraph(TracedStep, MlpLayers):
    def __init__(self, *args):
        super().__init__(*args)
        self.optimizer.build(self.model.trainable_variables)  # its variables must exist before tracing
        self.trace_train_step()


VARIANTS = {
    "scratch": Scratch,
    "layers": Layers,
    "fit": Fit,
    "fit_dataset": FitDataset,
    "scratch_graph": ScratchGraph,
    "layers_graph": LayersGraph,
    "scratch_xla": ScratchXla,
    "layers_xla": LayersXla,
    "mlp_scratch": MlpScratch,
    "mlp_layers": MlpLayers,
    "mlp_fit": MlpFit,
    "mlp_fit_dataset": MlpFitDataset,
    "mlp_scratch_graph": MlpScratchGraph,
    "mlp_layers_graph": MlpLayersGraph,
}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "mlp_fit_dataset": ("mlp_fit", "as fit_dataset's: a new tf.data iterator at the start of every epoch"),
    "mlp_scratch_graph": ("mlp_scratch", "as scratch_graph's: the step runs eagerly, op by op from Python"),
    "mlp_layers_graph": ("mlp_layers", "as layers_graph's: the step runs eagerly, op by op from Python"),
    "fit_dataset": (
        "fit",
        "Keras 3 makes a new tf.data iterator at the start of every epoch and another after its last step: "
        "`make_iterator`, 2 calls per epoch, in the data pipeline group",
    ),
    "scratch_graph": (
        "scratch",
        "the step runs eagerly: every op and the tape's gradient dispatched one by one from Python "
        "(`TFE_Py_Execute`, `TFE_Py_TapeGradient`)",
    ),
    "layers_graph": (
        "layers",
        "the step runs eagerly: the optimizer's `apply_gradients`, the tape and the layer call dispatched op by "
        "op from Python",
    ),
}
