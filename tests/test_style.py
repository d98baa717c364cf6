"""The code style the project keeps: ruff for Python, snakefmt for the Snakefiles."""

import subprocess
import sys

from conftest import ROOT


def run(*command):
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_check_is_clean():
    done = run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_applied():
    done = run("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_snakefiles_are_formatted():
    done = run("snakefmt", "--check", "Snakefile", "workflow/rules")
    assert done.returncode == 0, done.stdout + done.stderr
