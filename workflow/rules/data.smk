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
    resources:
        # The one timing slot (profiles/default): no job runs beside a timed training job.
        timing_slot=1,
    params:
        spec=DATASET,
        lad=True,
    script:
        "../scripts/make_dataset.py"
