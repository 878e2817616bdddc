"""Seeds: one root seed, one independent stream per (table, partition).

Streams are derived by *name*, not by call order, so adding a table never
changes the bytes of another, and partition ``k`` gets the same stream whatever
the number of worker processes.
"""

import zlib

import numpy as np

from ._errors import SeedError

__all__ = ["check_seed", "stream"]


def check_seed(seed):
    """Return ``seed`` as a non-negative ``int`` or raise :class:`SeedError`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SeedError(f"seed must be a non-negative integer, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise SeedError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def stream(seed, table, partition=0):
    """A ``numpy.random.Generator`` for ``table``'s ``partition`` under root ``seed``.

    The child ``SeedSequence`` is spawned from the root with a spawn key made of
    a stable hash of the table name and the partition number.
    """
    key = (zlib.crc32(table.encode("utf-8")), int(partition))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(check_seed(seed), spawn_key=key)))
