"""Time a no-op rerun: `snakemake --cores 2` when every output is up to date (goal: under 3 s).

Run from the project root after a complete run:  .venv/bin/python tools/time_noop_rerun.py [repeats]
"""

import statistics
import subprocess
import sys
import time

GOAL_S = 3.0


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    command = [sys.executable, "-m", "snakemake", "--cores", "2"]
    check = subprocess.run([*command, "--dry-run"], capture_output=True, text=True)
    if "Nothing to be done" not in check.stdout + check.stderr:
        print("outputs are not up to date: run the pipeline first", file=sys.stderr)
        return 1
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    verdict = "met" if median < GOAL_S else "not met"
    print(
        f"no-op rerun of `{' '.join(command[2:])}`, {repeats} repeats: median {median:.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}); goal under {GOAL_S:.0f} s: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
