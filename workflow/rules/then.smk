# Then and now: `snakemake then_vs_now --cores 2` (not part of the default run). The runs of `eras.runs` train
# in the eras `then` (the article's 2020 versions: Python 3.8, TensorFlow 2.3, torch 1.7) and `now` (this
# environment) by rule train_era (workflow/rules/eras.smk); the 2020 idioms run in both; one table, one page
# and one figure set them side by side.
rule idioms:
    input:
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
        script=WORKFLOW_DIR / "scripts" / "idioms.py",
        code=[
            WORKFLOW_DIR / "lib" / "tale_of_two" / "fit" / f"{name}.py"
            for name in ("idioms", "era")
        ],
        environment=era_environment_record,
    output:
        "results/then_vs_now/idioms/{era}.json",
    log:
        "logs/then_vs_now/idioms/{era}.log",
    wildcard_constraints:
        era="then|now",
    conda:
        era_env
    container:
        era_container
    params:
        python=era_python,
    shell:
        "{params.python:q} {input.script:q} --era {wildcards.era:q}"
        " --dataset {input.arrays:q} --metadata {input.metadata:q} --output {output:q}"
        " > {log:q} 2>&1"


rule compare_eras:
    input:
        runs=era_outputs(["then", "now"], "runs"),
        then_idioms="results/then_vs_now/idioms/then.json",
        now_idioms="results/then_vs_now/idioms/now.json",
    output:
        csv="results/then_vs_now.csv",
        markdown="results/then_vs_now.md",
        html=report(
            "results/then_vs_now.html",
            caption="../report/then_vs_now.rst",
            category="Then and now",
        ),
        plot=report(
            "results/plots/then_vs_now.png",
            caption="../report/then_vs_now_plot.rst",
            category="Then and now",
        ),
    log:
        "logs/then_vs_now/compare.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    script:
        "../scripts/compare_eras.py"


rule then_vs_now:
    input:
        rules.compare_eras.output,
    localrule: True
