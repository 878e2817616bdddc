"""Every term a lesson sets in bold is defined in the book's glossary (``book/glossary.md``).

A bold phrase in a lesson's markdown is a term unless a rule or the documented exemption list
(``glossary_exemptions.toml``, each entry with its reason) says it is emphasis. Rules: bold ending in
punctuation is a run-in label ("**Questions.**"); bold holding a digit or code is a value or a name; bold
longer than five words is an emphasized phrase; a notebook's timing line ("**Module 3, lesson 1 · ...**")
is a heading. Matching ignores case, a leading article and a plural "s".
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbrules  # noqa: E402

REPO = nbrules.REPO_ROOT
GLOSSARY = REPO / "book" / "glossary.md"
EXEMPTIONS = Path(__file__).with_name("glossary_exemptions.toml")

#: Bold in Markdown: **...** not part of a longer run of asterisks.
BOLD = re.compile(r"(?<![\w*])\*\*(?!\s)([^*\n]+?)(?<!\s)\*\*(?![\w*])")
_TIMING = re.compile(r"^(Module|Month|Data Labs,|Pre-work|Project)\b")
MAX_TERM_WORDS = 5


def not_a_term(text: str) -> str | None:
    """Why bold ``text`` is not a term by rule, or None if it is one."""
    text = text.strip()
    if text[-1] in ".:?!;,":
        return "a run-in label"
    if _TIMING.match(text):
        return "a timing line"
    if re.search(r"\d", text) or "`" in text:
        return "a value or a name in code"
    if len(text.split()) > MAX_TERM_WORDS:
        return "an emphasized phrase"
    return None


def normalize(text: str) -> str:
    """Lower case, one space, no leading article, curly quotes straightened, no plural 's'."""
    text = re.sub(r"\s+", " ", text.replace("\u2019", "'").strip().lower())
    text = re.sub(r"^(a|an|the) ", "", text)
    return re.sub(r"(?<=[a-z])(es|s)$", "", text) if not text.endswith("ss") else text


def glossary_terms(path: Path = GLOSSARY) -> set[str]:
    """The terms defined in the page's ``{glossary}`` directive (every unindented line is a term)."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.DOTALL)
    assert block, f"{path} has no ```{{glossary}} block"
    terms = set()
    for line in block.group(1).splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(":"):
            term = line.strip()
            terms.add(normalize(term))
            if m := re.fullmatch(r"(.+?) \((.+)\)", term):  # "Data use agreement (DUA)": both names
                terms |= {normalize(m.group(1)), normalize(m.group(2))}
    return terms


def exemptions(path: Path = EXEMPTIONS) -> dict[str, str]:
    out = {}
    for group in tomllib.loads(path.read_text(encoding="utf-8"))["exempt"]:
        assert group.get("reason", "").strip(), f"{path}: an exemption group has no reason"
        for word in group["words"]:
            out[normalize(word)] = group["reason"]
    return out


def lesson_bold_terms(repo: Path = REPO) -> dict[str, list[str]]:
    """Each bold term (normalized) in the modules' notebooks -> where it is used."""
    found: dict[str, list[str]] = {}
    for path in nbrules.discover_notebooks(repo):
        if not nbrules.rel(path, repo).startswith("modules/"):
            continue
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] != "markdown":
                continue
            for bold in BOLD.findall("".join(cell["source"])):
                if not_a_term(bold) is None:
                    found.setdefault(normalize(bold), []).append(f"{nbrules.rel(path, repo)} cell {i}")
    return found


def test_every_bold_term_in_a_lesson_is_in_the_glossary():
    defined, exempt = glossary_terms(), exemptions()
    missing = {t: w for t, w in lesson_bold_terms().items() if t not in defined and t not in exempt}
    assert not missing, (
        "bold terms missing from book/glossary.md (define them, or list them in "
        "tests/notebooks/glossary_exemptions.toml with the reason they are not terms):\n  "
        + "\n  ".join(f"{t!r}: {w[0]}" for t, w in sorted(missing.items()))
    )


def test_exemptions_are_current():
    """An exemption the glossary now defines, or that no lesson uses in bold, is taken off the list."""
    defined, used = glossary_terms(), lesson_bold_terms()
    both = sorted(t for t in exemptions() if t in defined)
    unused = sorted(t for t in exemptions() if t not in used)
    assert not both, f"exempt but defined in the glossary (remove the exemption): {both}"
    assert not unused, f"exempt but no lesson sets it in bold any more (remove the exemption): {unused}"


def test_glossary_defines_the_course_terms_issue_18_names():
    required = ["TANF", "SNAP", "churn", "spell", "precision", "recall", "calibration", "leakage", "ATT",
                "DiD", "PEUC", "PUA", "FPUC", "exhaustion", "recipiency", "QCEW", "PIRL"]
    defined = glossary_terms()
    assert not [t for t in required if normalize(t) not in defined]


def test_rules_and_matching_on_examples():
    assert not_a_term("Questions.") and not_a_term("Module 3, lesson 1 · about 90 minutes")
    assert not_a_term("10 individuals") and not_a_term("one row per (`id`, `date`)")
    assert not_a_term("the second quarter after the award quarter ends")
    assert not_a_term("precision at k") is None and not_a_term("Ashenfelter dip") is None
    assert normalize("The Placeholders") == normalize("placeholder") == "placeholder"
    assert normalize("Holm\u2019s correction") == "holm's correction"
    assert normalize("Class") == "class"  # a word ending in 'ss' keeps it


def test_glossary_parser_reads_terms_and_aliases(tmp_path):
    page = tmp_path / "g.md"
    page.write_text("# G\n\n```{glossary}\n:sorted:\n\nData use agreement (DUA)\nDUA form\n  Text.\n\n"
                    "Spell\n  A period.\n```\n")
    assert glossary_terms(page) == {"data use agreement (dua)", "data use agreement", "dua", "dua form", "spell"}
