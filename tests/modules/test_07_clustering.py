"""Module 7, lesson 3 (segmenting employers with k-means): every pattern the lesson states, on both seeds.

The lesson's features come from its own SQL (rerun here from the notebook's text) and are checked against an
independent pandas computation from the raw wage records and against ``measures.employer_quarters``. The
clustering steps are repeated as the notebook runs them, and each claim in the prose is asserted:

* unscaled, k-means sorts employers by pay alone; standardized, every feature counts, and the two groupings
  agree little;
* inertia falls by less with each added cluster, the silhouette is low for every k and highest at k = 2,
  while the inertia's sharpest slowdown is at k = 4: the two guides disagree;
* the four segments are a high-turnover, low-pay segment (numbered 4), the largest employers, the growing
  employers, and smaller, better-paid, low-turnover employers that shrank a little;
* ten random starts give the same segments whatever the seed; on seed 7 a single start can stop at a worse
  grouping; five clusters, or no growth feature, redraw the borders;
* the segments are neither sectors nor size classes (low ARI), though food service and staffing employers
  gather in segment 4;
* every segment passes the employer disclosure rules, and the release table is rounded as ``disclosure`` says;
* the reveal: segment 4's employers are in the sectors the generator planted with the highest separation
  rates and lowest pay premiums; an employer's turnover follows its sector's planted rate, though far from
  fully.
"""

import json
import sys
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import synthetic_data as sd
from statelab import disclosure, identifiers, measures, segments

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import nbrules  # noqa: E402

COURSE_SEEDS = (sd.DEFAULT_SEED, 7)
NOTEBOOK = nbrules.REPO_ROOT / "modules" / "07-labor-demand" / "03-segmenting-employers.ipynb"
COLUMNS = ["log_workers", "growth_rate", "separation_rate", "log_pay"]
RAW = ["workers", "growth_rate", "separation_rate", "full_quarter_pay"]
Q2023, Q2024 = 2023 * 4, 2024 * 4   # first quarter index of each year


@pytest.fixture(scope="module", params=COURSE_SEEDS, ids=lambda s: f"seed{s}")
def lesson(request, course_dataset_at):
    con = sd.connect(course_dataset_at(request.param))
    con.sql(f"""
        CREATE TABLE job_quarters AS
        SELECT ui_account, ssn, year * 4 + quarter - 1 AS q, SUM(wages) AS wages
        FROM ui_wage
        WHERE year BETWEEN 2023 AND 2025 AND {identifiers.ssn_status_sql("ssn")} = 'valid'
        GROUP BY ui_account, ssn, year * 4 + quarter - 1
    """)
    con.sql(nbrules.sql_containing(NOTEBOOK, "CREATE TABLE employer_features"))
    features = con.sql("SELECT * FROM employer_features ORDER BY ui_account").df()
    wages = con.sql("SELECT ui_account, ssn, year, quarter, wages FROM ui_wage WHERE year >= 2023").df()
    flows = measures.employer_quarters(con, start="2024Q1", end="2024Q4")
    n_employers = con.sql("SELECT COUNT(*) AS n FROM employer").df()["n"].iloc[0]
    con.close()
    features["log_workers"] = np.log(features["workers"])
    features["log_pay"] = np.log(features["full_quarter_pay"])
    x = StandardScaler().fit_transform(features[COLUMNS])
    scaled = KMeans(n_clusters=4, n_init=10, random_state=0).fit(x)
    unscaled = KMeans(n_clusters=4, n_init=10, random_state=0).fit(features[RAW])
    features["segment"] = segments.order_labels(scaled.labels_, features["separation_rate"])
    return {"seed": request.param, "features": features, "x": x, "scaled": scaled, "unscaled": unscaled,
            "wages": wages, "flows": flows, "n_employers": n_employers}


def _independent_features(wages: pd.DataFrame) -> pd.DataFrame:
    """The lesson's features from the raw wage rows, in pandas (no SQL, no window functions)."""
    w = wages[identifiers.ssn_status(wages["ssn"]) == "valid"].copy()
    w["q"] = w["year"] * 4 + w["quarter"] - 1
    jq = w.groupby(["ui_account", "ssn", "q"], as_index=False)["wages"].sum()
    keys = set(zip(jq["ui_account"], jq["ssn"], jq["q"]))
    jq["before"] = [(a, s, q - 1) in keys for a, s, q in zip(jq["ui_account"], jq["ssn"], jq["q"])]
    jq["after"] = [(a, s, q + 1) in keys for a, s, q in zip(jq["ui_account"], jq["ssn"], jq["q"])]
    y24 = jq[jq["q"].between(Q2024, Q2024 + 3)]
    y23 = jq[jq["q"].between(Q2023, Q2023 + 3)]
    full = y24[y24["before"] & y24["after"]]
    out = pd.DataFrame({
        "quarters_paid": jq[jq["q"].between(Q2023, Q2024 + 3)].groupby("ui_account")["q"].nunique(),
        "wq23": y23.groupby("ui_account").size(),
        "worker_quarters": y24.groupby("ui_account").size(),
        "separations": (~y24["after"]).groupby(y24["ui_account"]).sum(),
        "full_quarter_jobs": full.groupby("ui_account").size(),
        "full_quarter_wages": full.groupby("ui_account")["wages"].sum(),
    }).fillna(0)
    out = out[(out["quarters_paid"] == 8) & (out["worker_quarters"] >= 20) & (out["full_quarter_jobs"] > 0)]
    out["growth_rate"] = 2 * (out["worker_quarters"] - out["wq23"]) / (out["worker_quarters"] + out["wq23"])
    out["full_quarter_pay"] = out["full_quarter_wages"] / out["full_quarter_jobs"]
    return out


def test_features_match_an_independent_computation(lesson):
    f = lesson["features"].set_index("ui_account")
    ind = _independent_features(lesson["wages"])
    assert set(f.index) == set(ind.index) and 300 < len(f) < lesson["n_employers"] / 3
    ind = ind.loc[f.index]
    for column in ["worker_quarters", "separations", "full_quarter_jobs"]:
        assert (f[column].to_numpy() == ind[column].to_numpy()).all(), column
    assert np.allclose(f["growth_rate"], ind["growth_rate"])
    assert np.allclose(f["full_quarter_pay"], ind["full_quarter_pay"])
    assert np.allclose(f["separation_rate"], f["separations"] / f["worker_quarters"])
    # the course's job-flow reference agrees on 2024's worker-quarters and separations
    flows = lesson["flows"].groupby("ui_account")[["workers", "separations"]].sum().loc[f.index]
    assert (flows["workers"].to_numpy() == f["worker_quarters"].to_numpy()).all()
    assert (flows["separations"].to_numpy() == f["separations"].to_numpy()).all()


def test_hand_rounds_lower_the_inertia(lesson):
    two = StandardScaler().fit_transform(lesson["features"][["separation_rate", "log_pay"]])
    rng = np.random.default_rng(3)
    centers = two[rng.choice(len(two), size=3, replace=False)]
    inertia = []
    for _ in range(3):
        distance = ((two[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        nearest = distance.argmin(axis=1)
        inertia.append(distance.min(axis=1).sum())
        centers = np.array([two[nearest == c].mean(axis=0) for c in range(3)])
    assert inertia[0] > inertia[1] >= inertia[2]


def test_unscaled_clusters_are_pay_bands_and_scaling_changes_them(lesson):
    f, raw = lesson["features"], lesson["features"][RAW]
    unscaled = segments.between_share(raw, lesson["unscaled"].labels_, RAW)
    scaled = segments.between_share(raw, lesson["scaled"].labels_, RAW)
    assert unscaled["full_quarter_pay"] > 0.75, unscaled
    assert unscaled.drop("full_quarter_pay").max() < 0.3, unscaled
    assert scaled["separation_rate"] > unscaled["separation_rate"] + 0.2
    assert scaled.drop("full_quarter_pay").min() > 0.2, scaled
    assert adjusted_rand_score(lesson["unscaled"].labels_, lesson["scaled"].labels_) < 0.5
    assert len(f) == len(raw)


def test_elbow_and_silhouette_disagree_and_silhouette_is_low(lesson):
    choice = segments.choose_k(lesson["x"], range(2, 9), seed=0)
    drops = -choice.set_index("k")["inertia"].diff().dropna()
    assert (drops > 0).all() and drops.is_monotonic_decreasing, drops
    slowdown = (drops / drops.shift(-1)).dropna()
    elbow_k = int(slowdown.idxmax())
    best_k = int(choice.loc[choice["silhouette"].idxmax(), "k"])
    assert best_k == 2 and elbow_k == 4, (lesson["seed"], choice, slowdown)
    assert choice["silhouette"].max() < 0.3 and choice["silhouette"].min() > 0.15


def test_the_four_segments_are_the_kinds_the_prose_names(lesson):
    f = lesson["features"]
    centroids = pd.DataFrame(lesson["x"], columns=["size", "growth", "turnover", "pay"]).groupby(
        f["segment"].to_numpy()).mean()
    assert centroids["turnover"].idxmax() == 4 and centroids["pay"].idxmin() == 4
    largest, growing = centroids["size"].idxmax(), centroids["growth"].idxmax()
    assert len({4, largest, growing}) == 3
    assert centroids.loc[largest, "size"] > 1 and centroids.loc[growing, "growth"] > 1
    (rest,) = set(centroids.index) - {4, largest, growing}
    assert centroids.loc[rest, "pay"] > 0 and centroids.loc[rest, "turnover"] < 0
    assert centroids.loc[rest, "growth"] < 0 and f.loc[f["segment"] == rest, "growth_rate"].mean() < 0


def test_segments_are_stable_across_seeds_with_ten_starts(lesson):
    ten = segments.seed_stability(lesson["x"], 4, seeds=range(10), n_init=10)
    assert ten["ari"].min() > 0.9
    one = segments.seed_stability(lesson["x"], 4, seeds=range(10), n_init=1)
    if lesson["seed"] == 7:   # "on some seeds of the course data one start in ten" stops at a worse grouping
        inertia = pd.concat([one["inertia_a"], one["inertia_b"]])
        assert one["ari"].min() < 0.9 and inertia.max() > 1.01 * inertia.min()


def test_another_k_or_other_features_redraw_the_borders(lesson):
    f, x, labels = lesson["features"], lesson["x"], lesson["scaled"].labels_
    five = KMeans(n_clusters=5, n_init=10, random_state=0).fit(x)
    assert adjusted_rand_score(labels, five.labels_) < 0.8
    within = pd.crosstab(five.labels_, f["segment"], normalize="index").max(axis=1)
    assert (within >= 0.9).sum() < 5
    no_growth = KMeans(n_clusters=4, n_init=10, random_state=0).fit(
        StandardScaler().fit_transform(f[["log_workers", "separation_rate", "log_pay"]]))
    assert adjusted_rand_score(labels, no_growth.labels_) < 0.7


def test_segments_are_not_sectors_or_size_classes(lesson):
    f = lesson["features"]
    assert adjusted_rand_score(f["naics_sector"], f["segment"]) < 0.15
    assert adjusted_rand_score(f["size_class"], f["segment"]) < 0.3
    food_staffing = f["naics_sector"].isin(["72", "56"])
    assert food_staffing[f["segment"] == 4].mean() > 2 * food_staffing.mean()


def test_release_passes_the_employer_rules_and_is_rounded(lesson):
    f, rules = lesson["features"], disclosure.Rules()
    for _, cell in f.groupby("segment"):
        assert len(cell) >= rules.min_employers
        assert cell["worker_quarters"].max() / cell["worker_quarters"].sum() <= rules.max_employer_share
        assert disclosure.round_count(len(cell)) % 10 == 0
        pct = disclosure.safe_percent(disclosure.round_count(cell["separations"].sum()),
                                      disclosure.round_count(cell["worker_quarters"].sum()))
        assert pct == pytest.approx(100 * cell["separations"].sum() / cell["worker_quarters"].sum(), abs=1.0)
        pay = disclosure.round_wage(cell["full_quarter_wages"].sum() / cell["full_quarter_jobs"].sum())
        assert pay % 100 == 0


def test_reveal_segment_four_is_where_the_generator_planted_turnover(lesson):
    text = resources.files("synthetic_data").joinpath("reference", "industry.toml").read_text(encoding="utf-8")
    planted = pd.DataFrame(tomllib.loads(text)["sectors"]).set_index("code")
    f = lesson["features"]
    sep = f["naics_sector"].map(planted["separation"])
    premium = f["naics_sector"].map(planted["wage"])
    assert sep.notna().all()
    by_segment = pd.DataFrame({"sep": sep, "premium": premium}).groupby(f["segment"].to_numpy()).mean()
    assert by_segment["sep"].idxmax() == 4 and by_segment["premium"].idxmin() == 4
    r = f["separation_rate"].corr(sep)
    assert 0.3 < r < 0.9, r


def test_notebook_hides_the_reveal_in_the_book_build():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    reveal = [c for c in cells if c["cell_type"] == "code" and "planted_sector_rates" in "".join(c["source"])]
    assert len(reveal) == 1
    assert "if reveal.in_published_book():" in "".join(reveal[0]["source"])
    assert reveal[0]["metadata"]["jupyter"]["source_hidden"] and "hide-cell" in reveal[0]["metadata"]["tags"]
