"""Rule `idioms`: run the 2020 idioms and today's replacements in this interpreter's era; write what happened.

numpy, TensorFlow, torch and the standard library only; Python 3.8 or later (it runs in both eras).
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ start-up notices are not the idioms'
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit.data import atomic_write_json, load_dataset  # noqa: E402
from tale_of_two.fit.idioms import run_idioms  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--era", required=True, choices=["then", "now"])
    parser.add_argument("--dataset", required=True, help="dataset .npz")
    parser.add_argument("--metadata", required=True, help="dataset metadata .json (holds its sha256)")
    parser.add_argument("--output", required=True, help="idioms .json to write")
    args = parser.parse_args(argv)
    _, arrays = load_dataset(args.dataset, args.metadata)
    record = {"era": args.era, **run_idioms(arrays["x"], arrays["y"])}
    atomic_write_json(args.output, record)
    for row in record["idioms"]:
        print(f"{args.era}: {row['idiom']} ({row['code']}): {row['outcome']} {row['error'] or ''}")


if __name__ == "__main__":
    main()
