rule summarize:
    input:
        unpack(lambda wildcards: MLP_DATA),
        runs=RUN_RESULTS,
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        result_schema=RESULT_SCHEMA,
    output:
        csv="results/summary.csv",
        markdown="results/summary.md",
        html=report(
            "results/summary.html",
            caption="../report/summary.rst",
            category="Fits",
        ),
        equivalence=report(
            "results/equivalence.md",
            caption="../report/equivalence.rst",
            category="Fits",
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
        runs=RUN_RESULTS,  # fits and losses: the line's runs (the MLP's are in the summary and time_to_solution)
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
    output:
        fits=report("results/plots/fits.png", caption="../report/fits.rst", category="Fits"),
        losses=report(
            "results/plots/losses.png",
            caption="../report/losses.rst",
            category="Convergence",
        ),
        timings=report(
            "results/plots/timings.png",
            caption="../report/timings.rst",
            category="Timing",
        ),
        memory=report(
            "results/plots/memory.png",
            caption="../report/memory.rst",
            category="Timing",
        ),
    log:
        "logs/plot.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/plot.py"


rule api_differences:
    input:
        modules=FRAMEWORK_MODULES,
    output:
        markdown="results/api_differences.md",
        html=report(
            "results/api_differences.html",
            caption="../report/api_differences.rst",
            category="APIs",
        ),
    log:
        "logs/api_differences.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        runs=list(RUNS),
    script:
        "../scripts/api_differences.py"


rule code_listings:
    input:
        modules=FRAMEWORK_MODULES,
    output:
        markdown="results/code.md",
        html=report(
            "results/code.html",
            caption="../report/code.rst",
            category="Code",
        ),
    log:
        "logs/code.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        runs=list(RUNS),
    script:
        "../scripts/code_listings.py"
