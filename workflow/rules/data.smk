rule dataset:
    output:
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
    log:
        "logs/dataset.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        spec=config["dataset"],
        lad=True,
    script:
        "../scripts/make_dataset.py"
