"""Data sharing agreements drafted from structured inputs, and checked for missing sections (Data Labs unit 4).

A team describes its agreement as a dict of sections (:data:`REQUIRED_SECTIONS`); :func:`check_agreement` names
every section that is missing, empty or incomplete, :func:`agreement_problems` explains each problem, and
:func:`draft_agreement` renders the document (Markdown/HTML) through the deliverable model.

Section formats
---------------
=============================  ==================================================================================
``purpose``                    text: the project and the decision it informs
``parties``                    list of dicts ``{name, role, contact}``; ``role`` is ``provider``, ``recipient``
                               or ``both``; at least one provider and one recipient
``legal_authority``            text or list: the laws that allow the sharing
``permitted_uses``             list of uses; anything not listed is prohibited
``prohibited_uses``            list (e.g. no re-identification, no enforcement use)
``data_elements``              list of dicts ``{table, column, ...}`` or a DataFrame (see :func:`data_elements_for`)
``security``                   dict ``{storage, transmission, access_controls}``
``authorized_access``          list of who may see the data (roles, not names), and how access is approved
``retention_and_destruction``  dict ``{retention_period, destruction_method, certification}``
``publication_and_disclosure`` list of disclosure rules applied before anything leaves the secure environment
``breach_notification``        dict ``{notify_within, contact}``
``term_and_termination``       dict ``{effective_date, end_date, termination}``
``signatures``                 list of dicts ``{party, name, title}``, one for every party
=============================  ==================================================================================

Optional: ``title``, ``team``, ``costs``, ``amendments``, ``linkage_method``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from . import catalog as _catalog
from . import deliverables as _dl
from .tracks import Track, get_track

__all__ = [
    "DATA_SHARING_AGREEMENT",
    "PARTY_ROLES",
    "REQUIRED_SECTIONS",
    "SECTION_FIELDS",
    "SECTION_TITLES",
    "MissingSectionsError",
    "agreement_problems",
    "check_agreement",
    "data_elements_for",
    "draft_agreement",
    "example_inputs",
    "parties_for",
]

#: The sections every agreement must have, in document order.
REQUIRED_SECTIONS = (
    "purpose",
    "parties",
    "legal_authority",
    "permitted_uses",
    "prohibited_uses",
    "data_elements",
    "security",
    "authorized_access",
    "retention_and_destruction",
    "publication_and_disclosure",
    "breach_notification",
    "term_and_termination",
    "signatures",
)

SECTION_TITLES = {
    "purpose": "Purpose",
    "parties": "Parties",
    "legal_authority": "Legal authority",
    "permitted_uses": "Permitted uses",
    "prohibited_uses": "Prohibited uses",
    "data_elements": "Data elements",
    "security": "Data security",
    "authorized_access": "Authorized access",
    "retention_and_destruction": "Retention and destruction",
    "publication_and_disclosure": "Publication and disclosure",
    "breach_notification": "Breach notification",
    "term_and_termination": "Term and termination",
    "signatures": "Signatures",
}

#: Sections given as dicts, and the entries each must fill in.
SECTION_FIELDS = {
    "security": ("storage", "transmission", "access_controls"),
    "retention_and_destruction": ("retention_period", "destruction_method", "certification"),
    "breach_notification": ("notify_within", "contact"),
    "term_and_termination": ("effective_date", "end_date", "termination"),
}

PARTY_ROLES = ("provider", "recipient", "both")
_OPTIONAL = ("title", "team", "costs", "amendments", "linkage_method")

DATA_SHARING_AGREEMENT = _dl.DeliverableSpec(
    kind="data_sharing_agreement", title="Data sharing agreement", unit=4,
    description="A data sharing agreement drafted from structured inputs and checked for missing sections.",
    required=REQUIRED_SECTIONS, optional=_OPTIONAL,
)


class MissingSectionsError(_dl.MissingFieldsError):
    """An agreement lacks required sections; ``.missing`` names them, ``.problems`` explains each."""

    def __init__(self, missing: list[str], problems: list[str]):
        super().__init__("data_sharing_agreement", missing)
        self.problems = list(problems)
        self.args = ("the data sharing agreement is missing or has incomplete section(s): "
                     + ", ".join(missing) + "\n  " + "\n  ".join(problems),)


def _records(value) -> list | None:
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _section_problems(name: str, value, inputs: Mapping) -> list[str]:
    """Problems with one section (empty list: complete)."""
    title = SECTION_TITLES[name]
    if _dl.is_blank(value):
        return [f"{name}: the {title.lower()} section is missing or empty"]
    if name in SECTION_FIELDS:
        if not isinstance(value, Mapping):
            return [f"{name}: give a dict with {', '.join(SECTION_FIELDS[name])}, got {type(value).__name__}"]
        return [f"{name}: {entry!r} is missing or empty" for entry in SECTION_FIELDS[name]
                if _dl.is_blank(value.get(entry))]
    if name == "parties":
        rows = _records(value)
        if rows is None or not all(isinstance(r, Mapping) for r in rows):
            return ["parties: give a list of dicts with name, role and contact"]
        out = []
        for i, r in enumerate(rows):
            for entry in ("name", "role", "contact"):
                if _dl.is_blank(r.get(entry)):
                    out.append(f"parties: party {i + 1} has no {entry}")
            if not _dl.is_blank(r.get("role")) and r.get("role") not in PARTY_ROLES:
                out.append(f"parties: party {i + 1} has role {r.get('role')!r}; use one of {PARTY_ROLES}")
        roles = {r.get("role") for r in rows}
        if not roles & {"provider", "both"}:
            out.append("parties: no party provides data (role 'provider' or 'both')")
        if not roles & {"recipient", "both"}:
            out.append("parties: no party receives data (role 'recipient' or 'both')")
        return out
    if name == "data_elements":
        rows = _records(value)
        if rows is None or not all(isinstance(r, Mapping) for r in rows):
            return ["data_elements: give a list of dicts (table, column, ...) or a DataFrame"]
        return [f"data_elements: element {i + 1} has no {entry}" for i, r in enumerate(rows)
                for entry in ("table", "column") if _dl.is_blank(r.get(entry))]
    if name == "signatures":
        rows = _records(value)
        if rows is None or not all(isinstance(r, Mapping) for r in rows):
            return ["signatures: give a list of dicts with party, name and title"]
        out = [f"signatures: signature {i + 1} has no {entry}" for i, r in enumerate(rows)
               for entry in ("party", "name", "title") if _dl.is_blank(r.get(entry))]
        parties = _records(inputs.get("parties")) or []
        signed = {r.get("party") for r in rows}
        for p in parties:
            if isinstance(p, Mapping) and not _dl.is_blank(p.get("name")) and p.get("name") not in signed:
                out.append(f"signatures: party {p.get('name')!r} has no signature")
        return out
    return []


def agreement_problems(inputs: Mapping) -> list[str]:
    """Every problem with an agreement's inputs, one message each (empty list: ready to render).

    Also flags keys that are not sections (a misspelled section name would otherwise be silently ignored).
    """
    if not isinstance(inputs, Mapping):
        raise TypeError(f"agreement inputs must be a dict of sections, got {type(inputs).__name__}")
    out = []
    for name in REQUIRED_SECTIONS:
        out += _section_problems(name, inputs.get(name), inputs)
    unknown = [k for k in inputs if k not in REQUIRED_SECTIONS and k not in _OPTIONAL]
    out += [f"{k}: not a section of the agreement (sections: {', '.join(REQUIRED_SECTIONS)})" for k in unknown]
    return out


def check_agreement(inputs: Mapping) -> list[str]:
    """The required sections that are missing, empty or incomplete, by name, in document order.

    Parameters
    ----------
    inputs : dict
        The agreement's sections (see the module notes for each section's format).

    Returns
    -------
    list of str
        Section names from :data:`REQUIRED_SECTIONS`; empty when every required section is complete.
    """
    if not isinstance(inputs, Mapping):
        raise TypeError(f"agreement inputs must be a dict of sections, got {type(inputs).__name__}")
    return [name for name in REQUIRED_SECTIONS if _section_problems(name, inputs.get(name), inputs)]


def draft_agreement(inputs: Mapping, *, track: str | None = None, draft: bool = False) -> _dl.Deliverable:
    """The agreement as a deliverable (render with ``.render_markdown()``, ``.render_html()``, ``.save()``).

    Parameters
    ----------
    inputs : dict
        The sections.
    track : str, optional
        The case track (shown in the header).
    draft : bool
        Allow missing or incomplete sections (they render as placeholders). Without it an incomplete
        agreement raises :class:`MissingSectionsError` naming every section and problem.
    """
    missing = check_agreement(inputs)
    if missing and not draft:
        raise MissingSectionsError(missing, agreement_problems(inputs))
    fields = {k: v for k, v in inputs.items() if k in REQUIRED_SECTIONS or k in _OPTIONAL}
    for name in missing:  # incomplete sections render as placeholders too
        fields[name] = None
    title = fields.pop("title", None) or DATA_SHARING_AGREEMENT.title
    return _dl.Deliverable(DATA_SHARING_AGREEMENT, fields, track=track, title=title, draft=bool(missing))


# ------------------------------------------------------------------------------- filling from the data
def data_elements_for(track: str | Track, *, include_keys: bool = True) -> pd.DataFrame:
    """The data elements a track needs (its ``needs`` columns), documented from the catalog.

    Minimum necessary: only the columns the track's needs name, plus (with ``include_keys``) each table's
    primary key. Returns ``table, column, description, pii, provider``.
    """
    t = track if isinstance(track, Track) else get_track(track)
    refs = [r for n in t.needs for r in n.columns]
    if include_keys:
        for row in _catalog.table_catalog(sorted({r.split(".")[0] for r in refs})).itertuples():
            refs += [f"{row.table}.{k.strip()}" for k in row.key.split(",")]
    refs = list(dict.fromkeys(refs))
    tables = list(dict.fromkeys(r.split(".")[0] for r in refs))
    refs.sort(key=lambda r: tables.index(r.split(".")[0]))  # stable: grouped by table, needs order within
    fc = _catalog.field_catalog(tables).set_index(["table", "column"])
    agencies = _catalog.table_catalog(tables).set_index("table")["agency"]
    rows = []
    for ref in refs:
        table, column = ref.split(".")
        meta = fc.loc[(table, column)]
        rows.append({"table": table, "column": column, "description": meta["description"],
                     "pii": bool(meta["pii"]), "provider": agencies[table]})
    return pd.DataFrame(rows, columns=["table", "column", "description", "pii", "provider"])


def parties_for(track: str | Track, *, recipient: str = "State data office (integrated data team)",
                contact: str = "Data sharing coordinator") -> list[dict]:
    """Parties of an agreement for a track: each agency holding one of its source tables, and the recipient."""
    t = track if isinstance(track, Track) else get_track(track)
    agencies = list(dict.fromkeys(_catalog.table_catalog(list(t.source_tables))["agency"]))
    parties = [{"name": a, "role": "provider", "contact": contact} for a in agencies]
    return parties + [{"name": recipient, "role": "recipient", "contact": contact}]


_AUTHORITY = {
    "ui": "Confidentiality of state UI wage and claims records: 20 CFR part 603 (disclosure for purposes such as "
          "evaluation and research under an agreement).",
    "snap": "SNAP applicant and recipient information: 7 CFR 272.1(c) (use and disclosure limited to program "
            "administration and the purposes it lists).",
    "tanf": "TANF records: the state's TANF plan confidentiality provisions and state human services law.",
    "postsec": "Student records: FERPA (34 CFR part 99), under its studies or audit-and-evaluation exceptions.",
    "procurement": "State public records law for vendor and contract data; taxpayer identification numbers "
                   "treated as confidential.",
}


def example_inputs(track: str | Track, *, team: str = "State Data Labs team") -> dict:
    """A complete, filled example agreement for a track (what unit 4's workbook builds step by step).

    Every required section is present, so ``check_agreement(example_inputs(t)) == []``. Legal citations name
    the federal rules that usually govern each kind of record; counsel must confirm them for a real agreement.
    """
    t = track if isinstance(track, Track) else get_track(track)
    parties = parties_for(t)
    tables = set(t.source_tables)
    authority = []
    if tables & {"ui_wage", "ui_claim", "ui_claim_week", "employer"}:
        authority.append(_AUTHORITY["ui"])
    if "snap" in tables:
        authority.append(_AUTHORITY["snap"])
    if "tanf" in tables:
        authority.append(_AUTHORITY["tanf"])
    if tables & {"postsec_completion", "postsec_enrollment"}:
        authority.append(_AUTHORITY["postsec"])
    if tables & {"vendor_comptroller", "vendor_dot", "cert_registry", "contract"}:
        authority.append(_AUTHORITY["procurement"])
    authority.append("The state's data-sharing statute or executive order establishing the state data office "
                     "(to be confirmed by each party's counsel).")
    return {
        "title": f"Data sharing agreement: {t.short_title}",
        "team": team,
        "purpose": f"To answer the research questions of the {t.short_title.lower()} project so that the parties "
                   f"can decide: {t.decision[0].lower() + t.decision[1:]}",
        "parties": parties,
        "legal_authority": authority,
        "permitted_uses": [f"Answering the project's research questions: {q.question}" for q in t.research_questions]
        + ["Linking records across the parties' files for these questions only"],
        "prohibited_uses": ["Any use not listed as permitted", "Re-identifying or contacting any person or business",
                            "Eligibility, enforcement or other decisions about an individual",
                            "Sharing the data with anyone not named in this agreement"],
        "data_elements": data_elements_for(t),
        "security": {"storage": "The state's secure analytics environment; data encrypted at rest",
                     "transmission": "Encrypted file transfer; no e-mail or removable media",
                     "access_controls": "Named accounts with multi-factor authentication; access logged and "
                                        "reviewed quarterly; PII columns hashed before analysts see them"},
        "authorized_access": ["Project analysts approved by every providing party's data owner",
                              "Access ends when a person leaves the project or the agreement ends"],
        "retention_and_destruction": {"retention_period": "Until the end of the agreement's term",
                                      "destruction_method": "Secure deletion of every copy, including backups",
                                      "certification": "Written certification of destruction to each provider "
                                                       "within 30 days"},
        "publication_and_disclosure": ["At least 10 individuals (and 3 employers) behind every published cell",
                                       ("Counts rounded (to 10 below 1,000, to 100 above); no exact medians, "
                                        "minima or maxima"),
                                       "Complementary suppression so hidden cells cannot be recovered",
                                       "Providers review every product 30 days before publication"],
        "breach_notification": {"notify_within": "24 hours of discovering a suspected breach",
                                "contact": "Each provider's data owner and security officer"},
        "term_and_termination": {"effective_date": "On the last signature", "end_date": "Three years later",
                                 "termination": "Any party may end the agreement with 30 days' written notice; "
                                                "data are then destroyed as above"},
        "signatures": [{"party": p["name"], "name": "(authorized signatory)", "title": "Agency director or designee"}
                       for p in parties],
    }
