"""Rule `bench_train`: one framework's benchmark variants on one dataset, their repeats interleaved.

A plain command-line script, like train.py: numpy, the framework and the standard library only.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit import cli, workloads  # noqa: E402
from tale_of_two.fit.data import atomic_write_json, load_metadata  # noqa: E402
from tale_of_two.fit.harness import fit_runs_interleaved, settings_from_dict, spread  # noqa: E402


def compute_bound(result: dict, d: int) -> dict:
    """The MLP step's FLOPs from its shapes, and numpy's matrix products of those shapes timed here, in this process."""
    n, hidden = result["dataset"]["n"], result["settings"]["hidden"]
    seconds = workloads.matmul_seconds(n, d, hidden)
    return {
        "flops_per_step": workloads.flops_per_step(n, d, hidden),
        "parameters": workloads.parameter_count(d, hidden),
        "matmul_s": spread(seconds),
        "passes": len(seconds),
    }


def main(argv=None) -> None:
    parser = cli.parser(__doc__, variant=False)
    parser.add_argument("--runs", required=True, help="{variant: effective training settings}, as JSON")
    parser.add_argument("--output", required=True, help="{'results': [one result per variant]} .json to write")
    parser.add_argument(
        "--compute-bound",
        action="store_true",
        help="MLP runs (the width axis): also time numpy's matrix products of the step's shapes, after the fits",
    )
    args = parser.parse_args(argv)
    runs = {variant: settings_from_dict(settings) for variant, settings in json.loads(args.runs).items()}
    results = fit_runs_interleaved(args.framework, runs, args.dataset, args.metadata)
    if args.compute_bound:
        d = load_metadata(args.metadata)["d"]
        bounds = {}  # runs of one width share their shapes: measured once per network
        for result in results:
            key = json.dumps(result["settings"]["hidden"])
            bounds.setdefault(key, compute_bound(result, d))
            result["compute_bound"] = bounds[key]
    atomic_write_json(args.output, {"results": results})
    for result in results:
        epoch = result["timings"]["epoch_s"]["median"]
        print(f"{args.framework}/{result['variant']}: {result['status']}, median epoch {epoch} s")


if __name__ == "__main__":
    main()
