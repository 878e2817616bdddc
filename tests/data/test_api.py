"""The public API: small, documented, and safe for learners."""

import duckdb
import pytest

import synthetic_data as sd


def test_public_names_exist_and_private_modules_stay_private():
    for name in sd.__all__:
        assert hasattr(sd, name), name
    assert not [n for n in sd.__all__ if n.startswith("_")]


def test_connect_is_read_only_on_the_source_and_writable_in_the_workspace(tiny_dataset):
    con = sd.connect(tiny_dataset)
    n = con.sql("SELECT count(*) FROM ui_wage").fetchall()[0][0]
    assert n > 1000
    con.execute("CREATE TABLE my_cohort AS SELECT DISTINCT ssn FROM ui_wage WHERE year = 2019")
    assert con.sql("SELECT count(*) FROM my_cohort").fetchall()[0][0] > 0
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM statelab.main.ui_wage")
    with pytest.raises(duckdb.Error):
        con.sql("SELECT * FROM truth.person").fetchall()         # truth is not attached by default


def test_hashed_variant_links_like_the_plain_one(tiny_dataset):
    con = sd.connect(tiny_dataset)
    plain = con.sql("""SELECT count(*) FROM (SELECT DISTINCT w.ssn FROM ui_wage w JOIN ui_claim c ON c.ssn = w.ssn)""").fetchall()[0][0]
    hashed = con.sql("""SELECT count(*) FROM (SELECT DISTINCT w.ssn_hash FROM hashed.ui_wage w
                        JOIN hashed.ui_claim c ON c.ssn_hash = w.ssn_hash)""").fetchall()[0][0]
    assert plain > 0 and plain == hashed
    cols = {r[0] for r in con.sql("DESCRIBE hashed.ui_wage").fetchall()}
    assert "ssn" not in cols and "ssn_hash" in cols


def test_codebook_covers_every_learner_column(tiny_dataset):
    md = sd.codebook_markdown()
    con = sd.connect(tiny_dataset)
    for table in sd.TABLES:
        assert f"## `{table}`" in md
        for (col,) in con.sql(f"SELECT column_name FROM duckdb_columns() WHERE database_name = 'statelab' "
                              f"AND schema_name = 'main' AND table_name = '{table}'").fetchall():
            assert f"`{col}`" in md, (table, col)
    for table in sd.TRUTH_TABLES:
        assert f"`{table}`" not in md


def test_comments_travel_into_duckdb(tiny_dataset):
    con = sd.connect(tiny_dataset)
    comment = con.sql("SELECT comment FROM duckdb_columns() WHERE database_name = 'statelab' AND schema_name = 'main' AND table_name = 'ui_wage' "
                      "AND column_name = 'wages'").fetchall()[0][0]
    assert comment == sd._schema.table("ui_wage").column("wages").description


def test_ensure_dataset_uses_the_environment(tiny_data_root, monkeypatch):
    monkeypatch.setenv("STATELAB_DATA_DIR", str(tiny_data_root))
    assert sd.ensure_dataset("tiny") == tiny_data_root / f"tiny-{sd.DEFAULT_SEED}"
    assert sd.load_table("ref_state", profile="tiny").shape[0] == 4


def test_cli_generate_and_validate(tmp_path):
    from typer.testing import CliRunner

    from synthetic_data._cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["generate", "--profile", "tiny", "--seed", "3", "--out", str(tmp_path / "d"), "-q", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["validate", str(tmp_path / "d")]).exit_code == 0
    assert runner.invoke(app, ["generate", "--profile", "tiny", "--seed", "3", "--out", str(tmp_path / "d"), "-q"]).exit_code == 3
    assert runner.invoke(app, ["generate", "--profile", "bogus"]).exit_code == 2
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 2


def test_a_dataset_from_an_older_generator_is_regenerated(tiny_dataset, tmp_path):
    """Lessons state what the current world shows, so a stale dataset is replaced, not opened."""
    import json
    import shutil

    root = tmp_path / "data"
    path = sd.dataset_path("tiny", data_root=root)
    shutil.copytree(tiny_dataset, path)
    m = json.loads((path / "manifest.json").read_text())
    m["generator_version"] = "1"
    (path / "manifest.json").write_text(json.dumps(m))
    assert sd.ensure_dataset("tiny", data_root=root) == path
    assert sd.manifest(path)["generator_version"] == sd.GENERATOR_VERSION
