"""Rule `train_era`: one run of the then-vs-now comparison, by train.py, in the era of the interpreter running it.

Takes train.py's arguments, plus `--era` (`then` or `now`); the result file gets an `era` record: its
name and the versions that ran it (Python, numpy, the framework and, with TensorFlow, its Keras).
numpy, the framework and the standard library only; Python 3.8 or later.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # train.py, beside this script
import train  # noqa: E402  (puts workflow/lib on sys.path)

from tale_of_two.fit.data import atomic_write_json  # noqa: E402
from tale_of_two.fit.era import versions  # noqa: E402


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--era", required=True, choices=["then", "now"])
    parser.add_argument("--output", required=True)
    args, _ = parser.parse_known_args(argv)
    era_at = argv.index("--era")
    train.main(argv[:era_at] + argv[era_at + 2 :])
    result = json.loads(Path(args.output).read_text())
    result["era"] = {"name": args.era, "versions": versions()}
    atomic_write_json(args.output, result)
    print(f"era {args.era}: {json.dumps(result['era'])}")


if __name__ == "__main__":
    main()
