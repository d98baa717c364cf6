# Where each default run's epoch time goes: `snakemake profile --cores 2`. Each run, a few epochs after
# its warm-up, under cProfile (and torch.profiler for torch); one Markdown report per run.


rule profile_run:
    input:
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        script=WORKFLOW_DIR / "scripts" / "profile_run.py",
        code=lambda wildcards: [
            *training_code(wildcards),
            WORKFLOW_DIR / "lib" / "tale_of_two" / "fit" / "profiling.py",
        ],
    output:
        report(
            "results/profile/{framework}/{variant}.md",
            caption="../report/profile.rst",
            category="Timing",
            subcategory="Profiles",
        ),
    log:
        "logs/profile/{framework}/{variant}.log",
    conda:
        framework_env
    container:
        framework_container
    threads: lambda wildcards: run_settings(wildcards)["threads"]
    resources:
        gpu=gpus_requested,
    params:
        settings=settings_json,
        epochs=config["profile"]["epochs"],
    shell:
        "python {input.script:q} --framework {wildcards.framework:q} --variant {wildcards.variant:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --settings {params.settings:q} --epochs {params.epochs} --output {output:q}"
        " > {log:q} 2>&1"


rule profile:
    input:
        [f"results/profile/{framework}/{variant}.md" for framework, variant in RUNS],
    localrule: True
