"""Identifier noise lands at the rates the profile sets."""

import numpy as np
import pytest

from synthetic_data._identity import apply_noise, make_ssns


def _within(observed, rate, n, k=4.0):
    sigma = np.sqrt(max(rate * (1 - rate), 1e-12) / n)
    return abs(observed - rate) <= k * sigma + 1 / n


def test_apply_noise_hits_each_rate():
    n = 200_000
    rng = np.random.default_rng(0)
    rates = {"ssn_missing": 0.03, "ssn_typo": 0.02, "ssn_transpose": 0.01, "ssn_placeholder": 0.005,
             "name_typo": 0.04, "nickname": 0.0, "dob_swap": 0.02, "dob_missing": 0.01}
    ssn = make_ssns(np.arange(1, n + 1), seed=1)
    first = np.array(["Maria"] * n, dtype=object)
    last = np.array(["Johnson"] * n, dtype=object)
    dob = np.full(n, np.datetime64("1980-03-07"))
    s, f, l, d, flags = apply_noise(rng, rates, ssn=ssn, first=first, last=last, dob=dob)
    for key in ("ssn_missing", "ssn_typo", "ssn_transpose", "ssn_placeholder", "dob_swap", "dob_missing", "name_typo"):
        assert _within(flags[key].mean(), rates[key], n), key
    changed = np.array([a != b for a, b in zip(s, ssn)])
    assert _within(changed.mean(), 0.065, n)
    name_changed = (f != first) | (l != last)
    assert _within(name_changed.mean(), 0.04, n)


def test_nicknames_come_from_the_table():
    rng = np.random.default_rng(1)
    n = 10_000
    s, f, l, d, flags = apply_noise(rng, {"nickname": 0.5}, ssn=make_ssns(np.arange(1, n + 1), seed=1),
                                    first=np.array(["William"] * n, dtype=object), last=np.array(["Lee"] * n, dtype=object),
                                    dob=np.full(n, np.datetime64("1990-01-01")))
    assert set(f) == {"William", "Bill", "Will", "Billy"}
    assert _within(flags["nickname"].mean(), 0.5, n)


@pytest.mark.parametrize("table,ssn_col,key", [("postsec_enrollment", "ssn", "student_id"), ("ui_claim", "ssn", "claim_id")])
def test_missing_ssn_rate_in_a_generated_file(tiny_con, table, ssn_col, key):
    source = "postsecondary" if table.startswith("postsec") else table
    rate = float(tiny_con.sql(f"SELECT value FROM truth.parameters WHERE name = 'noise.{source}.ssn_missing'").fetchall()[0][0])
    n, missing = tiny_con.sql(f"""SELECT count(*), count(*) FILTER (WHERE s IS NULL)
                                  FROM (SELECT {key}, any_value({ssn_col}) AS s FROM {table} GROUP BY 1)""").fetchall()[0]
    assert n > 100
    assert _within(missing / n, rate, n)


def test_wage_record_ssn_errors_match_the_profile(tiny_con):
    """Per job (person x employer), the reported SSN differs from the true one at the set rates."""
    p = dict(tiny_con.sql("SELECT name, value FROM truth.parameters WHERE name LIKE 'noise.ui_wage.ssn_%'").fetchall())
    rate = sum(float(v) for v in p.values())
    n, wrong = tiny_con.sql("""
        SELECT count(*), count(*) FILTER (WHERE reported IS DISTINCT FROM truth_ssn) FROM (
          SELECT x.person_id, w.ui_account, any_value(w.ssn) AS reported, any_value(p.ssn) AS truth_ssn
          FROM ui_wage w JOIN truth.crosswalk x ON x.source_table = 'ui_wage' AND x.record_id = w.record_id
          JOIN truth.person p ON p.person_id = x.person_id GROUP BY ALL)""").fetchall()[0]
    assert n > 1000
    # a person can hold two spells at one employer with different draws; allow for it with 5 sigma
    assert _within(wrong / n, rate, n, k=5.0)


def test_wioa_duplicates_match_the_profile(tiny_con):
    rate = float(tiny_con.sql("SELECT value FROM truth.parameters WHERE name = 'noise.wioa.duplicate_rows'").fetchall()[0][0])
    rows, distinct = tiny_con.sql("""SELECT count(*), count(DISTINCT (x.person_id, w.entry_date)) FROM wioa w
        JOIN truth.crosswalk x ON x.source_table = 'wioa' AND x.record_id = w.record_id""").fetchall()[0]
    assert _within((rows - distinct) / distinct, rate, distinct)


def _one_edit_kind(a, b):
    """How ``b`` differs from ``a`` by a single FEBRL edit at position >= 1, or None if it does not."""
    if len(b) == len(a):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(diff) <= 1 and all(i >= 1 for i in diff):
            return "substitution"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return "transposition"
    shorter, longer, kind = (a, b, "insertion") if len(b) == len(a) + 1 else (b, a, "deletion")
    if len(longer) == len(shorter) + 1 and any(
            i >= 1 and longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))):
        return kind
    return None


def test_name_typos_are_one_edit_each_keeping_the_first_letter_mostly():
    from synthetic_data import _reference as ref
    from synthetic_data._identity import _typo

    pools = ref.name_pools()
    draw = np.random.default_rng(3)
    names = pools.names[draw.integers(0, len(pools.names), 5000)].astype(object)
    names = np.concatenate([names, np.array([None, "", "Al", "Bo"], dtype=object)])
    out = _typo(names, np.random.default_rng(4))
    assert out[-4] is None and list(out[-3:]) == ["", "Al", "Bo"]      # missing or too short: untouched
    kinds = [_one_edit_kind(a, b) for a, b in zip(names[:-4], out[:-4])]
    assert None not in kinds
    shares = {k: kinds.count(k) / len(kinds) for k in ("substitution", "insertion", "deletion", "transposition")}
    # the drawn mix is 45/20/20/15; swapping two equal letters reads as substituting the same letter, hence the slack
    assert shares == pytest.approx({"substitution": 0.45, "insertion": 0.2, "deletion": 0.2, "transposition": 0.15},
                                   abs=0.04)
    assert (np.array([a[0] == b[0] for a, b in zip(names[:-4], out[:-4])])).mean() > 0.95


def test_ssn_typos_and_transpositions_keep_the_area_and_length():
    from synthetic_data._identity import _ssn_transpose, _ssn_typo

    ssn = make_ssns(np.arange(1, 3001), seed=2)
    typo = _ssn_typo(ssn, np.random.default_rng(5))
    swapped = _ssn_transpose(ssn, np.random.default_rng(6))
    for a, b, c in zip(ssn, typo, swapped):
        assert len(b) == len(c) == 9 and b.isdigit() and c.isdigit()
        assert b[:3] == c[:3] == a[:3]                                  # the never-issued area stays
        assert sum(x != y for x, y in zip(a, b)) == 1                   # a typo always changes one digit
        diff = [i for i, (x, y) in enumerate(zip(a, c)) if x != y]
        assert diff == [] or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == c[diff[1]])
    assert np.mean([a != c for a, c in zip(ssn, swapped)]) > 0.8   # equal neighboring digits are the only no-op
    assert len(_ssn_typo(ssn[:0], np.random.default_rng(0))) == 0
