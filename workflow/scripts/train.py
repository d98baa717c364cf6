"""Rules `train` and `profile_run`: fit one (framework, variant) on the dataset and write its result file,
or, with --profile, a Markdown profile of where its epochs' time goes.

A plain command-line script (numpy, the framework and the standard library only), so that it runs
unchanged under the image's own Python inside the official framework containers.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit.data import atomic_write_bytes, atomic_write_json  # noqa: E402
from tale_of_two.fit.harness import headline, settings_from_dict, train  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--dataset", required=True, help="dataset .npz")
    parser.add_argument("--metadata", required=True, help="dataset metadata .json (holds its sha256)")
    parser.add_argument("--settings", required=True, help="effective training settings, as JSON")
    parser.add_argument("--output", required=True, help="result .json to write (with --profile: the profile .md)")
    parser.add_argument("--profile", type=int, metavar="EPOCHS", help="profile EPOCHS epochs after the warm-up")
    parser.add_argument("--xla-dump", metavar="DIR", help="with --profile: XLA's dump folder")
    args = parser.parse_args(argv)
    settings = settings_from_dict(json.loads(args.settings))
    if args.profile:
        from tale_of_two.fit import profiling

        markdown = profiling.run(
            args.framework, args.variant, args.dataset, args.metadata, settings, args.profile, args.xla_dump
        )
        atomic_write_bytes(args.output, markdown.encode())
        return
    result = train(args.framework, args.variant, args.dataset, args.metadata, settings)
    atomic_write_json(args.output, result)
    print(headline(result))


if __name__ == "__main__":
    main()
