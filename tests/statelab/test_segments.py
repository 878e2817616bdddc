"""statelab.segments: k-means helpers checked on data whose clusters are known."""

import numpy as np
import pandas as pd
import pytest

from statelab import segments


def _blobs(k=3, n=60, spread=0.3, seed=0):
    """``k`` well separated groups of ``n`` points in 2-D, and the group of each point."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [6, 0], [0, 6], [6, 6]])[:k]
    truth = np.repeat(np.arange(k), n)
    return centers[truth] + rng.normal(0, spread, size=(k * n, 2)), truth


def test_choose_k_finds_the_planted_number_of_groups():
    x, _ = _blobs(k=3)
    table = segments.choose_k(x, range(2, 7))
    assert list(table["k"]) == [2, 3, 4, 5, 6]
    assert table.loc[table["silhouette"].idxmax(), "k"] == 3
    assert table["inertia"].is_monotonic_decreasing
    # the elbow: the drop from 2 to 3 dwarfs the drop from 3 to 4
    drops = -table["inertia"].diff()
    assert drops.iloc[1] > 10 * drops.iloc[2]


def test_choose_k_rejects_bad_k_and_missing_values():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="at least 2"):
        segments.choose_k(x, [1])
    with pytest.raises(ValueError, match="below the number of units"):
        segments.choose_k(x[:5], [5])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing"):
        segments.choose_k(bad, [2])


def test_seed_stability_is_one_for_clear_groups_and_lower_for_none():
    x, _ = _blobs(k=3)
    clear = segments.seed_stability(x, 3, seeds=range(4))
    assert len(clear) == 6 and set(clear.columns) >= {"seed_a", "seed_b", "ari", "inertia_a", "inertia_b"}
    assert clear["ari"].min() == pytest.approx(1.0)
    noise = np.random.default_rng(1).uniform(size=(300, 2))   # no clusters: starts disagree
    assert segments.seed_stability(noise, 6, seeds=range(6))["ari"].min() < 0.95
    with pytest.raises(ValueError, match="two seeds"):
        segments.seed_stability(x, 3, seeds=[0])


def test_between_share_against_a_hand_computation():
    frame = pd.DataFrame({"a": [1.0, 1.0, 5.0, 5.0], "b": [0.0, 2.0, 0.0, 2.0], "c": [1.0, 2.0, 4.0, 5.0]})
    labels = [0, 0, 1, 1]
    share = segments.between_share(frame, labels, ["a", "b", "c"])
    assert share["a"] == pytest.approx(1.0)       # clusters differ only in a
    assert share["b"] == pytest.approx(0.0)       # same mean of b in both
    # c: cluster means 1.5 and 4.5 around 3 -> between 4 * 2.25 = 9; total 4 + 1 + 1 + 4 = 10
    assert share["c"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="entries"):
        segments.between_share(frame, [0, 1], ["a"])


def test_order_labels_numbers_clusters_by_the_mean_of_a_feature():
    labels = np.array([7, 7, 2, 2, 5])
    by = np.array([10.0, 12.0, 1.0, 3.0, 5.0])
    assert segments.order_labels(labels, by).tolist() == [3, 3, 1, 1, 2]
    # the same partition under other numbers gets the same result
    assert segments.order_labels(np.array([0, 0, 1, 1, 2]), by).tolist() == [3, 3, 1, 1, 2]
    with pytest.raises(ValueError):
        segments.order_labels(labels, by[:2])
