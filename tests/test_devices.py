"""The same config gives the same fits; devices: a missing GPU is named, the README's GPU recipe runs anyway.

Each test drives the real `snakemake` command line in its own temporary working directory.
"""

import pytest
from conftest import RUNS, TINY, config_file, run_json, snakemake

pytestmark = pytest.mark.e2e


def test_same_config_twice_gives_identical_data_and_fits(tiny_run, tmp_path):
    snakemake(tmp_path, "--configfile", TINY, "--cores", "2", "results/summary.csv")
    for name in ("dataset.npz", "dataset.json"):
        assert (tiny_run / "results/data" / name).read_bytes() == (tmp_path / "results/data" / name).read_bytes()
    for run in RUNS:
        a, b = run_json(tiny_run, run), run_json(tmp_path, run)
        assert a["fitted"] == b["fitted"] and a["loss_history"] == b["loss_history"], run
        data_seed = 43 if run.split("/")[1].startswith("mlp_") else 42  # config.yaml's mlp_dataset and dataset seeds
        assert a["repeats_identical"] and a["settings"]["seed"] == 0 and a["dataset"]["seed"] == data_seed


def test_cuda_without_a_gpu_is_a_clear_error_unless_cpu_fallback_is_asked(tmp_path):
    target = "results/runs/torch/scratch.json"
    extra = config_file(tmp_path, "training: {device: cuda}")
    done = snakemake(tmp_path, "--configfile", TINY, extra, "--cores", "1", target, check=False)
    if done.returncode == 0:
        pytest.skip("this machine has a CUDA GPU")
    log = (tmp_path / "logs/train/torch/scratch.log").read_text()
    assert "DeviceUnavailable: device 'cuda' requested but torch sees no CUDA GPU" in log
    assert "logs/train/torch/scratch.log" in done.stdout + done.stderr  # Snakemake points at the log
    assert not (tmp_path / target).exists()


def test_the_readme_gpu_recipe_runs_every_run_on_a_machine_without_a_gpu(tiny_run, tmp_path):
    """README: `training: {device: cuda, device_fallback: cpu}` runs every run; numpy stays on the CPU, no error."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: tests/test_gpu.py covers it")
    extra = config_file(tmp_path, "training: {device: cuda, device_fallback: cpu}")
    snakemake(tmp_path, "--configfile", TINY, extra, "--cores", "2", *(f"results/runs/{run}.json" for run in RUNS))
    for run in RUNS:
        result = run_json(tmp_path, run)
        assert result["status"] == "ok" and result["device"] == "cpu" and result["settings"]["device"] == "cuda"
        framework = run.split("/")[0]
        if framework in ("numpy", "numba"):  # CPU-only frameworks: nothing to fall back from
            assert result["device_fell_back"] is False and result["notes"] == [
                {
                    "numpy": "numpy runs on the CPU only: device 'cuda' does not apply",
                    "numba": "numba runs on the CPU only here: device 'cuda' does not apply",
                }[framework]
            ]
        else:
            assert result["device_fell_back"] is True, run
        assert result["loss_history"] == run_json(tiny_run, run)["loss_history"], run  # the same fit as `auto`


def test_auto_device_records_what_it_picked(tiny_run):
    import torch

    result = run_json(tiny_run, "torch/layers")
    # `auto` takes the GPU where torch sees one, else the CPU.
    assert result["settings"]["device"] == "auto"
    assert result["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert result["device_fell_back"] is False
