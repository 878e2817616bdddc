"""Profiles: packaged TOML files of model parameters (``profiles/*.toml``).

A profile may ``extends`` another; tables merge key by key, so ``tiny`` only
states what differs from ``default``. A path to a ``.toml`` file of one's own
(for instance a national-size region that ``extends = "large"``) is a profile too,
named after the file.
"""

import tomllib
from importlib import resources
from pathlib import Path

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


def _profile_text(name):
    if isinstance(name, str) and name.endswith(".toml"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ProfileError(f"profile file {name!r} does not exist")
        return path.stem, path.read_text("utf-8")
    if not isinstance(name, str) or name not in available_profiles():
        raise ProfileError(f"unknown profile {name!r}; choose one of: {', '.join(available_profiles())} "
                           "or give the path of a .toml file")
    return name, resources.files(__package__).joinpath(f"profiles/{name}.toml").read_text("utf-8")


def load_profile(name, _seen=()):
    """Return the fully merged parameters of profile ``name`` as a dict.

    ``name`` is a packaged profile (``available_profiles()``) or the path of a
    ``.toml`` file, which may ``extends`` a packaged profile.
    """
    if name in _seen:
        raise ProfileError(f"profile {name!r} extends itself through {' -> '.join(_seen)}")
    label, text = _profile_text(name)
    try:
        params = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {name!r} is not valid TOML: {exc}") from None
    parent = params.pop("extends", None)
    if parent is not None:
        params = _merge(load_profile(parent, _seen + (name,)), params)
    params["name"] = label
    _check(params)
    return params


def _check(p):
    people, parts = p["size"]["people"], p["size"]["partitions"]
    if not (isinstance(people, int) and people > 0 and isinstance(parts, int) and 0 < parts <= people):
        raise ProfileError(f"profile {p['name']!r}: size.people ({people!r}) and size.partitions ({parts!r}) "
                           "must be positive integers with partitions <= people")
    if p["window"]["quarters"] < 8:
        raise ProfileError(f"profile {p['name']!r}: window.quarters must be at least 8, got {p['window']['quarters']!r}")
