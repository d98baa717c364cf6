"""`snakemake then_vs_now` for real on the tiny config: the 2020 environment beside today's.

Needs .venv-then (`./setup.sh --then`, Python 3.8), so only .ci/then.sh runs it: it sets
TALE_OF_TWO_THEN_PYTHON to that interpreter. Without it every test here is skipped, with that reason.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, TINY, snakemake

from tale_of_two.analysis import then_vs_now

THEN_PYTHON = os.environ.get("TALE_OF_TWO_THEN_PYTHON")
RUNS = ["torch/scratch", "torch/layers", "tensorflow/scratch", "tensorflow/layers", "tensorflow/fit"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not THEN_PYTHON,
        reason="needs the 2020 environment: run .ci/then.sh (sets TALE_OF_TWO_THEN_PYTHON)",
    ),
]


def run_then(workdir: Path, *args: str) -> str:
    """`snakemake` in `workdir` on the tiny config with the 2020 interpreter, its output."""
    # Last: --config takes every word after it, up to the next option.
    then = ("--configfile", TINY, "--config", f"eras={{environments: {{then: {{python: {THEN_PYTHON}}}}}}}")
    return snakemake(workdir, *args, *then, timeout=1800, timing_slots=None).output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("then")
    run_then(workdir, "--cores", "2", "then_vs_now")
    return workdir


def test_both_eras_ran_on_their_own_versions(workdir):
    table = pd.read_csv(workdir / "results/then_vs_now.csv", keep_default_na=False)
    assert list(table["run"] + " " + table["era"]) == [f"{run} {era}" for run in RUNS for era in ("then", "now")]
    then, now = table[table["era"] == "then"], table[table["era"] == "now"]
    assert then["python"].str.startswith("3.8.").all() and now["python"].str.startswith("3.11.").all()
    tensorflow = table["run"].str.startswith("tensorflow/")
    assert set(then.loc[tensorflow, "framework_version"]) == {"2.3.4"} and set(
        then.loc[tensorflow, "keras_version"]
    ) == {"2.4.0"}
    assert set(then.loc[~tensorflow, "framework_version"]) == {"1.7.1"}
    assert set(now.loc[tensorflow, "framework_version"]) == {"2.21.0"} and set(
        now.loc[tensorflow, "keras_version"]
    ) == {"3.15.1"}
    assert set(now.loc[~tensorflow, "framework_version"]) == {"2.13.0+cpu"}
    assert (table["status"] == "ok").all() and (table["epoch_s"] > 0).all()


def test_the_eras_agree_within_float32_tolerance(workdir):
    """Same code, same data, same start: the maths is the same, so the losses must be, to AGREE_RTOL."""
    table = pd.read_csv(workdir / "results/then_vs_now.csv")
    assert table["same_start"].all()
    assert table["max_rel_loss_diff"].max() <= then_vs_now.AGREE_RTOL, table[["run", "max_rel_loss_diff"]]
    assert table["agree"].all()


def test_each_2020_result_says_what_its_version_lacked(workdir):
    schema = json.loads((ROOT / "workflow/schemas/result.schema.json").read_text())
    for run in RUNS:
        then = json.loads((workdir / f"results/eras/then/runs/{run}.json").read_text())
        now = json.loads((workdir / f"results/eras/now/runs/{run}.json").read_text())
        jsonschema.validate(then, schema)
        jsonschema.validate(now, schema)
        lacked = " ".join(then["notes"])
        if run.startswith("torch/"):
            assert "torch.use_deterministic_algorithms" in lacked
        else:
            assert "enable_op_determinism" in lacked and "set_random_seed" in lacked
        assert now["notes"] == [] and then["settings"] == now["settings"]
        assert then["era"]["versions"]["python"].startswith("3.8.") and now["era"]["name"] == "now"


def rerun_idioms(workdir: Path, python: str, era: str, tmp_path: Path) -> dict:
    output = tmp_path / f"{era}.json"
    command = [python, str(ROOT / "workflow/scripts/idioms.py"), "--era", era, "--output", str(output)]
    command += ["--dataset", str(workdir / "results/data/dataset.npz")]
    command += ["--metadata", str(workdir / "results/data/dataset.json")]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return json.loads(output.read_text())


@pytest.mark.parametrize("era", ["then", "now"])
def test_every_idiom_outcome_came_from_running_it(workdir, era, tmp_path):
    """The record is consistent with a run (outcome from error and warnings, evidence of training), was
    written by that era's interpreter, and running the idioms again there gives the same outcomes."""
    record = json.loads((workdir / f"results/then_vs_now/idioms/{era}.json").read_text())
    then_vs_now.check_idiom_record(record, era)
    again = rerun_idioms(workdir, THEN_PYTHON if era == "then" else sys.executable, era, tmp_path)
    assert again["versions"] == record["versions"]
    fields = ("idiom", "code", "outcome", "error", "warnings")
    assert [{k: row[k] for k in fields} for row in again["idioms"]] == [
        {k: row[k] for k in fields} for row in record["idioms"]
    ]


def test_the_raw_variable_keras_model_trains_on_keras_2_and_fails_on_keras_3(workdir):
    rows = {}
    for era in ("then", "now"):
        record = json.loads((workdir / f"results/then_vs_now/idioms/{era}.json").read_text())
        rows[era] = next(r for r in record["idioms"] if r["function"] == "keras_model_raw_variables")
    assert rows["then"]["outcome"] == "works" and rows["then"]["evidence"]["trainable_variables"] == 2
    assert rows["now"]["outcome"] == "fails"
    assert rows["now"]["error"] == "ValueError: not enough values to unpack (expected 2, got 0)"
    page = (workdir / "results/then_vs_now.md").read_text()
    assert "fails: ValueError: not enough values to unpack (expected 2, got 0)" in page


def test_page_figure_and_report(workdir):
    page = (workdir / "results/then_vs_now.md").read_text()
    for heading in ("# Then and now", "## Do the eras agree?", "## 2020 idioms, run in both eras"):
        assert heading in page
    assert (workdir / "results/plots/then_vs_now.png").stat().st_size > 10_000
    run_then(workdir, "then_vs_now", "--report", "results/report.html")
    report = (workdir / "results/report.html").read_text()
    assert "Then and now" in report and "results/then_vs_now.html" in report


def test_the_pages_then_and_now_sections_have_the_form_their_generators_give_on_this_run(workdir):
    """The pages show the default config's run, not this tiny one; their form must still be what
    tools/doc_tables.py writes today, so a changed generator fails here until the pages are regenerated."""
    sys.path.insert(0, str(ROOT / "tools"))
    import doc_tables

    found = set()
    for path in doc_tables.pages():
        for section in doc_tables.sections(path.read_text(), str(path)):
            if doc_tables.RUN_OF[section.name] == doc_tables.THEN_COMMAND:
                generated = doc_tables.GENERATORS[section.name](workdir)
                assert doc_tables.skeleton(section.body) == doc_tables.skeleton(generated), path
                found.add(section.name)
    assert found == {"then_vs_now", "idioms"}


FIT_WITH_MINI_BATCHES = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
arrays = np.load(sys.argv[1])
settings = dict(init="uniform", lr=0.005, epochs=40, batch_size=16)
settings = harness.Settings(device="cpu", repeats=1, warmup_epochs=1, **settings)
print(json.dumps(harness.measure("tensorflow", "fit", arrays["x"], arrays["y"], settings)["loss_history"]))
"""


def test_2020_keras_fit_takes_the_mini_batches_in_order_too(tmp_path):
    """`fit(shuffle=False)` in both eras: with batches of 16 of 64 points, TensorFlow 2.3's Keras 2.4 follows today's
    Keras 3 (which test_more_frameworks checks against the batches taken in order by hand) at every epoch.
    Measured: the same losses to the last digit; with Keras's default shuffle in both eras, 1.1e-1 apart."""
    from tale_of_two.fit import data

    arrays = data.generate(data.DatasetSpec(n=64, seed=7))
    np.savez(tmp_path / "d.npz", **arrays)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow/lib"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    histories = {}
    for era, python in (("then", THEN_PYTHON), ("now", sys.executable)):
        command = [python, "-c", FIT_WITH_MINI_BATCHES, str(tmp_path / "d.npz")]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        histories[era] = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(histories["then"], histories["now"], rtol=1e-5)
