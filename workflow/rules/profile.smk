# Where each run's epoch time goes: `snakemake profile --cores 2`. Each run, a few epochs after its warm-up,
# under cProfile (and torch.profiler for torch); one Markdown report per run. At the dataset's n every default
# run; at each other n of `profile.sizes` every bench run, with XLA's own dump summarised for the XLA runs.


rule profile_run:
    input:
        arrays=run_dataset("npz"),
        metadata=run_dataset("json"),
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
        xla_dump="",
        environment="",
    shell:
        "{params.environment} python {input.script:q} --framework {wildcards.framework:q} --variant {wildcards.variant:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --settings {params.settings:q} --epochs {params.epochs} --output {output:q}"
        " {params.xla_dump} > {log:q} 2>&1"


# At another n: the bench's dataset of that size and the bench's settings. XLA (JAX, TF's jit_compile) dumps
# what it compiled into the log folder; the profile counts its fusions and passes over the data.
use rule profile_run as profile_run_sized with:
    input:
        arrays="results/bench/n{n}/data/dataset.npz",
        metadata="results/bench/n{n}/data/dataset.json",
        script=WORKFLOW_DIR / "scripts" / "profile_run.py",
        code=lambda wildcards: [
            *training_code(wildcards),
            WORKFLOW_DIR / "lib" / "tale_of_two" / "fit" / "profiling.py",
        ],
    output:
        report(
            "results/profile/{framework}/{variant}.n{n}.md",
            caption="../report/profile.rst",
            category="Timing",
            subcategory="Profiles at n = {n}",
        ),
    log:
        "logs/profile/{framework}/{variant}.n{n}.log",
    threads: lambda wildcards: profile_settings(wildcards)["threads"]
    resources:
        gpu=lambda wildcards: int(profile_settings(wildcards)["device"] == "cuda"),
    params:
        settings=lambda wildcards: json.dumps(profile_settings(wildcards), sort_keys=True),
        epochs=config["profile"]["epochs"],
        xla_dump=lambda w: f"--xla-dump logs/profile/{w.framework}/{w.variant}.n{w.n}.xla",
        environment=bench_environment(),


rule profile:
    input:
        [
            (
                f"results/profile/{framework}/{variant}.md"
                if n == config["dataset"]["n"]
                else f"results/profile/{framework}/{variant}.n{n}.md"
            )
            for n, framework, variant in PROFILE_RUNS
        ],
    localrule: True
