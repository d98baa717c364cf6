"""Print, as JSON, the container image Snakemake gives each job of a dry run with --use-singularity.

Snakemake's dry-run listing does not show a job's image: tools/list_images.py builds the same DAG as
`--use-singularity -n` through Snakemake's API and reads each job's image from it. Run in a subprocess
(the API changes the working directory):

    python _dag_images.py CONFIGFILE ...

`apptainer` must be on PATH (Snakemake checks its version before a dry run with containers).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from list_images import dag_jobs  # noqa: E402


def main(*configfiles: str) -> None:
    print(json.dumps(dag_jobs([Path(c).resolve() for c in configfiles], ["all"], apptainer=True)))


if __name__ == "__main__":
    main(*sys.argv[1:])
