"""docs/faults.md states the figures the fault trials printed: its table is tools/faults_table.py's, from
docs/faults.txt (the trials' FAULTS lines), and no trial lost a case."""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("faults_table", ROOT / "tools/faults_table.py")
faults_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faults_table)


def test_the_page_s_table_is_generated_from_the_trials_output():
    page = (ROOT / "docs/faults.md").read_text()
    rows = faults_table.parse((ROOT / "docs/faults.txt").read_text())
    assert page == faults_table.render(page, rows), "run tools/faults_table.py"
    labels = [row["label"] for row in rows]
    for kind in ("configs", "file dataset.npz", "file dataset.json", "file result.json", "kills", "two at once"):
        assert kind in labels
    assert all(row["counts"]["lost"] == 0 for row in rows)


def test_a_trial_s_line_becomes_a_row():
    line = "FAULTS file dataset.npz: tried 220, rejected 210, same 10, lost 0; errors: {'not a readable': 209}"
    (row,) = faults_table.parse("noise\n" + line + "\n")
    assert row["counts"] == {"tried": 220, "rejected": 210, "same": 10, "lost": 0}
    assert faults_table.table([row]).splitlines()[-1] == (
        "| file dataset.npz | 220 | 210 | same 10 | 0 | `pytest -m faults -n 0 -s tests/test_faults_files.py` |"
    )
