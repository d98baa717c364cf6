"""Inputs, corrupted: the dataset's .npz, its .json and a result file, truncated, bit-flipped and spliced at
hundreds of offsets, each read by the code the pipeline reads it with. Every case either gives a named error
(the message starts with the file's path) or, where the file still parses and passes its checks, exactly
the summary of the intact file. Another exception, or another summary, is a lost case and fails the test.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import ROOT

from tale_of_two.analysis import optima, summary
from tale_of_two.fit import data, harness

pytestmark = pytest.mark.faults

CASES = {"truncate": 70, "flip": 100, "splice": 50}  # per file: 220


def corruptions(original: bytes, seed: int):
    """(name, bytes) for every case: truncations (the ends and spread offsets), single bit flips, splices
    (a stretch cut out, a stretch copied over another, a stretch repeated)."""
    rng = np.random.default_rng(seed)
    size = len(original)
    cuts = sorted({0, 1, size - 1, size // 2, *rng.integers(1, size - 1, CASES["truncate"] * 2).tolist()})
    for offset in (cuts[:: max(1, len(cuts) // CASES["truncate"])] + [size - 1])[: CASES["truncate"]]:
        yield f"truncate@{offset}", original[:offset]
    for _ in range(CASES["flip"]):
        offset, bit = int(rng.integers(size)), int(rng.integers(8))
        flipped = bytearray(original)
        flipped[offset] ^= 1 << bit
        yield f"flip@{offset}.{bit}", bytes(flipped)
    for index in range(CASES["splice"]):
        a, b = sorted(rng.integers(0, size, 2).tolist())
        b = max(b, a + 1)
        c = int(rng.integers(0, size))
        kind = index % 3
        if kind == 0:
            yield f"cut@{a}:{b}", original[:a] + original[b:]
        elif kind == 1:
            stretch = original[c : c + (b - a)]
            yield f"copy@{c}->{a}:{b}", original[:a] + stretch + original[a + len(stretch) :]
        else:
            yield f"repeat@{a}:{b}", original[:b] + original[a:b] + original[b:]


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    """A dataset, its metadata and a numpy run's result, as the pipeline writes them."""
    folder = tmp_path_factory.mktemp("intact")
    spec = data.DatasetSpec(n=50, seed=3)
    arrays = data.generate(spec)
    data.save_npz(folder / "dataset.npz", arrays)
    data.atomic_write_json(folder / "dataset.json", optima.dataset_metadata(spec, arrays))
    settings = harness.Settings(epochs=8, warmup_epochs=1, repeats=1, lr=0.01)
    result = harness.fit_run("numpy", "scratch", str(folder / "dataset.npz"), str(folder / "dataset.json"), settings)
    data.atomic_write_json(folder / "result.json", result)
    metadata = data.load_metadata(folder / "dataset.json")
    schema = json.loads((ROOT / "workflow/schemas/result.schema.json").read_text())
    return {"folder": folder, "arrays": arrays, "metadata": metadata, "schema": schema}


def summary_of(result: dict, metadata: dict, arrays: dict) -> str:
    """What the summary rule writes for one result: the table (as CSV) and its Markdown page."""
    table = summary.summarize([result], metadata, arrays["x"], arrays["y"])
    return table.to_csv(index=False) + summary.to_markdown(table, metadata)


def read_dataset(path, intact):
    arrays = data.load(path, expected_sha256=intact["metadata"]["sha256"])
    return summary_of(load_intact_result(intact), intact["metadata"], arrays)


def read_metadata(path, intact):
    return summary_of(load_intact_result(intact), data.load_metadata(path), intact["arrays"])


def read_result(path, intact):
    result = summary.load_result(path, intact["schema"], intact["metadata"]["sha256"])
    return summary_of(result, intact["metadata"], intact["arrays"])


def load_intact_result(intact):
    return summary.load_result(intact["folder"] / "result.json", intact["schema"], intact["metadata"]["sha256"])


# The named errors, as docs/faults.md counts them.
KINDS = [
    "not a readable dataset",
    "missing array",
    "must be equal, non-empty 1-d arrays",
    "contains NaN or infinite values",
    "does not match its metadata",
    "not valid JSON",
    "not a JSON object",
    "not dataset metadata",
    "content does not match its content_sha256",
    "fails the result schema",
    "the result is stale",
]


def kind_of(message: str) -> str:
    return next((kind for kind in KINDS if kind in message), "other")


ERRORS = {"dataset.npz": data.DatasetError, "dataset.json": data.DatasetError, "result.json": summary.ResultError}
READERS = {"dataset.npz": read_dataset, "dataset.json": read_metadata, "result.json": read_result}


@pytest.mark.parametrize("name", list(READERS))
def test_every_corrupted_file_is_named_or_read_as_the_intact_one(name, intact, tmp_path):
    original = (intact["folder"] / name).read_bytes()
    expected = READERS[name](intact["folder"] / name, intact)
    counts, lost, kinds = Counter(), [], Counter()
    for case, corrupted in corruptions(original, seed=len(name)):
        path = tmp_path / name
        path.write_bytes(corrupted)
        counts["tried"] += 1
        try:
            got = READERS[name](path, intact)
        except ERRORS[name] as error:
            message = str(error)
            if message.startswith(f"{path}: "):
                counts["rejected"] += 1
                kinds[kind_of(message)] += 1
            else:
                lost.append(f"{case}: unnamed error: {message[:200]}")
            continue
        except Exception as error:  # a traceback, not a message
            lost.append(f"{case}: {type(error).__name__}: {str(error)[:200]}")
            continue
        if got == expected:
            counts["same"] += 1
        else:
            lost.append(f"{case}: read without error, but the summary differs")
    print(
        f"\nFAULTS file {name}: tried {counts['tried']}, rejected {counts['rejected']}, "
        f"same {counts['same']}, lost {len(lost)}; errors: {dict(kinds.most_common())}",
        flush=True,
    )
    assert not lost, "\n".join(lost)
    assert counts["tried"] >= 200
