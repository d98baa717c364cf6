"""Rule `api_differences`: the side-by-side API table of the configured runs, from their declarations."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.api import api_table, to_html, to_markdown  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

table = api_table([tuple(run) for run in snakemake.params.runs])
atomic_write_bytes(snakemake.output.markdown, to_markdown(table).encode())
atomic_write_bytes(snakemake.output.html, to_html(table).encode())
