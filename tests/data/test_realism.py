"""``sd.realism`` and ``statelab-data realism``: published targets measured on the learner tables.

The engine is tested on a small constructed database with target files written here (in, out, bad SQL,
duplicate id, missing source, ...); the packaged targets must parse and run on the ``tiny`` dataset; and,
marked slow, every packaged target must be within tolerance on ``default`` at two seeds.
"""

import json
import subprocess
import sys
import textwrap

import duckdb
import pytest
from typer.testing import CliRunner

import synthetic_data as sd
from synthetic_data._cli import app

runner = CliRunner()


def _target(id, sql="SELECT avg(x) FROM numbers", published=2.5, tol="tolerance = 0.1", **extra):
    """One [[target]] table as TOML text; ``extra`` adds or (with value None) removes keys."""
    fields = {"id": f'"{id}"', "title": f'"Mean of x ({id})"', "published": str(published), "unit": '"count"',
              "source": '"A constructed table"', "year": '"2020"', "verified": "true", "sql": f'"""{sql}"""'}
    for key, value in extra.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    body = "\n".join(f"{k} = {v}" for k, v in fields.items())
    return f"[[target]]\n{body}\n{tol}\n\n"


@pytest.fixture()
def dataset(tmp_path):
    """A folder holding a statelab.duckdb with one table, numbers(x) = 1, 2, 3, 4 (mean 2.5)."""
    folder = tmp_path / "data"
    folder.mkdir()
    con = duckdb.connect(str(folder / "statelab.duckdb"))
    con.execute("CREATE TABLE numbers AS SELECT range + 1 AS x FROM range(4)")
    con.close()
    return folder


def _targets(tmp_path, **files):
    folder = tmp_path / "targets"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------ in, out, output
def test_one_target_in_and_one_out(dataset, tmp_path):
    folder = _targets(tmp_path, good=_target("mean_in"),
                      bad=_target("mean_out", published=10.0, tol="rel_tolerance = 0.2"))
    table = sd.realism(dataset, targets_dir=folder)
    rows = table.set_index("id")
    assert rows.loc["mean_in", "generated"] == pytest.approx(2.5)
    assert (rows.loc["mean_in", "low"], rows.loc["mean_in", "high"]) == pytest.approx((2.4, 2.6))
    assert (rows.loc["mean_out", "low"], rows.loc["mean_out", "high"]) == pytest.approx((8.0, 12.0))
    assert rows["ok"].to_dict() == {"mean_out": False, "mean_in": True}
    assert list(table.columns[:10]) == ["id", "title", "published", "generated", "low", "high", "ok", "unit",
                                        "source", "year"]

    r = runner.invoke(app, ["realism", str(dataset), "--targets", str(folder)])
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    assert any(line.startswith("in ") and "Mean of x (mean_in)" in line for line in lines), r.output
    assert any(line.startswith("out ") and "Mean of x (mean_out)" in line for line in lines), r.output
    assert "1 of 2 measures within tolerance" in r.output

    only_good = runner.invoke(app, ["realism", str(dataset), "--targets", str(folder), "--domain", "good"])
    assert only_good.exit_code == 0, only_good.output


def test_json_output_lists_every_target(dataset, tmp_path):
    folder = _targets(tmp_path, a=_target("mean_in") + _target("mean_out", published=9.0))
    r = runner.invoke(app, ["realism", str(dataset), "--targets", str(folder), "--json"])
    assert r.exit_code == 1
    report = json.loads(r.output)
    assert (report["in"], report["out"]) == (1, 1)
    assert {t["id"]: t["ok"] for t in report["targets"]} == {"mean_in": True, "mean_out": False}


def test_no_records_is_no_data_and_out(dataset, tmp_path):
    folder = _targets(tmp_path, a=_target("empty", sql="SELECT avg(x) FROM numbers WHERE x > 100"))
    table = sd.realism(dataset, targets_dir=folder, formatted=True)
    assert table.loc["empty", "Result"] == "no data"
    assert table.loc["empty", "Generated"] == "–"
    assert runner.invoke(app, ["realism", str(dataset), "--targets", str(folder)]).exit_code == 1


# ------------------------------------------------------------------------- bad target files
@pytest.mark.parametrize("files, message", [
    ({"broken": _target("broken_sql", sql="SELECT nope FROM numbers")},
     r"broken\.toml: target 'broken_sql': SQL failed: Binder Error"),
    ({"a": _target("dup"), "b": _target("dup")},
     r"b\.toml: target 'dup': duplicate id \(first defined in a\.toml\)"),
    ({"a": _target("no_source", source=None)}, r"a\.toml: target 'no_source': missing source"),
    ({"a": _target("typo", tolerence="0.1")}, r"a\.toml: target 'typo': unknown key\(s\) tolerence"),
    ({"a": _target("two_tols", tol="tolerance = 0.1\nrel_tolerance = 0.1")}, r"exactly one of tolerance"),
    ({"a": _target("no_tol", tol="")}, r"exactly one of tolerance"),
    ({"a": _target("negative_tol", tol="tolerance = -0.1")}, r"must not be negative"),
    ({"a": _target("bad_unit", unit='"euros"')}, r"unit 'euros' is not one of"),
    ({"a": _target("unverified", verified="false")}, r"verified = false needs a note"),
    ({"a": _target("two_rows", sql="SELECT x FROM numbers")}, r"one row with one number, got 4 row\(s\)"),
    ({"a": _target("text", sql="SELECT 'two'")}, r"must return a number, got 'two'"),
    ({"a": "[[target]\nid = 1"}, r"a\.toml: not valid TOML"),
    ({"a": "[[targets]]\nid = 'x'\n"}, r"unknown top-level key\(s\) targets"),
])
def test_bad_target_files_name_file_target_and_problem(dataset, tmp_path, files, message):
    folder = _targets(tmp_path, **files)
    with pytest.raises(sd.CalibrationError, match=message):
        sd.realism(dataset, targets_dir=folder)
    r = runner.invoke(app, ["realism", str(dataset), "--targets", str(folder)])
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1 and r.output.startswith("error: "), r.output
    assert "Traceback" not in r.output


def test_bad_arguments_exit_2_with_one_line(dataset, tmp_path):
    folder = _targets(tmp_path, a=_target("mean_in"))
    for args in (["realism", str(tmp_path / "missing")],                       # no such folder
                 ["realism", str(tmp_path)],                                    # a folder without statelab.duckdb
                 ["realism", str(dataset), "--targets", str(folder), "--domain", "nope"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and r.output.startswith("error: "), r.output
    assert "domains with targets: a" in runner.invoke(app, args).output


def test_the_command_module_does_not_load_pandas():
    """`statelab-data --help` stays quick: the realism engine's heavy imports happen when it runs."""
    code = "import sys, synthetic_data._cli; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------------- the truth stays hidden
@pytest.mark.parametrize("sql, message", [
    ("SELECT count(*) FROM truth.person", "SQL failed"),
    ("SELECT count(*) FROM read_parquet('truth/person/**/*.parquet')", "Permission Error"),
    ("SELECT count(*) FROM read_parquet('parquet/../truth/person/**/*.parquet')", "Permission Error"),
    ("ATTACH 'truth/truth.duckdb' AS t; SELECT 1", "Permission Error"),
    ("CREATE TABLE note AS SELECT 1 AS x; SELECT 1", "read-only"),
])
def test_target_sql_cannot_reach_the_truth_or_write(tiny_dataset, tmp_path, sql, message):
    assert (tiny_dataset / "truth" / "truth.duckdb").exists()          # the truth is there to be refused
    folder = _targets(tmp_path, a=_target("peek", sql=sql))
    with pytest.raises(sd.CalibrationError, match=message):
        sd.realism(tiny_dataset, targets_dir=folder)


# --------------------------------------------------------------------------- packaged targets
def test_packaged_targets_parse_and_run_on_tiny(tiny_dataset):
    table = sd.realism(tiny_dataset)
    assert table["id"].is_unique
    own = table[table["domain"].isin(["labor", "ui"])]
    assert len(own) >= 25, len(own)
    assert (own["domain"] == "labor").sum() >= 10 and (own["domain"] == "ui").sum() >= 10
    assert (table["low"] <= table["published"]).all() and (table["published"] <= table["high"]).all()
    assert table["source"].str.len().gt(20).all() and table["year"].str.contains(r"(19|20)\d\d").all()
    assert table["generated"].map(lambda v: isinstance(v, float)).all()
    # Most measures have records even on the tiny profile; the others report "no data", never an error.
    assert table["generated"].notna().mean() > 0.8
    ui = sd.realism(tiny_dataset, domain="ui")
    assert set(ui["id"]) == set(table.loc[table["domain"] == "ui", "id"])


def test_published_series_for_the_book_page():
    series = sd.published_series()
    for needed in ("qcew_us_aww_q2", "qcew_us_employment_vs_2019", "ui_initial_claims_weekly_ratio_us",
                   "ui_exhaustion_us", "ui_duration_us"):
        assert needed in set(series["id"]), needed
    assert series.groupby("id")["unit"].nunique().eq(1).all()
    aww = series[series["id"] == "qcew_us_aww_q2"].set_index("period")["value"]
    assert aww["2020Q2"] / aww["2019Q2"] - 1 == pytest.approx(0.086, abs=0.002)   # agrees with its own note


def test_the_calibration_folder_ships_with_the_package():
    """pyproject's package-data globs reach calibration/ only if setuptools finds it as a (namespace) package."""
    import tomllib
    from pathlib import Path

    find_namespace_packages = pytest.importorskip("setuptools").find_namespace_packages

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = find_namespace_packages(where=str(root), include=config["packages"]["find"]["include"])
    assert "synthetic_data.calibration" in found
    globs = config["package-data"]["*"]
    assert "*.toml" in globs and "*.md" in globs


# ------------------------------------------------------------------- the generator hits them
@pytest.mark.slow
@pytest.mark.parametrize("seed", [sd.DEFAULT_SEED, 7])
def test_every_target_is_in_on_the_default_profile(seed, course_dataset_at):
    dataset = course_dataset_at(seed)
    table = sd.realism(dataset, formatted=True)
    out = table[table["Result"] != "in"]
    assert out.empty, "\n" + textwrap.indent(out[["Published", "Generated", "Accepted range"]].to_string(), "  ")
