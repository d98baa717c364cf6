"""config/converged.yaml does what its name says: every run it trains ends at the optimum of its own loss."""

import pandas as pd
import pytest
from conftest import ROOT, RUNS, snakemake

pytestmark = pytest.mark.e2e
# MSE as in test_variants (GD settles within 2e-6 of OLS); MAE: config/converged.yaml's fit runs measured
# ~2e-4 from LAD at lr 0.002 (its comment), and 5e-3 is still far below the 0.1 the article's settings miss by.
MSE_TOLERANCE, MAE_TOLERANCE = 1e-3, 5e-3


def test_converged_config_reaches_every_optimum(tmp_path):
    snakemake(tmp_path, "--configfile", str(ROOT / "config/converged.yaml"), "--cores", "2", "results/summary.csv")
    table = pd.read_csv(tmp_path / "results/summary.csv")
    runs = table[table["framework"] != "exact"]
    # converged.yaml leaves out keras_tensorflow/fit: it is tensorflow/fit, number for number.
    assert sorted(runs["framework"] + "/" + runs["variant"]) == sorted(set(RUNS) - {"keras_tensorflow/fit"})
    assert (runs["status"] == "ok").all()
    # The MLP (mlp_* rows) has no closed-form optimum: each run is judged against the best loss any of them reached,
    # near the noise's variance (0.01). From the same start they part ways over 2000 epochs at lr 0.2 (4e-7 apart
    # after the default run's 200 epochs; here, seen: 0.009175 to 0.009406, the worst 2.5 % above the best), so
    # 5 % holds them to that basin, not to one trajectory.
    mlp = runs["variant"].str.startswith("mlp_")
    assert mlp.sum() >= 9
    best = runs.loc[mlp, "final_loss"].min()
    assert (runs.loc[mlp, "final_loss"] <= best * 1.05).all(), runs.loc[mlp, ["variant", "final_loss"]]
    assert best < 0.012
    runs = runs[~mlp]
    for _, run in runs.iterrows():
        tolerance = MSE_TOLERANCE if run["optimum"] == "ols" else MAE_TOLERANCE
        assert run["w_err_optimum"] < tolerance, run.to_dict()
        assert run["b_err_optimum"] < tolerance, run.to_dict()
