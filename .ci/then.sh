#!/usr/bin/env bash
# CI stage: the article's runs on its own 2020 versions, beside today's (`snakemake then_vs_now`).
#
#   1. ./setup.sh --then with pyenv's newest Python 3.8 (or $PYTHON38): .venv-then, TensorFlow 2.3.4
#      (Keras 2.4), torch 1.7.1 and the rest of requirements-then.txt (about 2.2 GB, 90 s from PyPI);
#   2. tests/then: `snakemake then_vs_now` on the tiny config for real, checking that both eras ran on
#      their own versions, that their losses agree within float32 tolerance epoch by epoch (the maths is
#      the same), that each 2020 result names the APIs it filled in, and that every idiom outcome came
#      from running it (consistent with its error and evidence, and the same when run again).
#
# Needs .venv (./setup.sh) and a Python 3.8 (pyenv's on CI machines). Exits non-zero on any failure or
# skipped test. Measured: 10.4 min on a fresh clone (4 min building .venv-then, 6 min of tests) on the
# shared 2-core development machine at load average 6-11 (3.9 min of CPU time: user 200 s, system 35 s).
# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'status=$?; [ $status = 0 ] && say "passed in $(($(date +%s) - STARTED_AT)) s"; exit $status' EXIT

say "./setup.sh --then"
./setup.sh --then || die "./setup.sh --then"

TALE_OF_TWO_THEN_PYTHON=$PWD/.venv-then/bin/python .venv/bin/python -m pytest tests/then -n 0 -v -p no:cacheprovider -rs \
    --no-skips || die "tests/then (exit $?)"
