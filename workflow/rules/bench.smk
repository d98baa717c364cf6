# The scaling benchmark: `snakemake bench --cores 2`. Each size gets its own dataset. One process per
# (size, determinism mode, framework) runs that framework's bench variants with their repeats interleaved;
# `bench.rounds` such processes per job run round by round. One table and one log-log plot gather them.
use rule dataset as bench_dataset with:
    output:
        arrays="results/bench/n{n}/data/dataset.npz",
        metadata="results/bench/n{n}/data/dataset.json",
    log:
        "logs/bench/n{n}/dataset.log",
    params:
        spec=lambda wildcards: {**DATASET, "n": int(wildcards.n)},
        lad=False,


rule bench_train:
    input:
        arrays="results/bench/n{n}/data/dataset.npz",
        metadata="results/bench/n{n}/data/dataset.json",
        script=BENCH_TRAIN_SCRIPT,
        code=training_code,
        previous_round=previous_round,
    output:
        "results/bench/n{n}/{mode}/round{round}/{framework}.json",
    log:
        "logs/bench/n{n}/{mode}/round{round}/{framework}.log",
    benchmark:
        "benchmarks/bench/n{n}/{mode}/round{round}/{framework}.tsv"
    wildcard_constraints:
        mode=r"deterministic|nondeterministic|batch(full|\d+)",
        round=r"\d+",
    conda:
        framework_env
    container:
        framework_container
    threads: lambda wildcards: max(s["threads"] for s in bench_job(wildcards).values())
    resources:
        gpu=lambda wildcards: int(any(s["device"] == "cuda" for s in bench_job(wildcards).values())),
    params:
        runs=lambda wildcards: json.dumps(bench_job(wildcards), sort_keys=True),
        environment=bench_environment(),
    shell:
        "{params.environment} python {input.script:q} --framework {wildcards.framework:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --runs {params.runs:q} --output {output:q}"
        " > {log:q} 2>&1"


rule bench_summary:
    input:
        sizes=BENCH_SIZE_OUTPUTS,
        batches=BENCH_BATCH_OUTPUTS,
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
    script:
        "../scripts/bench_summary.py"


# Each remedy beside the run it remedies (the frameworks' REMEDIES), from the same benchmark processes.
rule remedies:
    input:
        runs=[path for path in BENCH_OUTPUTS if "/deterministic/" in path],
        modules=sorted(
            {path for _, _, framework in BENCH_JOBS for path in framework_files(framework)}
        ),
    output:
        report(
            "results/remedies.md",
            caption="../report/remedies.rst",
            category="Remedies",
        ),
    log:
        "logs/remedies.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/remedies.py"


# The model-size axis (docs/width.md): the MLP at each of bench.widths, n = bench.width_n, one process per width
# and framework, each also measuring the compute bound of its step's shapes (numpy's matrix products).
use rule dataset as width_dataset with:
    output:
        arrays="results/bench/width/data/mlp.npz",
        metadata="results/bench/width/data/mlp.json",
    log:
        "logs/bench/width/dataset.log",
    params:
        spec={**MLP_DATASET, "n": config.get("bench", {}).get("width_n", MLP_DATASET["n"])},
        lad=False,
        workload="mlp",


rule bench_width_train:
    input:
        arrays="results/bench/width/data/mlp.npz",
        metadata="results/bench/width/data/mlp.json",
        script=BENCH_TRAIN_SCRIPT,
        code=training_code,
        previous_round=previous_width_round,
    output:
        "results/bench/width/w{width}/round{round}/{framework}.json",
    log:
        "logs/bench/width/w{width}/round{round}/{framework}.log",
    benchmark:
        "benchmarks/bench/width/w{width}/round{round}/{framework}.tsv"
    wildcard_constraints:
        width=r"\d+",
        round=r"\d+",
    conda:
        framework_env
    container:
        framework_container
    threads: lambda wildcards: max(s["threads"] for s in width_job(wildcards).values())
    resources:
        gpu=lambda wildcards: int(any(s["device"] == "cuda" for s in width_job(wildcards).values())),
    params:
        runs=lambda wildcards: json.dumps(width_job(wildcards), sort_keys=True),
        environment=width_environment(),
    shell:
        "{params.environment} python {input.script:q} --framework {wildcards.framework:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --runs {params.runs:q} --compute-bound --output {output:q}"
        " > {log:q} 2>&1"


rule width_summary:
    input:
        WIDTH_OUTPUTS,
    output:
        csv="results/bench/width.csv",
        markdown=report(
            "results/bench/width.md",
            caption="../report/width.rst",
            category="Benchmark",
        ),
        plot=report(
            "results/bench/width.png",
            caption="../report/width.rst",
            category="Benchmark",
        ),
    log:
        "logs/bench/width_summary.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/width_summary.py"


rule bench:
    input:
        rules.bench_summary.output,
        rules.remedies.output,
        rules.width_summary.output if WIDTH_JOBS else [],
    localrule: True
