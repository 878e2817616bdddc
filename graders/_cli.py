"""``statelab-grade``: the instructor's command line (a thin layer over :mod:`graders`).

Exit codes
----------
0
    Success.
1
    Any other grading error.
2
    Bad command line (typer/click usage error).
3
    Course directory, configuration, gradebook entry or assignment not found.
4
    An nbgrader step failed (for ``autograde``: at least one submission failed;
    the others are saved).
5
    Feedback would have shown hidden tests (those files were deleted).
6
    A submission could not be collected or matched to a student.
130
    Interrupted.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import _autograde, _errors, _export, _feedback, _release

__all__ = ["app", "main", "EXIT_CODES"]

#: Exception class to exit status (first match in order wins).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (_errors.FeedbackLeakError, 5),
    (_errors.SubmissionError, 6),
    (_errors.NbgraderStepError, 4),
    (_errors.CourseDirectoryError, 3),
    (_errors.AssignmentNotFoundError, 3),
    (_errors.GradingError, 1),
)

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


app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Release, collect, autograde, give feedback on and export the statelab assignments.")

CourseOpt = Annotated[Path, typer.Option(
    "--course-dir", "-C", envvar="STATELAB_COURSE_DIR",
    help="nbgrader course directory (holds nbgrader_config.py).")]


@app.command()
def release(assignments: Annotated[Optional[list[str]], typer.Argument(help="Default: all in source/.")] = None,
            exchange: Annotated[bool, typer.Option(help="Also copy to the nbgrader exchange.")] = False,
            course_dir: CourseOpt = Path(".")) -> None:
    """Generate the student versions into release/ (and the gradebook entries)."""
    done = _release.release_assignments(course_dir, assignments or None, exchange=exchange)
    typer.echo(f"released: {', '.join(done) or '(none)'}")


@app.command()
def collect(assignment: str,
            from_dir: Annotated[Optional[Path], typer.Option(
                help="Folder of <student>.ipynb files or <student>/ folders.")] = None,
            exchange: Annotated[bool, typer.Option(help="Collect from the nbgrader exchange.")] = False,
            course_dir: CourseOpt = Path(".")) -> None:
    """Copy submissions into submitted/<student>/<assignment>/."""
    if from_dir is None and not exchange:
        raise typer.BadParameter("give --from-dir and/or --exchange")
    got = _release.collect_submissions(course_dir, assignment, from_dir=from_dir, exchange=exchange)
    typer.echo(f"collected {len(got)} from folder" + (" (and the exchange)" if exchange else ""))


@app.command()
def autograde(assignment: str,
              workers: Annotated[Optional[int], typer.Option(
                  "--workers", "-j", min=1, help="Parallel workers (default: the cores plus one).")] = None,
              timeout: Annotated[Optional[int], typer.Option(
                  min=1, help="Per-cell timeout in seconds (default: the course config).")] = None,
              student: Annotated[Optional[list[str]], typer.Option(help="Only these students.")] = None,
              course_dir: CourseOpt = Path(".")) -> None:
    """Autograde every submission of ASSIGNMENT in parallel."""
    res = _autograde.autograde_class(course_dir, assignment, workers, students=student or None,
                                     timeout=timeout, raise_on_failure=False)
    typer.echo(f"{assignment}: {len(res.scores)} graded with {res.workers} workers in {res.seconds:.1f} s "
               f"(max score {res.max_score:g})")
    if res.failed:
        for s, err in sorted(res.failed.items()):
            typer.echo(f"FAILED {s}: {_first_error(err)}", err=True)
        raise _errors.NbgraderStepError(f"{len(res.failed)} submissions failed", res.failed)


def _first_error(text: str) -> str:
    """The most telling line of nbgrader's log: the last exception line, else the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b", ln) and "Please see" not in ln]
    return errors[-1] if errors else (lines[-1] if lines else "unknown error")


@app.command()
def feedback(assignment: str,
             student: Annotated[Optional[list[str]], typer.Option(help="Only these students.")] = None,
             course_dir: CourseOpt = Path(".")) -> None:
    """Render feedback HTML into feedback/ with hidden tests redacted."""
    files = _feedback.generate_feedback(course_dir, assignment, students=student or None)
    typer.echo(f"{len(files)} feedback files written")


@app.command()
def export(out: Annotated[Path, typer.Argument(help="CSV file to write.")],
           assignment: Annotated[Optional[list[str]], typer.Option(help="Default: all.")] = None,
           roster: Annotated[Optional[Path], typer.Option(help="A Canvas gradebook export to match.")] = None,
           canvas_id: Annotated[Optional[list[str]], typer.Option(
               help="ASSIGNMENT=CANVAS_ID, repeatable.")] = None,
           missing: Annotated[str, typer.Option(help="'blank' (leave Canvas unchanged) or 'zero'.")] = "blank",
           points_row: Annotated[bool, typer.Option(help="Write the Points Possible row.")] = True,
           course_dir: CourseOpt = Path(".")) -> None:
    """Export grades as a Canvas gradebook-import CSV."""
    ids = {}
    for item in canvas_id or []:
        name, sep, cid = item.partition("=")
        if not sep or not cid.strip().isdigit():
            raise typer.BadParameter(f"--canvas-id wants ASSIGNMENT=NUMBER, got {item!r}")
        ids[name.strip()] = cid.strip()
    path = _export.export_canvas_csv(course_dir, out, assignments=assignment or None, roster=roster,
                                     canvas_ids=ids, missing=missing, points_row=points_row)
    typer.echo(f"wrote {path}")


@app.command()
def report(assignment: str,
           out_dir: Annotated[Optional[Path], typer.Option(help="Default: <course>/reports.")] = None,
           course_dir: CourseOpt = Path(".")) -> None:
    """Per-question score table (CSV) and bar plot (PNG)."""
    csv_path, png_path = _export.report(course_dir, assignment, out_dir)
    typer.echo(f"wrote {csv_path} and {png_path}")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with a status from :data:`EXIT_CODES`.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    try:
        app(args=argv, prog_name="statelab-grade", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except _usage_errors() as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except _errors.GradingError as exc:
        typer.echo(f"error: {exc}", err=True)
        for cls, code in EXIT_CODES:
            if isinstance(exc, cls):
                sys.exit(code)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
