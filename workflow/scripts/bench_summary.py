"""Rule `bench_summary`: the scaling table, its cost model and goals, and the log-log plot."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.bench import (  # noqa: E402
    batch_table,
    plot_scaling,
    ratio_intervals,
    scaling_markdown,
    scaling_table,
)
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402


def read(paths):
    """Each benchmark job wrote {"results": [one result per variant]}."""
    return [result for path in paths for result in json.loads(Path(path).read_text())["results"]]


def profile(n, framework, variant):
    """Where `snakemake profile` writes the profile of a run at n (config `profile.sizes`)."""
    size = "" if n == snakemake.config["dataset"]["n"] else f".n{n}"
    return f"results/profile/{framework}/{variant}{size}.md"


results, batch_results = read(snakemake.input.sizes), read(snakemake.input.batches)
table = scaling_table(results)
batches = batch_table(batch_results) if batch_results else None
rounds = snakemake.config["bench"].get("rounds", 1)
markdown = scaling_markdown(table, rounds, profile, batches, ratio_intervals(results))
atomic_write_bytes(snakemake.output.csv, table.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, markdown.encode())
plot_scaling(table, results + batch_results, snakemake.output.plot, batches)
print(markdown, file=sys.stderr)
