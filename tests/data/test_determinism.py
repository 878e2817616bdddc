"""Same seed and profile give the same bytes, whatever the number of workers or the engine running them."""

import hashlib

import pytest

import synthetic_data as sd


def _digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    return _digests(sd.generate("tiny", seed=7, out=tmp_path_factory.mktemp("one") / "d", workers=1, validate=False))


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_the_workers(one_process, tmp_path):
    two = _digests(sd.generate("tiny", seed=7, out=tmp_path / "two", workers=2, validate=False))
    assert len(one_process) > 20
    assert one_process == two


@pytest.mark.slow
def test_same_bytes_on_a_local_dask_cluster(one_process, tmp_path):
    pytest.importorskip("distributed")
    # tiny has 2 partitions; 3 workers leave one idle, which must not matter either
    on_dask = _digests(sd.generate("tiny", seed=7, out=tmp_path / "dask", workers=3, dask="local", validate=False))
    assert on_dask == one_process


@pytest.mark.slow
def test_same_bytes_through_a_scheduler_address(one_process, tmp_path):
    distributed = pytest.importorskip("distributed")
    # A cluster started elsewhere, reached only by its address, as on a real cluster
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        path = sd.generate("tiny", seed=7, out=tmp_path / "remote", dask=cluster.scheduler_address, validate=False)
        ran = {str(t[0]).split("-")[0] for t in cluster.scheduler.transition_log}
    assert "write_partition" in ran, "the partitions must have run on the cluster"
    assert _digests(path) == one_process


def test_bad_dask_setting_is_named(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="12"):
        sd.generate("tiny", seed=7, out=tmp_path / "x", workers=2, dask=12, validate=False)
    assert not list(tmp_path.iterdir()), "a refused run must leave nothing behind"


def test_different_seed_different_data(tiny_dataset, tmp_path):
    other = sd.generate("tiny", seed=8, out=tmp_path / "other", workers=2, validate=False)
    a, b = _digests(tiny_dataset), _digests(other)
    wage = [k for k in a if k.startswith("parquet/ui_wage/")]
    assert wage and all(a[k] != b.get(k) for k in wage)


def test_streams_are_named_not_ordered():
    from synthetic_data._rng import stream

    assert stream(1, "people", 3).random() == stream(1, "people", 3).random()
    assert stream(1, "people", 3).random() != stream(1, "people", 4).random()
    assert stream(1, "people", 3).random() != stream(1, "jobs", 3).random()
