"""The tiny config through `snakemake --use-singularity` for real, against a local run of the same config.

Needs apptainer and built images, so only .ci/containers.sh runs it: it sets
TALE_OF_TWO_CONTAINERS_CONFIG (a config file whose `containers:` names the .sif images it built) and
TALE_OF_TWO_APPTAINER_ARGS (`-u` for user-namespace mode, `--bind` of this repository). Without them
every test here is skipped, with that reason.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY, snakemake

CI_CONFIG = os.environ.get("TALE_OF_TWO_CONTAINERS_CONFIG")
APPTAINER_ARGS = os.environ.get("TALE_OF_TWO_APPTAINER_ARGS", "")
RTOL = 1e-5

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CI_CONFIG,
        reason="needs apptainer and built images: run .ci/containers.sh (sets TALE_OF_TWO_CONTAINERS_CONFIG)",
    ),
]


def run_here(workdir: Path, *args: str) -> str:
    """`snakemake` in `workdir`, its output. Jobs without an image (e.g. numpy) run `python` from PATH on the
    host: this environment's goes first, as an activated virtualenv would (workflow/rules/common.smk only
    does it without --use-singularity). Apptainer does not pass PATH into containers: there `python` is the
    image's. The slots are the default profile's, as users run it."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return snakemake(workdir, *args, timeout=1200, env=env, timing_slots=None).output


@pytest.fixture(scope="module")
def images() -> dict:
    return {key: value for key, value in yaml.safe_load(Path(CI_CONFIG).read_text())["containers"].items() if value}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, images):
    assert shutil.which("apptainer"), "apptainer is not on PATH"
    for framework in ("torch", "tensorflow"):
        assert Path(images[framework]).is_file(), f"image of {framework} missing: {images.get(framework)}"
    local = tmp_path_factory.mktemp("local")
    run_here(local, "--configfile", str(TINY), "--cores", "2")
    container = tmp_path_factory.mktemp("container")
    output = run_here(
        container,
        "--configfile",
        str(TINY),
        CI_CONFIG,
        "--cores",
        "2",
        "--use-singularity",
        f"--apptainer-args={APPTAINER_ARGS}",  # with `=`: the value starts with a dash
    )
    return local, container, output


def results(workdir: Path) -> dict:
    return {
        str(path.relative_to(workdir / "results/runs").with_suffix("")): json.loads(path.read_text())
        for path in sorted((workdir / "results/runs").glob("*/*.json"))
    }


def test_training_jobs_ran_in_their_images(runs, images):
    _, container, output = runs
    found = results(container)
    assert {run.split("/")[0] for run in found} >= {"torch", "tensorflow"}
    for run, result in found.items():
        framework = run.split("/")[0]
        recorded = result["environment"]["container"]
        if framework in images:
            assert recorded["apptainer"] is True, (run, recorded)  # /.singularity.d was there
            assert os.path.realpath(recorded["image"]) == os.path.realpath(images[framework]), (run, recorded)
            assert f"Activating singularity image {images[framework]}" in output
        else:  # no image configured: it ran in Snakemake's environment
            assert recorded == {"apptainer": False, "image": None}, (run, recorded)


def test_containerised_results_equal_the_local_run(runs):
    local, container, _ = runs
    expected, found = results(local), results(container)
    assert sorted(found) == sorted(expected)
    for run, result in found.items():
        reference = expected[run]
        assert result["status"] == reference["status"], run
        assert result["framework_version"] == reference["framework_version"], run
        assert result["dataset"]["sha256"] == reference["dataset"]["sha256"], run
        # An MLP fits no line: its w, b are null (-> nan, compared as equal), its loss history says the rest
        np.testing.assert_allclose(
            np.array([result["fitted"]["w"], result["fitted"]["b"]], dtype=float),
            np.array([reference["fitted"]["w"], reference["fitted"]["b"]], dtype=float),
            rtol=RTOL,
            err_msg=f"{run}: fitted w, b",
        )
        history = np.array(result["loss_history"], dtype=float)  # null (diverged) -> nan, compared as equal
        reference_history = np.array(reference["loss_history"], dtype=float)
        np.testing.assert_allclose(history, reference_history, rtol=RTOL, err_msg=f"{run}: loss history")


def test_the_whole_pipeline_finished_in_container_mode(runs):
    _, container, _ = runs
    for name in ("summary.csv", "summary.md", "plots/fits.png", "plots/losses.png", "plots/timings.png"):
        assert (container / "results" / name).is_file(), name


@pytest.mark.parametrize("framework, module", [("torch", "torch"), ("tensorflow", "tensorflow")])
def test_the_image_python_imports_its_own_framework(images, framework, module):
    """What `python` is inside each image, with the pipeline's apptainer args: the image's, with its framework."""
    done = subprocess.run(
        [
            "apptainer",
            "exec",
            *shlex.split(APPTAINER_ARGS),
            images[framework],
            "python",
            "-c",
            f"import sys, {module}; print(sys.executable, sys.prefix, {module}.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    executable, prefix, module_file = done.stdout.split()[-3:]
    assert prefix == "/usr" and executable.startswith("/usr/bin/python"), done.stdout
    assert module_file.startswith("/usr/local/lib/python3.11/dist-packages/"), module_file
