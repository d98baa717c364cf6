"""Write the documents' measured tables from result files, and check the documents: tables sealed, links whole.

A page holds a generated section between two markers, named after the generator that writes it:

    <!-- doc_tables:runs:start -->
    ...what the generator wrote...
    <!-- doc_tables:runs:end sha256:0123456789abcdef -->

The end marker carries the first 16 hex digits of the sha256 of what lies between the markers, so that a hand
edit shows. Any page of PAGES may hold sections; a section may appear in several pages. After a run, from the
project root:

    .venv/bin/python tools/doc_tables.py runs              # rewrite every `runs` section from results/
    .venv/bin/python tools/doc_tables.py                   # every section (each generator needs its run)
    .venv/bin/python tools/doc_tables.py --print runs      # print the section instead
    .venv/bin/python tools/doc_tables.py --check runs      # exit 1 if the pages differ from results/
    .venv/bin/python tools/doc_tables.py --verify          # no results needed: exit 1 if a section was edited
                                                           # by hand or a relative link (file or #anchor) is broken

The generators (GENERATORS), each from the result files of the run it describes:
- `runs`: the default run (`snakemake --cores 2`): results/summary.csv (one row per run, in the pipeline's
  order), results/runs/*/*.json (when, and on what machine), results/data/dataset.json (the optima) and, where
  present, benchmarks/train/*/*.tsv (each training job's wall time, as Snakemake measured it);
- `time_to_solution`: a run with `--configfile config/converged.yaml`: the same result files and
  results/data/dataset.npz, through `tale_of_two.analysis.convergence`;
- `then_vs_now` and `idioms`: `snakemake then_vs_now`: results/then_vs_now.csv (rule `compare_eras`'s table),
  results/eras/{era}/runs/*/*.json (when, and on what machine) and results/then_vs_now/idioms/{era}.json,
  shown through `tale_of_two.analysis.then_vs_now`;
- `timeline`: `snakemake timeline`: results/timeline.csv (rule `timeline_table`'s table), and each era's
  results/eras/{era}/runs/*/*.json and profiles/*/*.json, shown through `tale_of_two.analysis.timeline`;
- `bench`: `snakemake bench`: results/bench/scaling.csv (rule `bench_summary`'s table) and the bench jobs'
  results/bench/n*/*deterministic/round*/*.json, with the cost model of `tale_of_two.analysis.bench`;
- `remedies`: `snakemake bench`: the same bench jobs' results, each remedy beside the run it remedies as
  `tale_of_two.analysis.remedies` pairs them (the table of results/remedies.md);
- `width`: `snakemake bench`: results/bench/width.csv (rule `width_summary`'s table of the model-size axis) and
  the width jobs' results/bench/width/w*/round*/*.json, through `tale_of_two.analysis.width`;
- `profiles`: `snakemake profile`: results/profile/*/*.n{n}.md at the largest profiled n, the figures each
  profile states (epoch and CPU time, page faults, threads at work, what XLA compiled);
- `memory`: the default run: each run's peak resident memory stage by stage, from results/summary.csv;
- `era_memory`: `snakemake timeline`: each run's peak and the import's share per release, results/timeline.csv.

Every section with timings states the load its runs started at; one measured above `--max-load` (default: the CPUs
of the machine writing it, where one job at a time is a load of about 1) is refused, or with `--force` written
with a line that says so.

The default run and the converged one write the same results/, so each page's tables come from four runs in turn
(RUN_OF), and the profiles from a fifth; after each, rewrite the sections that run describes:

    .venv/bin/snakemake --cores 2 && .venv/bin/python tools/doc_tables.py runs
    .venv/bin/snakemake --cores 2 --configfile config/converged.yaml \
        && .venv/bin/python tools/doc_tables.py time_to_solution
    .venv/bin/snakemake then_vs_now --cores 2 && .venv/bin/python tools/doc_tables.py then_vs_now idioms
    .venv/bin/snakemake timeline --cores 2 && .venv/bin/python tools/doc_tables.py timeline
    .venv/bin/snakemake bench --cores 2 && .venv/bin/python tools/doc_tables.py bench remedies width
    .venv/bin/snakemake profile --cores 2 && .venv/bin/python tools/doc_tables.py profiles
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "lib"))

from tale_of_two.analysis import bench, convergence, remedies, then_vs_now, timeline, width  # noqa: E402
from tale_of_two.analysis.summary import START, equivalence, trained_rows  # noqa: E402
from tale_of_two.fit import data  # noqa: E402

# The pages whose generated sections and relative links are checked, relative to the repository root.
PAGE_GLOBS = ("README.md", "docs/*.md", "config/README.md", "tests/README.md", "containers/README.md")
SECTION = re.compile(
    r"<!-- doc_tables:(?P<name>\w+):start -->\n(?P<body>.*?)\n?"
    r"<!-- doc_tables:(?P<end>\w+):end(?: sha256:(?P<seal>[0-9a-f]*))? -->",
    re.DOTALL,
)
MARKER = re.compile(r"<!-- doc_tables:(\w+):(start|end)\b")


class TablesError(ValueError):
    """Missing or inconsistent input, or a malformed page: the message names the file."""


def pages(root: Path = ROOT) -> list[Path]:
    found = []
    for pattern in PAGE_GLOBS:
        found += sorted(root.glob(pattern))
    return found


# --- reading a run -------------------------------------------------------------------------------------------


def read_inputs(root: Path) -> tuple[pd.DataFrame, list[dict], dict, dict[str, float]]:
    results_dir = root / "results"
    summary_path = results_dir / "summary.csv"
    if not summary_path.exists():
        raise TablesError(f"{summary_path}: missing; run `.venv/bin/snakemake --cores 2` first")
    table = pd.read_csv(summary_path)
    runs = trained_rows(table)
    results = []
    for framework, variant in zip(runs["framework"], runs["variant"], strict=True):
        path = results_dir / "runs" / framework / f"{variant}.json"
        if not path.exists():
            raise TablesError(f"{path}: missing, but {summary_path} has a row for {framework}/{variant}")
        results.append(json.loads(path.read_text()))
    metadata = json.loads((results_dir / "data" / "dataset.json").read_text())
    job_seconds = {}
    for framework, variant in zip(runs["framework"], runs["variant"], strict=True):
        path = root / "benchmarks" / "train" / framework / f"{variant}.tsv"
        if path.exists():
            job_seconds[f"{framework}/{variant}"] = float(pd.read_csv(path, sep="\t")["s"].iloc[0])
    return table, results, metadata, job_seconds


def machine_line(results: list[dict]) -> str:
    """When and where the runs ran, from what each result recorded about itself."""
    finished = sorted(r["finished_utc"] for r in results)
    environments = {
        (e.get("platform"), e.get("machine"), e.get("cpu_count"), e.get("python"), e.get("numpy"))
        for e in (r["environment"] for r in results)
    }
    where = "; ".join(
        f"{platform}, {machine}, {cpus} CPUs, Python {python}, numpy {numpy}"
        for platform, machine, cpus, python, numpy in sorted(environments, key=str)
    )
    threads = sorted({r["threads"] for r in results})
    devices = sorted({r["device"] for r in results})
    return (
        f"Runs finished {finished[0][:16].replace('T', ' ')} to {finished[-1][:16].replace('T', ' ')} UTC on {where}; "
        f"{'/'.join(map(str, threads))} thread(s) per framework, device {', '.join(devices)}."
    )


def load_line(results: list[dict]) -> str:
    """The machine's load as each run started (1-minute load average, as the result recorded it)."""
    loads = [r["environment"]["load_average"][0] for r in results if r["environment"].get("load_average")]
    if not loads:
        return "The results recorded no load average."
    return (
        f"Load average (1 min) as the runs started: {min(loads):.1f} to {max(loads):.1f} "
        f"(one job at a time is a load of about 1)."
    )


# --- the generators ------------------------------------------------------------------------------------------


def run_rows(table: pd.DataFrame, job_seconds: dict[str, float]) -> str:
    runs = trained_rows(table)
    lines = [
        "| run | start | epochs | ms per epoch, median [IQR] | median's 95 % CI, ms | peak memory, MB "
        "| training job, s | fitted w, b | final loss | version |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in runs.iterrows():
        name = f"{row['framework']}/{row['variant']}"
        if row["status"] != "ok":
            lines.append(f"| {name} | {START.get(row['init'], '')} | {row['status']} | | | | | | | |")
            continue
        epoch = (
            f"{1e3 * row['epoch_time_s']:.3g} [{1e3 * row['epoch_time_q1_s']:.3g}, {1e3 * row['epoch_time_q3_s']:.3g}]"
        )
        job = f"{job_seconds[name]:.1f}" if name in job_seconds else ""
        low, high = row.get("epoch_time_ci_low_s"), row.get("epoch_time_ci_high_s")
        peak = row.get("peak_rss_after_training_bytes")
        cells = [
            name,
            START.get(row["init"], ""),
            f"{row['epochs_run']:.0f}",
            epoch,
            "" if pd.isna(low) else f"[{1e3 * low:.3g}, {1e3 * high:.3g}]",
            "" if pd.isna(peak) else f"{peak / 1e6:.0f}",
            job,
            "(an MLP)" if pd.isna(row["w"]) else f"{row['w']:.5f}, {row['b']:.5f}",
            f"{row['final_loss']:.4f} ({row['loss_name'].upper()})",
            str(row["framework_version"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_line(results: list[dict]) -> str:
    pairs = equivalence(results)
    if pairs.empty:
        return "No two runs share a variant, a start and settings: nothing to compare epoch by epoch."
    parts = []
    for variant, group in pairs.groupby("variant", sort=False):
        frameworks = sorted(set(group["framework_a"]) | set(group["framework_b"]))
        text = f"`{variant}` ({', '.join(frameworks)}) to a relative {group['max_rel_loss_diff'].max():.1e} in the loss"
        if group["w_diff"].notna().any():  # the MLP's runs have no w and b
            text += f" and {max(group['w_diff'].max(), group['b_diff'].max()):.1e} in w and b"
        parts.append(text)
    return "From the same start, runs of one variant agree at every epoch: " + "; ".join(parts) + "."


def runs_section(root: Path) -> str:
    """The default run: machine, one row per run, the optima, how closely frameworks agree."""
    table, results, metadata, job_seconds = read_inputs(root)
    ols, lad = metadata["ols"], metadata["lad"]
    total = sum(job_seconds.values())
    lines = [
        "<!-- Generated by tools/doc_tables.py from results/ and benchmarks/: rerun it, do not edit. -->",
        f"{machine_line(results)} {load_line(results)}",
        "",
        f"n = {metadata['n']}; steady-state time per epoch over {results[0]['timings']['repeats']} repeats, warm-up "
        "excluded; *95 % CI*: the median's interval, a bootstrap over the repeats; *peak memory*: the job's peak "
        "resident memory (`docs/memory.md`); *training job*: the job's wall time as Snakemake measured it "
        "(import, setup, every repeat, the memory run); *start*: the shared draw of w and b, or the framework's own "
        "initialiser.",
        "",
        run_rows(table, job_seconds),
        "",
        f"OLS is w = {ols['w']:.5f}, b = {ols['b']:.5f} (MSE {ols['mse']:.4f}); "
        f"LAD is w = {lad['w']:.5f}, b = {lad['b']:.5f} (MAE {lad['mae']:.4f}). " + agreement_line(results),
    ]
    if job_seconds:
        line = f"The {len(job_seconds)} training jobs took {total:.0f} s together (they run one at a time)"
        measuring = [r["memory"].get("memory_run_s") for r in results]
        if None not in measuring:
            line += f"; their memory runs, {sum(measuring):.1f} s of it ({sum(measuring) / total:.1%})"
        lines.append(line + ".")
    return "\n".join(lines)


def power_of_ten(threshold: float) -> str:
    return f"1e{math.log10(threshold):.0f}"


def time_to_solution_section(root: Path) -> str:
    """Training wall time of each run to 1e-2, 1e-4 and 1e-6 of the optimum of its own loss."""
    _, results, metadata, _ = read_inputs(root)
    arrays_path = root / "results" / "data" / "dataset.npz"
    try:
        arrays = data.load(arrays_path, expected_sha256=metadata["sha256"])
    except data.DatasetError as error:
        raise TablesError(str(error)) from error
    table = convergence.time_to_solution(results, metadata, arrays["x"], arrays["y"])
    settings = {f"{r['framework']}/{r['variant']}": r["settings"] for r in results}
    header = (
        "| run | loss | lr, epochs | " + " | ".join(map(power_of_ten, convergence.THRESHOLDS)) + " | best reached |"
    )
    lines = [header, "|---" * (len(convergence.THRESHOLDS) + 4) + "|"]
    for _, row in table.iterrows():
        run = settings[row["run"]]
        cells = [
            row["run"],
            row["loss"].upper(),
            f"{run['lr']:g}, {run['epochs']}",
            *(
                "not reached"
                if pd.isna(row[f"epoch@{t:g}"])
                else f"{row[f's@{t:g}']:.3g} s (epoch {row[f'epoch@{t:g}']:.0f})"
                for t in convergence.THRESHOLDS
            ),
            f"{row['best']:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(
        [
            "<!-- Generated by tools/doc_tables.py from results/ of a converged run: rerun it, do not edit. -->",
            machine_line(results) + " " + load_line(results),
            "",
            "Training wall time each run took to bring its loss within a relative suboptimality of "
            + " / ".join(map(power_of_ten, convergence.THRESHOLDS))
            + " of the optimum of that loss (OLS's MSE, LAD's MAE), and the epoch it got there; first repeat, first "
            "epoch and any compiling included. *best reached*: the lowest relative suboptimality of any epoch "
            "(below 0 where float32 rounding lands under the float64 optimum).",
            "",
            *lines,
        ]
    )


# --- then and now ---------------------------------------------------------------------------------------------


def generated(target: str) -> str:
    return f"<!-- Generated by tools/doc_tables.py from results/ of `snakemake {target}`: rerun it, do not edit. -->"


def heading(target: str, results: list[dict]) -> str:
    """A section's first lines: what wrote it, and when, where and under what load its runs ran."""
    return f"{generated(target)}\n{machine_line(results)} {load_line(results)}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame as a compact Markdown table (no padding: a changed number changes one line), cells escaped."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|---" * len(frame.columns) + "|"]
    lines += [
        "| " + " | ".join(then_vs_now.markdown_cell(cell) for cell in row) + " |" for row in frame.itertuples(False)
    ]
    return "\n".join(lines)


def read_json(path: Path, made_by: str) -> dict:
    if not path.exists():
        raise TablesError(f"{path}: missing; run `{made_by}` first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise TablesError(f"{path}: not valid JSON ({error})") from None


THEN_COMMAND = ".venv/bin/snakemake then_vs_now --cores 2"
# then_vs_now.csv's text columns: read as text ("3.10" is a Python version, not a number), blank as "".
THEN_TEXT = ("run", "era", "python", "framework_version", "keras_version", "status", "loss_name", "notes")


def read_era_table(root: Path, name: str, text: tuple, numbers: tuple, kind: str, command: str):
    """results/{name}.csv of an eras target (its text columns read as text, blank as ""), and the result of every
    run and era in it, from results/eras/."""
    results_dir = root / "results"
    path = results_dir / f"{name}.csv"
    if not path.exists():
        raise TablesError(f"{path}: missing; run `{command}` first")
    frame = pd.read_csv(path, dtype=dict.fromkeys(text, str))
    missing = [column for column in (*text, *numbers) if column not in frame]
    if missing or frame.empty:
        raise TablesError(f"{path}: not a {kind} table (no rows, or no column {missing[:1]})")
    frame[list(text)] = frame[list(text)].fillna("")
    results = [
        read_json(results_dir / "eras" / era / "runs" / f"{run}.json", command)
        for run, era in zip(frame["run"], frame["era"], strict=True)
    ]
    return frame, results


def read_then_vs_now(root: Path) -> tuple[pd.DataFrame, list[dict]]:
    """results/then_vs_now.csv as the rule `compare_eras` wrote it, and the result of every run and era in it."""
    return read_era_table(root, "then_vs_now", THEN_TEXT, ("agree", "max_rel_loss_diff"), "then-and-now", THEN_COMMAND)


def then_vs_now_section(root: Path) -> str:
    """The article's runs in both eras (versions, fit, timings), and how each run's two eras compare."""
    frame, results = read_then_vs_now(root)
    compared = frame[frame["era"] == "now"]
    settings = results[0]["settings"]
    runs = then_vs_now.runs_shown(frame).drop(columns="what this version lacked, and did instead")
    return "\n".join(
        [
            heading("then_vs_now", results),
            "",
            f"n = {results[0]['dataset']['n']}; steady-state time per epoch over {settings['repeats']} repeats, "
            f"{settings['warmup_epochs']} warm-up epochs excluded; *import*: the framework's import, *setup*: the "
            "model's, each timed once per run.",
            "",
            markdown_table(runs),
            "",
            f"Loss at every epoch, then against now: largest relative difference "
            f"{compared['max_rel_loss_diff'].max():.1e}; {int(compared['agree'].sum())} of {len(compared)} runs "
            f"agree to rtol {then_vs_now.AGREE_RTOL:.0e}. Time ratios above 1: today is slower.",
            "",
            markdown_table(then_vs_now.comparison_shown(frame)),
        ]
    )


def idioms_section(root: Path) -> str:
    """Each 2020 idiom and today's replacement, as each ran on the 2020 versions and on today's."""
    records = [
        read_json(root / "results" / "then_vs_now" / "idioms" / f"{era}.json", THEN_COMMAND) for era in then_vs_now.ERAS
    ]
    try:
        table = then_vs_now.idioms_table(*records)
    except ValueError as error:
        raise TablesError(f"{root / 'results/then_vs_now/idioms'}: {error}") from None
    today = [
        f"{code}: {then}" if then == now else f"{code}: then {then}; now {now}"
        for code, then, now in zip(
            table["today's code"], table["today's code, then"], table["today's code, now"], strict=True
        )
    ]
    shown = pd.DataFrame(
        {
            "2020 idiom": table["2020 code"],
            "then": table["2020 code, then"],
            "now": table["2020 code, now"],
            "today's code, and how it ran (in both eras, unless said)": today,
        }
    )
    then, now = (then_vs_now.versions_line(record) for record in records)
    return "\n".join(
        [
            generated("then_vs_now"),
            f"*then*: {then}; *now*: {now}.",
            "",
            markdown_table(shown),
        ]
    )


# --- the scaling benchmark ---------------------------------------------------------------------------------------

TIMELINE_COMMAND = ".venv/bin/snakemake timeline --cores 2"
TIMELINE_TEXT = (*THEN_TEXT, "release", "released", "previous_release", "previous_era", "reference_era")


def era_order(frame: pd.DataFrame) -> list[str]:
    """The eras of a timeline table in config/config.yaml's timeline order (the run the pages describe); eras it
    does not list, last."""
    listed = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["eras"]["timeline"]
    eras = [era for era in listed if era in set(frame["era"])]
    return eras + [era for era in dict.fromkeys(frame["era"]) if era not in eras]


def timeline_section(root: Path) -> str:
    """Every run on every release of the timeline, each run's biggest step, and what the profiles say of it."""
    frame, results = read_era_table(
        root, "timeline", TIMELINE_TEXT, ("agree", "epoch_vs_previous"), "timeline", TIMELINE_COMMAND
    )
    frame["released"] = [datetime.date.fromisoformat(day) if day else None for day in frame["released"]]
    profiles = {
        (era, run): read_json(root / "results" / "eras" / era / "profiles" / f"{run}.json", TIMELINE_COMMAND)
        for era, run in zip(frame["era"], frame["run"], strict=True)
    }
    eras = era_order(frame)
    parts = timeline.sections(frame, profiles, eras)
    parts[0] = (None, "", timeline.runs_shown(frame).drop(columns="what this version lacked, and did instead"))
    settings = results[0]["settings"]
    lines = [
        heading("timeline", results),
        "",
        f"n = {results[0]['dataset']['n']}; steady-state time per epoch over {settings['repeats']} repeats, "
        f"{settings['warmup_epochs']} warm-up epochs excluded; *import*: the framework's import, *setup*: the "
        "model's, each timed once per run; profiles: each run for the config's `profile.epochs` epochs.",
    ]
    for title, intro, shown in parts:
        lines += [""] + ([f"**{title}**", ""] if title else []) + ([intro, ""] if intro else [])
        if shown is not None:
            lines.append(markdown_table(shown))
    return "\n".join(line for line in lines).replace("\n\n\n", "\n\n").strip("\n")


BENCH_COMMAND = ".venv/bin/snakemake bench --cores 2"
BENCH_TEXT = ("run", "framework", "variant", "status", "compiler", "recompile_reason", "error")


def read_scaling(root: Path) -> tuple[pd.DataFrame, list[dict], int]:
    """results/bench/scaling.csv as the rule `bench_summary` wrote it; the results of the runs in it, for when
    and where they ran (`bench_jobs`); and how many rounds there were."""
    bench_dir = root / "results" / "bench"
    path = bench_dir / "scaling.csv"
    if not path.exists():
        raise TablesError(f"{path}: missing; run `{BENCH_COMMAND}` first")
    table = pd.read_csv(path, dtype=dict.fromkeys(BENCH_TEXT, str))
    missing = [column for column in (*BENCH_TEXT, "n", "epoch_time_s", "ratio_to_numpy") if column not in table]
    if missing or table.empty:
        raise TablesError(f"{path}: not a scaling table (no rows, or no column {missing[:1]})")
    table[list(BENCH_TEXT)] = table[list(BENCH_TEXT)].fillna("")
    wanted = set(zip(table["n"], table["framework"], table["variant"], strict=True))
    every, rounds = bench_jobs(root)
    results = [result for result in every if (result["dataset"]["n"], result["framework"], result["variant"]) in wanted]
    if not results:
        raise TablesError(f"{bench_dir}: no bench job's results for the runs of {path}; run `{BENCH_COMMAND}`")
    return table, results, rounds


def bench_jobs(root: Path) -> tuple[list[dict], int]:
    """The results of every bench job on the size axis (full batch at every n; each job's file,
    results/bench/n{n}/{mode}/round{round}/{framework}.json, holds {"results": [...]}), and how many rounds."""
    jobs = sorted((root / "results" / "bench").glob("n*/*deterministic/round*/*.json"))
    return [result for job in jobs for result in read_json(job, BENCH_COMMAND)["results"]], len(
        {job.parent.name for job in jobs}
    )


def figure(value: float, digits: int = 3) -> str:
    """`digits` significant digits, without an exponent where the value has more digits before the point."""
    return f"{value:.0f}" if value >= 10**digits else f"{value:.{digits}g}"


COMPILE_COUNTS = (("graphs", "graph(s)"), ("graph_breaks", "break(s)"), ("recompilations", "recompilation(s)"))


def compiler_record(row: pd.Series) -> str:
    """What the run's compiler did, summed over its repeats (blank where the run does not compile)."""
    parts = [f"{row[key]:.0f} {name}" for key, name in COMPILE_COUNTS if key in row and not pd.isna(row[key])]
    return ", ".join(parts)


def bench_section(root: Path) -> str:
    """Epoch time at the smallest and largest n, against numpy's; each run's cost model; what compilers did."""
    table, results, rounds = read_scaling(root)
    ok = table[table["status"] == "ok"]
    sizes = sorted(table["n"].unique())
    ends = [sizes[0], sizes[-1]]
    model = bench.cost_model(table)
    fits = model.set_index("run") if not model.empty else pd.DataFrame()
    numpy_run = bench.run_label(*bench.REFERENCE, True)

    def fit_cells(run: str) -> list[str]:
        if run not in fits.index:
            return ["", ""]
        fit = fits.loc[run]
        speed = "no per-point cost" if math.isinf(fit["gb_per_s"]) else f"{fit['gb_per_s']:.3g}"
        return [figure(1e6 * fit["t0_s"]), f"{speed} ({fit['fit_error']:.0%})"]

    header = [
        "run",
        *(f"n = {n:,}" for n in ends),
        "t0, us",
        "GB/s (fit error)",
        f"compiler's record at n = {ends[-1]:,}",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for run, rows in table.groupby("run", sort=False):
        at = rows.set_index("n")
        cells = [run]
        for n in ends:
            if n not in at.index:
                cells.append("")
            elif at.loc[n, "status"] != "ok":
                cells.append(at.loc[n, "status"])
            else:
                epoch = figure(1e3 * at.loc[n, "epoch_time_s"])
                ratio = at.loc[n, "ratio_to_numpy"]
                cells.append(epoch if run == numpy_run or pd.isna(ratio) else f"{epoch} ({figure(ratio, 2)}x)")
        cells += fit_cells(run)
        cells.append(compiler_record(at.loc[ends[-1]]) if ends[-1] in at.index else "")
        lines.append("| " + " | ".join(cells) + " |")
    bound = ok.groupby("n")["memory_pass_s"].median()
    lines.append(
        "| memory pass (bound) | "
        + " | ".join("" if n not in bound.index else figure(1e3 * bound[n]) for n in ends)
        + " | "
        + " | ".join(fit_cells("memory pass (bound)"))
        + " | |"
    )
    settings = results[0]["settings"]
    cv = ok["cv_between_repeats"].dropna()
    spread = (
        f" The CV between repeats is above {bench.GOAL_CV:.0%} for {int((cv > bench.GOAL_CV).sum())} of {len(cv)} "
        f"runs, worst {cv.max():.0%}."
        if len(cv)
        else ""
    )
    return "\n".join(
        [
            heading("bench", results),
            "",
            f"Sizes {', '.join(f'{n:,}' for n in sizes)}; {rounds} round(s) x {settings['repeats']} repeat(s) of "
            f"{settings['epochs']} epochs, {settings['warmup_epochs']} of them warm-up. ms per full-batch epoch, "
            "median (multiple of numpy's epoch at that n); *t0* and *GB/s*: the cost model `t(n) = t0 + c*n` fitted "
            "over the sizes, c as GB/s of x and y read; *compiler's record*: summed over the repeats." + spread,
            "",
            *lines,
        ]
    )


def remedies_section(root: Path) -> str:
    """Each remedy beside the run it remedies at the smallest and largest n, from the bench jobs' results through
    `tale_of_two.analysis.remedies`, as rule `remedies` writes results/remedies.md."""
    results, rounds = bench_jobs(root)
    table = remedies.remedies_table(results)
    ok = table[table["status"] == "ok"] if not table.empty else table
    if ok.empty:
        raise TablesError(
            f"{root / 'results' / 'bench'}: no remedy benchmarked beside the run it remedies; run `{BENCH_COMMAND}` "
            "with the remedies and their runs in `bench.runs`"
        )
    pairs = {(n, run) for n, *runs in ok[["n", "slow run", "remedy"]].itertuples(index=False) for run in runs}
    timed = [r for r in results if (r["dataset"]["n"], f"{r['framework']}/{r['variant']}") in pairs]
    settings = timed[0]["settings"]
    return "\n".join(
        [
            heading("bench", timed),
            "",
            f"{rounds} round(s) x {settings['repeats']} repeat(s) of {settings['epochs']} epochs, "
            f"{settings['warmup_epochs']} of them warm-up. *ms before* and *ms after*: the median ms per full-batch "
            "epoch of the slow run and of its remedy, timed in the same benchmark process with their repeats "
            "interleaved; *loss rel. diff*: the largest relative difference between their losses at any epoch, "
            "from the same start.",
            "",
            markdown_table(remedies.shown(table)),
            "",
            bench.keras_goal(
                bench.scaling_table(results).query("status == 'ok'"),
                lambda met, *_: "met" if met else "not met",
                bench.ratio_intervals(results),
            ).strip(),
        ]
    )


# --- memory ---------------------------------------------------------------------------------------------------

# Each stage's peak of resident memory, and what the memory table calls the stage.
MEMORY_STAGES = (
    ("peak_rss_before_import_bytes", "before import"),
    ("peak_rss_after_import_bytes", "+ import"),
    ("peak_rss_after_setup_bytes", "+ setup"),
    ("peak_rss_after_training_bytes", "+ training"),
)


def megabytes(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value / 1e6:.0f}"


def memory_section(root: Path) -> str:
    """The default run's memory: each run's peak resident memory stage by stage, its growth, and the range
    between frameworks."""
    table, results, metadata, _ = read_inputs(root)
    runs = trained_rows(table).reset_index(drop=True)
    header = ["run", *(f"{name}, MB" for _, name in MEMORY_STAGES), "peak, MB", "growth, KB/epoch", "device peak"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    peaks = runs[[column for column, _ in MEMORY_STAGES]].astype(float).cummax(axis=1)
    added = peaks.diff(axis=1).fillna(peaks)  # what each stage added to the process's peak
    for index, row in runs.iterrows():
        growth = row["rss_growth_bytes_per_epoch"]
        device = row.get("device_peak_bytes")
        cells = [
            f"{row['framework']}/{row['variant']}",
            *(megabytes(added.loc[index, column]) for column, _ in MEMORY_STAGES),
            megabytes(peaks.loc[index].iloc[-1]),
            "" if pd.isna(growth) else f"{growth / 1e3:.1f}",
            "CPU run" if pd.isna(device) else f"{device / 1e6:.0f} MB",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    peak = runs.set_index(runs["framework"] + "/" + runs["variant"])["peak_rss_after_training_bytes"].astype(float)
    lightest, heaviest = peak.idxmin(), peak.idxmax()
    import_share = runs.groupby("framework")["framework_rss_bytes"].median().astype(float).sort_values()
    return "\n".join(
        [
            "<!-- Generated by tools/doc_tables.py from results/ of the default run: rerun it, do not edit. -->",
            f"{machine_line(results)} {load_line(results)}",
            "",
            f"n = {metadata['n']} (x and y: {int(runs['dataset_bytes'].iloc[0]):,} bytes). Each column is what that "
            "stage added to the job's peak resident memory: *before import* the interpreter, numpy and the dataset; "
            "*+ import* the framework's import; *+ setup* the first repeat's model and optimizer; *+ training* "
            "every repeat's training. *Growth*: the slope of the resident memory over 50 steady epochs of an "
            "untimed run of its own (a leak shows as a steady slope). *Device peak*: the framework's own, on a GPU.",
            "",
            *lines,
            "",
            f"From the lightest run to the heaviest: {peak[lightest] / 1e6:.0f} MB ({lightest}) to "
            f"{peak[heaviest] / 1e6:.0f} MB ({heaviest}), {peak[heaviest] / peak[lightest]:.1f}x. What importing "
            "each framework adds (median over its runs): "
            + ", ".join(f"{framework} {value / 1e6:.0f} MB" for framework, value in import_share.items())
            + ".",
        ]
    )


def era_memory_section(root: Path) -> str:
    """Each run's peak resident memory and the import's share on every release of the timeline, and what
    TensorFlow's footprint did where Keras 2 gave way to Keras 3."""
    frame, results = read_era_table(
        root, "timeline", TIMELINE_TEXT, ("peak_rss_after_training_bytes",), "timeline", TIMELINE_COMMAND
    )
    eras = era_order(frame)
    header = ["run", *eras]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    cells = {
        (run, era): f"{megabytes(peak)} ({megabytes(share)})"
        for run, era, peak, share in frame[
            ["run", "era", "peak_rss_after_training_bytes", "framework_rss_bytes"]
        ].itertuples(index=False)
    }
    for run in dict.fromkeys(frame["run"]):
        lines.append("| " + " | ".join([run, *(cells.get((run, era), "") for era in eras)]) + " |")
    return "\n".join(
        [
            heading("timeline", results),
            "",
            "Peak resident memory of each run's job, MB, and in brackets what the framework's import added to it, "
            "on each era's release (columns oldest first; the same code, data and settings, on the CPU).",
            "",
            *lines,
            "",
            keras_3_line(frame),
        ]
    )


def keras_3_line(frame: pd.DataFrame) -> str:
    """TensorFlow's import and peak on its last release with Keras 2 beside its first with Keras 3."""
    tensorflow = frame[frame["run"].str.startswith("tensorflow/") & (frame["keras_version"] != "")]
    major = tensorflow["keras_version"].str.split(".").str[0]
    before, after = tensorflow[major == "2"], tensorflow[major == "3"]
    if before.empty or after.empty:
        return "No era on either side of Keras 3 (TensorFlow 2.15 and 2.16) in this timeline: nothing to compare."
    last, first = before["released"].max(), after["released"].min()
    old, new = before[before["released"] == last], after[after["released"] == first]
    joined = old.merge(new, on="run", suffixes=("_old", "_new"))
    change = (joined["peak_rss_after_training_bytes_new"] / joined["peak_rss_after_training_bytes_old"]).astype(float)
    shares = joined["framework_rss_bytes_old"].astype(float), joined["framework_rss_bytes_new"].astype(float)
    return (
        f"With Keras 3 (TensorFlow {old['release'].iloc[0]}, Keras {old['keras_version'].iloc[0]} to TensorFlow "
        f"{new['release'].iloc[0]}, Keras {new['keras_version'].iloc[0]}), the import's share went from "
        f"{shares[0].median() / 1e6:.0f} to {shares[1].median() / 1e6:.0f} MB (median over the TensorFlow runs), "
        f"and each run's peak changed by {change.min():.2f}x to {change.max():.2f}x."
    )


# --- the profiles at large n ----------------------------------------------------------------------------------

PROFILE_COMMAND = ".venv/bin/snakemake profile --cores 2"
PROFILE_FIGURES = {
    "load": re.compile(r"Load average \(1, 5, 15 min\) at the start: ([\d.]+)"),
    "wall_ms": re.compile(r"Epoch time without a profiler: \*\*([\d.]+) ms\*\*"),
    "cpu_ms": re.compile(r"Per plain epoch, every thread: ([\d.]+) ms of CPU"),
    "faults": re.compile(r"ms of it in the kernel\), (\d+) minor page faults"),
    "busy": re.compile(r"Threads: \w+ in the process, (\w+) of them used CPU"),
}
XLA_ROW = re.compile(r"^\| `(?P<module>[^`]+)` \| (\d+) \| \d+ \| (\d+) \| (\d+) \| (\d+) \| \d+ \|$", re.MULTILINE)


def read_profile(path: Path) -> dict:
    """The figures of one profile (`tale_of_two.fit.profiling.to_markdown`'s file): epoch wall and CPU time,
    page faults, threads at work, and each XLA module's kernels, passes and n-element arrays read and written."""
    text = path.read_text()
    figures = {}
    for key, pattern in PROFILE_FIGURES.items():
        match = pattern.search(text)
        if key == "load" and not match:
            figures[key] = None  # the profile recorded no load average
            continue
        if not match:
            raise TablesError(f"{path}: not a profile as `{PROFILE_COMMAND}` writes it (no {key} figure)")
        figures[key] = match[1]
    figures["xla"] = [(m["module"], *m.groups()[1:]) for m in XLA_ROW.finditer(text)]
    return figures


def xla_cell(modules: list[tuple[str, str, str, str, str]]) -> str:
    """The training step's XLA modules as kernels, passes over n, n-arrays read + written (each distinct one)."""
    steps = [module for module in modules if "train_step" in module[0]] or modules
    distinct = dict.fromkeys(f"{kernels}, {passes}, {read} + {written}" for _, kernels, passes, read, written in steps)
    return "; ".join(distinct)


def profiles_section(root: Path) -> str:
    """The profiles at the largest profiled n (results/profile/*/*.n{n}.md): each run's epoch time, CPU time,
    page faults, threads at work and what XLA compiled, by CPU time per epoch."""
    found = {}
    for path in (root / "results" / "profile").glob("*/*.n*.md"):
        match = re.fullmatch(r"(?P<variant>\w+)\.n(?P<n>\d+)\.md", path.name)
        if match:
            found.setdefault(int(match["n"]), []).append((f"{path.parent.name}/{match['variant']}", path))
    if not found:
        raise TablesError(f"{root / 'results' / 'profile'}: no profile at a large n (*.n*.md); run `{PROFILE_COMMAND}`")
    n = max(found)
    profiles = [(run, read_profile(path)) for run, path in found[n]]
    profiles.sort(key=lambda item: (float(item[1]["cpu_ms"]), item[0]))
    header = [
        "run",
        "epoch, ms (wall)",
        "CPU, ms per epoch",
        "page faults per epoch",
        "threads at work",
        "XLA: kernels, passes over n, n-arrays read + written",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for run, figures in profiles:
        busy = figures["busy"] + (" (under a tick)" if figures["busy"] == "0" else "")
        cells = [run, figures["wall_ms"], figures["cpu_ms"], figures["faults"], busy, xla_cell(figures["xla"])]
        lines.append("| " + " | ".join(cells) + " |")
    loads = [float(figures["load"]) for _, figures in profiles if figures["load"] is not None]
    load = f"load average (1 min) at each profile's start {min(loads):.1f} to {max(loads):.1f}" if loads else "no load"
    return "\n".join(
        [
            f"<!-- Generated by tools/doc_tables.py from results/profile/*/*.n{n}.md of `snakemake profile`: "
            "rerun it, do not edit. -->",
            f"{len(profiles)} profiles at n = {n:,}; {load}. Per plain epoch (no profiler), by CPU time.",
            "",
            *lines,
        ]
    )


# --- the GPU check -------------------------------------------------------------------------------------------

GPU_RESULTS = "docs/gpu-results"  # committed: the check runs on a lent machine, not in the pipeline's results/
GPU_COMMAND = f"python3 tools/gpu_check.py --out {GPU_RESULTS}"


def ms(spread: dict) -> str:
    return "" if spread["median"] is None else figure(1e3 * spread["median"])


def gpu_rows(results: list[dict]) -> list[str]:
    """One row per run and n: its epoch, its device's memory pass, peak memory, the CPU run beside it, and each
    run's epoch as a multiple of the fastest run's at that n, on its device and on the CPU."""

    def fastest(key) -> dict:
        best: dict = {}
        for r in results:
            seconds = key(r)
            if r["status"] == "ok" and seconds is not None:
                best[r["dataset"]["n"]] = min(best.get(r["dataset"]["n"], math.inf), seconds)
        return best

    device_best = fastest(lambda r: r["timings"]["epoch_s"]["median"])
    cpu_best = fastest(
        lambda r: r["gpu_check"]["cpu"]["epoch_s"]["median"] if r["gpu_check"]["cpu"]["status"] == "ok" else None
    )
    header = [
        "run",
        "n",
        "ms per epoch, median [IQR]",
        "memory pass, ms",
        "pass / epoch",
        "peak, MiB",
        "CPU, ms per epoch",
        "loss, CPU vs device (epochs)",
        "x fastest",
        "x fastest on the CPU",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in sorted(results, key=lambda r: r["dataset"]["n"]):
        run, n, check = f"{r['framework']}/{r['variant']}", r["dataset"]["n"], r["gpu_check"]
        if r["status"] != "ok":
            reason = (r["error"] or "").splitlines()[0][:80].replace("|", "\\|")
            lines.append(f"| {run} | {n:,} | {r['status']}: {reason} |" + " |" * (len(header) - 3))
            continue
        epoch, cpu = r["timings"]["epoch_s"], check["cpu"]
        diff = "" if cpu["max_rel_loss_diff"] is None else f"{cpu['max_rel_loss_diff']:.1e} ({cpu['epochs']})"
        cells = [
            run,
            f"{n:,}",
            f"{ms(epoch)} [{figure(1e3 * epoch['q1'])}, {figure(1e3 * epoch['q3'])}]",
            ms(check["device_memory_pass_s"]),
            f"{check['device_memory_pass_s']['median'] / epoch['median']:.0%}",
            ""
            if check["device_peak_bytes"] is None
            else f"{check['device_peak_bytes'] / 2**20:.0f}"
            + (" (process)" if check["device_peak_scope"] == "process" else ""),
            ms(cpu["epoch_s"]) if cpu["status"] == "ok" else cpu["status"],
            diff,
            f"{figure(epoch['median'] / device_best[n], 2)}",
            f"{figure(cpu['epoch_s']['median'] / cpu_best[n], 2)}" if cpu["status"] == "ok" else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def gpu_section(root: Path) -> str:
    """The GPU check's runs (tools/gpu_check.py) from docs/gpu-results/, or a line saying that none has run yet."""
    folder = root / GPU_RESULTS
    note = (
        f"<!-- Generated by tools/doc_tables.py from {GPU_RESULTS}/ of `tools/gpu_check.py`: rerun it, do not edit. -->"
    )
    if not (folder / "gpu_check.json").exists():
        return f"{note}\nNo GPU run yet: {GPU_RESULTS}/ holds no gpu_check.json, so this page has no GPU figure."
    manifest = read_json(folder / "gpu_check.json", GPU_COMMAND)
    results = [read_json(folder / path, GPU_COMMAND) for path in manifest["results"]]
    if not results:
        raise TablesError(f"{folder / 'gpu_check.json'}: the check wrote no result file")
    devices = sorted({f"{r['device']} ({r['device_name']})" for r in results})
    versions = sorted({f"{r['framework']} {r['framework_version']}" for r in results})
    settings = manifest["settings"]
    left_out = []
    for report in manifest["frameworks"]:
        if report.get("skipped"):
            left_out.append(f"`{report['framework']}` skipped ({report['skipped'].splitlines()[0]})")
        left_out += [
            f"{failure['run']} failed ({failure['error'].splitlines()[0][:120]})" for failure in report["failed"]
        ]
        left_out += [f"{run} not started (time budget)" for run in report.get("out_of_time", [])]
    environment = manifest["environment"]
    return "\n".join(
        [
            note,
            f"The check ran {manifest['started_utc'][:16].replace('T', ' ')} UTC for {manifest['wall_s']:.0f} s on "
            f"{', '.join(devices)}, {environment['platform']}, Python {environment['python']}: {'; '.join(versions)}.",
            "",
            f"{settings['repeats']} repeat(s) of {settings['epochs']} epochs, {settings['warmup_epochs']} of them "
            f"warm-up, full batch, lr {settings['lr']:g}, the shared start; ms per epoch, median over the steady "
            "epochs; *memory pass*: one read of x and y on the run's device (its `yardstick`), timed as an epoch is; "
            "*pass / epoch*: how close an epoch comes to that bound; *peak*: the device's peak allocation during the "
            "run (*process*: since the process started, JAX's only count); *CPU*: the same variant from the same "
            f"start on the CPU ({environment['cpu_count']} CPUs), its first {manifest['cpu_epochs_large_n']} epochs "
            f"only above n = {manifest['large_n']:,}; *loss*: the largest relative difference between the two "
            "runs' losses at any epoch both ran; *x fastest*: the epoch as a multiple of the fastest run's at that n.",
            "",
            *gpu_rows(results),
            "",
            ("Not run: " + "; ".join(left_out) + ".") if left_out else "Every run of the check ran.",
        ]
    )


def width_section(root: Path) -> str:
    """The model-size axis: results/bench/width.csv (rule `width_summary`'s table) and the width jobs' results,
    results/bench/width/w*/round*/*.json (when, where and under what load), through `tale_of_two.analysis.width`."""
    path = root / "results" / "bench" / "width.csv"
    if not path.exists():
        raise TablesError(f"{path}: missing; run `{BENCH_COMMAND}` first")
    table = pd.read_csv(path)
    jobs = sorted((root / "results" / "bench" / "width").glob("w*/round*/*.json"))
    results = [result for job in jobs for result in read_json(job, BENCH_COMMAND)["results"]]
    if table.empty or not results:
        raise TablesError(f"{path}: no rows, or no width job's results beside it; run `{BENCH_COMMAND}`")
    body = width.to_markdown(table).split("\n", 2)[2]  # without its title: the page has its own
    return f"{heading('bench', results)}\n\n{body.rstrip()}"


GENERATORS: dict[str, Callable[[Path], str]] = {
    "runs": runs_section,
    "time_to_solution": time_to_solution_section,
    "then_vs_now": then_vs_now_section,
    "idioms": idioms_section,
    "timeline": timeline_section,
    "bench": bench_section,
    "remedies": remedies_section,
    "profiles": profiles_section,
    "memory": memory_section,
    "era_memory": era_memory_section,
    "gpu": gpu_section,
    "width": width_section,
}
# The run whose result files each generator reads (the default run and the converged one share results/).
DEFAULT_COMMAND = ".venv/bin/snakemake --cores 2"
RUN_OF = {
    "runs": DEFAULT_COMMAND,
    "time_to_solution": f"{DEFAULT_COMMAND} --configfile config/converged.yaml",
    "then_vs_now": THEN_COMMAND,
    "idioms": THEN_COMMAND,
    "timeline": TIMELINE_COMMAND,
    "bench": BENCH_COMMAND,
    "remedies": BENCH_COMMAND,
    "profiles": PROFILE_COMMAND,
    "memory": DEFAULT_COMMAND,
    "era_memory": TIMELINE_COMMAND,
    "gpu": GPU_COMMAND,
    "width": BENCH_COMMAND,
}


# --- the pages -----------------------------------------------------------------------------------------------


@dataclass
class Section:
    name: str
    body: str
    seal: str
    start: int
    end: int


def seal(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def render(name: str, body: str) -> str:
    return f"<!-- doc_tables:{name}:start -->\n{body}\n<!-- doc_tables:{name}:end sha256:{seal(body)} -->"


def sections(text: str, page: str = "page") -> list[Section]:
    """The generated sections of a page, in order; a marker without its pair is an error naming the page."""
    found = []
    for match in SECTION.finditer(text):
        if match["end"] != match["name"]:
            raise TablesError(f"{page}: section {match['name']!r} ends with the end marker of {match['end']!r}")
        found.append(Section(match["name"], match["body"], match["seal"] or "", match.start(), match.end()))
    markers = len(MARKER.findall(text))
    if markers != 2 * len(found):
        raise TablesError(f"{page}: {markers} doc_tables markers, {len(found)} whole sections: a marker lacks its pair")
    return found


def replace_sections(text: str, bodies: dict[str, str], page: str = "page") -> str:
    """The page with every section named in `bodies` rewritten (and sealed); other text untouched."""
    for section in reversed(sections(text, page)):
        if section.name in bodies:
            text = text[: section.start] + render(section.name, bodies[section.name]) + text[section.end :]
    return text


def seal_problems(root: Path = ROOT) -> list[str]:
    """Sections edited by hand since their generator wrote them, or named after no generator."""
    problems = []
    for path in pages(root):
        name = path.relative_to(root)
        try:
            found = sections(path.read_text(), str(name))
        except TablesError as error:
            problems.append(str(error))
            continue
        for section in found:
            if section.name not in GENERATORS:
                problems.append(f"{name}: section {section.name!r} names no generator (known: {', '.join(GENERATORS)})")
            elif section.seal != seal(section.body):
                problems.append(
                    f"{name}: section {section.name!r} differs from what its generator wrote (edited by hand?): "
                    f"rerun `tools/doc_tables.py {section.name}` on the run it describes"
                )
    return problems


def skeleton(body: str) -> list[str]:
    """A section's form without its numbers: table headers and separators, each run of data rows as its
    width, and the first three words of every other line (a word with a digit as #)."""
    form: list[str] = []
    for line in body.splitlines():
        if line.startswith("|"):
            previous = form[-1] if form else ""
            if set(line) <= set("|-: ") or not previous.startswith("|"):
                form.append(line)  # a separator, or the header above it
            elif not previous.startswith("| rows of"):
                cells = len(re.findall(r"(?<!\\)\|", line)) - 1  # an escaped \| is inside a cell
                form.append(f"| rows of {cells} cells |")
        elif line.strip():
            form.append(" ".join("#" if re.search(r"\d", word) else word for word in line.split()[:3]))
    return form


# --- links ---------------------------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text: str) -> str:
    """The text a reader sees as links: code blocks and code spans taken out."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        base = slug(heading)
        found.add(base if base not in counts else f"{base}-{counts[base]}")
        counts[base] = counts.get(base, 0) + 1
    return found | set(HTML_ANCHOR.findall(text))


def broken_links(root: Path = ROOT) -> list[str]:
    """Every relative link of every page whose file, or #anchor in a Markdown file, does not exist."""
    root = root.resolve()
    problems = []
    for path in pages(root):
        text = prose(path.read_text())
        for target in LINK.findall(text) + REFERENCE.findall(text):
            if SCHEME.match(target):
                continue
            file_part, _, anchor = target.partition("#")
            where = f"{path.relative_to(root)}: link {target!r}"
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.is_relative_to(root):
                problems.append(f"{where} leads out of the repository")
            elif not linked.exists():
                problems.append(f"{where}: no file {linked.relative_to(root)}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
                problems.append(f"{where}: no heading #{anchor} in {linked.relative_to(root)}")
    return problems


# --- the load gate -------------------------------------------------------------------------------------------

# Every section with timings states the load its runs started at ("Load average (1 min) ... X to Y"); a table
# measured on a busy machine says more about the machine than about the frameworks.
LOAD_STATED = re.compile(r"load average \(1 min\)\D*?(\d+(?:\.\d+)?) to (\d+(?:\.\d+)?)", re.IGNORECASE)


def stated_load(body: str) -> float | None:
    """The highest load a section states for its runs; None where it states none (no timings in it)."""
    found = [float(high) for _, high in LOAD_STATED.findall(body)]
    return max(found) if found else None


# Sections of bytes, not seconds: a busy machine changes how long a run takes, not what it holds. They state their
# load all the same.
LOAD_INSENSITIVE = {"memory", "era_memory"}


def gated(name: str, body: str, max_load: float, force: bool) -> str:
    """The section, if measured at or below `max_load`; above it, an error, or with `force` the section marked."""
    load = stated_load(body)
    if load is None or load <= max_load or name in LOAD_INSENSITIVE:
        return body
    if not force:
        raise TablesError(
            f"section {name!r} was measured at a load average up to {load:.1f}, above the limit of {max_load:g} "
            f"(--max-load): rerun `{RUN_OF[name]}` on a quieter machine, or pass --force to write it marked as such"
        )
    return (
        f"{body}\n\n**Written with --force**: measured at a load average up to {load:.1f}, above the limit of "
        f"{max_load:g}; its timings and ratios may say more about the machine's load than about the runs."
    )


# --- the command ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="SECTION", help=f"sections to write (default all: {', '.join(GENERATORS)})"
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="where results/ and benchmarks/ are")
    parser.add_argument("--pages", type=Path, default=ROOT, help="the repository whose pages are written")
    parser.add_argument(
        "--max-load",
        type=float,
        default=float(os.cpu_count() or 1),
        help="refuse a section whose runs started at a higher 1-minute load average (default: this machine's CPUs)",
    )
    parser.add_argument("--force", action="store_true", help="write a section above --max-load, marked as such")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the sections, change nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 if a page's sections differ from the results")
    mode.add_argument("--verify", action="store_true", help="exit 1 if a section was edited or a link is broken")
    args = parser.parse_args(argv)
    if args.verify:
        problems = seal_problems(args.pages) + broken_links(args.pages)
        for problem in problems:
            print(f"doc_tables: {problem}", file=sys.stderr)
        return 1 if problems else 0
    unknown = [name for name in args.names if name not in GENERATORS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; known: {', '.join(GENERATORS)}")
    names = args.names or list(GENERATORS)
    try:
        bodies = {name: GENERATORS[name](args.root) for name in names}
        if not args.print:
            bodies = {name: gated(name, body, args.max_load, args.force) for name, body in bodies.items()}
        if args.print:
            print("\n\n".join(render(name, body) for name, body in bodies.items()))
            return 0
        updates = {}
        for path in pages(args.pages):
            text = path.read_text()
            updated = replace_sections(text, bodies, str(path))
            if updated != text:
                updates[path] = updated
            names = [name for name in names if name not in {s.name for s in sections(text, str(path))}]
        if names:
            raise TablesError(f"no page has a section {names[0]!r}")
    except TablesError as error:
        print(f"doc_tables: {error}", file=sys.stderr)
        return 2
    if args.check:
        for path in updates:
            print(f"{path}: its measured tables differ from {args.root / 'results'}", file=sys.stderr)
        return 1 if updates else 0
    for path, text in updates.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
