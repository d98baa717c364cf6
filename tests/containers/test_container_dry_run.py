"""A dry run with --use-singularity: every job gets the image the config names for it.

Runs in the normal test suite: no apptainer is needed. Snakemake only asks `apptainer --version`
before a dry run, so a stand-in that answers that (and fails on anything else) is put on PATH, unless
.ci/containers.sh runs this with the real apptainer and the images it built.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, TINY, snakemake

HERE = Path(__file__).resolve().parent
# Set by .ci/containers.sh: a config file whose `containers:` names the .sif images it built.
CI_CONFIG = os.environ.get("TALE_OF_TWO_CONTAINERS_CONFIG")


@pytest.fixture(scope="module")
def apptainer_on_path(tmp_path_factory):
    """PATH with a working `apptainer`: the real one under .ci/containers.sh, else a stand-in."""
    if CI_CONFIG:
        return os.environ["PATH"]
    shim = tmp_path_factory.mktemp("apptainer-shim")
    (shim / "apptainer").write_text(
        "#!/bin/sh\n"
        '[ "$1" = --version ] && { echo "apptainer version 1.4.5"; exit 0; }\n'
        'echo "stand-in apptainer of the dry-run test: only --version is answered" >&2\n'
        "exit 99\n"
    )
    (shim / "apptainer").chmod(0o755)
    return f"{shim}{os.pathsep}{os.environ['PATH']}"


def merged_config(*configfiles: Path) -> dict:
    """config/config.yaml with the given files merged over it, key by key, as Snakemake does."""

    def merge(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for path in configfiles:
        merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


CASES = [pytest.param([TINY], id="default-images")]
if CI_CONFIG:
    CASES.append(pytest.param([TINY, Path(CI_CONFIG)], id="ci-built-images"))


@pytest.mark.parametrize("configfiles", CASES)
def test_every_job_gets_its_configured_image(configfiles, apptainer_on_path):
    done = subprocess.run(
        [sys.executable, str(HERE / "_dag_images.py"), *map(str, configfiles)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": apptainer_on_path},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    jobs = json.loads(done.stdout.strip().splitlines()[-1])
    containers = merged_config(*configfiles)["containers"]
    train = [job for job in jobs if job["rule"] == "train"]
    assert {job["wildcards"]["framework"] for job in train} >= {"torch", "tensorflow"}
    for job in train:
        assert job["image"] == containers.get(job["wildcards"]["framework"]), job
    for framework in ("torch", "tensorflow"):
        assert containers[framework], f"containers.{framework} is empty: its training jobs would run on the host"
    for job in jobs:
        if job["rule"] in ("dataset", "summarize", "plot"):
            assert job["image"] == containers.get("analysis"), job


def test_cli_dry_run_with_containers_names_each_image(apptainer_on_path, tmp_path):
    """The command users type, dry: it accepts the container setup and announces each image."""
    done = snakemake(
        tmp_path,
        "--configfile",
        TINY,
        "--use-singularity",
        "--cores",
        "2",
        "-n",
        timeout=300,
        env={**os.environ, "PATH": apptainer_on_path},
    )
    output = done.output
    for framework in ("torch", "tensorflow"):
        image = merged_config(TINY)["containers"][framework]
        assert f"Singularity image {image} will be pulled." in output


def test_default_images_are_the_pinned_definitions():
    """config/config.yaml's docker:// images are the ones containers/*.def build on."""
    containers = merged_config()["containers"]
    for framework in ("torch", "tensorflow"):
        definition = (ROOT / f"containers/{framework}.def").read_text()
        bootstrap = re.search(r"^Bootstrap:\s*(\S+)", definition, re.M).group(1)
        source = re.search(r"^From:\s*(\S+)", definition, re.M).group(1)
        assert bootstrap == "docker"
        assert containers[framework] == f"docker://{source}"
