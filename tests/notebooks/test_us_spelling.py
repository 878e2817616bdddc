"""US spelling in everything learners read: notebooks, book pages, templates and packaged prose.

The course is written for US state staff, so British spellings ("programme", "labour", "organise") are
rejected wherever a learner reads them: every notebook's markdown and the comments and strings of its code,
every book page, the document templates ``statelab`` renders for teams, the questions of the formative
checks and the autograder's explanations of a wrong answer. Words are matched whole (``BRITISH``), so
"otherwise", "exercise" and "analysis" pass; a failure names the file, where in it, the word and the US form.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tokenize
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

REPO = nbrules.REPO_ROOT

#: British spellings and the US form a learner should read instead. Suffix families are written once as
#: patterns below (``_FAMILIES``); whole words here.
BRITISH = {
    "programme": "program", "programmes": "programs", "labour": "labor", "labours": "labors",
    "labourer": "laborer", "labourers": "laborers", "behaviour": "behavior", "behaviours": "behaviors",
    "behavioural": "behavioral", "colour": "color", "colours": "colors", "coloured": "colored",
    "neighbour": "neighbor", "neighbours": "neighbors", "neighbouring": "neighboring",
    "neighbourhood": "neighborhood", "neighbourhoods": "neighborhoods", "favour": "favor",
    "favours": "favors", "favourable": "favorable", "favourite": "favorite", "honour": "honor",
    "endeavour": "endeavor", "rumour": "rumor", "humour": "humor", "harbour": "harbor",
    "centre": "center", "centres": "centers", "centred": "centered", "metre": "meter", "metres": "meters",
    "litre": "liter", "fibre": "fiber", "theatre": "theater", "calibre": "caliber",
    "catalogue": "catalog", "catalogues": "catalogs", "licence": "license", "licences": "licenses",
    "defence": "defense", "offence": "offense", "offences": "offenses", "pretence": "pretense",
    "practise": "practice", "practised": "practiced", "practising": "practicing",
    "analyse": "analyze", "analysed": "analyzed", "analysing": "analyzing", "analyser": "analyzer",
    "paralyse": "paralyze", "catalyse": "catalyze",
    "modelling": "modeling", "modelled": "modeled", "modeller": "modeler", "labelling": "labeling",
    "labelled": "labeled", "travelling": "traveling", "travelled": "traveled", "cancelled": "canceled",
    "cancelling": "canceling", "levelled": "leveled", "signalled": "signaled", "totalled": "totaled",
    "totalling": "totaling", "fuelled": "fueled", "counselling": "counseling", "counsellor": "counselor",
    "channelled": "channeled", "marvellous": "marvelous", "benefitted": "benefited",
    "focussed": "focused", "focussing": "focusing",
    "enrol": "enroll", "enrols": "enrolls", "enrolment": "enrollment", "enrolments": "enrollments",
    "fulfil": "fulfill", "fulfilment": "fulfillment", "instalment": "installment",
    "instalments": "installments", "skilful": "skillful", "wilful": "willful",
    "ageing": "aging", "artefact": "artifact", "artefacts": "artifacts", "grey": "gray",
    "cheque": "check", "cheques": "checks", "sceptical": "skeptical", "sceptic": "skeptic",
    "whilst": "while", "amongst": "among", "learnt": "learned", "spelt": "spelled",
    "per cent": "percent", "storey": "story", "mould": "mold", "draught": "draft", "plough": "plow",
    "manoeuvre": "maneuver", "paediatric": "pediatric", "encyclopaedia": "encyclopedia",
    "orthopaedic": "orthopedic", "anaesthetic": "anesthetic", "oestrogen": "estrogen",
    "aluminium": "aluminum", "tyre": "tire", "tyres": "tires", "kerb": "curb",
}

#: -ise verbs and their family (-ised, -ising, -isation...): the stem and the US form's stem.
_ISE_STEMS = (
    "organ", "recogn", "summar", "minim", "maxim", "priorit", "standard", "categor", "optim", "util",
    "character", "normal", "visual", "random", "general", "final", "author", "initial", "custom",
    "special", "critic", "real", "memor", "harmon", "anonym", "pseudonym", "stabil", "capital",
    "central", "operational", "penal", "hospital", "item", "modern", "emphas", "apolog", "legal",
    "monet", "incentiv", "mobil", "synchron", "jeopard", "familiar", "formal", "industrial", "local",
    "personal", "rational", "sanit", "systemat", "theor", "token", "vector",
)
_ISE = re.compile(
    r"\b(" + "|".join(sorted(set(_ISE_STEMS), key=len, reverse=True)) + r")is(e|es|ed|ing|ation|ations|er|ers)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\b(" + "|".join(sorted(map(re.escape, BRITISH), key=len, reverse=True)) + r")\b", re.IGNORECASE)


def british_words(text: str) -> list[tuple[str, str]]:
    """Every British spelling in ``text``: (the word as written, the US spelling)."""
    found = [(m.start(), m.group(0), BRITISH[m.group(0).lower()]) for m in _WORDS.finditer(text)]
    found += [(m.start(), m.group(0), m.group(1) + "iz" + m.group(2)) for m in _ISE.finditer(text)]
    return [(word, us) for _, word, us in sorted(found)]


def _code_prose(source: str) -> str:
    """Comments and string literals of a code cell: what a learner reads in it (names are left alone)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return "\n".join(t.string for t in tokens if t.type in (tokenize.COMMENT, tokenize.STRING))


def learner_texts(repo: Path = REPO) -> list[tuple[str, str]]:
    """(where, text) for everything learners read."""
    texts = []
    for path in nbrules.discover_notebooks(repo):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                texts.append((f"{nbrules.rel(path, repo)} cell {i}", source))
            elif cell["cell_type"] == "code":
                texts.append((f"{nbrules.rel(path, repo)} cell {i}", _code_prose(source)))
    skip = nbrules.EXCLUDED_DIRS | {"_ext"}
    for path in sorted((repo / "book").rglob("*.md")):
        rel_parts = path.relative_to(repo / "book").parts
        if rel_parts[0] == "modules" or set(rel_parts) & skip:  # book/modules is a link to modules/
            continue
        texts.append((nbrules.rel(path, repo), path.read_text(encoding="utf-8")))
    packaged = [*(repo / "statelab").rglob("templates/*"), *(repo / "statelab").rglob("data/**/*.toml"),
                *(repo / "statelab").rglob("data/**/*.md"), *(repo / "assignments" / "checks").glob("*.toml")]
    for path in sorted(p for p in packaged if p.is_file()):
        texts.append((nbrules.rel(path, repo), path.read_text(encoding="utf-8")))
    return texts


#: Files whose British spellings a lesson engineer is still fixing (issue 18). The list only shrinks.
SPELLING_PENDING = frozenset({
    "modules/03-record-linkage/01-linking-records.ipynb",
})

TEXTS = learner_texts()


def test_texts_are_found():
    where = {w.split(" cell ")[0] for w, _ in TEXTS}
    assert any(w.startswith("modules/") for w in where) and any(w.startswith("book/") for w in where)
    assert any("templates/" in w for w in where) and any("data/quiz" in w for w in where)


def test_everything_learners_read_uses_us_spelling():
    problems = [f"{where}: {word!r} (US: {us!r})" for where, text in TEXTS
                if where.split(" cell ")[0] not in SPELLING_PENDING for word, us in british_words(text)]
    assert not problems, "British spellings:\n  " + "\n  ".join(problems)


def test_spelling_pending_list_only_shrinks():
    still = {where.split(" cell ")[0] for where, text in TEXTS if british_words(text)}
    stale = sorted(SPELLING_PENDING - still)
    assert not stale, f"remove from SPELLING_PENDING (no British spelling left): {stale}"


@pytest.mark.parametrize("text, expected", [
    ("The WIOA programme served 300 people.", ["programme"]),
    ("Labour demand by neighbouring county", ["Labour", "neighbouring"]),
    ("We organised and summarised the cohort, then analysed it.", ["organised", "summarised", "analysed"]),
    ("Standardisation of names; a randomised pilot", ["Standardisation", "randomised"]),
    ("Otherwise, exercise caution in the analysis; analyses differ. Raise it, revise it, advise.", []),
    ("The enterprise's expertise is precise; a promise, a surprise, noise.", []),
    ("Program, labor, behavior, color, neighbor, organize, analyze, modeling, center, catalog.", []),
    ("Paid in instalments, per cent of the total, a grey bar", ["instalments", "per cent", "grey"]),
])
def test_the_checker_finds_british_spellings_and_only_those(text, expected):
    assert [w for w, _ in british_words(text)] == expected


def test_code_cells_are_checked_in_comments_and_strings_only():
    source = 'colour = "gray"  # the programme\nprint("Labour force")\nx = organise_rows(df)'
    found = [w for w, _ in british_words(_code_prose(source))]
    assert found == ["programme", "Labour"]
