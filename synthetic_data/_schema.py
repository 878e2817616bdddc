"""Table metadata from ``schema/tables.toml``: Arrow schemas, checks, codebook.

One file describes every table; everything that needs to know a table's
columns (writing, validation, DuckDB comments, the codebook) reads it here.
"""

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import pyarrow as pa

from ._errors import SchemaError

__all__ = ["Column", "Table", "tables", "table", "LEARNER_TABLES", "TRUTH_TABLES"]

_ARROW_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "int16": pa.int16(),
    "int8": pa.int8(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
}
_SQL_TYPES = {
    "string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "int16": "SMALLINT",
    "int8": "TINYINT", "float64": "DOUBLE", "bool": "BOOLEAN", "date": "DATE",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False
    pii: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple | None = None
    pattern: str | None = None

    @property
    def arrow_type(self):
        return _ARROW_TYPES[self.type]

    @property
    def sql_type(self):
        return _SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    audience: str
    title: str
    grain: str
    primary_key: tuple
    columns: tuple
    foreign_keys: tuple = ()
    agency: str | None = None
    derived: str | None = None
    partition_by: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def arrow_schema(self):
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    @property
    def column_names(self):
        return [c.name for c in self.columns]

    def column(self, name):
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _parse(name, spec):
    try:
        columns = []
        for c in spec["columns"]:
            if c["type"] not in _ARROW_TYPES:
                raise SchemaError(f"table {name!r} column {c['name']!r}: unknown type {c['type']!r}")
            columns.append(Column(
                name=c["name"], type=c["type"], description=c["description"],
                nullable=c.get("nullable", False), pii=c.get("pii", False),
                min=c.get("min"), max=c.get("max"),
                allowed=tuple(c["allowed"]) if "allowed" in c else None, pattern=c.get("pattern"),
            ))
        table = Table(
            name=name, audience=spec["audience"], title=spec["title"], grain=spec["grain"],
            primary_key=tuple(spec["primary_key"]), columns=tuple(columns),
            foreign_keys=tuple(spec.get("foreign_keys", ())), agency=spec.get("agency"),
            derived=spec.get("derived"), partition_by=spec.get("partition_by"),
        )
    except KeyError as exc:
        raise SchemaError(f"table {name!r} in schema/tables.toml lacks {exc}") from None
    names = table.column_names
    for key in table.primary_key:
        if key not in names:
            raise SchemaError(f"table {name!r}: primary key column {key!r} is not a column")
    if table.audience not in ("learner", "reference", "truth"):
        raise SchemaError(f"table {name!r}: audience {table.audience!r} is not learner, reference or truth")
    return table


@functools.cache
def tables():
    """All tables, in the order of ``schema/tables.toml``, as a dict name -> Table."""
    raw = tomllib.loads(resources.files(__package__).joinpath("schema/tables.toml").read_text("utf-8"))
    return {name: _parse(name, spec) for name, spec in raw["tables"].items()}


def table(name):
    try:
        return tables()[name]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; known tables: {', '.join(tables())}") from None


LEARNER_TABLES = tuple(n for n, t in tables().items() if t.audience in ("learner", "reference"))
TRUTH_TABLES = tuple(n for n, t in tables().items() if t.audience == "truth")
