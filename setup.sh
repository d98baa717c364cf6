#!/usr/bin/env bash
# Creates .venv with the locked environment of requirements.lock (Linux x86_64, Python 3.11 to 3.13).
# Safe to rerun.
#   ./setup.sh           the pipeline's environment
#   ./setup.sh --tests   also Debian's chromium (the test that opens the HTML report in a browser) and g++
#   ./setup.sh --then    also .venv-then: the article's 2020 versions (requirements-then.txt) on a Python 3.8
# Env: PYTHON=/path/to/python3.X picks the interpreter (default: the first of python3, python3.13,
# python3.12, python3.11 that is supported).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
with_tests=false
with_then=false
for argument in "$@"; do
    case "$argument" in
        --tests) with_tests=true ;;
        --then) with_then=true ;;
        *) echo "setup.sh: unknown option $argument (known: --tests, --then)" >&2; exit 2 ;;
    esac
done
# .venv-then from the first Python 3.8 found: $PYTHON38, else python3.8 on PATH, else pyenv's newest 3.8.
setup_then() {
    local candidate found=
    local candidates=("${PYTHON38:-}")
    if [ -z "${PYTHON38:-}" ]; then
        candidates=(python3.8)
        if command -v pyenv >/dev/null; then
            mapfile -t -O 1 candidates < <(ls -d "$(pyenv root)"/versions/3.8*/bin/python3.8 2>/dev/null | sort -rV)
        fi
    fi
    for candidate in "${candidates[@]}"; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 8)' 2>/dev/null; then
            found=$candidate
            break
        fi
    done
    if [ -z "$found" ]; then
        echo "setup.sh --then: needs a Python 3.8 (tried: ${candidates[*]}). Get one with" \
            "\`pyenv install 3.8\` (or your package manager's python3.8), or set PYTHON38=/path/to/python3.8" >&2
        exit 1
    fi
    [ -x .venv-then/bin/python ] || "$found" -m venv .venv-then
    .venv-then/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-then.txt
    echo "setup.sh: 2020 environment ready in .venv-then ($(.venv-then/bin/python -c 'import sys, tensorflow as tf, torch
print(f"Python {sys.version.split()[0]}, TensorFlow {tf.__version__} (Keras {tf.keras.__version__}), torch {torch.__version__}")' 2>/dev/null))"
}

say() { echo "setup.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}
as_root_with_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

# Python 3.11 to 3.13: every pin of requirements.lock has a Linux x86_64 wheel for each (tools/lock.py
# checks it when it writes the lock). snakemake 9.27.1 needs >= 3.11; tensorflow-cpu 2.21.0 has no
# wheel for 3.14. pyproject.toml's requires-python says the same.
supported() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }
if [ -x .venv/bin/python ]; then
    supported .venv/bin/python ||
        die ".venv has Python $(.venv/bin/python -V 2>&1); supported: 3.11 to 3.13. Remove .venv and rerun"
elif [ -n "${PYTHON:-}" ]; then
    python=$PYTHON
    supported "$python" || die "PYTHON=$python is not Python 3.11, 3.12 or 3.13"
else
    python=
    for candidate in python3 python3.13 python3.12 python3.11; do
        if supported "$candidate"; then
            python=$candidate
            break
        fi
    done
    [ -n "$python" ] || die "needs Python 3.11, 3.12 or 3.13 (python3 is $(python3 -V 2>&1)); set PYTHON=/path/to/python3.X"
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
        # Debian ships venv separately.
        rm -rf .venv
        if as_root_with_apt; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        "$python" -m venv .venv
    fi
fi

# The lock must hold requirements.txt's pins (it is generated from them).
while read -r pin; do
    name=$(echo "${pin%%==*}" | tr '[:upper:]' '[:lower:]' | tr '_.' '--')
    grep -q "^$name==${pin#*==} " requirements.lock ||
        die "requirements.lock lacks $pin of requirements.txt: refresh it with \`python3 tools/lock.py\`"
done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' requirements.txt | grep '==')

pip=(.venv/bin/python -m pip --disable-pip-version-check)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
lock_entries() { # requirements.lock's entries (pin and hashes) of the packages whose name matches $1
    awk -v pin="^($1)==" '$0 ~ pin {entry = 1} entry {print} entry && !/\\$/ {entry = 0}' requirements.lock
}
# connection-pool is a source archive only: build it with the locked setuptools (and wheel), not
# unpinned ones: pip does not check the hashes of what build isolation installs.
lock_entries 'setuptools|wheel|packaging' >"$scratch/build.txt"
"${pip[@]}" install --quiet --require-hashes -r "$scratch/build.txt"

# torch: the CPU build where pip can get it (a local wheel, or the PyTorch CPU index in
# PIP_EXTRA_INDEX_URL), else PyPI's build, which on Linux is the CUDA one and needs
# requirements-cuda.lock as well (several GB). requirements.lock's torch line admits both. The CPU
# build is installed first, pinned to its +cpu label: with both in reach, pip in hash-checking mode
# prefers a file whose index publishes its hash (PyPI's) over one that does not (a local wheel).
torch_version=$(sed -n 's/^torch==\([^ ]*\) .*/\1/p' requirements.lock)
installed_torch=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
locks=(-r requirements.lock)
if [ "$installed_torch" = "$torch_version+cpu" ]; then
    torch_build="torch $torch_version+cpu"
elif "${pip[@]}" install --dry-run --quiet --no-deps --ignore-installed "torch==$torch_version+cpu" >/dev/null 2>&1; then
    torch_build="torch $torch_version+cpu"
    lock_entries torch | sed "1s/^torch==$torch_version /torch==$torch_version+cpu /" >"$scratch/torch-cpu.txt"
    "${pip[@]}" install --quiet --require-hashes --no-deps -r "$scratch/torch-cpu.txt"
else
    torch_build="torch $torch_version from PyPI (with CUDA)"
    locks+=(-r requirements-cuda.lock)
    say "no torch $torch_version+cpu wheel in reach: installing PyPI's torch and its CUDA libraries (several GB)."
    say "For the CPU build: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu ./setup.sh"
fi
"${pip[@]}" install --quiet --require-hashes --no-build-isolation "${locks[@]}"

# torch.compile (Inductor) on the CPU compiles C++ with $CXX, else g++. Without one, the compiled
# torch variants cannot run.
cxx=${CXX:-g++}
apt_packages=()
if ! "$cxx" --version >/dev/null 2>&1; then
    if $with_tests && as_root_with_apt && [ -z "${CXX:-}" ]; then
        apt_packages+=(g++)
    else
        say "warning: no working C++ compiler ('$cxx'): torch.compile needs one on the CPU, so the compiled"
        say "torch variants cannot run. Install g++ (Debian/Ubuntu: sudo apt-get install g++) or set CXX."
    fi
fi
if $with_tests && ! command -v chromium >/dev/null; then
    if as_root_with_apt; then
        apt_packages+=(chromium)
    else
        say "install Debian's chromium (sudo apt-get install chromium) for the browser test"
    fi
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
echo "setup.sh: environment ready in .venv (Python $(.venv/bin/python -c 'import platform; print(platform.python_version())'), $torch_build, $(.venv/bin/snakemake --version | head -1 | sed 's/^/snakemake /'))"
if $with_then; then
    setup_then
fi
