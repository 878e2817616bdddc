"""``statelab-data``: generate, validate and describe synthetic datasets.

Exit codes: 0 success, 1 validation failed (for ``realism``: a measure out of tolerance),
2 bad arguments (bad profile, seed, path or calibration file), 3 the output could not be
written (permissions, full disk, existing dataset without --overwrite, a database that
refused the load).
"""

from pathlib import Path
from typing import Optional

import typer

from ._errors import OutputError, ProfileError, SeedError, StatelabError, ValidationError
from ._dataset import MANIFEST

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Synthetic linked state administrative records for the statelab course.")


def _fail(message, code):
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.command()
def generate(
    profile: str = typer.Option("default", help="Profile: tiny, default or large."),
    seed: Optional[str] = typer.Option(None, help="Root seed, a non-negative integer (default: the course seed)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default: <data root>/<profile>-<seed>)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Worker processes (default: all cores)."),
    truth: bool = typer.Option(True, "--truth/--no-truth", help="Write the hidden truth tables (instructors only)."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset (kept until the new one is complete)."),
    validate: bool = typer.Option(True, "--validate/--no-validate", help="Validate before publishing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    dask: Optional[str] = typer.Option(
        None, help='Run partitions on Dask: "local" (a local cluster of --workers processes) or a scheduler '
                   'address such as tcp://host:8786 whose workers share the output folder.'),
):
    """Generate a dataset and print its folder."""
    from ._generate import generate as run

    try:
        seed_value = None if seed is None else int(seed)
    except ValueError:
        _fail(f"seed must be a non-negative integer, got {seed!r}", 2)
    try:
        path = run(profile, seed=seed_value, out=out, workers=workers, truth=truth, overwrite=overwrite,
                   progress=not quiet, validate=validate, dask=dask)
    except (ProfileError, SeedError, ImportError) as exc:
        _fail(str(exc), 2)
    except OutputError as exc:
        _fail(str(exc), 3)
    except ValidationError as exc:
        _fail(str(exc), 1)
    typer.echo(str(path))


@app.command()
def validate(dataset: Path = typer.Argument(..., help="A dataset folder.")):
    """Check a dataset's files, keys and invariants; list every failure."""
    from ._validate import validate_dataset

    if not (dataset / MANIFEST).exists():
        _fail(f"{dataset} is not a complete dataset (no {MANIFEST})", 2)
    try:
        validate_dataset(dataset)
    except ValidationError as exc:
        _fail(str(exc), 1)
    typer.echo(f"{dataset}: valid")


@app.command("load-postgres")
def load_postgres(
    dataset: Path = typer.Argument(..., help="A dataset folder."),
    dsn: str = typer.Option(..., envvar="STATELAB_DATABASE_ADMIN_URL", show_envvar=True,
                            help="Connection URL of a role that may create schemas (the database owner)."),
    truth: bool = typer.Option(False, "--truth/--no-truth", help="Also load the truth tables (instructors only)."),
    jobs: int = typer.Option(2, min=1, help="Connections working at once."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Load a dataset into a shared PostgreSQL database (replaces the loaded one in one transaction)."""
    from ._errors import DatasetNotFoundError
    from ._postgres import load_postgres as run

    try:
        counts = run(dataset, dsn, truth=truth, jobs=jobs, progress=not quiet)
    except DatasetNotFoundError as exc:
        _fail(str(exc), 2)
    except OutputError as exc:
        _fail(str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - psycopg's errors: the server refused or is unreachable
        if type(exc).__module__.startswith("psycopg"):
            _fail(f"PostgreSQL: {str(exc).strip()}", 3)
        raise
    typer.echo(f"loaded {sum(counts.values()):,} rows in {len(counts)} tables")


@app.command()
def realism(
    dataset: Path = typer.Argument(..., help="A dataset folder (it holds statelab.duckdb)."),
    json_format: bool = typer.Option(False, "--json", help="Machine-readable output."),
    domain: Optional[list[str]] = typer.Option(None, help="Only this domain's targets (labor, ui, ...); repeatable."),
    targets: Optional[Path] = typer.Option(None, help="A folder of calibration TOML files (default: the packaged ones)."),
):
    """Compare a dataset with published figures: measure, published, generated, in or out.

    Exit status 1 when any measure is out of tolerance (or has no data), 2 on bad arguments or target files.
    """
    import json

    from ._errors import CalibrationError, DatasetNotFoundError
    from ._realism import realism as run

    if not dataset.is_dir():
        _fail(f"{dataset} is not a folder; give a dataset folder made by `statelab-data generate`", 2)
    try:
        table = run(dataset, domain=domain or None, targets_dir=targets)
    except (DatasetNotFoundError, CalibrationError) as exc:
        _fail(str(exc), 2)
    n_in = int(table["ok"].sum())
    if json_format:
        records = json.loads(table.to_json(orient="records"))
        typer.echo(json.dumps({"dataset": str(dataset), "in": n_in, "out": len(table) - n_in,
                               "targets": records}, indent=2))
    else:
        from ._realism import people_table

        # Result first: the column a reader scans; the long measure titles last so the table stays aligned.
        shown = people_table(table)[["Result", "Published", "Generated", "Accepted range", "Measure"]]
        widths = {c: max(len(c), *(len(v) for v in shown[c])) for c in shown.columns}
        left = {"Result", "Measure"}             # words read left-aligned, numbers right-aligned
        for row in [dict(zip(shown.columns, shown.columns)), *shown.to_dict("records")]:
            typer.echo("  ".join(row[c].ljust(widths[c]) if c in left else row[c].rjust(widths[c])
                                 for c in shown.columns).rstrip())
        typer.echo(f"\n{n_in} of {len(table)} measures within tolerance; {len(table) - n_in} out.")
    if n_in < len(table):
        raise typer.Exit(1)


@app.command()
def codebook(json_format: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Print the codebook of every learner table."""
    import json

    from ._codebook import codebook_dict, codebook_markdown

    typer.echo(json.dumps(codebook_dict(), indent=2) if json_format else codebook_markdown())


@app.command()
def profiles():
    """List the available profiles and their sizes."""
    from ._profiles import available_profiles, load_profile

    for name in available_profiles():
        s = load_profile(name)["size"]
        typer.echo(f"{name:10s} {s['people']:>12,} people  {s['partitions']:>5} partitions")


def main():
    try:
        app()
    except StatelabError as exc:            # anything not mapped above
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
