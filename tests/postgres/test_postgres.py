"""The shared classroom database on a real PostgreSQL server: load, permissions, same answers as DuckDB."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import synthetic_data as sd
from synthetic_data._postgres import connect_postgres, create_class, load_postgres
from synthetic_data._schema import tables

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def classroom_db(pg_server, tiny_dataset):
    counts = load_postgres(tiny_dataset, pg_server["dsn"], truth=True)
    passwords = create_class(pg_server["dsn"], ["ana", "ben"], instructors=["ivy"])

    def dsn(user):
        return (f"host={pg_server['host']} port={pg_server['port']} dbname=postgres user={user} "
                f"password={passwords[user]}")

    return {"counts": counts, "dsn": dsn, "admin": pg_server["dsn"]}


def _denied(con, query) -> bool:
    import psycopg

    try:
        con.sql(query)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_every_table_is_loaded_whole(classroom_db, tiny_dataset):
    duck = sd.connect(tiny_dataset, truth=True)
    with connect_postgres(classroom_db["admin"]) as pg:
        for name, t in tables().items():
            schema = "truth" if t.audience == "truth" else "statelab"
            duck_schema = "truth" if t.audience == "truth" else "statelab"
            n_duck = duck.sql(f"SELECT count(*) FROM {duck_schema}.{name}").fetchall()[0][0]
            n_pg = pg.sql(f"SELECT count(*) FROM {schema}.{name}").fetchall()[0][0]
            assert n_pg == n_duck == classroom_db["counts"][name], name


def test_keys_and_comments_are_in_place(classroom_db):
    with connect_postgres(classroom_db["admin"]) as pg:
        pk = pg.sql("""SELECT count(*) FROM information_schema.table_constraints
                       WHERE table_schema = 'statelab' AND constraint_type = 'PRIMARY KEY'""").fetchall()[0][0]
        learner = [n for n, t in tables().items() if t.audience != "truth"]
        assert pk == len(learner)
        comment = pg.sql("SELECT obj_description('statelab.ui_wage'::regclass)").fetchall()[0][0]
        assert tables()["ui_wage"].title in comment


def test_values_survive_the_load(classroom_db, tiny_dataset):
    """NULL stays NULL, '' stays '', dates and booleans round-trip (COPY csv quoting)."""
    duck = sd.connect(tiny_dataset)
    q = "SELECT record_id, ssn, first_name, exit_date, received_training, training_cip_code FROM {} ORDER BY record_id"
    with connect_postgres(classroom_db["admin"]) as pg:
        a = duck.sql(q.format("wioa")).df()
        b = pg.sql(q.format("statelab.wioa")).df()
    pd.testing.assert_frame_equal(a.astype(str), b.astype(str))
    # the same dtypes as DuckDB gives, so `.dt` works on dates in notebooks and hidden tests
    assert b["exit_date"].dtype == a["exit_date"].dtype
    assert (b["exit_date"].dt.year.dropna() == a["exit_date"].dt.year.dropna()).all()
    assert a["ssn"].isna().any() and a["training_cip_code"].isna().any(), "sanity: there are NULLs to check"
    assert b["ssn"].isna().sum() == a["ssn"].isna().sum()


def test_learner_reads_sources_and_writes_only_their_own_schema(classroom_db):
    with connect_postgres(classroom_db["dsn"]("ana")) as ana:
        assert ana.sql("SELECT count(*) FROM ui_wage").fetchall()[0][0] > 0  # search path finds sources
        ana.sql("CREATE TABLE my_cohort AS SELECT DISTINCT ssn FROM ui_claim WHERE ssn IS NOT NULL")
        where = ana.sql("SELECT table_schema FROM information_schema.tables WHERE table_name = 'my_cohort'")
        assert where.fetchall() == [("ws_ana",)]
        assert _denied(ana, "DELETE FROM statelab.ui_wage")
        assert _denied(ana, "UPDATE statelab.employer SET legal_name = 'x'")
        assert _denied(ana, "INSERT INTO statelab.ref_state VALUES ('99', 'XX', 'Nowhere')")
        assert _denied(ana, "CREATE TABLE statelab.mine (x int)")
        assert _denied(ana, "DROP TABLE statelab.ui_claim")
        assert _denied(ana, "CREATE TABLE public.mine (x int)")
        assert _denied(ana, "SELECT count(*) FROM truth.person")
    with connect_postgres(classroom_db["dsn"]("ben")) as ben:
        assert _denied(ben, "SELECT * FROM ws_ana.my_cohort")
        assert _denied(ben, "CREATE TABLE ws_ana.intruder (x int)")


def test_instructor_reads_truth(classroom_db):
    with connect_postgres(classroom_db["dsn"]("ivy")) as ivy:
        assert ivy.sql("SELECT count(*) FROM truth.person").fetchall()[0][0] > 0
        assert _denied(ivy, "DELETE FROM truth.person")


def test_connect_picks_the_backend_from_the_environment(classroom_db, monkeypatch):
    monkeypatch.setenv("STATELAB_BACKEND", "postgres")
    monkeypatch.setenv("STATELAB_DATABASE_URL", classroom_db["dsn"]("ben"))
    con = sd.connect(profile="tiny")
    try:
        assert con.sql("SELECT current_user").fetchall() == [("ben",)]
    finally:
        con.close()


def test_a_failed_reload_keeps_the_loaded_data(classroom_db, tiny_dataset, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset, broken)
    victim = sorted((broken / "parquet" / "ui_claim").glob("*.parquet"))[0]
    victim.write_bytes(b"PAR1 not parquet")
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error; the point is what is left
        load_postgres(broken, classroom_db["admin"])
    with connect_postgres(classroom_db["admin"]) as pg:
        n = pg.sql("SELECT count(*) FROM statelab.ui_claim").fetchall()[0][0]
        assert n == classroom_db["counts"]["ui_claim"]
        assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%loading'").fetchall()[0][0] == 0
    with connect_postgres(classroom_db["dsn"]("ana")) as ana:  # grants survived
        assert ana.sql("SELECT count(*) FROM ui_claim").fetchall()[0][0] == n


def test_bad_learner_name_is_refused(classroom_db):
    with pytest.raises(ValueError, match="'Robert; DROP'"):
        create_class(classroom_db["admin"], ["Robert; DROP"])


def test_hub_hands_each_server_its_own_role(classroom_db, monkeypatch):
    """binder/hub/jupyterhub_config.py: the spawn hook creates the user's role and passes only its URL."""
    from types import SimpleNamespace

    from traitlets.config.loader import PyFileConfigLoader

    from synthetic_data._postgres import role_name

    hub_dir = Path(__file__).resolve().parents[2] / "binder" / "hub"
    monkeypatch.setenv("STATELAB_PREPARE_EXCHANGE", "0")
    monkeypatch.setenv("STATELAB_DATABASE_ADMIN_URL", classroom_db["admin"])
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(hub_dir)).load_config()
    hook = config.Spawner.pre_spawn_hook
    spawner = SimpleNamespace(user=SimpleNamespace(name="Dana.Lee", groups=[]), environment={}, args=[])
    hook(spawner)
    env = spawner.environment
    assert env["STATELAB_BACKEND"] == "postgres"
    assert classroom_db["admin"] not in env.values() and "STATELAB_DATABASE_ADMIN_URL" not in env
    with connect_postgres(env["STATELAB_DATABASE_URL"]) as dana:
        assert dana.sql("SELECT current_user").fetchall() == [(role_name("Dana.Lee"),)]
        assert dana.sql("SELECT count(*) FROM ui_wage").fetchall()[0][0] > 0
        assert _denied(dana, "SELECT count(*) FROM truth.person")


def test_bad_jobs_is_named(classroom_db, tiny_dataset):
    with pytest.raises(ValueError, match="got 0"):
        load_postgres(tiny_dataset, classroom_db["admin"], jobs=0)


def test_load_from_the_command_line(classroom_db, tiny_dataset, tmp_path):
    from typer.testing import CliRunner

    from synthetic_data._cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["load-postgres", str(tiny_dataset), "--truth", "-q"],
                       env={"STATELAB_DATABASE_ADMIN_URL": classroom_db["admin"]})
    assert ok.exit_code == 0, ok.output
    assert f"{sum(classroom_db['counts'].values()):,} rows" in ok.output
    with connect_postgres(classroom_db["dsn"]("ana")) as ana:      # learners still read after a reload
        assert ana.sql("SELECT count(*) FROM wioa").fetchall()[0][0] == classroom_db["counts"]["wioa"]

    not_a_dataset = runner.invoke(app, ["load-postgres", str(tmp_path), "--dsn", classroom_db["admin"], "-q"])
    assert not_a_dataset.exit_code == 2 and "no manifest.json" in not_a_dataset.output

    refused = runner.invoke(app, ["load-postgres", str(tiny_dataset), "-q",
                                  "--dsn", classroom_db["dsn"]("ana")])      # a learner may not load
    assert refused.exit_code == 3 and "PostgreSQL:" in refused.output
