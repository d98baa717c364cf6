"""The code style the project keeps: ruff for Python, snakefmt for the Snakefiles."""

import re
import subprocess
import sys

from conftest import ROOT


def tool(*command):
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_check_is_clean():
    done = tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_applied():
    done = tool("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_snakefiles_are_formatted():
    done = tool("snakefmt", "--check", "Snakefile", "workflow/rules")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_script_is_named_after_the_rule_that_runs_it():
    # Rules train_era and profile_era run train.py and profile_run.py (in an era's interpreter); `use rule
    # dataset as bench_dataset` runs the dataset's; bench_width_train runs bench_train.py with --compute-bound.
    shared = {("train_era", "train"), ("profile_era", "profile_run"), ("bench_width_train", "bench_train")}
    common = (ROOT / "workflow/rules/common.smk").read_text()
    constants = dict(re.findall(r'^(\w+_SCRIPT) = WORKFLOW_DIR / "scripts" / "(\w+)\.py"', common, re.MULTILINE))
    ran = set()
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule \w+:)", path.read_text()):
            rule = re.match(r"rule (\w+):", block)
            if rule is None:
                continue
            scripts = re.findall(r'scripts(?:/|" / ")(\w+)\.py', block)
            scripts += [constants[name] for name in re.findall(r"\b(\w+_SCRIPT)\b", block)]
            ran |= set(scripts)
            named = [(rule.group(1), script) for script in scripts if script != rule.group(1)]
            assert set(named) <= shared, f"{path.name}: scripts not named after their rule: {named}"
    assert ran == {path.stem for path in (ROOT / "workflow/scripts").glob("*.py")}, "scripts no rule runs"


def test_no_script_shadows_a_standard_module():
    # train.py runs as `python workflow/scripts/train.py`: its folder comes first on sys.path, and a
    # `code.py` there was imported by pdb (through TensorFlow's absl) in place of the standard `code`.
    shadowing = sorted(p.name for p in (ROOT / "workflow/scripts").glob("*.py") if p.stem in sys.stdlib_module_names)
    assert not shadowing, shadowing
