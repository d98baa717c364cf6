"""Rule `bench_summary`: the scaling table, its cost model and goals, and the log-log plot."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.bench import plot_scaling, scaling_markdown, scaling_table  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

# Each benchmark job wrote {"results": [one result per variant]}.
results = [result for path in snakemake.input for result in json.loads(Path(path).read_text())["results"]]
table = scaling_table(results)
markdown = scaling_markdown(table, rounds=snakemake.config["bench"].get("rounds", 1))
atomic_write_bytes(snakemake.output.csv, table.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, markdown.encode())
plot_scaling(table, results, snakemake.output.plot)
print(markdown, file=sys.stderr)
