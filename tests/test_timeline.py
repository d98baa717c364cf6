"""The release timeline: eras as data, their environments, and the timeline's table and steps on hand-made inputs."""

import copy
import datetime
import math

import pytest
from conftest import ROOT, TINY_ARGS, snakemake
from test_then_vs_now import era_result

from tale_of_two import eras as era_environments
from tale_of_two.analysis import timeline
from tale_of_two.config import Era, pinned_frameworks

ERAS = ["then", "mid", "now"]


def result(framework, variant, era, version, losses=(1.0, 0.5), **kw):
    made = era_result(framework, variant, "then" if era == "then" else "now", list(losses), **kw)
    made["era"]["name"], made["framework_version"] = era, version
    return made


def profile(epoch_s, **groups):
    names = ("variant code", "framework Python/dispatch", "kernels (native)", "data pipeline", "harness", "other")
    return {
        "epoch_s": [epoch_s] * 3,
        "groups": {name: groups.get(name.split()[0], 0.0) for name in names},
        "top_cumulative": [["fit.py:1 train", epoch_s, 1.0]],
    }


@pytest.fixture
def results():
    return [
        result("torch", "scratch", "then", "1.7.1", epoch_s=0.002),
        result("torch", "scratch", "mid", "1.10.2", epoch_s=0.001),  # a speed-up is a step too
        result("torch", "scratch", "now", "2.13.0+cpu", epoch_s=0.0011),
        result("tensorflow", "fit", "then", "2.3.4", [2.0, 1.0 + 8e-7], epoch_s=0.001, loss_name="mae"),
        result("tensorflow", "fit", "mid", "2.16.2", [2.0, 1.0 + 2e-6], epoch_s=0.02, loss_name="mae"),
        result("tensorflow", "fit", "now", "2.21.0", [2.0, 1.0], epoch_s=0.022, loss_name="mae"),
    ]


def test_the_table_follows_each_run_through_the_timeline_against_its_previous_release_and_today(results):
    environments = {"then": {"size_bytes": 2.33e9}, "mid": {"size_bytes": 6.5e9}}
    frame = timeline.table(list(reversed(results)), ERAS, environments)
    assert list(frame["run"] + " " + frame["era"]) == [
        f"{run} {era}" for run in ("tensorflow/fit", "torch/scratch") for era in ERAS
    ]
    by = frame.set_index(["run", "era"])
    assert by.loc[("torch/scratch", "mid"), "epoch_vs_previous"] == pytest.approx(0.5)
    assert by.loc[("tensorflow/fit", "mid"), "epoch_vs_previous"] == pytest.approx(20.0)
    assert math.isnan(by.loc[("torch/scratch", "then"), "epoch_vs_previous"])
    assert by.loc[("tensorflow/fit", "mid"), "previous_release"] == "2.3"
    # Losses against the last era's (today's): 8e-7 apart agrees, 2e-6 (past AGREE_RTOL's 1e-6) does not.
    assert list(by.loc["tensorflow/fit", "agree"]) == [True, False, True]
    assert set(by["reference_era"]) == {"now"}
    assert by.loc[("tensorflow/fit", "then"), "max_rel_loss_diff"] == pytest.approx(8e-7, rel=1e-3)
    assert by.loc[("tensorflow/fit", "mid"), "max_rel_loss_diff"] == pytest.approx(2e-6, rel=1e-3)
    assert by.loc[("torch/scratch", "mid"), "released"] == datetime.date(2021, 10, 21)
    assert by.loc[("torch/scratch", "now"), "release"] == "2.13"
    assert by.loc[("torch/scratch", "mid"), "environment_gb"] == pytest.approx(6.5)
    assert math.isnan(by.loc[("torch/scratch", "now"), "environment_gb"])


def test_a_run_the_era_does_not_pin_is_skipped_and_its_previous_release_is_the_one_before(results):
    without_mid = [r for r in results if not (r["framework"] == "torch" and r["era"]["name"] == "mid")]
    frame = timeline.table(without_mid, ERAS).set_index(["run", "era"])
    assert ("torch/scratch", "mid") not in frame.index
    assert frame.loc[("torch/scratch", "now"), "epoch_vs_previous"] == pytest.approx(0.55)
    assert frame.loc[("torch/scratch", "now"), "previous_era"] == "then"


def test_results_outside_the_timeline_or_twice_are_named(results):
    with pytest.raises(ValueError, match=r"torch/scratch: era 'mid' is not in the timeline \(then, now\)"):
        timeline.table(results, ["then", "now"])
    with pytest.raises(ValueError, match="torch/scratch: two results for era 'then'"):
        timeline.table([*results, copy.deepcopy(results[0])], ERAS)


def test_each_run_s_biggest_step_is_its_largest_change_either_way(results):
    steps = timeline.biggest_steps(timeline.table(results, ERAS)).set_index("run")
    assert steps.loc["tensorflow/fit", "era"] == "mid" and steps.loc["tensorflow/fit", "previous_era"] == "then"
    # 2x faster (0.5) outweighs 1.1x slower
    assert steps.loc["torch/scratch", "era"] == "mid"
    assert steps.loc["torch/scratch", "epoch_vs_previous"] == pytest.approx(0.5)


def test_a_step_is_confirmed_only_when_the_profiles_own_epochs_show_it():
    assert timeline.reproduces(18.0, 16.0) and timeline.reproduces(0.5, 0.6)
    assert not timeline.reproduces(2.24, 0.95)  # measured: a 2.2x step the profiles did not show
    assert not timeline.reproduces(1.5, 1.1) and not timeline.reproduces(2.0, 0.5)


def test_a_step_is_explained_by_the_groups_that_moved_most_in_the_profiles_either_side(results):
    steps = timeline.biggest_steps(timeline.table(results, ERAS)).set_index("run", drop=False)
    profiles = {
        ("then", "tensorflow/fit"): profile(0.0012, framework=0.0006, data=0.0004),
        ("mid", "tensorflow/fit"): profile(0.021, framework=0.0005, data=0.019),
    }
    sentence, groups, tops = timeline.explain(steps.loc["tensorflow/fit"], profiles)
    assert "from tensorflow 2.3 (then) to 2.16 (mid) the epoch went from 1.000 to 20.000 ms (20.00x" in sentence
    assert "1.200 to 21.000 ms: the same step" in sentence
    assert "moved most: data pipeline +18.600 ms; framework Python/dispatch -0.100 ms" in sentence
    assert groups.set_index("group").loc["data pipeline", "change, ms"] == "+18.600"
    assert list(tops.columns) == ["before (then): function, ms per epoch", "after (mid): function, ms per epoch"]
    profiles[("mid", "tensorflow/fit")] = profile(0.0011)
    assert (
        "they do not show this step, so it is not confirmed"
        in timeline.explain(steps.loc["tensorflow/fit"], profiles)[0]
    )


def test_the_page_and_the_plot_are_written(results, tmp_path):
    frame = timeline.table(results, ERAS, {"mid": {"size_bytes": 4e9}})
    profiles = {(era, run): profile(0.001) for run in ("torch/scratch", "tensorflow/fit") for era in ERAS}
    parts = timeline.sections(frame, profiles, ERAS)
    text = timeline.to_markdown(parts)
    assert text.startswith("# Release timeline") and "## tensorflow/fit: 2.3 to 2.16" in text
    assert "3 of 4 runs agree to rtol 1e-06" in text
    sizes = timeline.environments_shown(frame, ERAS).set_index("era")["environment on disk, GB"]
    assert list(sizes) == [
        "(not built by the pipeline: not measured)",
        "4.00",
        "(not built by the pipeline: not measured)",
    ]
    assert "<h2>Environments</h2>" in timeline.to_html(parts)
    timeline.plot(frame, ERAS, tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


# --- eras as data --------------------------------------------------------------------------------------------


def test_frameworks_are_read_from_freeze_and_lock_pins():
    assert pinned_frameworks("tensorflow-cpu==2.6.5\ntorch==1.10.2\nkeras==2.6.0\n") == {
        "tensorflow": "2.6.5",
        "torch": "1.10.2",
    }
    assert pinned_frameworks("torch==2.13.0 \\\n    --hash=sha256:00\ntensorflow==2.21.0 \\\n") == {
        "torch": "2.13.0",
        "tensorflow": "2.21.0",
    }
    assert pinned_frameworks("torch==2.13.0+cpu \\\n") == {"torch": "2.13.0"}  # the build label is not the release
    assert pinned_frameworks("torchvision==0.1\n# torch==1.0\n") == {}


def test_every_era_s_requirements_pin_every_package_and_one_release_per_framework():
    for path in [ROOT / "requirements-then.txt", *sorted((ROOT / "envs/eras").glob("*.txt"))]:
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
        assert lines and all("==" in line for line in lines), path
        assert pinned_frameworks(path.read_text()), path


def test_the_2020_interpreter_is_looked_for_where_we_say(monkeypatch):
    monkeypatch.setenv("PYTHON38", "/opt/py38/bin/python3.8")
    assert era_environments.candidates("3.8") == ["/opt/py38/bin/python3.8"]
    monkeypatch.setenv("PYTHON37", "/no/such/python3.7")
    with pytest.raises(
        era_environments.EraEnvironmentError, match=r"needs a Python 3\.7 \(tried: /no/such/python3\.7\)"
    ):
        era_environments.base_python("3.7")


def era(name="tf9.9", **kw):
    fields = dict(
        requirements="envs/eras/tf2.15.txt",
        python_version="3.11",
        python=None,
        conda=None,
        container=None,
        frameworks={"tensorflow": "2.15.1"},
    )
    return Era(name, **{**fields, **kw})


def test_an_era_with_its_own_interpreter_is_not_built(tmp_path):
    with pytest.raises(era_environments.EraEnvironmentError, match="its python is set"):
        era_environments.build(era(python="/usr/bin/python3"), tmp_path)


def test_too_little_disk_stops_a_build_before_it_makes_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(era_environments.shutil, "disk_usage", lambda _: type("U", (), {"free": 2 * 1024**3})())
    with pytest.raises(era_environments.EraEnvironmentError, match=r"2\.0 GB free under .* needs 8 GB"):
        era_environments.build(era(), tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_environment_of_another_python_is_named(tmp_path):
    (tmp_path / ".venv-tf9.9/bin").mkdir(parents=True)
    (tmp_path / ".venv-tf9.9/bin/python").symlink_to("/usr/bin/python3")
    with pytest.raises(era_environments.EraEnvironmentError, match=r"has Python 3\.\d+, era tf9\.9 needs 3\.1\b"):
        era_environments.build(era(python_version="3.1"), tmp_path)


def test_the_size_counts_each_hard_linked_file_once_and_follows_no_link(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    single = era_environments.size_on_disk(tmp_path)
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    assert era_environments.size_on_disk(tmp_path) == single >= 100_000
    link = tmp_path / "c"
    link.symlink_to(tmp_path / "a")
    # A link counts its own blocks (none when its target fits in the inode), never its target's.
    assert era_environments.size_on_disk(tmp_path) == single + link.lstat().st_blocks * 512 < 2 * single


@pytest.mark.e2e
def test_the_timeline_builds_a_missing_era_first_and_trains_each_run_where_its_framework_is_pinned(tmp_path):
    # An era no one has built: the pipeline builds its .venv before its jobs, which use that interpreter.
    python = tmp_path / "py38/bin/python"
    python.parent.mkdir(parents=True)
    python.touch()
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "eras:\n  timeline: [then, tf2.15-unbuilt, now]\n  environments:\n"
        f"    then: {{python: {python}}}\n"
        '    tf2.15-unbuilt: {python_version: "3.11", requirements: envs/eras/tf2.15.txt}\n'
    )
    done = snakemake(tmp_path, *TINY_ARGS, "--configfile", str(extra), "-n", "-p", "timeline")
    output = done.stdout + done.stderr
    counts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0].isidentifier() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    # 5 runs then and now, the 3 TensorFlow runs in the TensorFlow-only era; each trained and profiled.
    assert counts == {
        "dataset": 1,
        "era_environment": 1,
        "train_era": 13,
        "profile_era": 13,
        "timeline_table": 1,
        "timeline": 1,
    }
    built = ROOT / ".venv-tf2.15-unbuilt"
    assert f"--python-version 3.11 --requirements envs/eras/tf2.15.txt --output {built}/era.json" in output
    assert output.count(f"{built}/bin/python ") == 6
    assert "results/eras/tf2.15-unbuilt/runs/torch" not in output
