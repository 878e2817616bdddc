"""Export packages: checked release tables, unrounded tables kept apart, the code and a memo."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ._check import RULE_TITLES, Report, check_table
from ._rules import DisclosureError, Rules, _rules

__all__ = ["ExportTable", "ExportPackage", "prepare_export", "NOT_FOR_RELEASE"]

#: Name of the folder (and marker) that holds material reviewers must never release.
NOT_FOR_RELEASE = "NOT_FOR_RELEASE"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclasses.dataclass(frozen=True)
class ExportTable:
    """One table in an export package.

    Parameters
    ----------
    name : str
        File name stem: letters, digits, ``-`` and ``_`` (e.g. ``"leavers_by_state"``).
    table : DataFrame
        The release version: rounded, with suppressed cells missing.
    check : mapping
        Keyword options for :func:`check_table` that say what each column holds, e.g.
        ``{"count_cols": ["leavers"], "margins": ("state",)}``. Required: a table whose columns are not
        described cannot be checked.
    unrounded : DataFrame, optional
        The same rows before rounding and suppression, with any supporting columns (numerators,
        employer counts). Written to the not-for-release folder and used by the checker.
    title : str
        A human-readable title for the memo.
    """

    name: str
    table: pd.DataFrame
    check: Mapping = dataclasses.field(default_factory=dict)
    unrounded: pd.DataFrame | None = None
    title: str = ""


@dataclasses.dataclass(frozen=True)
class ExportPackage:
    """A written export package: its folder, the files in it and the checker's report per table."""

    path: Path
    files: tuple[Path, ...]
    reports: dict[str, Report]

    def listing(self) -> pd.DataFrame:
        """The package's files (relative paths) and whether each may be released."""
        rows = [(p.relative_to(self.path).as_posix(), NOT_FOR_RELEASE not in p.relative_to(self.path).parts)
                for p in self.files]
        return pd.DataFrame(rows, columns=["file", "for_release"])


def _validate(tables, code, memo) -> list[ExportTable]:
    if isinstance(tables, ExportTable):
        tables = [tables]
    if not isinstance(tables, Sequence) or not tables:
        raise ValueError(f"tables must be a non-empty list of ExportTable, got {tables!r}")
    seen = set()
    for t in tables:
        if not isinstance(t, ExportTable):
            raise TypeError(f"each table must be an ExportTable, got {type(t).__name__}")
        if not isinstance(t.name, str) or not _NAME.match(t.name):
            raise ValueError(f"table name {t.name!r} must be 1-64 letters, digits, '-' or '_'")
        if t.name in seen:
            raise ValueError(f"two tables are named {t.name!r}")
        seen.add(t.name)
        if not isinstance(t.table, pd.DataFrame):
            raise TypeError(f"table {t.name!r} must be a DataFrame, got {type(t.table).__name__}")
        if not isinstance(t.check, Mapping) or not any(
            t.check.get(k) for k in ("count_cols", "employer_count_col", "wage_cols", "average_cols", "percent_cols")
        ):
            raise ValueError(
                f"table {t.name!r}: check={dict(t.check) if isinstance(t.check, Mapping) else t.check!r} does not say "
                "which columns hold counts, dollars, averages or percentages, so it cannot be reviewed"
            )
        if "rules" in t.check or "unrounded" in t.check:
            raise ValueError(f"table {t.name!r}: pass rules= to prepare_export and unrounded= to ExportTable, "
                             "not inside check")
    if not isinstance(memo, str) or len(memo.split()) < 20:
        raise ValueError(f"memo must be a text of at least 20 words saying what the tables show and how they "
                         f"were protected, got {memo!r:.80}")
    if not isinstance(code, (str, Path)) or not str(code).strip():
        raise ValueError(f"code must name the notebook or script that produced the tables, got {code!r}")
    return list(tables)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    keep_index = not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None
    frame.to_csv(path, index=keep_index, na_rep="")


def _memo(tables, reports, code_name, code_copied, memo, rules: Rules, files) -> str:
    out = ["# Export request memo", "", memo.strip(), "", "## Tables for release", ""]
    for t in tables:
        title = f" - {t.title}" if t.title else ""
        out.append(f"- `release/{t.name}.csv`{title}: {len(t.table)} rows; columns {', '.join(map(str, t.table.columns))}.")
        checked = ", ".join(RULE_TITLES[r].lower() for r in reports[t.name].checked)
        out.append(f"  Checked with statelab.disclosure.check_table ({checked}): no violations.")
    out += ["", f"## Not for release ({NOT_FOR_RELEASE}/)", "",
            ("Unrounded and unsuppressed versions of the tables, kept for the reviewer only. They must not leave "
             "the enclave."), ""]
    for t in tables:
        out.append(f"- `{NOT_FOR_RELEASE}/{t.name}_unrounded.csv`" if t.unrounded is not None
                   else f"- ({t.name}: no unrounded table supplied)")
    out += ["", "## Code", "",
            f"Produced by `{code_name}`" + (" (a copy is in `code/`)." if code_copied else
                                              " (the file was not found, so only its name is recorded)."),
            "", "## Disclosure thresholds applied", ""]
    out += [f"- {k} = {v}" for k, v in rules.to_dict().items()]
    out += ["", "## Files", ""]
    out += [f"- `{name}` sha256 {digest}" for name, digest in files]
    return "\n".join(out) + "\n"


def prepare_export(
    destination: str | Path,
    tables: Sequence[ExportTable] | ExportTable,
    *,
    code: str | Path,
    memo: str,
    rules: Rules | None = None,
    overwrite: bool = False,
) -> ExportPackage:
    """Check tables and write them, with their unrounded versions, code and memo, as an export package.

    Every table is checked with :func:`check_table` first; if any rule is broken nothing is written and
    :class:`DisclosureError` lists the violations. The package is built in a temporary folder beside
    ``destination`` and renamed into place, so a failure never leaves a half-written package.

    Layout::

        destination/
            memo.md                      the memo, plus generated sections (tables, checks, thresholds)
            rules.toml                   the thresholds used
            manifest.json                every file with its sha256 and whether it may be released
            release/<name>.csv           the rounded, suppressed tables
            code/<file>                  a copy of the notebook or script, when ``code`` is an existing file
            NOT_FOR_RELEASE/README.txt   a warning
            NOT_FOR_RELEASE/<name>_unrounded.csv

    Parameters
    ----------
    destination : str or Path
        The package folder to create. Its parent must exist.
    tables : ExportTable or list of ExportTable
        The tables, each with the :func:`check_table` options describing its columns.
    code : str or Path
        The notebook or script that produced the tables: copied when it is an existing file, otherwise its
        name is recorded.
    memo : str
        What the tables show, the population and period, definitions, and how they were protected
        (aggregation, suppression, rounding). At least 20 words.
    rules : Rules, optional
        Thresholds; the defaults when omitted.
    overwrite : bool
        Replace an existing package at ``destination`` (otherwise it is an error).

    Returns
    -------
    ExportPackage

    Raises
    ------
    DisclosureError
        If a table breaks a rule (nothing is written).
    FileExistsError
        If ``destination`` exists and ``overwrite`` is False.
    """
    r = _rules(rules)
    tables = _validate(tables, code, memo)
    dest = Path(destination)
    if not dest.parent.is_dir():
        raise FileNotFoundError(f"the parent folder of {str(dest)!r} does not exist")
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{str(dest)!r} already exists; choose a new folder or pass overwrite=True")

    reports = {t.name: check_table(t.table, unrounded=t.unrounded, rules=r, **dict(t.check)) for t in tables}
    failed = {name: rep for name, rep in reports.items() if not rep.ok}
    if failed:
        detail = "\n\n".join(f"Table {name!r}: {rep}" for name, rep in failed.items())
        raise DisclosureError(f"export refused, nothing was written: {len(failed)} table(s) break the rules.\n\n{detail}")

    code_path = Path(code)
    code_copied = code_path.is_file()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        (tmp / "release").mkdir()
        (tmp / NOT_FOR_RELEASE).mkdir()
        for t in tables:
            _csv(t.table, tmp / "release" / f"{t.name}.csv")
            if t.unrounded is not None:
                _csv(t.unrounded, tmp / NOT_FOR_RELEASE / f"{t.name}_unrounded.csv")
        (tmp / NOT_FOR_RELEASE / "README.txt").write_text(
            "NOT FOR RELEASE. These files hold unrounded, unsuppressed figures for the disclosure reviewer.\n"
            "They must never leave the secure environment.\n", encoding="utf-8")
        if code_copied:
            (tmp / "code").mkdir()
            shutil.copy2(code_path, tmp / "code" / code_path.name)
        (tmp / "rules.toml").write_text(
            "[disclosure]\n" + "".join(f"{k} = {v!r}\n" for k, v in r.to_dict().items()), encoding="utf-8")
        data_files = sorted(p for p in tmp.rglob("*") if p.is_file())
        digests = [(p.relative_to(tmp).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in data_files]
        (tmp / "memo.md").write_text(
            _memo(tables, reports, code_path.name if code_copied else str(code), code_copied, memo, r, digests),
            encoding="utf-8")
        manifest = {
            "files": [{"path": name, "sha256": digest, "for_release": NOT_FOR_RELEASE not in name.split("/")}
                      for name, digest in digests],
            "tables": [t.name for t in tables],
            "code": str(code),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if dest.exists():  # overwrite: move the old package aside, then swap
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.replace(dest, old / "package")
            try:
                os.replace(tmp, dest)
            except BaseException:
                os.replace(old / "package", dest)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = tuple(sorted(p for p in dest.rglob("*") if p.is_file()))
    return ExportPackage(path=dest, files=files, reports=reports)
