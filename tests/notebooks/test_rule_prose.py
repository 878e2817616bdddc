"""No notebook, book page or assignment states a rule value other than the one ``statelab`` defines.

Four rules have one definition in ``statelab``:

* the minimum cell size for release (``statelab.disclosure.Rules().min_cell_size``);
* the placeholder-SSN list (``statelab.identifiers.PLACEHOLDER_SSNS``);
* the SSN validity rule (``statelab.identifiers``: group ``00`` and serial ``0000`` malformed, the never-issued
  areas, the status vocabulary);
* the WIOA denominator (``statelab.outcomes``: every exiter; dropping the unlinked is a labeled sensitivity
  check).

Every notebook's markdown and code (lessons, practice, assignments with their hidden tests), every book page
and every assignment check file is scanned for statements of these values -- "suppress counts under 11",
``>= 11`` in a release cell, a hand-typed tuple of placeholder values, "leave them out of the denominator" --
and each statement is compared with statelab's value. A failure names the file, the cell and the text.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

from statelab import disclosure, identifiers, outcomes  # noqa: E402

REPO = nbrules.REPO_ROOT
MIN_CELL = disclosure.Rules().min_cell_size
MIN_EMPLOYERS = disclosure.Rules().min_employers
PLACEHOLDERS = set(identifiers.PLACEHOLDER_SSNS)
NEVER_ISSUED = set(identifiers.NEVER_ISSUED_AREAS)
STATUSES = set(identifiers.SSN_STATUSES) | set(identifiers.KEY_STATUSES)
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15}


@dataclass(frozen=True)
class Text:
    """One piece of text to scan: where it is, whether it is code, and the text itself."""

    where: str
    kind: str  # "markdown", "code" or "why" (an autograder check's description of a mistake)
    text: str
    context: str = ""  # the text around it (the cell and the markdown just before it), for cues


# ------------------------------------------------------------------------------------------ sources
def _book_pages() -> list[Path]:
    pages = []
    for path in sorted((REPO / "book").rglob("*.md")):
        parts = set(path.relative_to(REPO).parts)
        if not parts & nbrules.EXCLUDED_DIRS and not (REPO / "book" / "modules") in path.parents:
            pages.append(path)
    return pages


def course_texts() -> list[Text]:
    """Every notebook cell, book page paragraph and check description the course shows or grades with."""
    texts: list[Text] = []
    for path in nbrules.discover_notebooks():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        before = ""
        for i, cell in enumerate(cells):
            source = "".join(cell["source"])
            where = f"{nbrules.rel(path)} cell {i}"
            if cell["cell_type"] == "markdown":
                texts.append(Text(where, "markdown", source, source))
                before = source
            elif cell["cell_type"] == "code":
                texts.append(Text(where, "code", source, before + "\n" + source))
    for path in _book_pages():
        text = path.read_text(encoding="utf-8")
        for j, para in enumerate(re.split(r"\n\s*\n", text)):
            texts.append(Text(f"{nbrules.rel(path)} paragraph {j}", "markdown", para, para))
    for path in sorted((REPO / "assignments" / "checks").glob("*.toml")):
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        for j, item in enumerate(data.get("mistake", [])):
            where = f"{nbrules.rel(path)} mistake {j + 1}"
            texts.append(Text(where, "why", item.get("why", ""), item.get("why", "")))
            for key in ("source", "check", "setup"):
                if isinstance(item.get(key), str):
                    texts.append(Text(f"{where} {key}", "code", item[key], item[key]))
    return texts


def _sentences(text: str) -> list[str]:
    """Sentences (and table rows, list items) with line breaks inside a sentence joined."""
    parts = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.|\|)\s)", text):
        block = " ".join(block.split())
        parts += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*`])", block) if s]
    return parts


# -------------------------------------------------------------------------------- minimum cell size
_DISCLOSURE_CUE = re.compile(r"suppress|disclos|publish|releas|\bcells?\b|export|enclave|minimum|reportable|"
                             r"not reported|\brounded\b", re.IGNORECASE)
_NUMBER = r"(\d[\d,]*)"
_NOT_A_COUNT = r"(?!\s*(?:%|percent|CFR|U\.S\.C|/|–|-\s*\d|years|and over))"
_PROSE_MIN = [  # (pattern, how the stated minimum follows from the number(s))
    (re.compile(rf"\b(?:under|fewer than|less than|below)\s+{_NUMBER}\b{_NOT_A_COUNT}", re.I), lambda n: [n]),
    (re.compile(rf"\bat least\s+{_NUMBER}(?:\s*(?:-|–|to|or)\s*{_NUMBER})?\s+(?!employers?|firms?|percent|%)"
                r"[a-z]", re.I), lambda *ns: [n for n in ns if n is not None]),
    (re.compile(rf"\b{_NUMBER}\s+or more\b", re.I), lambda n: [n]),
    (re.compile(rf"\b0\s*(?:-|–|to)\s*{_NUMBER}\s+(?:are\s+)?suppressed", re.I), lambda n: [n + 1]),
    (re.compile(rf"\bmin_cell_size\s*=\s*{_NUMBER}"), lambda n: [n]),
    (re.compile(rf"\b(?:class(?:es)?|enclaves?|states?)\s+(?:\w+\s+){{0,2}}uses?d?\s+{_NUMBER}\b", re.I),
     lambda n: [n]),
]
_CODE_CMP = re.compile(r"(>=|<=|(?<![<>=-])>(?!=)|(?<![<>=])<(?![=>]))\s*(\d+)\b(?!\s*[.\d*/+])")
_EMPLOYERS = re.compile(r"employers?|firms?", re.I)
_CUE_WINDOW = 80  # characters either side of a number in which a disclosure word must appear
_CODE_CUE = re.compile(r"suppress|disclos|releas|reportable|publish|min_cell|cell size|small cells?", re.I)
_CODE_MIN = re.compile(r"\bmin_(?:n|cell_size)\s*=\s*(\d+)\b")  # a threshold passed to a helper


def _num(s: str | None) -> int | None:
    return None if s is None else int(s.replace(",", ""))


def _employer_rule(text: str, start: int, end: int) -> bool:
    """Whether the number at text[start:end] counts employers (the separate ``min_employers`` rule)."""
    return bool(_EMPLOYERS.search(text[max(0, start - 25):end + 25]))


def minimum_cell_statements(t: Text) -> list[tuple[int, int, str]]:
    """(stated minimum, statelab's minimum, the text) for every statement of a cell-size rule in ``t``.

    Statements about employers per cell are compared with ``min_employers``, all others with
    ``min_cell_size``.
    """
    found = []
    if t.kind in ("markdown", "why"):
        for sentence in _sentences(t.text):
            for pattern, implied in _PROSE_MIN:
                for m in pattern.finditer(sentence):
                    window = sentence[max(0, m.start() - _CUE_WINDOW):m.end() + _CUE_WINDOW]
                    if not _DISCLOSURE_CUE.search(window):
                        continue
                    rule = MIN_EMPLOYERS if _employer_rule(sentence, m.start(), m.end()) else MIN_CELL
                    for value in implied(*[_num(g) for g in m.groups()]):
                        if value is not None and 2 <= value <= 100:
                            found.append((value, rule, sentence))
    else:
        for m in _CODE_MIN.finditer(t.text):
            found.append((int(m.group(1)), MIN_CELL, m.group(0)))
        if not _CODE_CUE.search(t.context):
            return found
        for line in t.text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            for m in _CODE_CMP.finditer(line):
                n = int(m.group(2))
                if not 3 <= n <= 50:
                    continue
                rule = MIN_EMPLOYERS if _employer_rule(line, m.start(), m.end()) else MIN_CELL
                found.append((n + 1 if m.group(1) in (">", "<=") else n, rule, line.strip()))
    return found


# ------------------------------------------------------------------------------------ placeholders
_NINE = re.compile(r"(?<![\d])(\d{9})(?![\d])")
_QUOTED_LIST = re.compile(r"[\(\[\{]\s*((?:[rbuf]?['\"]\d{9}['\"]\s*,\s*)+[rbuf]?['\"]\d{9}['\"])\s*,?\s*[\)\]\}]")
_EXAMPLE = re.compile(r"such as|for example|e\.g\.|like |includ|seen in|among them|a few", re.I)
_REFERS = re.compile(r"PLACEHOLDER_SSNS|identifiers|placeholders_sql")
_COUNTED = re.compile(r"\b(\d+|" + "|".join(WORDS) + r")\s+(?:placeholder\s+(?:SSNs|values|numbers)|placeholders)\b",
                      re.I)


def placeholder_statements(t: Text) -> list[str]:
    """Statements of the placeholder list that differ from statelab's."""
    bad = []
    if t.kind == "code":
        for m in _QUOTED_LIST.finditer(t.text):
            values = set(_NINE.findall(m.group(1)))
            if len(values & PLACEHOLDERS) >= 2 and values != PLACEHOLDERS:
                bad.append(f"hard-codes {len(values)} placeholder values: {m.group(0)}")
        return bad
    for sentence in _sentences(t.text):
        if "placeholder" not in sentence.lower():
            continue
        values = set(_NINE.findall(sentence))
        wrong = values - PLACEHOLDERS
        if wrong:
            bad.append(f"calls {sorted(wrong)} a placeholder: {sentence}")
        elif len(values) >= 2 and values != PLACEHOLDERS and not _EXAMPLE.search(sentence) \
                and not _REFERS.search(sentence):
            bad.append(f"defines the placeholders as {len(values)} values: {sentence}")
        for m in _COUNTED.finditer(sentence):
            n = WORDS.get(m.group(1).lower()) or int(m.group(1))
            if n != len(PLACEHOLDERS):
                bad.append(f"says there are {n} placeholders ({len(PLACEHOLDERS)} in statelab): {sentence}")
    return bad


# ------------------------------------------------------------------------------------ SSN validity
_NEVER_CUE = re.compile(r"never[- ]issued|never been issued|were never issued|not issued", re.I)
_AREA = re.compile(r"(?<![\d-])(\d{3})(?:\s*(?:-|–|to)\s*(\d{3}))?(?![\d-])")
_GROUP = re.compile(r"\bgroup\b[^.;]*?`?(\d{2,})`?", re.I)
_SERIAL = re.compile(r"\bserial\b[^.;]*?`?(\d{4,})`?", re.I)
_STATUS_CMP = re.compile(r"(?:\w*status\w*|\bst)\s*(?:=|==|<>|!=)\s*['\"](\w+)['\"]|status\w*\"?\]?\.eq\(['\"](\w+)['\"]\)",
                         re.I)


def validity_statements(t: Text) -> list[str]:
    """Statements of the SSN validity rule that differ from statelab's."""
    bad = []
    if t.kind == "code":
        for m in _STATUS_CMP.finditer(t.text):
            value = m.group(1) or m.group(2)
            if "ssn" in t.context.lower() and value not in STATUSES and value.islower():
                bad.append(f"compares an SSN status with {value!r}, not in statelab's vocabulary: {m.group(0)}")
        return bad
    for sentence in _sentences(t.text):
        low = sentence.lower()
        if _NEVER_CUE.search(sentence):
            areas = set()
            for a, b in _AREA.findall(sentence.replace("`", "")):
                areas |= {f"{x:03d}" for x in range(int(a), int(b) + 1)} if b else {a}
            if areas and not areas <= NEVER_ISSUED:
                bad.append(f"lists {sorted(areas - NEVER_ISSUED)} as never-issued areas: {sentence}")
            if len(areas) > 2 and areas != NEVER_ISSUED:
                bad.append(f"lists the never-issued areas incompletely: {sentence}")
        if "ssn" in low or "social security" in low or "digits" in low:
            for m in _GROUP.finditer(sentence):
                if m.group(1) != "00" and "4" not in m.group(1):
                    bad.append(f"states a group rule other than 00: {sentence}")
            for m in _SERIAL.finditer(sentence):
                if m.group(1) != "0000":
                    bad.append(f"states a serial rule other than 0000: {sentence}")
    return bad


# ---------------------------------------------------------------------------------- WIOA denominator
_UNLINKED = re.compile(r"usable SSN|without an? (?:usable |valid )?SSN|cannot be (?:linked|followed|found)|"
                       r"could not be (?:linked|followed)|can(?:not)? be followed|unlinked|linked exiters|"
                       r"\blinked\b.{0,20}denominator|denominator.{0,30}\blinked\b", re.I)
_LEAVES = re.compile(r"\bleav|\bleft out|\bexclud|\bdrop|\bremov|\bout of the denominator|"
                     r"(?:is|are|as) the denominator|denominator\W+(?:is|are)?\s*(?:the\s+)?(?:exiters|those|people)"
                     r"\s+(?:with|who)|denominator\s*\|", re.I)
_LABELED = re.compile(r"sensitivity|not the federal|federal (?:rule|indicator) keeps|instead of the federal", re.I)
_WIOA = re.compile(r"exiter|WIOA", re.I)
_KEEPS = re.compile(r"\bkeep|\bstay|\binclud|count(?:ed|ing)? (?:them )?as not employed|as not employed|"
                    r"every exiter", re.I)


def denominator_statements(t: Text) -> list[str]:
    """Statements that exiters without a usable SSN leave the WIOA denominator (statelab keeps them)."""
    if t.kind == "code":
        return []
    bad = []
    wioa = bool(_WIOA.search(t.context))
    for sentence in _sentences(t.text):
        if "denominator" not in sentence.lower() or not _UNLINKED.search(sentence) or _LABELED.search(sentence):
            continue
        if not (wioa or _WIOA.search(sentence)):
            continue  # the rule is WIOA's; other cohorts' measures define their own denominators
        if t.kind == "why":
            # an autograder mistake description: keeping the unlinked must not be graded as the mistake
            if _KEEPS.search(sentence) or re.search(r"all exiters", sentence, re.I):
                bad.append(f"grades keeping unlinked exiters in the denominator as a mistake: {sentence}")
        elif _LEAVES.search(sentence) and not _KEEPS.search(sentence):
            bad.append(f"drops exiters without a usable SSN from the denominator: {sentence}")
    return bad


# ------------------------------------------------------------------------------------------- tests
def _report(problems: list[str]) -> str:
    return f"{len(problems)} statement(s) differ from statelab:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def texts() -> list[Text]:
    found = course_texts()
    assert len(found) > 500, "the scan found too little course text: check the folders it reads"
    return found


def test_minimum_cell_size_is_statelabs(texts):
    problems = [f"{t.where}: says {value}, statelab says {rule}: {quote[:160]}"
                for t in texts for value, rule, quote in minimum_cell_statements(t) if value != rule]
    assert not problems, _report(problems)


def test_placeholder_list_is_statelabs(texts):
    problems = [f"{t.where}: {p[:220]}" for t in texts for p in placeholder_statements(t)]
    assert not problems, _report(problems)


def test_ssn_validity_rule_is_statelabs(texts):
    problems = [f"{t.where}: {p[:220]}" for t in texts for p in validity_statements(t)]
    assert not problems, _report(problems)


def test_wioa_denominator_is_statelabs(texts):
    default = inspect.signature(outcomes.exit_outcome_rates).parameters["denominator"].default
    assert default == "exiters", "statelab's WIOA rule keeps every exiter in the denominator"
    problems = [f"{t.where}: {p[:220]}" for t in texts for p in denominator_statements(t)]
    assert not problems, _report(problems)


# ------------------------------------------------------------------------------ the scanners' own tests
@pytest.mark.parametrize("text, kind, expected", [
    ("Suppress counts under 11 and round the rest.", "markdown", [11]),
    ("Cells with fewer than 10 people are suppressed.", "markdown", [10]),
    ("A cell needs at least 10-11 people, otherwise suppressed.", "markdown", [10, 11]),
    ("One class used 11: 0–10 suppressed.", "markdown", [11, 11]),
    ("Publish only cells with at least 3 employers.", "markdown", []),
    ("Suppress cells based on fewer than 3 employers.", "markdown", []),
    ("Records are confidential under 20 CFR part 603, which allows disclosure.", "markdown", []),
    ("assert 0 <= n_suppressed <= 4 * 5  # suppressed cells", "code", []),
    ("Round counts below 1,000 to the nearest 10.", "markdown", []),
    ("answer = answer.where(answer >= 11)  # suppress small cells", "code", [11]),
    ("n_small = (t['n'] < rules.min_cell_size).sum()  # suppress", "code", []),
    ("WHERE claims > 10  -- release", "code", [11]),
    ("eq.outcome_disparities(con, track, by=by, min_n=11)", "code", [11]),
    ("Counts are rounded, and any group under 11 people is not reported.", "markdown", [11]),
])
def test_cell_size_scanner(text, kind, expected):
    got = [v for v, rule, _ in minimum_cell_statements(Text("x", kind, text, text)) if rule == MIN_CELL]
    assert got == expected


@pytest.mark.parametrize("text, kind, n_bad", [
    ('_ph = ("000000000", "666666666", "999999998", "999999999")', "code", 1),
    ("x = tuple(identifiers.PLACEHOLDER_SSNS)", "code", 0),
    ("Placeholders such as `999999999` or `000000000` cannot be linked.", "markdown", 0),
    ("The four placeholder SSNs (`999999999`, `999999998`, `000000000`, `666666666`) are left out.",
     "markdown", 2),
    ("A placeholder such as 999999997 is common.", "markdown", 1),
])
def test_placeholder_scanner(text, kind, n_bad):
    assert len(placeholder_statements(Text("x", kind, text, text))) == n_bad


@pytest.mark.parametrize("text, kind, n_bad", [
    ("Numbers from never-issued areas (000, 666, 900–999) are invalid in real files.", "markdown", 0),
    ("Numbers from never-issued areas (000, 666, 800–999) are invalid.", "markdown", 2),
    ("Real enclaves reject numbers that were never issued (area `000`, `666`, `900`–`999`).", "markdown", 0),
    ("An SSN needs a group (digits 4-5) other than `00` and a serial other than `0000`.", "markdown", 0),
    ("SELECT AVG(CASE WHEN st = 'valid_format' THEN 1 END) -- ssn", "code", 1),
    ("WHERE ssn_status = 'usable'", "code", 0),
])
def test_validity_scanner(text, kind, n_bad):
    assert len(validity_statements(Text("x", kind, text, text))) == n_bad


@pytest.mark.parametrize("text, kind, n_bad", [
    ("Exiters without a usable SSN are unknown: leave them out of the denominator.", "markdown", 1),
    ("| Denominator | Exiters with a usable SSN (the others cannot be linked) |", "markdown", 1),
    ("Exiters without a usable SSN stay in the denominator, counted as not employed.", "markdown", 0),
    ("Dropping exiters without a usable SSN from the denominator is a sensitivity check.", "markdown", 0),
    ("keeps exiters without a usable SSN in the denominator, counting them as not employed", "why", 1),
    ("Find the denominator, and the rule that drops records without a usable SSN.", "markdown", 0),
    ("Report the denominator (every exiter), how many exiters have no usable SSN and what dropping them would "
     "change.", "markdown", 0),
])
def test_denominator_scanner(text, kind, n_bad):
    assert len(denominator_statements(Text("x", kind, text, text))) == n_bad
