"""Rule `timeline_table`: the eras' runs, profiles and environments into results/timeline.{csv,md,html} and its plot."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis import timeline  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes, read_json  # noqa: E402

results = [read_json(path, ValueError) for path in snakemake.input.runs]
profiles = {}
for path in snakemake.input.profiles:
    document = read_json(path, ValueError)
    era = Path(path).parts[-4]
    profiles[(era, f"{document['framework']}/{document['variant']}")] = document
environments = {}
for path in snakemake.input.environments:
    record = read_json(path, ValueError)
    environments[record["era"]] = record
frame = timeline.table(results, list(snakemake.params.eras), environments)
eras = list(snakemake.params.eras)
parts = timeline.sections(frame, profiles, eras)
atomic_write_bytes(snakemake.output.csv, frame.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, timeline.to_markdown(parts).encode())
atomic_write_bytes(snakemake.output.html, timeline.to_html(parts).encode())
timeline.plot(frame, eras, snakemake.output.plot)
