"""Deliverables as documents for the people who sign them: Word files, and plain text files to edit.

Counsel, sponsors and advisory councils work in Word; a team edits its text in a plain file, never in Python
data structures. This module turns a :class:`~statelab.datalabs.deliverables.Deliverable` into

- a Word document (:func:`to_docx`, with python-docx): headings, paragraphs with bold and italic, bulleted
  and numbered lists, quotes and tables with a header row repeated on each page, from the same Markdown the
  HTML comes from; :func:`docx_blocks` reads one back as text blocks (for checks and round-trip tests);
- a plain text file with YAML front matter (:func:`to_text`, :func:`from_text`): every field by name, lists as
  lists, tables as lists of rows, long text as indented blocks, editable in any text editor (JupyterLab opens
  it), and read back into the same deliverable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from . import deliverables as dl
from ._common import temp_file

__all__ = ["TextFormatError", "docx_blocks", "from_text", "to_docx", "to_text"]

_FRONT = re.compile(r"\A---\n(.*?)\n---\n?", re.DOTALL)


class TextFormatError(ValueError):
    """A deliverable's text file cannot be read; the message says where and what to fix."""


# --------------------------------------------------------------------------------------------- Word
def _runs(paragraph, inline) -> None:
    """Add the inline tokens of one Markdown block to a python-docx paragraph as formatted runs."""
    bold = italic = False
    for tok in inline.children or []:
        if tok.type == "strong_open":
            bold = True
        elif tok.type == "strong_close":
            bold = False
        elif tok.type == "em_open":
            italic = True
        elif tok.type == "em_close":
            italic = False
        elif tok.type in ("text", "code_inline", "html_inline"):
            text = tok.content.replace("<br>", "\n") if tok.type == "html_inline" else tok.content
            run = paragraph.add_run(text)
            run.bold, run.italic = bold or None, italic or None
            if tok.type == "code_inline":
                run.font.name = "Courier New"
        elif tok.type in ("softbreak",):
            paragraph.add_run(" ")
        elif tok.type == "hardbreak":
            paragraph.add_run().add_break()


def _cell_text(inline) -> str:
    return "".join(t.content if t.type != "html_inline" else "\n" for t in (inline.children or [])
                   if t.type in ("text", "code_inline", "html_inline"))


def to_docx(deliverable: dl.Deliverable, path: str | Path, *, draft: bool | None = None) -> Path:
    """Write ``deliverable`` as a Word document at ``path`` (written to a temporary file, then renamed).

    The document is built from :meth:`~statelab.datalabs.deliverables.Deliverable.render_markdown`, so it says
    exactly what the Markdown and HTML versions say. Its core properties carry the title and the language
    (``en-US``), and table header rows repeat across pages (screen readers announce them as headers).
    """
    try:
        import docx
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
    except ImportError as exc:  # pragma: no cover - python-docx is in the course extra
        raise ModuleNotFoundError("Word export needs python-docx (pip install python-docx)") from exc
    from markdown_it import MarkdownIt

    md = deliverable.render_markdown(draft=draft)
    tokens = MarkdownIt("commonmark", {"html": False}).enable("table").parse(md)
    doc = docx.Document()
    doc.core_properties.title = deliverable.title
    doc.core_properties.language = "en-US"
    lists: list[str] = []
    quote = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            doc.add_heading(_cell_text(tokens[i + 1]), level=0 if level == 1 else min(level - 1, 9))
            i += 3
            continue
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            lists.append("List Bullet" if tok.type == "bullet_list_open" else "List Number")
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif tok.type == "blockquote_open":
            quote = True
        elif tok.type == "blockquote_close":
            quote = False
        elif tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            style = lists[-1] if lists else ("Quote" if quote else None)
            _runs(doc.add_paragraph(style=style), tok)
        elif tok.type == "table_open":
            rows: list[list[str]] = []
            j = i + 1
            while tokens[j].type != "table_close":
                if tokens[j].type == "tr_open":
                    rows.append([])
                elif tokens[j].type == "inline":
                    rows[-1].append(_cell_text(tokens[j]))
                j += 1
            table = doc.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            table.style = "Table Grid"
            for r, values in enumerate(rows):
                for c, value in enumerate(values):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            header = table.rows[0]._tr.get_or_add_trPr()
            repeat = OxmlElement("w:tblHeader")
            repeat.set(qn("w:val"), "true")
            header.append(repeat)
            i = j
        i += 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path)  # readable by the team, like the other formats
    os.close(fd)
    try:
        doc.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def docx_blocks(path: str | Path) -> list[tuple[str, str]]:
    """The text of a Word document in order: ``("heading", text)``, ``("paragraph", text)``, ``("cell", text)``."""
    import docx

    doc = docx.Document(str(path))
    out: list[tuple[str, str]] = []
    body = doc.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = docx.text.paragraph.Paragraph(child, doc)
            kind = "heading" if para.style.name.startswith(("Heading", "Title")) else "paragraph"
            if para.text.strip():
                out.append((kind, para.text))
        elif tag == "tbl":
            table = docx.table.Table(child, doc)
            for row in table.rows:
                out.extend(("cell", cell.text) for cell in row.cells)
    return out


# --------------------------------------------------------------------------------------------- text
_HOW_TO = """# How to edit this file

Everything between the two `---` lines is your deliverable, field by field. Change the text after each name;
keep the names and the indentation. A line starting with `- ` is an item of a list. A block after `|` is text
that may run over several lines (indent every line by the same amount). Leave a field empty (`''` or `[]`) if
you have nothing yet: the completeness check will list it. Save the file, then read it back in the workbook.
"""


def to_text(deliverable: dl.Deliverable) -> str:
    """The deliverable as a plain text file: YAML front matter with every field, then how to edit it."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper, value):
        style = "|" if "\n" in value or len(value) > 90 else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    fields = dl._jsonable(deliverable.fields)
    fields = {k: (v["__table__"] if isinstance(v, dict) and set(v) == {"__table__"} else v) for k, v in fields.items()}
    for name in dict.fromkeys(n.split(".")[0] for n in deliverable.spec.required):
        fields.setdefault(name, "")  # a required field the team has not written yet, ready to fill in
    head = {"kind": deliverable.spec.kind, "track": deliverable.track, "title": deliverable.title,
            "fields": fields}
    if deliverable.from_example:
        head["from_example"] = dict(deliverable.from_example)
    body = yaml.dump(head, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{body}---\n\n{_HOW_TO}"


def from_text(text: str, spec: dl.DeliverableSpec, *, source: str = "the text") -> dl.Deliverable:
    """Read a deliverable back from :func:`to_text`'s format (after a team edited it).

    Raises
    ------
    TextFormatError
        When the front matter is missing or not valid YAML (the message gives the line), or holds another kind.
    """
    import yaml

    match = _FRONT.match(text)
    if not match:
        raise TextFormatError(f"{source} does not start with a '---' line and front matter; "
                              "write the fields between two '---' lines")
    try:
        head: Any = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise TextFormatError(f"{source} cannot be read{where}: {getattr(exc, 'problem', exc)}; "
                              "check the indentation and the ':' after each name") from None
    if not isinstance(head, dict) or not isinstance(head.get("fields", {}), dict):
        raise TextFormatError(f"{source}: the front matter must hold 'fields:' with one name per line")
    if head.get("kind", spec.kind) != spec.kind:
        raise TextFormatError(f"{source} holds a {head.get('kind')!r} deliverable, not {spec.kind!r}")
    fields = dl._from_json({k: v for k, v in head.get("fields", {}).items() if v is not None})
    return dl.Deliverable(spec, fields, track=head.get("track"), title=head.get("title"),
                          from_example=head.get("from_example") or {})
