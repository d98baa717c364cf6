"""Which container image each job would run in, with no container runtime installed.

`snakemake --use-singularity -n` refuses to start without `apptainer` on PATH. This makes the same DAG
without containers (Snakemake's dry run, in an empty temporary working directory, so every job is listed)
and reads the image each job's `container:` gives it; a job with none runs on the host. The last column
says whether `apptainer exec` would get `--nv` (the host's GPU driver) under profiles/gpu/config.yaml.

    .venv/bin/python tools/list_images.py                          # the default config, target `all`
    .venv/bin/python tools/list_images.py --configfile my.yaml bench
    .venv/bin/python tools/list_images.py --json                   # one JSON object per job
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GPU_SETTINGS = ROOT / "profiles/gpu/config.yaml"
HOST = "none: runs on the host"


def nv_under(settings_file: Path) -> bool:
    """Whether Snakemake settings (a `--workflow-profile` config.yaml) run jobs in their images with `--nv`."""
    settings = yaml.safe_load(settings_file.read_text()) or {}
    method = settings.get("software-deployment-method") or settings.get("sdm") or []
    methods = {method} if isinstance(method, str) else set(method)
    arguments = settings.get("apptainer-args") or settings.get("singularity-args") or ""
    uses_apptainer = bool(methods & {"apptainer", "singularity"}) or settings.get("use-singularity", False)
    return uses_apptainer and "--nv" in shlex.split(arguments)


def dag_jobs(configfiles: list[Path], targets: list[str], apptainer: bool = False) -> list[dict]:
    """Every job of a fresh run of `targets`: rule, wildcards, container image (None: the host), GPUs asked.

    `apptainer`: build the DAG as `--use-singularity` does (Snakemake then wants `apptainer` on PATH).
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        DeploymentMethod,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
    )

    deployment = DeploymentSettings(deployment_method={DeploymentMethod.APPTAINER} if apptainer else set())

    messages = io.StringIO()  # Snakemake's own dry-run report: shown only if it fails
    try:
        with (
            tempfile.TemporaryDirectory(prefix="list-images-") as workdir,
            contextlib.redirect_stdout(messages),
            contextlib.redirect_stderr(messages),
            SnakemakeApi(OutputSettings()) as api,
        ):
            workflow_api = api.workflow(
                snakefile=ROOT / "Snakefile",
                workdir=Path(workdir),
                config_settings=ConfigSettings(configfiles=configfiles),
                resource_settings=ResourceSettings(cores=1),
                deployment_settings=deployment,
            )
            workflow_api.dag(DAGSettings(targets=frozenset(targets))).execute_workflow(executor="dryrun")
            # Snakemake's API has no public view of a DAG's jobs (DAGApi offers printing, summaries,
            # reports); `_workflow.dag` is the one place each job's resolved image is. Pinned Snakemake
            # (requirements.lock) and tests/test_list_images.py catch a change of it.
            return [
                {
                    "rule": job.rule.name,
                    "wildcards": dict(job.wildcards_dict),
                    "image": job.container_img_url,
                    "gpu": int(job.resources.get("gpu", 0) or 0),
                }
                for job in sorted(workflow_api._workflow.dag.jobs, key=lambda j: (j.rule.name, str(j.wildcards_dict)))
                if not job.is_norun  # a target rule like `all` runs nothing
            ]
    except Exception:
        sys.stderr.write(messages.getvalue())
        raise


def table(jobs: list[dict], nv: bool) -> str:
    rows = [("rule", "job", "image", "--nv under profiles/gpu", "GPUs asked")]
    for job in jobs:
        rows.append(
            (
                job["rule"],
                "/".join(job["wildcards"].values()) or "-",
                job["image"] or HOST,
                "yes" if job["image"] and nv else "no",
                str(job["gpu"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=["all"], help="Snakemake targets (default: all)")
    parser.add_argument("--configfile", action="append", type=Path, default=[], help="merged over config.yaml")
    parser.add_argument(
        "--gpu-settings", type=Path, default=GPU_SETTINGS, help="Snakemake settings read for --nv (profiles/gpu)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per job instead of a table")
    args = parser.parse_args(argv)
    jobs = dag_jobs([path.resolve() for path in args.configfile], args.targets)
    nv = nv_under(args.gpu_settings)
    if args.json:
        for job in jobs:
            print(json.dumps({**job, "nv_under_gpu_settings": bool(job["image"]) and nv}))
    else:
        print(table(jobs, nv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
