"""Rule `width_summary`: the model-size axis' table, its page and its plot (step time against FLOPs per step)."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.width import plot_width, to_markdown, width_table  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

# Each width job wrote {"results": [one result per variant, each with its compute_bound]}.
results = [result for path in snakemake.input for result in json.loads(Path(path).read_text())["results"]]
table = width_table(results)
atomic_write_bytes(snakemake.output.csv, table.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, to_markdown(table).encode())
plot_width(table, results, snakemake.output.plot)
