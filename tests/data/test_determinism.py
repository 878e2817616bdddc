"""Same seed and profile give the same bytes, whatever the number of workers."""

import hashlib

import pytest

import synthetic_data as sd


def _digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))}


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    one = sd.generate("tiny", seed=7, out=tmp_path / "one", workers=1, validate=False)
    two = sd.generate("tiny", seed=7, out=tmp_path / "two", workers=2, validate=False)
    a, b = _digests(one), _digests(two)
    assert len(a) > 20
    assert a == b


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
