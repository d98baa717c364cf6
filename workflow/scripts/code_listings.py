"""Rule `code_listings`: every configured run's code, side by side by style, read from the framework modules."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.api import code_html, code_listings, code_markdown  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

styles = code_listings([tuple(run) for run in snakemake.params.runs])
atomic_write_bytes(snakemake.output.markdown, code_markdown(styles).encode())
atomic_write_bytes(snakemake.output.html, code_html(styles).encode())
