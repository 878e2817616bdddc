"""How real is a dataset? Published figures as data, measured on the learner tables.

Each domain has a TOML file in ``synthetic_data/calibration/`` (see the README
there): a list of ``[[target]]`` tables, each a published figure with its
source, year and tolerance, and the DuckDB SQL that computes the same measure
from the learner tables. :func:`realism` runs every target against a dataset's
``statelab.duckdb`` and reports which land within tolerance.

The SQL runs on a connection that can read the learner database and nothing
else: the database is attached read-only, the truth database is never
attached, and file access is limited to the dataset's ``parquet/`` folder (which
the "views" databases of the large profiles read), so a target cannot peek at
the hidden truth even by path.
"""

import math
import re
import tomllib
from pathlib import Path

from ._errors import CalibrationError, DatasetNotFoundError

__all__ = ["realism", "published_series", "calibration_dir", "format_value", "people_table", "UNITS"]

#: Units a target or series may be expressed in.
UNITS = ("share", "dollars", "weeks", "ratio", "percent", "count", "jobs", "people")

_REQUIRED = {"id", "title", "published", "unit", "source", "year", "verified", "sql"}
_OPTIONAL = {"tolerance", "rel_tolerance", "note"}
_SERIES_REQUIRED = {"id", "title", "unit", "source", "year", "verified", "points"}
_SERIES_OPTIONAL = {"note"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMNS = ["id", "title", "published", "generated", "low", "high", "ok", "unit", "source", "year",
            "domain", "verified"]
_LEARNER_DB = "statelab.duckdb"


def calibration_dir():
    """The packaged folder of calibration TOML files."""
    return Path(__file__).with_name("calibration")


# ------------------------------------------------------------------------------------ loading
def _read(path):
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{path.name}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise CalibrationError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def _check_keys(where, entry, required, optional):
    unknown = sorted(set(entry) - required - optional)
    if unknown:
        raise CalibrationError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                               f"{', '.join(sorted(required | optional))}")
    missing = sorted(k for k in required if k not in entry or entry[k] in ("", None))
    if missing:
        raise CalibrationError(f"{where}: missing {', '.join(missing)}")


def _check_entry(where, entry, required, optional, text_keys):
    """The checks a target and a series share: known keys, id, text fields, unit, verified and its note."""
    _check_keys(where, entry, required, optional)
    if not isinstance(entry["id"], str) or not _ID.match(entry["id"]):
        raise CalibrationError(f"{where}: id must be lower-case letters, digits and underscores")
    for key in text_keys:
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CalibrationError(f"{where}: {key} must be non-empty text, got {entry[key]!r}")
    if entry["unit"] not in UNITS:
        raise CalibrationError(f"{where}: unit {entry['unit']!r} is not one of {', '.join(UNITS)}")
    if not isinstance(entry["verified"], bool):
        raise CalibrationError(f"{where}: verified must be true or false, got {entry['verified']!r}")
    if not entry["verified"] and not str(entry.get("note", "")).strip():
        raise CalibrationError(f"{where}: verified = false needs a note saying what to check")


def _number(where, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _target(path, entry):
    where = f"{path.name}: target {entry.get('id', '(no id)')!r}"
    _check_entry(where, entry, _REQUIRED, _OPTIONAL, ("title", "source", "year", "sql"))
    published = _number(where, "published", entry["published"])
    if ("tolerance" in entry) == ("rel_tolerance" in entry):
        raise CalibrationError(f"{where}: give exactly one of tolerance (absolute) or rel_tolerance")
    if "tolerance" in entry:
        tol = _number(where, "tolerance", entry["tolerance"])
        low, high = published - tol, published + tol
    else:
        tol = _number(where, "rel_tolerance", entry["rel_tolerance"])
        low, high = sorted((published * (1 - tol), published * (1 + tol)))
    if tol < 0:
        raise CalibrationError(f"{where}: the tolerance must not be negative, got {tol!r}")
    return {"id": entry["id"], "title": entry["title"].strip(), "published": published, "low": low,
            "high": high, "unit": entry["unit"], "source": entry["source"].strip(),
            "year": str(entry["year"]), "verified": entry["verified"], "note": entry.get("note", ""),
            "sql": entry["sql"], "domain": path.stem, "file": path.name}


def _series(path, entry):
    where = f"{path.name}: series {entry.get('id', '(no id)')!r}"
    _check_entry(where, entry, _SERIES_REQUIRED, _SERIES_OPTIONAL, ("title", "source", "year"))
    points = entry["points"]
    if not isinstance(points, list) or not points:
        raise CalibrationError(f"{where}: points must be a non-empty list of {{ period, value }}")
    rows = []
    for p in points:
        if not isinstance(p, dict) or set(p) != {"period", "value"}:
            raise CalibrationError(f"{where}: each point needs exactly period and value, got {p!r}")
        rows.append({"id": entry["id"], "title": entry["title"], "period": str(p["period"]),
                     "value": _number(where, "value", p["value"]), "unit": entry["unit"],
                     "source": entry["source"], "year": str(entry["year"]), "verified": entry["verified"]})
    return rows


def _load(folder):
    """Every target and series in ``folder``: (targets, series rows), validated, ids unique."""
    folder = Path(folder)
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise CalibrationError(f"{folder}: no calibration *.toml files there")
    targets, series, seen = [], [], {}
    for path in files:
        data = _read(path)
        unknown = sorted(set(data) - {"target", "series"})
        if unknown:
            raise CalibrationError(f"{path.name}: unknown top-level key(s) {', '.join(unknown)}; "
                                   "use [[target]] or [[series]] tables")
        for kind, parse in (("target", _target), ("series", _series)):
            entries = data.get(kind, [])
            if not isinstance(entries, list):
                raise CalibrationError(f"{path.name}: {kind} must be an array of tables ([[{kind}]])")
            for entry in entries:
                if not isinstance(entry, dict):
                    raise CalibrationError(f"{path.name}: each [[{kind}]] must be a table")
                key = entry.get("id")
                if key in seen:
                    raise CalibrationError(f"{path.name}: {kind} {key!r}: duplicate id "
                                           f"(first defined in {seen[key]})")
                parsed = parse(path, entry)
                seen[key] = path.name
                (targets.append if kind == "target" else series.extend)(parsed)
    return targets, series


# ------------------------------------------------------------------------------------ running
def _dataset(dataset):
    path = Path(dataset)
    db = path / _LEARNER_DB
    if not db.is_file():
        raise DatasetNotFoundError(f"{path} has no {_LEARNER_DB}; give a dataset folder made by "
                                   "`statelab-data generate`")
    return path.resolve()


def _sql_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def _connect(root):
    """An in-memory session with the learner database attached read-only and nothing else readable."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    # Views databases read parquet/ relative to the dataset folder; nothing else may be opened.
    con.execute(f"SET allowed_directories = [{_sql_str(str(root / 'parquet') + '/')}, 'parquet/']")
    con.execute(f"SET file_search_path = {_sql_str(root)}")
    con.execute(f"ATTACH {_sql_str(root / _LEARNER_DB)} AS statelab (READ_ONLY)")
    con.execute("SET enable_external_access = false")
    con.execute("USE statelab")
    return con


def _measure(con, target):
    import duckdb

    where = f"{target['file']}: target {target['id']!r}"
    try:
        cursor = con.execute(target["sql"])
        rows = cursor.fetchall()
        width = len(cursor.description or [])
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CalibrationError(f"{where}: SQL failed: {first}") from None
    if len(rows) != 1 or width != 1:
        raise CalibrationError(f"{where}: SQL must return one row with one number, "
                               f"got {len(rows)} row(s) of {width} column(s)")
    value = rows[0][0]
    if value is None:
        return math.nan
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise CalibrationError(f"{where}: SQL must return a number, got {value!r}")
    return float(value)


def realism(dataset, *, domain=None, formatted=False, targets_dir=None):
    """Compare a dataset with published figures.

    Parameters
    ----------
    dataset : str or path
        A dataset folder (it holds ``statelab.duckdb``), such as the one
        :func:`synthetic_data.ensure_dataset` returns.
    domain : str or sequence of str, optional
        Only the targets of these domains (file stems: ``"labor"``, ``"ui"``, ...).
    formatted : bool
        Return a table for people instead, indexed by target id: measure, published
        and generated values written with their units, the accepted range, the result
        as text ("in", "out" or "no data"), source, year, whether the figure was read
        in the source ("yes") or is still to check, and the domain.
    targets_dir : str or path, optional
        A folder of calibration TOML files to use instead of the packaged ones.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``id, title, published, generated, low, high, ok,
        unit, source, year, domain, verified``. ``ok`` is False when the
        generated value falls outside ``[low, high]`` or could not be computed
        (no records).

    Raises
    ------
    DatasetNotFoundError
        ``dataset`` has no ``statelab.duckdb``.
    CalibrationError
        A target file is malformed, ``domain`` names no file, or a target's SQL
        fails; the message names the file, the target and the problem.
    """
    import pandas as pd

    root = _dataset(dataset)
    targets, _ = _load(targets_dir or calibration_dir())
    if domain is not None:
        wanted = {domain} if isinstance(domain, str) else set(domain)
        known = sorted({t["domain"] for t in targets})
        unknown = sorted(wanted - set(known))
        if unknown:
            raise CalibrationError(f"unknown domain(s) {', '.join(unknown)}; domains with targets: "
                                   f"{', '.join(known)}")
        targets = [t for t in targets if t["domain"] in wanted]
    con = _connect(root)
    try:
        rows = []
        for t in targets:
            value = _measure(con, t)
            rows.append({**{k: t[k] for k in _COLUMNS if k in t}, "generated": value,
                         "ok": bool(t["low"] <= value <= t["high"])})
    finally:
        con.close()
    table = pd.DataFrame(rows, columns=_COLUMNS)
    return people_table(table) if formatted else table


# --------------------------------------------------------------------------------- formatting
def format_value(value, unit):
    """``value`` written for people in its unit: 31.2%, $1,085, 19.1 weeks, 1.05x, 15.4 jobs."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "dollars":
        return f"${value:,.0f}" if value >= 0 else f"-${-value:,.0f}"
    if unit == "weeks":
        return f"{value:.1f} weeks"
    if unit == "ratio":
        return f"{value:.3g}×"
    if unit in ("jobs", "people"):
        return f"{value:.1f} {unit}"
    return f"{value:,.0f}"


def people_table(table):
    import pandas as pd

    out = pd.DataFrame({
        "Measure": table["title"],
        "Published": [format_value(v, u) for v, u in zip(table["published"], table["unit"])],
        "Generated": [format_value(v, u) for v, u in zip(table["generated"], table["unit"])],
        "Accepted range": [f"{format_value(lo, u)} to {format_value(hi, u)}"
                           for lo, hi, u in zip(table["low"], table["high"], table["unit"])],
        "Result": ["no data" if pd.isna(g) else ("in" if ok else "out")
                   for g, ok in zip(table["generated"], table["ok"])],
        "Source": table["source"],
        "Year": table["year"],
        "Checked in source": ["yes" if v else "to check" for v in table["verified"]],
        "Domain": table["domain"],
    })
    out.index = pd.Index(table["id"], name="id")
    return out


def published_series(*, targets_dir=None):
    """The published series behind the charts of "How real is this data?", one row per point.

    Returns a pandas.DataFrame with ``id, title, period, value, unit, source,
    year, verified``, read from the ``[[series]]`` tables of the calibration files.
    """
    import pandas as pd

    _, rows = _load(targets_dir or calibration_dir())
    return pd.DataFrame(rows, columns=["id", "title", "period", "value", "unit", "source", "year", "verified"])
