"""Memory in every result: peaks that move by what a run allocates, a slope that shows a leak, and a limit that
stops a run with a named error and keeps the earlier result."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from conftest import ROOT

from tale_of_two.analysis import optima
from tale_of_two.fit import data

# A numpy run with `ballast` bytes allocated (and touched) in its set-up, and `leak` bytes more kept every epoch,
# measured in a process of its own: the peaks are the process's high-water mark.
SCRIPT = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
from tale_of_two.fit.frameworks import numpy as framework

ballast, leak, limit = (int(v) for v in sys.argv[1:4])

class Ballast(framework.Scratch):
    def __init__(self, x, y, settings, runtime):
        super().__init__(x, y, settings, runtime)
        self.ballast = np.ones(ballast // 8)  # float64 ones: every page written, so resident
        self.kept = []

    def train_step(self, x, y):
        if leak:
            self.kept.append(np.ones(leak // 8))
        return super().train_step(x, y)

framework.VARIANTS["ballast"] = Ballast
x = np.linspace(-1, 1, 200, dtype=np.float32)
settings = harness.Settings(epochs=60, warmup_epochs=5, repeats=2, memory_limit_mb=limit or None)
try:
    print(json.dumps(harness.measure("numpy", "ballast", x, 0.1 * x + 0.3, settings)["memory"]))
except harness.MemoryLimitExceeded as error:
    print(json.dumps({"error": str(error)}))
"""


def memory_of(ballast: int = 0, leak: int = 0, limit: int = 0) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ballast), str(leak), str(limit)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "workflow" / "lib")},
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.splitlines()[-1])


MB = 10**6


def test_a_known_extra_100_mb_moves_the_peaks_by_about_that_much():
    plain, heavy = memory_of(), memory_of(ballast=100 * MB)
    # Before the set-up the two processes are the same (seen: within 0.1 MB).
    assert abs(heavy["peak_rss_after_import_bytes"] - plain["peak_rss_after_import_bytes"]) < 2 * MB
    for stage in ("peak_rss_after_setup_bytes", "peak_rss_after_training_bytes"):
        extra = heavy[stage] - plain[stage]
        # Seen here: 99.8 to 100.2 MB over three pairs; 2 MB covers the kernel's lazily summed page counts.
        assert extra == pytest.approx(100 * MB, abs=2 * MB), stage
    assert plain["dataset_bytes"] == heavy["dataset_bytes"] == 2 * 200 * 4
    # What the set-up holds now, not the peak: the ballast again (seen: 100.0 to 100.1 MB).
    assert heavy["setup_held_bytes"] - plain["setup_held_bytes"] == pytest.approx(100 * MB, abs=2 * MB)


COPIES = """
import json, sys
import numpy as np
from tale_of_two.fit import harness
x = np.linspace(-1, 1, 4_000_000, dtype=np.float32)  # x and y: 32 MB
settings = harness.Settings(epochs=6, warmup_epochs=1, repeats=1)
print(json.dumps(harness.measure(sys.argv[1], "scratch", x, 0.1 * x + 0.3, settings)["memory"]))
"""


@pytest.mark.parametrize("framework,copies", [("numpy", 0), ("torch", 1)])
def test_a_set_up_that_copies_the_data_holds_its_bytes(framework, copies):
    """numpy's scratch run works on the arrays it is given; torch's copies x and y into tensors (torch.tensor)."""
    done = subprocess.run(
        [sys.executable, "-c", COPIES, framework],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "workflow" / "lib")},
        check=True,
        timeout=300,
    )
    memory = json.loads(done.stdout.splitlines()[-1])
    held = memory["setup_held_bytes"] / memory["dataset_bytes"]
    # Seen: numpy 0.07 (its (n, 1) columns are views); torch 1.13 to 1.15: one copy, and about 4 MB more that its first
    # tensors cost once. 0.25 covers that 4 MB (0.13 of 32 MB) with room; half a copy would not pass.
    assert held == pytest.approx(copies, abs=0.25)


def test_a_leak_shows_as_its_growth_per_epoch():
    steady, leaking = memory_of(), memory_of(leak=MB)
    # A run that keeps nothing grows by less than a page an epoch (seen: 211 bytes, the harness's own lists
    # crossing a 4 KiB page now and then); one that keeps 1 MB an epoch grows by that (seen: 1.0001 MB).
    assert abs(steady["rss_growth_bytes_per_epoch"]) < 4096
    assert leaking["rss_growth_bytes_per_epoch"] == pytest.approx(MB, rel=0.02)
    assert leaking["growth_epochs"] == steady["growth_epochs"] == 50  # 60 epochs less 5 of warm-up, capped at 50
    # What it cost: 55 epochs that each write 1 MB take longer than 55 that allocate nothing (seen: 0.25 s, 0.02 s).
    assert 0 < steady["memory_run_s"] < leaking["memory_run_s"] < 30


def test_a_run_over_its_memory_limit_stops_naming_the_limit_and_the_figure():
    under = memory_of(ballast=100 * MB, limit=1000)
    assert "error" not in under
    over = memory_of(ballast=300 * MB, limit=200)["error"]
    assert "numpy/ballast" in over and "memory_limit_mb = 200 MB" in over
    assert int(over.split("peak resident memory ")[1].split(" MB")[0]) > 300  # the figure, in MB


def test_a_job_over_its_limit_writes_nothing_and_keeps_the_earlier_result(tmp_path, spec):
    arrays, metadata = tmp_path / "dataset.npz", tmp_path / "dataset.json"
    data.save_npz(arrays, data.generate(spec))
    data.atomic_write_json(metadata, optima.dataset_metadata(spec, data.generate(spec)))
    output = tmp_path / "numpy" / "scratch.json"
    command = [sys.executable, str(ROOT / "workflow" / "scripts" / "train.py"), "--framework", "numpy"]
    command += ["--variant", "scratch", "--dataset", str(arrays), "--metadata", str(metadata), "--output", str(output)]
    settings = {"epochs": 20, "warmup_epochs": 2, "repeats": 1}
    subprocess.run([*command, "--settings", json.dumps(settings)], check=True, capture_output=True, timeout=120)
    earlier = output.read_bytes()
    schema = json.loads((ROOT / "workflow" / "schemas" / "result.schema.json").read_text())
    jsonschema.validate(json.loads(earlier), schema)  # every result holds its memory, valid against the schema
    # Any Python process holds more than 1 MB: the limit is crossed at the first check.
    failed = subprocess.run(
        [*command, "--settings", json.dumps({**settings, "memory_limit_mb": 1})], capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert "MemoryLimitExceeded: numpy/scratch: peak resident memory" in failed.stderr
    assert "exceeds memory_limit_mb = 1 MB" in failed.stderr
    assert output.read_bytes() == earlier
    assert sorted(p.name for p in output.parent.iterdir()) == ["scratch.json"]  # no temporary file left


def test_keras_s_set_random_seed_imports_tensorflow_whatever_the_backend():
    """Why keras_torch and keras_jax hold TensorFlow's few hundred MB (docs/memory.md): the harness seeds them with
    keras.utils.set_random_seed, which imports TensorFlow wherever it is installed."""
    script = (
        "import os, sys; os.environ['KERAS_BACKEND'] = 'torch'; import keras; "
        "before = 'tensorflow' in sys.modules; keras.utils.set_random_seed(0); "
        "print(before, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.split() == ["False", "True"]
