"""Synthetic SSNs and the identifier noise agencies' files carry.

SSNs come only from never-issued ranges (area 000, 666 and 900-999). Noise is
drawn per *identity* (a job, a case, a student) so that, as in real files, the
same mistake repeats on every row that identity produces.
"""

import numpy as np

from ._reference import nickname_arrays
from ._rng import stream
from ._strings import ljust, zfill

__all__ = ["make_ssns", "is_never_issued", "apply_noise", "NOISE_FIELDS"]

# Never-issued areas, in the order people's SSNs fill them (900 first: 000 and 666 look like typos).
_AREAS = np.array(list(range(900, 1000)) + [0, 666], dtype=np.int64)
_GROUPS = 99          # 01-99
_SERIALS = 9999       # 0001-9999
_AREA_CODES = _GROUPS * _SERIALS
_SPACE = len(_AREAS) * _AREA_CODES
# Placeholders seen in real files, restricted to never-issued areas.
_PLACEHOLDERS = np.array(["999999999", "000000000", "999999998", "666666666"])


def make_ssns(person_ids, *, seed, codes=None, as_bytes=False):
    """Unique SSN strings for distinct ``person_ids`` (1, 2, ...), all in never-issued areas.

    People are spread over the first ``codes`` SSNs of the never-issued space (areas 900, 901,
    ...; group and serial within each): person ``i`` maps to ``(a * i + b) mod codes`` with ``a``
    coprime to ``codes``, so no two people share an SSN whatever partition they are made in.
    Real SSNs are issued densely, so a mistyped one often belongs to someone else: a smaller
    ``codes`` (more people per code) plants that collision. Default: the whole never-issued
    space. With ``as_bytes``, a numpy ``S9`` array instead of Python strings.
    """
    space = _SPACE if codes is None else int(codes)
    ids = np.asarray(person_ids, dtype=np.int64)
    if not 0 < space <= _SPACE:
        raise ValueError(f"codes must be between 1 and {_SPACE:,} (the never-issued SSNs), got {codes!r}")
    if len(ids) and ids.max() >= space:
        raise ValueError(f"{space:,} SSN codes cannot hold person id {int(ids.max()):,}; give more codes")
    rng = stream(seed, "ssn_mapping")
    while True:
        a = int(rng.integers(1, space)) if space > 1 else 1
        if np.gcd(a, space) == 1:
            break
    b = int(rng.integers(0, space))
    k = (ids % space * a + b) % space
    area = _AREAS[k // _AREA_CODES]
    group = (k // _SERIALS) % _GROUPS + 1
    serial = k % _SERIALS + 1
    digits = zfill((area * 1_000_000 + group * 10_000 + serial).astype(str), 9)
    return digits.astype("S9") if as_bytes else digits.astype(object)


def is_never_issued(ssn):
    """Vectorized check that SSN strings lie in the never-issued ranges."""
    s = np.asarray(ssn, dtype=str)
    area = ljust(s, 3).astype("U3")
    return (np.char.str_len(s) == 9) & (np.isin(area, ["000", "666"]) | (np.char.startswith(s, "9")))


NOISE_FIELDS = ("ssn_missing", "ssn_typo", "ssn_transpose", "ssn_placeholder", "name_typo", "nickname",
                "dob_swap", "dob_missing", "maiden_name")

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _typo(names, rng):
    """One FEBRL-style error per name: substitution, insertion, deletion or transposition.

    Names shorter than three letters, and missing ones, are left as they are. Every name is
    edited at once as a row of characters: output character ``j`` is read from position
    ``source[j]`` of its row, or is the new letter.
    """
    out = names.copy()
    kinds = rng.choice(4, size=len(names), p=[0.45, 0.2, 0.2, 0.15])
    pos_u = rng.random(len(names))
    letters = rng.choice(_LETTERS, size=len(names))
    ok = np.not_equal(names, None)
    ok[ok] = np.char.str_len(names[ok].astype(str)) >= 3
    if not ok.any():
        return out
    text = names[ok].astype(str)
    length = np.char.str_len(text)
    width = int(length.max()) + 1                      # one empty column to read past the end
    chars = np.zeros((len(text), width), dtype="<U1")
    chars[:, :-1] = np.ascontiguousarray(text.astype(f"<U{width - 1}")).view("<U1").reshape(len(text), -1)
    kind, letter = kinds[ok], letters[ok]
    p = 1 + (pos_u[ok] * (length - 2)).astype(np.int64)  # keep the first letter, as most typos do
    j = np.arange(width + 1)[None, :]
    p_ = p[:, None]
    source = np.select([kind[:, None] == 1, kind[:, None] == 2, kind[:, None] == 3],
                       [np.where(j > p_, j - 1, j), np.where(j >= p_, j + 1, j),
                        np.where(j == p_ - 1, p_, np.where(j == p_, p_ - 1, j))], j)
    edited = chars[np.arange(len(text))[:, None], np.minimum(source, width - 1)]
    new_letter = (kind[:, None] <= 1) & (j == p_)
    edited[new_letter] = np.broadcast_to(letter[:, None], edited.shape)[new_letter]
    out[ok] = np.ascontiguousarray(edited).view(f"<U{width + 1}").ravel().astype(object)
    return out


def _ssn_digits(ssn):
    """Nine-digit SSN strings as an (n, 9) array of their ASCII codes, to edit digits without a loop."""
    return np.array(ssn, dtype="S9").view(np.uint8).reshape(len(ssn), 9)


def _ssn_strings(digits):
    return digits.view("S9").ravel().astype("U9").astype(object)


def _ssn_typo(ssn, rng):
    d = _ssn_digits(ssn)
    rows = np.arange(len(ssn))
    pos = rng.integers(3, 9, size=len(ssn))          # keep the area so the value stays never-issued
    new = rng.integers(0, 10, size=len(ssn))
    same = d[rows, pos] - ord("0") == new
    new[same] = (new[same] + 1) % 10
    d[rows, pos] = new + ord("0")
    return _ssn_strings(d)


def _ssn_transpose(ssn, rng):
    d = _ssn_digits(ssn)
    pos = rng.integers(3, 8, size=len(ssn))
    rows = np.arange(len(ssn))
    d[rows, pos], d[rows, pos + 1] = d[rows, pos + 1], d[rows, pos].copy()
    return _ssn_strings(d)


def apply_noise(rng, rates, *, ssn, first, last, dob, birth_last=None, changed=None):
    """Return noisy copies of identity columns, and a dict of which rows got which noise.

    Parameters
    ----------
    rng : numpy.random.Generator
    rates : dict
        Probabilities per identity, keys from ``NOISE_FIELDS`` (missing keys mean 0).
    ssn, first, last : ndarray of object
        True values.
    dob : ndarray of datetime64[D]
    birth_last : ndarray of object, optional
        Surname at birth; with ``changed`` (bool), identities whose surname changed
        report the old one with probability ``rates["maiden_name"]``.
    """
    n = len(ssn)
    r = {k: float(rates.get(k, 0.0)) for k in NOISE_FIELDS}
    ssn, first, last, dob = ssn.copy(), first.copy(), last.copy(), dob.copy()
    flags = {}

    u = rng.random(n)
    cut = np.cumsum([r["ssn_missing"], r["ssn_placeholder"], r["ssn_typo"], r["ssn_transpose"]])
    missing, placeholder = u < cut[0], (u >= cut[0]) & (u < cut[1])
    typo, transpose = (u >= cut[1]) & (u < cut[2]), (u >= cut[2]) & (u < cut[3])
    ssn[typo] = _ssn_typo(ssn[typo], rng)
    ssn[transpose] = _ssn_transpose(ssn[transpose], rng)
    ssn[placeholder] = rng.choice(_PLACEHOLDERS, size=int(placeholder.sum()))
    ssn[missing] = None
    flags.update(ssn_missing=missing, ssn_placeholder=placeholder, ssn_typo=typo, ssn_transpose=transpose)

    if birth_last is not None and changed is not None:
        maiden = changed & (rng.random(n) < r["maiden_name"])
        last[maiden] = birth_last[maiden]
        flags["maiden_name"] = maiden

    nick = rng.random(n) < r["nickname"]
    names, starts, counts, nicks = nickname_arrays()
    given = first[nick]
    has = np.not_equal(given, None)
    at = np.zeros(len(given), dtype=np.int64)
    if has.any() and len(names):
        text = given[has].astype(str)
        at[has] = np.minimum(np.searchsorted(names, text), len(names) - 1)
        has[has] = names[at[has]] == text
    else:
        has[:] = False
    idx = np.flatnonzero(nick)[has]
    picks = rng.random(len(idx))
    at = at[has]
    first[idx] = nicks[starts[at] + (picks * counts[at]).astype(np.int64)]
    flags["nickname"] = np.zeros(n, dtype=bool)
    flags["nickname"][idx] = True

    which = rng.random(n) < r["name_typo"]
    in_first = rng.random(n) < 0.5
    first[which & in_first] = _typo(first[which & in_first], rng)
    last[which & ~in_first] = _typo(last[which & ~in_first], rng)
    flags["name_typo"] = which

    u = rng.random(n)
    swap = u < r["dob_swap"]
    dmiss = (u >= r["dob_swap"]) & (u < r["dob_swap"] + r["dob_missing"])
    if swap.any():
        # day and month transposed where that makes a valid date, else the year off by one
        d = dob[swap]
        year = d.astype("datetime64[Y]")
        month = (d.astype("datetime64[M]") - year).astype(int) + 1
        day = (d - d.astype("datetime64[M]")).astype(int) + 1
        ok = (day <= 12) & (day != month)
        swapped = year + (day - 1).astype("timedelta64[M]")
        swapped = swapped.astype("datetime64[D]") + (month - 1).astype("timedelta64[D]")
        off = (d.astype("datetime64[Y]") + 1).astype("datetime64[D]") + (d - d.astype("datetime64[Y]").astype("datetime64[D]"))
        dob[swap] = np.where(ok, swapped, off)
    dob[dmiss] = np.datetime64("NaT")
    flags.update(dob_swap=swap, dob_missing=dmiss)
    return ssn, first, last, dob, flags
