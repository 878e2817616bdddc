"""People: the hidden truth every agency file is drawn from."""

import numpy as np

from . import _reference as ref
from ._identity import make_ssns

__all__ = ["make_people"]

RACES = ("White", "Black or African American", "Hispanic or Latino", "Asian", "Two or more races",
         "American Indian or Alaska Native")


def make_people(first_id, n, *, rng, world):
    """Draw ``n`` people with ids ``first_id .. first_id + n - 1``.

    Returns a dict of numpy arrays: demographics, names, latent earnings
    potential, death quarter and a residence history with at most one move.
    """
    p, cal, geo, T = world.params, world.cal, world.geo, world.T
    pp = p["person"]
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    female = rng.random(n) < pp["female_share"]
    races = np.array(list(pp["race_ethnicity"]))
    race_p = np.array(list(pp["race_ethnicity"].values()), dtype=np.float64)
    race = rng.choice(len(races), size=n, p=race_p / race_p.sum())
    edu_p = np.array([pp["education"][e] for e in ref.EDUCATION])
    education = rng.choice(len(ref.EDUCATION), size=n, p=edu_p / edu_p.sum())

    y0, y1 = pp["birth_year_min"], pp["birth_year_max"]
    birth_year = rng.integers(y0, y1 + 1, size=n)
    dob = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(0, 365, size=n)
    # Age in years at the start of each quarter: (n, T)
    qstart = cal.start_date(np.arange(T))
    age = (qstart[None, :] - dob[:, None]).astype(np.int64) / 365.25

    # Death: Gompertz hazard per quarter, drawn once per person from a uniform.
    # exp and two square roots instead of float powers: the same figures, several times faster
    annual = pp["annual_mortality_at_65"] * np.exp((age - 65) * np.log(1.09))
    q_surv = np.cumprod(np.sqrt(np.sqrt(1 - np.clip(annual, 0, 1))), axis=1)
    u = rng.random(n)
    died = q_surv[:, -1] < u
    death_q = np.where(died, np.argmax(q_surv < u[:, None], axis=1), -1)
    death_date = np.where(died, qstart[np.clip(death_q, 0, T - 1)] + rng.integers(0, 90, size=n),
                          np.datetime64("NaT"))

    # Names are drawn as codes into the pools (the same draws as drawing the names themselves).
    pools = ref.name_pools()
    at = pools.offset

    def given():
        f = rng.choice(len(pools.female), size=n, p=pools.female_p) + at["female"]
        m = rng.choice(len(pools.male), size=n, p=pools.male_p) + at["male"]
        return np.where(female, f, m)

    first_code, middle_code = given(), given()
    hispanic = races[race] == "Hispanic or Latino"
    birth_last_code = np.where(hispanic, rng.choice(len(pools.hispanic_last), size=n) + at["hispanic_last"],
                               rng.choice(len(pools.last), size=n, p=pools.last_p) + at["last"])
    changes = female & (rng.random(n) < pp["surname_change_rate"]) & (birth_year < y1 - 18)
    new_last_code = rng.choice(len(pools.last), size=n, p=pools.last_p) + at["last"]
    last_code = np.where(changes, new_last_code, birth_last_code)
    change_q = np.where(changes, rng.integers(0, T, size=n), -1)
    change_date = np.where(changes, qstart[np.clip(change_q, 0, T - 1)] + rng.integers(0, 90, size=n),
                           np.datetime64("NaT"))

    kids = p["person"]["children"]
    p_any = np.where(female, kids["p_any_female"], kids["p_any_male"])
    n_children = np.where(rng.random(n) < p_any, 1 + rng.poisson(kids["mean_if_any"] - 1, size=n), 0)
    has_partner = rng.random(n) < pp["partner_share"]

    # Residence: a home county by population, then at most one move.
    home = rng.choice(len(geo.county_fips), size=n, p=geo.county_pop / geo.county_pop.sum())
    mig = p["migration"]
    years = T / 4
    p_inter = 1 - (1 - mig["interstate_move_rate_per_year"]) ** years
    p_within = 1 - (1 - mig["within_state_move_rate_per_year"]) ** years
    u = rng.random(n)
    inter, within = u < p_inter, (u >= p_inter) & (u < p_inter + p_within)
    move_q = np.where(inter | within, rng.integers(1, T, size=n), -1)
    dest = home.copy()
    home_state = geo.county_state[home]
    for s in range(world.S):
        others = np.flatnonzero(geo.county_state != s)
        same = np.flatnonzero(geo.county_state == s)
        m = inter & (home_state == s)
        if m.any() and len(others):
            dest[m] = rng.choice(others, size=int(m.sum()), p=geo.county_pop[others] / geo.county_pop[others].sum())
        m = within & (home_state == s)
        if m.any():
            dest[m] = rng.choice(same, size=int(m.sum()), p=geo.county_pop[same] / geo.county_pop[same].sum())
    # Counties by quarter, (n, T)
    county_q = np.where((move_q[:, None] >= 0) & (np.arange(T)[None, :] >= move_q[:, None]), dest[:, None], home[:, None])

    potential = rng.normal(0.0, p["earnings"]["person_sd"], size=n)
    never = rng.random(n) < p["labor"]["never_work_share"]

    # people fill a block of SSN codes at a set density, so some mistyped SSNs are someone else's
    codes = int(np.ceil((p["size"]["people"] + 1) / p["identity"]["ssn_density"]))
    ssn_bytes = make_ssns(ids, seed=world.seed, codes=codes, as_bytes=True)
    return {
        "person_id": ids, "ssn": ssn_bytes.astype("U9").astype(object), "ssn_bytes": ssn_bytes, "female": female, "race": race,
        "race_label": races[race], "education": education, "dob": dob, "age": age,
        "death_q": death_q, "death_date": death_date, "first": pools.names[first_code],
        "middle": pools.names[middle_code], "last": pools.names[last_code], "birth_last": pools.names[birth_last_code],
        "first_code": first_code, "last_code": last_code, "birth_last_code": birth_last_code, "surname_changed": changes, "change_q": change_q,
        "change_date": change_date, "n_children": n_children.astype(np.int8), "has_partner": has_partner,
        "home": home, "dest": dest, "move_q": move_q, "county_q": county_q,
        "state_q": geo.county_state[county_q], "potential": potential, "never_works": never,
    }
