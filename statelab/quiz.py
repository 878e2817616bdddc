"""Formative checks: a multiple-choice question before each collapsed answer.

Good courses ask before they tell: a learner commits to an answer, and a wrong option names the
misconception behind it, before the worked answer (collapsed in the notebook and the book) is
opened. Questions live in packaged TOML (``statelab/data/quiz/<module>.toml``), not in notebooks::

    from statelab import quiz
    quiz.ask("03-practice-2")          # shows the question and its options
    quiz.ask("03-practice-2", "b")     # says whether "b" is right; a wrong option names its misconception

A question file holds ``[[question]]`` tables: ``id``, ``prompt``, and ``options``, each option a
``key``, its ``text``, ``why`` (the explanation shown once chosen) and either ``correct = true`` or a
``misconception`` (a short name for the mistaken idea). Exactly one option is correct.
"""

from __future__ import annotations

import functools
import html
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Question", "QuizError", "ask", "question", "questions"]


class QuizError(LookupError):
    """A question id that does not exist, or a question file that breaks the format."""


@dataclass(frozen=True)
class Option:
    key: str
    text: str
    why: str
    correct: bool
    misconception: str | None


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[Option, ...]

    @property
    def answer(self) -> Option:
        return next(o for o in self.options if o.correct)


def _parse(name: str, raw: dict) -> dict[str, Question]:
    out = {}
    for q in raw.get("question", []):
        where = f"quiz/{name}.toml question {q.get('id')!r}"
        missing = {"id", "prompt", "options"} - set(q)
        if missing:
            raise QuizError(f"{where}: missing {', '.join(sorted(missing))}")
        opts = []
        for o in q["options"]:
            if not {"key", "text", "why"} <= set(o):
                raise QuizError(f"{where}: every option needs key, text and why")
            if bool(o.get("correct")) == bool(o.get("misconception")):
                raise QuizError(f"{where}: option {o['key']!r} needs either correct = true or a misconception")
            opts.append(Option(str(o["key"]), o["text"], o["why"], bool(o.get("correct")), o.get("misconception")))
        if sum(o.correct for o in opts) != 1 or len({o.key for o in opts}) != len(opts) or len(opts) < 2:
            raise QuizError(f"{where}: needs two or more options with distinct keys and exactly one correct")
        if q["id"] in out:
            raise QuizError(f"{where}: duplicate id")
        out[q["id"]] = Question(q["id"], q["prompt"], tuple(opts))
    return out


@functools.cache
def questions() -> dict[str, Question]:
    """Every packaged question, by id."""
    # beside this file, not importlib.resources.files(__package__): when a folder named ``statelab`` without an
    # __init__.py comes first on sys.path (tests/statelab under pytest), the package resolves as a namespace
    # and files() returns that other folder
    folder = Path(__file__).resolve().parent / "data" / "quiz"
    out: dict[str, Question] = {}
    for f in sorted((p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name):
        for qid, q in _parse(f.name.removesuffix(".toml"), tomllib.loads(f.read_text("utf-8"))).items():
            if qid in out:
                raise QuizError(f"question id {qid!r} appears in two quiz files")
            out[qid] = q
    return out


def question(qid: str) -> Question:
    try:
        return questions()[qid]
    except KeyError:
        raise QuizError(f"no question {qid!r}; ids look like '03-practice-2' (see statelab/data/quiz/)") from None


class _Shown:
    """What a check displays: Markdown in Jupyter and the book, plain text elsewhere."""

    def __init__(self, text: str, markdown: str):
        self.text, self.markdown = text, markdown

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.markdown


def ask(qid: str, choice: str | None = None) -> _Shown:
    """Show question ``qid``; with ``choice`` (an option's key), say whether it is right and why."""
    q = question(qid)
    lines = [q.prompt, ""] + [f"{o.key}) {o.text}" for o in q.options]
    md = [f"**Check your understanding.** {html.escape(q.prompt)}", ""] + [
        f"- **{o.key}**) {html.escape(o.text)}" for o in q.options]
    if choice is None:
        hint = f'Answer by running quiz.ask("{qid}", "<letter>") before you open the answer below.'
        return _Shown("\n".join(lines + ["", hint]), "\n".join(md + ["", f"*{hint}*"]))
    chosen = next((o for o in q.options if o.key == str(choice).strip().lower()), None)
    if chosen is None:
        raise QuizError(f"{qid!r} has options {', '.join(o.key for o in q.options)}, not {choice!r}")
    verdict = ("Right." if chosen.correct else f"Not quite: this is the misconception *{chosen.misconception}*.")
    return _Shown(f"{chosen.key}) {verdict} {chosen.why}", f"**{chosen.key})** {verdict} {html.escape(chosen.why)}")
