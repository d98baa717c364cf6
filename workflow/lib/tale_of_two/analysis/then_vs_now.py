"""The article's runs in two eras, side by side: its own 2020 frameworks ("then") and today's ("now").

From their result documents (and the idiom records of tale_of_two.fit.idioms) to
results/then_vs_now.{csv,md,html} and results/plots/then_vs_now.png. Which runs, with what settings:
`tale_of_two.config.resolve_then`.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from tale_of_two.analysis import confidence, summary
from tale_of_two.analysis.pages import page
from tale_of_two.fit.idioms import classify

ERAS = ("then", "now")
# Two eras "agree" when, from the same start with the same settings, the loss at every epoch is the same
# to this relative tolerance: about 8 float32 roundings (resolution 1.19e-7). It covers the largest
# difference measured, 6.2e-7 (tensorflow/fit on TensorFlow 2.9, 2.12 and 2.15 against 2.21 on
# config/config.yaml, in `snakemake timeline`; 2.6e-7 between TensorFlow 2.3.4 and 2.21; torch 1.7 to 2.13
# bit-identical), with 1.6x room.
AGREE_RTOL = 1e-6
# Settings that must be equal for the eras to be expected to follow the same trajectory.
SAME_TRAJECTORY_SETTINGS = ("lr", "epochs", "batch_size", "init", "init_low", "init_high", "seed")


# --- comparing the eras -----------------------------------------------------------------------------------


def max_relative_difference(a: list, b: list) -> float:
    """Largest |a - b| / |b| over the epochs; infinite if the histories differ in length, NaN if either diverged."""
    if len(a) != len(b) or not a:
        return math.inf
    if any(v is None for v in [*a, *b]):
        return math.nan
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(second), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(first - second) / scale))


def ratio(now: float | None, then: float | None) -> float:
    if now is None or then is None or then <= 0:
        return math.nan
    return now / then


def compare(then: dict, now: dict, rtol: float = AGREE_RTOL) -> dict:
    """How the same run differs between the eras: trajectory, fitted parameters, and speed (now / then)."""
    same_start = then["settings"]["init"] == "uniform" and all(
        then["settings"][key] == now["settings"][key] for key in SAME_TRAJECTORY_SETTINGS
    )
    difference = max_relative_difference(then["loss_history"], now["loss_history"])
    both_fitted = None not in (then["fitted"]["w"], now["fitted"]["w"], then["fitted"]["b"], now["fitted"]["b"])
    timings = then["timings"], now["timings"]
    return {
        "same_start": same_start,
        "max_rel_loss_diff": difference,
        "w_diff": abs(then["fitted"]["w"] - now["fitted"]["w"]) if both_fitted else math.nan,
        "b_diff": abs(then["fitted"]["b"] - now["fitted"]["b"]) if both_fitted else math.nan,
        "agree": bool(same_start and difference <= rtol),
        "rtol": rtol,
        "import_ratio": ratio(timings[1]["import_s"], timings[0]["import_s"]),
        "setup_ratio": ratio(timings[1]["setup_s"], timings[0]["setup_s"]),
        "epoch_ratio": ratio(timings[1]["epoch_s"]["median"], timings[0]["epoch_s"]["median"]),
        **epoch_ratio_interval(now, then, "epoch_ratio"),
    }


def epoch_ratio_interval(result: dict, against: dict, name: str) -> dict:
    """`{name}_low`, `{name}_high`: the 95 % interval of result's median epoch over against's, NaN where either
    has too few repeats (`confidence.ratio_interval`)."""
    found = confidence.ratio_interval(confidence.steady_repeats(result), confidence.steady_repeats(against))
    low, high = found or (math.nan, math.nan)
    return {f"{name}_low": low, f"{name}_high": high}


def ratio_cell(ratio: float, low: float, high: float) -> str:
    """A ratio with its interval, or "no difference measured" where the interval includes 1."""
    if pd.isna(ratio):
        return ""
    return confidence.ratio_text(ratio, None if pd.isna(low) else (low, high))


def era_row(result: dict) -> dict:
    era, timings = result["era"], result["timings"]
    versions = era["versions"]
    return {
        "run": f"{result['framework']}/{result['variant']}",
        "era": era["name"],
        "python": versions["python"],
        "framework_version": result["framework_version"],
        "keras_version": versions.get("keras", ""),
        "status": result["status"],
        "w": result["fitted"]["w"],
        "b": result["fitted"]["b"],
        "final_loss": result["final_loss"],
        "loss_name": result["loss_name"],
        "epochs_run": len(result["loss_history"]),
        "import_s": timings["import_s"],
        "setup_s": timings["setup_s"],
        "epoch_s": timings["epoch_s"]["median"],
        "epoch_q1_s": timings["epoch_s"]["q1"],
        "epoch_q3_s": timings["epoch_s"]["q3"],
        "peak_rss_after_training_bytes": result["memory"]["peak_rss_after_training_bytes"],
        "framework_rss_bytes": summary.memory_columns(result["memory"])["framework_rss_bytes"],
        "notes": "; ".join(result["notes"]),
    }


def pair_up(results: list[dict]) -> dict[str, dict[str, dict]]:
    """{run: {era: result}}, in the order runs first appear; every run must have both eras, once each."""
    pairs: dict[str, dict[str, dict]] = {}
    for result in results:
        run, era = f"{result['framework']}/{result['variant']}", result["era"]["name"]
        if era in pairs.setdefault(run, {}):
            raise ValueError(f"{run}: two results for era {era!r}")
        pairs[run][era] = result
    for run, eras in pairs.items():
        missing = [era for era in ERAS if era not in eras]
        if missing:
            raise ValueError(f"{run}: no result for era {missing[0]!r}")
    return pairs


def table(results: list[dict], rtol: float = AGREE_RTOL) -> pd.DataFrame:
    """One row per run and era: versions, fit, timings; and on both rows of a run, how its eras compare."""
    rows = []
    for eras in pair_up(results).values():
        comparison = compare(eras["then"], eras["now"], rtol)
        rows += [{**era_row(eras[era]), **comparison} for era in ERAS]
    return pd.DataFrame(rows)


def versions_line(record: dict) -> str:
    versions = record["versions"]
    parts = [f"Python {versions['python']}"]
    if "tensorflow" in versions:
        parts.append(f"TensorFlow {versions['tensorflow']} (Keras {versions['keras']})")
    if "torch" in versions:
        parts.append(f"torch {versions['torch']}")
    return ", ".join(parts)


def milliseconds(value) -> str:
    return "" if value is None or pd.isna(value) else f"{1e3 * value:.3f}"


def markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def timing_columns(frame: pd.DataFrame) -> dict[str, list]:
    """A run's import, setup and steady-state epoch, and its memory, as the era tables show them."""
    return {
        "import, s": frame["import_s"].map(lambda v: f"{v:.2f}"),
        "setup, ms": frame["setup_s"].map(milliseconds),
        "epoch, ms (median [IQR])": [
            "" if pd.isna(m) else f"{1e3 * m:.3f} [{1e3 * q1:.3f}, {1e3 * q3:.3f}]"
            for m, q1, q3 in zip(frame["epoch_s"], frame["epoch_q1_s"], frame["epoch_q3_s"], strict=True)
        ],
        "peak memory, MB": frame["peak_rss_after_training_bytes"].map(megabytes),
        "import's share, MB": frame["framework_rss_bytes"].map(megabytes),
    }


def megabytes(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value / 1e6:.0f}"


def runs_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-run, per-era table as a person reads it."""
    return pd.DataFrame(
        {
            "run": frame["run"],
            "era": frame["era"],
            "versions": [
                f"Python {p}, {run.split('/')[0]} {v}" + (f", Keras {k}" if k else "")
                for p, run, v, k in zip(
                    frame["python"], frame["run"], frame["framework_version"], frame["keras_version"], strict=True
                )
            ],
            "w": frame["w"].map(lambda v: "" if pd.isna(v) else f"{v:.6f}"),
            "b": frame["b"].map(lambda v: "" if pd.isna(v) else f"{v:.6f}"),
            "final loss": [
                "" if pd.isna(v) else f"{v:.6f} ({name})"
                for v, name in zip(frame["final_loss"], frame["loss_name"], strict=True)
            ],
            **timing_columns(frame),
            "what this version lacked, and did instead": frame["notes"],
        }
    )


def comparison_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: how its two eras compare."""
    runs = frame[frame["era"] == "now"]
    return pd.DataFrame(
        {
            "run": runs["run"],
            "same start": runs["same_start"].map({True: "yes", False: "no"}),
            "max relative loss difference": runs["max_rel_loss_diff"].map(lambda v: f"{v:.1e}"),
            "abs(w then - w now)": runs["w_diff"].map(lambda v: f"{v:.1e}"),
            "abs(b then - b now)": runs["b_diff"].map(lambda v: f"{v:.1e}"),
            "agree": [
                f"{'yes' if agree else 'no'} (rtol {rtol:.0e})"
                for agree, rtol in zip(runs["agree"], runs["rtol"], strict=True)
            ],
            "import now/then": runs["import_ratio"].map(lambda v: f"{v:.2f}"),
            "setup now/then": runs["setup_ratio"].map(lambda v: f"{v:.2f}"),
            "epoch now/then [95 % CI]": [
                ratio_cell(*values)
                for values in zip(runs["epoch_ratio"], runs["epoch_ratio_low"], runs["epoch_ratio_high"], strict=True)
            ],
        }
    )


# --- the idioms ----------------------------------------------------------------------------------------------


def check_idiom_record(record: dict, era: str) -> None:
    """Every outcome must be what running it gave: the outcome follows from the error and warnings it
    recorded, a working idiom carries its evidence (the losses it saw), a failing one its error."""
    if record.get("era") != era:
        raise ValueError(f"idioms record of era {record.get('era')!r} where {era!r} was expected")
    for row in record["idioms"]:
        label = f"{era}: {row['idiom']} ({row['code']})"
        if row["outcome"] != classify(row["error"], row["warnings"]):
            raise ValueError(f"{label}: outcome {row['outcome']!r} does not follow from its error and warnings")
        if (row["evidence"] is None) != (row["outcome"] == "fails"):
            raise ValueError(
                f"{label}: a run that {row['outcome']} must {'not ' * (row['outcome'] == 'fails')}carry evidence"
            )
        if row["outcome"] != "fails" and not row["evidence"]["last_loss"] < row["evidence"]["first_loss"]:
            raise ValueError(f"{label}: its evidence shows no training")


def outcome_text(row: dict) -> str:
    if row["outcome"] == "fails":
        return f"fails: {row['error']}"
    if row["outcome"] == "warns":
        return "works, warns: " + " / ".join(row["warnings"])
    return "works"


def idioms_table(then: dict, now: dict) -> pd.DataFrame:
    """One row per idiom: its 2020 code and today's replacement, each as it ran in each era."""
    check_idiom_record(then, "then")
    check_idiom_record(now, "now")
    outcomes = {
        (era, row["idiom"], row["code"]): outcome_text(row)
        for era, record in zip(ERAS, (then, now), strict=True)
        for row in record["idioms"]
    }
    rows = []
    for row in then["idioms"]:
        if row["code"] != "then":
            continue
        idiom = row["idiom"]
        today = next(r for r in then["idioms"] if r["idiom"] == idiom and r["code"] == "today")
        rows.append(
            {
                "idiom": idiom,
                "framework": row["framework"],
                "2020 code": row["source"],
                "2020 code, then": outcomes[("then", idiom, "then")],
                "2020 code, now": outcomes[("now", idiom, "then")],
                "today's code": today["source"],
                "today's code, then": outcomes[("then", idiom, "today")],
                "today's code, now": outcomes[("now", idiom, "today")],
            }
        )
    return pd.DataFrame(rows)


def as_markdown(frame: pd.DataFrame) -> str:
    return frame.map(markdown_cell).to_markdown(index=False, disable_numparse=True)


def sections(frame: pd.DataFrame, idioms: pd.DataFrame, then_idioms: dict, now_idioms: dict) -> list:
    """(title, text, table) for each part of the page: the runs, the comparison, the idioms."""
    compared = frame[frame["era"] == "now"]
    return [
        (
            "Then and now",
            f"The article's runs on its own 2020 versions (then: {versions_line(then_idioms)}) and on today's "
            f"(now: {versions_line(now_idioms)}): the same training code, the same data, the same settings, "
            "from the same start, on the CPU. Where a 2020 framework lacks an API the code calls, the run "
            "says what it did instead (last column).",
            runs_shown(frame),
        ),
        (
            "Do the eras agree?",
            f"Loss at every epoch, then against now: largest relative difference "
            f"{compared['max_rel_loss_diff'].max():.1e}; {int(compared['agree'].sum())} of {len(compared)} runs "
            f"agree to rtol {AGREE_RTOL:.0e}. Time ratios above 1: today is slower.",
            comparison_shown(frame),
        ),
        (
            "2020 idioms, run in both eras",
            "Each cell is what running the code gave: works, works with a warning (quoted), or fails (the error, "
            "quoted). Each idiom ends by checking that the loss went down (and, for SGD, that the learning rate "
            "is the one asked for).",
            idioms,
        ),
    ]


def to_markdown(parts: list) -> str:
    """(title, intro, table) parts as one page; a part may leave out its title (None), intro ("") or table (None)."""
    text = ""
    for level, (title, intro, shown) in enumerate(parts):
        if title:
            text += f"{'#' if level == 0 else '##'} {title}\n\n"
        if intro:
            text += f"{intro}\n\n"
        if shown is not None:
            text += f"{as_markdown(shown)}\n\n"
    return text.rstrip("\n") + "\n"


def to_html(parts: list) -> str:
    """The same page for the report: the first part's title is the page's."""
    body = ""
    for level, (title, intro, shown) in enumerate(parts):
        if title and level:
            body += f"<h2>{html.escape(title)}</h2>"
        if intro:
            body += f"<p>{html.escape(intro)}</p>"
        if shown is not None:
            body += shown.to_html(index=False, na_rep="")
    return page(parts[0][0], body)


def plot_epoch_times(frame: pd.DataFrame, path) -> None:
    """Steady-state epoch time per run, then beside now (median, IQR bars), with the now/then ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tale_of_two.analysis.plots import save

    runs = list(dict.fromkeys(frame["run"]))
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.8 * len(runs)), dpi=120)
    height = 0.38
    for offset, era, color in ((-height / 2, "then", "#8c8c8c"), (height / 2, "now", "#1f77b4")):
        rows = frame[frame["era"] == era].set_index("run").loc[runs]
        medians, q1, q3 = (1e3 * rows[c].to_numpy(dtype=float) for c in ("epoch_s", "epoch_q1_s", "epoch_q3_s"))
        versions = sorted({f"{run.split('/')[0]} {v}" for run, v in zip(runs, rows["framework_version"], strict=True)})
        ax.barh(
            np.arange(len(runs)) + offset,
            medians,
            height=height,
            color=color,
            xerr=np.vstack([medians - q1, q3 - medians]),
            capsize=3,
            label=f"{era}: {', '.join(versions)}",
        )
    right = 1e3 * frame.groupby("run", sort=False)["epoch_q3_s"].max().loc[runs]
    ratios = frame[frame["era"] == "now"].set_index("run").loc[runs, "epoch_ratio"]
    for position, (value, end) in enumerate(zip(ratios, right, strict=True)):
        ax.annotate(f"now/then {value:.1f}x", (end, position), xytext=(8, 0), textcoords="offset points", va="center")
    ax.set_xscale("log")
    ax.set_xlim(right=6 * right.max())
    ax.set_yticks(range(len(runs)), runs)
    ax.invert_yaxis()
    ax.set_xlabel("steady-state time per epoch, ms (median; whiskers: IQR; log scale)")
    ax.set_title("The article's runs on 2020 frameworks (then) and today's (now): same code, data and start, CPU")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    save(fig, path)
