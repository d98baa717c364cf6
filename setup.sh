#!/usr/bin/env bash
# Creates .venv with the locked environment of requirements.lock (Linux x86_64, Python 3.11 to 3.13).
# Safe to rerun.
#   ./setup.sh           the pipeline's environment
#   ./setup.sh --tests   also Debian's chromium (the test that opens the HTML report in a browser) and g++
#   ./setup.sh --era NAME  also .venv-NAME: an era of config/config.yaml's `eras.environments`, its Python and
#                        requirements file (pyenv's or PYTHON3X's Python 3.X); repeatable
#   ./setup.sh --then    the same as --era then: the article's 2020 versions (requirements-then.txt), Python 3.8
# Env: PYTHON=/path/to/python3.X picks the interpreter (default: the first of python3, python3.13,
# python3.12, python3.11 that is supported).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
with_tests=false
eras=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tests) with_tests=true ;;
        --then) eras+=(then) ;;
        --era)
            [ $# -gt 1 ] || { echo "setup.sh: --era needs a name (an era of config/config.yaml)" >&2; exit 2; }
            eras+=("$2")
            shift
            ;;
        *) echo "setup.sh: unknown option $1 (known: --tests, --era NAME, --then)" >&2; exit 2 ;;
    esac
    shift
done
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
for era in "${eras[@]}"; do
    .venv/bin/python workflow/scripts/era_environment.py --era "$era" || die "--era $era: not built (see above)"
done
