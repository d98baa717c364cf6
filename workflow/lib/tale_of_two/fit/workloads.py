"""The workloads: what a run fits. The article's line, and an MLP regressor (issue #26).

A workload is a dataset recipe, a model spec the harness hands to every variant in `Settings`, and a shared
numpy draw of every initial weight; the frameworks only map the spec onto their own layers. A variant's name
says which workload it runs: `mlp_*` the MLP, any other the line (`workload_of`), so that the config, the
pipeline and the analysis read it without importing a framework. How to add one: docs/contract.md.

numpy and the standard library only; Python 3.8 (this runs inside the framework images and the 2020 era).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name -> the stem of its dataset files in results/data/ (the line's keeps the name it always had).
WORKLOADS = {"line": "dataset", "mlp": "mlp"}
# The activations an MLP may use between its layers (`activation` in the settings): every framework has both.
ACTIVATIONS = ("tanh", "relu")


def workload_of(variant: str) -> str:
    """The workload a variant runs, from its name: `mlp_scratch` -> "mlp", `scratch` -> "line"."""
    prefix = variant.split("_", 1)[0]
    return prefix if prefix in WORKLOADS and prefix != "line" else "line"


@dataclass(frozen=True)
class MLPDatasetSpec:
    """`y = sin(2 x.u) + (x.v)^2 / 2 + N(0, noise_std)`, `x ~ U(-1, 1)^d`; u and v unit-norm-ish directions drawn
    from the same seeded generator. Smooth, bounded and nonlinear: a line fits it badly, a small MLP well."""

    n: int = 200
    d: int = 4
    noise_std: float = 0.1
    dtype: str = "float32"
    seed: int = 43


def generate_mlp(spec: MLPDatasetSpec) -> dict:
    """x (n, d), then the directions, then the noise, from one seeded generator: same spec, same bytes."""
    rng = np.random.default_rng(spec.seed)
    x = rng.uniform(-1.0, 1.0, (spec.n, spec.d))
    u, v = rng.normal(0.0, 1.0 / np.sqrt(spec.d), (2, spec.d))
    noise = rng.normal(0.0, spec.noise_std + 0.0, spec.n)
    y = np.sin(2.0 * (x @ u)) + 0.5 * (x @ v) ** 2 + noise
    return {"x": x.astype(spec.dtype), "y": y.astype(spec.dtype)}


def layer_sizes(d: int, hidden) -> list:
    """[d, *hidden, 1]: the widths from the inputs to the one output."""
    return [int(d), *(int(width) for width in hidden), 1]


def initial_weights(d: int, hidden, seed: int, bias_low: float, bias_high: float) -> list:
    """One draw of every weight, made with numpy, that every framework starts from: [(W, b), ...], W of shape
    (fan_in, fan_out), float32. W ~ Glorot-uniform (what Keras' Dense draws), b ~ U(bias_low, bias_high), so
    that no bias starts at the zero a framework's default would give it."""
    rng = np.random.default_rng(seed)
    sizes = layer_sizes(d, hidden)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weight = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        bias = rng.uniform(bias_low, bias_high, fan_out).astype(np.float32)
        layers.append((weight, bias))
    return layers


def flops_per_step(n: int, d: int, hidden) -> int:
    """Floating-point operations of one full-batch gradient step of the MLP on n points, counted from the shapes.

    Matrix products only, each (a, b) @ (b, c) as 2abc: per layer of fan-in i and fan-out o, the forward
    product (2nio), the gradient of the weights (2nio) and, except at the first layer, which needs no gradient of
    its input, the gradient of the input (2nio). Element-wise work (activations, biases, the loss, the update)
    is O(n * width), below the products from a width of a few on, and is left out.
    """
    sizes = layer_sizes(d, hidden)
    total = 0
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        products = 2 if index == 0 else 3
        total += products * 2 * n * fan_in * fan_out
    return total


def parameter_count(d: int, hidden) -> int:
    sizes = layer_sizes(d, hidden)
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def step_products(n: int, d: int, hidden) -> list:
    """The matrix products of one full-batch step, as ((rows, inner), (inner, cols)) shapes: per layer the forward
    product, the weights' gradient and, past the first layer, the input's gradient (what `flops_per_step` counts)."""
    sizes = layer_sizes(d, hidden)
    products = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        products += [((n, fan_in), (fan_in, fan_out)), ((fan_in, n), (n, fan_out))]
        if index > 0:
            products.append(((n, fan_out), (fan_out, fan_in)))
    return products


def matmul_seconds(n: int, d: int, hidden, passes: int = 20, seed: int = 0) -> list:
    """The compute bound of one step on this machine, measured: numpy's float32 matrix products of the step's shapes
    (`step_products`), all of them once per pass, timed pass by pass (seconds each). Nothing else a step does (its
    activations, its update, its framework) is in it: no step can take less on the same BLAS and threads."""
    import time

    rng = np.random.default_rng(seed)
    operands = [
        (rng.standard_normal(a).astype(np.float32), rng.standard_normal(b).astype(np.float32))
        for a, b in step_products(n, d, hidden)
    ]
    outputs = [np.empty((a.shape[0], b.shape[1]), np.float32) for a, b in operands]
    times = []
    for _ in range(passes + 1):  # the first pass warms the BLAS and the caches: left out
        start = time.perf_counter()
        for (a, b), out in zip(operands, outputs):
            np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return times[1:]
