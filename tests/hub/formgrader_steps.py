"""Manual grading in the formgrader, in a real browser, on the live hub of ``test_hub.py``.

The instructor guide's step 6 (``book/instructor/nbgrader-term.md``), as an instructor lives it:

1. in the course's formgrader service, where the guide sends instructors to run ``statelab-grade``
   (its terminal runs as the grader account), ``statelab-grade autograde``; the written answers then
   wait, so ``statelab-grade export`` refuses and names them;
2. in Chromium (Debian's, driven by Playwright; never ``playwright install``), the instructor signs
   in to the hub, opens the formgrader, goes to Gradebook > the assignment > the notebook, opens a
   submission, types a score for the written answer and leaves the box;
3. the export now names only the other student; once that one is graded too, it writes both
   scores, the hand-given points included;
4. a student who signs in and opens the formgrader gets the hub's 403 page.

Skipped, with the reason, only when Chromium or Playwright is missing (the hub fixture skips
without the proxy or root).
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path

import pytest

from hub_client import Hub

#: Debian's browser, installed by `.ci/run` (`apt-get install chromium`).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE_TIMEOUT_MS = 90_000


def require_browser() -> None:
    """Skip unless Chromium and Playwright's Python package are there."""
    if not Path(CHROMIUM).is_file():
        pytest.skip("Chromium not found (apt-get install chromium, as .ci/run does): the formgrader browser "
                    "test needs a real browser")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package, test extra) is not installed")


def _statelab_grade(hub: Hub, instructor: str, course: str, course_root: Path, *args: str) -> dict:
    """Run ``statelab-grade ARGS`` in a kernel of the formgrader service, as the instructor reaches it."""
    code = f"""
import json, os, shutil, subprocess
exe = shutil.which("statelab-grade")
run = subprocess.run([exe or "statelab-grade", *{list(args)!r}], cwd={str(course_root)!r},
                     capture_output=True, text=True) if exe else None
print(json.dumps({{"uid": os.getuid(), "exe": exe, "code": run and run.returncode,
                  "out": run and run.stdout, "err": run and run.stderr}}))
"""
    got = hub.run_code(instructor, code, server=f"/services/{course}", timeout=900)
    assert got["exe"], "statelab-grade is not on PATH in the formgrader service's terminal"
    return got


@contextlib.contextmanager
def _browser():
    """Chromium, headless. Playwright's sync API runs an event loop: call the hub's kernels outside it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(browser, hub: Hub, user: str, password: str):
    """A page of a new browser context (its own cookies) where `user` has signed in to the hub."""
    ctx = browser.new_context()
    ctx.set_default_timeout(PAGE_TIMEOUT_MS)
    page = ctx.new_page()
    _sign_in(page, hub, user, password)
    return page


def _sign_in(page, hub: Hub, user: str, password: str) -> None:
    """The hub's login form; on to the home page (not the user's own server, which would start it)."""
    page.goto(f"{hub.url}/hub/login?next=%2Fhub%2Fhome")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    page.wait_for_url("**/hub/home")


def _grade_in_browser(page, hub: Hub, course: str, assignment: str, student: str, written: str,
                      score: float) -> None:
    """Gradebook > assignment > notebook > the student's submission; type the score; leave the box."""
    base = f"{hub.url}/services/{course}/formgrader"
    page.goto(f"{base}/gradebook")
    page.get_by_role("link", name=assignment, exact=True).click()  # the assignment
    page.wait_for_url(lambda url: url.rstrip("/").endswith(f"/gradebook/{assignment}"))
    page.get_by_role("link", name=assignment, exact=True).click()  # its notebook
    page.wait_for_url(lambda url: url.rstrip("/").endswith(f"/gradebook/{assignment}/{assignment}"))
    page.wait_for_selector("table tbody tr td a")  # the submissions, listed by the page's script
    # Names are hidden by default; the row of the student is the one whose hidden name cell holds it.
    row = page.locator("table tbody tr", has=page.locator(f"text={student}"))
    row.locator("a").first.click()
    page.wait_for_url("**/formgrader/submissions/**")
    # the page's script marks the box of an answer that waits for a person once it has loaded the
    # grades and listens for changes; typing earlier would not be saved
    box = page.locator(f"input.score.needs_manual_grade#{written}")
    box.wait_for()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
        box.fill(str(score))
        box.press("Tab")  # the formgrader saves a score when the box loses focus
    assert saved.value.ok, saved.value.status


def instructor_grades_in_the_formgrader(classroom: dict, course: str, assignment: str, written: str,
                                        points: float, autograded: float) -> None:
    """The steps above. `points` is the written answer's maximum, `autograded` what the tests give both."""
    hub: Hub = classroom["hub"]
    n = classroom["names"]
    instructor, alice, bob = n["instructor"], n["alice"], n["bob"]
    root = classroom["course_root"]

    # 1. autograde where the guide says, as the grader account; the written answers then wait
    graded = _statelab_grade(hub, instructor, course, root, "autograde", assignment)
    assert graded["uid"] == classroom["accounts"]["grader"].pw_uid
    assert graded["code"] == 0 and graded["err"] == "", graded
    assert f"{written} ({alice}, {bob})" in graded["out"], graded["out"]
    early = _statelab_grade(hub, instructor, course, root, "export", "grades.csv")
    assert early["code"] == 7 and f"{written} ({alice}, {bob})" in early["err"], early
    # the formgrader service also gives the instructor the JupyterLab and terminal the guide sends them to
    assert hub.get(instructor, f"/services/{course}/lab").status_code == 200
    r = hub.post(instructor, f"/services/{course}/api/terminals")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    hub.as_user(instructor).delete(f"{hub.url}/services/{course}/api/terminals/{r.json()['name']}")

    given = {alice: 1.5, bob: points}
    # 2. grade alice's written answer in the browser
    with _browser() as browser:
        page = _signed_in(browser, hub, instructor, classroom["password"])
        page.goto(f"{hub.url}/services/{course}/formgrader")
        assert page.get_by_text("Manage Assignments").first.is_visible()
        _grade_in_browser(page, hub, course, assignment, alice, written, given[alice])
    # 3. the export now waits for bob only (the score typed in the browser is in the gradebook)
    partial = _statelab_grade(hub, instructor, course, root, "export", "grades.csv")
    assert partial["code"] == 7 and f"{written} ({bob})" in partial["err"], partial
    with _browser() as browser:
        page = _signed_in(browser, hub, instructor, classroom["password"])
        _grade_in_browser(page, hub, course, assignment, bob, written, given[bob])
        # 4. a student who signs in cannot open the formgrader
        spage = _signed_in(browser, hub, alice, classroom["password"])
        response = spage.goto(f"{hub.url}/services/{course}/formgrader")
        assert response.status == 403, response.status
        assert spage.get_by_text("Manage Assignments").count() == 0

    done = _statelab_grade(hub, instructor, course, root, "export", "grades.csv")
    assert done["code"] == 0 and done["err"] == "", done
    rows = list(csv.reader(io.StringIO((root / "grades.csv").read_text(encoding="utf-8"))))
    scores = {r[3]: float(r[5]) for r in rows[2:]}
    assert scores == {s: autograded + v for s, v in given.items()}, scores
