"""Profiles: packaged TOML files of model parameters (``profiles/*.toml``).

A profile may ``extends`` another; tables merge key by key, so ``tiny`` only
states what differs from ``default``.
"""

import tomllib
from importlib import resources

from ._errors import ProfileError

__all__ = ["available_profiles", "load_profile"]


def available_profiles():
    folder = resources.files(__package__).joinpath("profiles")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_profile(name, _seen=()):
    """Return the fully merged parameters of profile ``name`` as a dict."""
    if not isinstance(name, str) or name not in available_profiles():
        raise ProfileError(f"unknown profile {name!r}; choose one of: {', '.join(available_profiles())}")
    if name in _seen:
        raise ProfileError(f"profile {name!r} extends itself through {' -> '.join(_seen)}")
    text = resources.files(__package__).joinpath(f"profiles/{name}.toml").read_text("utf-8")
    try:
        params = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {name!r} is not valid TOML: {exc}") from None
    parent = params.pop("extends", None)
    if parent is not None:
        params = _merge(load_profile(parent, _seen + (name,)), params)
    params["name"] = name
    _check(params)
    return params


def _check(p):
    people, parts = p["size"]["people"], p["size"]["partitions"]
    if not (isinstance(people, int) and people > 0 and isinstance(parts, int) and 0 < parts <= people):
        raise ProfileError(f"profile {p['name']!r}: size.people ({people!r}) and size.partitions ({parts!r}) "
                           "must be positive integers with partitions <= people")
    if p["window"]["quarters"] < 8:
        raise ProfileError(f"profile {p['name']!r}: window.quarters must be at least 8, got {p['window']['quarters']!r}")
