"""The scaling benchmark: epoch time against n, a cost model per run, and the goals it measures.

Every run is set beside numpy's hand-written epoch, beside numba's fused single pass (what one pass over
the data achieves on this CPU), and beside a bare memory pass over x and y (the bytes any full-batch epoch
must read). Each run's rounds (processes) and repeats are merged first. The mini-batch axis (one n, several
batch sizes) gets a cost model per step, `t0 + c*B`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from tale_of_two.analysis import confidence, plots
from tale_of_two.analysis.summary import compile_counts, cv_between_repeats, number
from tale_of_two.fit import harness

REFERENCE = ("numpy", "scratch")
YARDSTICK = ("numba", "scratch")  # one fused pass over x and y per epoch
BYTES_PER_POINT = 8  # x and y, float32: what a full-batch epoch must read at least once
# Goals the benchmark reports against (it measures; it does not assert).
GOAL_RATIO_TO_NUMPY = 1.0  # a fused step reads x and y once; numpy's epoch makes several passes
GOAL_FRACTION_OF_BOUND = 0.5
GOAL_OVERHEAD_FRACTION = 0.01
GOAL_CV = 0.05
GOAL_FRAMEWORKS = ("torch", "tensorflow", "jax")
GOAL_YARDSTICK_FRACTION = 0.7  # numba's fused pass: at least 70 % of the memory pass's speed
# Keras `fit` on TensorFlow, remedied (an infinite tf.data dataset with steps_per_epoch), within 2x of Keras 3
# `fit` on JAX, at the article's n.
KERAS_GOAL = {"n": 200, "run": ("tensorflow", "fit_dataset"), "against": ("keras_jax", "fit"), "within": 2.0}


def merge_rounds(results: list[dict]) -> list[dict]:
    """One result per (n, framework, variant, determinism, batch size): the repeats of every round together."""
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        deterministic = result["settings"].get("deterministic", True)
        batch_size = result["settings"].get("batch_size")
        key = (result["dataset"]["n"], result["framework"], result["variant"], deterministic, batch_size)
        groups.setdefault(key, []).append(result)
    # The measurements merged; the provenance (settings, dataset, environment) the first round's.
    return [
        {**parts[0], **harness.merge_repeats(parts, parts[0]["settings"]["warmup_epochs"])} for parts in groups.values()
    ]


Interval = Callable[[int, str, str], "tuple[float, float] | None"]


def ratio_intervals(results: list[dict]) -> Interval:
    """`interval(n, run, against)`: the 95 % interval of run's median epoch over against's at n (runs named as
    `run_label` names them), from their merged repeats (`confidence.ratio_interval`); None where either is missing."""
    steady = {
        (r["dataset"]["n"], run_label(r["framework"], r["variant"], r["settings"].get("deterministic", True))): (
            confidence.steady_repeats(r)
        )
        for r in merge_rounds(results)
        if r["status"] == "ok" and r["settings"].get("batch_size") is None
    }

    def interval(n: int, run: str, against: str):
        if (n, run) not in steady or (n, against) not in steady:
            return None
        return confidence.ratio_interval(steady[(n, run)], steady[(n, against)])

    return interval


def no_intervals(n: int, run: str, against: str) -> None:
    return None


def run_label(framework: str, variant: str, deterministic: bool) -> str:
    return f"{framework}/{variant}" + ("" if deterministic else " (nondeterministic)")


def recompile_reason(result: dict) -> str:
    """The first recompilation's reason, where the compiler says (torch), for the goals' notes."""
    reasons = [
        r for repeat in (result.get("compile") or {}).get("repeats", []) for r in repeat.get("recompile_reasons", [])
    ]
    return f" (first: {reasons[0].splitlines()[0][:160]})" if reasons else ""


def scaling_table(results: list[dict]) -> pd.DataFrame:
    rows = []
    for result in merge_rounds(results):
        timings = result["timings"]
        deterministic = result["settings"].get("deterministic", True)
        rows.append(
            {
                "n": result["dataset"]["n"],
                "framework": result["framework"],
                "variant": result["variant"],
                "deterministic": deterministic,
                "run": run_label(result["framework"], result["variant"], deterministic),
                "status": result["status"],
                "epoch_time_s": timings["epoch_s"]["median"],
                "epoch_time_q1_s": timings["epoch_s"]["q1"],
                "epoch_time_q3_s": timings["epoch_s"]["q3"],
                "repeats": timings["repeats"],
                "cv_between_repeats": cv_between_repeats(timings),
                "first_epoch_s": timings["first_epoch_s"],
                "memory_pass_s": timings["memory_pass_s"]["median"],
                "harness_overhead_s": timings["harness_overhead_s"],
                "peak_rss_after_training_bytes": result["memory"]["peak_rss_after_training_bytes"],
                "setup_held_bytes": result["memory"]["setup_held_bytes"],
                "dataset_bytes": result["memory"]["dataset_bytes"],
                **compile_counts(result),
                "recompile_reason": recompile_reason(result),
                "framework_version": result["framework_version"],
                "device": result["device"],
                "threads": result["threads"],
                "load_average": (result["environment"].get("load_average") or [np.nan])[0],
                "error": result["error"],
            }
        )
    table = pd.DataFrame(rows).sort_values(["n", "framework", "variant", "deterministic"], ignore_index=True)
    table["epoch_over_memory_pass"] = table["epoch_time_s"] / table["memory_pass_s"]
    # What the set-up holds per point, and as copies of x and y (a copy of both is 8 bytes a point).
    held = table["setup_held_bytes"].astype(float)
    table["setup_bytes_per_point"] = held / table["n"]
    table["data_copies"] = held / table["dataset_bytes"].astype(float)
    table["ratio_to_numpy"] = table["epoch_time_s"] / reference_times(table, REFERENCE)
    table["ratio_to_numba"] = table["epoch_time_s"] / reference_times(table, YARDSTICK)
    return table


def reference_times(table: pd.DataFrame, run: tuple[str, str]) -> pd.Series:
    """The epoch time of `run` (deterministic) at each row's n; NaN where it did not run at that n."""
    rows = table[(table["framework"] == run[0]) & (table["variant"] == run[1]) & table["deterministic"]]
    return table["n"].map(rows.set_index("n")["epoch_time_s"]) if not rows.empty else pd.Series(np.nan, table.index)


def fit_cost(n: np.ndarray, seconds: np.ndarray) -> dict:
    """t(n) = t0 + c*n, both non-negative, fitted in relative terms (each size counts alike, whatever its time).

    fit_error is the largest |fitted - measured| / measured over the sizes.
    """
    n, seconds = np.asarray(n, float), np.asarray(seconds, float)
    (t0, c), _ = nnls(np.column_stack([1 / seconds, n / seconds]), np.ones_like(seconds))
    fitted = t0 + c * n
    return {
        "t0_s": t0,
        "s_per_point": c,
        "gb_per_s": BYTES_PER_POINT / c / 1e9 if c > 0 else np.inf,
        "fit_error": float(np.max(np.abs(fitted - seconds) / seconds)),
        "sizes": len(n),
    }


def cost_model(table: pd.DataFrame) -> pd.DataFrame:
    """One fit per run over the sizes it ran at, plus the memory pass (median over runs at each n)."""
    ok = table[table["status"] == "ok"]
    rows = []
    for run, runs in ok.groupby("run", sort=False):
        if len(runs) >= 2:
            fit = fit_cost(runs["n"], runs["epoch_time_s"])
            rows.append({"run": run, "framework": runs["framework"].iloc[0], **fit})
    bound = ok.groupby("n")["memory_pass_s"].median()
    if len(bound) >= 2:
        rows.append({"run": "memory pass (bound)", "framework": "", **fit_cost(bound.index, bound.to_numpy())})
    model = pd.DataFrame(rows)
    if model.empty:
        return model
    reference = model.set_index("run")
    numpy_label = run_label(*REFERENCE, True)
    if numpy_label in reference.index:
        model["t0_x_numpy"] = model["t0_s"] / reference.loc[numpy_label, "t0_s"]
        model["gb_per_s_x_numpy"] = model["gb_per_s"] / reference.loc[numpy_label, "gb_per_s"]
    if "memory pass (bound)" in reference.index:
        model["fraction_of_bound_gb_per_s"] = model["gb_per_s"] / reference.loc["memory pass (bound)", "gb_per_s"]
    return model


def finite(column: pd.Series | None) -> pd.Series:
    """A ratio column with infinities (no measurable per-point cost) as blanks; all blank where absent."""
    return pd.Series(dtype=float) if column is None else column.replace([np.inf, -np.inf], np.nan)


def cost_model_markdown(model: pd.DataFrame) -> str:
    if model.empty:
        return "## Cost model\n\nFewer than two sizes: nothing to fit.\n"
    shown = pd.DataFrame(
        {
            "run": model["run"],
            "t0, us": (1e6 * model["t0_s"]).map(number(".1f")),
            "GB/s": model["gb_per_s"].map(lambda v: "no per-point cost" if np.isinf(v) else f"{v:.2f}"),
            "fit error": model["fit_error"].map(number(".0%")),
            "t0 x numpy": finite(model.get("t0_x_numpy")).map(number(".1f")),
            "GB/s x numpy": finite(model.get("gb_per_s_x_numpy")).map(number(".2f")),
            "GB/s / bound": finite(model.get("fraction_of_bound_gb_per_s")).map(number(".0%")),
        }
    )
    return (
        "## Cost model\n\nPer run, `t(n) = t0 + c*n` fitted to the median epoch times over the sizes (non-negative "
        "least squares on relative errors, so that each size counts alike). `t0` is the fixed cost of an epoch "
        "(Python, dispatch, iterators); `c` is shown as throughput, GB/s of x and y read at "
        f"{BYTES_PER_POINT} bytes a point. Fit error: the largest relative distance between the line and a "
        "measured median. A large `t0` means overhead-bound at small n; a low GB/s means throughput-bound at "
        "large n.\n\n" + shown.to_markdown(index=False, disable_numparse=True) + "\n"
    )


# A run holds a copy of the data where its set-up keeps at least this share of x and y's bytes (the torch
# runs' tensors are one copy: 1.0 to 1.15 at 4e6 points, tests/test_memory.py).
COPY_FRACTION = 0.5


def memory_markdown(table: pd.DataFrame) -> str:
    """Per run, what its set-up holds per point at each n, and at the largest n as copies of x and y."""
    ok = table[(table["status"] == "ok") & table["setup_bytes_per_point"].notna()]
    if ok.empty:
        return "## Memory\n\nNo run recorded its memory.\n"
    largest = ok["n"].max()
    per_point = ok.pivot_table(index="run", columns="n", values="setup_bytes_per_point", sort=True)
    at_largest = ok[ok["n"] == largest].set_index("run")
    rows = []
    for run in per_point.index:
        row = {"run": run, **{f"n = {n:,}": number(".2f")(per_point.loc[run, n]) for n in per_point.columns}}
        if run in at_largest.index:
            copies = at_largest.loc[run, "data_copies"]
            row["copies of x, y at largest n"] = f"{copies:.2f}" + (" (copies)" if copies >= COPY_FRACTION else "")
            row["peak, MB"] = number(".0f", 1e-6)(at_largest.loc[run, "peak_rss_after_training_bytes"])
        rows.append(row)
    copying = sorted(at_largest.index[at_largest["data_copies"] >= COPY_FRACTION])
    return (
        "## Memory\n\nBytes per point that each run's set-up holds (its resident memory after the first repeat's "
        "set-up less before it: the model, the optimizer, and any copy of x and y, which is 8 bytes a point), and at "
        f"n = {largest:,} the same as copies of x and y. A run copies the data where it holds at least "
        f"{COPY_FRACTION:.0%} of their bytes: {', '.join(copying) if copying else 'none'}. *Peak*: the process's "
        "peak resident memory, shared by every run of its process (one process per framework and size).\n\n"
        + pd.DataFrame(rows).fillna("").to_markdown(index=False, disable_numparse=True)
        + "\n"
    )


def no_profile(n: int, framework: str, variant: str) -> str | None:
    return None


def goals_markdown(
    table: pd.DataFrame,
    profile: Callable[[int, str, str], str | None] = no_profile,
    interval: Interval = no_intervals,
) -> str:
    """The goals the benchmark set out to check, with the measured numbers and their 95 % intervals.

    `profile(n, framework, variant)` names the profile that says where a run's time goes: a goal not met
    points to it ("not met, because <profile>"). `interval` (`ratio_intervals`) gives each ratio's interval.
    """
    ok = table[table["status"] == "ok"]
    largest = ok["n"].max()
    at_largest = ok[ok["n"] == largest]
    compiled = at_largest[(at_largest["compiler"] != "") & (at_largest["framework"] != YARDSTICK[0])]

    def verdict(met: bool, n: int, framework: str, variant: str) -> str:
        cause = profile(n, framework, variant)
        return "met" if met else ("not met, because " + cause if cause else "not met")

    lines = [
        f"## Goals\n\nAt n = {largest:,} (full batch), the fastest compiled variant of each framework against "
        f"numpy's hand-written epoch (goal: at most {GOAL_RATIO_TO_NUMPY:.1f}x) and against the memory-pass bound "
        f"(goal: at least {GOAL_FRACTION_OF_BOUND:.0%} of its speed), beside numba's fused pass (x numba), "
        "ratios measured in this benchmark, each with its 95 % interval (a bootstrap over the repeats of every "
        "round).\n"
    ]
    rows = []
    for framework in GOAL_FRAMEWORKS:
        runs = compiled[compiled["framework"] == framework]
        if runs.empty:
            rows.append({"framework": framework, "fastest compiled run": "none ran", "goal met": "no"})
            continue
        best = runs.loc[runs["epoch_time_s"].idxmin()]
        fraction = best["memory_pass_s"] / best["epoch_time_s"]
        met = best["ratio_to_numpy"] <= GOAL_RATIO_TO_NUMPY and fraction >= GOAL_FRACTION_OF_BOUND
        rows.append(
            {
                "framework": framework,
                "fastest compiled run": best["run"],
                "epoch, ms": f"{1e3 * best['epoch_time_s']:.3f}",
                "x numpy": confidence.ratio_text(
                    best["ratio_to_numpy"], interval(largest, best["run"], run_label(*REFERENCE, True))
                ),
                "x numba": number(".2f")(best["ratio_to_numba"]),
                "share of bound": f"{fraction:.0%}",
                "goal met": verdict(met, largest, best["framework"], best["variant"]),
            }
        )
    columns = ["framework", "fastest compiled run", "epoch, ms", "x numpy", "x numba", "share of bound", "goal met"]
    lines.append(pd.DataFrame(rows, columns=columns).fillna("").to_markdown(index=False, disable_numparse=True) + "\n")
    lines.append(yardstick_goal(at_largest, verdict))
    lines.append(keras_goal(ok, verdict, interval))
    fastest = ok.loc[ok["epoch_time_s"].idxmin()]
    overhead = ok["harness_overhead_s"].median()
    fraction = overhead / fastest["epoch_time_s"]
    lines.append(
        f"Harness bookkeeping per epoch: {1e6 * overhead:.2f} us (median over runs), {fraction:.2%} of the fastest "
        f"epoch ({fastest['run']} at n = {fastest['n']:,}, {1e6 * fastest['epoch_time_s']:.1f} us); goal: under "
        f"{GOAL_OVERHEAD_FRACTION:.0%}: {'met' if fraction < GOAL_OVERHEAD_FRACTION else 'not met'}.\n"
    )
    worst = ok.loc[ok["cv_between_repeats"].idxmax()] if ok["cv_between_repeats"].notna().any() else None
    if worst is not None:
        over = int((ok["cv_between_repeats"] > GOAL_CV).sum())
        lines.append(
            f"Coefficient of variation between repeats: worst {worst['cv_between_repeats']:.1%} ({worst['run']} at "
            f"n = {worst['n']:,}); {over} of {len(ok)} runs above {GOAL_CV:.0%}"
            + ("" if pd.isna(worst["load_average"]) else f"; load average as it started: {worst['load_average']:.1f}")
            + ".\n"
        )
    notes = [
        f"- {row['run']} at n = {row['n']:,}: graph breaks {number('.0f')(row['graph_breaks']) or 'n/a'}, "
        f"recompilations {row['recompilations']:.0f}{row['recompile_reason']}"
        for _, row in ok[(ok["graph_breaks"] > 0) | (ok["recompilations"] > 0)].iterrows()
    ]
    notes += [
        f"- {row['run']} at n = {row['n']:,} could not run: {row['error']}"
        for _, row in table[table["status"] == "unsupported"].iterrows()
    ]
    if notes:
        lines.append("\n".join(notes) + "\n")
    return "\n".join(lines)


def yardstick_goal(at_largest: pd.DataFrame, verdict) -> str:
    """numba's fused pass against the memory pass: how close one compiled pass over x and y comes to the bound."""
    runs = at_largest[(at_largest["framework"] == YARDSTICK[0]) & (at_largest["variant"] == YARDSTICK[1])]
    goal = f"goal: at least {GOAL_YARDSTICK_FRACTION:.0%}"
    if runs.empty:
        return f"{run_label(*YARDSTICK, True)}: no run at this n ({goal} of the memory-pass bound).\n"
    run = runs.iloc[0]
    fraction = run["memory_pass_s"] / run["epoch_time_s"]
    return (
        f"{run['run']} (one fused pass): {1e3 * run['epoch_time_s']:.3f} ms per epoch, {fraction:.0%} of the "
        f"memory-pass bound ({goal}): {verdict(fraction >= GOAL_YARDSTICK_FRACTION, run['n'], *YARDSTICK)}.\n"
    )


def keras_goal(ok: pd.DataFrame, verdict, interval: Interval = no_intervals) -> str:
    """The remedied Keras fit on TensorFlow against Keras 3 fit on JAX, at the article's n, in this benchmark:
    met where the ratio's whole 95 % interval is within the goal, not met where all of it is above, undecided
    where it straddles the goal (or where there is no interval, the ratio alone decides, as said)."""
    n, within = KERAS_GOAL["n"], KERAS_GOAL["within"]
    labels = [run_label(*run, True) for run in (KERAS_GOAL["run"], KERAS_GOAL["against"])]
    at_n = ok[ok["n"] == n].set_index("run")["epoch_time_s"]
    head = f"Keras `fit` on TensorFlow, remedied ({labels[0]}), within {within:.0f}x of {labels[1]} at n = {n}"
    missing = [label for label in labels if label not in at_n.index]
    if missing:
        return f"{head}: no run ({', '.join(missing)} not in this benchmark at n = {n}).\n"
    ratio = at_n[labels[0]] / at_n[labels[1]]
    bounds = interval(n, *labels)
    if bounds is not None and bounds[0] <= within < bounds[1]:
        judged = f"undecided: the interval straddles {within:.0f}x (more rounds would tell)"
    else:
        judged = verdict((ratio if bounds is None else bounds[1]) <= within, n, *KERAS_GOAL["run"])
    return (
        f"{head}: {1e3 * at_n[labels[0]]:.3f} ms against {1e3 * at_n[labels[1]]:.3f} ms per epoch, "
        f"{confidence.ratio_text(ratio, bounds, '.2f')}: {judged}.\n"
    )


METHOD = (
    "Each size is its own dataset. One process per size, determinism mode and framework runs that framework's "
    "variants with their repeats interleaved (A B C, A B C, ...), and the benchmark runs {rounds} such process(es) "
    "per job, round by round: a run's samples come from every stretch of the benchmark, so a busy minute on this "
    "shared machine falls on every run alike rather than on whichever ran then (asv's rounds; pyperf's advice to "
    "sample several processes). Median over all repeats of all rounds, warm-up epochs excluded; CV is the spread "
    "of the repeats' medians over their mean.\n\n"
)


def scaling_markdown(
    table: pd.DataFrame,
    rounds: int = 1,
    profile: Callable[[int, str, str], str | None] = no_profile,
    batches: pd.DataFrame | None = None,
    interval: Interval = no_intervals,
) -> str:
    shown = table.assign(
        epoch_ms=(1e3 * table["epoch_time_s"]).map(number(".4g")),
        iqr_ms=[
            "" if pd.isna(q1) else f"[{1e3 * q1:.4g}, {1e3 * q3:.4g}]"
            for q1, q3 in zip(table["epoch_time_q1_s"], table["epoch_time_q3_s"], strict=True)
        ],
        x_numpy=table["ratio_to_numpy"].map(number(".2f")),
        x_numba=table["ratio_to_numba"].map(number(".2f")),
        x_memory_pass=table["epoch_over_memory_pass"].map(number(".1f")),
        cv=table["cv_between_repeats"].map(number(".1%")),
        first_epoch_s=table["first_epoch_s"].map(number(".3f")),
        graphs=table["graphs"].map(number(".0f")),
        breaks=table["graph_breaks"].map(number(".0f")),
        recompiles=table["recompilations"].map(number(".0f")),
    )[
        [
            "n",
            "run",
            "status",
            "epoch_ms",
            "iqr_ms",
            "x_numpy",
            "x_numba",
            "x_memory_pass",
            "cv",
            "first_epoch_s",
            "graphs",
            "breaks",
            "recompiles",
        ]
    ]
    load = table["load_average"].dropna()
    machine = (
        f"Load average (1 min) when the runs started: {load.min():.1f} to {load.max():.1f}, on "
        f"{table['threads'].max()} thread(s) per run: a shared machine, not a quiet one.\n\n"
        if not load.empty
        else ""
    )
    return (
        "# Scaling: steady-state time per full-batch epoch\n\n"
        + METHOD.format(rounds=rounds)
        + machine
        + "Graphs, breaks, recompiles: what each compiler did, summed over the repeats (blank: the run does not "
        "compile; breaks blank for compilers that have none).\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n\n"
        + cost_model_markdown(cost_model(table))
        + "\n"
        + memory_markdown(table)
        + "\n"
        + ("" if batches is None or batches.empty else "\n" + batch_markdown(batches))
        + "\n"
        + goals_markdown(table, profile, interval)
    )


# --- The mini-batch axis: one n, several batch sizes, the time per step ------------------------------------


def batch_table(results: list[dict]) -> pd.DataFrame:
    """Per run and batch size B: the epoch time and the time per step (an epoch is ceil(n / B) steps)."""
    rows = []
    for result in merge_rounds(results):
        n, batch_size = result["dataset"]["n"], result["settings"].get("batch_size")
        size = n if batch_size is None else batch_size
        steps = math.ceil(n / size)
        epoch = result["timings"]["epoch_s"]["median"]
        rows.append(
            {
                "n": n,
                "run": run_label(result["framework"], result["variant"], result["settings"].get("deterministic", True)),
                "framework": result["framework"],
                "variant": result["variant"],
                "status": result["status"],
                "batch_size": size,
                "full_batch": batch_size is None,
                "steps": steps,
                "epoch_time_s": epoch,
                "step_time_s": epoch / steps if epoch is not None else np.nan,
            }
        )
    columns = ["n", "run", "framework", "variant", "status", "batch_size", "full_batch", "steps"]
    table = pd.DataFrame(rows, columns=[*columns, "epoch_time_s", "step_time_s"])
    return table.sort_values(["run", "batch_size"], ignore_index=True)


def batch_cost_model(batches: pd.DataFrame) -> pd.DataFrame:
    """Per run, `t_step(B) = t0 + c*B` over its batch sizes (`fit_cost`, B in place of n)."""
    ok = batches[batches["status"] == "ok"]
    rows = [
        {"run": run, "framework": runs["framework"].iloc[0], **fit_cost(runs["batch_size"], runs["step_time_s"])}
        for run, runs in ok.groupby("run", sort=False)
        if len(runs) >= 2
    ]
    return pd.DataFrame(rows)


def batch_markdown(batches: pd.DataFrame) -> str:
    ok = batches[batches["status"] == "ok"]
    n = int(batches["n"].iloc[0])
    sizes = sorted(ok["batch_size"].unique(), reverse=True)
    steps = ok.pivot_table(index="run", columns="batch_size", values="step_time_s", sort=True)
    model = batch_cost_model(batches)
    fits = model.set_index("run") if not model.empty else pd.DataFrame()
    rows = []
    for run in steps.index:
        row = {"run": run}
        for size in sizes:
            header = f"B = {size:,}" + (" (full)" if size == n else "")
            row[header] = number(".1f")(1e6 * steps.loc[run, size])
        if run in fits.index:
            fit = fits.loc[run]
            row |= {
                "t0, us": f"{1e6 * fit['t0_s']:.1f}",
                "c, ns per point": f"{1e9 * fit['s_per_point']:.2f}",
                "fit error": f"{fit['fit_error']:.0%}",
            }
        rows.append(row)
    shown = pd.DataFrame(rows).fillna("")
    return (
        f"## Mini-batch axis (n = {n:,})\n\nThe same runs at n = {n:,}, in contiguous unshuffled mini-batches of "
        "B points (an epoch is ceil(n / B) steps), each batch size in processes of its own. Microseconds per step "
        "(median epoch time over the steps in it), and per run the fit `t_step = t0 + c*B` (the cost model above, "
        "B in place of n): `t0` is what every step costs whatever its size (dispatch, Python, the optimizer's "
        "bookkeeping), `c` the cost of each point in the batch. At B = 32, a run's step is mostly `t0`.\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + "\n"
    )


def plot_scaling(table: pd.DataFrame, results: list[dict], path, batches: pd.DataFrame | None = None) -> None:
    """Log-log: time per epoch against n, one line per run, its fitted cost model, numpy and the memory pass;
    beside it, where there is a mini-batch axis, the time per step against the batch size and its fit."""
    styles = plots.run_styles(results)
    with_batches = batches is not None and not batches.empty
    fig, axes = plots.plt.subplots(
        1, 2 if with_batches else 1, figsize=plots.FIGSIZE, dpi=plots.DPI, constrained_layout=True, squeeze=False
    )
    ax = axes[0, 0]
    ok = table[table["status"] == "ok"]
    model = cost_model(table)
    fits = model.set_index("run") if not model.empty else pd.DataFrame()
    sizes = np.geomspace(ok["n"].min(), ok["n"].max(), 50)
    for run, runs in ok.groupby("run", sort=True):
        framework, variant = runs["framework"].iloc[0], runs["variant"].iloc[0]
        if (framework, variant) == REFERENCE:
            style = {"color": plots.REFERENCE_COLOR, "linestyle": "--"}
        else:
            style = dict(styles[(framework, variant)])
        marker = "o" if runs["deterministic"].iloc[0] else "x"
        ax.plot(runs["n"], 1e3 * runs["epoch_time_s"], marker=marker, label=run, **style)
        if run in fits.index:
            fit = fits.loc[run]
            ax.plot(sizes, 1e3 * (fit["t0_s"] + fit["s_per_point"] * sizes), color=style["color"], lw=0.8, alpha=0.5)
    bound = ok.groupby("n")["memory_pass_s"].median()
    ax.plot(
        bound.index,
        1e3 * bound.to_numpy(),
        color="0.5",
        linestyle=":",
        linewidth=2,
        label="memory pass over x and y (lower bound)",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="n (points, full batch)",
        ylabel="time per epoch, ms (median)",
        title=(
            f"Scaling on {ok['device'].iloc[0]}, {ok['threads'].max()} thread(s): epoch time vs n\nthin lines: "
            "fitted t0 + c*n; x markers: nondeterministic"
        ),
    )
    ax.grid(True, which="both", alpha=0.3)
    if with_batches:
        ax.title.set_fontsize(8)
        plot_batches(axes[0, 1], batches, styles)
    # The legend right of the last panel: the runs' colours and line styles are the same in both.
    axes[0, -1].legend(*ax.get_legend_handles_labels(), fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plots.save(fig, path)


def plot_batches(ax, batches: pd.DataFrame, styles: dict) -> None:
    """Log-log: time per step against the batch size B, one line per run, with its fitted t0 + c*B."""
    ok = batches[batches["status"] == "ok"]
    model = batch_cost_model(batches)
    fits = model.set_index("run") if not model.empty else pd.DataFrame()
    sizes = np.geomspace(ok["batch_size"].min(), ok["batch_size"].max(), 50)
    for run, runs in ok.groupby("run", sort=True):
        key = (runs["framework"].iloc[0], runs["variant"].iloc[0])
        if key == REFERENCE:
            style = {"color": plots.REFERENCE_COLOR, "linestyle": "--"}
        else:
            style = dict(styles.get(key, {"color": "0.3", "linestyle": "-"}))
        ax.plot(runs["batch_size"], 1e6 * runs["step_time_s"], marker="o", **style)
        if run in fits.index:
            fit = fits.loc[run]
            ax.plot(sizes, 1e6 * (fit["t0_s"] + fit["s_per_point"] * sizes), color=style["color"], lw=0.8, alpha=0.5)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="batch size B (points per step)",
        ylabel="time per step, us (median)",
        title=f"Mini-batches at n = {int(ok['n'].iloc[0]):,}; thin lines: fitted t0 + c*B",
    )
    ax.title.set_fontsize(8)
    ax.grid(True, which="both", alpha=0.3)
