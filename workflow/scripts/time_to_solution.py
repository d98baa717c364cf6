"""Rule `time_to_solution`: suboptimality against training time, and the time each run needs to reach 1e-2,
1e-4 and 1e-6 of its optimum, from the recorded per-epoch losses and times."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis import convergence  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes, load_dataset  # noqa: E402

metadata, arrays = load_dataset(snakemake.input.arrays, snakemake.input.metadata)
results = [json.loads(Path(path).read_text()) for path in snakemake.input.runs]
table = convergence.time_to_solution(results, metadata, arrays["x"], arrays["y"])
note = f"Settings: lr and epochs per run as configured ({snakemake.params.config_note})."
atomic_write_bytes(snakemake.output.table, convergence.to_markdown(table, note).encode())
convergence.plot_suboptimality(results, metadata, arrays["x"], arrays["y"], snakemake.output.plot)
