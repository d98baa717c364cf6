"""Rule `era_environment` and `./setup.sh --era NAME`: build an era's environment, .venv-NAME, and its record.

    .venv/bin/python workflow/scripts/era_environment.py --era tf2.6-torch1.10 [--configfile config/config.yaml]

Which Python and requirements file: the era's entry in the config's `eras.environments`, or (the rule, which
has the config Snakemake runs with) --python-version and --requirements.
"""

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from tale_of_two.config import ROOT, ConfigError, Era, check_config, pinned_frameworks  # noqa: E402
from tale_of_two.eras import EraEnvironmentError, build  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--era", required=True, help="a key of eras.environments")
    parser.add_argument("--configfile", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--python-version", help="the era's Python, 3.X (with --requirements: not from the config)")
    parser.add_argument("--requirements", help="the era's requirements file, relative to the repository")
    parser.add_argument("--output", help="the record to write (default .venv-NAME/era.json)")
    args = parser.parse_args(argv)
    try:
        if args.requirements:
            frameworks = pinned_frameworks((ROOT / args.requirements).read_text())
            era = Era(args.era, args.requirements, args.python_version, None, None, None, frameworks)
        else:
            eras = check_config(yaml.safe_load(Path(args.configfile).read_text())).eras
            if args.era not in eras:
                raise ConfigError(f"--era {args.era}: no such era in eras.environments; known: {', '.join(eras)}")
            era = eras[args.era]
        build(era, ROOT, args.output and Path(args.output), log=lambda line: print(line, flush=True))
    except (ConfigError, EraEnvironmentError) as error:
        sys.exit(f"{Path(__file__).name}: {error}")


if __name__ == "__main__":
    main()
