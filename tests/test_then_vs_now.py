"""Then and now: the config's `eras:` runs, and the comparison of two eras' results, on hand-made inputs."""

import copy
import math
import re

import pytest
import yaml
from conftest import ROOT, make_result

from tale_of_two.analysis import then_vs_now
from tale_of_two.config import EraConfigError, resolve_era_runs, resolve_runs
from tale_of_two.eras import interpreter, missing_interpreter_message

DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())
SHA = "0" * 64


def era_result(framework, variant, era, losses, *, w=0.1, b=0.3, epoch_s=0.001, import_s=1.0, setup_s=0.01, **kw):
    result = make_result(framework, variant, w, b, SHA, epochs=len(losses), epoch_s=epoch_s, **kw)
    result["loss_history"], result["final_loss"] = list(losses), losses[-1]
    result["timings"].update(import_s=import_s, setup_s=setup_s)
    versions = {"python": "3.8.18" if era == "then" else "3.11.7", "numpy": "1"}
    if framework == "tensorflow":
        versions.update(tensorflow="2.3.4" if era == "then" else "2.21.0", keras="2.4.0" if era == "then" else "3.15.1")
    result["notes"] = ["torch < 1.8 has no torch.use_deterministic_algorithms: used torch.set_deterministic(True)"] * (
        era == "then"
    )
    result["era"] = {"name": era, "versions": versions}
    return result


# --- config ------------------------------------------------------------------------------------------------


def test_default_era_runs_are_the_article_s_five_runs_from_the_shared_start():
    runs = resolve_runs(DEFAULT)
    then = resolve_era_runs(DEFAULT, runs)
    assert list(then) == [
        ("torch", "scratch"),
        ("torch", "layers"),
        ("tensorflow", "scratch"),
        ("tensorflow", "layers"),
        ("tensorflow", "fit"),
    ]
    # Each keeps its run's settings (1500 epochs for layers) but starts from the shared draw, on the CPU.
    assert then[("torch", "layers")] == {**runs[("torch", "layers")], "init": "uniform", "device": "cpu"}
    assert all(settings["init"] == "uniform" and settings["device"] == "cpu" for settings in then.values())


def test_an_era_run_missing_from_runs_is_named():
    config = copy.deepcopy(DEFAULT)
    config["eras"]["runs"] = ["torch/scratch", "jax/fit"]
    with pytest.raises(EraConfigError, match=r"eras.runs\[1\]: 'jax/fit' is not a run of `runs:`"):
        resolve_era_runs(config, resolve_runs(config))


def test_era_training_that_leaves_no_epoch_to_time_is_named():
    config = copy.deepcopy(DEFAULT)
    config["eras"]["training"] = {"epochs": 3}
    with pytest.raises(EraConfigError, match=r"eras.runs\[0\] \(torch/scratch\): warmup_epochs \(5\)"):
        resolve_era_runs(config, resolve_runs(config))


def test_no_eras_section_means_no_era_runs():
    config = {key: value for key, value in DEFAULT.items() if key != "eras"}
    assert resolve_era_runs(config, resolve_runs(config)) == {}


def test_interpreter_paths_are_from_the_repository_and_commands_from_path():
    assert interpreter(".venv-then/bin/python", "/repo") == "/repo/.venv-then/bin/python"
    assert interpreter("/opt/py38/bin/python", "/repo") == "/opt/py38/bin/python"
    assert interpreter("python", "/repo") == "python"
    message = missing_interpreter_message("then", "/repo/py38/bin/python")
    assert message.startswith("eras.environments.then.python: /repo/py38/bin/python does not exist")
    assert "builds .venv-then itself" in message


# --- comparing eras ------------------------------------------------------------------------------------------


def test_max_relative_difference():
    assert then_vs_now.max_relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert then_vs_now.max_relative_difference([1.0, 2.2], [1.0, 2.0]) == pytest.approx(0.1)
    assert then_vs_now.max_relative_difference([1.0], [1.0, 2.0]) == math.inf
    assert math.isnan(then_vs_now.max_relative_difference([1.0, None], [1.0, 2.0]))


def test_eras_agree_only_from_the_same_start_and_within_the_tolerance():
    then = era_result("torch", "scratch", "then", [1.0, 0.5], epoch_s=0.002, import_s=2.0, setup_s=0.01)
    now = era_result("torch", "scratch", "now", [1.0, 0.5 * (1 + 5e-7)], epoch_s=0.003, import_s=5.0, setup_s=0.04)
    compared = then_vs_now.compare(then, now, rtol=1e-6)
    assert compared["same_start"] and compared["agree"]
    assert compared["max_rel_loss_diff"] == pytest.approx(5e-7, rel=1e-3)
    assert compared["epoch_ratio"] == pytest.approx(1.5) and compared["import_ratio"] == pytest.approx(2.5)
    assert compared["setup_ratio"] == pytest.approx(4.0)
    assert not then_vs_now.compare(then, now, rtol=1e-7)["agree"]
    # The framework's own initialiser starts each era elsewhere: never "the same start".
    then["settings"]["init"] = now["settings"]["init"] = "framework"
    assert not then_vs_now.compare(then, now)["same_start"] and not then_vs_now.compare(then, now)["agree"]
    then["settings"]["init"] = now["settings"]["init"] = "uniform"
    now["settings"]["lr"] = 0.5
    assert not then_vs_now.compare(then, now)["agree"]


def test_table_has_one_row_per_run_and_era_with_the_comparison_on_both():
    results = [
        era_result("torch", "scratch", "now", [1.0, 0.5], epoch_s=0.004),
        era_result("torch", "scratch", "then", [1.0, 0.5], epoch_s=0.001),
        era_result("tensorflow", "fit", "then", [2.0, 1.0], loss_name="mae"),
        era_result("tensorflow", "fit", "now", [2.0, 1.0 + 1e-3], loss_name="mae"),
    ]
    frame = then_vs_now.table(results)
    assert list(frame["run"] + " " + frame["era"]) == [
        "torch/scratch then",
        "torch/scratch now",
        "tensorflow/fit then",
        "tensorflow/fit now",
    ]
    assert list(frame["agree"]) == [True, True, False, False]
    assert list(frame["epoch_ratio"][:2]) == [pytest.approx(4.0)] * 2
    assert list(frame["keras_version"]) == ["", "", "2.4.0", "3.15.1"]
    assert (
        frame.loc[0, "notes"].startswith("torch < 1.8 has no torch.use_deterministic") and frame.loc[1, "notes"] == ""
    )


def test_a_run_without_both_eras_or_with_one_twice_is_named():
    then = era_result("torch", "scratch", "then", [1.0, 0.5])
    with pytest.raises(ValueError, match="torch/scratch: no result for era 'now'"):
        then_vs_now.table([then])
    with pytest.raises(ValueError, match="torch/scratch: two results for era 'then'"):
        then_vs_now.table([then, copy.deepcopy(then)])


# --- idioms -------------------------------------------------------------------------------------------------


def idiom_row(idiom, code, outcome, *, error=None, warnings=(), evidence=None):
    if evidence is None and outcome != "fails":
        evidence = {"first_loss": 2.0, "last_loss": 1.0}
    return {
        "idiom": idiom,
        "framework": "tensorflow",
        "code": code,
        "source": f"`{idiom} {code}`",
        "function": f"{idiom}_{code}",
        "outcome": outcome,
        "warnings": list(warnings),
        "error": error,
        "evidence": evidence,
    }


def idiom_records():
    then = {
        "era": "then",
        "versions": {"python": "3.8.18", "tensorflow": "2.3.4", "keras": "2.4.0", "torch": "1.7.1"},
        "idioms": [idiom_row("raw", "then", "works"), idiom_row("raw", "today", "works")],
    }
    now = {
        "era": "now",
        "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1", "torch": "2.13.0"},
        "idioms": [
            idiom_row("raw", "then", "fails", error="ValueError: not enough values | to unpack"),
            idiom_row("raw", "today", "warns", warnings=["UserWarning: careful"]),
        ],
    }
    return then, now


def test_idioms_table_quotes_each_outcome_in_each_era():
    then, now = idiom_records()
    table = then_vs_now.idioms_table(then, now)
    assert table.to_dict("records") == [
        {
            "idiom": "raw",
            "framework": "tensorflow",
            "2020 code": "`raw then`",
            "2020 code, then": "works",
            "2020 code, now": "fails: ValueError: not enough values | to unpack",
            "today's code": "`raw today`",
            "today's code, then": "works",
            "today's code, now": "works, warns: UserWarning: careful",
        }
    ]
    # A "|" inside a quoted message must not split the markdown cell.
    assert "values \\| to unpack" in then_vs_now.as_markdown(table)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "works"}, "does not follow from its error and warnings"),
        ({"evidence": {"first_loss": 2.0, "last_loss": 1.0}}, "must not carry evidence"),
        ({"error": None, "outcome": "works", "evidence": {"first_loss": 1.0, "last_loss": 1.5}}, "shows no training"),
    ],
)
def test_an_idiom_outcome_that_did_not_come_from_its_run_is_refused(change, message):
    then, now = idiom_records()
    now["idioms"][0].update(change)
    with pytest.raises(ValueError, match=message):
        then_vs_now.idioms_table(then, now)


def test_an_idiom_record_of_the_wrong_era_is_refused():
    then, now = idiom_records()
    with pytest.raises(ValueError, match="idioms record of era 'now' where 'then' was expected"):
        then_vs_now.idioms_table(now, then)


def test_page_and_figure(tmp_path):
    results = [
        era_result("torch", "scratch", "then", [1.0, 0.5], epoch_s=0.001),
        era_result("torch", "scratch", "now", [1.0, 0.5], epoch_s=0.002),
        era_result("tensorflow", "fit", "then", [2.0, 1.0], loss_name="mae", epoch_s=0.002),
        era_result("tensorflow", "fit", "now", [2.0, 1.0], loss_name="mae", epoch_s=0.1),
    ]
    frame = then_vs_now.table(results)
    then, now = idiom_records()
    parts = then_vs_now.sections(frame, then_vs_now.idioms_table(then, now), then, now)
    page = then_vs_now.to_markdown(parts)
    assert page.startswith("# Then and now\n")
    assert "TensorFlow 2.3.4 (Keras 2.4.0), torch 1.7.1" in page and "TensorFlow 2.21.0 (Keras 3.15.1)" in page
    assert "largest relative difference 0.0e+00; 2 of 2 runs agree" in page
    # The comparison row: same start, and today's epoch 50 times the 2020 one.
    assert re.search(r"\| tensorflow/fit +\| yes +\|.*\| 50\.00x \(no interval: under 3 repeats\) +\|\n", page)
    html = then_vs_now.to_html(parts)
    assert html.count("<table") == 3 and "&#x27;" in html  # quotes escaped in the intro
    then_vs_now.plot_epoch_times(frame, tmp_path / "then_vs_now.png")
    assert (tmp_path / "then_vs_now.png").stat().st_size > 10_000


# --- the 2020 environment's pins ----------------------------------------------------------------------------


def test_the_2020_environment_has_the_same_pins_everywhere():
    lines = (ROOT / "requirements-then.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^=\s]+", pin) for pin in pins), pins  # every package pinned
    for pin in ("tensorflow-cpu==2.3.4", "torch==1.7.1", "protobuf==3.20.3", "numpy==1.18.5"):
        assert pin in pins
    conda = yaml.safe_load((ROOT / "envs/then.yaml").read_text())["dependencies"]
    assert "python=3.8" in conda and next(d["pip"] for d in conda if isinstance(d, dict)) == pins
    assert "pip install -r /opt/build/requirements-then.txt" in (ROOT / "containers/then.def").read_text()
    assert "From: python:3.8" in (ROOT / "containers/then.def").read_text()
