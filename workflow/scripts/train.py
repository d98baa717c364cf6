"""Rules `train` and `train_era`: fit one (framework, variant) on the dataset and write its result file;
with --era, the result also records the era of the interpreter running it.

A plain command-line script (numpy, the framework and the standard library only), so that it runs
unchanged under the image's own Python inside the official framework containers.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit import cli  # noqa: E402
from tale_of_two.fit.data import atomic_write_json  # noqa: E402
from tale_of_two.fit.harness import fit_run, headline, settings_from_dict  # noqa: E402


def main(argv=None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--settings", required=True, help="effective training settings, as JSON")
    parser.add_argument("--output", required=True, help="result .json to write")
    parser.add_argument("--era", help="record the result as this era's, a key of eras.environments (rule train_era)")
    args = parser.parse_args(argv)
    settings = settings_from_dict(json.loads(args.settings))
    result = fit_run(args.framework, args.variant, args.dataset, args.metadata, settings, args.era)
    atomic_write_json(args.output, result)
    print(headline(result))


if __name__ == "__main__":
    main()
