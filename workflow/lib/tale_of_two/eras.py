"""An era's environment: .venv-NAME built from its Python and requirements file, and a record of what it holds.

`./setup.sh --era NAME` and the pipeline's rule `era_environment` (on demand, before the era's first job) both
call `build`: it makes .venv-NAME with the era's Python (3.X) if there is none, installs the era's requirements
file into it (pip leaves what is already there), and writes .venv-NAME/era.json: the Python and framework
versions installed, the environment's size on disk, how long the build took. Rebuilding an era whose venv is
complete costs pip's check of its pins, a few seconds.

Where each Python 3.X comes from, first found: $PYTHON3X (PYTHON38, PYTHON311), `python3.X` on PATH, pyenv's
newest 3.X.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from tale_of_two.config import Era
from tale_of_two.fit.data import atomic_write_json

RECORD = "era.json"
# Each era's environment takes 1 to 6 GB (torch from PyPI brings CUDA's libraries: measured in docs/timeline.md);
# refuse to start a build with less than this free, rather than fail half-way with a full disk.
MIN_FREE_BYTES = 8 * 1024**3


class EraEnvironmentError(RuntimeError):
    """An era's environment cannot be built here; the message says why and what to do."""


def environment_dir(era: Era, root: Path) -> Path:
    return root / f".venv-{era.name}"


def record_path(era: Era, root: Path) -> Path:
    return environment_dir(era, root) / RECORD


def interpreter(value: str, root: str | os.PathLike) -> str:
    """An era's `python`: a path (relative ones from the repository root) or, without a slash, a command on PATH."""
    if "/" not in value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else Path(root) / path)


def missing_interpreter_message(era: str, path: str) -> str:
    return (
        f"eras.environments.{era}.python: {path} does not exist. Point it at an interpreter with the era's "
        f"requirements installed, or remove the key: the pipeline then builds .venv-{era} itself"
    )


def python_variable(version: str) -> str:
    """The variable that names a Python 3.X to build with: PYTHON38 for 3.8, PYTHON311 for 3.11."""
    return "PYTHON" + version.replace(".", "")


def candidates(version: str) -> list[str]:
    """Where a Python `version` may be, in the order tried."""
    chosen = os.environ.get(python_variable(version))
    if chosen:
        return [chosen]
    found = [f"python{version}"]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        versions = Path(root) / "versions"
        if versions.is_dir():
            installed = [p for p in versions.glob(f"{version}.*") if p.name.split(".")[2].isdigit()]
            installed.sort(key=lambda p: int(p.name.split(".")[2]), reverse=True)
            found += [str(p / "bin" / f"python{version}") for p in installed]
    return found


def python_version_of(interpreter: str) -> str | None:
    """'3.X' of an interpreter, or None if it does not run."""
    try:
        done = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def base_python(version: str) -> str:
    """A Python `version` to make a venv with, or an error that says where we looked and how to get one."""
    tried = candidates(version)
    for interpreter in tried:
        if python_version_of(interpreter) == version:
            return interpreter
    raise EraEnvironmentError(
        f"needs a Python {version} (tried: {', '.join(tried)}). Get one with `pyenv install {version}` (or your "
        f"package manager's python{version}), or set {python_variable(version)}=/path/to/python{version}"
    )


def size_on_disk(directory: Path) -> int:
    """Bytes the files under `directory` take, each hard-linked file once, symbolic links not followed."""
    seen, total = set(), 0
    for folder, _, files in os.walk(directory):
        for name in files:
            status = os.lstat(os.path.join(folder, name))
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_blocks * 512
    return total


INSTALLED = """\
import importlib.metadata as m, json, platform
found = {"python": platform.python_version()}
for name in ("numpy", "torch", "tensorflow", "tensorflow-cpu", "keras"):
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps(found))
"""


def build(era: Era, root: Path, record: Path | None = None, log=print) -> dict:
    """Make (or complete) .venv-NAME for `era` under `root`, and write its record (default .venv-NAME/era.json)."""
    if not era.built_here:
        raise EraEnvironmentError(
            f"eras.environments.{era.name}: its python is set ({era.python}): that interpreter is used as it is, "
            "nothing to build"
        )
    directory, started = environment_dir(era, root), time.perf_counter()
    python = directory / "bin" / "python"
    created = not python.exists()
    if not created:
        have = python_version_of(str(python))
        if have != era.python_version:
            raise EraEnvironmentError(
                f"{directory} has Python {have}, era {era.name} needs {era.python_version}: remove {directory} "
                "and build it again"
            )
    else:
        free = shutil.disk_usage(root).free
        if free < MIN_FREE_BYTES:
            raise EraEnvironmentError(
                f"era {era.name}: {free / 1024**3:.1f} GB free under {root}; an era's environment takes up to 6 GB "
                f"and a build needs {MIN_FREE_BYTES / 1024**3:.0f} GB: free some space (remove a .venv-* you no "
                "longer need) and build it again"
            )
        base = base_python(era.python_version)
        log(f"era {era.name}: making {directory} with {base}")
        subprocess.run([base, "-m", "venv", str(directory)], check=True)
    requirements = root / era.requirements
    log(f"era {era.name}: installing {era.requirements} (several GB from PyPI the first time)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        check=True,
    )
    installed = json.loads(subprocess.run([str(python), "-c", INSTALLED], capture_output=True, text=True).stdout)
    for framework, version in era.frameworks.items():
        package = (
            "torch" if framework == "torch" else ("tensorflow-cpu" if "tensorflow-cpu" in installed else framework)
        )
        if installed.get(package, "").split("+")[0] != version:
            raise EraEnvironmentError(
                f"era {era.name}: {directory} has {package} {installed.get(package)}, {era.requirements} pins {version}"
            )
    result = {
        "era": era.name,
        "python": str(python),
        "installed": installed,
        "requirements": era.requirements,
        "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
        "size_bytes": size_on_disk(directory),
        "created": created,  # False: the venv was there, this call checked (and completed) its pins
        "build_s": time.perf_counter() - started,
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    atomic_write_json(record or record_path(era, root), result)
    log(f"era {era.name}: ready, {result['size_bytes'] / 1e9:.2f} GB in {directory}")
    return result
