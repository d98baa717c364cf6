"""Rule `bench_train`: one framework's benchmark variants on one dataset, their repeats interleaved.

A plain command-line script, like train.py: numpy, the framework and the standard library only.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit import cli  # noqa: E402
from tale_of_two.fit.data import atomic_write_json  # noqa: E402
from tale_of_two.fit.harness import fit_runs_interleaved, settings_from_dict  # noqa: E402


def main(argv=None) -> None:
    parser = cli.parser(__doc__, variant=False)
    parser.add_argument("--runs", required=True, help="{variant: effective training settings}, as JSON")
    parser.add_argument("--output", required=True, help="{'results': [one result per variant]} .json to write")
    args = parser.parse_args(argv)
    runs = {variant: settings_from_dict(settings) for variant, settings in json.loads(args.runs).items()}
    results = fit_runs_interleaved(args.framework, runs, args.dataset, args.metadata)
    atomic_write_json(args.output, {"results": results})
    for result in results:
        epoch = result["timings"]["epoch_s"]["median"]
        print(f"{args.framework}/{result['variant']}: {result['status']}, median epoch {epoch} s")


if __name__ == "__main__":
    main()
