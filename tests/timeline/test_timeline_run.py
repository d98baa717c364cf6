"""`snakemake timeline` for real on the tiny config, over a reduced timeline: 2020, one release between, today.

The era between (tf2.6-torch1.10: TensorFlow 2.6, torch 1.10, Python 3.8) is built by the pipeline itself, on
demand, as a user's first `snakemake timeline` builds every era. Only .ci/timeline.sh runs this (it sets
TALE_OF_TWO_TIMELINE=1 once .venv-then is there); without it every test here is skipped, with that reason.
"""

import json
import os

import pandas as pd
import pytest
from conftest import ROOT, TINY, snakemake

from tale_of_two.analysis import then_vs_now

ERAS = ["then", "tf2.6-torch1.10", "now"]
RUNS = ["torch/scratch", "torch/layers", "tensorflow/scratch", "tensorflow/layers", "tensorflow/fit"]
VERSIONS = {  # era: (Python, TensorFlow, Keras, torch)
    "then": ("3.8.", "2.3.4", "2.4.0", "1.7.1"),
    "tf2.6-torch1.10": ("3.8.", "2.6.5", "2.6.0", "1.10.2"),
    "now": ("3.11.", "2.21.0", "3.15.1", "2.13.0"),
}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("TALE_OF_TWO_TIMELINE"),
        reason="needs the eras' environments (GBs from PyPI): run .ci/timeline.sh (sets TALE_OF_TWO_TIMELINE=1)",
    ),
]


def run_timeline(workdir, *args):
    reduced = ("--configfile", TINY, "--config", f"eras={{timeline: [{', '.join(ERAS)}]}}")
    return snakemake(workdir, *args, *reduced, timeout=2400, timing_slots=None).output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("timeline")
    run_timeline(workdir, "--cores", "2", "timeline")
    return workdir


def test_every_run_trains_in_every_era_on_that_era_s_own_versions(workdir):
    table = pd.read_csv(workdir / "results/timeline.csv", dtype=str, keep_default_na=False)
    assert list(table["run"] + " " + table["era"]) == [f"{run} {era}" for run in RUNS for era in ERAS]
    for row in table.itertuples():
        python, tensorflow, keras, torch = VERSIONS[row.era]
        assert row.python.startswith(python), row
        if row.run.startswith("tensorflow/"):
            assert (row.framework_version, row.keras_version) == (tensorflow, keras), row
        else:
            assert row.framework_version.split("+")[0] == torch, row


def test_every_release_s_losses_agree_with_today_s_epoch_by_epoch(workdir):
    table = pd.read_csv(workdir / "results/timeline.csv")
    assert (table["max_rel_loss_diff"] <= then_vs_now.AGREE_RTOL).all(), table[["run", "era", "max_rel_loss_diff"]]
    assert table["agree"].all()


def test_the_era_between_was_built_on_demand_with_its_record(workdir):
    record = json.loads((ROOT / ".venv-tf2.6-torch1.10/era.json").read_text())
    assert record["installed"]["tensorflow-cpu"] == "2.6.5" and record["installed"]["torch"].startswith("1.10.2")
    assert record["installed"]["python"].startswith("3.8.") and record["size_bytes"] > 1e9
    assert (workdir / "logs/eras/tf2.6-torch1.10/environment.log").is_file()


def test_each_run_s_biggest_step_comes_with_both_profiles_and_the_page_and_plot(workdir):
    page = (workdir / "results/timeline.md").read_text()
    steps = page.split("## Where each run's epoch time changed most")[1]
    for run in RUNS:
        assert f"## {run}: " in steps, run
    for era in ERAS:
        for run in RUNS:
            profile = json.loads((workdir / f"results/eras/{era}/profiles/{run}.json").read_text())
            assert profile["epoch_s"] and sum(profile["groups"].values()) > 0, (era, run)
    assert (workdir / "results/plots/timeline.png").stat().st_size > 50_000
    assert "<h2>Environments</h2>" in (workdir / "results/timeline.html").read_text()


def test_a_second_run_reuses_everything(workdir):
    assert "Nothing to be done" in run_timeline(workdir, "--cores", "2", "-n", "timeline")
