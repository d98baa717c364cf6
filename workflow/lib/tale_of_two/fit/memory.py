"""This process's resident memory, as the OS counts it (standard library only: no psutil in the framework images).

Resident memory (RSS) is every page of the process held in RAM: the interpreter, each imported library's code and
data pages it touched (counted in full even where another process shares them), every thread's stack, the heap
with the allocators' caches (pymalloc's arenas, glibc's, a framework's own pool), the arrays and the compiled code.
It does not count pages swapped out, child processes (Inductor's compile workers), or memory on a GPU.
"""

from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # not Unix: no getrusage
    resource = None

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def peak_rss_bytes() -> int | None:
    """The process's high-water mark of resident memory so far; it only grows, so a figure read after a stage
    covers every stage before it.

    On Linux, /proc/self/status's VmHWM: the peak of this program's own memory since it started. Not getrusage's
    ru_maxrss there: Linux carries that across exec, so a process started by a large one (pytest, Snakemake, through
    a shell that execs) begins at its parent's size (seen: 86 MB at the first line of a script started from a
    pytest worker). Elsewhere, ru_maxrss (bytes on macOS); None without either.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def rss_bytes() -> int | None:
    """Resident memory now: /proc/self/statm's second field, in pages (Linux); None where there is no /proc."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except OSError:
        return None
