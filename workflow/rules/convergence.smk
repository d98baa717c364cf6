# Time to solution (benchopt's view): from the runs' recorded per-epoch losses and times, no new training.
# Meaningful on config/converged.yaml, where every run reaches its optimum.


rule time_to_solution:
    input:
        runs=RUN_RESULTS,  # the mlp_* runs' too, judged against the best loss reached (convergence.py)
        arrays="results/data/dataset.npz",
        metadata="results/data/dataset.json",
    output:
        plot=report(
            "results/plots/suboptimality.png",
            caption="../report/suboptimality.rst",
            category="Convergence",
        ),
        table=report(
            "results/time_to_solution.md",
            caption="../report/time_to_solution.rst",
            category="Convergence",
        ),
    log:
        "logs/time_to_solution.log",
    conda:
        "../../envs/analysis.yaml"
    container:
        ANALYSIS_CONTAINER
    params:
        config_note=lambda wildcards: f"lr {TRAINING['lr']}, {TRAINING['epochs']} epochs by default",
    script:
        "../scripts/time_to_solution.py"
