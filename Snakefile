# tale-of-two: PyTorch and TensorFlow fit the same line, side by side.
#   dataset -> one training job per (framework, variant) -> summary -> plots
# Run: snakemake --cores 2         (see README.md)
from pathlib import Path


# Relative to this file, so that --directory elsewhere still finds the defaults.
configfile: Path(workflow.basedir) / "config" / "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/summarize.smk"
include: "workflow/rules/bench.smk"
include: "workflow/rules/eras.smk"
include: "workflow/rules/then.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/convergence.smk"


rule all:
    input:
        "results/summary.csv",
        "results/summary.md",
        "results/api_differences.md",
        "results/code.md",
        "results/time_to_solution.md",
        "results/plots/suboptimality.png",
        PLOTS,
