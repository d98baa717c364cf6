"""Print, as JSON, the container image Snakemake gives each job of a dry run with --use-singularity.

Snakemake's dry-run listing does not show a job's image, so this runs the same dry run through
Snakemake's API and reads each job's image from the DAG it built. Run in a subprocess (the API
changes the working directory):

    python _dag_images.py SNAKEFILE WORKDIR [CONFIGFILE ...]

`apptainer` must be on PATH (Snakemake checks its version before a dry run with containers).
"""

import contextlib
import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import (
    ConfigSettings,
    DeploymentMethod,
    DeploymentSettings,
    OutputSettings,
    ResourceSettings,
    StorageSettings,
)


def main(snakefile: str, workdir: str, *configfiles: str) -> None:
    with contextlib.redirect_stdout(sys.stderr), SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(
            snakefile=Path(snakefile),
            workdir=Path(workdir),
            config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
            resource_settings=ResourceSettings(cores=1),
            storage_settings=StorageSettings(),
            deployment_settings=DeploymentSettings(deployment_method={DeploymentMethod.APPTAINER}),
        )
        workflow_api.dag().execute_workflow(executor="dryrun")
        jobs = [
            {"rule": job.rule.name, "wildcards": dict(job.wildcards_dict), "image": job.container_img_url}
            for job in workflow_api._workflow.dag.jobs
        ]
    print(json.dumps(jobs))


if __name__ == "__main__":
    main(*sys.argv[1:])
