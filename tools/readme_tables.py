"""Write the README's measured tables from a run's result files, so that they cannot drift from a run.

After `.venv/bin/snakemake --cores 2`, from the project root:

    .venv/bin/python tools/readme_tables.py            # rewrite README.md between its markers
    .venv/bin/python tools/readme_tables.py --print    # print the block instead
    .venv/bin/python tools/readme_tables.py --check    # exit 1 if README.md differs from the results

The block between `<!-- readme_tables:start -->` and `<!-- readme_tables:end -->` is replaced. It is
built from results/summary.csv (one row per run, in the pipeline's order), results/runs/*/*.json (when,
and on what machine: platform, CPU count, Python, numpy), results/data/dataset.json (the optima) and,
where present, benchmarks/train/*/*.tsv (each training job's wall time, as Snakemake measured it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "lib"))

from tale_of_two.analysis.summary import START, equivalence, trained_rows  # noqa: E402

START_MARKER = "<!-- readme_tables:start -->"
END_MARKER = "<!-- readme_tables:end -->"


class TablesError(ValueError):
    """Missing or inconsistent input: the message names the file."""


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


def run_rows(table: pd.DataFrame, job_seconds: dict[str, float]) -> str:
    runs = trained_rows(table)
    lines = [
        "| run | start | epochs | ms per epoch, median [IQR] | training job, s | fitted w, b | final loss | version |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, row in runs.iterrows():
        name = f"{row['framework']}/{row['variant']}"
        if row["status"] != "ok":
            lines.append(f"| {name} | {START.get(row['init'], '')} | {row['status']} | | | | | |")
            continue
        epoch = (
            f"{1e3 * row['epoch_time_s']:.3g} [{1e3 * row['epoch_time_q1_s']:.3g}, {1e3 * row['epoch_time_q3_s']:.3g}]"
        )
        job = f"{job_seconds[name]:.1f}" if name in job_seconds else ""
        cells = [
            name,
            START.get(row["init"], ""),
            f"{row['epochs_run']:.0f}",
            epoch,
            job,
            f"{row['w']:.5f}, {row['b']:.5f}",
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
        parts.append(
            f"`{variant}` ({', '.join(frameworks)}) to a relative {group['max_rel_loss_diff'].max():.1e} "
            f"in the loss and {max(group['w_diff'].max(), group['b_diff'].max()):.1e} in w and b"
        )
    return "From the same start, runs of one variant agree at every epoch: " + "; ".join(parts) + "."


def block(root: Path) -> str:
    """The README's measured block: machine, one row per run, the optima, how closely frameworks agree."""
    table, results, metadata, job_seconds = read_inputs(root)
    ols, lad = metadata["ols"], metadata["lad"]
    total = sum(job_seconds.values())
    lines = [
        START_MARKER,
        "<!-- Generated by tools/readme_tables.py from results/ and benchmarks/: rerun it, do not edit. -->",
        machine_line(results),
        "",
        f"n = {metadata['n']}; steady-state time per epoch over {results[0]['timings']['repeats']} repeats, warm-up "
        "excluded; *training job*: the job's wall time as Snakemake measured it (import, setup, every repeat); "
        "*start*: the shared draw of w and b, or the framework's own initialiser.",
        "",
        run_rows(table, job_seconds),
        "",
        f"OLS is w = {ols['w']:.5f}, b = {ols['b']:.5f} (MSE {ols['mse']:.4f}); "
        f"LAD is w = {lad['w']:.5f}, b = {lad['b']:.5f} (MAE {lad['mae']:.4f}). " + agreement_line(results),
    ]
    if job_seconds:
        lines.append(f"The {len(job_seconds)} training jobs took {total:.0f} s together (they run one at a time).")
    lines.append(END_MARKER)
    return "\n".join(lines)


def replace_block(readme: str, new_block: str) -> str:
    if readme.count(START_MARKER) != 1 or readme.count(END_MARKER) != 1:
        raise TablesError(f"the README needs exactly one {START_MARKER} and one {END_MARKER}")
    start, end = readme.index(START_MARKER), readme.index(END_MARKER) + len(END_MARKER)
    if end < start:
        raise TablesError(f"{END_MARKER} comes before {START_MARKER}")
    return readme[:start] + new_block + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="where results/ and benchmarks/ are")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the block, change nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README's block differs")
    args = parser.parse_args(argv)
    try:
        new_block = block(args.root)
        if args.print:
            print(new_block)
            return 0
        readme = args.readme.read_text()
        updated = replace_block(readme, new_block)
    except TablesError as error:
        print(f"readme_tables: {error}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print(f"{args.readme}: its measured tables differ from {args.root / 'results'}", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
