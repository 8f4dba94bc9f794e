"""How the process treats its heap around big builds (an index, a router): the cyclic garbage
collector and the pages glibc keeps.

A 10,000-skill index is millions of small, long-lived, acyclic objects. Left to the default
thresholds, the collector scans the growing heap again and again while it is built (a third of a
warm start), and after it, every full collection scans it all again (hundreds of ms, landing on
some keystroke).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Building many acyclic objects: collect rarely meanwhile (reference counting frees what is
    dropped). Not disabled outright: re-enabling would leave every object made meanwhile in the
    young generation, and the next collection would scan them all at once."""
    before = gc.get_threshold()
    if before[0] and before[0] < 100_000:
        gc.set_threshold(100_000, max(before[1], 50), max(before[2], 1000))
    try:
        yield
    finally:
        gc.set_threshold(*before)


FREEZE_MIN = 5_000  # objects of builds over this many documents are frozen (see `built`)


def built(documents: int) -> None:
    """A build of this many documents just ended. A big one is frozen out of the collector's
    reach: built under `few_collections`, millions of its objects wait in the young generations,
    and the next collection, landing in whatever runs next (a lint, a keystroke), would scan them
    all (half a second at 10,000 skills). Small builds are left alone: freezing keeps reference
    cycles alive until `settle(collect=True)`, which a process building many small indexes (a
    test run) would pile up."""
    if documents >= FREEZE_MIN:
        gc.freeze()


def settle(collect: bool = False) -> None:
    """After a big build: move what was built out of the collector's reach and give the pages
    used meanwhile back to the system.

    Frozen objects are still freed by reference counting when dropped. `collect`: a rebuild's old
    index may hold reference cycles, collected once before the new freeze. glibc keeps freed heap
    pages (parse texts, per-document counts) otherwise, and the server lives for hours."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): nothing to give back
        ctypes.CDLL(None).malloc_trim(0)
