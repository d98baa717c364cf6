"""README's "What lands in results/" names every file the pipeline's targets write there."""

import re

from conftest import ROOT, snakemake

TARGETS = ("all", "profile", "bench")  # then_vs_now needs a 2020 Python: tests/test_then_workflow.py


def readme_patterns() -> list[re.Pattern]:
    """The table's paths as patterns: `{a,b}` either, `{name}` one path part, a trailing `/` a folder."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What lands in `results/`", 1)[1].split("\n## ", 1)[0]
    patterns = []
    for row in re.findall(r"^\| (.+?) \|", section, flags=re.MULTILINE):
        for path in re.findall(r"`(results/[^`]+)`", row):
            regex = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
            regex = re.sub(r"\{([^{}]*,[^{}]*)\}", lambda m: "(" + "|".join(m.group(1).split(",")) + ")", regex)
            regex = re.sub(r"\{\w+\}", "[^/]+", regex)
            patterns.append(re.compile(regex + (".*" if path.endswith("/") else "")))
    return patterns


def test_every_output_of_the_targets_is_in_the_readme_table(tmp_path):
    done = snakemake(tmp_path, "--summary", *TARGETS)
    outputs = {line.split("\t")[0] for line in done.stdout.splitlines() if line.startswith("results/")}
    assert len(outputs) > 20, done.stdout[-2000:]
    patterns = readme_patterns()
    missing = sorted(path for path in outputs if not any(p.fullmatch(path) for p in patterns))
    assert not missing, f"written under results/ but not in README's table: {missing}"
