"""Segmenting units with k-means: choosing k, stability across random starts, what separates the clusters.

Module 7, lesson 3 segments employers by size, growth, turnover and pay. The clustering itself is
scikit-learn's :class:`~sklearn.cluster.KMeans`; these helpers hold the loops a lesson would otherwise write
inline (notebooks define no functions), each returning a table to read:

* :func:`choose_k` -- inertia (for the elbow) and the mean silhouette for each candidate k;
* :func:`seed_stability` -- the adjusted Rand index between the clusterings from different random seeds;
* :func:`between_share` -- how much of each feature's variance lies between the clusters (eta squared);
* :func:`order_labels` -- cluster numbers 1..k in a stated order, so that "segment 1" means the same thing
  on every run.

Features are passed already scaled (``sklearn.preprocessing.StandardScaler``): k-means measures plain
Euclidean distance, so an unscaled feature in dollars would outweigh every rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

__all__ = ["between_share", "choose_k", "order_labels", "seed_stability"]


def _matrix(features) -> np.ndarray:
    x = np.asarray(features, dtype=float)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"features must be a non-empty 2-D table (units x features), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features hold missing or infinite values: drop or fill them before clustering")
    return x


def _kmeans(k: int, seed: int, n_init: int):
    from sklearn.cluster import KMeans  # imported on use: `import statelab.segments` stays quick

    return KMeans(n_clusters=int(k), n_init=int(n_init), random_state=int(seed))


def choose_k(features, ks: Iterable[int], *, seed: int = 0, n_init: int = 10) -> pd.DataFrame:
    """Inertia and mean silhouette of a k-means clustering for each k.

    Parameters
    ----------
    features : array-like, shape (n_units, n_features)
        Scaled features, one row per unit.
    ks : iterable of int
        Numbers of clusters to try; each at least 2 and below the number of units.
    seed : int, keyword-only
        ``random_state`` of every fit.
    n_init : int, keyword-only
        Random starts per fit; the best (lowest inertia) is kept.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``inertia`` (sum of squared distances to the nearest centroid) and ``silhouette``
        (mean silhouette width, from -1 to 1), one row per k in the order given.

    Raises
    ------
    ValueError
        If a k is below 2 or not below the number of units, or the features are not a finite 2-D table.
    """
    from sklearn.metrics import silhouette_score

    x = _matrix(features)
    rows = []
    for k in ks:
        if not 2 <= int(k) < len(x):
            raise ValueError(f"each k must be at least 2 and below the number of units ({len(x)}), got {k}")
        model = _kmeans(k, seed, n_init).fit(x)
        rows.append({"k": int(k), "inertia": float(model.inertia_),
                     "silhouette": float(silhouette_score(x, model.labels_))})
    return pd.DataFrame(rows, columns=["k", "inertia", "silhouette"])


def seed_stability(features, k: int, *, seeds: Sequence[int] = tuple(range(10)), n_init: int = 1) -> pd.DataFrame:
    """Adjusted Rand index between the k-means clusterings of every pair of random seeds.

    Parameters
    ----------
    features : array-like, shape (n_units, n_features)
        Scaled features.
    k : int
        Number of clusters.
    seeds : sequence of int, keyword-only
        Seeds to fit with (at least two).
    n_init : int, keyword-only
        Random starts within each fit (1 shows how much a single start can vary).

    Returns
    -------
    pandas.DataFrame
        One row per pair of seeds: ``seed_a``, ``seed_b``, ``ari`` (1 for the same partition whatever the
        cluster numbers, near 0 for agreement no better than chance), and each fit's ``inertia_a`` and
        ``inertia_b``.
    """
    from sklearn.metrics import adjusted_rand_score

    x = _matrix(features)
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError("seed_stability needs at least two seeds to compare")
    fits = {s: _kmeans(k, s, n_init).fit(x) for s in seeds}
    rows = [{"seed_a": a, "seed_b": b, "ari": float(adjusted_rand_score(fits[a].labels_, fits[b].labels_)),
             "inertia_a": float(fits[a].inertia_), "inertia_b": float(fits[b].inertia_)}
            for a, b in combinations(seeds, 2)]
    return pd.DataFrame(rows)


def between_share(frame: pd.DataFrame, labels, columns: Sequence[str]) -> pd.Series:
    """Share of each column's variance that lies between clusters (eta squared, 0 to 1).

    1 means the clusters differ only in that column and are uniform within; 0 means every cluster has the
    same mean of it.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit.
    labels : array-like
        Cluster of each row.
    columns : sequence of str
        Numeric columns to measure.

    Returns
    -------
    pandas.Series
        Indexed by column.
    """
    labels = np.asarray(labels)
    if len(labels) != len(frame):
        raise ValueError(f"labels has {len(labels)} entries for {len(frame)} rows")
    out = {}
    for column in columns:
        values = frame[column].to_numpy(dtype=float)
        total = ((values - values.mean()) ** 2).sum()
        means = pd.Series(values).groupby(labels).transform("mean").to_numpy()
        out[column] = float(((means - values.mean()) ** 2).sum() / total) if total > 0 else 0.0
    return pd.Series(out, name="between_share")


def order_labels(labels, by) -> np.ndarray:
    """Renumber clusters 1..k in increasing order of the mean of ``by`` within each.

    k-means numbers its clusters arbitrarily, and the numbers change with the seed; ordering them by a
    stated feature makes "segment 1" mean the same thing on every run.

    Parameters
    ----------
    labels : array-like
        Cluster of each unit, as the model gave it.
    by : array-like
        A numeric value per unit (for example the separation rate).

    Returns
    -------
    numpy.ndarray of int
        The new cluster number of each unit, from 1.
    """
    labels, by = np.asarray(labels), np.asarray(by, dtype=float)
    if len(labels) != len(by):
        raise ValueError(f"labels has {len(labels)} entries and by {len(by)}")
    means = pd.Series(by).groupby(labels).mean().sort_values(kind="stable")
    rank = {label: i + 1 for i, label in enumerate(means.index)}
    return np.array([rank[label] for label in labels], dtype=int)
