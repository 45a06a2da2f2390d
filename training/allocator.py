"""Keeping freed memory for reuse: the C allocator's settings for training (CPython on Linux only).

glibc serves every block over its dynamic threshold (128 kB at first) with a fresh ``mmap`` and
unmaps it when freed. A cnn step makes dozens of 1–13 MB temporaries (patches, feature maps and
their gradients), so each one page-faults its memory in again, a fault per 4 kB page: measured
by ``benchmarks/cnn_profile.py``, that took about 40 % of a single-threaded step. With the mmap
threshold at its maximum (32 MB) and the heap never trimmed, freed blocks are reused as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``mallopt`` parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems (HEAP_MAX_SIZE / 2): larger blocks are still mapped
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc to keep blocks up to 32 MB in its heap and never give the heap back; True when it
    took the settings, False elsewhere (another C library, another system: nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # the trim threshold as the largest int: the heap's free top is never released
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
