# Sourced first by every CI stage (.ci/containers.sh, .ci/slurm.sh, .ci/then.sh):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# strict mode, the repository root as working directory, `say` (to stderr, with the stage's name and
# seconds since it started) and `die`, and the check that .venv exists. A stage runs its tests with
# `pytest --no-skips` (tests/conftest.py): a skipped test fails the stage, since it exists to run them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STAGE_NAME=$(basename "$0")
STARTED_AT=$(date +%s)
say() { echo "$STAGE_NAME [$(($(date +%s) - STARTED_AT))s]: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
[ -x .venv/bin/python ] || die ".venv is missing: run ./setup.sh first"
