"""The HTML report: built by the real `snakemake --report` on the tiny config, then opened in a real browser.

Its texts are reStructuredText that Snakemake renders with Jinja, then docutils; docutils writes any problem it
finds into the page itself as a "System Message" box, and prints it while the report is built.
"""

import re
import shutil

import jinja2
import pytest
import yaml
from conftest import ROOT, RUNS, TINY_ARGS, chromium, headless, snakemake
from docutils.core import publish_parts
from snakemake.utils import update_config

from tale_of_two.config import check_config

pytestmark = pytest.mark.e2e
CATEGORIES = ["Data", "Fits", "Convergence", "Timing", "APIs", "Runs"]
# What docutils writes into a page, and prints, for a problem in the reStructuredText it renders.
DOCUTILS_PROBLEM = re.compile(r"System Message|system-message|\((INFO/1|WARNING/2|ERROR/3|SEVERE/4)\)")
CAPTIONS = sorted((ROOT / "workflow/report").glob("*.rst"))


@pytest.fixture(scope="module")
def report_build(tiny_run, tmp_path_factory):
    workdir = shutil.copytree(tiny_run, tmp_path_factory.mktemp("report") / "tiny", symlinks=True)
    done = snakemake(workdir, *TINY_ARGS, "--report", "results/report.html")
    return workdir / "results/report.html", done.stdout + done.stderr


@pytest.fixture(scope="module")
def report(report_build):
    return report_build[0]


class Config:
    """What a caption sees as `snakemake`: the config (captions use nothing else)."""

    def __init__(self, config):
        self.config = config


@pytest.mark.parametrize("configfile", [None, "tests/config/tiny.yaml", "config/converged.yaml"])
@pytest.mark.parametrize("caption", CAPTIONS, ids=lambda path: path.name)
def test_every_caption_renders_without_a_docutils_problem(caption, configfile):
    """Each text as Snakemake renders it (its Jinja settings, then docutils), also the benchmark's, which the
    default report leaves out."""
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    if configfile:
        update_config(config, yaml.safe_load((ROOT / configfile).read_text()))  # as Snakemake merges --configfile
    check_config(config)  # as common.smk does: every default filled in, as the report sees the config
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    text = environment.from_string(caption.read_text()).render(snakemake=Config(config), categories={}, files=[])
    html = publish_parts(text, writer="html")["html_body"]
    assert not DOCUTILS_PROBLEM.search(html), html


def test_report_build_prints_no_docutils_warning(report_build):
    _, output = report_build
    assert not DOCUTILS_PROBLEM.search(output), output[-4000:]


def test_no_page_or_caption_of_the_report_holds_a_system_message(report):
    """The file holds every page and caption (the browser draws them from it on demand)."""
    page = report.read_text()
    assert "Starting values" in page and "own initialiser" in page
    assert not DOCUTILS_PROBLEM.search(page), DOCUTILS_PROBLEM.search(page)


def test_report_holds_every_run_every_plot_and_the_tables(report):
    page = report.read_text()
    for run in RUNS:
        assert f"results/runs/{run}.json" in page, run
    for item in [
        "results/plots/fits.png",
        "results/plots/losses.png",
        "results/plots/timings.png",
        "results/plots/suboptimality.png",
        "results/time_to_solution.md",
        "results/summary.html",
        "results/api_differences.html",
        "results/equivalence.md",
        "results/data/dataset.json",
    ]:
        assert item in page, item


def test_report_renders_in_a_browser(report, tmp_path):
    binary = chromium()
    dom = headless(binary, tmp_path / "user-data", "--dump-dom", report.as_uri()).stdout
    rendered = re.sub(r"<script\b.*?</script>", "", dom, flags=re.DOTALL)  # what the page's code drew, not its data
    for category in CATEGORIES:
        assert re.search(rf">\s*{category}\s*<", rendered), category
    for run in RUNS:
        assert run in rendered, run  # the workflow description lists the runs it rendered
    assert "50 points" in rendered  # config values reached the rendered description
    assert not DOCUTILS_PROBLEM.search(rendered), DOCUTILS_PROBLEM.search(rendered)
    # The list of runs is inside its bullet (a Jinja loop once broke it out of the list).
    assert re.search(r"<li>\s*<strong>Runs</strong>: one job per framework and variant: <tt[^>]*>torch/", rendered)
    assert re.search(r"<li>\s*<strong>Starting values</strong>: <tt[^>]*>torch/layers</tt>", rendered)
    screenshot = tmp_path / "report.png"
    headless(binary, tmp_path / "user-data-2", "--window-size=1400,1000", f"--screenshot={screenshot}", report.as_uri())
    assert screenshot.stat().st_size > 20_000  # kept under the test's tmp dir for a human to look at
