"""Deliverables: structured inputs a team fills in, rendered as a Markdown (and HTML) document.

Every Data Labs unit ends with a deliverable: a problem brief, a list of research questions, a data sharing
agreement... Each kind is described by a :class:`DeliverableSpec` (its title, its required and optional fields
and a Jinja2 template, packaged in ``statelab/datalabs/templates/``), and a filled-in document is a
:class:`Deliverable`:

>>> from statelab.datalabs import deliverables as dl
>>> spec = dl.DeliverableSpec(kind="memo", title="Memo", required=("purpose", "points"),
...                           template_source="# {{ title }}\\n\\n{{ purpose }}\\n\\n{{ points | bullets }}\\n")
>>> memo = dl.Deliverable(spec, {"purpose": "Why we meet.", "points": []})
>>> memo.missing()
['points']
>>> memo.fields["points"] = ["Agree the scope", "Name a data steward"]
>>> print(memo.render_markdown())
# Memo
<BLANKLINE>
Why we meet.
<BLANKLINE>
- Agree the scope
- Name a data steward
<BLANKLINE>

Stable API for the other units' modules
---------------------------------------
``DeliverableSpec(kind, title, required=(), optional=(), template=None, template_source=None, unit=None,
description="", template_dir=None)``; ``Deliverable(spec, fields, *, track=None, title=None, draft=False)`` with
``missing()``, ``check()``, ``require_complete()``, ``render_markdown(*, draft=None, heading_offset=0)``,
``render_html(*, draft=None, standalone=True)``, ``save(folder, *, stem=None, formats=("md", "html", "json"),
draft=None)``, ``display(*, draft=None)``, ``to_dict()`` and ``Deliverable.load(path, spec)``;
:class:`MissingFieldsError` (a ``ValueError``); :func:`is_blank`; :func:`markdown_table`; :func:`to_html`.
A module adds a deliverable kind by defining its own ``DeliverableSpec`` (no registry): put the template in
``statelab/datalabs/templates/<kind>.md.j2`` (or pass ``template_source``/``template_dir``).

Field values may be text (Markdown), numbers, lists (rendered with the ``bullets`` filter), lists of dicts or
pandas DataFrames (rendered with the ``table`` filter) and nested dicts. A required field is *missing* when it
is absent, ``None``, blank text, a placeholder such as ``"TBD"`` or ``"TODO"``, or an empty list, dict or
DataFrame; nested fields are named with dots (``"logic_model.inputs"``).

Templates see the fields by name, plus ``title``, ``kind``, ``unit``, ``track_name`` and ``track`` (a
:class:`statelab.datalabs.tracks.Track` or ``None``), and these filters: ``bullets``, ``numbered``, ``table``,
``pct``, ``num``, ``text``, ``cell``, ``brlist`` (a list in one table cell) and ``block`` (a table for rows,
bullets for a list, text otherwise). The packaged ``_header.md.j2`` (title, track, unit, team, draft notice) can be
included by templates in the packaged folder: ``{% include "_header.md.j2" %}``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import write_atomic

__all__ = [
    "DATA_INVENTORY",
    "GOVERNANCE_CHARTER",
    "PROBLEM_BRIEF",
    "QUALITY_REPORT",
    "RESEARCH_QUESTIONS",
    "TEMPLATE_DIR",
    "Deliverable",
    "DeliverableSpec",
    "MissingFieldsError",
    "Rendered",
    "blank",
    "fingerprint",
    "is_blank",
    "markdown_table",
    "start_from",
    "to_html",
]

#: The packaged templates folder (``statelab/datalabs/templates``).
TEMPLATE_DIR = resources.files(__package__).joinpath("templates")

_PLACEHOLDERS = {"tbd", "todo", "tba", "xxx", "...", "…", "n/a?", "fill in", "to be completed"}


class MissingFieldsError(ValueError):
    """A deliverable lacks required fields; ``.missing`` lists them by name."""

    def __init__(self, kind: str, missing: list[str]):
        self.kind, self.missing = kind, list(missing)
        super().__init__(f"the {kind} deliverable is missing required field(s): {', '.join(self.missing)}")


def is_blank(value: Any) -> bool:
    """True for a value that does not count as filled in.

    ``None``, NaN, blank or placeholder text (``"TBD"``, ``"TODO"``, ``"..."``), and empty lists, tuples, sets,
    dicts and DataFrames are blank. A list whose items are all blank is blank. ``0`` and ``False`` are filled in.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in _PLACEHOLDERS or not value.strip()
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return isinstance(value, float) and math.isnan(value)
    if isinstance(value, pd.DataFrame):
        return value.empty
    if isinstance(value, Mapping):
        return len(value) == 0 or all(is_blank(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) == 0 or all(is_blank(v) for v in value)
    return False


def fingerprint(value: Any) -> str:
    """A short hash of a field's value (text compared without case or spacing differences), for example checks."""
    import hashlib

    data = _jsonable(value)
    if isinstance(data, dict) and set(data) == {"__table__"}:
        data = data["__table__"]  # a table is the same whether a DataFrame or a list of rows

    def norm(x):
        if isinstance(x, str):
            return " ".join(x.split()).lower()
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        return [norm(v) for v in x] if isinstance(x, list) else x

    text = json.dumps(norm(data), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def start_from(example: Deliverable, *, team: str | None = None, keep=()) -> Deliverable:
    """A team's own deliverable that starts from the course's ``example``: its fields copied, marked as copied.

    Every required field the team leaves as the example wrote it counts as missing (see
    :meth:`Deliverable.missing`), so the copy is a starting point, never a finished document. Fields named in
    ``keep`` are the team's own already (tables computed from its data, say) and are not marked.
    """
    if not isinstance(example, Deliverable):
        raise TypeError(f"start_from needs a Deliverable (the course's example), got {type(example).__name__}")
    fields = json.loads(json.dumps(_jsonable(example.fields)))
    fields = _from_json(fields)
    marks = {name.split(".")[0]: fingerprint(fields.get(name.split(".")[0])) for name in example.spec.required
             if name.split(".")[0] not in ("team", *keep) and not is_blank(fields.get(name.split(".")[0]))}
    if team is not None:
        fields["team"] = team
    return Deliverable(example.spec, fields, track=example.track, from_example=marks)


def blank(spec: DeliverableSpec, *, track: str | None = None, **fields) -> Deliverable:
    """A deliverable with every field empty except those given (computed tables, the team's name)."""
    return Deliverable(spec, fields, track=track, draft=True)


def _get(fields: Mapping, path: str) -> Any:
    value: Any = fields
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class DeliverableSpec:
    """What a kind of deliverable contains and how it renders.

    Parameters
    ----------
    kind : str
        Short identifier, also the default file stem and template name (``<kind>.md.j2``).
    title : str
        Document title.
    required : tuple of str
        Fields (dotted for nested ones) that must be filled in.
    optional : tuple of str
        Fields the template uses when present (absent ones are passed to the template as ``None``).
    template : str, optional
        File name of the template in ``template_dir``; defaults to ``<kind>.md.j2``.
    template_source : str, optional
        The template text itself (instead of a file).
    unit : int, optional
        The Data Labs unit (1-9) the deliverable belongs to.
    description : str
        One line on what the deliverable is for.
    template_dir : str or Path, optional
        Folder holding ``template``; defaults to the packaged templates folder.
    """

    kind: str
    title: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    template: str | None = None
    template_source: str | None = None
    unit: int | None = None
    description: str = ""
    template_dir: str | Path | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.kind or ""):
            raise ValueError(f"a deliverable kind is a lower-case identifier such as 'problem_brief', got {self.kind!r}")
        for name in ("required", "optional"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} must be a tuple of field names, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))

    def template_text(self) -> str:
        """The Jinja2 template source."""
        if self.template_source is not None:
            return self.template_source
        name = self.template or f"{self.kind}.md.j2"
        folder = Path(self.template_dir) if self.template_dir is not None else TEMPLATE_DIR
        path = folder.joinpath(name)
        if not path.is_file():
            raise FileNotFoundError(f"no template {name!r} for deliverable kind {self.kind!r} in {folder}")
        return path.read_text(encoding="utf-8")


class _Missing:
    """Stands in for a missing field when rendering a draft."""

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return f"*[to be completed: {self.name}]*"

    def __bool__(self) -> bool:  # so `{% if field %}` still shows the section with its placeholder
        return True

    def __iter__(self):
        return iter(())


# --------------------------------------------------------------------------------------------- filters
def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, _Missing):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return ""
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 1 else f"{v:,.1f}"
    if isinstance(value, (list, tuple)):
        return "; ".join(_fmt(v) for v in value)
    if isinstance(value, (_dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    return str(value)


def _cell(value: Any) -> str:
    """Text safe inside a pipe-table cell."""
    return _fmt(value).replace("|", "\\|").replace("\r", "").replace("\n", "<br>") if not isinstance(
        value, _Missing) else str(value)


def markdown_table(rows: Any, columns: Iterable[str] | None = None, headers: Iterable[str] | None = None) -> str:
    """A Markdown pipe table from a DataFrame, a list of dicts or a list of lists.

    Parameters
    ----------
    rows : DataFrame, list of dict, or list of list/tuple
    columns : list of str, optional
        Columns (keys) to show, in order; default all (for lists of lists, ``headers`` is required).
    headers : list of str, optional
        Header labels; default the column names.
    """
    if isinstance(rows, _Missing):
        return str(rows)
    if rows is None:
        return ""
    if isinstance(rows, pd.DataFrame):
        df = rows
    else:
        rows = list(rows)
        if rows and isinstance(rows[0], Mapping):
            df = pd.DataFrame(rows)
        else:
            if headers is None and columns is None:
                raise ValueError("a table from lists of values needs headers=")
            df = pd.DataFrame(rows, columns=list(columns or headers))
    cols = list(columns) if columns is not None else [str(c) for c in df.columns]
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise ValueError(f"table columns {absent} are not in the data (it has {list(df.columns)})")
    labels = list(headers) if headers is not None else cols
    if len(labels) != len(cols):
        raise ValueError(f"{len(labels)} headers for {len(cols)} columns")
    lines = ["| " + " | ".join(_cell(h) for h in labels) + " |", "|" + "---|" * len(cols)]
    for rec in df[cols].itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_cell(v) for v in rec) + " |")
    return "\n".join(lines)


def _bullets(items: Any, marker: str = "-") -> str:
    if isinstance(items, _Missing):
        return str(items)
    if items is None:
        return ""
    if isinstance(items, str):
        items = [items]
    return "\n".join(f"{marker} {_fmt(i)}" for i in items)


def _numbered(items: Any) -> str:
    if isinstance(items, _Missing):
        return str(items)
    if items is None:
        return ""
    if isinstance(items, str):
        items = [items]
    return "\n".join(f"{n}. {_fmt(i)}" for n, i in enumerate(items, 1))


def _brlist(items: Any) -> str:
    """List items joined by line breaks, for one table cell."""
    if isinstance(items, _Missing):
        return str(items)
    if items is None:
        return ""
    if isinstance(items, str):
        items = [items]
    return "<br>".join(_cell(i) for i in items)


def _block(value: Any) -> str:
    """Any field as a Markdown block: a table for rows (DataFrame, list of dicts), bullets for a list, text otherwise."""
    if isinstance(value, _Missing) or value is None:
        return _fmt(value)
    if isinstance(value, pd.DataFrame):
        return markdown_table(value)
    if isinstance(value, Mapping):
        return "\n".join(f"- **{_fmt(k)}:** {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            return markdown_table(value)
        return _bullets(value)
    return _fmt(value)


def _pct(value: Any, digits: int = 1) -> str:
    if isinstance(value, _Missing):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


def _num(value: Any, digits: int = 0) -> str:
    if isinstance(value, _Missing):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def _environment(loader_dir: Path | None):
    """A Jinja2 environment loading from ``loader_dir`` first, then the packaged templates."""
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 comes with nbconvert and jupyter-book
        raise ModuleNotFoundError("rendering deliverables needs Jinja2 (pip install jinja2)") from exc
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in (loader_dir, Path(str(TEMPLATE_DIR))) if d is not None]),
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update(bullets=_bullets, numbered=_numbered, table=markdown_table, pct=_pct, num=_num,
                       text=_fmt, cell=_cell, brlist=_brlist, block=_block)
    return env


_CELL = re.compile(r"(<t[hd][^>]*>)(.*?)(</t[hd]>)", re.DOTALL)
_TAG = re.compile(r"(<[^>]+>)")


def _cell_breaks(body: str) -> str:
    """Let long identifiers in table cells wrap after their underscores (``persons_in_other_source``).

    A column name or code without spaces cannot wrap, so a table of a few such columns grew wider than the
    page (or the book's column) and scrolled sideways. A ``<wbr>`` after each underscore in a cell's text
    (never inside a tag or a link's address) lets the browser break the line there; the text, what screen
    readers read and what a reader copies, is unchanged, and so is the Markdown.
    """

    def cell(m: re.Match) -> str:
        parts = _TAG.split(m.group(2))
        inner = "".join(p if p.startswith("<") else p.replace("_", "_<wbr>") for p in parts)
        return m.group(1) + inner + m.group(3)

    return _CELL.sub(cell, body)


def to_html(markdown_text: str, *, title: str = "Deliverable", standalone: bool = True) -> str:
    """Convert Markdown to HTML with markdown-it-py (CommonMark plus tables; raw HTML in the text is escaped).

    With ``standalone=True`` the result is a complete page with a small print-friendly style sheet.
    """
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:  # pragma: no cover - markdown-it-py comes with jupyter-book
        raise ModuleNotFoundError("render_html needs markdown-it-py (pip install markdown-it-py)") from exc
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    # <br> inside table cells is the one tag the renderer emits for line breaks in a cell
    body = _cell_breaks(md.render(markdown_text).replace("&lt;br&gt;", "<br>"))
    if not standalone:
        return body
    import html

    page = TEMPLATE_DIR.joinpath("page.html").read_text(encoding="utf-8")
    return page.replace("{{title}}", html.escape(title)).replace("{{body}}", body)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {"__table__": json.loads(value.to_json(orient="records", date_format="iso"))}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, (_dt.date, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__table__"}:
            return pd.DataFrame(value["__table__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


_HEADING = re.compile(r"^(#{1,6})(\s)", re.MULTILINE)


def _shift_headings(text: str, offset: int) -> str:
    if not offset:
        return text
    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced:
            line = _HEADING.sub(lambda m: "#" * min(6, max(1, len(m.group(1)) + offset)) + m.group(2), line)
        out.append(line)
    return "\n".join(out)


class Rendered:
    """A rendered deliverable for notebook display: ``_repr_html_`` and ``_repr_markdown_``."""

    def __init__(self, markdown: str, html: str):
        self.markdown, self.html = markdown, html

    def _repr_html_(self) -> str:
        return f'<div class="statelab-deliverable">\n{self.html}</div>'

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __str__(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        first = self.markdown.splitlines()[0] if self.markdown else ""
        return f"<Rendered deliverable {first!r}>"


# --------------------------------------------------------------------------------------------- model
@dataclass
class Deliverable:
    """A filled-in deliverable.

    Parameters
    ----------
    spec : DeliverableSpec
        The kind of document.
    fields : dict
        The structured inputs (copied; edit ``deliverable.fields`` afterwards).
    track : str, optional
        The case track the team chose (shown in the header when the template uses it).
    title : str, optional
        Overrides ``spec.title`` (e.g. "Problem brief: SNAP churn").
    draft : bool
        The default of the ``draft`` option of the rendering methods (a draft renders with placeholders for
        missing fields instead of raising :class:`MissingFieldsError`).
    example : bool
        The course's filled example, not a team's work: it renders with a banner saying so and its title starts
        with "Example:"; :func:`start_from` copies it into a team's own deliverable.
    from_example : dict
        Field -> fingerprint of the example text a team's deliverable started from (set by :func:`start_from`).
        A required field whose text is still the example's counts as missing: a team cannot hand in the
        course's words as its own.
    """

    spec: DeliverableSpec
    fields: dict = field(default_factory=dict)
    track: str | None = None
    title: str | None = None
    draft: bool = False
    example: bool = False
    from_example: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.spec, DeliverableSpec):
            raise TypeError(f"spec must be a DeliverableSpec, got {type(self.spec).__name__}")
        if not isinstance(self.fields, Mapping):
            raise TypeError(f"fields must be a dict of inputs, got {type(self.fields).__name__}")
        self.fields = dict(self.fields)
        if self.track is not None:
            from .tracks import get_track

            get_track(self.track)  # a clear error for a bad track name
        if self.title is None:
            self.title = f"Example: {self.spec.title}" if self.example else self.spec.title
        self.from_example = dict(self.from_example or {})

    # --- checking
    def missing(self) -> list[str]:
        """The required fields that are missing, blank, or still the example's text, in the spec's order."""
        return [name for name in self.spec.required
                if is_blank(_get(self.fields, name)) or self.unchanged_from_example(name)]

    def unchanged_from_example(self, name: str) -> bool:
        """True when field ``name`` still holds the text of the example this deliverable started from."""
        mark = self.from_example.get(name.split(".")[0])
        return mark is not None and mark == fingerprint(self.fields.get(name.split(".")[0]))

    def check(self) -> list[str]:
        """One message per missing required field (empty when the deliverable is complete)."""
        return [f"{self.spec.kind}: required field {name!r} "
                + ("still holds the course's example text: write your team's own"
                   if self.unchanged_from_example(name) else "is missing or empty")
                for name in self.missing()]

    def require_complete(self) -> None:
        """Raise :class:`MissingFieldsError` naming every missing required field."""
        missing = self.missing()
        if missing:
            raise MissingFieldsError(self.spec.kind, missing)

    # --- rendering
    def _context(self, draft: bool) -> dict:
        ctx: dict[str, Any] = {name.split(".")[0]: None for name in self.spec.optional}
        ctx.update({name.split(".")[0]: None for name in self.spec.required})
        ctx.update(self.fields)
        missing = self.missing()
        if missing and not draft:
            raise MissingFieldsError(self.spec.kind, missing)
        for name in missing:
            parts = name.split(".")
            target = ctx
            for part in parts[:-1]:
                if not isinstance(target.get(part), Mapping):
                    target[part] = {}
                else:
                    target[part] = dict(target[part])
                target = target[part]
            target[parts[-1]] = _Missing(name)
        track_obj = None
        if self.track is not None:
            from .tracks import get_track

            track_obj = get_track(self.track)
        ctx.update(title=self.title, kind=self.spec.kind, unit=self.spec.unit, track_name=self.track,
                   track=track_obj, draft=bool(draft and missing), example=self.example)
        return ctx

    def render_markdown(self, *, draft: bool | None = None, heading_offset: int = 0) -> str:
        """The document as Markdown.

        Parameters
        ----------
        draft : bool, optional
            Render even when required fields are missing, with a visible placeholder in their place. Without
            it a missing field raises :class:`MissingFieldsError`. Default: the deliverable's ``draft``.
        heading_offset : int
            Add this many levels to every heading (to nest the document in a larger one).
        """
        draft = self.draft if draft is None else draft
        folder = Path(str(self.spec.template_dir)) if self.spec.template_dir is not None else None
        env = _environment(folder)
        template = env.from_string(self.spec.template_text())
        text = template.render(**self._context(draft))
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
        return _shift_headings(text, heading_offset)

    def render_html(self, *, draft: bool | None = None, standalone: bool = True) -> str:
        """The document as HTML (a complete page unless ``standalone=False``), via markdown-it-py."""
        return to_html(self.render_markdown(draft=draft), title=self.title, standalone=standalone)

    def display(self, *, draft: bool | None = None) -> Rendered:
        """Show the rendered document in a notebook (end a cell with ``deliverable.display()``).

        Returns a :class:`Rendered` object carrying both the HTML (what JupyterLab and the book show: its
        headings stay inside the output instead of joining the page's table of contents) and the Markdown.
        """
        text = self.render_markdown(draft=draft)
        return Rendered(text, to_html(text, title=self.title, standalone=False))

    def _repr_markdown_(self) -> str:
        return self.render_markdown(draft=True)

    # --- files
    def to_dict(self) -> dict:
        """The inputs as JSON-ready data (DataFrames become lists of records)."""
        return {"kind": self.spec.kind, "title": self.title, "track": self.track, "draft": self.draft,
                "example": self.example, "from_example": dict(self.from_example), "fields": _jsonable(self.fields)}

    def save(self, folder: str | Path, *, stem: str | None = None, formats: Iterable[str] = ("md", "html", "json"),
             draft: bool | None = None) -> dict[str, Path]:
        """Write the document to ``folder`` (created if needed); each file is written atomically.

        Parameters
        ----------
        folder : str or Path
        stem : str, optional
            File name without extension; default ``<kind>`` or ``<kind>-<track>``.
        formats : iterable of {"md", "html", "json"}
            ``md`` and ``html`` are the rendered document; ``json`` the inputs (reload with :meth:`load`).
        draft : bool
            Allow missing required fields (rendered as placeholders).

        Returns
        -------
        dict
            Format -> path written.
        """
        formats = tuple(formats)
        bad = [f for f in formats if f not in ("md", "html", "json")]
        if bad or not formats:
            raise ValueError(f"formats must be among 'md', 'html', 'json', got {formats!r}")
        stem = stem or (self.spec.kind if self.track is None else f"{self.spec.kind}-{self.track}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem):
            raise ValueError(f"file stem {stem!r} must be a plain file name (letters, digits, . _ -)")
        folder = Path(folder)
        rendered = {}
        if "md" in formats or "html" in formats:
            md = self.render_markdown(draft=draft)
            rendered["md"] = md
            if "html" in formats:
                rendered["html"] = to_html(md, title=self.title)
        if "json" in formats:
            rendered["json"] = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        written = {}
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            write_atomic(path, rendered[fmt])
            written[fmt] = path
        return written

    @classmethod
    def load(cls, path: str | Path, spec: DeliverableSpec) -> Deliverable:
        """Rebuild a deliverable from the ``.json`` file :meth:`save` wrote."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind") != spec.kind:
            raise ValueError(f"{path} holds a {data.get('kind')!r} deliverable, not {spec.kind!r}")
        return cls(spec, _from_json(data.get("fields", {})), track=data.get("track"), title=data.get("title"),
                   draft=bool(data.get("draft", False)), example=bool(data.get("example", False)),
                   from_example=data.get("from_example") or {})


# ----------------------------------------------------------------------------------- units 1 to 5
PROBLEM_BRIEF = DeliverableSpec(
    kind="problem_brief", title="Problem brief", unit=1,
    description="One page: the problem, the decision it informs, who cares, and how the work leads to change.",
    required=("team", "problem_statement", "decision", "population", "stakeholders", "logic_model.inputs",
              "logic_model.activities", "logic_model.outputs", "logic_model.outcomes"),
    optional=("scale", "scale_note", "assumptions", "prepared_by"),
)

RESEARCH_QUESTIONS = DeliverableSpec(
    kind="research_questions", title="Research questions and measures", unit=2,
    description="The questions the data can answer, each with its measures, definitions and breakdowns.",
    required=("team", "questions", "measures", "chosen_measure"),
    optional=("baseline", "baseline_note", "other_states", "out_of_scope"),
)

DATA_INVENTORY = DeliverableSpec(
    kind="data_inventory", title="Data inventory and gap list", unit=3,
    description="What each agency file holds (from its metadata), what the data show, and what is missing.",
    required=("team", "sources", "coverage", "gaps"),
    optional=("fields", "notes"),
)

GOVERNANCE_CHARTER = DeliverableSpec(
    kind="governance_charter", title="Data governance charter", unit=5,
    description="Who owns, stewards and keeps each source, the documentation standards, and how decisions are made.",
    required=("team", "purpose", "roles", "documentation_standards", "decision_rights", "review_cadence"),
    optional=("escalation", "quality_thresholds"),
)

QUALITY_REPORT = DeliverableSpec(
    kind="quality_report", title="Data quality report", unit=5,
    description="Completeness, validity, timeliness and duplicates of each source, from statelab.datalabs.quality.",
    required=("team", "sources", "summary", "findings", "actions"),
    optional=("method", "details"),
)
