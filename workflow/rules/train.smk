rule train:
    input:
        arrays=run_dataset("npz"),
        metadata=run_dataset("json"),
        script=TRAIN_SCRIPT,
        # The code that fits: editing it reruns the affected jobs.
        code=training_code,
    output:
        report(
            "results/runs/{framework}/{variant}.json",
            caption="../report/run.rst",
            category="Runs",
            subcategory="{framework}",
        ),
    log:
        "logs/train/{framework}/{variant}.log",
    benchmark:
        "benchmarks/train/{framework}/{variant}.tsv"
    conda:
        framework_env
    container:
        framework_container
    threads: lambda wildcards: run_settings(wildcards)["threads"]
    resources:
        gpu=gpus_requested,
    params:
        settings=settings_json,
    shell:
        "python {input.script:q}"
        " --framework {wildcards.framework:q} --variant {wildcards.variant:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --settings {params.settings:q} --output {output:q}"
        " > {log:q} 2>&1"
