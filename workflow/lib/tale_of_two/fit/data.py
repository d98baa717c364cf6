"""The regression dataset: generated once, checksummed, loaded safely.

numpy and the standard library only: training jobs import this inside the
official framework images.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARRAY_NAMES = ("x", "y")


class DatasetError(ValueError):
    """A dataset file that is missing, unreadable or not what its metadata says."""


@dataclass(frozen=True)
class DatasetSpec:
    """`y = w_true * x + b_true + N(0, noise_std)`, `x ~ U(x_low, x_high)`."""

    n: int = 200
    w_true: float = 0.1
    b_true: float = 0.3
    x_low: float = -10.0
    x_high: float = 10.0
    noise_std: float = 0.15
    dtype: str = "float32"
    seed: int = 42


def generate(spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Draw x, then the noise, from one seeded generator: same spec, same bytes."""
    rng = np.random.default_rng(spec.seed)
    x = rng.uniform(spec.x_low, spec.x_high, spec.n)
    # + 0.0 makes noise_std -0.0 (which the schema's minimum 0 admits) 0.0: numpy's normal rejects a negative zero.
    noise = rng.normal(0.0, spec.noise_std + 0.0, spec.n)
    y = spec.w_true * x + spec.b_true + noise
    return {"x": x.astype(spec.dtype), "y": y.astype(spec.dtype)}


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """Digest of names, dtypes, shapes and bytes: identifies the data, not the zip."""
    digest = hashlib.sha256()
    for name in ARRAY_NAMES:
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Closed-form least squares in float64: the optimum of every MSE fit."""
    design = np.column_stack([x.astype(np.float64), np.ones(len(x))])
    (w, b), *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    return float(w), float(b)


def _readable(tmp: str) -> None:
    """mkstemp makes files only the owner can read; give the final file the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    with _atomic(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def _atomic(path: str | os.PathLike):
    """A file handle whose content replaces `path` when the block ends, and only then, all of it or nothing.

    A write that fails (a full disk, a quota) removes its temporary file, leaves `path` as it was, and
    raises an OSError that names `path`: "No space left on device" alone does not say which output failed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, f"{path}: could not start writing ({error.strerror or error})") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OSError(error.errno, f"{path}: not written ({error.strerror or error}); left as it was") from error
        raise


# Every JSON document the pipeline writes ends with the sha256 of the rest: a file that changed after it was
# written (a flipped bit, a spliced copy) is named as such, where it would otherwise still parse and pass its
# schema with a wrong number in it. Documents without it (made by hand) are read as they are.
SEAL = "content_sha256"


def content_sha256(document: dict) -> str:
    """Digest of a document's content: its canonical JSON (sorted keys, no spaces), without its own seal."""
    content = {key: value for key, value in document.items() if key != SEAL}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sealed(document: dict) -> dict:
    """The document with its seal last (a document read back and changed is sealed again)."""
    content = {key: value for key, value in document.items() if key != SEAL}
    return {**content, SEAL: content_sha256(content)}


def atomic_write_json(path: str | os.PathLike, document: dict) -> None:
    text = json.dumps(sealed(document), indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())


def read_json(path: str | os.PathLike, error: type = DatasetError, check_seal: bool = True) -> dict:
    """A JSON object from a file, or `error` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:  # JSONDecodeError is a ValueError
        raise error(f"{path}: not valid JSON ({type(problem).__name__}: {problem})") from None
    if not isinstance(document, dict):
        raise error(f"{path}: not a JSON object (a {type(document).__name__})")
    if check_seal:
        check_sealed(document, path, error)
    return document


def check_sealed(document: dict, path, error: type = DatasetError) -> None:
    """A sealed document whose content no longer matches its seal changed after it was written."""
    if SEAL in document and document[SEAL] != content_sha256(document):
        raise error(
            f"{path}: content does not match its {SEAL} ({str(document[SEAL])[:12]}...): the file changed "
            "after it was written; rerun the job that makes it"
        )


def load_metadata(path: str | os.PathLike) -> dict:
    """The dataset's metadata (dataset.json), checked: readable, unchanged since written, with its checksum."""
    metadata = read_json(path, DatasetError)
    sha = metadata.get("sha256")
    if not (isinstance(sha, str) and len(sha) == 64) or not isinstance(metadata.get("spec"), dict):
        raise DatasetError(f"{path}: not dataset metadata: needs `sha256` (64 hex digits) and `spec`")
    return metadata


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    with _atomic(path) as handle:
        np.savez(handle, **{name: arrays[name] for name in ARRAY_NAMES})


def load(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, np.ndarray]:
    """Load x and y (never pickles); check shapes and, if given, the checksum."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [name for name in ARRAY_NAMES if name not in npz.files]
            if missing:
                raise DatasetError(f"{path}: missing array(s) {missing}; found {npz.files}")
            arrays = {name: npz[name] for name in ARRAY_NAMES}
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path}: dataset file not found") from None
    except Exception as error:  # zipfile, format and value errors all mean "corrupt"
        raise DatasetError(f"{path}: not a readable dataset ({type(error).__name__}: {error})") from None
    x, y = arrays["x"], arrays["y"]
    # x: (n,) for the line, (n, d) for the MLP (tale_of_two.fit.workloads); y: (n,)
    if x.ndim not in (1, 2) or y.ndim != 1 or len(x) != len(y) or x.size == 0:
        raise DatasetError(
            f"{path}: x and y must be equal, non-empty 1-d arrays (x of shape (n, d) for the MLP); "
            f"got {x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DatasetError(f"{path}: contains NaN or infinite values")
    if expected_sha256 is not None and arrays_sha256(arrays) != expected_sha256:
        raise DatasetError(
            f"{path}: sha256 {arrays_sha256(arrays)} does not match its metadata ({expected_sha256}); "
            "the file changed after it was made: rerun the dataset rule"
        )
    return arrays


def load_dataset(arrays_path: str | os.PathLike, metadata_path: str | os.PathLike) -> tuple[dict, dict]:
    """The dataset's metadata (checked by `load_metadata`), then its arrays, checked against the sha256 it holds."""
    metadata = load_metadata(metadata_path)
    return metadata, load(arrays_path, expected_sha256=metadata["sha256"])
