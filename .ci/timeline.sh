#!/usr/bin/env bash
# CI stage: `snakemake timeline` over a reduced timeline (tests/timeline): the article's 2020 versions, one
# release between (tf2.6-torch1.10: TensorFlow 2.6, torch 1.10, Python 3.8) and today's, on the tiny config.
#
#   1. ./setup.sh --era then (already there after .ci/then.sh: a check of its pins);
#   2. tests/timeline: the pipeline builds .venv-tf2.6-torch1.10 itself (2.8 GB from PyPI), trains and profiles
#      the five runs in each era, writes the timeline, and reuses it all when run again;
#   3. tools/era_wheels.py: every era's pins resolve from wheels for its Python (uv, from PyPI; about 90 s).
#
# Needs .venv (./setup.sh) and pyenv's (or $PYTHON38's) Python 3.8. The full timeline (7 eras, 27 GB) is a
# local command: docs/timeline.md.
# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'status=$?; [ $status = 0 ] && say "passed in $(($(date +%s) - STARTED_AT)) s"; exit $status' EXIT

say "./setup.sh --era then"
./setup.sh --era then || die "./setup.sh --era then"
TALE_OF_TWO_TIMELINE=1 .venv/bin/python -m pytest tests/timeline -n 0 -v -p no:cacheprovider -rs --no-skips ||
    die "tests/timeline (exit $?)"
# Every era's pins have wheels for its Python (or are sources that need no compiler), as tools/lock.py checks.
.venv/bin/python tools/era_wheels.py || die "tools/era_wheels.py"
