"""The codebook: every learner table and column, from the schema metadata."""

import json

from ._schema import tables

__all__ = ["codebook_markdown", "codebook_dict", "write_codebook"]


def codebook_dict(audience=("learner", "reference")):
    """The codebook as plain data (tables, grain, keys, columns)."""
    out = {}
    for name, t in tables().items():
        if t.audience not in audience:
            continue
        out[name] = {
            "title": t.title, "audience": t.audience, "agency": t.agency, "grain": t.grain,
            "primary_key": list(t.primary_key), "foreign_keys": [dict(fk) for fk in t.foreign_keys],
            "derived": t.derived,
            "columns": [{"name": c.name, "type": c.sql_type, "nullable": c.nullable, "pii": c.pii,
                         "description": c.description,
                         **({"allowed": list(c.allowed)} if c.allowed else {}),
                         **({"min": c.min} if c.min is not None else {}),
                         **({"max": c.max} if c.max is not None else {})} for c in t.columns],
        }
    return out


def codebook_markdown(audience=("learner", "reference")):
    """The codebook as Markdown, one section per table."""
    lines = ["# Codebook", "",
             "Every table in the course database, generated from the generator's own schema metadata.",
             "Columns marked PII hold identifiers; the `hashed` schema has the same tables with those",
             "columns replaced by salted hashes.", ""]
    for name, t in codebook_dict(audience).items():
        lines += [f"## `{name}` — {t['title']}", ""]
        if t["agency"]:
            lines.append(f"**Source agency:** {t['agency']}  ")
        lines.append(f"**Grain:** {t['grain']}  ")
        lines.append(f"**Key:** {', '.join(f'`{k}`' for k in t['primary_key'])}  ")
        for fk in t["foreign_keys"]:
            lines.append(f"**Joins to:** `{fk['table']}` on {', '.join(f'`{c}`' for c in fk['columns'])}  ")
        if t["derived"]:
            lines.append(f"**How it is built:** {t['derived']}  ")
        lines += ["", "| column | type | description |", "|---|---|---|"]
        for c in t["columns"]:
            notes = []
            if c["nullable"]:
                notes.append("may be empty")
            if c["pii"]:
                notes.append("PII")
            if "allowed" in c:
                notes.append("values: " + ", ".join(f"`{v}`" for v in c["allowed"]))
            extra = f" ({'; '.join(notes)})" if notes else ""
            lines.append(f"| `{c['name']}` | {c['type']} | {c['description']}{extra} |")
        lines.append("")
    return "\n".join(lines)


def write_codebook(root):
    (root / "codebook.md").write_text(codebook_markdown(), encoding="utf-8")
    (root / "codebook.json").write_text(json.dumps(codebook_dict(), indent=2) + "\n", encoding="utf-8")
