"""statelab.quiz: formative checks before collapsed answers."""

import pytest

from statelab import quiz


def _raw(**option_b):
    b = {"key": "b", "text": "Rows", "why": "Rows repeat.", "misconception": "counting rows as people"} | option_b
    return {"question": [{"id": "x-1", "prompt": "What counts people?", "options": [
        {"key": "a", "text": "Distinct ids", "why": "One per person.", "correct": True}, b]}]}


def test_a_wrong_option_names_its_misconception():
    q = quiz._parse("x", _raw())["x-1"]
    assert q.answer.key == "a"
    assert q.options[1].misconception == "counting rows as people"


@pytest.mark.parametrize("bad, message", [
    ({"correct": True, "misconception": None}, "exactly one correct"),
    ({"misconception": None}, "either correct = true or a misconception"),
    ({"key": "a"}, "distinct keys"),
])
def test_malformed_questions_are_refused(bad, message):
    raw = _raw(**{k: v for k, v in bad.items() if v is not None})
    if bad.get("misconception", "") is None:
        raw["question"][0]["options"][1].pop("misconception")
    with pytest.raises(quiz.QuizError, match=message):
        quiz._parse("x", raw)


def test_every_packaged_question_parses():
    for q in quiz.questions().values():
        assert q.prompt and len(q.options) >= 2 and sum(o.correct for o in q.options) == 1


def test_ask_shows_the_question_then_judges_a_choice(monkeypatch):
    monkeypatch.setattr(quiz, "questions", lambda: quiz._parse("x", _raw()))
    shown = quiz.ask("x-1")
    assert "What counts people?" in repr(shown) and "b) Rows" in repr(shown) and "**a**)" in shown._repr_markdown_()
    assert repr(quiz.ask("x-1", "A")).startswith("a) Right.")
    assert "counting rows as people" in repr(quiz.ask("x-1", "b"))
    with pytest.raises(quiz.QuizError, match="not 'z'"):
        quiz.ask("x-1", "z")
    with pytest.raises(quiz.QuizError, match="no question 'nope'"):
        quiz.ask("nope")
