"""Autograding a whole class: graders.autograde_class (parallel) against nbgrader's own sequential autograde.

Reports, in one run:
- wall time to autograde a class (default 40 students) with ``graders.autograde_class`` and its default
  number of workers (the cores plus one; ``--workers`` to choose);
- wall time for the same class with ``graders.autograde_sequential`` (plain ``NbGraderAPI.autograde``, one
  submission after another: nbgrader's own behavior and the baseline) on an identical copy of the course;
- the speedup, sequential / parallel (target >= 1.8x on 2 cores), and the time per submission of each;
- a check that both gradebooks hold IDENTICAL results for every student and graded cell (score,
  auto_score, manual_score, needs_manual_grade) and that no submission failed: any difference exits non-zero;
- CPU use: cores kept busy on the whole machine during each run (/proc/stat; includes other jobs), and
  the cores used by sequential nbgrader itself (its process plus reaped kernels), which bounds the speedup;
- the 1-minute load average before and after each run (2 shared cores: read the ratio, not the seconds).

Set-up, as tests/grading does: copy ``assignments/`` (without generated output) into a temporary folder,
point the source notebooks at the tiny profile (``graders.set_parameters(profile="tiny",
seed=DEFAULT_SEED, data_root=ROOT)``; the tiny dataset is generated first if missing, timed separately),
``graders.release_assignments``, then put a copy of the source notebook (the solution) in
``submitted/<student>/01-orientation/`` for every student. With --mistakes K, K of those students instead
get one answer cell replaced by a known mistake from ``assignments/checks/<assignment>.toml`` (cycling
through them), so the identity check also covers lost marks. The course is then copied whole, and the copy
is graded sequentially. One submission is graded first, untimed, in a third copy (warm-up: the first run
otherwise pays for a cold disk cache). --order chooses which of the two runs first (load drifts).

Usage: python benchmarks/bench_autograde.py [--students 40] [--workers 2] [--mistakes 0] [--order parallel-first]
Results: benchmarks/results/autograde.json
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tomllib
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COURSE = REPO / "assignments"
OUTPUT_DIRS = ("release", "submitted", "autograded", "feedback", "reports", "gradebook.db", ".ipynb_checkpoints")
SPEEDUP_TARGET = 1.8


def _load() -> float:
    return os.getloadavg()[0]


def _machine_jiffies():
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat (None where unavailable)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return sum(f) - idle, sum(f)


def _busy_cores(j0, j1):
    if j0 is None or j1 is None or j1[1] == j0[1]:
        return None
    return (j1[0] - j0[0]) / (j1[1] - j0[1]) * (os.cpu_count() or 1)


def _own_cpu() -> float:
    """CPU seconds of this process and its reaped children (nbgrader's kernels, when run in-process)."""
    r0, r1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r0.ru_utime + r0.ru_stime + r1.ru_utime + r1.ru_stime


def _mistakes(assignment):
    path = COURSE / "checks" / f"{assignment}.toml"
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        return tomllib.load(fh).get("mistake", [])


def _replace_cell(notebook: Path, grade_id: str, source: str, out: Path) -> None:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    hits = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if not hits:
        sys.exit(f"{notebook.name} has no cell {grade_id!r}")
    hits[0].source = source.strip("\n")
    nbformat.write(nb, out)


def setup_class(tmp: Path, assignment: str, students: int, n_mistakes: int, data_root: Path) -> tuple[Path, dict]:
    """A released course with `students` submissions; returns (course dir, student -> kind)."""
    import graders
    import synthetic_data as sd

    course = shutil.copytree(COURSE, tmp / "parallel", ignore=shutil.ignore_patterns(*OUTPUT_DIRS, "__pycache__"))
    src = course / "source" / assignment
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        sys.exit(f"no notebooks in {src}")
    for nb in notebooks:
        graders.set_parameters(nb, profile="tiny", seed=sd.DEFAULT_SEED, data_root=str(data_root))
    graders.release_assignments(course, [assignment])
    mistakes = _mistakes(assignment)
    if n_mistakes and not mistakes:
        sys.exit(f"--mistakes {n_mistakes}: assignments/checks/{assignment}.toml has no [[mistake]]")
    width = len(str(students))
    kinds = {}
    for i in range(students):
        student = f"student{i + 1:0{width}d}"
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        # spread the mistakes over the class: every (students // n_mistakes)-th student
        m = None
        if n_mistakes and i % max(1, students // n_mistakes) == 0 and i // max(1, students // n_mistakes) < n_mistakes:
            m = mistakes[(i // max(1, students // n_mistakes)) % len(mistakes)]
        for nb in notebooks:
            if m is not None and nb.stem == m["notebook"]:
                _replace_cell(nb, m["answer_cell"], m["source"], folder / nb.name)
            else:
                shutil.copy(nb, folder / nb.name)
        kinds[student] = "solution" if m is None else f"mistake:{m['answer_cell']}"
    return course, kinds


def cell_results(course: Path, assignment: str) -> dict:
    """(student, notebook, question) -> (score, auto_score, manual_score, needs_manual_grade)."""
    import graders

    df = graders.grade_table(course, assignment).astype(object)
    df = df.where(df.notna(), None)
    return {(r.student, r.notebook, r.question): (r.score, r.auto_score, r.manual_score, r.needs_manual_grade)
            for r in df.itertuples()}


def cell_max_scores(course: Path, assignment: str) -> dict:
    """(student, notebook, question) -> max_score."""
    import graders

    df = graders.grade_table(course, assignment)
    return {(r.student, r.notebook, r.question): float(r.max_score) for r in df.itertuples()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=40, help="class size (default 40)")
    ap.add_argument("--workers", type=int, default=None,
                    help="autograde_class worker processes (default: the grader's own default, cores + 1)")
    ap.add_argument("--assignment", default="01-orientation")
    ap.add_argument("--mistakes", type=int, default=0,
                    help="students whose submission carries a known mistake (default 0: every submission is the solution)")
    ap.add_argument("--order", choices=["parallel-first", "sequential-first"], default="parallel-first")
    ap.add_argument("--data-root", type=Path, default=None,
                    help="where the tiny dataset lives (default: $STATELAB_DATA_DIR or ~/statelab-data)")
    args = ap.parse_args()
    if args.students < 1 or args.mistakes > args.students:
        ap.error("need --students >= 1 and --mistakes <= --students")

    warnings.filterwarnings("ignore", message=".*", module="sqlalchemy")
    import graders
    import synthetic_data as sd

    data_root = (args.data_root or sd.data_root()).resolve()
    result = {"assignment": args.assignment, "students": args.students, "workers": args.workers,
              "mistakes": args.mistakes, "order": args.order, "cpu_count": os.cpu_count()}
    dataset = sd.dataset_path("tiny", data_root=data_root)
    if dataset.exists():
        result["data_generation_s"] = None
    else:
        t0 = time.perf_counter()
        sd.ensure_dataset("tiny", seed=sd.DEFAULT_SEED, data_root=data_root)
        result["data_generation_s"] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="statelab-bench-autograde-") as tmp:
        t0 = time.perf_counter()
        course, kinds = setup_class(Path(tmp), args.assignment, args.students, args.mistakes, data_root)
        seq_course = shutil.copytree(course, Path(tmp) / "sequential", symlinks=True)
        result["setup_s"] = time.perf_counter() - t0
        # untimed warm-up (one submission, in a third copy), so neither timed run pays for a cold disk cache
        warm = shutil.copytree(course, Path(tmp) / "warmup", symlinks=True)
        t0 = time.perf_counter()
        graders.autograde_sequential(warm, args.assignment, students=[sorted(kinds)[0]], progress=False)
        result["warmup_s"] = time.perf_counter() - t0

        def run_parallel():
            load0, j0 = _load(), _machine_jiffies()
            r = graders.autograde_class(course, args.assignment, workers=args.workers, progress=False,
                                        raise_on_failure=False)
            return r, [load0, _load()], _busy_cores(j0, _machine_jiffies()), None

        def run_sequential():
            load0, j0, c0 = _load(), _machine_jiffies(), _own_cpu()
            r = graders.autograde_sequential(seq_course, args.assignment, progress=False)
            return r, [load0, _load()], _busy_cores(j0, _machine_jiffies()), (_own_cpu() - c0) / r.seconds

        if args.order == "parallel-first":
            par, par_load, par_busy, _ = run_parallel()
            seq, seq_load, seq_busy, seq_cores = run_sequential()
        else:
            seq, seq_load, seq_busy, seq_cores = run_sequential()
            par, par_load, par_busy, _ = run_parallel()


        # the check: identical per student and cell, nothing failed
        problems = []
        for name, r in (("parallel", par), ("sequential", seq)):
            if r.failed:
                problems.append(f"{name}: {len(r.failed)} submissions failed: {sorted(r.failed)[:5]} "
                                f"first error: {next(iter(r.failed.values()))[-500:]}")
            if sorted(r.scores) != sorted(kinds):
                problems.append(f"{name}: scores for {len(r.scores)} of {len(kinds)} students")
        pc, sc = cell_results(course, args.assignment), cell_results(seq_course, args.assignment)
        if set(pc) != set(sc):
            problems.append(f"different (student, notebook, cell) keys: only parallel {sorted(set(pc) - set(sc))[:5]}, "
                            f"only sequential {sorted(set(sc) - set(pc))[:5]}")
        diff = sorted(k for k in set(pc) & set(sc) if pc[k] != sc[k])
        for k in diff[:10]:
            problems.append(f"{k}: parallel {pc[k]} != sequential {sc[k]}")
        if len(diff) > 10:
            problems.append(f"... {len(diff) - 10} more differing cells")
        if par.scores != seq.scores:
            problems.append("total scores differ: " + ", ".join(
                f"{s}: {par.scores.get(s)} vs {seq.scores.get(s)}" for s in sorted(set(par.scores) | set(seq.scores))
                if par.scores.get(s) != seq.scores.get(s))[:1000])
        # the solution must earn every autograded point (otherwise the class is not graded as intended);
        # cells that need a manual grade (written answers) score 0 until an instructor grades them
        maxes = cell_max_scores(seq_course, args.assignment)
        wrong = sorted({k[0] for k, v in sc.items() if kinds.get(k[0]) == "solution" and not v[3] and v[0] != maxes[k]})
        if wrong:
            problems.append(f"{len(wrong)} solution submissions lost autograded points: {wrong[:5]}")
        manual = sorted({k[2] for k, v in sc.items() if v[3]})

    n = args.students
    result.update({
        "parallel": {"seconds": par.seconds, "per_submission_s": par.seconds / n, "workers": par.workers,
                     "load": par_load, "machine_busy_cores": par_busy, "failed": len(par.failed)},
        "sequential": {"seconds": seq.seconds, "per_submission_s": seq.seconds / n, "load": seq_load,
                       "machine_busy_cores": seq_busy, "own_cores_used": seq_cores, "failed": len(seq.failed)},
        "speedup": seq.seconds / par.seconds,
        "speedup_target": SPEEDUP_TARGET,
        "max_score": seq.max_score,
        "graded_cells_compared": len(pc),
        "cells_needing_manual_grade": manual,
        "score_distribution": {str(v): list(seq.scores.values()).count(v) for v in sorted(set(seq.scores.values()))},
        "identical": not problems,
        "problems": problems,
    })
    print(f"{args.assignment}: {n} submissions ({n - args.mistakes} solutions, {args.mistakes} with a mistake), "
          f"tiny profile, set-up {result['setup_s']:.1f} s, warm-up {result['warmup_s']:.1f} s, {os.cpu_count()} cores, {args.order}")
    def cores(x):
        return f"{x:.2f}" if x is not None else "?"

    print(f"{'run':24s} {'wall s':>8s} {'s/submission':>13s} {'machine busy cores':>19s} {'load 1m before/after':>21s}")
    print(f"{'autograde_class w=' + str(par.workers):24s} {par.seconds:>8.1f} {par.seconds / n:>13.2f} "
          f"{cores(par_busy):>19s} {par_load[0]:>10.2f}/{par_load[1]:<10.2f}")
    print(f"{'nbgrader sequential':24s} {seq.seconds:>8.1f} {seq.seconds / n:>13.2f} "
          f"{cores(seq_busy):>19s} {seq_load[0]:>10.2f}/{seq_load[1]:<10.2f}")
    if seq_cores:
        print(f"sequential nbgrader itself used {seq_cores:.2f} cores on average (its process + kernels), so "
              f"{os.cpu_count()} cores allow at most ~{(os.cpu_count() or 1) / seq_cores:.2f}x")
    print(f"speedup (sequential / parallel) = {result['speedup']:.2f}x "
          f"(target >= {SPEEDUP_TARGET}x: {'met' if result['speedup'] >= SPEEDUP_TARGET else 'NOT met'})")
    print(f"scores: {len(pc)} (student, cell) results compared, max score {seq.max_score}, "
          f"totals before manual grading {result['score_distribution']}"
          + (f" (manual-graded cells, not scored here: {', '.join(manual)})" if manual else "") + ": " + ("IDENTICAL" if not problems else "DIFFERENT"))
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / "autograde.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written {out}")
    if problems:
        sys.exit("AUTOGRADE RESULTS DIFFER OR FAILED:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
