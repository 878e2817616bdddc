"""Packaged reference data: geography, industries, programs, names.

Loaded once per process and returned as numpy arrays ready for sampling.
"""

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["geography", "industry", "programs", "name_pools", "nicknames", "assistance_policy"]


def _toml(name):
    return tomllib.loads(resources.files(__package__).joinpath(f"reference/{name}.toml").read_text("utf-8"))


@dataclass(frozen=True)
class Geography:
    state_fips: np.ndarray      # (S,) str
    state_abbr: np.ndarray
    state_name: np.ndarray
    county_fips: np.ndarray     # (C,) str
    county_name: np.ndarray
    county_state: np.ndarray    # (C,) int index into state_fips
    county_pop: np.ndarray      # (C,) thousands
    # commuting: for each county, destinations (county index, or -1 for out of region) and shares
    commute_dest: tuple
    commute_share: tuple


@functools.cache
def geography(states):
    """Geography for the given tuple of state FIPS codes, in that order."""
    raw = _toml("geography")["states"]
    unknown = [s for s in states if s not in raw]
    if unknown:
        from ._errors import ProfileError
        raise ProfileError(f"region.states has state FIPS {unknown!r} with no entry in reference/geography.toml")
    counties = [(si, c) for si, s in enumerate(states) for c in raw[s]["counties"]]
    fips = np.array([c["fips"] for _, c in counties])
    index = {f: i for i, f in enumerate(fips)}
    dest, share = [], []
    for _, c in counties:
        links = c.get("commute", {})
        # a destination outside the modeled states counts as out of region
        dest.append(np.array([index.get(k, -1) for k in links], dtype=np.int64))
        share.append(np.array(list(links.values()), dtype=np.float64))
    return Geography(
        state_fips=np.array(states),
        state_abbr=np.array([raw[s]["abbr"] for s in states]),
        state_name=np.array([raw[s]["name"] for s in states]),
        county_fips=fips,
        county_name=np.array([c["name"] for _, c in counties]),
        county_state=np.array([si for si, _ in counties], dtype=np.int64),
        county_pop=np.array([c["pop"] for _, c in counties], dtype=np.float64),
        commute_dest=tuple(dest),
        commute_share=tuple(share),
    )


EDUCATION = ("less_than_hs", "high_school", "some_college", "associate", "bachelor_plus")


@dataclass(frozen=True)
class Industry:
    code: np.ndarray          # (K,) sector codes
    title: np.ndarray
    share: np.ndarray         # (K,)
    wage: np.ndarray          # log premium
    separation: np.ndarray    # quarterly rate
    layoff: np.ndarray        # layoff share of separations
    naics: tuple              # per sector: array of 6-digit codes
    ownership: tuple          # per sector: (codes, probs)
    share_by_education: np.ndarray   # (5, K) sector probabilities for each education level


@functools.cache
def industry():
    raw = _toml("industry")
    sectors = raw["sectors"]
    code = np.array([s["code"] for s in sectors])
    share = np.array([s["share"] for s in sectors], dtype=np.float64)
    tilt = np.ones((len(EDUCATION), len(sectors)))
    for e, level in enumerate(EDUCATION):
        for sector, factor in raw["education_tilt"].get(level, {}).items():
            tilt[e, list(code).index(sector)] = factor
    by_edu = share * tilt
    by_edu /= by_edu.sum(axis=1, keepdims=True)
    own = []
    for s in sectors:
        o = s.get("ownership", {"5": 1.0})
        p = np.array(list(o.values()), dtype=np.float64)
        own.append((np.array([int(k) for k in o], dtype=np.int8), p / p.sum()))
    return Industry(
        code=code,
        title=np.array([s["title"] for s in sectors]),
        share=share / share.sum(),
        wage=np.array([s["wage"] for s in sectors]),
        separation=np.array([s["separation"] for s in sectors]),
        layoff=np.array([s["layoff"] for s in sectors]),
        naics=tuple(np.array(s["codes"]) for s in sectors),
        ownership=tuple(own),
        share_by_education=by_edu,
    )


@functools.cache
def programs():
    raw = _toml("programs")
    return raw["programs"], raw["institutions"]


@functools.cache
def assistance_policy():
    """SNAP and TANF rules by date (``reference/assistance_policy.toml``), as parsed TOML.

    Read-only by convention: callers build their own arrays from it.
    """
    return _toml("assistance_policy")


@functools.cache
def nicknames():
    return {k: tuple(v) for k, v in _toml("nicknames")["nicknames"].items()}


@functools.cache
def nickname_arrays():
    """The nickname table as arrays: sorted names, where each one's nicknames start, how many, all nicknames."""
    table = nicknames()
    names = np.array(sorted(table), dtype=str)
    counts = np.array([len(table[k]) for k in names], dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return names, starts, counts, np.array([v for k in names for v in table[k]], dtype=object)


@dataclass(frozen=True)
class NamePools:
    female: np.ndarray
    female_p: np.ndarray
    male: np.ndarray
    male_p: np.ndarray
    last: np.ndarray
    last_p: np.ndarray
    hispanic_last: np.ndarray

    # Every pool end to end: people keep a code into this list, so that identity columns
    # can be assembled from a few thousand Arrow strings instead of one Python string per row.
    @functools.cached_property
    def offset(self):
        """Where each pool starts in :attr:`names`."""
        sizes = [len(self.female), len(self.male), len(self.last), len(self.hispanic_last)]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return dict(zip(("female", "male", "last", "hispanic_last"), starts.tolist()))

    @functools.cached_property
    def names(self):
        """All names as one object array, in pool order."""
        return np.concatenate([self.female, self.male, self.last, self.hispanic_last]).astype(object)

    @functools.cached_property
    def arrow(self):
        """:attr:`names` as an Arrow string array."""
        import pyarrow as pa

        return pa.array(self.names, pa.string())


@functools.cache
def name_pools():
    """Given names and surnames with their frequencies, from Faker's packaged en_US/es_MX tables."""
    from faker.providers.person.en_US import Provider as en
    from faker.providers.person.es_MX import Provider as es

    def weighted(table):
        names = np.array(list(table.keys()))
        p = np.array(list(table.values()), dtype=np.float64)
        return names, p / p.sum()

    f, fp = weighted(en.first_names_female)
    m, mp = weighted(en.first_names_male)
    last, lp = weighted(en.last_names)
    return NamePools(f, fp, m, mp, last, lp, np.array(sorted(set(es.last_names))))
