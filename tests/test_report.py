"""The HTML report: built by the real `snakemake --report` on the tiny config, then opened in a real browser."""

import os
import re
import shutil
import subprocess

import pytest
from conftest import RUNS, TINY_ARGS, snakemake

pytestmark = pytest.mark.e2e
CATEGORIES = ["Data", "Fits", "Convergence", "Timing", "APIs", "Runs"]


@pytest.fixture(scope="module")
def report(tiny_run):
    snakemake(tiny_run, *TINY_ARGS, "--report", "results/report.html")
    return tiny_run / "results/report.html"


def test_report_holds_every_run_every_plot_and_the_tables(report):
    page = report.read_text()
    for run in RUNS:
        assert f"results/runs/{run}.json" in page, run
    for item in [
        "results/plots/fits.png",
        "results/plots/losses.png",
        "results/plots/timings.png",
        "results/summary.html",
        "results/api_differences.html",
        "results/equivalence.md",
        "results/data/dataset.json",
    ]:
        assert item in page, item


def chromium():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def headless(binary, profile, *args):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=180)


def test_report_renders_in_a_browser(report, tmp_path):
    binary = chromium()
    dom = headless(binary, tmp_path / "profile", "--dump-dom", report.as_uri()).stdout
    rendered = re.sub(r"<script\b.*?</script>", "", dom, flags=re.DOTALL)  # what the page's code drew, not its data
    for category in CATEGORIES:
        assert re.search(rf">\s*{category}\s*<", rendered), category
    for run in RUNS:
        assert run in rendered, run  # the workflow description lists the runs it rendered
    assert "50 points" in rendered  # config values reached the rendered description
    screenshot = tmp_path / "report.png"
    headless(binary, tmp_path / "profile2", "--window-size=1400,1000", f"--screenshot={screenshot}", report.as_uri())
    assert screenshot.stat().st_size > 20_000  # kept under the test's tmp dir for a human to look at
