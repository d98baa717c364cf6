"""--no-skips (tests/conftest.py): in a CI stage a skipped test fails the run and is named."""

import os
import re
import subprocess
import sys

from conftest import ROOT


def pytest_on_tests_then(*options):
    # tests/then skips every test without TALE_OF_TWO_THEN_PYTHON (set only by .ci/then.sh).
    env = {key: value for key, value in os.environ.items() if key != "TALE_OF_TWO_THEN_PYTHON"}
    command = [sys.executable, "-m", "pytest", "tests/then", "-n", "0", "-p", "no:cacheprovider", *options]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_skipped_test_fails_the_run_with_no_skips_and_is_named():
    done = pytest_on_tests_then("--no-skips")
    assert done.returncode == 1, done.stdout + done.stderr
    skipped = int(re.search(r"(\d+) skipped in ", done.stdout).group(1))
    assert f"--no-skips: {skipped} test(s) skipped, which fails this run" in done.stdout, done.stdout
    assert "tests/then/test_then_run.py::test_" in done.stdout and "needs the 2020 environment" in done.stdout


def test_without_the_option_skips_pass():
    done = pytest_on_tests_then()
    assert done.returncode == 0 and "skipped" in done.stdout, done.stdout + done.stderr


def test_every_ci_stage_takes_the_preamble_from_lib_sh_and_runs_its_tests_with_no_skips():
    for stage in sorted((ROOT / ".ci").glob("*.sh")):
        if stage.name == "lib.sh":
            continue
        text = stage.read_text()
        assert 'source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"' in text, stage.name
        assert not re.search(r"^(say|die)\(\)", text, re.MULTILINE), f"{stage.name} defines say/die again"
        runs = re.findall(r"-m pytest (?:\\\n|[^\n])*", text)  # each pytest command, continuation lines too
        assert runs and all("--no-skips" in run for run in runs), (stage.name, runs)
        done = subprocess.run(["bash", "-n", str(stage)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
