"""Arrow columns from numpy arrays: the one place the generator turns its arrays into table columns.

Every table is written through :func:`arrow_table`, which takes each column's type from the table catalog
(``_schema``), so the partition builder, the once-per-dataset tables and the procurement files cannot drift
from the documented schema. Identity codes (SSNs, FIPS codes, accounts) repeat on many rows; they travel as
fixed-width bytes (:func:`fixed_width`, :class:`Take`), which is much faster than a Python string per row.
"""

import numpy as np
import pyarrow as pa

from ._schema import table as schema_of

__all__ = ["Take", "arrow_table", "codes_array", "fixed_width", "labels"]


class Take:
    """Row values given as a small array of distinct values and an index per row.

    Identity fields repeat on every row of a job or a case: converting the few
    distinct values to Arrow once and letting Arrow expand them is much faster
    than converting a Python string per row. ``values`` may already be an Arrow array.
    With ``width``, the values are codes of exactly that many ASCII characters (or
    None): they are gathered as fixed-width bytes with numpy, faster still.
    """

    def __init__(self, values, index, width=None):
        self.values, self.index, self.width = values, np.asarray(index, dtype=np.int64), width


def labels(values, choices):
    """``values``, numpy strings each one of a few ``choices``, as a :class:`Take` of the choices.

    A label column (a program, a status) of many rows: one comparison per choice instead of a
    Python string per row. Raises ``ValueError`` naming the first value that is not a choice.
    """
    values = np.asarray(values)
    index = np.full(len(values), -1, dtype=np.int64)
    for i, c in enumerate(choices):
        np.putmask(index, values == c, i)
    if (index < 0).any():
        raise ValueError(f"{str(values[np.argmax(index < 0)])!r} is not one of {list(choices)!r}")
    return Take(np.array(choices, dtype=object), index)


def arrow_table(name, cols):
    """The Arrow table ``name`` (its schema from the table catalog) from numpy columns or :class:`Take` values."""
    schema = schema_of(name).arrow_schema
    arrays = []
    for field in schema:
        v = cols[field.name]
        if isinstance(v, Take) and v.width:
            arrays.append(_fixed_width_take(v.values, v.index, v.width))
        elif isinstance(v, Take):
            small = v.values if isinstance(v.values, pa.Array) else _arrow_array(v.values, field.type)
            arrays.append(small.take(pa.array(v.index)))
        else:
            arrays.append(_arrow_array(v, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def fixed_width(values, width):
    """Strings of ``width`` ASCII characters, or None, as an Arrow ``fixed_size_binary`` array.

    Checked, since a shorter code would silently be padded: raises ``ValueError``
    naming the first value of another length.
    """
    values = np.asarray(values)
    valid = np.not_equal(values, None) if values.dtype == object else np.ones(len(values), dtype=bool)
    codes = np.where(valid, values, "").astype(f"S{width}")
    wrong = valid & (np.char.str_len(codes) != width)
    if wrong.any():
        raise ValueError(f"expected codes of {width} characters, got {values[np.argmax(wrong)]!r}")
    return codes_array(codes, valid)


_OFFSETS = {}   # width -> 0, width, 2 * width, ...: string offsets shared by every call


def _fixed_width_take(values, index, width):
    """The Arrow strings ``values[index]``: a take of fixed-width bytes, relabeled as strings.

    Every row, null or not, takes ``width`` bytes, so the string offsets are a plain
    arithmetic sequence; the result equals a take of the same strings.
    """
    n = len(index)
    if (n + 1) * width >= 2**31:
        raise ValueError(f"{n} codes of {width} characters exceed one Arrow string array")
    if len(_OFFSETS.get(width, ())) <= n:
        _OFFSETS[width] = np.arange(0, 2 * (n + 1) * width, width, dtype=np.int32)
    small = values if isinstance(values, pa.FixedSizeBinaryArray) else fixed_width(values, width)
    if len(small) == 1 and small.null_count == 0:
        validity, data = None, pa.py_buffer(small[0].as_py() * n)       # a constant column
    else:
        validity, data = small.take(pa.array(index)).buffers()
    return pa.StringArray.from_buffers(n, pa.py_buffer(_OFFSETS[width][: n + 1]), data, validity)


def _arrow_array(v, type_):
    if isinstance(v, np.ndarray) and v.dtype.kind == "M":
        return pa.array(v.astype("datetime64[D]"), type=pa.date32())
    if isinstance(v, np.ndarray) and v.dtype == object:
        return pa.array(v, type=type_)
    return pa.array(v, type=type_)


def codes_array(codes, valid):
    """A fixed-size binary Arrow array from a numpy ``S`` array and a validity mask."""
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    codes = np.ascontiguousarray(codes)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(codes.itemsize), len(codes), [bitmap, pa.py_buffer(codes)])
