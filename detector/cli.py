"""The ``detector`` command line: parse options, call the library, report in one line."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from detector._errors import DetectorError

app = typer.Typer(
    name="detector",
    help="Fraud and undervaluation detection for customs declarations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

Schema = Annotated[
    str,
    typer.Option("--schema", help="Schema profile: canonical, kcs, or a TOML file of yours."),
]


@contextmanager
def _boundary() -> Iterator[None]:
    """Turn the library's errors into one sentence and an exit code."""
    try:
        yield
    except DetectorError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted; no output was written.")
        raise typer.Exit(code=130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # the last line of defence: no traceback for the operator
        err.print(
            f"unexpected failure ({type(exc).__name__}: {exc}); "
            "please report it with the command you ran.",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None


@app.command()
def generate(
    out_file: Annotated[Path, typer.Option("--out", help="Output file, .csv or .parquet.")],
    rows: Annotated[int, typer.Option(help="Number of declarations.", min=1)] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = 0,
    start: Annotated[str, typer.Option(help="First declaration date, YYYY-MM-DD.")] = "2025-01-01",
    days: Annotated[int, typer.Option(help="Number of days covered.", min=1)] = 365,
) -> None:
    """Generate a synthetic year of declarations with known fraud."""
    with _boundary():
        from detector.generate import generate_declarations
        from detector.output import write_table

        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise DetectorError(f"--start '{start}' is not a date; use YYYY-MM-DD.") from None
        df = generate_declarations(rows=rows, seed=seed, start=first, days=days)
        write_table(df, out_file)
        frauds = df["true_fraud"].sum()
        out.print(
            f"wrote {df.height:,} declarations to {out_file} "
            f"({frauds:,} fraudulent, {df['inspected'].sum():,} inspected)"
        )


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files, folders or globs.")],
    schema: Schema = "canonical",
    rejects: Annotated[
        Path | None, typer.Option(help="Write rejected rows with their reasons here.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the accepted canonical rows here.")
    ] = None,
) -> None:
    """Map declarations onto the canonical schema and report what would be rejected."""
    with _boundary():
        from detector.ingest import read_declarations, reject_tally
        from detector.output import write_table

        batch = read_declarations(files, schema)
        if out_file is not None:
            write_table(batch.accepted, out_file)
        if rejects is not None:
            write_table(batch.rejects, rejects)
        out.print(batch.summary(), markup=False, soft_wrap=True)
        for reason, n in reject_tally(batch.rejects)[:10]:
            out.print(f"  {n:>8,}  {reason}", markup=False)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="detector")


if __name__ == "__main__":
    sys.exit(main())
