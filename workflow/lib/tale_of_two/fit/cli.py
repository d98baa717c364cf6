"""The command line every training script shares (train.py, profile_run.py, bench_train.py).

Standard library only; Python 3.8 (the scripts run in the framework images and the 2020 era).
"""

import argparse


def parser(doc: str, variant: bool = True) -> argparse.ArgumentParser:
    """A parser described by the first line of `doc`, taking the framework, its variant (unless `variant`
    is False) and the dataset with the metadata that vouches for it."""
    found = argparse.ArgumentParser(description=doc.splitlines()[0])
    found.add_argument("--framework", required=True)
    if variant:
        found.add_argument("--variant", required=True)
    found.add_argument("--dataset", required=True, help="dataset .npz")
    found.add_argument("--metadata", required=True, help="dataset metadata .json (holds its sha256)")
    return found
