"""Rule `compare_eras`: the runs and idioms of both eras into results/then_vs_now.{csv,md,html} and its figure."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "lib"))

from tale_of_two.analysis import then_vs_now  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes  # noqa: E402

results = [json.loads(Path(path).read_text()) for path in snakemake.input.runs]
then_idioms = json.loads(Path(snakemake.input.then_idioms).read_text())
now_idioms = json.loads(Path(snakemake.input.now_idioms).read_text())
frame = then_vs_now.table(results)
parts = then_vs_now.sections(frame, then_vs_now.idioms_table(then_idioms, now_idioms), then_idioms, now_idioms)
atomic_write_bytes(snakemake.output.csv, frame.to_csv(index=False).encode())
atomic_write_bytes(snakemake.output.markdown, then_vs_now.to_markdown(parts).encode())
atomic_write_bytes(snakemake.output.html, then_vs_now.to_html(parts).encode())
then_vs_now.plot_epoch_times(frame, snakemake.output.plot)
