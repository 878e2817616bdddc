"""Bad input gets a clear error, and nothing is lost or left half-written."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import synthetic_data as sd
from synthetic_data import _generate


def test_bad_profile_names_the_value(tmp_path):
    with pytest.raises(sd.ProfileError, match="'huge'.*default, large, tiny"):
        sd.generate("huge", out=tmp_path / "x")
    with pytest.raises(ValueError):                    # the hierarchy also inherits built-ins
        sd.generate("huge", out=tmp_path / "x")


@pytest.mark.parametrize("seed", ["1", 1.5, -3, True])
def test_bad_seed(tmp_path, seed):
    with pytest.raises(sd.SeedError, match=repr(seed).replace(".", r"\.")):
        sd.generate("tiny", seed=seed, out=tmp_path / "x")


def test_existing_dataset_is_not_overwritten_without_asking(tiny_dataset):
    before = (tiny_dataset / "manifest.json").read_text()
    with pytest.raises(sd.OutputError, match="already exists"):
        sd.generate("tiny", out=tiny_dataset)
    assert (tiny_dataset / "manifest.json").read_text() == before


def test_unwritable_folder(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    (target / "file").write_text("not a folder")
    with pytest.raises(sd.OutputError):
        sd.generate("tiny", out=target / "file" / "data")


def test_failure_midway_keeps_the_old_dataset_and_leaves_no_partial(tiny_dataset, tmp_path, monkeypatch):
    old = tmp_path / "data"
    shutil.copytree(tiny_dataset, old)
    before = sorted(p.relative_to(old) for p in old.rglob("*"))

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_generate, "build_databases", boom)
    with pytest.raises(sd.OutputError, match="disk full"):
        sd.generate("tiny", out=old, overwrite=True, workers=1)
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]          # no .partial folder left behind


def test_validation_names_table_and_column_of_a_corrupt_file(tiny_dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset, broken)
    victim = sorted((broken / "parquet" / "ui_claim").glob("*.parquet"))[0]
    victim.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(sd.ValidationError, match=r"ui_claim: cannot read parquet/ui_claim/part-00000\.parquet"):
        sd.validate_dataset(broken)


def test_validation_catches_bad_values_and_broken_foreign_keys(tiny_dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset, broken)
    f = sorted((broken / "parquet" / "ui_claim").glob("*.parquet"))[0]
    t = pq.read_table(f)
    col = t.column("weeks_paid").to_pylist()
    col[0] = 99
    pq.write_table(t.set_column(t.schema.get_field_index("weeks_paid"), "weeks_paid", pa.array(col, pa.int16())), f)
    with pytest.raises(sd.ValidationError, match=r"ui_claim\.weeks_paid: less_than_or_equal_to\(79\)"):
        sd.validate_dataset(broken)

    shutil.rmtree(broken)
    shutil.copytree(tiny_dataset, broken)
    import duckdb
    con = duckdb.connect(str(broken / "statelab.duckdb"))
    con.execute("DELETE FROM employer WHERE ui_account = (SELECT min(ui_account) FROM ui_wage)")
    con.close()
    with pytest.raises(sd.ValidationError, match=r"ui_wage\.ui_account: \d+ value\(s\) with no match in employer"):
        sd.validate_dataset(broken)


def test_connect_to_a_missing_dataset(tmp_path):
    with pytest.raises(sd.DatasetNotFoundError, match="no complete dataset"):
        sd.connect(tmp_path)


def test_a_profile_file_of_ones_own(tmp_path):
    # A cluster operator scales a packaged profile without editing the package
    own = tmp_path / "region-x.toml"
    own.write_text('extends = "tiny"\n[size]\npeople = 1_200\npartitions = 3\n', encoding="utf-8")
    params = sd.load_profile(str(own))
    assert params["name"] == "region-x"
    assert params["size"]["people"] == 1_200
    assert params["window"] == sd.load_profile("tiny")["window"]     # the rest comes from what it extends
    assert sd.dataset_path(str(own), seed=5, data_root=tmp_path).name == "region-x-5"
    path = sd.generate(str(own), seed=5, out=tmp_path / "d", workers=1, validate=False)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["profile"] == "region-x"
    assert len(list((path / "parquet" / "ui_wage").rglob("*.parquet"))) > 0
    # Edited and generated again in the same process: the new parameters are used, not a kept world
    own.write_text('extends = "tiny"\n[size]\npeople = 1_500\npartitions = 3\n', encoding="utf-8")
    again = sd.generate(str(own), seed=5, out=tmp_path / "e", workers=1, validate=False)
    people = {p: json.loads((p / "manifest.json").read_text())["rows"]["person"] for p in (path, again)}
    assert (people[path], people[again]) == (1_200, 1_500)


def test_a_missing_profile_file_is_named(tmp_path):
    with pytest.raises(sd.ProfileError, match="nowhere.toml"):
        sd.load_profile(str(tmp_path / "nowhere.toml"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_very_small_profile_generates_valid_data(tmp_path, seed):
    # A handful of people and one business leave some columns empty (no duplicate vendors, no students in
    # a partition); generation must still finish and pass validation.
    own = tmp_path / "pilot.toml"
    own.write_text('extends = "tiny"\n[size]\npeople = 40\npartitions = 2\n'
                   '[procurement]\nbusinesses = 1\ncontracts_per_year = 3\n', encoding="utf-8")
    path = sd.generate(str(own), seed=seed, out=tmp_path / "d", workers=1)
    rows = json.loads((path / "manifest.json").read_text())["rows"]
    assert rows["person"] == 40
    assert rows["business"] == 1
