"""Rule `plot`: the three comparison figures (fits, losses, timings) from the checked results."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

import pandas as pd  # noqa: E402

from tale_of_two.analysis import plots  # noqa: E402
from tale_of_two.fit.data import load  # noqa: E402

metadata = json.loads(Path(snakemake.input.metadata).read_text())
results = [json.loads(Path(path).read_text()) for path in snakemake.input.runs]
arrays = load(snakemake.input.arrays, expected_sha256=metadata["sha256"])
plots.plot_fits(arrays["x"], arrays["y"], metadata, results, snakemake.output.fits)
plots.plot_losses(results, metadata, snakemake.output.losses)
plots.plot_timings(pd.read_csv(snakemake.input.summary), results, metadata, snakemake.output.timings)
