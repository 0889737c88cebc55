"""This process's memory: what is resident, what an aim leaves for tiles and bands, and
handing freed memory back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable

DEFAULT_MAX_MEMORY = 1 << 30  # bytes the process's peak aims for: interpreter, models and input included
MIN_WORKING_MEMORY = 64 << 20  # tiles and bands get at least this, even when the rest already fills the aim


def resident_bytes() -> int:
    """This process's resident memory now (Linux's /proc; 0 where it is not available)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim  # glibc only
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give memory that torch and numpy have freed back to the system. glibc keeps freed blocks
    for reuse, and as tiles of different shapes come and go they fragment its heap, so without
    this the resident size creeps up (measured: about 100 MB given back after each band of a
    1024 x 1024 input at x4)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def working_memory(max_memory: int) -> int:
    """What ``max_memory`` (the process's aim) leaves for tiles and bands once what is resident
    now (interpreter, libraries, models, the input) is counted, so the peak does not grow with
    the input."""
    return max(max_memory - resident_bytes(), MIN_WORKING_MEMORY)
