"""Record linkage for the course: SSN hygiene, deterministic rules, Fellegi-Sunter with Splink, evaluation.

Usage in a notebook::

    from statelab import linkage

    con.sql(f"SELECT {linkage.clean_ssn_sql('ssn')} AS ssn FROM postsec_completion")
    exact = linkage.deterministic_link(con, "completers", "wage_people", rules={"ssn": ["ssn"]})
    model = linkage.probabilistic_link(con, "completers", "wage_people")
    model.pairs        # one row per candidate pair, with match_weight and match_probability
    model.parameters   # the trained m and u probabilities and match weights of each comparison level

Pairs tables use the columns ``source_record_id`` and ``target_record_id`` (the ``record_id`` of the
record in the source and the target table); probabilistic pairs add ``match_probability``.

SSN validity
------------
The rule lives in :mod:`statelab.identifiers` (the course's one definition); :func:`ssn_status_sql`,
:func:`clean_ssn_sql`, :func:`ssn_status` and :func:`clean_ssn` are re-exported here because module 3 and
its assignment call them as ``linkage.*``.

Reading pairs
-------------
:func:`review_table` lays candidate pairs out for a person to read: one block of rows per pair (the two
records, and any weights or comparison levels), one column per field.

Evaluation
----------
:func:`linkage_quality` compares a pairs table with the hidden truth (``truth.crosswalk``). It is an
**instructor and test tool**: learners do not have the truth, and learner notebooks never call it.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .identifiers import clean_ssn, clean_ssn_sql, ssn_status, ssn_status_sql  # re-exported: module 3 uses them

__all__ = [
    "SOURCE_ID",
    "TARGET_ID",
    "ssn_status_sql",
    "clean_ssn_sql",
    "ssn_status",
    "clean_ssn",
    "deterministic_link",
    "splink_settings",
    "describe_settings",
    "probabilistic_link",
    "ProbabilisticLinkage",
    "linkage_quality",
    "review_table",
]

#: Column names of a pairs table.
SOURCE_ID = "source_record_id"
TARGET_ID = "target_record_id"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


def _check_identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(f"{what} must be a table or column name such as 'completers' or 'ssn', got {value!r}")
    return value


# ------------------------------------------------------------------------------- deterministic
def _normalize_rules(rules: Mapping[str, Sequence[str]] | Sequence[Sequence[str]]) -> list[tuple[str, list[str]]]:
    if isinstance(rules, Mapping):
        items = list(rules.items())
    elif isinstance(rules, (list, tuple)):
        items = [("+".join(cols) if not isinstance(cols, str) else cols, cols) for cols in rules]
    else:
        raise TypeError(f"rules must be a mapping of name -> columns or a list of column lists, got {rules!r}")
    if not items:
        raise ValueError("rules is empty: give at least one rule, e.g. {'ssn': ['ssn']}")
    out = []
    for name, cols in items:
        if isinstance(cols, str):
            cols = [cols]
        cols = list(cols)
        if not cols:
            raise ValueError(f"rule {name!r} lists no columns")
        out.append((str(name), [_check_identifier(c, f"column in rule {name!r}") for c in cols]))
    return out


def deterministic_link(
    con,
    source: str,
    target: str,
    *,
    rules: Mapping[str, Sequence[str]] | Sequence[Sequence[str]],
    source_id: str = "record_id",
    target_id: str = "record_id",
) -> pd.DataFrame:
    """Link two workspace tables with ordered exact-match rules (a "waterfall").

    Each rule is a list of columns that must be equal (and not NULL) in both tables. Rules run in order;
    a source record linked by an earlier rule is not offered to later rules, so put the strictest rule
    first. All target records that a rule matches are kept (a person can have several target rows).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The workspace; the SQL runs there.
    source, target : str
        Table or view names in ``con``. Both must have every column the rules name.
    rules : mapping of str to list of str, or list of lists of str
        E.g. ``{"ssn+last name": ["ssn", "last_name"], "names+dob": ["first_name", "last_name", "dob"]}``.
    source_id, target_id : str
        The record-identifier column of each table.

    Returns
    -------
    pandas.DataFrame
        Columns ``source_record_id``, ``target_record_id``, ``rule`` (the rule's name) and ``rule_order``
        (1 for the first rule), sorted by source and target id.
    """
    source = _check_identifier(source, "source")
    target = _check_identifier(target, "target")
    sid = _check_identifier(source_id, "source_id")
    tid = _check_identifier(target_id, "target_id")
    passes = []
    for k, (name, cols) in enumerate(_normalize_rules(rules), start=1):
        on = " AND ".join(f"s.{c} = t.{c}" for c in cols)
        earlier = " UNION ALL ".join(f"SELECT {SOURCE_ID} FROM pass_{j}" for j in range(1, k))
        where = f"WHERE s.{sid} NOT IN ({earlier})" if earlier else ""
        label = name.replace("'", "''")
        passes.append(
            f"pass_{k} AS (SELECT DISTINCT s.{sid} AS {SOURCE_ID}, t.{tid} AS {TARGET_ID}, "
            f"'{label}' AS rule, {k} AS rule_order FROM {source} AS s JOIN {target} AS t ON {on} {where})"
        )
    union = " UNION ALL ".join(f"SELECT * FROM pass_{k}" for k in range(1, len(passes) + 1))
    sql = f"WITH {', '.join(passes)} SELECT * FROM ({union}) AS links ORDER BY {SOURCE_ID}, {TARGET_ID}"
    return con.sql(sql).df()


# ------------------------------------------------------------------------------- probabilistic
def splink_settings(
    *,
    ssn: str | None = "ssn",
    first_name: str | None = "first_name",
    last_name: str | None = "last_name",
    dob: str | None = "dob",
    ssn_distance: int = 1,
    name_thresholds: Sequence[float] = (0.92, 0.88, 0.7),
    blocking: Sequence[Sequence[str]] | None = None,
):
    """Splink settings for linking person records from two files (``link_only``).

    Comparisons (each optional; pass ``None`` for a column the files lack):

    - ``ssn``: exact, Damerau-Levenshtein distance up to ``ssn_distance`` (one mistyped digit or two
      swapped digits), anything else;
    - ``first_name``, ``last_name``: exact (with term-frequency adjustment, so a common name counts for
      less), Jaro-Winkler similarity above each of ``name_thresholds``, anything else;
    - ``dob``: exact, one character off, within a month, within a year, within ten years, anything else.

    Blocking rules (pairs compared at all): equal SSN; equal first and last name; equal date of birth with
    equal first or last name; and three overlapping pieces of the SSN -- the last four digits, the first
    seven, the first five with the last two -- so that an SSN with any one wrong digit still agrees on one
    piece (catching a mistyped SSN with a mistyped name). Each piece keeps at least six digits that vary
    between people: with SSNs issued densely, a shorter piece such as the area and group digits alone is
    shared by thousands of people and would put millions of hopeless pairs in front of the model. Pass
    ``blocking`` as a list of column lists or SQL expressions to replace them.

    Returns
    -------
    splink.SettingsCreator
    """
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    cols = {"ssn": ssn, "first_name": first_name, "last_name": last_name, "dob": dob}
    for key, value in cols.items():
        if value is not None:
            _check_identifier(value, key)
    if not isinstance(ssn_distance, int) or isinstance(ssn_distance, bool) or ssn_distance < 1:
        raise ValueError(f"ssn_distance must be a whole number of at least 1, got {ssn_distance!r}")
    thresholds = [float(t) for t in name_thresholds]
    if not thresholds or any(not 0 < t < 1 for t in thresholds):
        raise ValueError(f"name_thresholds must be similarities between 0 and 1, got {name_thresholds!r}")
    comparisons = []
    if ssn:
        comparisons.append(cl.DamerauLevenshteinAtThresholds(ssn, list(range(1, ssn_distance + 1))))
    for name in (first_name, last_name):
        if name:
            comparisons.append(cl.NameComparison(name, jaro_winkler_thresholds=thresholds))
    if dob:
        comparisons.append(cl.DateOfBirthComparison(dob, input_is_string=False, datetime_thresholds=[1, 1],
                                                    datetime_metrics=["month", "year"]))
    if not comparisons:
        raise ValueError("no comparison columns: give at least one of ssn, first_name, last_name, dob")
    if blocking is None:
        rules: list[Sequence[str]] = []
        if ssn:
            rules.append([ssn])
        if first_name and last_name:
            rules.append([first_name, last_name])
        if dob:
            rules += [[n, dob] for n in (last_name, first_name) if n]
        if ssn:
            rules += [[f"SUBSTRING({ssn}, 6, 4)"], [f"SUBSTRING({ssn}, 1, 7)"],
                      [f"SUBSTRING({ssn}, 1, 5) || SUBSTRING({ssn}, 8, 2)"]]
    else:
        rules = [[r] if isinstance(r, str) else list(r) for r in blocking]
        if not rules or any(not r for r in rules):
            raise ValueError(f"blocking must be a non-empty list of non-empty column lists, got {blocking!r}")
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*r) for r in rules],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
    )


def describe_settings(settings) -> pd.DataFrame:
    """A readable table of a Splink settings object: its blocking rules and its comparisons.

    Returns
    -------
    pandas.DataFrame
        Columns ``part`` (``"blocking rule"`` or ``"comparison"``), ``name`` and ``detail``: the SQL
        condition of each blocking rule (``l`` is the source record, ``r`` the target record), and the
        levels of each comparison from closest to farthest.
    """
    from splink import SettingsCreator

    if not isinstance(settings, SettingsCreator):
        raise TypeError(f"settings must be a splink.SettingsCreator (see splink_settings), got {type(settings).__name__}")
    rows = []
    for k, rule in enumerate(settings.blocking_rules_to_generate_predictions, start=1):
        sql = rule.get_blocking_rule("duckdb").blocking_rule_sql if hasattr(rule, "get_blocking_rule") else str(rule)
        rows.append({"part": "blocking rule", "name": f"rule {k}", "detail": sql.replace('"', "")})
    for comp in settings.comparisons:
        c = comp.get_comparison("duckdb") if hasattr(comp, "get_comparison") else comp
        levels = [lv.label_for_charts for lv in c.comparison_levels if not lv.is_null_level]
        rows.append({"part": "comparison", "name": c.output_column_name, "detail": "; ".join(levels)})
    return pd.DataFrame(rows, columns=["part", "name", "detail"])


@dataclass(frozen=True)
class ProbabilisticLinkage:
    """The result of :func:`probabilistic_link`.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per compared pair with ``match_probability`` at least the run's ``min_probability``:
        ``source_record_id``, ``target_record_id``, ``match_weight``, ``match_probability``, then for each
        compared column its two values (``<col>_l`` from the source, ``<col>_r`` from the target), the
        comparison level reached (``gamma_<col>``, -1 for a missing value, higher is closer) and the
        partial match weight it contributed (``mw_<col>``, plus ``mw_tf_adj_<col>`` for names).
        Sorted by source record and decreasing probability.
    parameters : pandas.DataFrame
        One row per comparison level: ``comparison``, ``level``, ``m_probability`` (share of true matches
        at this level), ``u_probability`` (share of non-matches) and ``match_weight`` = log2(m / u).
    prior : float
        The trained probability that two random records, one from each file, are the same person.
    """

    pairs: pd.DataFrame
    parameters: pd.DataFrame
    prior: float

    @property
    def prior_weight(self) -> float:
        """The prior as a match weight: log2(prior / (1 - prior))."""
        return math.log2(self.prior / (1 - self.prior))


@contextmanager
def _quiet_splink():
    """Silence Splink's log messages and warnings for the duration, restoring the logger afterwards."""
    logger = logging.getLogger("splink")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def _columns(con, table: str) -> list[str]:
    return list(con.sql(f"SELECT * FROM {table} LIMIT 0").columns)


def probabilistic_link(
    con,
    source: str,
    target: str,
    *,
    settings=None,
    source_id: str = "record_id",
    target_id: str = "record_id",
    prior_rule: Sequence[str] = ("ssn",),
    prior_recall: float = 0.7,
    training_blocks: Sequence[Sequence[str]] = (("ssn",), ("first_name", "last_name")),
    max_pairs: float = 1e6,
    min_probability: float = 0.01,
    seed: int = 1,
) -> ProbabilisticLinkage:
    """Train a Fellegi-Sunter model with Splink (DuckDB backend) and score candidate pairs.

    The two tables are read from the workspace ``con`` (only the columns they share), and Splink runs on
    its own in-memory DuckDB connection, so nothing is added to the workspace and nothing is downloaded.

    Training, in order:

    1. the prior (probability two random records match) from the records agreeing on ``prior_rule``,
       assuming that rule finds ``prior_recall`` of the true matches;
    2. the u probabilities from up to ``max_pairs`` random pairs (a deterministic sample given ``seed``);
    3. the m probabilities by expectation-maximization, once within each of ``training_blocks`` (a
       comparison used for blocking is not trained in that block, so use at least two blocks).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The workspace holding ``source`` and ``target``.
    source, target : str
        Table names; the columns compared must have the same names in both.
    settings : splink.SettingsCreator, optional
        Defaults to :func:`splink_settings` with the columns both tables have among
        ``ssn``, ``first_name``, ``last_name``, ``dob``.
    min_probability : float
        Pairs below this match probability are not returned (choose your threshold afterwards).

    Returns
    -------
    ProbabilisticLinkage
    """
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    source = _check_identifier(source, "source")
    target = _check_identifier(target, "target")
    sid = _check_identifier(source_id, "source_id")
    tid = _check_identifier(target_id, "target_id")
    if not 0 < prior_recall <= 1:
        raise ValueError(f"prior_recall must be in (0, 1], got {prior_recall!r}")
    if not 0 <= min_probability < 1:
        raise ValueError(f"min_probability must be in [0, 1), got {min_probability!r}")
    s_cols, t_cols = _columns(con, source), _columns(con, target)
    for table, cols, idc in ((source, s_cols, sid), (target, t_cols, tid)):
        if idc not in cols:
            raise ValueError(f"{table!r} has no id column {idc!r}; its columns are {cols}")
    shared = [c for c in s_cols if c in t_cols and c not in (sid, tid, "unique_id", "source_dataset")]
    if settings is None:
        present = {c: (c if c in shared else None) for c in ("ssn", "first_name", "last_name", "dob")}
        settings = splink_settings(**present)
    if not shared:
        raise ValueError(f"{source!r} and {target!r} share no columns to compare")
    select = ", ".join(shared)
    left = con.sql(f"SELECT {sid} AS unique_id, {select} FROM {source}").to_arrow_table()
    right = con.sql(f"SELECT {tid} AS unique_id, {select} FROM {target}").to_arrow_table()

    private = duckdb.connect(":memory:")
    try:
        private.execute("SET enable_progress_bar = false")
        with _quiet_splink():
            db_api = DuckDBAPI(private)
            # Splink puts the input whose name sorts first on the left (_l) of every pair.
            s_df = db_api.register(left, table_name="a_source")
            t_df = db_api.register(right, table_name="b_target")
            linker = Linker([s_df, t_df], settings, log_level=None)
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*prior_rule)], recall=prior_recall
            )
            linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
            for block in training_blocks:
                linker.training.estimate_parameters_using_expectation_maximisation(block_on(*block))
            predictions = linker.inference.predict(threshold_match_probability=min_probability)
            raw = predictions.as_pandas_dataframe()
            model = linker.misc.save_model_to_json()
    finally:
        private.close()

    flipped = raw["source_dataset_l"] != "a_source"
    if flipped.any():  # defensive: keep the source on the left whatever Splink's ordering
        for col in [c for c in raw.columns if c.endswith("_l")]:
            other = col[:-2] + "_r"
            raw.loc[flipped, [col, other]] = raw.loc[flipped, [other, col]].to_numpy()
    pairs = raw.rename(columns={"unique_id_l": SOURCE_ID, "unique_id_r": TARGET_ID})
    drop = [c for c in pairs.columns if c.startswith(("source_dataset", "tf_")) or c == "match_key"]
    pairs = pairs.drop(columns=drop)
    front = [SOURCE_ID, TARGET_ID, "match_weight", "match_probability"]
    pairs = pairs[front + [c for c in pairs.columns if c not in front]]
    pairs = pairs.sort_values([SOURCE_ID, "match_probability", TARGET_ID], ascending=[True, False, True])
    pairs = pairs.reset_index(drop=True)

    rows = []
    for comp in model["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else float("nan")
            rows.append({"comparison": comp["output_column_name"], "level": level.get("label_for_charts"),
                         "m_probability": m, "u_probability": u, "match_weight": weight})
    parameters = pd.DataFrame(rows, columns=["comparison", "level", "m_probability", "u_probability", "match_weight"])
    return ProbabilisticLinkage(pairs=pairs, parameters=parameters,
                                prior=float(model["probability_two_random_records_match"]))


# ------------------------------------------------------------------------------------ evaluation
def _truth_attached(con) -> bool:
    rows = con.sql("SELECT database_name FROM duckdb_databases()").fetchall()
    return any(r[0] == "truth" for r in rows)


def linkage_quality(
    pairs: pd.DataFrame,
    con,
    *,
    source_table: str,
    target_table: str,
    threshold: float | None = None,
    source_records: Iterable[int] | None = None,
    source_id: str = SOURCE_ID,
    target_id: str = TARGET_ID,
    probability: str = "match_probability",
) -> dict[str, float]:
    """Precision, recall and F1 of a linkage, judged against the hidden truth.

    **Instructor and test tool.** ``con`` must have the truth attached
    (``sd.connect(..., truth=True)``); learners do not have it, and learner notebooks never call this.

    The linkage is judged per *source record*, the way an outcome measure uses it: a source record is
    *linked* when it has at least one pair (with ``probability`` at least ``threshold``, when given); a
    linked record is a *true link* when every target record it is linked to belongs to the same person
    as the source record (``truth.crosswalk``), and a *false link* otherwise (some of the outcome it
    picks up is another person's). A source record is *linkable* when its person has at least one
    record in ``target_table``.

    Parameters
    ----------
    pairs : pandas.DataFrame
        A pairs table (``source_record_id``, ``target_record_id``, and ``match_probability`` if
        ``threshold`` is given), e.g. from :func:`deterministic_link` or :func:`probabilistic_link`.
    con : duckdb.DuckDBPyConnection
        A connection with the ``truth`` catalog attached.
    source_table, target_table : str
        The agency tables the record ids refer to, e.g. ``"postsec_completion"`` and ``"ui_wage"``.
    threshold : float, optional
        Keep only pairs with ``probability`` at or above it.
    source_records : iterable of int, optional
        The population judged (e.g. a cohort's record ids); by default every record of ``source_table``.

    Returns
    -------
    dict
        ``source_records``, ``linkable``, ``linked``, ``true_links``, ``false_links``, ``precision``
        (true links / linked), ``recall`` (true links / linkable) and ``f1``. Precision is NaN when
        nothing is linked, recall when nothing is linkable.
    """
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(f"pairs must be a pandas DataFrame, got {type(pairs).__name__}")
    for col in (source_id, target_id) + ((probability,) if threshold is not None else ()):
        if col not in pairs.columns:
            raise ValueError(f"pairs has no column {col!r}; its columns are {list(pairs.columns)}")
    if not _truth_attached(con):
        raise ValueError("con has no 'truth' catalog: open it with sd.connect(..., truth=True) "
                         "(linkage_quality is an instructor/test tool)")
    known = {r[0] for r in con.sql("SELECT DISTINCT source_table FROM truth.crosswalk").fetchall()}
    for name, value in (("source_table", source_table), ("target_table", target_table)):
        if value not in known:
            raise ValueError(f"{name} {value!r} is not in truth.crosswalk; known tables: {sorted(known)}")

    kept = pairs
    if threshold is not None:
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be a probability between 0 and 1, got {threshold!r}")
        kept = pairs[pairs[probability] >= threshold]

    xwalk = "SELECT record_id, person_id FROM truth.crosswalk WHERE source_table = ?"
    src = con.execute(xwalk, [source_table]).df().set_index("record_id")["person_id"]
    if source_records is not None:
        wanted = pd.Index(pd.unique(pd.Series(list(source_records), dtype="int64")))
        missing = wanted.difference(src.index)
        if len(missing):
            raise ValueError(f"source_records not in {source_table}: {list(missing[:5])}")
        src = src.loc[wanted]
    target_people = con.execute(
        "SELECT DISTINCT person_id FROM truth.crosswalk WHERE source_table = ?", [target_table]
    ).df()["person_id"]
    kept = kept[kept[source_id].isin(src.index)]
    tgt = con.execute(xwalk, [target_table]).df().set_index("record_id")["person_id"]
    unknown = ~kept[target_id].isin(tgt.index)
    if unknown.any():
        raise ValueError(f"target ids not in {target_table}: {kept.loc[unknown, target_id].head().tolist()}")

    judged = pd.DataFrame({
        "source": kept[source_id].to_numpy(),
        "ok": (tgt.loc[kept[target_id]].to_numpy() == src.loc[kept[source_id]].to_numpy()),
    })
    per_source = judged.groupby("source")["ok"].all()
    linked = int(len(per_source))
    true_links = int(per_source.sum())
    linkable = int(src.isin(set(target_people)).sum())
    precision = true_links / linked if linked else float("nan")
    recall = true_links / linkable if linkable else float("nan")
    f1 = (2 * precision * recall / (precision + recall)
          if linked and linkable and (precision + recall) > 0 else float("nan"))
    return {
        "source_records": int(len(src)), "linkable": linkable, "linked": linked,
        "true_links": true_links, "false_links": linked - true_links,
        "precision": precision, "recall": recall, "f1": f1,
    }


def review_table(pairs: pd.DataFrame, *, rows: Mapping[str, str], labels: Mapping[str, str] | None = None,
                 caption: str | None = None, decimals: int | dict = 2):
    """Candidate pairs as a table for clerical review: one block of rows per pair, one column per field.

    A pairs table holds each field twice, Splink's way (``first_name_l``, ``first_name_r``), and sometimes
    a third time (a partial weight, a comparison level): side by side that is two or three columns per field
    and too wide to read. Here each suffix becomes a row inside the pair's block, so the two records sit one
    above the other, field under field.

    Parameters
    ----------
    pairs : pandas.DataFrame
        One row per pair; its index labels the pair (for instance "1. probability 0.912"). Every column is
        named ``<field>_<suffix>``.
    rows : mapping, keyword-only
        ``{suffix: row label}`` in the order the rows are shown, e.g.
        ``{"l": "completer", "r": "wage identity"}``. Every suffix in ``pairs`` needs a label.
    labels : mapping or None, keyword-only
        Column headers for the fields, e.g. ``{"dob": "Date of birth"}``.
    caption : str or None, keyword-only
        The table's caption.
    decimals : int or dict, keyword-only
        Places for numbers that are not whole (see :func:`statelab.tables.format_table`).

    Returns
    -------
    pandas.io.formats.style.Styler
        The table, from :func:`statelab.tables.format_table`; ``pairs`` is not changed.

    Raises
    ------
    ValueError
        If a column has no ``_<suffix>`` or its suffix is not in ``rows``.
    """
    from .tables import format_table

    split = [str(c).rsplit("_", 1) for c in pairs.columns]
    bad = [c for c, parts in zip(pairs.columns, split) if len(parts) != 2 or parts[1] not in rows]
    if bad:
        raise ValueError(f"columns {bad!r} are not <field>_<suffix> with a suffix in rows={sorted(rows)!r}: "
                         "drop them or name their suffix in rows")
    blocks = pairs.set_axis(pd.MultiIndex.from_tuples(tuple(p) for p in split), axis="columns")
    blocks = blocks.stack(level=1, future_stack=True)
    order = {suffix: n for n, suffix in enumerate(rows)}
    blocks = blocks.sort_index(level=1, key=lambda level: level.map(order), sort_remaining=False, kind="stable")
    blocks = blocks.reindex(pairs.index, level=0).rename(index=dict(rows), level=1).rename_axis([None, None])
    return format_table(blocks, index=True, labels=dict(labels or {}), caption=caption, decimals=decimals)
