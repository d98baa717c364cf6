#!/usr/bin/env bash
# Creates .venv with the pinned environment of requirements.txt (Python 3.11). Safe to rerun.
#   ./setup.sh           the pipeline's environment
#   ./setup.sh --tests   also Debian's chromium, for the test that opens the HTML report in a browser
#   ./setup.sh --then    also .venv-then: the article's 2020 versions (requirements-then.txt) on a Python 3.8
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
python=${PYTHON:-python3}
with_browser=false
with_then=false
for argument in "$@"; do
    case "$argument" in
        --tests) with_browser=true ;;
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

if ! "$python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    echo "setup.sh: needs Python 3.11 as '$python' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
        # Debian ships venv separately.
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        "$python" -m venv .venv
    fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
if $with_browser && ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        echo "setup.sh: install Debian's chromium (sudo apt-get install chromium) for the browser test" >&2
    fi
fi
echo "setup.sh: environment ready in .venv ($(.venv/bin/snakemake --version | head -1 | sed 's/^/snakemake /'))"
if $with_then; then
    setup_then
fi
