"""Rules `profile_run` and `profile_era`: a Markdown profile of where one (framework, variant)'s epochs spend
their time (and with --json, the same figures as JSON).

A plain command-line script, like train.py (numpy, the framework and the standard library only), so that
it runs unchanged under the image's own Python inside the official framework containers.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.fit import cli  # noqa: E402
from tale_of_two.fit.data import atomic_write_bytes, atomic_write_json  # noqa: E402
from tale_of_two.fit.harness import settings_from_dict  # noqa: E402
from tale_of_two.fit.profiling import as_document, profile_run, to_markdown  # noqa: E402


def main(argv=None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--settings", required=True, help="effective training settings, as JSON")
    parser.add_argument("--epochs", required=True, type=int, help="epochs to profile, after the warm-up")
    parser.add_argument("--output", required=True, help="profile .md to write")
    parser.add_argument("--json", metavar="PATH", help="also write the profile's figures as JSON")
    parser.add_argument("--xla-dump", metavar="DIR", help="XLA's dump folder (JAX, TensorFlow's jit_compile)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    settings = settings_from_dict(json.loads(args.settings))
    result = profile_run(
        args.framework, args.variant, args.dataset, args.metadata, settings, args.epochs, args.xla_dump
    )
    if args.json:
        atomic_write_json(args.json, as_document(result))
    atomic_write_bytes(args.output, to_markdown(result).encode())


if __name__ == "__main__":
    main()
