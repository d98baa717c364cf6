# Eras: the runs of `eras.runs` on other releases of the frameworks, each era an environment of its own
# (`eras.environments`): then_vs_now sets `then` beside `now` (workflow/rules/then.smk), `timeline` every era
# of `eras.timeline`. Not part of the default run. Same code, data and settings in every era.


# An era's .venv-NAME, built before its first job and reused after: a few GB from PyPI the first time, pip's
# check of its pins after. Only for eras without a configured `python`.
rule era_environment:
    input:
        requirements=lambda wildcards: REPOSITORY / ERAS[wildcards.era].requirements,
        script=WORKFLOW_DIR / "scripts" / "era_environment.py",
    output:
        str(REPOSITORY / ".venv-{era}" / "era.json"),
    log:
        "logs/eras/{era}/environment.log",
    wildcard_constraints:
        era=ERA_NAMES,
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        python_version=lambda wildcards: ERAS[wildcards.era].python_version,
        requirements=lambda wildcards: ERAS[wildcards.era].requirements,
    shell:
        "python {input.script:q} --era {wildcards.era:q} --python-version {params.python_version:q}"
        " --requirements {params.requirements:q} --output {output:q} > {log:q} 2>&1"


rule train_era:
    input:
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        script=TRAIN_SCRIPT,
        code=training_code,
        environment=era_environment_record,
    output:
        report(
            "results/eras/{era}/runs/{framework}/{variant}.json",
            caption="../report/era_run.rst",
            category="Eras",
            subcategory="{era}",
        ),
    log:
        "logs/eras/{era}/train/{framework}/{variant}.log",
    benchmark:
        "benchmarks/eras/{era}/{framework}/{variant}.tsv"
    wildcard_constraints:
        era=ERA_NAMES,
    conda:
        era_env
    container:
        era_container
    threads: lambda wildcards: ERA_RUNS[(wildcards.framework, wildcards.variant)]["threads"]
    params:
        python=era_python,
        settings=era_settings,
    shell:
        "{params.python:q} {input.script:q} --era {wildcards.era:q}"
        " --framework {wildcards.framework:q} --variant {wildcards.variant:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q}"
        " --settings {params.settings:q} --output {output:q}"
        " > {log:q} 2>&1"


# Where each era's epochs spend their time: the run under cProfile (and torch's profiler), as profile_run
# does for today's runs; the timeline reads the JSON to explain the releases where an epoch's time changed most.
rule profile_era:
    input:
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        script=WORKFLOW_DIR / "scripts" / "profile_run.py",
        code=lambda wildcards: [
            *training_code(wildcards),
            WORKFLOW_DIR / "lib" / "tale_of_two" / "fit" / "profiling.py",
        ],
        environment=era_environment_record,
    output:
        json="results/eras/{era}/profiles/{framework}/{variant}.json",
        markdown=report(
            "results/eras/{era}/profiles/{framework}/{variant}.md",
            caption="../report/profile.rst",
            category="Eras",
            subcategory="Profiles: {era}",
        ),
    log:
        "logs/eras/{era}/profile/{framework}/{variant}.log",
    wildcard_constraints:
        era=ERA_NAMES,
    conda:
        era_env
    container:
        era_container
    threads: lambda wildcards: ERA_RUNS[(wildcards.framework, wildcards.variant)]["threads"]
    params:
        python=era_python,
        settings=era_settings,
        epochs=config["profile"]["epochs"],
    shell:
        "{params.python:q} {input.script:q} --framework {wildcards.framework:q} --variant {wildcards.variant:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q} --settings {params.settings:q}"
        " --epochs {params.epochs} --output {output.markdown:q} --json {output.json:q} > {log:q} 2>&1"


# The timeline: every era of `eras.timeline`, oldest first; per run and release, the epoch, import and setup
# times, whether the losses agree with today's, and the release where the epoch's time changed most, with what
# the profiles either side of it say changed.
rule timeline_table:
    input:
        runs=era_outputs(TIMELINE, "runs"),
        profiles=era_outputs(TIMELINE, "profiles"),
        environments=[
            str(REPOSITORY / f".venv-{era}" / "era.json")
            for era in TIMELINE
            if ERAS[era].built_here
        ],
    output:
        csv="results/timeline.csv",
        markdown="results/timeline.md",
        html=report(
            "results/timeline.html",
            caption="../report/timeline.rst",
            category="Eras",
        ),
        plot=report(
            "results/plots/timeline.png",
            caption="../report/timeline_plot.rst",
            category="Eras",
        ),
    log:
        "logs/eras/timeline.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        eras=TIMELINE,
    script:
        "../scripts/timeline_table.py"


rule timeline:
    input:
        rules.timeline_table.output,
    localrule: True
