"""Rule `remedies`: each remedy beside the run it remedies, from the benchmark's processes (results/remedies.md)."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.remedies import remedies_markdown, remedies_table  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

# Each benchmark job wrote {"results": [one result per variant]}.
results = [result for path in snakemake.input.runs for result in json.loads(Path(path).read_text())["results"]]
markdown = remedies_markdown(remedies_table(results), rounds=snakemake.config["bench"].get("rounds", 1))
atomic_write_bytes(snakemake.output[0], markdown.encode())
print(markdown, file=sys.stderr)
