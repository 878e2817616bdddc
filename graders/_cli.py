"""``statelab-grade``: the instructor's command line (a thin layer over :mod:`graders`).

Only typer is imported when the command starts; each command imports what it needs
(nbgrader alone takes seconds to import), so ``--help`` answers at once.

Exit codes
----------
0
    Success.
1
    Any other grading error.
2
    Bad command line (typer/click usage error).
3
    Not found: the course directory or its configuration, an assignment, a student.
4
    An nbgrader step failed (for ``autograde``: at least one notebook could not be run;
    every other submission is graded and saved).
5
    Feedback would have shown hidden tests (those files were deleted).
6
    An input file cannot be used: a submission folder, or a roster.
7
    Written answers are not graded yet: ``export`` or ``feedback`` refused (see ``--ungraded``).
8
    ``autograde``: submissions were held for review (not run, zero for now); the rest are graded.
9
    The gradebook is locked by another program (a formgrader save): nothing was changed; run again.
10
    No permission to write the course directory or the output file: nothing was changed.
130
    Interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import _errors

__all__ = ["app", "main", "EXIT_CODES"]

#: Exception class to exit status (first match in order wins).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (_errors.FeedbackLeakError, 5),
    (_errors.UngradedWorkError, 7),
    (_errors.GradebookLockedError, 9),
    (_errors.CoursePermissionError, 10),
    (_errors.SubmissionError, 6),
    (_errors.RosterError, 6),
    (_errors.NbgraderStepError, 4),
    (_errors.CourseDirectoryError, 3),
    (_errors.AssignmentNotFoundError, 3),
    (_errors.StudentNotFoundError, 3),
    (_errors.GradingError, 1),
    (PermissionError, 10),
)
#: Exit status of ``autograde`` when it held submissions for review.
EXIT_HELD = 8


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Command-line usage exception classes: typer >= 0.2x vendors its own click."""
    found: list[type[BaseException]] = []
    try:
        from typer._click.exceptions import ClickException as vendored
        found.append(vendored)
    except ImportError:
        pass
    try:
        from click.exceptions import ClickException
        found.append(ClickException)
    except ImportError:
        pass
    return tuple(found)


app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Release, collect, autograde, review, give feedback on and export the statelab "
                       "assignments. Run from the course directory, or give it with --course-dir.")
students_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                           help="The class roster in nbgrader's gradebook.")
app.add_typer(students_app, name="students")

CourseOpt = Annotated[Path, typer.Option(
    "--course-dir", "-C", envvar="STATELAB_COURSE_DIR",
    help="nbgrader course directory (holds nbgrader_config.py).")]


def _echo_table(rows: list[list[str]], header: list[str]) -> None:
    """Print columns padded to their widths (numbers right-aligned), for a terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    numeric = [all(str(r[i]).replace(".", "").replace("/", "").isdigit() for r in rows if r[i] not in ("", "-"))
               for i in range(len(header))]
    for r in [header, *rows]:
        cells = [str(c).rjust(w) if num else str(c).ljust(w) for c, w, num in zip(r, widths, numeric)]
        typer.echo("  ".join(cells).rstrip())


def _num(x: float) -> str:
    return f"{x:g}"


# ------------------------------------------------------------------------------------------
# the roster
# ------------------------------------------------------------------------------------------
@students_app.command("list")
def students_list(course_dir: CourseOpt = Path(".")) -> None:
    """List the students in the gradebook."""
    from ._roster import list_students

    people = list_students(course_dir)
    if not people:
        typer.echo("no students yet: add them with `statelab-grade students import ROSTER.csv`")
        return
    _echo_table([[p["id"], " ".join(filter(None, [p["first_name"], p["last_name"]])), p["email"] or "",
                  p["lms_user_id"] or ""] for p in people], ["id", "name", "email", "lms id"])
    typer.echo(f"{len(people)} students")


@students_app.command("add")
def students_add(student: Annotated[str, typer.Argument(help="The student's hub login.")],
                 first_name: Annotated[Optional[str], typer.Option()] = None,
                 last_name: Annotated[Optional[str], typer.Option()] = None,
                 email: Annotated[Optional[str], typer.Option()] = None,
                 lms_id: Annotated[Optional[str], typer.Option(help="Canvas user id.")] = None,
                 course_dir: CourseOpt = Path(".")) -> None:
    """Add one student (or update their details)."""
    from ._roster import STUDENT_ID, Person, import_students

    if not STUDENT_ID.match(student):
        raise typer.BadParameter(f"{student!r} is not a usable student id (letters, digits and _ . @ + -)")
    done = import_students(course_dir, [Person(student, first_name, last_name, email, lms_id)])
    typer.echo(f"{student}: {next(k for k, v in done.items() if v)}")


@students_app.command("import")
def students_import(roster: Annotated[Path, typer.Argument(
                        help="A Canvas gradebook export, or a CSV with id,first_name,last_name,email.")],
                    course_dir: CourseOpt = Path(".")) -> None:
    """Add or update every student of a roster file, in one transaction."""
    from ._roster import import_students, read_roster

    found = read_roster(roster)
    done = import_students(course_dir, found)
    typer.echo(f"{roster}: {len(done['added'])} added, {len(done['updated'])} updated, "
               f"{len(done['unchanged'])} unchanged")
    for line in found.skipped:
        typer.echo(f"  skipped {line}")


# ------------------------------------------------------------------------------------------
# release and collect
# ------------------------------------------------------------------------------------------
@app.command()
def release(assignments: Annotated[Optional[list[str]], typer.Argument(help="Default: all in source/.")] = None,
            exchange: Annotated[bool, typer.Option(help="Also copy to the nbgrader exchange.")] = False,
            course_dir: CourseOpt = Path(".")) -> None:
    """Generate the student versions into release/ (and the gradebook entries)."""
    from ._release import release_assignments

    done = release_assignments(course_dir, assignments or None, exchange=exchange)
    typer.echo(f"released: {', '.join(done) or '(none)'}")


@app.command()
def collect(assignment: str,
            from_dir: Annotated[Optional[Path], typer.Option(
                help="Folder of <student>.ipynb files or <student>/ folders.")] = None,
            exchange: Annotated[bool, typer.Option(help="Collect from the nbgrader exchange.")] = False,
            course_dir: CourseOpt = Path(".")) -> None:
    """Copy submissions into submitted/<student>/<assignment>/."""
    from ._release import collect_submissions

    if from_dir is None and not exchange:
        raise typer.BadParameter("give --from-dir and/or --exchange")
    got = collect_submissions(course_dir, assignment, from_dir=from_dir, exchange=exchange)
    typer.echo(f"collected {len(got)} from folder" + (" (and the exchange)" if exchange else ""))


# ------------------------------------------------------------------------------------------
# autograde and review
# ------------------------------------------------------------------------------------------
@app.command()
def autograde(assignment: str,
              workers: Annotated[Optional[int], typer.Option(
                  "--workers", "-j", min=1, help="Parallel workers (default: the cores plus one).")] = None,
              timeout: Annotated[Optional[int], typer.Option(
                  min=1, help="Per-cell timeout in seconds (default: the course config).")] = None,
              student: Annotated[Optional[list[str]], typer.Option(help="Only these students.")] = None,
              clear: Annotated[Optional[list[str]], typer.Option(
                  help="Grade this held submission: you have read its code (see `review`). Repeatable; "
                       "grades only the students named, unless --student adds others.")] = None,
              course_dir: CourseOpt = Path(".")) -> None:
    """Autograde every submission of ASSIGNMENT in parallel, and say what needs you.

    Prints one line per student (score, status, time), then what is left for you:
    submissions held for review, notebooks that could not run, written answers to grade
    in the formgrader. Exit status 0 when nothing is held or failed, 8 when submissions
    are held, 4 when a notebook could not run.
    """
    from ._autograde import autograde_class
    from ._course import Course

    course = Course.open(course_dir)
    only = sorted(set(student or []) | set(clear or [])) or None
    res = autograde_class(course, assignment, workers, students=only, timeout=timeout, cleared=clear or [],
                          raise_on_failure=False)
    n = len(res.scores)
    typer.echo(f"{assignment}: {n} submission{'s' if n != 1 else ''}, {res.workers} "
               f"worker{'s' if res.workers != 1 else ''}, {res.seconds:.0f} s "
               f"(max score {_num(res.max_score)})")
    if not n:
        typer.echo(f"nothing to grade: collect submissions first (`statelab-grade collect {assignment} ...`)")
        return
    notes: dict[str, int] = {}
    for f in res.findings:
        if f.kind == "structure":
            notes[f.student] = notes.get(f.student, 0) + 1
    failed = res.failure_reasons()
    rows = []
    for s, score in sorted(res.scores.items()):
        if s in res.held:
            status = "HELD for review: " + res.held[s].split("; ")[0]
        elif s in failed:
            status = "FAILED: " + failed[s]
        else:
            bits = ["cleared and graded" if s in res.cleared else "graded"]
            if s in res.ungraded:
                bits.append(f"{len(res.ungraded[s])} to grade by hand")
            if notes.get(s):
                bits.append(f"{notes[s]} screening note{'s' if notes[s] > 1 else ''}")
            status = ", ".join(bits)
        secs = res.student_seconds.get(s)
        rows.append([s, f"{_num(score)}/{_num(res.max_score)}", f"{secs:.0f} s" if secs is not None else "-",
                     status[:100]])
    typer.echo("")
    _echo_table(rows, ["student", "score", "time", "status"])
    _echo_summary(course, assignment, res, notes)
    if failed:
        raise typer.Exit(4)
    if res.held:
        raise typer.Exit(EXIT_HELD)


def _echo_summary(course, assignment: str, res, notes: dict[str, int]) -> None:
    from ._results import describe_ungraded

    typer.echo("")
    needs = []
    if res.held:
        needs.append(f"{len(res.held)} held for review, not run, zero for now: {', '.join(sorted(res.held))}. "
                     f"Read their code with `statelab-grade review {assignment}`; grade one you accept with "
                     f"`statelab-grade autograde {assignment} --clear STUDENT`.")
    if res.failed:
        needs.append(f"{len(res.failed)} could not be run: {', '.join(sorted(res.failed))} (reason above); they "
                     "are flagged in the formgrader with zero: grade them by hand or ask for a new submission.")
    if res.ungraded:
        total = sum(map(len, res.ungraded.values()))
        needs.append(f"{total} answer{'s' if total > 1 else ''} to grade by hand in the formgrader "
                     f"({describe_ungraded(assignment, res.ungraded)}). Until then export and feedback refuse.")
    if notes:
        needs.append(f"{sum(notes.values())} screening notes for {len(notes)} students (graded as submitted): "
                     f"{course.reports(assignment) / 'screening.csv'}")
    if not needs:
        typer.echo("Nothing needs you: every submission is fully graded.")
        return
    typer.echo("Needs you:")
    for line in needs:
        typer.echo(f"- {line}")


@app.command()
def review(assignment: str, course_dir: CourseOpt = Path(".")) -> None:
    """List the submissions held for review, with the code that held each one."""
    from ._course import Course
    from ._review import cleared_submissions, held_for_review

    course = Course.open(course_dir)
    course.require_assignment(assignment)
    held = held_for_review(course, assignment)
    cleared = sorted(cleared_submissions(course, assignment))
    if not held:
        typer.echo(f"{assignment}: no submission is held for review"
                   + (f" (cleared earlier: {', '.join(cleared)})" if cleared else ""))
        return
    typer.echo(f"{assignment}: {len(held)} held for review (not run, zero for now)")
    for student, findings in held.items():
        path = course.folder("submitted", assignment, student)
        typer.echo(f"\n{student}  ({path})")
        for f in findings:
            typer.echo(f"  {f.notebook} {f.cell}: {f.reason}")
            if f.code:
                typer.echo(f"      {f.code}")
    typer.echo(f"\nIf the code is harmless, grade it with `statelab-grade autograde {assignment} --clear STUDENT`; "
               "otherwise leave the zero and tell the student why.")


# ------------------------------------------------------------------------------------------
# feedback, export, report
# ------------------------------------------------------------------------------------------
@app.command()
def feedback(assignment: str,
             student: Annotated[Optional[list[str]], typer.Option(help="Only these students.")] = None,
             ungraded: Annotated[str, typer.Option(
                 help="When written answers are not graded yet: 'refuse', or 'mark' (say so on each page).")
             ] = "refuse",
             course_dir: CourseOpt = Path(".")) -> None:
    """Render feedback HTML into feedback/ with hidden tests redacted."""
    from ._feedback import generate_feedback

    if ungraded not in ("refuse", "mark"):
        raise typer.BadParameter(f"--ungraded takes 'refuse' or 'mark', not {ungraded!r}")
    files = generate_feedback(course_dir, assignment, students=student or None, ungraded=ungraded)
    typer.echo(f"{len(files)} feedback files written")


@app.command()
def export(out: Annotated[Path, typer.Argument(help="CSV file to write.")],
           assignment: Annotated[Optional[list[str]], typer.Option(help="Default: all.")] = None,
           roster: Annotated[Optional[Path], typer.Option(
               help="A Canvas gradebook export to take names and column ids from (default: the gradebook's "
                    "roster, from `students import`).")] = None,
           canvas_id: Annotated[Optional[list[str]], typer.Option(
               help="ASSIGNMENT=CANVAS_ID, repeatable.")] = None,
           missing: Annotated[str, typer.Option(help="'blank' (leave Canvas unchanged) or 'zero'.")] = "blank",
           ungraded: Annotated[str, typer.Option(
               help="When written answers are not graded yet: 'refuse', 'blank' (leave those scores out) or "
                    "'zero' (count them as zero).")] = "refuse",
           points_row: Annotated[bool, typer.Option(help="Write the Points Possible row.")] = True,
           course_dir: CourseOpt = Path(".")) -> None:
    """Export grades as a Canvas gradebook-import CSV."""
    from ._export import UNGRADED_CHOICES, export_canvas_csv

    ids = {}
    for item in canvas_id or []:
        name, sep, cid = item.partition("=")
        if not sep or not cid.strip().isdigit():
            raise typer.BadParameter(f"--canvas-id wants ASSIGNMENT=NUMBER, got {item!r}")
        ids[name.strip()] = cid.strip()
    if missing not in ("blank", "zero"):
        raise typer.BadParameter(f"--missing takes 'blank' or 'zero', not {missing!r}")
    if ungraded not in UNGRADED_CHOICES:
        raise typer.BadParameter(f"--ungraded takes {', '.join(UNGRADED_CHOICES)}, not {ungraded!r}")
    path = export_canvas_csv(course_dir, out, assignments=assignment or None, roster=roster,
                             canvas_ids=ids, missing=missing, points_row=points_row, ungraded=ungraded)
    typer.echo(f"wrote {path}")
    if ungraded != "refuse":
        _echo_ungraded_note(course_dir, assignment, ungraded)


def _echo_ungraded_note(course_dir: Path, assignments: list[str] | None, how: str) -> None:
    from ._course import Course
    from ._results import describe_ungraded, ungraded_cells

    course = Course.open(course_dir)
    with course.gradebook() as gb:
        names = assignments or [a.name for a in gb.assignments]
        waiting = {a: u for a in names if (u := ungraded_cells(gb, a))}
    for a, u in waiting.items():
        what = "left blank" if how == "blank" else "counted as zero"
        typer.echo(f"note: answers not graded yet, {what}: {describe_ungraded(a, u)}")


@app.command()
def report(assignment: str,
           out_dir: Annotated[Optional[Path], typer.Option(help="Default: <course>/reports.")] = None,
           course_dir: CourseOpt = Path(".")) -> None:
    """Per-question score table (CSV and an HTML page) and bar plot (PNG)."""
    from ._export import report as write_report

    files = write_report(course_dir, assignment, out_dir)
    typer.echo(f"wrote {files.csv}, {files.html} and {files.png}")


# ------------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with a status from :data:`EXIT_CODES`.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    try:
        # Without standalone mode, typer returns the code of a command's typer.Exit (and 130 for
        # Ctrl-C) instead of exiting; a command that returns normally gives None.
        code = app(args=argv, prog_name="statelab-grade", standalone_mode=False)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except _usage_errors() as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except (_errors.GradingError, PermissionError) as exc:
        if isinstance(exc, PermissionError) and not isinstance(exc, _errors.GradingError):
            typer.echo(f"error: no permission to write {exc.filename or 'a file'}: run the command as the account "
                       "that owns the course directory, or write the output elsewhere", err=True)
        else:
            typer.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(next(code for cls, code in EXIT_CODES if isinstance(exc, cls)))
    if code == 130:
        typer.echo("interrupted", err=True)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
