"""The labor-market simulation: workers changing jobs tend to stay in their sector."""

import copy

import numpy as np
import pytest

import synthetic_data as sd
from synthetic_data._labor import simulate_jobs
from synthetic_data._people import make_people
from synthetic_data._rng import stream
from synthetic_data._world import World


def _same_sector_share(rate):
    """Share of a worker's consecutive in-region main jobs that are in the same sector."""
    params = copy.deepcopy(sd.load_profile("default"))
    params["labor"]["same_sector_rate"] = rate
    world = World(params, sd.DEFAULT_SEED)
    first, n = world.partition_people(0)
    P = make_people(first, n, rng=stream(world.seed, "people", 0), world=world)
    J = simulate_jobs(P, rng=stream(world.seed, "jobs", 0), world=world)
    main = np.flatnonzero((J["kind"] == 0) & (J["employer"] >= 0))
    main = main[np.lexsort((J["start"][main], J["person"][main]))]
    person, sector = J["person"][main], J["sector"][main]
    again = person[1:] == person[:-1]
    assert again.sum() > 1000, "too few job changes to measure"
    return float((sector[1:] == sector[:-1])[again].mean())


@pytest.fixture(scope="module")
def chance():
    # With no attachment, a new sector is drawn afresh; matching the last one is chance.
    return _same_sector_share(0.0)


def test_a_sector_is_kept_at_about_the_configured_rate(chance):
    rate = sd.load_profile("default")["labor"]["same_sector_rate"]
    assert 0 < rate < 1
    expected = rate + (1 - rate) * chance
    assert _same_sector_share(rate) == pytest.approx(expected, abs=0.05)


def test_full_attachment_keeps_nearly_every_sector(chance):
    # Not all: no open establishment of that sector in the state, or a job over the border.
    assert _same_sector_share(1.0) > max(0.85, chance + 0.3)
