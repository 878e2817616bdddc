"""Synthetic linked state administrative records for teaching.

A region of real neighboring states (real FIPS and NAICS codes) with UI wage
records, UI claims, TANF/SNAP case-months, college enrollment, WIOA
participants, employer and procurement files, all drawn from one hidden truth.

>>> import synthetic_data as sd
>>> con = sd.connect(profile="tiny")            # generates the tiny dataset once
>>> con.sql("SELECT count(*) FROM ui_wage").fetchall()   # doctest: +SKIP
"""

from ._codebook import codebook_dict, codebook_markdown
from ._connect import DEFAULT_SEED, connect, data_root, dataset_path, ensure_dataset, load_table, manifest
from ._errors import (
    CalibrationError,
    DatasetNotFoundError,
    OutputError,
    ProfileError,
    SchemaError,
    SeedError,
    StatelabError,
    ValidationError,
)
from ._identity import _PLACEHOLDERS
from ._dataset import GENERATOR_VERSION
from ._postgres import create_class, load_postgres, role_name
from ._profiles import available_profiles, load_profile
from ._realism import published_series, realism
from ._schema import LEARNER_TABLES as TABLES
from ._schema import TRUTH_TABLES
from ._schema import table as table_schema
from ._schema import tables as table_schemas
from ._validate import validate_dataset

__version__ = "0.1.0"

#: Every placeholder value the generator can plant in an SSN field (a course rule must cover them all).
PLANTED_PLACEHOLDER_SSNS: tuple[str, ...] = tuple(sorted(str(p) for p in _PLACEHOLDERS))

__all__ = [
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "PLANTED_PLACEHOLDER_SSNS",
    "TABLES",
    "TRUTH_TABLES",
    "available_profiles",
    "codebook_dict",
    "codebook_markdown",
    "connect",
    "create_class",
    "data_root",
    "dataset_path",
    "ensure_dataset",
    "generate",
    "load_postgres",
    "load_profile",
    "load_table",
    "manifest",
    "published_series",
    "realism",
    "role_name",
    "table_schema",
    "table_schemas",
    "validate_dataset",
    "StatelabError",
    "ProfileError",
    "SeedError",
    "OutputError",
    "DatasetNotFoundError",
    "SchemaError",
    "ValidationError",
    "CalibrationError",
]


def __getattr__(name):
    # generate() is imported on first use: opening a dataset that exists (every lesson, assignment and
    # hidden test) never runs the generator, and importing its modules costs about a tenth of a second
    # in each kernel.
    if name == "generate":
        from ._generate import generate

        globals()["generate"] = generate
        return generate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"generate"})
