"""The data-quality profiler, checked against crafted tables and against the truth planted in the data.

Expectations are computed from the truth tables (truth.crosswalk, truth.person, truth.parameters, the
generator's own placeholder list): no number is pasted in.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

import synthetic_data as sd
from statelab import identifiers
from statelab.datalabs import catalog, quality

PERSON_TABLES = [("snap", "head_ssn"), ("tanf", "head_ssn"), ("ui_wage", "ssn"), ("wioa", "ssn"),
                 ("ui_claim", "ssn"), ("postsec_completion", "ssn"), ("postsec_enrollment", "ssn")]


def _param(con, name):
    rows = con.sql(f"SELECT value FROM truth.parameters WHERE name = '{name}'").fetchall()
    return json.loads(rows[0][0]) if rows else 0.0


def _truth_join(table, col):
    status = identifiers.ssn_status_sql(f"r.{col}")
    return (f"SELECT x.person_id, r.{col} AS s, p.ssn AS true_ssn, {status} AS st FROM {table} AS r "
            f"JOIN truth.crosswalk AS x ON x.source_table = '{table}' AND x.record_id = r.record_id "
            f"JOIN truth.person AS p USING (person_id)")


# ------------------------------------------------------------------------------------- SSN rules
@pytest.mark.parametrize("value, expected", [
    (None, "missing"), ("12345678", "malformed"), ("1234567890", "malformed"), ("12345678a", "malformed"),
    ("999-99-999", "malformed"), ("999999999", "placeholder"), ("000000000", "placeholder"),
    ("999999998", "placeholder"), ("123456789", "placeholder"), ("444444444", "placeholder"),
    ("900123456", "valid"), ("000123456", "valid"), ("212345678", "valid")])
def test_ssn_status(value, expected):
    import duckdb

    con = duckdb.connect()
    got = con.execute(f"SELECT {identifiers.ssn_status_sql('s')} FROM (SELECT CAST($1 AS VARCHAR) AS s) AS t",
                      [value]).fetchall()[0][0]
    assert got == expected


def test_never_issued_rule_is_optional():
    import duckdb

    con = duckdb.connect()
    sql = identifiers.ssn_status_sql("s", reject_never_issued=True)
    got = [con.execute(f"SELECT {sql} FROM (SELECT CAST($1 AS VARCHAR) AS s) AS t", [v]).fetchall()[0][0]
           for v in ["900123456", "666123456", "000123456", "212345678"]]
    assert got == ["never_issued", "never_issued", "never_issued", "valid"]
    with pytest.raises(ValueError, match="'s; DROP'"):
        identifiers.ssn_status_sql("s; DROP")


def test_every_planted_placeholder_is_recognized():
    import duckdb

    con = duckdb.connect()
    for v in sd.PLANTED_PLACEHOLDER_SSNS:
        assert con.execute(f"SELECT {identifiers.ssn_status_sql('s')} FROM (SELECT CAST($1 AS VARCHAR) AS s) AS t",
                           [v]).fetchall()[0][0] == "placeholder", v


def test_window_end_from_the_profile():
    w = sd.load_profile("tiny")["window"]
    end = quality.window_end("tiny")
    assert end.year == w["start_year"] + (w["quarters"] - 1) // 4 and end.month == 12 and end.day == 31
    assert (end + dt.timedelta(days=1)).day == 1


# -------------------------------------------------------------------------- crafted table checks
@pytest.fixture()
def crafted(tiny_dataset):
    """A workspace whose `wioa` and `snap` shadow the source with a few broken rows added."""
    con = sd.connect(tiny_dataset)
    con.sql("CREATE TABLE wioa AS SELECT * FROM statelab.wioa")
    first = con.sql("SELECT * FROM wioa ORDER BY record_id LIMIT 1").df()
    con.sql("INSERT INTO wioa SELECT * FROM statelab.wioa ORDER BY record_id LIMIT 1")  # key duplicate
    con.sql("UPDATE wioa SET unique_individual_id = 'bad-id', sex = 'X' WHERE record_id = "
            "(SELECT MAX(record_id) FROM wioa)")
    con.sql("CREATE TABLE snap AS SELECT * FROM statelab.snap")
    con.sql("UPDATE snap SET household_size = 0, head_ssn = '12-345' WHERE record_id = (SELECT MIN(record_id) FROM snap)")
    yield con, int(first["record_id"].iloc[0])
    con.close()


def test_crafted_violations_are_counted(crafted):
    con, _ = crafted
    rep = quality.profile_sources(con, ["wioa", "snap"])
    assert rep.value("wioa", "key", "record_id", metric="count") == 1
    assert rep.value("wioa", "pattern", "unique_individual_id", metric="count") == 1
    assert rep.value("wioa", "allowed", "sex", metric="count") == 1
    assert rep.value("snap", "min", "household_size", metric="count") == 1
    assert rep.value("snap", "ssn_malformed", "head_ssn", metric="count") == 1
    summary = rep.summary().set_index("table")
    assert summary.loc["wioa", "rule_violations"] == 2 and summary.loc["wioa", "key_duplicates"] == 1
    assert "pattern" in rep.to_markdown()


def test_report_errors_and_options(tiny_dataset):
    con = sd.connect(tiny_dataset)
    rep = quality.profile_table(con, "ui_claim", dimensions=["completeness"])
    assert set(rep.results["dimension"]) == {"completeness"}
    with pytest.raises(ValueError, match="'ssn_placeholder'.*'ui_claim'"):
        rep.value("ui_claim", "ssn_placeholder", "ssn")
    with pytest.raises(ValueError, match="'mean'"):
        rep.value("ui_claim", "null_share", "ssn", metric="mean")
    with pytest.raises(ValueError, match="'speed'"):
        quality.profile_table(con, "ui_claim", dimensions=["speed"])
    with pytest.raises(ValueError, match="'nope'"):
        quality.profile_table(con, "ui_claim", duplicates={"x": ["nope"]})
    with pytest.raises(ValueError, match="'person'"):
        quality.profile_table(con, "person")
    with pytest.raises(ValueError, match="'2025-13-01'"):
        quality.profile_table(con, "ui_claim", expected_through="2025-13-01")
    with pytest.raises(ValueError, match="at least one"):
        quality.profile_sources(con, [])


# ------------------------------------------------------------------------------- against the truth
@pytest.fixture(scope="module")
def report(tiny_dataset):
    con = sd.connect(tiny_dataset)
    tables = [t for t, _ in PERSON_TABLES] + ["vendor_comptroller", "employer"]
    return quality.profile_sources(con, tables, expected_through=quality.window_end("tiny"))


@pytest.mark.parametrize("table, col", PERSON_TABLES)
def test_placeholder_and_missing_ssns_equal_what_was_planted(table, col, report, tiny_con):
    ph = ", ".join(f"'{p}'" for p in sd.PLANTED_PLACEHOLDER_SSNS)
    planted_ph, planted_missing, typo_never_issued, n = tiny_con.sql(f"""
        SELECT SUM(CASE WHEN s IN ({ph}) AND s <> true_ssn THEN 1 ELSE 0 END),
               SUM(CASE WHEN s IS NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN s <> true_ssn AND s NOT IN ({ph})
                         AND (SUBSTRING(s FROM 4 FOR 2) = '00' OR SUBSTRING(s FROM 6 FOR 4) = '0000') THEN 1 ELSE 0 END),
               COUNT(*)
        FROM ({_truth_join(table, col)}) AS j""").fetchall()[0]
    planted_ph, planted_missing, typo_never_issued = int(planted_ph), int(planted_missing), int(typo_never_issued or 0)
    assert report.value(table, "ssn_placeholder", col, metric="count") == planted_ph
    assert report.value(table, "ssn_missing", col, metric="count") == planted_missing
    # the generator writes nine digits; a mistyped digit can still give a group 00 or serial 0000, never issued
    assert report.value(table, "ssn_malformed", col, metric="count") == typo_never_issued
    unusable = planted_ph + planted_missing + typo_never_issued
    assert report.value(table, "ssn_unusable", col, metric="count") == unusable
    assert report.value(table, "ssn_unusable", col) == pytest.approx(unusable / n)


@pytest.mark.parametrize("table, col, identity", [
    ("snap", "head_ssn", "case_id"), ("tanf", "head_ssn", "case_id"), ("wioa", "ssn", "record_id"),
    ("postsec_completion", "ssn", "student_id")])
def test_placeholder_and_missing_rates_match_the_profile_parameters(table, col, identity, tiny_con):
    """Noise is drawn per identity (a case, a student...): the share of identities hit is the planted rate."""
    con = tiny_con
    per_identity = con.sql(f"""
        SELECT {identity} AS ident, MAX(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END) AS missing,
               MAX(CASE WHEN {identifiers.ssn_status_sql(col)} = 'placeholder' THEN 1 ELSE 0 END) AS placeholder
        FROM {table} GROUP BY {identity}""").df()
    n = len(per_identity)
    source = "postsecondary" if table.startswith("postsec") else table
    for kind in ("missing", "placeholder"):
        rate = float(_param(con, f"noise.{source}.ssn_{kind}"))
        se = math.sqrt(max(rate * (1 - rate), 1e-4) / n)
        assert abs(per_identity[kind].mean() - rate) <= 4 * se + 1 / n, (table, kind, per_identity[kind].mean(), rate)


def test_wioa_repeated_records_equal_the_planted_duplicates(report, tiny_con):
    """Each period of participation is planted once; the extract repeats some: records minus periods."""
    periods = tiny_con.sql("SELECT COUNT(*) FROM truth.wioa_effect").fetchall()[0][0]
    planted = tiny_con.sql("SELECT COUNT(*) FROM truth.crosswalk WHERE source_table = 'wioa'").fetchall()[0][0] - periods
    assert planted > 0
    assert report.value("wioa", "group:participation", "unique_individual_id, entry_date", metric="count") == planted
    rate = float(_param(tiny_con, "noise.wioa.duplicate_rows"))
    assert abs(planted / periods - rate) <= 4 * math.sqrt(rate * (1 - rate) / periods)


def test_vendor_duplicate_registrations_equal_the_truth(report, tiny_con):
    """Businesses registered twice in the payment system, among registrations with a FEIN."""
    planted = tiny_con.sql("""
        SELECT COALESCE(SUM(k - 1), 0) FROM (
            SELECT b.business_id, COUNT(*) AS k FROM vendor_comptroller AS v
            JOIN truth.business_crosswalk AS b ON b.source_table = 'vendor_comptroller' AND b.source_key = v.vendor_number
            WHERE v.fein IS NOT NULL GROUP BY b.business_id) AS g""").fetchall()[0][0]
    assert report.value("vendor_comptroller", "group:fein", "fein", metric="count") == planted


def test_key_duplicates_are_zero_as_the_schema_promises(report):
    keys = report.results[report.results["check"] == "key"]
    assert len(keys) == len(report.tables) and (keys["count"] == 0).all()


@pytest.mark.parametrize("table, col", PERSON_TABLES)
def test_people_estimate_against_the_crosswalk(table, col, report, tiny_con):
    """The estimate never undercounts by more than the people with no usable SSN, and its excess over the
    true number of people is at most the number of distinct mistyped (valid-looking but wrong) SSNs plus
    the name-only keys beyond one per person (a person recorded under two spellings on records without a
    usable SSN, or under a spelling their SSN-bearing records do not share)."""
    ident = catalog.source_config(table)["identity"]
    key = (f"UPPER(TRIM(r.{ident['first']})) AS f, UPPER(TRIM(r.{ident['last']})) AS l, "
           + (f"r.{ident['dob']} AS d" if ident.get("dob") else "CAST(NULL AS DATE) AS d"))
    status = identifiers.ssn_status_sql(f"r.{col}")
    truth_people, wrong_values, no_usable, extra_names = tiny_con.sql(f"""
        WITH j AS ({_truth_join(table, col)}),
        k AS (SELECT x.person_id, {status} AS st, {key} FROM {table} AS r
              JOIN truth.crosswalk AS x ON x.source_table = '{table}' AND x.record_id = r.record_id),
        rest AS (SELECT DISTINCT u.person_id, u.f, u.l, u.d FROM k AS u WHERE u.st <> 'valid'
                 AND NOT EXISTS (SELECT 1 FROM k WHERE k.st = 'valid' AND k.f = u.f AND k.l = u.l
                                 AND k.d IS NOT DISTINCT FROM u.d)),
        usable_people AS (SELECT DISTINCT person_id FROM k WHERE st = 'valid')
        SELECT (SELECT COUNT(DISTINCT person_id) FROM j),
               (SELECT COUNT(DISTINCT s) FROM j WHERE st = 'valid' AND s <> true_ssn),
               (SELECT COUNT(*) FROM (SELECT person_id FROM j GROUP BY person_id
                                      HAVING SUM(CASE WHEN st = 'valid' THEN 1 ELSE 0 END) = 0) AS q),
               (SELECT COUNT(*) FROM (SELECT DISTINCT f, l, d FROM rest) AS q)
               - (SELECT COUNT(DISTINCT person_id) FROM rest WHERE person_id NOT IN (SELECT person_id FROM usable_people))
    """).fetchall()[0]
    est = report.value(table, "estimated_people", col, metric="count")
    assert -no_usable <= est - truth_people <= wrong_values + extra_names, \
        (est, truth_people, wrong_values, extra_names, no_usable)
    rows = report.value(table, "estimated_people", col, metric="rows")
    assert abs(est - truth_people) <= abs(rows - truth_people)


def test_timeliness_against_the_truth(report, tiny_con):
    last_q = tiny_con.sql("SELECT MAX(year * 4 + quarter - 1) FROM truth.earnings").fetchall()[0][0]
    assert report.value("ui_wage", "last_period", "year, quarter", metric="share") != 0  # NaN share
    detail = report.results.query("table == 'ui_wage' and check == 'last_period'")["detail"].iloc[0]
    assert detail == catalog.period_label(last_q, "quarter")
    assert report.value("ui_wage", "lag_periods", "year, quarter", metric="count") == 0
    # WIOA entries stop early (room is left for post-exit outcomes): the lag is what the truth shows.
    last_entry = tiny_con.sql("SELECT MAX(entry_date) FROM truth.wioa_effect").fetchall()[0][0]
    expected = last_q - (last_entry.year * 4 + (last_entry.month - 1) // 3)
    assert report.value("wioa", "lag_periods", "entry_date", metric="count") == expected > 0


def test_report_renders_and_makes_a_deliverable(report):
    md = report.to_markdown()
    assert md.startswith("## Data quality summary") and "| snap |" in md
    d = report.deliverable(team="T", findings=["One finding."], actions=[{"action": "Fix", "owner": "Steward"}],
                           track="safety_net")
    assert d.missing() == []
    text = d.render_markdown()
    assert "## Findings" in text and "| Fix | Steward |" in text and "ssn_placeholder" in text
