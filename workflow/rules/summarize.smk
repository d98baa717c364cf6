rule summarize:
    input:
        runs=RUN_RESULTS,
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        result_schema=RESULT_SCHEMA,
    output:
        csv=report(
            "results/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
        ),
        markdown="results/summary.md",
        equivalence=report(
            "results/equivalence.md",
            caption="../report/equivalence.rst",
            category="Summary",
        ),
    log:
        "logs/summarize.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/summarize.py"


rule plot:
    input:
        summary="results/summary.csv",
        runs=RUN_RESULTS,
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
    output:
        report(
            "results/plots/{plot}.png",
            caption="../report/plot.rst",
            category="Plots",
        ),
    log:
        "logs/plot/{plot}.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/plot.py"
