"""What reads result files: summary, equivalence, convergence, bench, then-vs-now, API table, plots, pages.

Runs in the analysis environment only (pandas, scipy, matplotlib, Pygments); never imported by a training job.
"""
