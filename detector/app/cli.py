"""The ``detector`` command line: parse options, call the library, report in one line."""

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from detector.errors import DetectorError


def _tidy(param) -> None:
    """Help that names what to give, not Python's types: a flag shows no type (not
    ``<bool>``), a list of paths ``FILE`` and of names ``NAME`` (not ``<list[Path]>``)."""
    described = getattr(param, "type_descriptor", None)
    if getattr(param, "is_flag", False):
        param.metavar = ""
    elif described is not None and described.is_list:
        param.metavar = "FILE" if "Path" in str(described.annotation) else "NAME"
        if isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = lambda ctx: None  # the name says it all


class _Group(typer.core.TyperGroup):
    """The command group, each command's help tidied (``_tidy``)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            _tidy(param)
        return params

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            for param in command.get_params(ctx):
                _tidy(param)
        return command


app = typer.Typer(
    cls=_Group,
    name="detector",
    help="Fraud and undervaluation detection for customs declarations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# A report read in a log file or a pipe gets room for its tables.
# Numbers are printed as written: no highlighter splitting 300,000 or styling "(s)".
# Written to a log (not a terminal), a line is never wrapped: an operator greps it whole.
out = Console(
    width=None if sys.stdout.isatty() else 160,
    soft_wrap=not sys.stdout.isatty(),
    highlight=False,
)
# What a command was asked for (the card of explain, the metrics of evaluate, the tables
# of monitor and simulate): shown under --quiet too, which silences the lines about the run.
answer = Console(
    width=None if sys.stdout.isatty() else 160,
    soft_wrap=not sys.stdout.isatty(),
    highlight=False,
)
err = Console(
    stderr=True,
    width=None if sys.stderr.isatty() else 160,
    soft_wrap=not sys.stderr.isatty(),
    highlight=False,
)

Schema = Annotated[
    str,
    typer.Option("--schema", help="Schema profile: canonical, kcs, or a TOML file of yours."),
]


def _version(value: bool) -> None:
    if value:
        from detector import __version__

        out.print(f"detector {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only warnings, errors and what the command was asked for (the card "
            "of explain, the metrics of evaluate, the tables of monitor and simulate), not "
            "the lines about the run.",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="On an unexpected failure, print its details too."),
    ] = False,
) -> None:
    """Fraud and undervaluation detection for customs declarations."""
    out.quiet = quiet
    _VERBOSE[0] = verbose


class Terminated(BaseException):
    """SIGTERM: unwind like an interrupt, so that no work folder or partial file stays."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


@contextmanager
def _boundary() -> Iterator[None]:
    """Turn the library's errors into one sentence and an exit code."""
    try:
        yield
    except DetectorError as exc:
        err.print(f"error: {_plain(str(exc))}", markup=False, soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except (KeyboardInterrupt, Terminated) as exc:
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        err.print(f"{what}; no output was written.")
        raise typer.Exit(code=130 if isinstance(exc, KeyboardInterrupt) else 143) from None
    except (typer.Exit, typer.Abort, SystemExit, GeneratorExit):
        raise
    except BrokenPipeError:
        # The reader of the output went away (``| head``): stop quietly, with code 1 as
        # rich does for what it prints; what is left to print goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(code=1) from None
    except BaseException as exc:  # the last line of defence, Polars' panics included
        log = _failure_log(exc)
        if _VERBOSE[0]:
            import traceback

            err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False)
        first = _plain(str(exc).strip().splitlines()[0] if str(exc).strip() else "")[:200]
        err.print(
            f"unexpected failure ({type(exc).__name__}: {first}); the details are in {log}; "
            "please report it with the command you ran.",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None


#: Whether an unexpected failure also prints its traceback (-v).
_VERBOSE = [False]


def _failure_log(exc: BaseException) -> str:
    """Write the whole traceback to a file of its own; the console gets one sentence."""
    import tempfile
    import traceback

    try:
        fd, name = tempfile.mkstemp(
            prefix=f"detector-failure-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt"
        )
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"detector {' '.join(sys.argv[1:])}\n\n")
            handle.write("".join(traceback.format_exception(exc)))
        return name
    except OSError:
        return "no file (the temporary folder is not writable)"


def _outcome(row: dict, suffix: str) -> str:
    """An inspection outcome as an investigator says it: fraud=1 (undervaluation)."""
    kind = row.get(f"fraud_type{suffix}")
    return f"fraud={row[f'fraud{suffix}']}" + (f" ({kind})" if kind else "")


def _changes(row: dict) -> str:
    """What a corrected outcome changes: fraud 1 -> 0, note - -> seal ok."""
    fields = [k for k in row if f"{k}_stored" in row]
    changes = []
    for k in fields:
        was, now = row[f"{k}_stored"], row[k]
        if was == now:
            continue
        shown = _number(was), _number(now)
        if shown[0] == shown[1]:  # a change the rounding would hide: shown in full
            shown = str(was), str(now)
        changes.append(f"{k} {shown[0]} -> {shown[1]}")
    return ", ".join(changes)


def _say(console: Console, text: str) -> None:
    """Print a line holding data: escape sequences shown, markup not read."""
    console.print(_plain(text), markup=False, soft_wrap=True)


def _plain(text: str, limit: int = 2_000) -> str:
    """Text fit for a terminal: control characters (escape sequences) shown, not obeyed;
    no longer than ``limit`` characters (a sentence quoting a hostile value must not
    flood an operator's log)."""
    if len(text) > limit:
        text = text[: limit - 40] + f"... ({len(text):,} characters in all)"
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text
    )


@contextmanager
def _steps(what: str) -> Iterator:
    """A spinner naming the step under way, with the time it has taken; on a terminal only."""
    if not err.is_terminal:
        yield lambda text: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    shown = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with shown:
        task = shown.add_task(f"{what}: starting", total=None)

        def step(text: str) -> None:
            shown.update(task, description=f"{what}: {text}")

        yield step


#: What each pass of a scoring does, as the progress display says it.
_PASSES = {
    "read": "reading and validating",
    "score": "features and scores",
    "rescore": "the whole classifier on the candidates",
    "explain": "reasons of the listed rows",
}


@contextmanager
def _progress() -> Iterator:
    """A bar per pass, shown from the pass's start: what it does, pieces, rows, rows a
    second over its time so far; on a terminal only."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<42}"),
        BarColumn(),
        TextColumn("{task.fields[pieces]} pieces"),
        TextColumn("{task.completed:>12,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    tasks: dict[str, object] = {}
    done: dict[str, int] = {}

    def advance(stage: str, pieces: int, rows: int) -> None:
        if stage not in tasks:
            what = f"{stage}: {_PASSES.get(stage, stage)}"
            tasks[stage] = bar.add_task(what, total=None, pieces="0", rate="")
            done[stage] = 0
        done[stage] += pieces
        bar.advance(tasks[stage], rows)
        task = bar.tasks[tasks[stage]]
        rate = f"{task.completed / task.elapsed:,.0f} rows/s" if task.elapsed and rows else ""
        bar.update(tasks[stage], pieces=f"{done[stage]:,}", rate=rate or task.fields["rate"])

    with bar:
        yield advance


def _profile_file(schema: str | None) -> list[tuple[str, Path]]:
    """A schema profile of the user's is an input too: no output may replace it."""
    return [("the schema profile", Path(schema))] if schema and Path(schema).is_file() else []


@app.command(epilog="Example: detector generate --rows 300000 --seed 1 --out year.parquet")
def generate(
    out_file: Annotated[Path, typer.Option("--out", help="Output file, .csv or .parquet.")],
    rows: Annotated[int, typer.Option(help="Number of declarations.", min=1)] = 100_000,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed; same seed, same file. Each call makes a world of its own "
            "(importers, sellers, their schemes): --start and --days do not continue "
            "another call's year; to score days a model has not seen, generate one "
            "year and split it by date."
        ),
    ] = 0,
    start: Annotated[str, typer.Option(help="First declaration date, YYYY-MM-DD.")] = "2025-01-01",
    days: Annotated[int, typer.Option(help="Number of days covered.", min=1)] = 365,
) -> None:
    """Generate a synthetic year of declarations with known fraud."""
    with _boundary():
        from detector.io.output import check_outputs, write_table
        from detector.synthetic.generate import generate_declarations

        check_outputs([("--out", out_file, "table")])
        _declarations_file(out_file)
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


def _declarations_file(path: Path | None) -> None:
    """Declarations are written where the engine reads them back: not as a workbook."""
    if path is not None and path.suffix.lower() == ".xlsx":
        raise DetectorError(
            f"--out {path}: declarations are written as .csv or .parquet (or a folder), "
            "which the engine reads back; a workbook is for a scored list."
        )


@app.command(epilog="Example: detector validate day.csv --rejects rejected.csv")
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
        from detector.io.ingest import read_declarations, reject_tally
        from detector.io.output import check_outputs, write_table

        check_outputs(
            [("--out", out_file, "table"), ("--rejects", rejects, "table")],
            inputs=[("the input", f) for f in files] + _profile_file(schema),
        )
        _declarations_file(out_file)
        batch = read_declarations(files, schema)
        if out_file is not None:
            write_table(batch.accepted, out_file)
        if rejects is not None:
            write_table(batch.rejects, rejects)
        _say(out, batch.summary())
        for reason, n in reject_tally(batch.rejects)[:10]:
            _say(out, f"  {n:>8,}  {reason}")


Model = Annotated[Path, typer.Option("--model", help="The model file (.joblib or .skops).")]
Store = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Label store folder: flagged lists and inspection outcomes (what its "
        "exploration picks found sets the share of the list spent on exploration).",
    ),
]
Trust = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Load a .joblib model written by another installation. Loading runs code: "
        "only for a file whose origin you know.",
    ),
]


def _metrics_table(metrics: dict, title: str):
    """Metrics as rows, capacity levels as columns: narrow enough for any terminal."""
    from rich.table import Table

    levels = list(metrics["at"])
    table = Table(title=title)
    table.add_column("at capacity", no_wrap=True)
    for level in levels:
        table.add_column(level, justify="right", no_wrap=True)
    rows = [
        ("inspected", lambda r: f"{r['inspected']:,}"),
        ("precision", lambda r: f"{r['precision']:.3f}"),
        ("recall", lambda r: f"{r['recall']:.3f}"),
    ]
    if any("revenue" in r for r in metrics["at"].values()):
        rows.append(("revenue share", lambda r: f"{r.get('revenue', 0):.3f}"))
    for scheme in metrics.get("schemes", {}):
        rows.append((f"recall {scheme}", lambda r, s=scheme: f"{r['recall_by_scheme'][s]:.3f}"))
    for name, cell in rows:
        table.add_row(name, *[cell(metrics["at"][level]) for level in levels])
    auc = metrics.get("auc")
    table.caption = (
        f"{metrics['rows']:,}\u00a0rows, {metrics['frauds']:,}\u00a0frauds "
        f"({metrics.get('basis', '')})"
        + (f"; AUC\u00a0{auc:.4f}" if auc is not None else "")
        + ". The model's ranking alone: `score --top` also gives a share of the capacity "
        "to exploration picks."
    )
    return table


def _backtest_table(result: dict, title: str):
    """One row per fold, then the mean and the spread."""
    from rich.table import Table

    names = [
        n
        for n in ("p@1%", "p@2%", "p@5%", "p@10%", "r@5%", "r@10%", "rev@5%", "auc")
        if n in result["mean"]
    ]
    table = Table(title=title)
    for column in ("period", "trained on", "measured", *names):
        table.add_column(column, justify="right", no_wrap=True)
    for fold in result["folds"]:
        at = {}
        for level, row in fold["at"].items():
            at |= {f"p@{level}": row["precision"], f"r@{level}": row["recall"]}
            at |= {f"rev@{level}": row["revenue"]} if "revenue" in row else {}
        at["auc"] = fold.get("auc")
        table.add_row(
            fold["fold"],
            f"{fold['train_rows']:,}",
            f"{fold['rows']:,}",
            *[f"{at[n]:.3f}" if at.get(n) is not None else "-" for n in names],
        )
    table.add_row("mean", "", "", *[f"{result['mean'][n]:.3f}" for n in names])
    table.add_row("spread (sd)", "", "", *[f"{result['spread'][n]:.3f}" for n in names])
    table.caption = "Each period is measured by a model fitted on every month before it."
    return table


@app.command(epilog="Example: detector train history/*.parquet --model model.joblib")
def train(
    files: Annotated[list[Path], typer.Argument(help="Training declarations (CSV/Parquet).")],
    model: Model,
    schema: Schema = "canonical",
    valid: Annotated[
        list[Path] | None,
        typer.Option(help="Validation declarations; default: the last 20 % of the period."),
    ] = None,
    store: Store = None,
) -> None:
    """Train a model on labelled declarations and save it with its metadata."""
    with _boundary():
        from detector.app.pipeline import train as run
        from detector.io.output import check_outputs

        check_outputs(
            [("--model", model, "model")],
            inputs=[("the input", f) for f in [*files, *(valid or [])]] + _profile_file(schema),
            store=store,
        )
        with _steps("train") as step:
            meta = run(files, model, schema=schema, valid=valid, store=store, step=step)
        rows = meta["rows"]
        out.print(_read_line(rows["read"], rows["rejected"], "accepted"), markup=False)
        if "valid_read" in rows:
            out.print(
                _read_line(rows["valid_read"], rows["valid_rejected"], "accepted for validation"),
                markup=False,
            )
        if rows.get("valid_in_training"):
            _say(
                err,
                f"warning: {rows['valid_in_training']:,} of the validation declarations are "
                "also among the training declarations: the validation measures rows the "
                "model learned from; give validation files of other days",
            )
        if store is not None:
            in_valid = rows.get("valid_labels_from_store")
            of_valid = "" if in_valid is None else f" ({in_valid:,} of them validation rows)"
            out.print(
                f"{rows['labels_from_store']:,} declarations labelled from the store "
                f"{store}{of_valid}",
                markup=False,
            )
            matched = rows.get("outcomes_matched", rows["labels_from_store"])
            unmatched = rows["outcomes_in_store"] - matched
            if unmatched > 0:
                _say(
                    err,
                    f"warning: {unmatched:,} of the store's {rows['outcomes_in_store']:,} "
                    "outcomes match no declaration of the input: the files of the days they "
                    "were scored from are not among the inputs; add them to train on those "
                    "outcomes",
                )
        out.print(
            f"trained on {rows['trained']:,} declarations ({rows['labelled']:,} labelled) "
            f"from {meta['training_period'][0]} to {meta['training_period'][1]}; "
            f"risk scores calibrated on the latest {rows['calibration']:,} labelled, "
            f"from {meta['calibration_period'][0]}; saved {model}",
            markup=False,
        )
        if meta["validation"]:
            out.print(_metrics_table(meta["validation"], "validation"))


ScoredList = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Scored list: .csv, .parquet, .xlsx, or a folder (no suffix) of Parquet "
        "files partitioned by declaration date.",
    ),
]
Top = Annotated[
    str | None, typer.Option(help="Inspection capacity: a number (500) or a share (5%).")
]
ModelSchema = Annotated[
    str | None,
    typer.Option(
        help="Schema profile: canonical, kcs, or a TOML file of yours; default: the model's."
    ),
]
Report = Annotated[Path | None, typer.Option(help="Write the investigators' HTML report here.")]
Workers = Annotated[int, typer.Option(help="Pieces scored at once: processes, or Dask workers.")]


class BackendName(StrEnum):
    loky = "loky"
    dask = "dask"


Backend = Annotated[
    BackendName, typer.Option(help="loky (processes on this machine) or dask (a cluster).")
]
Scheduler = Annotated[
    str | None, typer.Option(help="Address of a Dask scheduler; without it, a local cluster.")
]
PieceRows = Annotated[
    int | None,
    typer.Option(
        help="Rows per piece (memory follows it); default 1,000,000 shared among "
        "the workers of this machine.",
        min=1_000,
    ),
]


@app.command(
    epilog="Example: detector score day.csv --model model.joblib --out flagged.xlsx "
    "--top 5% --report day.html"
)
def score(
    files: Annotated[list[Path], typer.Argument(help="Declarations to score.")],
    model: Model,
    out_file: ScoredList,
    top: Top = None,
    rejects: Annotated[Path | None, typer.Option(help="Write rejected rows here.")] = None,
    schema: ModelSchema = None,
    trust: Trust = False,
    store: Store = None,
    report: Report = None,
    workers: Workers = 1,
    backend: Backend = BackendName.loky,
    scheduler: Scheduler = None,
    piece_rows: PieceRows = None,
) -> None:
    """Score declarations: a ranked list with reasons, sized to the inspection capacity.

    Large inputs are read and scored a piece (about a million rows) at a time; with
    --workers the pieces run in parallel, with --backend dask on a Dask cluster.
    """
    with _boundary():
        from detector.app.pipeline import score_to_files
        from detector.batch.stream import Runner
        from detector.io.output import check_outputs

        check_outputs(
            [
                ("--out", out_file, "table"),
                ("--rejects", rejects, "table"),
                ("--report", report, "html"),
            ],
            inputs=[("the input", f) for f in files] + _profile_file(schema),
            model=model,
            store=store,
        )
        with _progress() as progress:
            runner = Runner(workers, backend.value, scheduler, progress=progress)
            lines, warnings = score_to_files(
                files,
                model,
                out_file,
                schema=schema,
                top=top,
                trust=trust,
                runner=runner,
                piece_rows=piece_rows,
                rejects=rejects,
                report=report,
                store=store,
            )
        # Every file is in place before the first line is printed: a closed pipe
        # (`| head`) can stop the printing, never the work.
        for line in lines:
            _say(out, line)
        for warning in warnings:
            _say(err, f"warning: {warning}")


@app.command(epilog="Example: detector evaluate labelled.parquet --model model.joblib --backtest")
def evaluate(
    files: Annotated[list[Path], typer.Argument(help="Labelled declarations.")],
    model: Model,
    schema: Annotated[
        str | None,
        typer.Option(
            help="Schema profile: canonical, kcs, or a TOML file of yours; default: the model's."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    trust: Trust = False,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="Refit the model's configuration on every month before each of the last "
            "periods and measure the period: how it would have done, fold by fold.",
        ),
    ] = False,
    folds: Annotated[
        int | None, typer.Option(min=1, help="Backtest periods (with --backtest; 3).")
    ] = None,
    months: Annotated[
        int | None, typer.Option(min=1, help="Months in each backtest period (with --backtest; 3).")
    ] = None,
) -> None:
    """Precision, recall and revenue at 1, 2, 5 and 10 % of the ranking, per scheme."""
    with _boundary():
        import json

        from detector.app.pipeline import evaluate as run

        if not backtest and (folds is not None or months is not None):
            raise DetectorError(
                "--folds and --months size a backtest; add --backtest, or leave them out."
            )
        metrics = run(
            files,
            model,
            schema=schema,
            trust=trust,
            folds=(folds or 3) if backtest else None,
            months=months or 3,
        )
        if as_json:
            print(json.dumps(metrics, indent=2, default=str))
        elif backtest:
            answer.print(_backtest_table(metrics, f"backtest of the configuration of {model}"))
        else:
            out.print(_read_line(metrics["read"], metrics["rejected"], "measured"), markup=False)
            answer.print(_metrics_table(metrics, f"evaluation of {model}"))


@app.command(epilog="Example: detector explain 25100800076875 --model model.joblib --input day.csv")
def explain(
    declaration_id: Annotated[str, typer.Argument(help="The declaration to explain.")],
    model: Model,
    input_files: Annotated[list[Path], typer.Option("--input", help="Where the declaration is.")],
    schema: Annotated[
        str | None,
        typer.Option(
            help="Schema profile: canonical, kcs, or a TOML file of yours; default: the model's."
        ),
    ] = None,
    trust: Trust = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON.")] = False,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Label store folder the list was recorded in: how the declaration was "
            "listed (by the model or as an exploration pick) and its rank in that list.",
        ),
    ] = None,
) -> None:
    """One declaration's case card: values, peer prices, route, histories, reasons."""
    with _boundary():
        import json

        from detector.app.pipeline import explain as run

        with _steps("explain") as step:
            card = run(
                declaration_id,
                model,
                input_files,
                schema=schema,
                trust=trust,
                store=store,
                step=step,
            )
        if as_json:  # JSON escapes control characters itself
            print(json.dumps(_jsonable(card), indent=2, default=str, allow_nan=False))
            return
        currency = (card.get("declaration") or {}).get("currency")
        for section, values in card.items():
            answer.print(f"[bold]{section}[/bold]")
            if isinstance(values, list):
                for v in values:
                    answer.print(f"  - {_plain(str(v))}", markup=False)
                continue
            if isinstance(values, str):
                answer.print(f"  {_plain(values)}", markup=False)
                continue
            for key, value in values.items():
                unit = _money_unit(key, currency)
                if isinstance(value, dict):
                    shown = ", ".join(f"{k} {_number(v)}" for k, v in value.items())
                    answer.print(f"  {key}: {shown}{f' ({unit})' if unit else ''}", markup=False)
                else:
                    shown = _number(value) + (f" {unit}" if unit and value is not None else "")
                    answer.print(f"  {key}: {_plain(shown)}", markup=False)


#: The card's money figures, and its prices per tonne: shown with the currency.
_MONEY_KEYS = {"customs_value", "revenue_at_stake", "duty_at_stake"}
_PER_TON_KEYS = {"percentiles_per_ton", "this_declaration_per_ton", "its_median_per_ton"}


def _money_unit(key: str, currency: str | None) -> str | None:
    if not currency or currency == "-":
        return None
    if key in _MONEY_KEYS:
        return currency
    return f"{currency}/t" if key in _PER_TON_KEYS else None


#: The card's keys that hold counts: written as whole numbers, not 5.0.
_COUNT_KEY = re.compile(
    r"(_n|_n_before|_inspected_before|_fraud_before|declarations|inspections|frauds)$"
)


def _jsonable(value, key: str = ""):
    """A card as strict JSON: a missing number (NaN) is null, a count a whole number."""
    if isinstance(value, dict):
        return {k: _jsonable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value.is_integer() and _COUNT_KEY.search(key):
        return int(value)
    return value


def _number(value) -> str:
    """A value as an investigator reads it: grouped digits, no exponent, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if value != value:  # a missing number
        return "-"
    if value.is_integer() and abs(value) < 1e15:  # a count, a whole amount: no decimals
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4f}"


@app.command(epilog="Example: detector feedback flagged.xlsx --store labels/")
def feedback(
    outcomes: Annotated[
        Path,
        typer.Argument(
            help="Inspection outcomes (CSV, Parquet, or the list's .xlsx workbook filled "
            "in): declaration_id, inspected, fraud, "
            "fraud_type, revenue_recovered, note, inspected_on."
        ),
    ],
    store: Annotated[Path, typer.Option("--store", help="Label store folder.")],
    rejects: Annotated[Path | None, typer.Option(help="Write rejected rows here.")] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Where this file's outcome for a declaration differs from the stored "
            "one, store this file's (a corrected outcome); without it the stored one is kept.",
        ),
    ] = False,
) -> None:
    """Add investigators' inspection outcomes to the label store."""
    with _boundary():
        from detector.app.labels import LabelStore
        from detector.io.ingest import REJECT_REASON
        from detector.io.output import check_outputs, write_table

        check_outputs(
            [("--rejects", rejects, "table")],
            inputs=[("the outcomes file", outcomes)],
            store=store,
        )
        created = not Path(store).exists()  # a mistyped --store must not pass unseen
        result = LabelStore(store).add_outcomes(outcomes, replace=replace)
        if rejects is not None:  # written even when empty: its header says nothing was rejected
            write_table(result.rejects, rejects)
        _say(out, result.summary())
        for row in result.conflicts.head(10).iter_rows(named=True):
            was, now = _outcome(row, "_stored"), _outcome(row, "")
            if replace:
                _say(err, f"replaced: {row['declaration_id']}: {_changes(row)}")
            else:
                # What else differs than the finding both sides name (the revenue, the
                # date, the note): said too, or the two would read alike.
                said = ("fraud", "fraud_stored", "fraud_type", "fraud_type_stored")
                more = _changes({k: v for k, v in row.items() if k not in said})
                _say(
                    err,
                    f"conflict: {row['declaration_id']} is stored as {was}, this file says "
                    f"{now}{f' ({more})' if more else ''}; the stored outcome was kept (rerun "
                    "with --replace to store this file's)",
                )
        # A workbook's rows as the spreadsheet numbers them (its header is row 1).
        sheet = outcomes.suffix.lower() == ".xlsx"
        for row in result.rejects.head(10).iter_rows(named=True):
            at = row.get("input_row")
            line = f"sheet row {at + 1}" if sheet and isinstance(at, int) else f"row {at}"
            where = f"{line}, declaration {row.get('declaration_id')}"
            _say(err, f"rejected: {where}: {row[REJECT_REASON]}")
        if created:
            _say(out, f"created the label store {store}")


@app.command(epilog="Example: detector monitor --store labels/ --report monitor.html")
def monitor(
    store: Annotated[Path, typer.Option("--store", help="Label store folder.")],
    report: Annotated[
        Path | None, typer.Option(help="Write the hit-rate chart and table as HTML here.")
    ] = None,
) -> None:
    """Hit rate of model-selected versus exploration inspections, month by month."""
    with _boundary():
        from rich.table import Table

        from detector.app.labels import LabelStore
        from detector.io.output import check_outputs

        if not store.is_dir():
            # A mistyped or unmounted path would read as a store with no outcomes yet.
            raise DetectorError(f"Label store {store} does not exist; check the --store path.")
        check_outputs([("--report", report, "html")], store=store)
        labels = LabelStore(store)
        rates, currency = labels.hit_rates(), labels.currency
        if rates.height == 0:
            held = labels.outcomes().height
            if held:
                # Reported as not inspected: their inspection's outcome replaces them.
                none = f"{held:,} outcomes, none of them" if held > 1 else "1 outcome, not"
                raise DetectorError(
                    f"Label store {store} holds {none} inspected yet; once inspected, add "
                    "what was found with `detector feedback OUTCOMES --store DIR --replace`."
                )
            raise DetectorError(
                f"Label store {store} holds no inspection outcomes yet; add them with "
                "`detector feedback OUTCOMES --store DIR`."
            )
        table = Table(title=f"inspections by selection, {store}")
        revenue = f"revenue ({currency})" if currency else "revenue"
        for name in ("month", "selection", "inspected", "frauds", "hit rate", revenue):
            table.add_column(name, justify="left" if name in ("month", "selection") else "right")
        for r in rates.iter_rows(named=True):
            table.add_row(
                r["month"].strftime("%Y-%m") if r["month"] else "undated",
                r["selection"],
                f"{r['inspected']:,}",
                f"{r['frauds']:,}",
                f"{r['hit_rate']:.1%}",
                f"{r['revenue_recovered'] or 0:,.0f}",
            )
        answer.print(table)
        from detector.models import ModelConfig, exploration_reading

        reading = (
            f"by the default policy {ModelConfig().selection_policy} at its default share, "
            + exploration_reading(labels.exploration_record(), ModelConfig())
        )
        out.print(f"the next list's exploration, {reading}", markup=False)
        if report is not None:
            from detector.app.report import write_monitor_report

            write_monitor_report(
                rates, report, store=str(store), currency=currency, exploration=reading
            )
            out.print(f"wrote {report}", markup=False)


@app.command(epilog="Example: detector demo --out demo-out")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "demo-out"
    ),
    rows: Annotated[int, typer.Option(help="Declarations in the synthetic year.")] = 300_000,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic year.")] = 1,
) -> None:
    """Generate a synthetic year, train on months 1-9, score months 10-12, report."""
    with _boundary():
        from detector.app.demo import run_demo

        # On a terminal the lines go through the spinner's console, which prints them
        # above the spinner instead of over it.
        console = err if err.is_terminal and out.is_terminal else out
        with _steps("demo") as step:
            run_demo(out_dir, rows=rows, seed=seed, console=console, step=step)


def _simulation_table(sim):
    """What each policy found over the whole replay: one row per policy, then the recall
    of each scheme with a column per policy (narrow enough for any terminal)."""
    import polars as pl
    from rich.table import Table

    currency = f" ({sim.currency})" if sim.currency else ""
    table = Table(
        title=f"replay of {sim.months[0]:%Y-%m}..{sim.months[-1]:%Y-%m} at "
        f"{sim.options.capacity:g}% capacity, {sim.options.retrain} retraining"
    )
    table.add_column("policy", no_wrap=True)
    for name in ("inspected", "frauds", "precision", f"revenue{currency}", "fraud found"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("exploration hit rate", justify="right")
    measures = {name: sim.measure(name) for name in sim.options.policies}
    for name, m in measures.items():
        rates = sim.hit_rates(name).filter(pl.col("selection") == "exploration")
        picks = int(rates["inspected"].sum()) if rates.height else 0
        hit = f"{int(rates['frauds'].sum()) / picks:.1%}" if picks else "-"
        table.add_row(
            name + (" (default)" if name == sim.default else ""),
            f"{m['inspected']:,}",
            f"{m['frauds']:,}",
            "-" if m["precision"] is None else f"{m['precision']:.1%}",
            "-" if m["revenue"] is None else f"{m['revenue']:,.0f}",
            "-" if m["coverage"] is None else f"{m['coverage']:.1%}",
            hit,
        )
    table.caption = (
        f'Outcomes from the {sim.basis}; {sim.fits} models fitted. "fraud found" is the '
        "share of the replayed months' fraud that the policy's inspections revealed."
    )
    recall = Table(title="recall of each scheme: its frauds the policy's inspections found")
    recall.add_column("scheme", no_wrap=True)
    for name in measures:
        recall.add_column(name, justify="right", no_wrap=True)
    for kind in sim.fraud_types:
        recall.add_row(
            kind, *[f"{m['recall_by_type'].get(kind, 0):.1%}" for m in measures.values()]
        )
    # Labels that name no scheme (the Korean data's) have no such table to show.
    return (table, recall) if sim.fraud_types else (table,)


@contextmanager
def _replay_progress(policies: int) -> Iterator:
    """A line per month of the replay: the month, the policy, what it found; terminal only."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<48}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    found: dict[str, int] = {}
    with bar:
        task = bar.add_task("replay: reading the declarations", total=None)

        def on_start(months) -> None:
            bar.update(task, total=len(months) * policies, description="replay: first models")

        def on_month(month, name, chosen) -> None:
            found[name] = found.get(name, 0) + int(chosen["__y"].sum() or 0)
            text = f"{month:%Y-%m} {name}: {found[name]:,} frauds so far"
            bar.update(task, advance=1, description=f"replay {text}")

        yield on_start, on_month


@app.command(epilog="Example: detector simulate year.parquet --capacity 5% --report replay.html")
def simulate(
    files: Annotated[list[Path], typer.Argument(help="Labelled declarations (CSV/Parquet).")],
    capacity: Annotated[
        str, typer.Option(help="Inspection capacity, a share of each month's declarations (5%).")
    ],
    schema: Schema = "canonical",
    start: Annotated[
        str | None,
        typer.Option(
            help="First month replayed, YYYY-MM; the months before train the "
            "first model. Default: the fourth month of the data."
        ),
    ] = None,
    retrain: Annotated[str, typer.Option(help="monthly or quarterly.")] = "monthly",
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help="A selection policy (repeat for several): exploit, random-explore, "
            "novelty-explore, segment-bandit, scheme-explore, scheme-adapt. Default: "
            "exploit, random-explore and the default policy (scheme-adapt).",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON here.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the curves and tables as HTML here.")
    ] = None,
) -> None:
    """Replay a labelled period month by month at fixed capacity under selection policies:
    each policy's model learns only from the labels of what that policy selected."""
    with _boundary():
        import json

        from detector.app.simulate import SimulationOptions, simulate_files
        from detector.io.output import atomic_path, check_outputs

        check_outputs(
            [("--json", json_out, "json"), ("--report", report, "html")],
            inputs=[("the input", f) for f in files] + _profile_file(schema),
        )
        options = SimulationOptions.parse(capacity, policies=policy, retrain=retrain, start=start)
        with _replay_progress(len(options.policies)) as (on_start, on_month):
            sim = simulate_files(
                files, options, schema=schema, on_start=on_start, on_month=on_month
            )
        if json_out is not None:
            with atomic_path(json_out) as tmp:
                tmp.write_text(json.dumps(sim.to_json(), indent=1) + "\n", encoding="utf-8")
        if report is not None:
            from detector.app.report import write_simulation_report

            write_simulation_report(sim, report)
        if sim.read is not None:
            out.print(_read_line(sim.read, sim.rejected, "replayed"), markup=False)
        for table in _simulation_table(sim):
            answer.print(table)
        for path in (json_out, report):
            if path is not None:
                out.print(f"wrote {path}", markup=False)


def _read_line(read: int, rejected: int, used: str) -> str:
    """Rows read = used + rejected, and what to do about the rejected ones."""
    line = f"read {read:,} rows = {read - rejected:,} {used} + {rejected:,} rejected"
    if rejected:
        line += " (not used: `detector validate FILE --rejects R.csv` lists them with reasons)"
    return line


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app(prog_name="detector")


if __name__ == "__main__":
    sys.exit(main())
