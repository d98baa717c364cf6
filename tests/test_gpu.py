"""`pytest -m gpu`: every framework with `device: cuda` on a machine with a GPU (skipped without one).

Each run must record the device it used (`cuda`; numpy, which has no GPU, `cpu` with a note) and fit the
same line as on the CPU: full-batch float32 gradient descent from the same start differs between GPU and
CPU kernels only in rounding; 1e-4 relative on the final loss and 1e-5 absolute on w and b cover that
(on the CPU the frameworks agree to 3.4e-7 relative) and still fail a run that fitted something else.
"""

import pytest
from conftest import RUNS, TINY, config_file, run_json, snakemake

pytestmark = [pytest.mark.gpu, pytest.mark.e2e]


def any_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def fit_all(workdir, device):
    workdir.mkdir()
    extra = config_file(workdir, f"training: {{device: {device}}}")
    targets = [f"results/runs/{run}.json" for run in RUNS]
    snakemake(workdir, "--configfile", TINY, extra, "--cores", "1", *targets)
    return {run: run_json(workdir, run) for run in RUNS}


@pytest.mark.skipif(not any_gpu(), reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")
def test_every_framework_runs_on_the_gpu_and_fits_as_on_the_cpu(tmp_path):
    on_gpu, on_cpu = fit_all(tmp_path / "gpu", "cuda"), fit_all(tmp_path / "cpu", "cpu")
    for run in RUNS:
        gpu, cpu = on_gpu[run], on_cpu[run]
        assert gpu["status"] == "ok", run
        assert gpu["device"] == ("cpu" if run.startswith("numpy/") else "cuda"), run
        assert gpu["device_fell_back"] is False, run
        assert gpu["final_loss"] == pytest.approx(cpu["final_loss"], rel=1e-4), run
        assert gpu["fitted"]["w"] == pytest.approx(cpu["fitted"]["w"], abs=1e-5), run
        assert gpu["fitted"]["b"] == pytest.approx(cpu["fitted"]["b"], abs=1e-5), run
