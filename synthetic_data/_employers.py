"""Employers (establishments): a QCEW-like file with planted sizes, births and deaths."""

import numpy as np

from . import _reference as ref
from ._rng import stream

__all__ = ["make_employers", "size_class", "SIZE_CLASS_BOUNDS", "NEVER"]

NEVER = 1 << 40          # the closing quarter of an establishment still open at the window's end

SIZE_CLASS_BOUNDS = np.array([5, 10, 20, 50, 100, 250, 500, 1000])   # QCEW size classes 1..9
_SUFFIXES = np.array(["LLC", "Inc", "Co", "Corp", "Group", "Services", "Partners", "Enterprises"])
_SECTOR_WORDS = {
    "11": "Farms", "21": "Mining", "22": "Power", "23": "Construction", "31-33": "Manufacturing",
    "42": "Supply", "44-45": "Market", "48-49": "Logistics", "51": "Media", "52": "Financial",
    "53": "Properties", "54": "Consulting", "55": "Holdings", "56": "Staffing", "61": "Academy",
    "62": "Health", "71": "Recreation", "72": "Kitchen", "81": "Repair", "92": "Department",
}


def make_employers(params, *, seed, world):
    """Draw the region's establishments.

    Each (state, sector) cell gets establishments in proportion to the state's
    population and the sector's job share, at least one each so every cell can
    hire. Sizes are log-normal (a few large employers, many small ones).

    Returns a dict of equal-length numpy arrays.
    """
    rng = stream(seed, "employer")
    geo, ind = world.geo, world.ind
    n_total = max(int(params["size"]["people"] * params["employers"]["per_1000_people"] / 1000),
                  world.S * world.K)
    state_pop = np.bincount(geo.county_state, weights=geo.county_pop, minlength=world.S)
    cell = np.outer(state_pop / state_pop.sum(), ind.share)                # (S, K)
    counts = np.maximum(1, np.round(cell * n_total)).astype(np.int64)
    state = np.repeat(np.repeat(np.arange(world.S), world.K), counts.ravel())
    sector = np.repeat(np.tile(np.arange(world.K), world.S), counts.ravel())
    n = len(state)

    # Worksite county: within the state, by population.
    county = np.empty(n, dtype=np.int64)
    for s in range(world.S):
        idx = np.flatnonzero(state == s)
        c = np.flatnonzero(geo.county_state == s)
        county[idx] = rng.choice(c, size=len(idx), p=geo.county_pop[c] / geo.county_pop[c].sum())

    es = params["employers"]
    size = np.exp(rng.normal(0.0, es["size_sigma"], size=n))            # planned employment weight
    # A region of a few thousand people cannot hold a real state's largest employers: no
    # establishment plans more than a small share of the region's jobs (else one closing is a crisis).
    jobs = params["size"]["people"] * es["jobs_per_person"]
    size = np.minimum(size, es["max_share_of_jobs"] * size.sum())
    planned = size / size.sum() * jobs
    naics = np.array([rng.choice(ind.naics[k]) for k in sector]) if n else np.array([], dtype=str)
    ownership = np.empty(n, dtype=np.int8)
    for k in range(world.K):
        idx = np.flatnonzero(sector == k)
        codes, p = ind.ownership[k]
        ownership[idx] = rng.choice(codes, size=len(idx), p=p)

    # Establishments open and close all the time [BDS, BED: the smallest close at about 7% a year].
    # Those alive when the simulation starts (burn-in included) are a share chosen so that openings
    # replace closings and the count stays level; the rest open on a uniform quarter afterwards.
    T, B = world.T, int(params["labor"]["burn_in_quarters"])
    hazard = es["closing_rate_one_job"] * np.maximum(planned, 1.0) ** -es["closing_rate_size_elasticity"]
    life = rng.geometric(np.clip(hazard, 1e-4, 1), size=n)
    at_start = rng.random(n) < 1 / (1 + hazard.mean() * (T + B))
    birth_q = np.where(at_start, -B - rng.integers(1, 120, size=n), rng.integers(-B, T, size=n))
    death_q = np.where(at_start, -B + life - 1, birth_q + life)
    death_q = np.where(death_q < T, death_q, NEVER)
    death_q[ownership != 5] = NEVER                                        # government units do not close

    # Identifiers: account = state FIPS + 8 digits; EIN 9 digits; both unique, drawn without replacement.
    acct_num = rng.choice(100_000_000, size=n, replace=False)
    ui_account = np.char.add(geo.state_fips[state].astype(str), np.char.zfill(acct_num.astype(str), 8))
    ein_num = 10_000_000 + rng.choice(890_000_000, size=n, replace=False)
    ein = np.char.zfill(ein_num.astype(str), 9)
    ein_known = rng.random(n) > 0.03
    reported_ein = np.where(ein_known, ein, "000000000")

    pools = ref.name_pools()
    owner = rng.choice(pools.last, size=n, p=pools.last_p)
    style = rng.random(n)
    word = np.array([_SECTOR_WORDS[ind.code[k]] for k in sector]) if n else np.array([], dtype=str)
    suffix = rng.choice(_SUFFIXES, size=n)
    partner = rng.choice(pools.last, size=n, p=pools.last_p)
    legal = np.where(style < 0.45, np.char.add(np.char.add(np.char.add(owner, " "), word), np.char.add(" ", suffix)),
            np.where(style < 0.75, np.char.add(np.char.add(owner, " "), suffix),
                     np.char.add(np.char.add(np.char.add(owner, "-"), partner), np.char.add(" ", suffix))))
    gov = ownership != 5
    legal = np.where(gov, np.char.add(np.char.add(geo.county_name[county], " County "), word), legal)

    return {
        "state": state, "sector": sector, "county": county, "size": size, "naics": naics,
        "ownership": ownership, "birth_q": birth_q, "death_q": death_q, "ui_account": ui_account,
        "ein": ein, "reported_ein": reported_ein, "legal_name": legal,
        "effect": rng.normal(0.0, params["earnings"]["employer_sd"], size=n),
    }


def size_class(march_employment):
    """QCEW size class (1: 0-4 ... 9: 1000+) of each establishment's March employment."""
    return (np.searchsorted(SIZE_CLASS_BOUNDS, march_employment, side="right") + 1).astype(np.int8)
