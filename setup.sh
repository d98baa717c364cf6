#!/usr/bin/env bash
# Creates .venv with the pinned environment of requirements.txt (Python 3.11). Safe to rerun.
#   ./setup.sh           the pipeline's environment
#   ./setup.sh --tests   also Debian's chromium, for the test that opens the HTML report in a browser
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
python=${PYTHON:-python3}
with_browser=false
for argument in "$@"; do
    case "$argument" in
        --tests) with_browser=true ;;
        *) echo "setup.sh: unknown option $argument (known: --tests)" >&2; exit 2 ;;
    esac
done

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
