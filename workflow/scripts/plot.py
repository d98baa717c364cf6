"""Rule `plot`: the comparison figures (fits, losses, timings, memory) from the checked results."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

import pandas as pd  # noqa: E402

from tale_of_two.analysis import plots  # noqa: E402
from tale_of_two.fit.data import load_dataset  # noqa: E402
from tale_of_two.fit.workloads import workload_of  # noqa: E402

metadata, arrays = load_dataset(snakemake.input.arrays, snakemake.input.metadata)
results = [json.loads(Path(path).read_text()) for path in snakemake.input.runs]
# Fitted lines and losses against the line's optima: the line's runs (the MLP's: summary, time_to_solution).
line = [result for result in results if workload_of(result["variant"]) == "line"]
plots.plot_fits(arrays["x"], arrays["y"], metadata, line, snakemake.output.fits)
plots.plot_losses(line, metadata, snakemake.output.losses)
table = pd.read_csv(snakemake.input.summary)
plots.plot_timings(table, results, metadata, snakemake.output.timings)
plots.plot_memory(table, results, metadata, snakemake.output.memory)
