"""Unit 8's dashboard (statelab.datalabs.dashboard): disclosure-safe for every filter combination, and working in
a real browser.

- Every published cell has at least the minimum number of distinct people, is rounded by the course's rule, and
  no line of the cube (one filter or the group or the outcome varying, its total included) has exactly one
  suppressed cell, which would be its total minus the others. The check is written here independently of
  ``exposed_lines``.
- In Chromium (Playwright, the system browser; skipped with the reason when missing): the page renders offline
  (every network request is refused and none is made), each filter combination shows exactly the protected
  numbers, and a suppressed cell shows the word "suppressed", never a number.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest

import synthetic_data as sd
from statelab import disclosure
from statelab.datalabs import dashboard as db
from statelab.datalabs import linkage_report as lr

CHROMIUM = Path(os.environ.get("STATELAB_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def con(tiny_dataset):
    c = sd.connect(tiny_dataset)
    for track in db.DASHBOARDS:
        lr.prepare_track(c, track)
    yield c
    c.close()


@pytest.fixture(scope="module")
def page_path(con):
    folder = Path.home() / ".cache" / "statelab-tests" / uuid.uuid4().hex
    path = db.dashboard_html(con, "safety_net", folder / "dashboard.html")
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("track", list(db.DASHBOARDS))
def test_every_filter_combination_is_protected(con, track):
    rules = disclosure.Rules()
    cube = db.protect_cube(db.dashboard_cube(con, track))
    shown = cube[~cube["suppressed"]]
    assert (shown["people"] >= rules.min_cell_size).all()
    assert (shown["published"] == [disclosure.round_count(v) for v in shown["n"]]).all()
    assert cube.loc[cube["suppressed"], "published"].isna().all()
    # no line with exactly one gap
    keys = ["state", "county", "year", "group", "status"]
    for dim in keys:
        part = cube
        if dim == "county":
            part = cube[cube["state"] != db.ALL]
        elif dim == "state":
            part = cube[cube["county"] == db.ALL]
        lines = part.groupby([k for k in keys if k != dim])["suppressed"].agg(["sum", "size"])
        lone = lines[(lines["sum"] == 1) & (lines["size"] > 1)]  # a one-cell line is only its own total
        assert lone.empty, (track, dim, lone.head())
    assert db.exposed_lines(cube, cube["suppressed"]).empty
    # the margins are what the page adds up: yes + no = total before rounding
    wide = cube.pivot_table(index=["state", "county", "year", "group"], columns="status", values="n")
    assert (wide["yes"].fillna(0) + wide["no"].fillna(0) == wide["total"]).all()
    # something is published: the all-states, all-years table
    top = cube[(cube["state"] == db.ALL) & (cube["year"] == db.ALL) & (cube["group"] == db.ALL)]
    assert not top["suppressed"].any()


def test_suppression_of_a_lone_gap():
    cube = pd.DataFrame([
        {"state": s, "county": db.ALL, "year": db.ALL, "group": db.ALL, "status": "total", "n": n, "people": n}
        for s, n in (("IL", 50), ("IN", 4), ("KY", 30), ("MO", 60), (db.ALL, 144))])
    out = db.protect_cube(cube)
    assert list(out.loc[out["suppressed"], "state"]) == ["IN", "KY"]  # the gap, and the next smallest cell


def test_procurement_has_no_people_dashboard(con):
    with pytest.raises(ValueError, match="firm_table"):
        db.dashboard_cube(con, "procurement")


def _payload(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r"const D = (\{.*?\});\n", text).group(1).replace("<\\/", "</"))


def test_page_is_self_contained_and_semantic(page_path):
    text = page_path.read_text(encoding="utf-8")
    markup = re.sub(r"<script>.*?</script>", "", text, flags=re.DOTALL)  # the page without the embedded code
    assert '<html lang="en">' in markup and "<script src=" not in markup and "http" not in markup
    assert text.count("<script>") == 2  # Plotly's library and the page's own code, both inline
    for control in ("state", "county", "year"):
        assert f'<label for="{control}">' in text and f'<select id="{control}">' in text
    assert '<th scope="col">' in text and "<caption>" in text
    assert text.index("<h1>") < text.index("<h2")


@pytest.mark.slow
def test_dashboard_filters_in_chromium(page_path):
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set STATELAB_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    data = _payload(page_path)
    requests, errors = [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def route(r):
                requests.append(r.request.url)
                return r.continue_() if r.request.url.startswith("file:") else r.abort()

            page.route("**/*", route)
            page.goto(page_path.as_uri())
            page.wait_for_selector("#chart .main-svg")  # Plotly drew the chart

            def check(state, county, year):
                page.select_option("#state", state)
                page.select_option("#county", county)
                page.select_option("#year", year)
                rows = page.eval_on_selector_all("#numbers tbody tr", "rs => rs.map(r => "
                                                 "Array.from(r.children).map(c => c.textContent))")
                expected = data["data"][f"{state}|{county}|{year}"]
                assert len(rows) == len(expected)
                for cells, exp in zip(rows, expected):
                    assert cells[0] == ("All groups" if exp["group"] == db.ALL else exp["group"])
                    for text, key in zip(cells[1:4], ("yes", "no", "total")):
                        assert text == ("suppressed" if exp[key] is None else f"{exp[key]:,}"), (state, county, year)
                    assert cells[4] == ("suppressed" if exp["percent"] is None else f"{exp['percent']:.1f}%")
                summary = page.text_content("#summary")
                assert summary.startswith("Percent employed by group")

            for state in [db.ALL, *data["states"]]:
                for year in [db.ALL, *data["years"]]:
                    check(state, db.ALL, year)
            first = data["states"][0]
            for county in data["counties"][first]:
                check(first, county, db.ALL)
            # the county list follows the state
            page.select_option("#state", db.ALL)
            assert page.eval_on_selector_all("#county option", "os => os.length") == 1
        finally:
            browser.close()
    assert not errors, errors
    assert all(u.startswith("file:") for u in requests), [u for u in requests if not u.startswith("file:")]
