"""What the gradebook says about a submission: its score, and what still waits for a person.

One definition of a submission's score for every tool (autograde's table, the Canvas
export, the reports): nbgrader's own, as ``nbgrader export`` writes it, the sum of the
cell scores less the late penalty, never below zero. And one definition of "not graded
yet": a cell nbgrader marks ``needs_manual_grade`` (a written answer, or an autograded
cell whose test could not decide) that nobody has scored by hand. A score read while such
cells wait counts them as zero, so the tools that pass scores on refuse, or say so.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._errors import UngradedWorkError

__all__ = ["final_score", "ungraded_cells", "refuse_ungraded", "describe_ungraded"]


def final_score(submission) -> float:
    """A submission's score: cell scores less the late penalty, floored at zero.

    Parameters
    ----------
    submission : nbgrader.api.SubmittedAssignment

    Returns
    -------
    float
    """
    penalty = submission.late_submission_penalty or 0.0
    return max(0.0, float(submission.score) - float(penalty))


def ungraded_cells(gb, assignment: str, students: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Student id to the cells of `assignment` that still wait for a manual grade.

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
        An open gradebook.
    assignment : str
    students : iterable of str, optional
        Only these; default every submission.

    Returns
    -------
    dict of str to list of str
        Only students with at least one such cell; cells as ``notebook/grade_id`` when the
        assignment has several notebooks, else ``grade_id``.
    """
    wanted = None if students is None else set(students)
    out: dict[str, list[str]] = {}
    for sub in gb.find_assignment(assignment).submissions:
        if wanted is not None and sub.student.id not in wanted:
            continue
        several = len(sub.notebooks) > 1
        cells = [f"{nb.name}/{g.name}" if several else g.name
                 for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade]
        if cells:
            out[sub.student.id] = cells
    return out


def describe_ungraded(assignment: str, ungraded: dict[str, list[str]], limit: int = 3) -> str:
    """``"01-orientation: q4-written (ana, ben and 3 more)"``: one line naming the waiting cells."""
    by_cell: dict[str, list[str]] = {}
    for student, cells in sorted(ungraded.items()):
        for cell in cells:
            by_cell.setdefault(cell, []).append(student)
    parts = []
    for cell, who in by_cell.items():
        names = ", ".join(who[:limit]) + (f" and {len(who) - limit} more" if len(who) > limit else "")
        parts.append(f"{cell} ({names})")
    return f"{assignment}: {'; '.join(parts)}"


def refuse_ungraded(gb, assignments: Iterable[str], what: str, options: str,
                    students: Iterable[str] | None = None) -> None:
    """Raise :class:`UngradedWorkError` if any of `assignments` has cells waiting for a manual grade.

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
    assignments : iterable of str
    what : str
        The step that would pass the zeros on (``"export"``, ``"feedback"``), for the message.
    options : str
        How to go on anyway, for the message (the command's flag).
    students : iterable of str, optional
    """
    waiting = {a: u for a in assignments if (u := ungraded_cells(gb, a, students))}
    if waiting:
        flat = {f"{a}:{s}": cells for a, u in waiting.items() for s, cells in u.items()}
        names = " | ".join(describe_ungraded(a, u) for a, u in waiting.items())
        n = sum(map(len, flat.values()))
        raise UngradedWorkError(
            f"{what} would count as zero {n} answer{'s' if n > 1 else ''} not graded yet: {names}. "
            f"Grade {'them' if n > 1 else 'it'} in the formgrader first (a submission held for review: "
            f"clear it, or score it there), or {options}", flat)
