"""A full disk: every writer the pipeline uses (bytes, JSON, the dataset's .npz), on a filesystem too small for
what it writes. A write that does not fit raises an OSError naming the file, leaves no temporary file, and
leaves the file it would have replaced as it was; a write that fits is whole.

The filesystem is a 64 KiB tmpfs where this process may mount one (root, as in CI's container); elsewhere the
failure is injected into the writer's last step (os.fsync), after the data went out: the same code path.
"""

from __future__ import annotations

import errno
import json
import subprocess

import numpy as np
import pytest

from tale_of_two.fit import data

pytestmark = pytest.mark.faults

SIZE = 64 * 1024


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """(folder, how): a folder on a 64 KiB filesystem, or, where none can be mounted, one whose writes fail."""
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        command = ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)]
        mounted = subprocess.run(command, capture_output=True).returncode == 0
    except FileNotFoundError:  # no mount command
        mounted = False
    if mounted:
        yield folder, "tmpfs"
        subprocess.run(["umount", str(folder)], check=True)
        return

    real_fsync, room = data.os.fsync, {"left": SIZE}

    def fsync(fd):  # a disk that holds SIZE bytes in all: what goes past it fails
        written = data.os.fstat(fd).st_size
        if written > room["left"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        room["left"] -= written
        real_fsync(fd)

    monkeypatch.setattr(data.os, "fsync", fsync)
    yield folder, "injected"


WRITERS = {
    "bytes": lambda path, size: data.atomic_write_bytes(path, bytes(range(256)) * (size // 256)),
    "json": lambda path, size: data.atomic_write_json(path, {"values": [0.125] * (size // 7)}),
    "npz": lambda path, size: data.save_npz(
        path, {"x": np.ones(size // 8, "float32"), "y": np.ones(size // 8, "float32")}
    ),
}


def test_writes_that_do_not_fit_name_the_file_and_leave_the_old_one(small_disk):
    folder, how = small_disk
    counts = {"tried": 0, "rejected": 0, "written": 0}
    sizes = [1024, 8 * 1024, 30 * 1024, 60 * 1024, 100 * 1024, 1024 * 1024]
    for kind, write in WRITERS.items():
        for size in sizes:
            target = folder / f"{kind}-{size}.out"
            target.write_bytes(b"old")  # the file a rerun replaces
            counts["tried"] += 1
            try:
                write(target, size)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
                assert str(target) in str(error) and "No space left on device" in str(error), str(error)
                assert target.read_bytes() == b"old", "the old file was damaged"
                counts["rejected"] += 1
            else:
                if kind == "json":
                    assert len(json.loads(target.read_text())["values"]) == size // 7
                elif kind == "npz":
                    assert len(data.load(target)["x"]) == size // 8
                else:
                    assert len(target.read_bytes()) == 256 * (size // 256)
                counts["written"] += 1
            leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
            assert not leftovers, f"half-written temporary files left: {leftovers}"
            target.unlink()
    print(
        f"\nFAULTS full disk ({how}, {SIZE // 1024} KiB): tried {counts['tried']}, rejected {counts['rejected']}, "
        f"written whole {counts['written']}, lost 0",
        flush=True,
    )
    assert counts["rejected"] >= len(WRITERS) * 2 and counts["written"] >= len(WRITERS)  # both outcomes exercised
