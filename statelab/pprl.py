"""Privacy-preserving record linkage: Bloom-filter encodings of names, compared with the Dice coefficient.

Agencies in a multi-state collaborative can link records without showing each other names or SSNs. Exact
identifiers are replaced by keyed hashes (the dataset's ``hashed`` schema), which link only when the values
agree character for character. For names, which are often misspelled, each agency instead encodes the
name's q-grams (pairs of letters for ``q=2``) into a **Bloom filter**: a row of bits where each q-gram sets
a few positions chosen by keyed hash functions (Schnell, Bachteler and Reiher 2009, "Privacy-preserving
record linkage using Bloom filters", *BMC Medical Informatics and Decision Making* 9:41). Two names that
share most of their q-grams share most of their bits, and the **Dice coefficient** of the two bit rows
measures that overlap without revealing the names::

    from statelab import pprl
    a = pprl.bloom_encode(["JONATHAN SMITH"], key="the collaborative's secret")
    b = pprl.bloom_encode(["JONATHON SMITH"], key="the collaborative's secret")
    pprl.dice(a, b)          # close to 1: one letter differs

The positions a q-gram sets come from double hashing (Kirsch and Mitzenmacher 2006), as Schnell et al.
describe: two numbers ``h1`` and ``h2`` taken from HMAC-SHA256 of the q-gram under the secret ``key``, and
positions ``(h1 + i * h2) mod num_bits`` for ``i = 0 .. num_hashes - 1``. Without the key nobody can
compute which bits a name sets; with it, anyone can, which is why the key is held and distributed by a
trusted third party, never by an analyst (and never typed into a notebook outside a classroom).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import numpy as np

__all__ = ["PPRLError", "bloom_encode", "dice", "qgrams"]


class PPRLError(ValueError):
    """An invalid encoding parameter or value, or bit arrays that cannot be compared."""


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and pandas.NA (whose comparison raises) are missing
    except TypeError:
        return True


def qgrams(value: str, *, q: int = 2) -> list[str]:
    """The q-grams of one value, upper-cased and trimmed, padded with one space per side for each q - 1.

    Padding makes the first and last letters count as much as the others (Schnell et al. 2009 pad names the
    same way): ``qgrams("Ann")`` is ``[" A", "AN", "NN", "N "]``. A value shorter than ``q`` after padding
    gives no q-grams.

    Parameters
    ----------
    value : str
        The value to split.
    q : int, default 2
        Length of each q-gram (2: bigrams).

    Returns
    -------
    list of str
        The q-grams in order, repeats kept.

    Raises
    ------
    PPRLError
        If ``value`` is not a string or ``q`` is not a positive integer; the bad value is quoted.
    """
    if not isinstance(q, int) or isinstance(q, bool) or q < 1:
        raise PPRLError(f"q must be a positive integer, got {q!r}")
    if not isinstance(value, str):
        raise PPRLError(f"q-grams need a string, got {value!r} ({type(value).__name__}); convert it first")
    pad = " " * (q - 1)
    text = f"{pad}{value.strip().upper()}{pad}"
    return [text[i:i + q] for i in range(len(text) - q + 1)] if value.strip() else []


def _positions(gram: str, key: bytes, num_bits: int, num_hashes: int) -> np.ndarray:
    digest = hmac.new(key, gram.encode("utf-8"), hashlib.sha256).digest()
    h1 = int.from_bytes(digest[:8], "big")
    h2 = int.from_bytes(digest[8:16], "big") | 1  # odd, so the k positions do not all coincide
    return np.array([(h1 + i * h2) % num_bits for i in range(num_hashes)], dtype=np.int64)


def bloom_encode(values: Iterable, *, key: str | bytes, num_bits: int = 1000, num_hashes: int = 20,
                 q: int = 2) -> np.ndarray:
    """Encode each value's q-grams into a Bloom filter (a row of bits) under a secret key.

    Parameters
    ----------
    values : iterable of str
        One value per record, for example ``first_name || ' ' || last_name``. Values are upper-cased and
        trimmed before splitting (:func:`qgrams`). A missing value (``None``, NaN, ``pandas.NA``) gives a
        row of zeros, which :func:`dice` scores 0 against anything.
    key : str or bytes
        The shared secret every party encodes with. Different keys give unrelated bits.
    num_bits : int, default 1000
        Length of each filter (Schnell et al. 2009 used 1,000).
    num_hashes : int, default 20
        Bit positions set per q-gram (Schnell et al. 2009 tried 15 to 50).
    q : int, default 2
        q-gram length (2: bigrams).

    Returns
    -------
    numpy.ndarray of bool, shape (len(values), num_bits)
        One filter per value, in order.

    Raises
    ------
    PPRLError
        If the key is empty or not text, a size is not a positive integer, or a value is not a string;
        the bad value is quoted.

    Examples
    --------
    >>> bits = bloom_encode(["ANN", None], key="k", num_bits=64, num_hashes=2)
    >>> bits.shape, bool(bits[1].any())
    ((2, 64), False)
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or not key:
        raise PPRLError(f"key must be a non-empty string or bytes (the collaborative's secret), got {key!r}")
    for name, size in (("num_bits", num_bits), ("num_hashes", num_hashes), ("q", q)):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise PPRLError(f"{name} must be a positive integer, got {size!r}")
    if isinstance(values, (str, bytes)):
        raise PPRLError(f"values must be a list of values, one per record, not the single string {values!r}")
    values = list(values)
    out = np.zeros((len(values), num_bits), dtype=bool)
    # A few hundred distinct bigrams make up every name: hash each once, then set all bits in one step.
    gram_ids: dict[str, int] = {}
    rows, grams = [], []
    for row, value in enumerate(values):
        if _is_missing(value):
            continue
        if not isinstance(value, str):
            raise PPRLError(f"value {value!r} in row {row} is a {type(value).__name__}, not a string")
        ids = [gram_ids.setdefault(g, len(gram_ids)) for g in qgrams(value, q=q)]
        grams.extend(ids)
        rows.extend([row] * len(ids))
    if grams:
        table = np.stack([_positions(g, key, num_bits, num_hashes) for g in gram_ids])
        out[np.repeat(np.asarray(rows), num_hashes), table[np.asarray(grams)].ravel()] = True
    return out


def dice(a, b) -> float | np.ndarray:
    """Dice coefficient of Bloom filters: 2 |a AND b| / (|a| + |b|), between 0 (no common bit) and 1.

    Parameters
    ----------
    a, b : array-like of bool
        Two filters of the same length (1-D), or two arrays of filters with the same shape (2-D), compared
        row by row: row ``i`` of ``a`` with row ``i`` of ``b``.

    Returns
    -------
    float or numpy.ndarray of float
        The coefficient, one per row for 2-D input. Two empty filters (both values missing) score 0: no
        evidence is not agreement.

    Raises
    ------
    PPRLError
        If the shapes differ or the arrays are not 1-D or 2-D; the shapes are quoted.

    Examples
    --------
    >>> dice([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise PPRLError(f"dice compares filters of the same shape, 1-D or 2-D; got {a.shape} and {b.shape}")
    common = np.count_nonzero(a & b, axis=-1)
    total = np.count_nonzero(a, axis=-1) + np.count_nonzero(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 2.0 * common / np.maximum(total, 1), 0.0)
    return float(out) if a.ndim == 1 else out

