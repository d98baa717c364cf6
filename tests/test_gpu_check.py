"""tools/gpu_check.py, the GPU leg, on the path it takes without a GPU: `--device cpu` at tiny sizes writes a
schema-valid result per run and n; `--device cuda` without a GPU stops at once and writes nothing; its timings wait
for the device (a fake device whose work is done only when it synchronises); docs/gpu.md's section is what
tools/doc_tables.py makes of its files."""

import json
import math
import os
import subprocess
import sys
import time

import jsonschema
import pytest
from conftest import ROOT

import tale_of_two.fit.frameworks
from tale_of_two.fit import gpu, harness

sys.path.insert(0, str(ROOT / "tools"))
import doc_tables  # noqa: E402

SCHEMA = json.loads((ROOT / "workflow/schemas/result.schema.json").read_text())
# One run of each framework and kind of step (the compiled ones cost 30 s each to compile here: test_variants.py).
RUNS = ["torch/scratch", "torch/layers", "jax/scratch", "jax/layers", "keras_torch/fit", "keras_jax/fit_dataset"]
SIZES, EPOCHS, REPEATS = (200, 1000), 6, 2
ARTICLE_SHA256 = "638ce8fca771f6482aa130b8d1afc3ee5313053c227603fc737e26af5efda198"  # README: the default dataset


def check(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools/gpu_check.py"), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("check") / "out"
    sizes = ",".join(map(str, SIZES))
    done = check("--out", str(out), "--device", "cpu", "--sizes", sizes, "--epochs", str(EPOCHS), "--repeats",
                 str(REPEATS), "--warmup-epochs", "1", "--threads", "1", "--runs", ",".join(RUNS))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_the_cpu_check_writes_a_schema_valid_result_for_every_run_and_n(cpu_check):
    manifest = json.loads((cpu_check / "gpu_check.json").read_text())
    expected = sorted(f"n{n}/{run}.json" for n in SIZES for run in RUNS)
    assert manifest["results"] == expected
    assert sorted(str(p.relative_to(cpu_check)) for p in cpu_check.glob("n*/*/*.json")) == expected
    assert [r["framework"] for r in manifest["frameworks"]] == ["torch", "jax", "keras_torch", "keras_jax"]
    assert all(not r["failed"] and not r["skipped"] and not r["out_of_time"] for r in manifest["frameworks"])
    for path in expected:
        result = json.loads((cpu_check / path).read_text())
        jsonschema.validate(result, SCHEMA)
        assert (result["status"], result["device"], result["device_name"]) == ("ok", "cpu", "cpu"), path
        check_record = result["gpu_check"]
        assert check_record["yardstick"] == gpu.NUMPY_PASS
        assert check_record["device_memory_pass_s"] == result["timings"]["memory_pass_s"]
        assert (check_record["device_peak_bytes"], check_record["device_peak_scope"]) == (None, None)
        assert check_record["sync"]["epochs_timed"] == REPEATS * EPOCHS <= check_record["sync"]["calls"]
        cpu = check_record["cpu"]
        # The same variant from the same start on the same CPU: the same losses, bit for bit.
        assert (cpu["status"], cpu["epochs"], cpu["max_rel_loss_diff"]) == ("ok", EPOCHS, 0.0), path
        assert cpu["fitted"] == result["fitted"] and len(result["loss_history"]) == EPOCHS
        if result["dataset"]["n"] == 200:  # the article's data, drawn in memory by the pipeline's own recipe
            assert result["dataset"]["sha256"] == ARTICLE_SHA256


@pytest.mark.skipif(harness.load_framework("torch")[0].torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_stops_at_once_with_the_framework_s_error_and_writes_nothing(tmp_path):
    started = time.monotonic()
    done = check("--out", str(tmp_path / "out"), "--device", "cuda")
    assert done.returncode == 1
    assert "DeviceUnavailable: device 'cuda' requested but torch sees no CUDA GPU" in done.stderr
    assert "nothing written" in done.stderr and not (tmp_path / "out").exists()
    assert time.monotonic() - started < 60  # measured 9 s here: the imports of torch and JAX, no run


# --- the clock waits for the device ------------------------------------------------------------------------------

FAKE_ASYNC = '''
"""A device that queues work and does it only when synchronised: reading a loss back waits for nothing."""
import time

from tale_of_two.fit.harness import Runtime

VERSION = "fake 1.0"
QUEUED = []  # seconds of work queued on the device


def sync():
    time.sleep(sum(QUEUED))
    QUEUED.clear()


def configure(device, threads):
    return Runtime("fake", "cuda", "Fake GPU", threads, sync=sync)


class Queued:
    LOSS = "mse"

    def __init__(self, x, y, settings, runtime):
        pass

    def parameters(self):
        return 0.0, 0.0

    def train(self, epochs, callback):
        for _ in range(epochs):
            QUEUED.append(EPOCH_S)  # the epoch's kernels, queued
            if not callback(1.0):
                break


EPOCH_S = 0.01
VARIANTS = {"queued": Queued}
'''


@pytest.fixture
def fake_frameworks(tmp_path, monkeypatch):
    (tmp_path / "fake_async.py").write_text(FAKE_ASYNC)
    (tmp_path / "fake_missing.py").write_text("import not_installed_anywhere  # noqa\nVARIANTS = {}\n")
    monkeypatch.setattr(tale_of_two.fit.frameworks, "__path__", [*tale_of_two.fit.frameworks.__path__, str(tmp_path)])
    for name in ("fake_async", "fake_missing"):
        monkeypatch.delitem(sys.modules, f"tale_of_two.fit.frameworks.{name}", raising=False)
        monkeypatch.setitem(gpu.BACKEND_OF, name, "fake")
    module, _ = harness.load_framework("fake_async")

    def fake_pass(backend, x, y):  # the memory pass on the fake device: 2 ms of queued work
        return "a queued pass", lambda: module.QUEUED.append(0.002) or 0.0

    monkeypatch.setattr(gpu, "device_pass", fake_pass)
    return module


def check_fake(framework):
    settings = harness.Settings(device="cuda", epochs=5, repeats=1, warmup_epochs=1)
    written = []
    report = gpu.check_framework(framework, gpu.Plan((20,), settings), lambda *args: written.append(args), math.inf)
    return report, written


def test_the_check_s_timings_include_the_work_the_device_does_only_when_synchronised(fake_frameworks):
    report, written = check_fake("fake_async")
    assert not report["failed"] and len(written) == 1
    result = written[0][2]
    assert result["timings"]["epoch_s"]["min"] >= fake_frameworks.EPOCH_S
    assert result["gpu_check"]["device_memory_pass_s"]["min"] >= 0.002
    assert result["gpu_check"]["sync"]["how"] == "the framework's runtime.sync"


def test_a_run_whose_clock_skips_the_sync_fails_the_check(fake_frameworks, monkeypatch):
    def unsynchronised(clock, loss):  # the harness's EpochClock.__call__ without its sync
        clock._stamp(clock._now())
        clock._record(float(loss))
        return True

    monkeypatch.setattr(harness.EpochClock, "__call__", unsynchronised)
    report, written = check_fake("fake_async")
    assert not written and [failure["run"] for failure in report["failed"]] == ["fake_async/queued"]
    assert report["failed"][0]["error"].startswith("SyncSkipped: fake_async/queued: 5 epochs timed with ")


def test_a_framework_that_cannot_be_imported_is_skipped_with_the_reason(fake_frameworks):
    report, written = check_fake("fake_missing")
    assert not written and report["skipped"] == "ModuleNotFoundError: No module named 'not_installed_anywhere'"


# --- docs/gpu.md ------------------------------------------------------------------------------------------------


def test_the_gpu_section_has_a_row_per_run_and_n_of_the_check_s_files(cpu_check, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / doc_tables.GPU_RESULTS).symlink_to(cpu_check)
    body = doc_tables.gpu_section(tmp_path)
    rows = [line.split(" | ")[:2] for line in body.splitlines() if line.startswith("| ") and "| run |" not in line]
    assert sorted(rows) == sorted([f"| {run}", f"{n:,}"] for n in SIZES for run in RUNS)
    assert "Every run of the check ran." in body
    assert "No GPU run yet" in doc_tables.gpu_section(tmp_path / "elsewhere")


def test_the_page_says_no_gpu_run_yet_exactly_while_no_gpu_run_is_committed():
    committed = (ROOT / doc_tables.GPU_RESULTS / "gpu_check.json").exists()
    page = (ROOT / "docs/gpu.md").read_text()
    assert ("No GPU run yet" in page) != committed


def test_torch_on_a_gpu_in_deterministic_mode_gives_cublas_its_fixed_workspace(monkeypatch):
    """Deterministic torch refuses cuBLAS on CUDA >= 10.2 without CUBLAS_WORKSPACE_CONFIG: configure sets it."""
    import torch

    from tale_of_two.fit.frameworks import torch as framework

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "a faked GPU")
    framework.configure("cpu", 1)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # the CPU needs none
    runtime = framework.configure("cuda", 1)
    assert runtime.device_name == "a faked GPU" and os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    framework.configure("cuda", 1)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # a user's own choice stays
