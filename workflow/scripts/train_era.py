"""Rule `train_era`: one run of the then-vs-now comparison, by train.py, in the era of the interpreter running it.

Takes train.py's arguments, plus `--era` (`then` or `now`). Before the framework is imported, the APIs
it lacks that today's training code calls are filled with their 2020 equivalents (tale_of_two.era);
the result file gets an `era` record: its name, the versions that ran, and every gap filled or left.
numpy, the framework and the standard library only; Python 3.8 or later.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # train.py, beside this script
import train  # noqa: E402  (puts workflow/lib on sys.path)

from tale_of_two.data import atomic_write_json  # noqa: E402
from tale_of_two.era import fill_gaps, versions  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--era", required=True, choices=["then", "now"])
    parser.add_argument("--framework", required=True)
    parser.add_argument("--output", required=True)
    args, _ = parser.parse_known_args(argv)
    rest = [argument for argument in (sys.argv[1:] if argv is None else argv)]
    era_at = rest.index("--era")
    del rest[era_at : era_at + 2]
    gaps = fill_gaps(args.framework)
    train.main(rest)
    result = json.loads(Path(args.output).read_text())
    result["era"] = {"name": args.era, "versions": versions(), "gaps": gaps}
    atomic_write_json(args.output, result)
    print(f"era {args.era}: {json.dumps(result['era'])}")


if __name__ == "__main__":
    main()
