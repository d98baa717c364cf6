"""The era shim: a 2020 framework's missing APIs filled at import, and each fill recorded."""

import json
import os
import platform
import subprocess
import sys
import types

import numpy as np
import pytest
from conftest import ROOT

from tale_of_two import era


def fake_torch(**present):
    calls = []
    module = types.SimpleNamespace(set_deterministic=lambda on: calls.append(("set_deterministic", on)), **present)
    return module, calls


def test_torch_1_7_gets_its_own_name_for_the_determinism_switch_and_no_compile():
    torch, calls = fake_torch()
    gaps = era.fill_torch(torch)
    assert [gap["api"] for gap in gaps] == ["torch.use_deterministic_algorithms", "torch.compile"]
    assert gaps[0]["substitute"] == "torch.set_deterministic" and gaps[1]["substitute"] is None
    torch.use_deterministic_algorithms(True)  # what the framework module calls
    assert calls == [("set_deterministic", True)]
    assert not hasattr(torch, "compile")  # left missing: a compiled variant fails with torch's own error


def test_today_s_torch_needs_nothing():
    torch, _ = fake_torch(use_deterministic_algorithms=print, compile=print)
    assert era.fill_torch(torch) == []
    assert torch.use_deterministic_algorithms is print


def test_tensorflow_2_3_gets_seeding_and_op_determinism(monkeypatch):
    seeds = []
    tf = types.SimpleNamespace(
        keras=types.SimpleNamespace(utils=types.SimpleNamespace()),
        config=types.SimpleNamespace(experimental=types.SimpleNamespace()),
        random=types.SimpleNamespace(set_seed=seeds.append),
    )
    gaps = era.fill_tensorflow(tf)
    assert [gap["api"] for gap in gaps] == [
        "keras.utils.set_random_seed",
        "tf.config.experimental.enable_op_determinism",
    ]
    tf.keras.utils.set_random_seed(7)
    first = np.random.random()
    tf.keras.utils.set_random_seed(7)
    assert seeds == [7, 7] and np.random.random() == first  # numpy seeded as well
    monkeypatch.delenv("TF_DETERMINISTIC_OPS", raising=False)
    tf.config.experimental.enable_op_determinism()
    assert os.environ["TF_DETERMINISTIC_OPS"] == "1"


def test_gaps_are_filled_right_after_the_framework_is_imported(tmp_path, monkeypatch):
    (tmp_path / "fakeframework").mkdir()
    (tmp_path / "fakeframework/__init__.py").write_text("VERSION = '1.0'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    monkeypatch.setitem(era.FILLERS, "fakeframework", lambda module: seen.append(module.VERSION) or [{"api": "x"}])
    hooks_before = list(sys.meta_path)
    try:
        gaps = era.fill_gaps("fakeframework")
        assert gaps == [] and seen == []  # nothing yet: filled on import, timed with it
        import fakeframework  # noqa: F401

        assert seen == ["1.0"] and gaps == [{"api": "x"}]
        assert sys.meta_path == hooks_before  # the hook removes itself
        with pytest.raises(RuntimeError, match="already imported"):
            era.fill_gaps("fakeframework")
    finally:
        sys.modules.pop("fakeframework", None)
        sys.meta_path[:] = hooks_before


def test_a_framework_without_fillers_gets_no_gaps():
    assert era.fill_gaps("numpy") == []


def test_train_era_writes_train_py_s_result_plus_its_era(tmp_path, arrays, metadata):
    from tale_of_two.data import save_npz

    save_npz(tmp_path / "data.npz", arrays)
    (tmp_path / "data.json").write_text(json.dumps(metadata))
    settings = json.dumps({"epochs": 6, "warmup_epochs": 1, "repeats": 1})
    common = ["--framework", "numpy", "--variant", "scratch", "--dataset", str(tmp_path / "data.npz")]
    common += ["--metadata", str(tmp_path / "data.json"), "--settings", settings]
    scripts = ROOT / "workflow/scripts"
    for script, extra, output in (("train.py", [], "plain.json"), ("train_era.py", ["--era", "now"], "era.json")):
        command = [sys.executable, str(scripts / script), *extra, *common, "--output", str(tmp_path / output)]
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    plain, with_era = (json.loads((tmp_path / name).read_text()) for name in ("plain.json", "era.json"))
    versions = {"python": platform.python_version(), "numpy": np.__version__}  # numpy's run imports no framework
    assert with_era["era"] == {"name": "now", "versions": versions, "gaps": []}
    assert with_era["loss_history"] == plain["loss_history"] and with_era["fitted"] == plain["fitted"]
