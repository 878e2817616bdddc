"""Data Labs instructor and test tools: the person and business indexes compared with the planted truth.

Every function here needs a connection opened with ``sd.connect(..., truth=True)`` and says so when it does
not have one. Learner notebooks never call them; the course's tests and instructors use them to check what
the units teach, in particular that the error estimates made without the truth
(:mod:`statelab.datalabs.linkage_error`) are close to the real errors.
"""

from __future__ import annotations

import pandas as pd

from ._common import age_band_sql, check_name, quiet, require_truth, scalar, table_exists

__all__ = ["mpi_quality", "link_quality", "business_index_quality"]


def _unit_people_sql(p: str) -> str:
    """Each identity unit's true people, ranked (``k = 1``: the person of most of its records)."""
    return f"""
        WITH rp AS (
            SELECT r.unit_id, c.person_id, COUNT(*) AS n
            FROM {p}_records AS r
            JOIN truth.crosswalk AS c ON c.source_table = r.source_table AND c.record_id = r.record_id
            GROUP BY r.unit_id, c.person_id
        )
        SELECT unit_id, person_id,
               ROW_NUMBER() OVER (PARTITION BY unit_id ORDER BY n DESC, person_id) AS k,
               COUNT(*) OVER (PARTITION BY unit_id) AS n_people
        FROM rp
    """


@quiet
def mpi_quality(con, *, prefix: str = "mpi", by: str | None = None) -> pd.DataFrame:
    """Compare the MPI with the hidden truth (**instructor/test tool**: needs ``truth=True``).

    Each identity unit takes the true person of most of its records (``truth.crosswalk``). Pairs are
    counted over identity units, without listing them: a pair of units is *predicted* when both have
    the same ``mpi_id`` and *true* when both belong to the same person.

    Parameters
    ----------
    by : {None, "sex", "race_ethnicity", "education", "age_band", "state_fips"}
        Recall by an attribute of the true person (``age_band``: age at the start of 2020, in bands;
        ``state_fips``: the state holding the unit). Precision and over-linking are
        reported for the whole MPI only (a false pair has two people).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, true_pairs, predicted_pairs, true_positive_pairs, precision,
        recall, f1, persons, under_linked_persons, under_linking_rate, mpi_persons,
        over_linked_mpi_persons, over_linking_rate, impure_units``.
    """
    p = check_name(prefix, "prefix")
    require_truth(con)
    groups = {
        None: "'all'",
        "sex": "tp.sex",
        "race_ethnicity": "tp.race_ethnicity",
        "education": "tp.education",
        "age_band": age_band_sql("tp.dob"),
        "state_fips": "ut.state_fips",
    }
    if by not in groups:
        raise ValueError(f"by must be one of {list(groups)}, got {by!r}")
    con.sql(f"""
        CREATE OR REPLACE TEMP TABLE _dl_unit_truth AS
        WITH ranked AS ({_unit_people_sql(p)})
        SELECT k.unit_id, k.person_id, k.n_people, x.mpi_id, u.state_fips
        FROM ranked AS k
        JOIN {p}_unit_index AS x ON x.unit_id = k.unit_id
        JOIN {p}_units AS u ON u.unit_id = k.unit_id
        WHERE k.k = 1
    """)
    g = groups[by]
    out = con.sql(f"""
        WITH ut AS (SELECT * FROM _dl_unit_truth),
        cell AS (
            SELECT ut.person_id, ut.mpi_id, COUNT(*) AS n FROM ut GROUP BY ut.person_id, ut.mpi_id
        ),
        person AS (
            SELECT {g} AS grp, ut.person_id, COUNT(*) AS n, COUNT(DISTINCT ut.mpi_id) AS n_mpi
            FROM ut JOIN truth.person AS tp ON tp.person_id = ut.person_id
            GROUP BY {g}, ut.person_id
        ),
        tp_pairs AS (
            SELECT pe.grp, SUM(c.n * (c.n - 1) / 2) AS tp
            FROM cell AS c JOIN (SELECT DISTINCT grp, person_id FROM person) AS pe ON pe.person_id = c.person_id
            GROUP BY pe.grp
        ),
        by_group AS (
            SELECT grp, SUM(n * (n - 1) / 2) AS true_pairs, COUNT(*) AS persons,
                   SUM(CASE WHEN n_mpi > 1 THEN 1 ELSE 0 END) AS under_linked_persons
            FROM person GROUP BY grp
        )
        SELECT b.grp AS "group", b.true_pairs, t.tp AS true_positive_pairs, b.persons, b.under_linked_persons
        FROM by_group AS b JOIN tp_pairs AS t ON t.grp = b.grp
        ORDER BY b.grp
    """).df()
    whole = con.sql("""
        WITH m AS (SELECT mpi_id, COUNT(*) AS n, COUNT(DISTINCT person_id) AS n_people FROM _dl_unit_truth GROUP BY mpi_id),
        c AS (SELECT person_id, mpi_id, COUNT(*) AS n FROM _dl_unit_truth GROUP BY person_id, mpi_id)
        SELECT (SELECT SUM(n * (n - 1) / 2) FROM m) AS predicted_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM c) AS tp_all,
               (SELECT COUNT(*) FROM m) AS mpi_persons,
               (SELECT SUM(CASE WHEN n_people > 1 THEN 1 ELSE 0 END) FROM m) AS over_linked_mpi_persons,
               (SELECT SUM(CASE WHEN n_people > 1 THEN 1 ELSE 0 END) FROM _dl_unit_truth) AS impure_units
    """).df().iloc[0]
    con.sql("DROP TABLE IF EXISTS _dl_unit_truth")
    pred = float(whole["predicted_pairs"] or 0)
    precision = float(whole["tp_all"]) / pred if pred else float("nan")
    out["predicted_pairs"] = int(pred)
    out["precision"] = precision
    out["recall"] = out["true_positive_pairs"].astype(float) / out["true_pairs"].where(out["true_pairs"] > 0)
    out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"])
    out["under_linking_rate"] = out["under_linked_persons"] / out["persons"]
    out["mpi_persons"] = int(whole["mpi_persons"])
    out["over_linked_mpi_persons"] = int(whole["over_linked_mpi_persons"] or 0)
    out["over_linking_rate"] = out["over_linked_mpi_persons"] / out["mpi_persons"]
    out["impure_units"] = int(whole["impure_units"] or 0)
    cols = ["group", "true_pairs", "predicted_pairs", "true_positive_pairs", "precision", "recall", "f1",
            "persons", "under_linked_persons", "under_linking_rate", "mpi_persons", "over_linked_mpi_persons",
            "over_linking_rate", "impure_units"]
    for c in ("true_pairs", "true_positive_pairs", "persons", "under_linked_persons"):
        out[c] = out[c].astype("int64")
    return out[cols]


@quiet
def link_quality(con, *, prefix: str = "mpi") -> pd.DataFrame:
    """The accepted links judged against the truth (**instructor/test tool**: needs ``truth=True``).

    A link (a row of ``{prefix}_links``) is *false* when its two identity units belong to different people
    (each unit takes the true person of most of its records, as in :func:`mpi_quality`). This is what
    :func:`statelab.datalabs.linkage_error.estimate_linkage_error` estimates as ``est_false_links`` and
    ``est_precision``.

    Returns
    -------
    pandas.DataFrame
        One row per rule and an ``all`` row: ``rule, links, false_links, link_precision``.
    """
    p = check_name(prefix, "prefix")
    require_truth(con)
    out = con.sql(f"""
        WITH ut AS (SELECT unit_id, person_id FROM ({_unit_people_sql(p)}) AS ranked WHERE k = 1)
        SELECT COALESCE(l.rule, 'all') AS rule, COUNT(*) AS links,
               SUM(CASE WHEN a.person_id <> b.person_id THEN 1 ELSE 0 END) AS false_links
        FROM {p}_links AS l
        JOIN ut AS a ON a.unit_id = l.unit_a JOIN ut AS b ON b.unit_id = l.unit_b
        GROUP BY ROLLUP (l.rule)
        ORDER BY CASE WHEN l.rule IS NULL THEN 1 ELSE 0 END, 1
    """).df()
    out["links"] = out["links"].astype("int64")
    out["false_links"] = out["false_links"].fillna(0).astype("int64")
    out["link_precision"] = 1 - out["false_links"] / out["links"].where(out["links"] > 0)
    return out


@quiet
def business_index_quality(con, *, prefix: str = "biz") -> pd.DataFrame:
    """Compare the business index with the hidden truth (**instructor/test tool**: ``truth=True``).

    Pairs of vendor records are counted over ``truth.business_crosswalk``. When the procurement
    pipeline has run (``pr_analysis`` exists), also compares the contract dollars of certified
    minority-owned firms found through the index with the truth (firms that are ``certified`` and
    ``minority_owned`` in ``truth.business``); otherwise ``minority_dollars_index`` is NaN.

    Returns
    -------
    pandas.DataFrame
        One row: ``true_pairs, predicted_pairs, true_positive_pairs, precision, recall,
        businesses, under_linked_businesses, over_linked_keys, minority_dollars_index,
        minority_dollars_truth, cert_records_matched_to_vendor, cert_records``.
    """
    p = check_name(prefix, "prefix")
    require_truth(con)
    row = con.sql(f"""
        WITH x AS (
            SELECT i.source_table, i.source_key, i.business_key, t.business_id
            FROM {p}_index AS i
            JOIN truth.business_crosswalk AS t ON t.source_table = i.source_table AND t.source_key = i.source_key
        ),
        cell AS (SELECT business_key, business_id, COUNT(*) AS n FROM x GROUP BY business_key, business_id),
        k AS (SELECT business_key, COUNT(*) AS n, COUNT(DISTINCT business_id) AS ids FROM x GROUP BY business_key),
        b AS (SELECT business_id, COUNT(*) AS n, COUNT(DISTINCT business_key) AS keys FROM x GROUP BY business_id)
        SELECT (SELECT SUM(n * (n - 1) / 2) FROM b) AS true_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM k) AS predicted_pairs,
               (SELECT SUM(n * (n - 1) / 2) FROM cell) AS true_positive_pairs,
               (SELECT COUNT(*) FROM b) AS businesses,
               (SELECT SUM(CASE WHEN keys > 1 THEN 1 ELSE 0 END) FROM b) AS under_linked_businesses,
               (SELECT SUM(CASE WHEN ids > 1 THEN 1 ELSE 0 END) FROM k) AS over_linked_keys
    """).df().iloc[0].to_dict()
    truth_dollars = scalar(con, """
        SELECT COALESCE(SUM(c.amount), 0)
        FROM contract AS c
        JOIN truth.business_crosswalk AS x
          ON x.source_key = c.vendor_key
         AND x.source_table = CASE c.source_system WHEN 'dot' THEN 'vendor_dot' ELSE 'vendor_comptroller' END
        JOIN truth.business AS b ON b.business_id = x.business_id
        WHERE b.certified AND b.minority_owned
    """)
    index_dollars = scalar(con, "SELECT COALESCE(SUM(contract_dollars), 0) FROM pr_analysis WHERE minority_certified") \
        if table_exists(con, "pr_analysis") else float("nan")
    cert = con.sql(f"""
        WITH sizes AS (
            SELECT business_key, SUM(CASE WHEN source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
            FROM {p}_index GROUP BY business_key)
        SELECT COUNT(*) AS cert_records, SUM(CASE WHEN s.vendor_records > 0 THEN 1 ELSE 0 END) AS matched
        FROM {p}_index AS i JOIN sizes AS s ON s.business_key = i.business_key
        WHERE i.source_table = 'cert_registry'
    """).fetchall()[0]
    out = {k: (int(v) if v is not None else 0) for k, v in row.items()}
    out["precision"] = out["true_positive_pairs"] / out["predicted_pairs"] if out["predicted_pairs"] else float("nan")
    out["recall"] = out["true_positive_pairs"] / out["true_pairs"] if out["true_pairs"] else float("nan")
    out["minority_dollars_index"] = float(index_dollars)
    out["minority_dollars_truth"] = float(truth_dollars)
    out["cert_records_matched_to_vendor"] = int(cert[1] or 0)
    out["cert_records"] = int(cert[0] or 0)
    cols = ["true_pairs", "predicted_pairs", "true_positive_pairs", "precision", "recall", "businesses",
            "under_linked_businesses", "over_linked_keys", "minority_dollars_index", "minority_dollars_truth",
            "cert_records_matched_to_vendor", "cert_records"]
    return pd.DataFrame([{c: out[c] for c in cols}])

