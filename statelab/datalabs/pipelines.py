"""Data Labs unit 6: reproducible pipelines, from the raw extracts and an index to each track's analysis table.

:func:`run_pipeline` runs named SQL steps (:class:`PipelineStep`) in order, saving each as a view or table, and
:func:`pipeline_script` writes them as one SQL script to keep under version control. :func:`track_pipeline`
returns the steps that turn the raw extracts and the master person index (or, for procurement, the business
index) into each track's analysis table (:data:`ANALYSIS_TABLES`); :func:`prepare_track` builds the index and
runs them in one call, the set-up of units 7 to 9. :func:`wage_link_coverage` says how many of a track's
records reach the wage records, and :func:`business_contracts` returns the procurement analysis table.

All SQL is portable (standard SQL plus ``levenshtein`` in the person index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..identifiers import ssn_status_sql
from ._common import age_band_sql, check_name, check_track, quiet, scalar, table_exists
from .business_index import build_business_index
from .person_index import DEFAULT_THRESHOLD, build_mpi

__all__ = [
    "ANALYSIS_TABLES",
    "PipelineStep",
    "business_contracts",
    "pipeline_script",
    "prepare_track",
    "run_log",
    "run_pipeline",
    "track_pipeline",
    "wage_link_coverage",
]


@dataclass(frozen=True)
class PipelineStep:
    """One named step of a reproducible pipeline: a SQL ``SELECT`` saved as a view or a table."""

    name: str
    sql: str
    kind: str = "table"
    description: str = ""

    def __post_init__(self):
        check_name(self.name, "a step name")
        if self.kind not in ("table", "view"):
            raise ValueError(f"a step's kind is 'table' or 'view', got {self.kind!r}")
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise ValueError(f"step {self.name!r} has no SQL")

    def statement(self) -> str:
        """The ``CREATE OR REPLACE`` statement that saves the step."""
        return f"CREATE OR REPLACE {self.kind.upper()} {self.name} AS\n{_dedent(self.sql)}"


def _dedent(sql: str) -> str:
    import textwrap

    return textwrap.dedent(sql).strip("\n")


@quiet
def run_pipeline(con, steps: Sequence[PipelineStep]) -> pd.DataFrame:
    """Run pipeline steps in order on ``con``, saving each as a view or table.

    Running the same steps on the same extracts gives the same tables: the pipeline is the
    documentation of how the analysis table was made. Steps only read earlier steps and the
    source tables.

    Returns
    -------
    pandas.DataFrame
        The run log: ``step, name, kind, rows, description``.
    """
    if isinstance(steps, PipelineStep) or not isinstance(steps, Sequence):
        raise TypeError(f"steps must be a list of PipelineStep, got {type(steps).__name__}")
    log = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, PipelineStep):
            raise TypeError(f"step {i} is a {type(step).__name__}, not a PipelineStep")
        con.sql(step.statement())
        rows = int(scalar(con, f"SELECT COUNT(*) FROM {step.name}"))
        log.append({"step": i, "name": step.name, "kind": step.kind, "rows": rows, "description": step.description})
    return pd.DataFrame(log, columns=["step", "name", "kind", "rows", "description"])


def pipeline_script(steps: Sequence[PipelineStep]) -> str:
    """The steps as one SQL script (statements separated by ``;``), to keep under version control."""
    parts = []
    for step in steps:
        if step.description:
            parts.append(f"-- {step.name}: {step.description}")
        parts.append(step.statement() + ";")
    return "\n\n".join(parts) + "\n"


#: The analysis table each track's pipeline ends with.
ANALYSIS_TABLES: dict[str, str] = {
    "safety_net": "sn_analysis",
    "workforce": "wf_analysis",
    "student_outcomes": "so_analysis",
    "procurement": "pr_analysis",
}


def _person_steps(m: str) -> list[PipelineStep]:
    return [
        PipelineStep("mpi_person", f"""
            SELECT x.mpi_id, MIN(u.sex) AS sex, MIN(u.dob) AS dob, {age_band_sql('MIN(u.dob)')} AS age_band,
                   COUNT(DISTINCT u.source_table) AS n_sources,
                   MAX(CASE WHEN u.ssn IS NOT NULL THEN 1 ELSE 0 END) AS has_valid_ssn
            FROM {m}_unit_index AS x JOIN {m}_units AS u ON u.unit_id = x.unit_id
            GROUP BY x.mpi_id
        """, description="one row per MPI person: sex, date of birth, age band, sources, any valid SSN"),
        PipelineStep("mpi_ssns", f"""
            SELECT DISTINCT x.mpi_id, u.ssn
            FROM {m}_unit_index AS x JOIN {m}_units AS u ON u.unit_id = x.unit_id
            WHERE u.ssn IS NOT NULL
        """, description="every valid SSN recorded for an MPI person (the keys to the wage records)"),
    ]


def _wage_step(name: str, people: str) -> PipelineStep:
    return PipelineStep(name, f"""
        SELECT s.mpi_id, w.state_fips AS wage_state, w.year * 4 + w.quarter - 1 AS quarter_index,
               SUM(w.wages) AS wages
        FROM ui_wage AS w
        JOIN mpi_ssns AS s ON s.ssn = w.ssn
        WHERE s.mpi_id IN (SELECT mpi_id FROM {people})
        GROUP BY s.mpi_id, w.state_fips, w.year * 4 + w.quarter - 1
    """, description="wages per person, state file and quarter, through any of the person's SSNs")


def track_pipeline(track: str, *, mpi: str = "mpi") -> list[PipelineStep]:
    """The steps from the raw extracts (and the MPI or business index) to a track's analysis table.

    Needs the MPI (:func:`build_mpi` with ``prefix=mpi``) for the person tracks, or the business
    index (:func:`build_business_index`, prefix ``biz``) for ``procurement``. The last step is
    :data:`ANALYSIS_TABLES` ``[track]``:

    - ``safety_net`` → ``sn_analysis``: one row per SNAP case closure at least four months before the
      end of the file, with ``churned`` (the same MPI person opens another SNAP case within four
      months), ``on_tanf`` (on TANF during the spell) and, for real exits, ``employed_q2`` (0 when the
      head has no valid SSN anywhere: not linkable, so not found).
    - ``workforce`` → ``wf_analysis``: one row per UI claim filed at least two quarters before the
      last wage quarter: ``employed_q2`` (any state's file), ``employed_q2_home`` and
      ``cross_state_only``, ``earnings_q2``.
    - ``student_outcomes`` → ``so_analysis``: one row per credential awarded at least four quarters
      before the last wage quarter: ``employed_q4``, ``employed_q4_home``, ``cross_state_only``,
      ``earnings_q4``.
    - ``procurement`` → ``pr_analysis``: one row per linked firm with certification, size class,
      contracts and contract dollars.

    Person tables also carry ``linkable`` (the MPI person has a valid SSN, so wages can be looked up)
    and ``own_ssn_valid`` (the record's own SSN is valid: what a link without the MPI would use).
    """
    check_track(track)
    m = check_name(mpi, "mpi")
    if track == "procurement":
        return [
            PipelineStep("pr_awards", """
                SELECT c.contract_id, c.awarding_agency, c.source_system, c.award_date, c.amount, i.business_key
                FROM contract AS c
                LEFT JOIN biz_index AS i
                  ON i.source_key = c.vendor_key
                 AND i.source_table = CASE c.source_system WHEN 'dot' THEN 'vendor_dot' ELSE 'vendor_comptroller' END
            """, description="each contract award with the linked firm's business_key"),
            PipelineStep("pr_analysis", """
                WITH awards AS (
                    SELECT business_key, COUNT(*) AS contracts, SUM(amount) AS contract_dollars
                    FROM pr_awards WHERE business_key IS NOT NULL GROUP BY business_key
                ),
                cert AS (
                    SELECT i.business_key,
                           MAX(CASE WHEN r.certification_type IN ('MBE', 'MWBE') THEN 1 ELSE 0 END) AS minority
                    FROM biz_index AS i JOIN cert_registry AS r ON r.certification_number = i.source_key
                    WHERE i.source_table = 'cert_registry'
                    GROUP BY i.business_key
                ),
                firm AS (
                    SELECT i.business_key, MIN(r.name_key) AS name, MIN(r.ein9) AS ein9,
                           SUM(CASE WHEN r.source_table <> 'cert_registry' THEN 1 ELSE 0 END) AS vendor_records
                    FROM biz_index AS i
                    JOIN biz_records AS r ON r.source_table = i.source_table AND r.source_key = i.source_key
                    GROUP BY i.business_key
                ),
                size AS (SELECT ein, MAX(size_class) AS size_class FROM employer GROUP BY ein)
                SELECT f.business_key, f.name, f.vendor_records,
                       CASE WHEN c.business_key IS NOT NULL THEN TRUE ELSE FALSE END AS certified,
                       CASE WHEN c.minority = 1 THEN TRUE ELSE FALSE END AS minority_certified,
                       s.size_class,
                       COALESCE(a.contracts, 0) AS contracts,
                       COALESCE(a.contract_dollars, 0) AS contract_dollars
                FROM firm AS f
                LEFT JOIN awards AS a ON a.business_key = f.business_key
                LEFT JOIN cert AS c ON c.business_key = f.business_key
                LEFT JOIN size AS s ON s.ein = f.ein9
            """, description="one row per linked firm: certification, size class, contracts and dollars"),
        ]
    steps = _person_steps(m)
    if track == "safety_net":
        month = "CAST(FLOOR({c} / 100) * 12 + MOD({c}, 100) - 1 AS INTEGER)"
        steps += [
            PipelineStep("sn_case_months", f"""
                SELECT 'snap' AS program, s.case_id, s.state_fips, s.county_fips, x.mpi_id,
                       {month.format(c='s.file_month')} AS month_index
                FROM snap AS s JOIN {m}_index AS x ON x.source_table = 'snap' AND x.record_id = s.record_id
                UNION ALL
                SELECT 'tanf', t.case_id, t.state_fips, t.county_fips, x.mpi_id,
                       {month.format(c='t.reporting_month')}
                FROM tanf AS t JOIN {m}_index AS x ON x.source_table = 'tanf' AND x.record_id = t.record_id
            """, kind="view", description="SNAP and TANF case-months with the head's MPI id (month index = year*12 + month - 1)"),
            PipelineStep("sn_spells", """
                SELECT program, case_id, MIN(state_fips) AS state_fips, MIN(county_fips) AS county_fips,
                       MIN(mpi_id) AS mpi_id, MIN(month_index) AS first_month, MAX(month_index) AS last_month
                FROM sn_case_months
                GROUP BY program, case_id
            """, description="one row per case (a spell on one program)"),
            _wage_step("sn_wage_quarters", "sn_spells"),
            PipelineStep("sn_analysis", """
                WITH ends AS (
                    SELECT (SELECT MAX(month_index) FROM sn_case_months WHERE program = 'snap') AS last_file_month,
                           (SELECT MAX(quarter_index) FROM sn_wage_quarters) AS last_wage_quarter
                ),
                closures AS (
                    SELECT c.*,
                           CASE WHEN EXISTS (
                               SELECT 1 FROM sn_spells AS s2
                               WHERE s2.program = 'snap' AND s2.mpi_id = c.mpi_id AND s2.case_id <> c.case_id
                                 AND s2.first_month BETWEEN c.last_month + 1 AND c.last_month + 4)
                                THEN 1 ELSE 0 END AS churned,
                           CASE WHEN EXISTS (
                               SELECT 1 FROM sn_case_months AS t
                               WHERE t.program = 'tanf' AND t.mpi_id = c.mpi_id
                                 AND t.month_index BETWEEN c.first_month AND c.last_month)
                                THEN 1 ELSE 0 END AS on_tanf,
                           CAST(FLOOR(c.last_month / 3) AS INTEGER) AS exit_quarter
                    FROM sn_spells AS c, ends
                    WHERE c.program = 'snap' AND c.last_month <= ends.last_file_month - 4
                )
                SELECT c.case_id, c.mpi_id, c.state_fips, c.county_fips,
                       CAST(FLOOR(c.last_month / 12) AS INTEGER) AS closure_year,
                       p.sex, p.age_band, p.has_valid_ssn AS linkable, c.churned, c.on_tanf,
                       CASE WHEN c.churned = 1 OR c.exit_quarter + 2 > (SELECT last_wage_quarter FROM ends) THEN NULL
                            WHEN EXISTS (SELECT 1 FROM sn_wage_quarters AS w
                                         WHERE w.mpi_id = c.mpi_id AND w.quarter_index = c.exit_quarter + 2
                                           AND w.wages > 0) THEN 1 ELSE 0 END AS employed_q2
                FROM closures AS c JOIN mpi_person AS p ON p.mpi_id = c.mpi_id
            """, description="one row per SNAP closure: churn, TANF co-enrollment, employment after a real exit"),
        ]
    elif track == "workforce":
        steps += [
            PipelineStep("wf_claims", f"""
                SELECT c.claim_id, c.state_fips, c.county_fips, c.sex, c.education, c.naics_sector, x.mpi_id,
                       {age_band_sql('c.dob')} AS age_band,
                       CAST(EXTRACT(YEAR FROM c.date_filed) * 4 + EXTRACT(QUARTER FROM c.date_filed) - 1 AS INTEGER)
                           AS filed_quarter,
                       {ssn_status_sql('c.ssn')} = 'valid' AS own_ssn_valid
                FROM ui_claim AS c
                JOIN {m}_index AS x ON x.source_table = 'ui_claim' AND x.record_id = c.record_id
            """, description="each UI claim with the claimant's MPI id and filing quarter"),
            _wage_step("wf_wage_quarters", "wf_claims"),
            PipelineStep("wf_analysis", """
                WITH q2 AS (
                    SELECT c.claim_id,
                           SUM(w.wages) AS earnings_q2,
                           MAX(CASE WHEN w.wage_state = c.state_fips AND w.wages > 0 THEN 1 ELSE 0 END) AS home
                    FROM wf_claims AS c
                    JOIN wf_wage_quarters AS w ON w.mpi_id = c.mpi_id AND w.quarter_index = c.filed_quarter + 2
                    GROUP BY c.claim_id
                )
                SELECT c.claim_id, c.mpi_id, c.state_fips, c.county_fips, c.sex, c.education, c.naics_sector,
                       c.age_band, c.filed_quarter, c.own_ssn_valid, p.has_valid_ssn AS linkable,
                       CASE WHEN COALESCE(q2.earnings_q2, 0) > 0 THEN 1 ELSE 0 END AS employed_q2,
                       COALESCE(q2.home, 0) AS employed_q2_home,
                       CASE WHEN COALESCE(q2.earnings_q2, 0) > 0 AND COALESCE(q2.home, 0) = 0 THEN 1 ELSE 0 END
                           AS cross_state_only,
                       COALESCE(q2.earnings_q2, 0) AS earnings_q2
                FROM wf_claims AS c
                JOIN mpi_person AS p ON p.mpi_id = c.mpi_id
                LEFT JOIN q2 ON q2.claim_id = c.claim_id
                WHERE c.filed_quarter + 2 <= (SELECT MAX(quarter_index) FROM wf_wage_quarters)
            """, description="one row per claim: employed in the 2nd quarter after filing, home state or across a line"),
        ]
    else:  # student_outcomes
        steps += [
            PipelineStep("so_awards", f"""
                SELECT c.record_id, c.institution_id, i.state_fips, c.degree_level, c.cip_code, x.mpi_id,
                       {age_band_sql('c.dob')} AS age_band,
                       CAST(EXTRACT(YEAR FROM c.award_date) * 4 + EXTRACT(QUARTER FROM c.award_date) - 1 AS INTEGER)
                           AS award_quarter,
                       {ssn_status_sql('c.ssn')} = 'valid' AS own_ssn_valid
                FROM postsec_completion AS c
                JOIN institution AS i ON i.institution_id = c.institution_id
                JOIN {m}_index AS x ON x.source_table = 'postsec_completion' AND x.record_id = c.record_id
            """, description="each credential awarded, with the institution's state and the MPI id"),
            _wage_step("so_wage_quarters", "so_awards"),
            PipelineStep("so_analysis", """
                WITH q4 AS (
                    SELECT a.record_id,
                           SUM(w.wages) AS earnings_q4,
                           MAX(CASE WHEN w.wage_state = a.state_fips AND w.wages > 0 THEN 1 ELSE 0 END) AS home
                    FROM so_awards AS a
                    JOIN so_wage_quarters AS w ON w.mpi_id = a.mpi_id AND w.quarter_index = a.award_quarter + 4
                    GROUP BY a.record_id
                )
                SELECT a.record_id, a.mpi_id, a.institution_id, a.state_fips, a.degree_level, a.cip_code,
                       p.sex, a.age_band, a.award_quarter, a.own_ssn_valid, p.has_valid_ssn AS linkable,
                       CASE WHEN COALESCE(q4.earnings_q4, 0) > 0 THEN 1 ELSE 0 END AS employed_q4,
                       COALESCE(q4.home, 0) AS employed_q4_home,
                       CASE WHEN COALESCE(q4.earnings_q4, 0) > 0 AND COALESCE(q4.home, 0) = 0 THEN 1 ELSE 0 END
                           AS cross_state_only,
                       COALESCE(q4.earnings_q4, 0) AS earnings_q4
                FROM so_awards AS a
                JOIN mpi_person AS p ON p.mpi_id = a.mpi_id
                LEFT JOIN q4 ON q4.record_id = a.record_id
                WHERE a.award_quarter + 4 <= (SELECT MAX(quarter_index) FROM so_wage_quarters)
            """, description="one row per award: employed in the 4th quarter after, home state or across a line"),
        ]
    return steps


@quiet
def prepare_track(con, track: str, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Build the MPI (or, for procurement, the business index) and run the track's pipeline.

    A one-call set-up for later units (equity, story, action plan). Returns the pipeline's run log;
    the analysis table is :data:`ANALYSIS_TABLES` ``[track]``.
    """
    check_track(track)
    if track == "procurement":
        build_business_index(con)
    else:
        build_mpi(con, threshold=threshold)
    return run_pipeline(con, track_pipeline(track))


@quiet
def wage_link_coverage(con, track: str) -> pd.DataFrame:
    """How many of the track's records can reach the wage records, by their own SSN and through the MPI.

    Needs the track's analysis table (:func:`prepare_track`). Not defined for ``procurement``.

    Returns
    -------
    pandas.DataFrame
        ``state_fips, records, own_ssn_valid, via_mpi`` (the last two are shares).
    """
    check_track(track)
    if track == "procurement":
        raise ValueError("wage_link_coverage is for the person tracks; procurement links firms, not people")
    table = ANALYSIS_TABLES[track]
    if track == "safety_net":
        own = f"""(SELECT CASE WHEN {ssn_status_sql('s.head_ssn')} = 'valid' THEN 1.0 ELSE 0.0 END
                  FROM snap AS s WHERE s.case_id = a.case_id LIMIT 1)"""
    else:
        own = "CASE WHEN a.own_ssn_valid THEN 1.0 ELSE 0.0 END"
    return con.sql(f"""
        SELECT COALESCE(a.state_fips, 'all') AS state_fips, COUNT(*) AS records,
               AVG({own}) AS own_ssn_valid, AVG(a.linkable * 1.0) AS via_mpi
        FROM {table} AS a
        GROUP BY ROLLUP (a.state_fips)
        ORDER BY 1
    """).df()


@quiet
def business_contracts(con) -> pd.DataFrame:
    """Contract awards per linked firm, with its certification and size (the ``pr_analysis`` table).

    Runs the procurement pipeline (:func:`track_pipeline` ``("procurement")``) on the business index
    :func:`build_business_index` made. Each contract's vendor key is looked up in the system it names
    (``source_system``). A firm is *certified minority-owned* when any of its registry records is an
    MBE or MWBE certification; its size class comes from the UI employer file, matched on EIN.

    Returns
    -------
    pandas.DataFrame
        ``business_key, name, vendor_records, certified, minority_certified, size_class, contracts,
        contract_dollars`` for every firm in the index (firms without awards have 0).
    """
    run_pipeline(con, track_pipeline("procurement"))
    return con.sql("SELECT * FROM pr_analysis ORDER BY business_key").df()


def run_log(con, track: str) -> pd.DataFrame:
    """The track pipeline's steps with the rows each saved table holds now (``step, name, kind, rows``)."""
    rows = []
    for i, step in enumerate(track_pipeline(track), 1):
        n = int(scalar(con, f"SELECT COUNT(*) FROM {step.name}")) if table_exists(con, step.name) else None
        rows.append({"step": i, "name": step.name, "kind": step.kind, "rows": n, "what it holds": step.description})
    return pd.DataFrame(rows)
