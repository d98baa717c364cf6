"""Rule `summarize`: check every result file, gather them into results/summary.{csv,md}."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.summary import equivalence, equivalence_markdown, load_result, summarize, to_html, to_markdown  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes, load_dataset  # noqa: E402
from tale_of_two.fit.workloads import workload_of  # noqa: E402

metadata, arrays = load_dataset(snakemake.input.arrays, snakemake.input.metadata)
# The mlp_* runs' data, when any is configured (tale_of_two.fit.workloads).
mlp_metadata = (
    load_dataset(snakemake.input.mlp_arrays, snakemake.input.mlp_metadata)[0]
    if "mlp_metadata" in snakemake.input.keys()
    else None
)
schema = json.loads(Path(snakemake.input.result_schema).read_text())
results = [
    load_result(path, schema, (mlp_metadata if workload_of(Path(path).stem) == "mlp" else metadata)["sha256"])
    for path in snakemake.input.runs
]
table = summarize(results, metadata, arrays["x"], arrays["y"])
atomic_write_bytes(snakemake.output.csv, table.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, to_markdown(table, metadata, mlp_metadata).encode())
atomic_write_bytes(snakemake.output.html, to_html(table).encode())
atomic_write_bytes(snakemake.output.equivalence, equivalence_markdown(equivalence(results)).encode())
