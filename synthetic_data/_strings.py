"""Vectorized string padding and replacement that also accept empty arrays.

numpy 2.4's ``np.char.zfill``, ``ljust`` and ``replace`` raise on an empty array (they size the output
from the longest element). A small world can leave a column empty (no duplicate vendors, no certified
firms, a partition without students), so the generators call these instead.
"""

import numpy as np

__all__ = ["ljust", "replace", "zfill"]


def zfill(a, width):
    a = np.asarray(a)
    return np.char.zfill(a, width) if a.size else a.astype(f"U{width}")


def ljust(a, width):
    a = np.asarray(a)
    return np.char.ljust(a, width) if a.size else a.astype(f"U{width}")


def replace(a, old, new):
    a = np.asarray(a)
    return np.char.replace(a, old, new) if a.size else a
