"""Remedies: every slow run beside its fix, measured in the same benchmark process and compared from the same start.

A framework module declares its remedies as ``REMEDIES = {variant: (the variant it remedies, cause)}`` (read
here from the source, see `api.remedies_of`). The benchmark (`snakemake bench`) runs a framework's variants in
one process with their repeats interleaved, so a remedy and its slow run are timed side by side, from the same
start; `results/remedies.md` reads their results at the smallest and the largest benchmark size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tale_of_two.analysis import confidence
from tale_of_two.analysis.api import CONCEPTS, Source, remedies_of
from tale_of_two.analysis.bench import merge_rounds
from tale_of_two.config import FRAMEWORKS_DIR, available_frameworks
from tale_of_two.fit.workloads import workload_of

PROFILE = "results/profile/{framework}/{variant}.md"


def declared(frameworks_dir: Path = FRAMEWORKS_DIR, workload: str = "line") -> list[tuple[str, str, str, str]]:
    """(framework, remedy, the variant it remedies, cause) for every remedy of the workload any framework module
    declares."""
    return [
        (framework, remedy, slow, cause)
        for framework in available_frameworks(frameworks_dir)
        for remedy, (slow, cause) in remedies_of(framework, frameworks_dir).items()
        if workload_of(remedy) == workload  # the MLP's remedies are the width axis' (analysis/width.py)
    ]


def changed_lines(source: Source, framework: str, slow: str, remedy: str) -> str:
    """The remedy's `# api:` cells that differ from its slow run's: its changed lines, read from the code."""
    before, after = source.api(framework, slow), source.api(framework, remedy)
    return "; ".join(
        f"{CONCEPTS[concept].lower()}: {after[concept]}" for concept in CONCEPTS if after[concept] != before[concept]
    )


def largest_relative_difference(before: list, after: list) -> float:
    """max |after - before| / |before| over the epochs both ran: the two loss curves from the same start."""
    epochs = min(len(before), len(after))
    if epochs == 0 or None in before[:epochs] or None in after[:epochs]:
        return float("nan")
    a, b = np.asarray(before[:epochs], float), np.asarray(after[:epochs], float)
    return float(np.max(np.abs(b - a) / np.abs(a)))


def remedies_table(results: list[dict], frameworks_dir: Path = FRAMEWORKS_DIR) -> pd.DataFrame:
    """One row per declared remedy and reported size (the smallest and the largest benchmarked), deterministic
    runs only; a remedy whose pair was not benchmarked at that size has status "not benchmarked"."""
    merged = {
        (r["dataset"]["n"], r["framework"], r["variant"]): r
        for r in merge_rounds(results)
        if r["settings"].get("deterministic", True)
    }
    sizes = sorted({n for n, _, _ in merged})
    shown = sorted({sizes[0], sizes[-1]}) if sizes else []
    source = Source(frameworks_dir)
    rows = []
    for framework, remedy, slow, cause in declared(frameworks_dir):
        for n in shown:
            before, after = merged.get((n, framework, slow)), merged.get((n, framework, remedy))
            row = {
                "n": n,
                "slow run": f"{framework}/{slow}",
                "cause": f"{cause} ({PROFILE.format(framework=framework, variant=slow)})",
                "remedy": f"{framework}/{remedy}",
                "changed lines": changed_lines(source, framework, slow, remedy),
            }
            if before is None or after is None:
                rows.append({**row, "status": "not benchmarked"})
                continue
            if before["status"] != "ok" or after["status"] != "ok":
                failed = before if before["status"] != "ok" else after
                rows.append({**row, "status": f"{failed['framework']}/{failed['variant']}: {failed['status']}"})
                continue
            ms_before = 1e3 * before["timings"]["epoch_s"]["median"]
            ms_after = 1e3 * after["timings"]["epoch_s"]["median"]
            interval = confidence.ratio_interval(confidence.steady_repeats(before), confidence.steady_repeats(after))
            rows.append(
                {
                    **row,
                    "status": "ok",
                    "ms before": ms_before,
                    "ms after": ms_after,
                    "speed-up": ms_before / ms_after,
                    "speed-up low": np.nan if interval is None else interval[0],
                    "speed-up high": np.nan if interval is None else interval[1],
                    "loss rel. diff": largest_relative_difference(before["loss_history"], after["loss_history"]),
                    "epochs": min(len(before["loss_history"]), len(after["loss_history"])),
                    "repeats": min(before["timings"]["repeats"], after["timings"]["repeats"]),
                    "load average": (after["environment"].get("load_average") or [np.nan])[0],
                    "finished": after["finished_utc"],
                    "machine": machine(after),
                }
            )
    return pd.DataFrame(rows)


def remedies_markdown(table: pd.DataFrame, rounds: int = 1) -> str:
    header = (
        "# Remedies: each slow run beside its fix\n\n"
        "Each remedy is a run of its own, declared in its framework's module (`REMEDIES`) beside the run it "
        "remedies; its code, as a diff against that run's, is in `code.md`. *Before* and *after*: the median "
        "steady-state ms per full-batch epoch of the slow run and of the remedy, timed in the same benchmark "
        f"process with their repeats interleaved ({rounds} round(s) of such processes, `snakemake bench`). "
        "*Speed-up*: before over after, with its 95 % interval, a bootstrap over the repeats of every round "
        "(`tale_of_two.analysis.confidence`); *no difference measured* where that interval includes 1. "
        "*Loss rel. diff*: the largest relative difference between their losses at any epoch, from the same "
        "start. *Cause*: what the slow run's profile shows (`snakemake profile` writes the file named).\n\n"
    )
    if table.empty:
        return header + "No benchmark result: nothing to compare.\n"
    ok = table[table["status"] == "ok"]
    if not ok.empty:
        load = ok["load average"].dropna()
        header += (
            f"Measured {ok['finished'].min()[:16].replace('T', ' ')} to {ok['finished'].max()[:16].replace('T', ' ')} "
            f"UTC on "
            f"{', '.join(sorted(set(ok['machine'])))}"
            + (f"; load average (1 min) as the runs started: {load.min():.1f} to {load.max():.1f}" if len(load) else "")
            + ".\n\n"
        )
    return header + shown(table).to_markdown(index=False, disable_numparse=True) + "\n"


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """`remedies_table` as a person reads it: its columns formatted, in the order results/remedies.md shows them."""
    return pd.DataFrame(
        {
            "n": table["n"].map(lambda n: f"{n:,}"),
            "slow run": table["slow run"],
            "cause (profile)": table["cause"],
            "remedy": table["remedy"],
            "changed lines": table["changed lines"],
            "ms before": fmt(table.get("ms before"), ".4g"),
            "ms after": fmt(table.get("ms after"), ".4g"),
            "speed-up [95 % CI]": speed_ups(table),
            "loss rel. diff": fmt(table.get("loss rel. diff"), ".1e"),
            "status": table["status"],
        }
    )


def speed_ups(table: pd.DataFrame) -> pd.Series | str:
    """Each speed-up with its interval, or "no difference measured" where the interval includes 1."""
    if "speed-up" not in table:
        return ""
    return pd.Series(
        [
            "" if pd.isna(ratio) else confidence.ratio_text(ratio, None if pd.isna(low) else (low, high))
            for ratio, low, high in zip(table["speed-up"], table["speed-up low"], table["speed-up high"], strict=True)
        ],
        index=table.index,
    )


def fmt(column: pd.Series | None, spec: str, suffix: str = "") -> pd.Series | str:
    if column is None:
        return ""
    return column.map(lambda v: "" if pd.isna(v) else f"{v:{spec}}{suffix}")


def machine(result: dict) -> str:
    environment = result["environment"]
    cpus = f", {environment['cpu_count']} CPUs" if environment.get("cpu_count") else ""
    return f"{environment['platform']}{cpus}, {result['device']}, {result['threads']} thread(s) per run"
