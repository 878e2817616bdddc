"""statelab.pprl: Bloom-filter encodings of q-grams and the Dice coefficient (Schnell et al. 2009)."""

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

from statelab import pprl


def test_qgrams_are_padded_upper_cased_bigrams():
    assert pprl.qgrams(" Ann ") == [" A", "AN", "NN", "N "]
    assert pprl.qgrams("ann", q=3) == ["  A", " AN", "ANN", "NN ", "N  "]
    assert pprl.qgrams("  ") == []


def test_dice_of_identical_filters_is_one_and_of_disjoint_filters_zero():
    a = pprl.bloom_encode(["MARIA GARCIA"], key="k")[0]
    assert pprl.dice(a, a) == 1.0
    assert pprl.dice([1, 1, 0, 0], [0, 0, 1, 1]) == 0.0


def test_dice_small_cases_by_hand():
    # 2 * |common| / (|a| + |b|): 2 * 1 / (2 + 2), 2 * 2 / (3 + 2), 2 * 1 / (1 + 3)
    assert pprl.dice([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert pprl.dice([1, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(0.8)
    rows = pprl.dice([[1, 0, 0, 0], [1, 1, 1, 0]], [[1, 1, 1, 0], [1, 1, 0, 0]])
    assert rows == pytest.approx([0.5, 0.8])
    assert pprl.dice([0, 0, 0], [0, 0, 0]) == 0.0  # two missing values are no evidence of a match


def test_bits_are_the_double_hashing_positions_of_each_bigram():
    key, m, k = b"secret", 97, 3
    expected = np.zeros(m, dtype=bool)
    for gram in [" A", "AN", "NN", "N "]:
        d = hmac.new(key, gram.encode(), hashlib.sha256).digest()
        h1, h2 = int.from_bytes(d[:8], "big"), int.from_bytes(d[8:16], "big") | 1
        expected[[(h1 + i * h2) % m for i in range(k)]] = True
    got = pprl.bloom_encode(["ann"], key=key, num_bits=m, num_hashes=k)[0]
    assert np.array_equal(got, expected)


def test_dice_of_filters_tracks_dice_of_bigram_sets():
    # With many bits and one hash per bigram, collisions are negligible: ANN vs ANNE share 3 of 4 and 5
    # bigrams, so Dice = 2 * 3 / (4 + 5).
    bits = pprl.bloom_encode(["ANN", "ANNE"], key="k", num_bits=2**20, num_hashes=1)
    assert pprl.dice(bits[0], bits[1]) == pytest.approx(6 / 9)


def test_near_names_score_higher_than_different_names_and_transposed_names_match():
    bits = pprl.bloom_encode(["JONATHAN SMITH", "JONATHON SMITH", "MARY JONES", "SMITH JONATHAN"], key="k")
    near, far = pprl.dice(bits[0], bits[1]), pprl.dice(bits[0], bits[2])
    assert 0.7 < near < 1.0 and far < 0.5
    assert pprl.dice(bits[0], bits[3]) == 1.0  # same bigram set once each name is padded at the ends


def test_same_key_is_deterministic_and_another_key_gives_other_bits():
    names = ["ANA LOPEZ", "JOHN SMITH", "ANA LOPEZ"]
    first = pprl.bloom_encode(names, key="key one")
    assert np.array_equal(first, pprl.bloom_encode(names, key=b"key one"))
    assert np.array_equal(first[0], first[2])
    other = pprl.bloom_encode(names, key="key two")
    assert not np.array_equal(first, other)
    assert pprl.dice(first[1], other[1]) < 0.5


def test_missing_values_give_empty_filters():
    bits = pprl.bloom_encode([None, float("nan"), pd.NA, "ANN"], key="k")
    assert not bits[:3].any() and bits[3].any()
    assert pprl.dice(bits[0], bits[3]) == 0.0


def test_vectorized_dice_matches_pairwise():
    bits = pprl.bloom_encode(["ANN", "ANNE", "BOB", "ROBERT"], key="k")
    rows = pprl.dice(bits[[0, 2]], bits[[1, 3]])
    assert rows == pytest.approx([pprl.dice(bits[0], bits[1]), pprl.dice(bits[2], bits[3])])


@pytest.mark.parametrize("kwargs, quoted", [
    ({"key": ""}, "''"),
    ({"key": 5}, "5"),
    ({"key": "k", "num_bits": 0}, "num_bits"),
    ({"key": "k", "num_hashes": 2.5}, "2.5"),
    ({"key": "k", "q": True}, "True"),
])
def test_bad_parameters_are_quoted(kwargs, quoted):
    with pytest.raises(pprl.PPRLError, match=quoted):
        pprl.bloom_encode(["ANN"], **kwargs)


def test_bad_values_are_quoted():
    with pytest.raises(pprl.PPRLError, match="19800101"):
        pprl.bloom_encode(["ANN", 19800101], key="k")
    with pytest.raises(pprl.PPRLError, match="'ANN'"):
        pprl.bloom_encode("ANN", key="k")
    with pytest.raises(pprl.PPRLError, match=r"\(3,\) and \(4,\)"):
        pprl.dice([1, 0, 1], [1, 0, 1, 0])
    assert issubclass(pprl.PPRLError, ValueError)
