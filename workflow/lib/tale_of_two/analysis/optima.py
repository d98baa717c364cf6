"""The optima every fit is judged against: the OLS and LAD lines (analysis environment only)."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from tale_of_two.fit.data import DatasetSpec, arrays_sha256, ols
from tale_of_two.fit.workloads import MLPDatasetSpec


def lad(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-absolute-deviation line, the optimum of an MAE fit, solved exactly as a linear program.

    minimise sum(u_plus + u_minus) subject to w*x_i + b + u_plus_i - u_minus_i = y_i, u >= 0.
    """
    n = len(x)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    cost = np.concatenate([[0.0, 0.0], np.ones(2 * n)])
    identity = sparse.identity(n, format="csr")
    constraints = sparse.hstack([sparse.csr_matrix(np.column_stack([x64, np.ones(n)])), identity, -identity])
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    solution = linprog(cost, A_eq=constraints, b_eq=y64, bounds=bounds, method="highs")
    if not solution.success:
        raise RuntimeError(f"LAD linear program failed: {solution.message}")
    w, b = solution.x[:2]
    return float(w), float(b)


def dataset_metadata(spec: DatasetSpec, arrays: dict[str, np.ndarray], with_lad: bool = True) -> dict:
    """What the dataset is and the optima every fit is judged against: true, OLS (MSE) and LAD (MAE).

    The LAD linear program grows with n; timing-only datasets (the benchmark) leave it out.
    """
    x, y = arrays["x"], arrays["y"]
    w_ols, b_ols = ols(x, y)
    residual_ols = y.astype(np.float64) - (w_ols * x.astype(np.float64) + b_ols)
    if with_lad:
        w_lad, b_lad = lad(x, y)
        residual_lad = y.astype(np.float64) - (w_lad * x.astype(np.float64) + b_lad)
        lad_line = {"w": w_lad, "b": b_lad, "mae": float(np.mean(np.abs(residual_lad)))}
    else:
        lad_line = None
    return {
        "spec": dataclasses.asdict(spec),
        "n": int(len(x)),
        "dtype": str(x.dtype),
        "sha256": arrays_sha256(arrays),
        "true": {"w": spec.w_true, "b": spec.b_true},
        "ols": {"w": w_ols, "b": b_ols, "mse": float(np.mean(residual_ols**2))},
        "lad": lad_line,
    }


def mlp_metadata(spec: MLPDatasetSpec, arrays: dict[str, np.ndarray]) -> dict:
    """What the MLP's dataset is. An MLP has no closed-form optimum: runs are judged against the best loss any
    converged run reaches (tale_of_two.analysis.convergence); the MSE of the best affine fit (least squares on
    the d inputs, in float64) is recorded as what a line gets on these data."""
    x, y = arrays["x"].astype(np.float64), arrays["y"].astype(np.float64)
    design = np.column_stack([x, np.ones(len(x))])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    return {
        "spec": dataclasses.asdict(spec),
        "workload": "mlp",
        "n": int(len(x)),
        "d": int(x.shape[1]),
        "dtype": str(arrays["x"].dtype),
        "sha256": arrays_sha256(arrays),
        "affine_mse": float(np.mean((y - design @ coefficients) ** 2)),
    }
