#!/usr/bin/env bash
# CI stage: the fault and bad-input trials by the hundred (docs/faults.md), left out of the default test run:
# fuzzed configs (Hypothesis), corrupted dataset, metadata and result files, SIGKILLs at random moments, two
# snakemakes at once, a full disk. Each trial prints its figures; a skipped trial fails the stage.
#
# Needs .venv (./setup.sh), root for the full-disk trial's small tmpfs (else it injects the failure).
# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'status=$?; [ $status = 0 ] && say "passed in $(($(date +%s) - STARTED_AT)) s"; exit $status' EXIT

.venv/bin/python -m pytest -m faults -n 0 -v -s -p no:cacheprovider -rs --no-skips || die "pytest -m faults (exit $?)"
