"""The Data Labs case tracks: packaged data that every unit of the strand reads.

A team chooses one track at the start of the strand (the ``track`` parameter of every workbook). Its content,
in ``statelab/datalabs/data/tracks.toml``, feeds each unit: the problem, decision and stakeholders (unit 1),
research questions and measures (unit 2), the source tables and data needs (units 3 to 5) and later units.

>>> from statelab.datalabs import tracks
>>> t = tracks.get_track("workforce")
>>> t.source_tables[0]
'ui_claim'
>>> tracks.TRACK_NAMES
('safety_net', 'workforce', 'student_outcomes', 'procurement')

The API is stable for the other units' modules: :data:`TRACK_NAMES`, :func:`get_track`, :func:`all_tracks`,
:func:`compute_measure` and the frozen dataclasses :class:`Track`, :class:`Stakeholder`,
:class:`ResearchQuestion`, :class:`Measure` and :class:`DataNeed`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from ..identifiers import ssn_status_sql

__all__ = [
    "TRACK_NAMES",
    "DataNeed",
    "Measure",
    "ResearchQuestion",
    "Stakeholder",
    "Track",
    "all_tracks",
    "compute_measure",
    "describe_measure",
    "get_track",
    "measure_overview",
]

#: The case tracks, in the order the strand presents them.
TRACK_NAMES = ("safety_net", "workforce", "student_outcomes", "procurement")


@dataclass(frozen=True)
class Stakeholder:
    """One row of a stakeholder map."""

    role: str
    organization: str
    interest: str
    influence: str  # "high", "medium" or "low"

    def as_dict(self) -> dict:
        return {"role": self.role, "organization": self.organization, "interest": self.interest,
                "influence": self.influence}


@dataclass(frozen=True)
class Measure:
    """A measure definition and the SQL that computes it on the learner tables.

    The query returns one row per group and an ``'all'`` row, with columns ``<group>``, ``n`` (the
    denominator: claims, cases, awards...) and ``value``.
    """

    name: str
    label: str
    unit: str  # "share", "dollars" or "count"
    definition: str
    basis: str
    tables: tuple[str, ...]
    sql: str

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "unit": self.unit, "definition": self.definition,
                "basis": self.basis, "tables": ", ".join(self.tables)}


@dataclass(frozen=True)
class ResearchQuestion:
    """A research question, the measures that answer it and how results are broken down."""

    question: str
    measures: tuple[str, ...]
    disaggregation: str

    def as_dict(self) -> dict:
        return {"question": self.question, "measures": ", ".join(self.measures),
                "disaggregation": self.disaggregation}


@dataclass(frozen=True)
class DataNeed:
    """Something the case needs, as ``table.column`` references (empty: no agency file holds it)."""

    need: str
    columns: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Track:
    """One case track. See ``statelab/datalabs/data/tracks.toml`` for the meaning of each field."""

    name: str
    title: str
    short_title: str
    summary: str
    problem_statement: str
    decision: str
    population: str
    source_tables: tuple[str, ...]
    stakeholders: tuple[Stakeholder, ...]
    logic_model: dict  # inputs, activities, outputs, outcomes -> tuple of str
    research_questions: tuple[ResearchQuestion, ...]
    measures: tuple[Measure, ...]
    needs: tuple[DataNeed, ...]

    def measure(self, name: str) -> Measure:
        """The measure called ``name``; a clear ``ValueError`` for a name this track does not define."""
        for m in self.measures:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.measures)
        raise ValueError(f"track {self.name!r} has no measure {name!r}; its measures are: {known}")

    def stakeholder_table(self) -> pd.DataFrame:
        """The stakeholder map as a table (role, organization, interest, influence)."""
        return pd.DataFrame([s.as_dict() for s in self.stakeholders],
                            columns=["role", "organization", "interest", "influence"])

    def logic_model_table(self) -> pd.DataFrame:
        """The logic model as a table: one column per stage (inputs to outcomes), items top to bottom."""
        stages = ("inputs", "activities", "outputs", "outcomes")
        depth = max(len(self.logic_model[s]) for s in stages)
        return pd.DataFrame({s: list(self.logic_model[s]) + [""] * (depth - len(self.logic_model[s]))
                             for s in stages})

    def measure_table(self) -> pd.DataFrame:
        """The track's measures as a table (name, label, unit, definition, basis, tables)."""
        return pd.DataFrame([m.as_dict() for m in self.measures],
                            columns=["name", "label", "unit", "definition", "basis", "tables"])

    def question_table(self) -> pd.DataFrame:
        """The track's research questions as a table (question, measures, disaggregation)."""
        return pd.DataFrame([q.as_dict() for q in self.research_questions],
                            columns=["question", "measures", "disaggregation"])


_INFLUENCE = ("high", "medium", "low")
_UNITS = ("share", "dollars", "count")


def _usable_ssn(sql: str) -> str:
    """``USABLE_SSN(col)`` in a track's SQL, spelled out with the course's one SSN rule."""
    return re.sub(r"USABLE_SSN\((\w+)\)", lambda m: f"({ssn_status_sql(m.group(1))} = 'valid')", sql)


def _parse(name: str, raw: dict) -> Track:
    try:
        measures = tuple(Measure(name=m["name"], label=m["label"], unit=m["unit"], definition=m["definition"],
                                 basis=m.get("basis", ""), tables=tuple(m["tables"]), sql=_usable_ssn(m["sql"]))
                         for m in raw["measures"])
        track = Track(
            name=name, title=raw["title"], short_title=raw["short_title"], summary=raw["summary"],
            problem_statement=raw["problem_statement"], decision=raw["decision"], population=raw["population"],
            source_tables=tuple(raw["source_tables"]),
            stakeholders=tuple(Stakeholder(**s) for s in raw["stakeholders"]),
            logic_model={k: tuple(raw["logic_model"][k]) for k in ("inputs", "activities", "outputs", "outcomes")},
            research_questions=tuple(ResearchQuestion(question=q["question"], measures=tuple(q["measures"]),
                                                      disaggregation=q.get("disaggregation", ""))
                                     for q in raw["research_questions"]),
            measures=measures,
            needs=tuple(DataNeed(need=n["need"], columns=tuple(n["columns"]), note=n.get("note", ""))
                        for n in raw["needs"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"track {name!r} in tracks.toml is incomplete or malformed: {exc}") from None
    names = {m.name for m in track.measures}
    for q in track.research_questions:
        unknown = [m for m in q.measures if m not in names]
        if unknown:
            raise ValueError(f"track {name!r}: research question {q.question!r} names unknown measures {unknown}")
    for s in track.stakeholders:
        if s.influence not in _INFLUENCE:
            raise ValueError(f"track {name!r}: stakeholder {s.role!r} has influence {s.influence!r}; "
                             f"use one of {_INFLUENCE}")
    for m in track.measures:
        if m.unit not in _UNITS:
            raise ValueError(f"track {name!r}: measure {m.name!r} has unit {m.unit!r}; use one of {_UNITS}")
    return track


@functools.cache
def _tracks() -> dict[str, Track]:
    text = resources.files(__package__).joinpath("data", "tracks.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["tracks"]
    return {name: _parse(name, raw[name]) for name in raw}


def get_track(name: str) -> Track:
    """Return the case track called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`TRACK_NAMES`: ``"safety_net"``, ``"workforce"``, ``"student_outcomes"`` or
        ``"procurement"``.

    Returns
    -------
    Track

    Raises
    ------
    ValueError
        If ``name`` is not a track; the message quotes the name and lists the tracks.
    """
    if not isinstance(name, str):
        raise TypeError(f"a track name is a string such as 'safety_net', got {name!r}")
    found = _tracks().get(name)
    if found is None:
        hint = name.strip().lower().replace("-", "_").replace(" ", "_")
        extra = f" (did you mean {hint!r}?)" if hint != name and hint in _tracks() else ""
        raise ValueError(f"unknown track {name!r}{extra}; choose one of: {', '.join(TRACK_NAMES)}")
    return found


def all_tracks() -> tuple[Track, ...]:
    """Every case track, in the order of :data:`TRACK_NAMES`."""
    return tuple(get_track(n) for n in TRACK_NAMES)


def compute_measure(con, track: str | Track, name: str) -> pd.DataFrame:
    """Compute one of a track's measures on the caller's connection.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection from ``synthetic_data.connect`` (learner tables on the search path).
    track : str or Track
        The case track (name or object).
    name : str
        The measure's name, e.g. ``"snap_churn_rate"``.

    Returns
    -------
    pandas.DataFrame
        One row per group and an ``'all'`` row: the group column, ``n`` and ``value``. A group with no
        records has no row; ``value`` is missing (NaN) where the denominator is empty.
    """
    t = track if isinstance(track, Track) else get_track(track)
    m = t.measure(name)
    df = con.sql(m.sql).df()
    group = df.columns[0]
    df[group] = df[group].astype(str)
    df["n"] = df["n"].astype("int64")
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype("float64")
    order = df[group].eq("all").astype(int)  # groups in query order, the 'all' row last
    return df.assign(_last=order).sort_values("_last", kind="stable").drop(columns="_last").reset_index(drop=True)


def describe_measure(con, track: str | Track, name: str) -> pd.DataFrame:
    """A measure ready to show or put in a deliverable: readable groups and a formatted value.

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (state names for state groups, ``All`` for the total), ``records`` (the
        denominator) and the measure's label (shares as percentages to 1 decimal, dollars to the dollar).
        Counts are not rounded for disclosure: apply the disclosure rules before sharing outside the team.
    """
    t = track if isinstance(track, Track) else get_track(track)
    m = t.measure(name)
    df = compute_measure(con, t, name)
    group = df.columns[0]
    labels = df[group].astype(str)
    if group == "state_fips":
        names = dict(con.sql("SELECT state_fips, state_name FROM ref_state").fetchall())
        labels = labels.map(lambda g: names.get(g, g))
    labels = labels.where(df[group] != "all", "All")
    if m.unit == "share":
        shown = [("n/a" if pd.isna(v) else f"{100 * v:.1f}%") for v in df["value"]]
    elif m.unit == "dollars":
        shown = [("n/a" if pd.isna(v) else f"${v:,.0f}") for v in df["value"]]
    else:
        shown = [("n/a" if pd.isna(v) else f"{v:,.0f}") for v in df["value"]]
    return pd.DataFrame({"group": labels.to_list(), "records": df["n"].to_list(), m.label: shown})


def measure_overview(con, track: str | Track) -> pd.DataFrame:
    """Every measure of a track on one line: its overall value (the ``'all'`` row) and denominator.

    Returns
    -------
    pandas.DataFrame
        ``measure`` (name), ``label``, ``unit``, ``records`` and ``value`` (float), in the track's order.
    """
    t = track if isinstance(track, Track) else get_track(track)
    rows = []
    for m in t.measures:
        df = compute_measure(con, t, m.name)
        total = df[df.iloc[:, 0] == "all"]
        rows.append({"measure": m.name, "label": m.label, "unit": m.unit,
                     "records": int(total["n"].iloc[0]) if len(total) else 0,
                     "value": float(total["value"].iloc[0]) if len(total) else float("nan")})
    return pd.DataFrame(rows, columns=["measure", "label", "unit", "records", "value"])
