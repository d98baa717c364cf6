"""The release timeline: the article's runs on every era of `eras.timeline`, oldest first, against today's.

From the eras' result documents, their profiles (`profile_era`) and their environments' records
(tale_of_two.eras) to results/timeline.{csv,md,html} and results/plots/timeline.png. Per run and release:
epoch, import and setup times, whether the losses agree with the last era's (today's) from the same start,
and the release where the epoch's time changed most, with what the profiles either side of it say changed.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd

from tale_of_two.analysis.then_vs_now import (
    AGREE_RTOL,
    compare,
    epoch_ratio_interval,
    era_row,
    ratio_cell,
    timing_columns,
)
from tale_of_two.analysis.then_vs_now import to_html as to_html  # the timeline's page is built as then-and-now's
from tale_of_two.analysis.then_vs_now import to_markdown as to_markdown

# When each minor release first reached PyPI (its earliest file's upload time; TensorFlow 2.16's first was
# 2.16.1). Looked up on PyPI's JSON API on 2026-12-01. A release missing here is plotted in order, undated.
RELEASED = {
    "tensorflow": {
        "2.3": "2020-07-27",
        "2.6": "2021-08-11",
        "2.9": "2022-05-16",
        "2.12": "2023-03-22",
        "2.15": "2023-11-14",
        "2.16": "2024-03-09",
        "2.21": "2026-03-06",
    },
    "torch": {
        "1.7": "2020-10-27",
        "1.10": "2021-10-21",
        "1.13": "2022-10-28",
        "2.0": "2023-03-15",
        "2.4": "2024-07-24",
        "2.13": "2026-07-08",
    },
}


def minor(version: str) -> str:
    """'2.16' of '2.16.2' (and of '2.4.1+cu121')."""
    return ".".join(version.split("+")[0].split(".")[:2])


def released(framework: str, version: str) -> datetime.date | None:
    day = RELEASED.get(framework, {}).get(minor(version))
    return datetime.date.fromisoformat(day) if day else None


def timeline_rows(results: list[dict], eras: list[str]) -> dict[str, dict[str, dict]]:
    """{run: {era: result}}, runs in the order they first appear, eras in timeline order; one result each."""
    by_run: dict[str, dict[str, dict]] = {}
    for result in results:
        run, era = f"{result['framework']}/{result['variant']}", result["era"]["name"]
        if era not in eras:
            raise ValueError(f"{run}: era {era!r} is not in the timeline ({', '.join(eras)})")
        if era in by_run.setdefault(run, {}):
            raise ValueError(f"{run}: two results for era {era!r}")
        by_run[run][era] = result
    return {run: {era: found[era] for era in eras if era in found} for run, found in by_run.items()}


def table(
    results: list[dict], eras: list[str], environments: dict[str, dict] | None = None, rtol: float = AGREE_RTOL
) -> pd.DataFrame:
    """One row per run and era (timeline order): versions, release date, fit, timings; the epoch's time against
    the run's previous release; and the losses against the run's last era (today's)."""
    environments = environments or {}
    rows = []
    for by_era in timeline_rows(results, eras).values():
        reference = list(by_era.values())[-1]
        previous = previous_result = None
        for era, result in by_era.items():
            row = era_row(result)
            against_today = compare(result, reference, rtol)  # the same start, and the loss at every epoch
            environment = environments.get(era)
            row.update(
                release=minor(result["framework_version"]),
                released=released(result["framework"], result["framework_version"]),
                reference_era=reference["era"]["name"],
                max_rel_loss_diff=against_today["max_rel_loss_diff"],
                agree=against_today["agree"],
                rtol=rtol,
                epoch_vs_previous=(
                    row["epoch_s"] / previous["epoch_s"]
                    if previous and previous["epoch_s"] and row["epoch_s"]
                    else math.nan
                ),
                **(
                    epoch_ratio_interval(result, previous_result, "epoch_vs_previous")
                    if previous_result
                    else {"epoch_vs_previous_low": math.nan, "epoch_vs_previous_high": math.nan}
                ),
                previous_release=previous["release"] if previous else "",
                previous_era=previous["era"] if previous else "",
                environment_gb=environment["size_bytes"] / 1e9 if environment else math.nan,
            )
            rows.append(row)
            previous, previous_result = row, result
    return pd.DataFrame(rows)


def biggest_steps(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run, the release whose epoch time differs most from the run's previous release (largest |log ratio|)."""
    steps = []
    for _, rows in frame.groupby("run", sort=False):
        ratios = rows["epoch_vs_previous"].astype(float)
        if ratios.notna().any():
            steps.append(rows.loc[np.log(ratios).abs().idxmax()])
    return pd.DataFrame(steps).reset_index(drop=True)


def profile_change(before: dict, after: dict) -> pd.DataFrame:
    """Per profile group, ms per epoch (under cProfile) in the release before a step and after it, and the change."""
    groups = list(dict.fromkeys([*before["groups"], *after["groups"]]))
    return pd.DataFrame(
        {
            "group": groups,
            "before, ms": [1e3 * before["groups"].get(group, 0.0) for group in groups],
            "after, ms": [1e3 * after["groups"].get(group, 0.0) for group in groups],
        }
    ).assign(change_ms=lambda f: f["after, ms"] - f["before, ms"])


def reproduces(ratio: float, profile_ratio: float) -> bool:
    """Whether the profiles' own plain epochs show the run's step: the same direction, and at least half its size
    on a log scale (a step the profiles do not show is noise of one run, on a shared machine)."""
    return math.log(profile_ratio) / math.log(ratio) >= 0.5 if ratio != 1 else False


def explain(step: pd.Series, profiles: dict[tuple[str, str], dict]) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """What the profiles of the releases either side of a step say: a sentence, the groups, the top functions."""
    before, after = profiles[(step["previous_era"], step["run"])], profiles[(step["era"], step["run"])]
    groups = profile_change(before, after)
    moved = groups.reindex(groups["change_ms"].abs().sort_values(ascending=False).index)
    plain_before, plain_after = (1e3 * float(np.median(p["epoch_s"])) for p in (before, after))
    reproduced = reproduces(step["epoch_vs_previous"], plain_after / plain_before)
    framework = step["run"].split("/")[0]
    before_ms = 1e3 * step["epoch_s"] / step["epoch_vs_previous"]
    sentence = (
        f"{step['run']}: from {framework} {step['previous_release']} ({step['previous_era']}) to "
        f"{step['release']} ({step['era']}) the epoch went from {before_ms:.3f} "
        f"to {1e3 * step['epoch_s']:.3f} ms ({step['epoch_vs_previous']:.2f}x; in the profiles' own plain epochs "
        f"{plain_before:.3f} to {plain_after:.3f} ms: "
        + ("the same step" if reproduced else "they do not show this step, so it is not confirmed")
        + "). Under cProfile the groups that moved most: "
        + "; ".join(f"{row.group} {row.change_ms:+.3f} ms" for row in moved.head(2).itertuples())
        + "."
    )
    tops = pd.DataFrame(
        {
            f"before ({step['previous_era']}): function, ms per epoch": [
                f"{name} ({1e3 * seconds:.3f})" for name, seconds, _ in before["top_cumulative"][:8]
            ],
            f"after ({step['era']}): function, ms per epoch": [
                f"{name} ({1e3 * seconds:.3f})" for name, seconds, _ in after["top_cumulative"][:8]
            ],
        }
    )
    shown = groups.assign(
        **{
            "before, ms": groups["before, ms"].map(lambda v: f"{v:.3f}"),
            "after, ms": groups["after, ms"].map(lambda v: f"{v:.3f}"),
            "change, ms": groups["change_ms"].map(lambda v: f"{v:+.3f}"),
        }
    ).drop(columns="change_ms")
    return sentence, shown, tops


def runs_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-run, per-release table as a person reads it."""
    return pd.DataFrame(
        {
            "run": frame["run"],
            "era": frame["era"],
            "release (date)": [
                f"{run.split('/')[0]} {version}" + (f" ({day})" if isinstance(day, datetime.date) else "")
                for run, version, day in zip(frame["run"], frame["framework_version"], frame["released"], strict=True)
            ],
            "Python, Keras": [
                f"{python}" + (f", Keras {keras}" if keras else "")
                for python, keras in zip(frame["python"], frame["keras_version"], strict=True)
            ],
            **timing_columns(frame),
            "epoch / previous release [95 % CI]": [
                ratio_cell(*values)
                for values in zip(
                    frame["epoch_vs_previous"],
                    frame["epoch_vs_previous_low"],
                    frame["epoch_vs_previous_high"],
                    strict=True,
                )
            ],
            "loss vs today: max rel. difference": [
                f"{d:.1e} ({'agrees' if a else 'differs'})"
                for d, a in zip(frame["max_rel_loss_diff"], frame["agree"], strict=True)
            ],
            "what this version lacked, and did instead": frame["notes"],
        }
    )


def era_sizes(frame: pd.DataFrame, eras: list[str]) -> pd.Series:
    """Each era's environment, GB (NaN: not built by the pipeline), in timeline order."""
    return frame.drop_duplicates("era").set_index("era")["environment_gb"].reindex(eras)


def environments_shown(frame: pd.DataFrame, eras: list[str]) -> pd.DataFrame:
    eras = era_sizes(frame, eras)
    return pd.DataFrame(
        {
            "era": eras.index,
            "environment on disk, GB": [
                "(not built by the pipeline: not measured)" if pd.isna(size) else f"{size:.2f}"
                for size in eras.to_numpy()
            ],
        }
    )


def sections(frame: pd.DataFrame, profiles: dict[tuple[str, str], dict], eras: list[str]) -> list:
    """(title, text, table) for each part of the page."""
    reference = frame["reference_era"].iloc[0]
    compared = frame[frame["era"] != frame["reference_era"]]
    parts = [
        (
            "Release timeline",
            "The article's runs on each release of its framework, oldest first: the same training code, data, "
            f"settings and start, on the CPU. Losses are compared with the last era's ({reference}) epoch by epoch. "
            "Where a release lacks an API the code calls, the run says what it did instead (last column).",
            runs_shown(frame),
        ),
        (
            "Do the releases agree?",
            f"Largest relative loss difference from {reference} at any epoch, over every earlier release: "
            f"{compared['max_rel_loss_diff'].max():.1e}; {int(compared['agree'].sum())} of {len(compared)} runs "
            f"agree to rtol {AGREE_RTOL:.0e}.",
            None,
        ),
    ]
    steps = biggest_steps(frame)
    parts.append(
        (
            "Where each run's epoch time changed most",
            "Per run, the release whose steady-state epoch differs most from the run's previous release "
            "(ratio above 1: slower). Each is followed by the profiles of the two releases (results/eras/ERA/"
            "profiles/), by group, and their top functions by cumulative time.",
            pd.DataFrame(
                {
                    "run": steps["run"],
                    "from": [
                        f"{p} ({e})" for p, e in zip(steps["previous_release"], steps["previous_era"], strict=True)
                    ],
                    "to": [f"{r} ({e})" for r, e in zip(steps["release"], steps["era"], strict=True)],
                    "epoch, ms": [
                        f"{1e3 * s / r:.3f} to {1e3 * s:.3f}"
                        for s, r in zip(steps["epoch_s"], steps["epoch_vs_previous"], strict=True)
                    ],
                    "ratio [95 % CI]": [
                        ratio_cell(*values)
                        for values in zip(
                            steps["epoch_vs_previous"],
                            steps["epoch_vs_previous_low"],
                            steps["epoch_vs_previous_high"],
                            strict=True,
                        )
                    ],
                }
            ),
        )
    )
    for _, step in steps.iterrows():
        sentence, groups, tops = explain(step, profiles)
        parts.append((f"{step['run']}: {step['previous_release']} to {step['release']}", sentence, groups))
        parts.append((None, "", tops))
    parts.append(
        (
            "Environments",
            "Each era's environment on disk (.venv-NAME, measured when it was built or checked).",
            environments_shown(frame, eras),
        )
    )
    return parts


def plot(frame: pd.DataFrame, eras: list[str], path) -> None:
    """Per run, against each release's date: epoch (median, IQR whiskers), import and setup, ms on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tale_of_two.analysis.plots import save

    runs = list(dict.fromkeys(frame["run"]))
    columns = 2
    rows = math.ceil((len(runs) + 1) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(13, 3.6 * rows), dpi=110, squeeze=False)
    series = (
        ("epoch_s", "epoch (median, IQR)", "o", "#1f77b4"),
        ("import_s", "import", "s", "#d62728"),
        ("setup_s", "setup", "^", "#2ca02c"),
    )
    for ax, run in zip(axes.flat, runs, strict=False):
        rows_of_run = frame[frame["run"] == run]
        dates = [
            day if isinstance(day, datetime.date) else datetime.date(2020 + index, 1, 1)
            for index, day in enumerate(rows_of_run["released"])
        ]
        for column, label, marker, color in series:
            values = 1e3 * rows_of_run[column].to_numpy(dtype=float)
            ax.plot(dates, values, color=color, linewidth=1, alpha=0.6)
            for day, value, agree in zip(dates, values, rows_of_run["agree"], strict=True):
                ax.plot(
                    [day],
                    [value],
                    marker=marker,
                    color=color,
                    markerfacecolor=color if agree else "white",
                    linestyle="",
                )
            if column == "epoch_s":
                low = 1e3 * rows_of_run["epoch_q1_s"].to_numpy(dtype=float)
                high = 1e3 * rows_of_run["epoch_q3_s"].to_numpy(dtype=float)
                ax.vlines(dates, low, high, color=color)
            ax.plot([], [], marker=marker, color=color, label=label)
        for day, version, value in zip(
            dates, rows_of_run["release"], 1e3 * rows_of_run["epoch_s"].to_numpy(dtype=float), strict=True
        ):
            ax.annotate(version, (day, value), xytext=(0, -13), textcoords="offset points", ha="center", fontsize=7)
        step = biggest_steps(rows_of_run).iloc[0]
        day = dates[list(rows_of_run["era"]).index(step["era"])]
        ax.annotate(
            f"{step['epoch_vs_previous']:.2f}x",
            (day, 1e3 * step["epoch_s"]),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold",
            color="#1f77b4",
        )
        ax.set_yscale("log")
        ax.set_title(f"{run} (bold: its largest step in epoch time)", fontsize=10)
        ax.set_ylabel("ms (log scale)")
        ax.grid(True, which="major", alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    sizes = era_sizes(frame, eras).dropna()
    size_ax = axes.flat[len(runs)]
    size_ax.bar(sizes.index, sizes.to_numpy(), color="#8c8c8c")
    size_ax.set_ylabel("GB on disk")
    size_ax.set_title(f"each era's environment built by the pipeline: {sizes.sum():.1f} GB in all", fontsize=10)
    size_ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    for ax in list(axes.flat)[len(runs) + 1 :]:
        ax.axis("off")
    fig.suptitle(
        "The article's runs across framework releases: same code, data and start, CPU "
        "(open markers: losses differ from today's)",
        fontsize=11,
    )
    fig.tight_layout()
    save(fig, path)
