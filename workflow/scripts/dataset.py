"""Rule `dataset`: draw the data once; write the arrays and their metadata."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis.optima import dataset_metadata, mlp_metadata  # noqa: E402
from tale_of_two.fit.data import DatasetSpec, atomic_write_json, generate, save_npz  # noqa: E402
from tale_of_two.fit.workloads import MLPDatasetSpec, generate_mlp  # noqa: E402

if snakemake.params.get("workload", "line") == "mlp":
    spec = MLPDatasetSpec(**snakemake.params.spec)
    arrays = generate_mlp(spec)
    metadata = mlp_metadata(spec, arrays)
else:
    spec = DatasetSpec(**snakemake.params.spec)
    arrays = generate(spec)
    metadata = dataset_metadata(spec, arrays, with_lad=snakemake.params.lad)
save_npz(snakemake.output.arrays, arrays)
atomic_write_json(snakemake.output.metadata, metadata)
