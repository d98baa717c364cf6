"""2020 idioms, run as written, in whichever era's frameworks are installed.

Each idiom is a few lines of code as a 2020 tutorial wrote them (`then`), and the way to write the same
thing today (`today`); each ends by checking that it did what it meant (the loss went down, the learning
rate is the one asked for). `run_idioms` runs both in this interpreter and records what happened:
"works", "warns" (works, with the warnings quoted) or "fails" (the error quoted). Nothing about an
outcome is typed in: it is what the run gave.

numpy, TensorFlow, torch and the standard library only, and Python 3.8 syntax: it runs in the 2020
environment (Python 3.8, TensorFlow 2.3 with Keras 2, torch 1.7) and in today's.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tale_of_two.fit.era import versions

EPOCHS = 20
LR = 0.001
MESSAGE_CHARS = 300
# Python's default warning filters hide these unless the code that triggered them is the script itself.
HIDDEN_BY_DEFAULT = ("DeprecationWarning", "PendingDeprecationWarning")


@dataclass(frozen=True)
class Idiom:
    name: str
    framework: str  # "tensorflow" or "torch"
    then_code: str  # the 2020 idiom, in a few words of code
    today_code: str  # what replaces it today
    then: Callable  # (x, y) -> evidence dict; raises when the idiom fails
    today: Callable


def went_down(losses: list[float]) -> dict[str, float]:
    """The evidence every idiom ends with: its first and last loss, the last below the first."""
    first, last = float(losses[0]), float(losses[-1])
    if not last < first:
        raise AssertionError(f"the loss did not go down: {first:.6g} -> {last:.6g}")
    return {"first_loss": first, "last_loss": last}


def columns(x, y):
    return x.reshape(-1, 1), y.reshape(-1, 1)


# --- TensorFlow / Keras -------------------------------------------------------------------------------


def raw_variable_descent(base, variables_of, x, y):
    """The article's TF scratch cell: a `base` subclass holding raw tf.Variable attributes, trained by
    gradient descent on the variables that `variables_of(model)` gives."""
    import tensorflow as tf

    class LinearRegression(base):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(0.0)
            self.b = tf.Variable(0.0)

        def __call__(self, x):
            return self.w * x + self.b

    model = LinearRegression()
    losses = []
    for _ in range(EPOCHS):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        dw, db = tape.gradient(loss, variables_of(model))
        model.w.assign(model.w - LR * dw)
        model.b.assign(model.b - LR * db)
        losses.append(loss.numpy())
    return {"trainable_variables": len(model.trainable_variables), **went_down(losses)}


def keras_model_raw_variables(x, y):
    import tensorflow as tf

    return raw_variable_descent(tf.keras.Model, lambda model: model.trainable_variables, x, y)


def tf_module_listed_variables(x, y):
    import tensorflow as tf

    return raw_variable_descent(tf.Module, lambda model: [model.w, model.b], x, y)


def fit_mae(model, x, y, optimizer_factory):
    model.compile(optimizer=optimizer_factory(), loss="mean_absolute_error")
    history = model.fit(x, y, epochs=EPOCHS, batch_size=len(x), verbose=0)
    return went_down(history.history["loss"])


def fit_1d_x(x, y):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    return fit_mae(model, x, y, lambda: tf.keras.optimizers.SGD(learning_rate=LR))


def fit_column_x(x, y):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    x, y = columns(x, y)
    return fit_mae(model, x, y, lambda: tf.keras.optimizers.SGD(learning_rate=LR))


def dense_input_shape(x, y):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=[1])])
    x, y = columns(x, y)
    return fit_mae(model, x, y, lambda: tf.keras.optimizers.SGD(learning_rate=LR))


def input_layer(x, y):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    x, y = columns(x, y)
    return fit_mae(model, x, y, lambda: tf.keras.optimizers.SGD(learning_rate=LR))


def train_step(optimizer, x, y):
    """The article's layers loop with the given optimizer; checks the learning rate it really used."""
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    x, y = columns(x, y)
    losses = []
    for _ in range(EPOCHS):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.losses.mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(loss.numpy())
    used = float(np.asarray(optimizer.learning_rate))
    if not np.isclose(used, LR, rtol=1e-6):
        raise AssertionError(f"the optimizer's learning rate is {used}, not the {LR} asked for")
    return {"learning_rate": used, **went_down(losses)}


def sgd_lr_alias(x, y):
    import tensorflow as tf

    return train_step(tf.keras.optimizers.SGD(lr=LR), x, y)


def sgd_learning_rate(x, y):
    import tensorflow as tf

    return train_step(tf.keras.optimizers.SGD(learning_rate=LR), x, y)


# --- PyTorch ---------------------------------------------------------------------------------------------


def linear_sgd(x_t, y_t, log):
    """nn.Linear, nn.MSELoss and optim.SGD over the given tensors; `log` turns each loss into a number."""
    import torch

    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.MSELoss()
    losses = []
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        loss = loss_fn(model(x_t), y_t)
        loss.backward()
        optimizer.step()
        losses.append(log(loss))
    return went_down(losses)


def autograd_variable(x, y):
    import torch
    from torch.autograd import Variable

    x, y = columns(x, y)
    return linear_sgd(Variable(torch.from_numpy(x)), Variable(torch.from_numpy(y)), lambda loss: loss.item())


def plain_tensors(x, y):
    import torch

    x, y = columns(x, y)
    return linear_sgd(torch.from_numpy(x), torch.from_numpy(y), lambda loss: loss.item())


def loss_data(x, y):
    import torch

    x, y = columns(x, y)
    return linear_sgd(torch.from_numpy(x), torch.from_numpy(y), lambda loss: float(loss.data))


def loss_item(x, y):
    return plain_tensors(x, y)


def scratch_descent(x_t, y_t, w, b, forward):
    import torch

    losses = []
    for _ in range(EPOCHS):
        loss = torch.mean((forward(x_t, w, b) - y_t) ** 2)
        loss.backward()
        with torch.no_grad():
            for param in (w, b):
                param -= LR * param.grad
                param.grad.zero_()
        losses.append(loss.item())
    return went_down(losses)


def parameter_matmul(x, y):
    import torch

    x, y = columns(x, y)
    w = torch.nn.Parameter(torch.zeros(1, 1))
    b = torch.nn.Parameter(torch.zeros(1))
    return scratch_descent(torch.from_numpy(x), torch.from_numpy(y), w, b, lambda x, w, b: x @ w + b)


def parameter_scalar(x, y):
    import torch

    w = torch.nn.Parameter(torch.tensor(0.0))
    b = torch.nn.Parameter(torch.tensor(0.0))
    return scratch_descent(torch.from_numpy(x), torch.from_numpy(y), w, b, lambda x, w, b: w * x + b)


IDIOMS = [
    Idiom(
        "keras.Model with raw tf.Variable attributes",
        "tensorflow",
        "`class M(keras.Model)`: `self.w = tf.Variable(...)`, `__call__`; "
        "`dw, db = tape.gradient(loss, model.trainable_variables)`; `w.assign(w - lr * dw)`",
        "`class M(tf.Module)`; `tape.gradient(loss, [model.w, model.b])`",
        keras_model_raw_variables,
        tf_module_listed_variables,
    ),
    Idiom(
        "fit with 1-D x",
        "tensorflow",
        "`Sequential([Dense(1)])`; `fit(x, y)` with `x.shape == (n,)`",
        "`fit(x.reshape(-1, 1), y.reshape(-1, 1))`",
        fit_1d_x,
        fit_column_x,
    ),
    Idiom(
        "SGD(lr=...)",
        "tensorflow",
        "`tf.keras.optimizers.SGD(lr=0.001)`",
        "`tf.keras.optimizers.SGD(learning_rate=0.001)`",
        sgd_lr_alias,
        sgd_learning_rate,
    ),
    Idiom(
        "Dense(input_shape=...)",
        "tensorflow",
        "`Sequential([Dense(1, input_shape=[1])])`",
        "`Sequential([keras.Input(shape=(1,)), Dense(1)])`",
        dense_input_shape,
        input_layer,
    ),
    Idiom(
        "torch.autograd.Variable",
        "torch",
        "`x = Variable(torch.from_numpy(x))`",
        "`x = torch.from_numpy(x)`",
        autograd_variable,
        plain_tensors,
    ),
    Idiom(
        "(1, 1) nn.Parameter, x @ w",
        "torch",
        "`w = nn.Parameter(torch.zeros(1, 1))`; `x @ w + b`",
        "`w = nn.Parameter(torch.tensor(0.0))`; `w * x + b`",
        parameter_matmul,
        parameter_scalar,
    ),
    Idiom("loss.data", "torch", "`float(loss.data)` to log", "`loss.item()`", loss_data, loss_item),
]


# --- running them ------------------------------------------------------------------------------------------


def quote(text: str) -> str:
    """One line, at most MESSAGE_CHARS characters: whitespace runs collapsed, memory addresses dropped."""
    text = re.sub(r"\s+", " ", re.sub(r" at 0x[0-9a-f]+", "", str(text))).strip()
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def shown_by_default(category: str, filename: str, code_file: str) -> bool:
    """Whether Python's default filters would show this warning to someone running the idiom as a script."""
    return category not in HIDDEN_BY_DEFAULT or filename == code_file


class Collect(logging.Handler):
    """Warnings that frameworks log (TensorFlow and absl) rather than `warnings.warn`."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(f"{record.name} {record.levelname}: {record.getMessage()}")


def classify(error, messages: list[str]) -> str:
    if error is not None:
        return "fails"
    return "warns" if messages else "works"


def run_one(function: Callable, x, y) -> dict:
    """Run one idiom; its outcome, the warnings it raised and the error it failed with, quoted."""
    handler = Collect()
    loggers = [logging.getLogger(), logging.getLogger("tensorflow"), logging.getLogger("absl")]
    for logger in loggers:
        logger.addHandler(handler)
    error, evidence = None, None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                evidence = function(x, y)
            except Exception as raised:  # the outcome to record, whatever it is
                error = f"{type(raised).__name__}: {raised}"
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    code_file = function.__code__.co_filename
    messages = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if shown_by_default(w.category.__name__, w.filename, code_file)
    ] + handler.messages
    messages = list(dict.fromkeys(quote(m) for m in messages))  # each once, in order
    return {
        "outcome": classify(error, messages),
        "warnings": messages,
        "error": None if error is None else quote(error),
        "evidence": evidence,
    }


def torch_warm_up(x, y):
    import torch

    t = torch.zeros(1, requires_grad=True)
    (2 * t).sum().backward()
    return {"gradient": float(t.grad)}


def tensorflow_warm_up(x, y):
    import tensorflow as tf

    v = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        loss = 2 * v
    return {"gradient": float(tape.gradient(loss, v))}


WARM_UPS = {"torch": torch_warm_up, "tensorflow": tensorflow_warm_up}


def seed_frameworks(seed: int = 0) -> None:
    """The same start for every idiom, so that its evidence repeats run after run."""
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def run_idioms(x, y, idioms=None) -> dict:
    """Every idiom, 2020 code and today's, in this interpreter: the outcomes as they came.

    Each framework is first imported and takes one gradient: what that warns about (no GPU driver, say)
    belongs to the environment, and is recorded as such rather than charged to the first idiom.
    """
    idioms = IDIOMS if idioms is None else idioms
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    environment = {
        framework: run_one(WARM_UPS[framework], x, y) for framework in sorted({idiom.framework for idiom in idioms})
    }
    rows = []
    for idiom in idioms:
        for code in ("then", "today"):
            seed_frameworks()
            rows.append(
                {
                    "idiom": idiom.name,
                    "framework": idiom.framework,
                    "code": code,
                    "source": idiom.then_code if code == "then" else idiom.today_code,
                    "function": getattr(idiom, code).__name__,
                    **run_one(getattr(idiom, code), x, y),
                }
            )
    return {"versions": versions(), "environment": environment, "idioms": rows}
