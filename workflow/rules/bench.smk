# The scaling benchmark: `snakemake bench --cores 2`. Each size gets its own dataset; every bench run
# trains at every size with the same harness; one table and one log-log plot gather them.


use rule dataset as bench_dataset with:
    output:
        arrays="results/bench/n{n}/data/dataset.npz",
        metadata="results/bench/n{n}/data/dataset.json",
    log:
        "logs/bench/n{n}/dataset.log",
    params:
        spec=lambda wildcards: {**config["dataset"], "n": int(wildcards.n)},
        lad=False,


use rule train as bench_train with:
    input:
        arrays="results/bench/n{n}/data/dataset.npz",
        metadata="results/bench/n{n}/data/dataset.json",
        script=TRAIN_SCRIPT,
        code=training_code,
    output:
        "results/bench/n{n}/runs/{framework}/{variant}.json",
    log:
        "logs/bench/n{n}/train/{framework}/{variant}.log",
    benchmark:
        "benchmarks/bench/n{n}/{framework}/{variant}.tsv"


rule bench_summary:
    input:
        BENCH_RESULTS,
    output:
        csv="results/bench/scaling.csv",
        markdown=report(
            "results/bench/scaling.md",
            caption="../report/scaling.rst",
            category="Benchmark",
        ),
        plot=report(
            "results/bench/scaling.png",
            caption="../report/scaling.rst",
            category="Benchmark",
        ),
    log:
        "logs/bench/summary.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    resources:
        # The one timing slot (profiles/default): no job runs beside a timed training job.
        timing_slot=1,
    script:
        "../scripts/bench_summary.py"


rule bench:
    input:
        rules.bench_summary.output,
    localrule: True
