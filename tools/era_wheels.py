"""Check that every era's pins install from wheels for its Python, as tools/lock.py checks requirements.lock's.

Run from the project root:  .venv/bin/python tools/era_wheels.py [ERA ...]   (needs network to PyPI)

For each era of config/config.yaml's `eras.environments` that the pipeline builds (those with a
`python_version`), uv resolves its requirements file for that Python on Linux x86_64 with binaries only. A pin
with no wheel there is named, and allowed only if its source archive installs without a compiler
(PURE_PYTHON_SOURCES): the check then goes on with that one built from source. Exits 1 if an era does not resolve.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "workflow" / "lib"))

from lock import INDEX, PLATFORM, install_uv  # noqa: E402

from tale_of_two.config import check_config  # noqa: E402

NO_WHEEL = re.compile(r"Because ([A-Za-z0-9._-]+)==(\S+) has no usable wheels")
# Old pins published as source archives only (TensorFlow 2.6's clang 5.0, termcolor 1.1.0, wrapt 1.12.1), that
# install without a compiler: pure Python, or (wrapt) a C extension that is optional, its pure-Python fallback used
# when it does not build.
PURE_PYTHON_SOURCES = {"clang", "termcolor", "wrapt"}


def resolve(uv: str, requirements: Path, python: str, source_only: list[str]) -> subprocess.CompletedProcess:
    command = [uv, "pip", "compile", str(requirements), "--quiet", "--no-config", "--default-index", INDEX]
    command += ["--python-platform", PLATFORM, "--python-version", python, "--no-annotate", "--no-header"]
    command += ["--only-binary", ":all:", *(f"--no-binary={name}" for name in source_only)]
    return subprocess.run(command, capture_output=True, text=True)


def check(uv: str, name: str, requirements: Path, python: str) -> bool:
    source_only: list[str] = []
    while True:
        done = resolve(uv, requirements, python, source_only)
        if done.returncode == 0:
            pins = len([line for line in done.stdout.splitlines() if "==" in line])
            sources = f"; source only, no compiler needed: {', '.join(source_only)}" if source_only else ""
            print(f"era {name} (Python {python}): {pins} pins resolve from wheels{sources}")
            return True
        found = NO_WHEEL.search(done.stderr)
        if not found or found.group(1).lower() not in PURE_PYTHON_SOURCES or found.group(1) in source_only:
            print(f"era {name} (Python {python}): does not resolve:\n{done.stderr.strip()}", file=sys.stderr)
            return False
        source_only.append(found.group(1))


def main(names: list[str]) -> int:
    eras = check_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())).eras
    chosen = [eras[name] for name in names] if names else [era for era in eras.values() if era.python_version]
    with tempfile.TemporaryDirectory() as work:
        uv = install_uv(Path(work) / "uv")
        results = [check(uv, era.name, ROOT / era.requirements, era.python_version) for era in chosen]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
