"""The era record: which interpreter and versions ran a then_vs_now result."""

import json
import platform
import subprocess
import sys

import numpy as np
from conftest import ROOT

from tale_of_two.fit import era


def test_versions_name_the_frameworks_this_process_imported(monkeypatch):
    for name in ("torch", "tensorflow"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert era.versions() == {"python": platform.python_version(), "numpy": np.__version__}
    keras = type("Keras", (), {"__version__": "2.4.0"})
    monkeypatch.setitem(sys.modules, "tensorflow", type("TF", (), {"__version__": "2.3.4", "keras": keras}))
    monkeypatch.setitem(sys.modules, "torch", type("Torch", (), {"__version__": "1.7.1"}))
    assert era.versions() == {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": "1.7.1",
        "tensorflow": "2.3.4",
        "keras": "2.4.0",
    }


def test_train_py_with_era_writes_the_same_result_plus_its_era(tmp_path, arrays, metadata):
    from tale_of_two.fit.data import save_npz

    save_npz(tmp_path / "data.npz", arrays)
    (tmp_path / "data.json").write_text(json.dumps(metadata))
    settings = json.dumps({"epochs": 6, "warmup_epochs": 1, "repeats": 1})
    common = ["--framework", "numpy", "--variant", "scratch", "--dataset", str(tmp_path / "data.npz")]
    common += ["--metadata", str(tmp_path / "data.json"), "--settings", settings]
    scripts = ROOT / "workflow/scripts"
    for extra, output in (([], "plain.json"), (["--era", "then"], "era.json")):
        command = [
            sys.executable,
            str(scripts / "train.py"),
            *common[:2],
            *extra,
            *common[2:],
            "--output",
            str(tmp_path / output),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    plain, with_era = (json.loads((tmp_path / name).read_text()) for name in ("plain.json", "era.json"))
    versions = {"python": platform.python_version(), "numpy": np.__version__}  # numpy's run imports no framework
    assert with_era["era"] == {"name": "then", "versions": versions}
    assert with_era["loss_history"] == plain["loss_history"] and with_era["fitted"] == plain["fitted"]
    # content_sha256 seals each file's own content, which differs by its era.
    skip = ("timings", "memory", "finished_utc", "environment", "content_sha256")
    assert {k: v for k, v in with_era.items() if k not in ("era", *skip)} == {
        k: v for k, v in plain.items() if k not in skip
    }


def test_torch_before_1_8_notes_the_determinism_switch_it_lacked(monkeypatch):
    """torch 1.7.1 (the 2020 era) has torch.set_deterministic only: the note names what it stood in for."""
    import torch

    from tale_of_two.fit.frameworks import torch as torch_framework

    switched = []
    monkeypatch.delattr(torch, "use_deterministic_algorithms")
    monkeypatch.setattr(torch, "set_deterministic", switched.append, raising=False)
    runtime = torch_framework.configure("cpu", 1)
    assert switched == [True]
    assert runtime.notes == [
        "torch < 1.8 has no torch.use_deterministic_algorithms: used torch.set_deterministic(True)"
    ]
