rule dataset:
    output:
        arrays="results/data/dataset.npz",
        metadata=report(
            "results/data/dataset.json",
            caption="../report/dataset.rst",
            category="Data",
        ),
    log:
        "logs/dataset.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        spec=DATASET,
        lad=True,
    script:
        "../scripts/dataset.py"


# The MLP's data (variants mlp_*, tale_of_two.fit.workloads), made once like the line's.
use rule dataset as mlp_dataset with:
    output:
        arrays="results/data/mlp.npz",
        metadata=report(
            "results/data/mlp.json",
            caption="../report/mlp_dataset.rst",
            category="Data",
        ),
    log:
        "logs/mlp_dataset.log",
    params:
        spec=MLP_DATASET,
        lad=False,
        workload="mlp",
