"""Writing tables: format by suffix, atomically (a temporary file, then a rename).

A path without a suffix (or an existing folder) is a folder of Parquet files,
partitioned by declaration date the way Hive lays them out
(``declaration_date=2025-10-01/00000000.parquet``), which any Parquet reader scans as
one table; each file keeps the rows in the order they were written (rank order for a
scored list).
"""

import csv
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import polars as pl

from detector.errors import DetectorError
from detector.features import format_text
from detector.io.leftovers import owner_tag

__all__ = [
    "atomic_folder",
    "atomic_path",
    "check_output",
    "check_outputs",
    "flat",
    "inert",
    "is_folder",
    "staged_outputs",
    "write_chunks",
    "write_partitioned",
    "write_table",
    "write_workbook",
    "TABLE_SUFFIXES",
]

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
#: The column a folder output is partitioned by, when the table has it.
PARTITION_KEY = "declaration_date"
_FOLDER_FILE_ROWS = 1_000_000


#: How much of an output's name its half-written file carries, beside the host and
#: process: a name near the file system's limit must still leave room for them.
_TMP_NAME = 80


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A run that fails or is killed half-way leaves the old file (or none), never a
    partial one.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise DetectorError(f"Output folder {path.parent} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name[:_TMP_NAME]}.{owner_tag()}", suffix=".tmp", dir=path.parent or "."
    )
    os.close(fd)
    try:
        yield Path(tmp)
        # On disk before the rename: a crash after it must not leave an empty file.
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private; give it the permissions of a normal new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        _sync_folder(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def staged_outputs(*paths: str | Path | None):
    """Yield, for each output path given (None skipped), the path to write it at: the
    same name in a hidden folder beside it, so that its format is the same. Once the
    block ends without an error, every output is put in place; if it fails or is
    stopped, none is, and what was written is removed. A run's outputs appear together
    or not at all: a report that fails after the list was written takes the list away
    with it.
    """
    targets = list(dict.fromkeys(Path(p) for p in paths if p is not None))
    stages, staged = [], {}
    try:
        for path in targets:
            if path.parent and not path.parent.exists():
                raise DetectorError(f"Output folder {path.parent} does not exist; create it first.")
            if path.is_dir():
                _check_replaceable(path)
            stage = Path(tempfile.mkdtemp(prefix=f".staged.{owner_tag()}", dir=path.parent or "."))
            stages.append(stage)
            staged[path] = stage / path.name
            if path.is_dir():  # written as a folder too
                staged[path].mkdir()
        yield staged
        refuse_filled_outputs(*staged)  # outcomes typed in while the run worked
        for path, written in staged.items():
            _put_in_place(written, path)
    finally:
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)


def _put_in_place(written: Path, path: Path) -> None:
    """Move a staged output onto its path (a folder written before moved aside first)."""
    if not written.exists():
        return
    old = None
    if written.is_dir() and path.is_dir():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(written, path)
    _sync_folder(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    """Put a rename in the folder on disk too: a crash must not undo it."""
    fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_folder(path: str | Path) -> bool:
    """Whether ``path`` names a folder of partitioned Parquet rather than one file."""
    path = Path(path)
    return path.is_dir() or path.suffix == ""


def check_output(path: str | Path, option: str = "--out", kind: str = "table") -> None:
    """Refuse an output path that cannot be written, before any work is done.

    ``kind`` is ``table`` (a file by its suffix, or a folder of Parquet files),
    ``html`` (a report), ``json`` or ``model``.
    """
    path = Path(path)
    if any(ch in str(path) for ch in "*?["):
        raise DetectorError(f"{option} {path} is a pattern, not a path; name one file or folder.")
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise DetectorError(
            f"{option} {path} is not a regular file (a device, pipe or socket); name a file."
        )
    if kind == "table" and path.is_dir() and path.suffix.lower() in (".csv", ".xlsx"):
        # A folder named like a file: the user wants the file, which cannot be written.
        raise DetectorError(
            f"{option} {path} is a folder; name a file in it, or a folder without a suffix "
            "for Parquet files."
        )
    if kind == "table" and is_folder(path):
        if path.exists() and not path.is_dir():
            raise DetectorError(f"{option} {path} is a file, not a folder; add a suffix.")
        _check_replaceable(path)
    elif path.is_file() and not _written_here(path):
        if path.suffix.lower() == ".parquet" and _ours(path):
            raise DetectorError(
                f"{option} {path} holds declarations (a generated year or validated rows, "
                "not a list or a rejects table), which writing there would replace; name "
                "a new file."
            )
        # A CSV file carries no mark: one of declarations the engine wrote (a generated
        # year, validate's accepted rows) looks like the user's own.
        unmarked = " (a CSV file of declarations carries no mark, the engine's own included)"
        raise DetectorError(
            f"{option} {path} is a file this engine cannot tell it wrote, which writing there "
            f"would replace; name a new file{unmarked if path.suffix.lower() == '.csv' else ''}."
        )
    elif path.is_file() and path.suffix.lower() == ".xlsx":
        _refuse_filled(path, option)
    if not (kind == "table" and is_folder(path)):
        if path.is_dir():
            raise DetectorError(f"{option} {path} is a folder; name a file in it.")
        suffixes = _KIND_SUFFIXES.get(kind)
        if suffixes and path.suffix.lower() not in suffixes:
            raise DetectorError(
                f"{option} {path} has suffix '{path.suffix}'; use {' or '.join(suffixes)}."
            )
        if kind == "table":
            _writer(path)
            if path.suffix.lower() == ".xlsx":
                _xlsxwriter(path)
    parent = path.parent
    if not parent.is_dir():
        raise DetectorError(f"{option}: the folder {parent} does not exist; create it first.")
    # Tried, not asked: a folder may say it is writable and refuse a new file (/proc).
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=parent)
        try:
            os.close(fd)
        finally:
            os.unlink(probe)
    except OSError as exc:
        raise DetectorError(
            f"{option}: the folder {parent} is not writable ({exc.strerror or exc}); name a "
            "folder you can write to."
        ) from None


_KIND_SUFFIXES = {"html": (".html", ".htm"), "model": (".joblib", ".skops"), "json": (".json",)}


def check_outputs(
    outputs: list[tuple[str, str | Path | None, str]],
    *,
    inputs: list[tuple[str, str | Path]] = (),
    model: str | Path | None = None,
    store: str | Path | None = None,
) -> None:
    """Refuse, before any work, an output that cannot be written or would replace a user's file.

    ``outputs`` are ``(option, path, kind)`` triples (``None`` paths are skipped), kind
    as in :func:`check_output`; ``inputs`` are ``(what, path)`` pairs: the input
    files, folders and globs, the label store. Paths are compared once resolved
    (through symbolic links): no output may be an input or the ``model``, hold one (a
    folder output), or lie inside an input folder; no two outputs may be the same. The
    label ``store`` is written as well as read: it may neither hold nor lie in an
    input or the model, and no output may lie in it.
    """
    from detector.io._paths import expand_glob, has_magic, matches_glob, overlaps

    protected, globs = [], []
    for what, given in inputs:
        text = str(given)
        if has_magic(text):
            globs.append((what, text))
        for path in expand_glob(text) if has_magic(text) else [Path(text)]:
            protected.append((f"{what} {path}", path.resolve(), True))
    if model is not None:
        protected.append((f"the model {model}", Path(model).resolve(), False))
    if store is not None:
        folder = Path(store).resolve()
        for what, other, _ in protected:
            if overlaps(folder, other):
                raise DetectorError(
                    f"--store {store} would mix the label store with {what}; keep the store "
                    "in a folder of its own."
                )
        protected.append((f"the label store {store}", folder, True))
    for option, path, kind in outputs:
        if path is None:
            continue
        path = Path(path)
        target = path.resolve()
        store_at = _label_store_holding(target)
        if store_at is not None:
            raise DetectorError(
                f"{option} {path} lies in the label store {store_at}, whose flagged lists "
                "and inspection outcomes writing there could replace; write the output "
                "elsewhere."
            )
        for what, other, folder in protected:
            if target == other or target in other.parents or (folder and overlaps(target, other)):
                raise DetectorError(
                    f"{option} {path} would overwrite {what}; write the output elsewhere."
                )
        for what, pattern in globs:
            # Not there yet, but the next run of the same command would read it as input.
            if matches_glob(path, pattern):
                raise DetectorError(
                    f"{option} {path} matches {what} {pattern}: the next run would read it "
                    "as input; write the output elsewhere."
                )
        check_output(path, option, kind)
        protected.append((f"the {option} output {path}", target, True))


def _label_store_holding(target: Path) -> Path | None:
    """The label store folder that ``target`` (resolved) is or lies in; None if none.

    A store is known without ``--store``: by its record (``store.json``), or by the
    engine's own outcomes file (with ``inspected_on``) or flagged file (``scored_on``)."""
    for folder in (target, *target.parents):
        if not folder.is_dir():
            continue
        if (folder / "store.json").is_file():
            return folder
        for name, column in (
            ("outcomes.parquet", "inspected_on"),
            ("flagged.parquet", "scored_on"),
        ):
            if _ours(folder / name) and column in pl.read_parquet_schema(folder / name):
                return folder
    return None


#: Every Parquet file of a folder output carries this key in its metadata: only a
#: folder of such files is ever replaced.
WRITTEN_BY = {"written-by": "customs-detector"}


def _check_replaceable(path: Path) -> None:
    """A folder output replaces only a folder this engine wrote, never a folder of other files.

    ``--out archive`` naming a folder of the user's would otherwise lose everything in
    it (their own Parquet files too) when the new output is swapped in.
    """
    if not path.is_dir():
        return
    foreign = sorted(str(p.relative_to(path)) for p in path.rglob("*") if not _ours(p))
    if foreign:
        raise DetectorError(
            f"Output folder {path} holds files this engine did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}), which writing there would replace; name "
            "a new folder, or a file with a suffix."
        )
    # Declarations the engine wrote (a generated year, validated rows) are kept, as in a file.
    files = [p for p in path.rglob("*.parquet") if p.is_file()]
    if files and not _own_table(set(pl.read_parquet_schema(files[0]))):
        raise DetectorError(
            f"Output folder {path} holds declarations (a generated year or validated rows, "
            "not a list or a rejects table), which writing there would replace; name a new "
            "folder."
        )


#: The mark an HTML page of this engine carries in its head.
HTML_MARK = "<meta name='generator' content='customs-detector'>"


def _written_here(path: Path) -> bool:
    """Whether an existing output file may be replaced: a Parquet file, workbook or HTML
    page that carries this engine's mark (a file the user made, or an older
    version's output, does not), and for a Parquet file, one of this engine's lists or
    rejects tables too (declarations it wrote, a generated year or validated rows, are
    as sacred as the user's own); a CSV file whose header is one of its lists or
    rejects tables, a JSON file holding a replay's record (neither holds a mark)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _ours(path) and _own_table(set(pl.read_parquet_schema(path)))
    if suffix == ".csv":
        return _own_csv(path)
    if suffix == ".json":
        return _own_json(path)
    if suffix == ".xlsx":
        return _marked_workbook(path)
    if suffix in (".html", ".htm"):
        try:
            with path.open("rb") as f:
                return HTML_MARK.encode() in f.read(4096)
        except OSError:
            return False
    return True


#: Columns that only this engine's outputs carry together: a scored list's, or a
#: rejects table's. A file of declarations (the user's history, a file of accepted
#: rows, a generated year) has neither, and is never replaced.
_OWN_CSV_HEADERS = ({"risk_score", "reason_codes"}, {"reject_reason"})


def _own_csv(path: Path) -> bool:
    """A CSV file whose header names a scored list's or a rejects table's columns."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, csv.Error):
        return False
    return _own_table({cell.strip() for cell in header})


def _own_table(columns: set[str]) -> bool:
    """Columns that name a scored list's or a rejects table's (``_OWN_CSV_HEADERS``)."""
    return any(mark <= columns for mark in _OWN_CSV_HEADERS)


#: The keys of the one JSON file this engine writes (``simulate --json``).
_OWN_JSON_KEYS = {"policies", "default"}


def _own_json(path: Path) -> bool:
    """A JSON file holding one object with the keys of a replay's record."""
    import json

    try:
        with path.open(encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and _OWN_JSON_KEYS <= set(found)


def _properties(path: Path) -> dict[str, str]:
    """A workbook's custom properties (name -> text); empty when it has none."""
    import html
    import zipfile

    try:
        with zipfile.ZipFile(path) as book:
            custom = book.read("docProps/custom.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    found = re.findall(r'name="([^"]*)"[^>]*>\s*<vt:lpwstr>(.*?)</vt:lpwstr>', custom, re.S)
    return {html.unescape(k): html.unescape(v) for k, v in found}


def _marked_workbook(path: Path) -> bool:
    """A workbook whose custom properties say this engine wrote it."""
    props = _properties(path)
    return all(props.get(k) == v for k, v in WRITTEN_BY.items())


#: The custom property of a list workbook naming the headers investigators fill in.
OUTCOME_PROPERTY = "outcome-columns"


def _refuse_filled(path: Path, option: str) -> None:
    """A list workbook that investigators filled in is their work: writing over it, by
    any option of any command, is refused before any work, naming the first row with
    an outcome. Only a list written for them (``OUTCOME_PROPERTY``) is looked into."""
    headers = _properties(path).get(OUTCOME_PROPERTY)
    if not headers:
        return
    try:
        row = _first_filled_row(path, set(headers.split("|")))
    except Exception:  # openpyxl missing, or a workbook it cannot read: cannot tell
        row = 0
    if row is None:
        return
    where = f"(row {row} and perhaps others)" if row else "(it could not be read to tell)"
    raise DetectorError(
        f"{option} {path} holds inspection outcomes filled in by investigators {where}, "
        f"which writing there would lose; record them with `detector feedback {path} "
        "--store STORE` and keep the file, or name a new one."
    )


def refuse_filled_outputs(*paths: Path) -> None:
    """:func:`_refuse_filled` of every existing workbook among ``paths``, checked again
    at the end of a run: investigators may have typed outcomes in while it worked."""
    for path in paths:
        if path.is_file() and path.suffix.lower() == ".xlsx":
            _refuse_filled(path, "the output")


def _first_filled_row(path: Path, headers: set[str]) -> int | None:
    """The first row of a list workbook's ``flagged`` sheet with an outcome cell filled
    in (numbered as the spreadsheet shows it), or None."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book["flagged"] if "flagged" in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        at = [i for i, name in enumerate(next(rows, ())) if name in headers]
        for number, row in enumerate(rows, 2):
            if any(i < len(row) and row[i] not in (None, "") for i in at):
                return number
    finally:
        book.close()
    return None


def _ours(path: Path) -> bool:
    """A partition folder, or a Parquet file marked as written by this engine."""
    if path.is_dir() and not path.is_symlink():
        return "=" in path.name
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    try:
        metadata = pl.read_parquet_metadata(path)
    except Exception:  # polars raises several types for a file that is not Parquet
        return False
    return all(metadata.get(k) == v for k, v in WRITTEN_BY.items())


@contextmanager
def atomic_folder(path: str | Path):
    """Yield a temporary folder next to ``path``; put it in place of ``path`` on success.

    A folder written before is replaced whole, only once the new one is complete; a run
    that fails leaves the old folder as it was.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise DetectorError(f"Output folder {path.parent} does not exist; create it first.")
    if path.exists() and not path.is_dir():
        raise DetectorError(f"Output {path} is a file, not a folder; remove it or add a suffix.")
    _check_replaceable(path)
    where = path.parent or "."
    prefix = f".{path.name[:_TMP_NAME]}.{owner_tag()}"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=where))
    old = None
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        _sync_folder(path.parent)
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def write_partitioned(frame: pl.LazyFrame, folder: str | Path) -> Path:
    """Write ``frame`` as a folder of Parquet files by declaration date, atomically."""
    folder = Path(folder)
    names = frame.collect_schema().names()
    with atomic_folder(folder) as tmp:
        target = (
            pl.PartitionBy(tmp, key=PARTITION_KEY, max_rows_per_file=_FOLDER_FILE_ROWS)
            if PARTITION_KEY in names
            else pl.PartitionBy(tmp, max_rows_per_file=_FOLDER_FILE_ROWS)
        )
        frame.sink_parquet(
            target, statistics=True, mkdir=True, engine="streaming", metadata=WRITTEN_BY
        )
    return folder


def _writer(path: Path) -> Callable[[pl.DataFrame, Path], None]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return lambda df, p: flat(inert(df.lazy())).collect().write_csv(p)
    if suffix == ".parquet":
        return lambda df, p: df.write_parquet(p, statistics=True, metadata=WRITTEN_BY)
    if suffix == ".xlsx":
        return lambda df, p: _write_excel({"flagged": df}, p)
    raise DetectorError(
        f"Output file {path} has suffix '{path.suffix}'; use one of "
        f"{', '.join(TABLE_SUFFIXES)}, or a name without a suffix for a folder of "
        "Parquet files."
    )


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
_FORMULA_START = r"^[=@\t\r]|^[+-]"


def _plain(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Categorical and enum columns as their text, raw bytes as hexadecimal text: what a
    file of text cells can hold (a Parquet input may carry either)."""
    schema = frame.collect_schema()
    coded = [n for n, dtype in schema.items() if isinstance(dtype, (pl.Categorical, pl.Enum))]
    raw = [name for name, dtype in schema.items() if dtype == pl.Binary]
    if not (coded or raw):
        return frame
    return frame.with_columns(
        *[pl.col(name).cast(pl.String) for name in coded],
        *[pl.col(name).bin.encode("hex") for name in raw],
    )


def inert(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with a quote.

    A cell starting with ``=``, ``@``, a tab or a carriage return, or with ``+`` or
    ``-`` and not a plain number, gets a leading ``'``, which spreadsheets show as text;
    reading the file back removes it (see ``detector.io.ingest``).

    >>> inert(pl.LazyFrame({"a": ["=1+2", "-3", "-A1", "x"]})).collect()["a"].to_list()
    ["'=1+2", '-3', "'-A1", 'x']
    """
    frame = _plain(frame)  # categories and bytes are written as text: guarded as text
    schema = frame.collect_schema()
    text = [name for name, dtype in schema.items() if dtype == pl.String]
    lists = [name for name, dtype in schema.items() if dtype == pl.List(pl.String)]
    if text or lists:
        frame = frame.with_columns(
            *[_guarded(pl.col(name)).alias(name) for name in text],
            *[pl.col(name).list.eval(_guarded(pl.element())).alias(name) for name in lists],
        )
    # A column name from the input is a header cell too.
    names = pl.select(_guarded(pl.Series(list(schema), dtype=pl.String))).to_series()
    renames = {old: new for old, new in zip(schema, names, strict=True) if old != new}
    return frame.rename(renames) if renames else frame


#: How a list of texts (reasons, reason codes) is written in a CSV file or a workbook.
LIST_SEPARATOR = " | "


def flat(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Lists of texts joined into one cell, for the formats that hold no lists.

    >>> flat(pl.LazyFrame({"a": [["x", "y"], None]})).collect()["a"].to_list()
    ['x | y', None]
    """
    schema = frame.collect_schema()
    lists = [name for name, dtype in schema.items() if dtype == pl.List(pl.String)]
    return frame.with_columns(pl.col(lists).list.join(LIST_SEPARATOR)) if lists else frame


def _guarded(cell: pl.Expr) -> pl.Expr:
    # Some spreadsheets drop leading blanks before they look for a formula.
    start = cell.str.strip_chars_start(" ")
    number = cell.str.strip_chars().cast(pl.Float64, strict=False).is_not_null()
    risky = start.str.contains(_FORMULA_START) & ~(start.str.contains(r"^[+-]") & number)
    return pl.when(risky).then(pl.lit("'") + cell).otherwise(cell)


#: Excel number formats of the scored list's columns, for an investigator's eye.
_EXCEL_FORMATS = {
    "risk_score": "0.000",
    "max_risk_score": "0.000",
    "value_ratio": "0%",
    "duty_rate_pct": "0.0",
    "net_mass_kg": "#,##0.0",
    "supplementary_quantity": "#,##0.00",
}
#: Money columns: whole units, with the currency when it is known.
_EXCEL_MONEY = {
    "revenue_at_stake": "#,##0",
    "duty_at_stake": "#,##0",
    "unit_value_per_ton": "#,##0",
    "reference_value_per_ton": "#,##0",
    "customs_value": "#,##0.00",
    "revenue_recovered": "#,##0",
}
#: The columns kept in view when a sheet scrolls sideways, when the sheet has them.
_EXCEL_FROZEN = ("case_id", "rank", "declaration_id")
_EXCEL_MAX_ROWS = 1_048_576  # rows of a worksheet, the header included
#: Long text columns get a fixed width (pixels) instead of the width of their longest cell.
_EXCEL_WIDTHS = {
    "reasons": 700,
    "peer_group": 220,
    "declaration_ids": 400,
    "routes": 200,
    "importers": 200,
    "sellers": 200,
    "strongest_reasons": 400,
}
#: Columns whose text wraps within its width.
_EXCEL_WRAPPED = (
    "reasons",
    "declaration_ids",
    "routes",
    "importers",
    "sellers",
    "strongest_reasons",
)


#: What the outcome cells accept besides their lists: money recovered is a number, not
#: below zero; the inspection a date.
_OUTCOME_RULES = {
    "revenue_recovered": {
        "validate": "decimal",
        "criteria": ">=",
        "value": 0,
        "ignore_blank": True,
        "error_message": "The revenue recovered is an amount of money, 0 or more.",
    },
    "inspected_on": {
        "validate": "date",
        "criteria": "between",
        "minimum": datetime(2000, 1, 1),
        "maximum": datetime(2100, 12, 31),
        "ignore_blank": True,
        "error_message": "The day of the inspection, as a date.",
    },
}


def readable_header(name: str, currency: str | None = None) -> str:
    """A column's header as a workbook shows it: words, money with its currency
    (``revenue_at_stake`` -> ``revenue at stake (USD)``); ``column_name`` reads it back."""
    text = name.replace("_", " ")
    return f"{text} ({currency})" if currency and name in _EXCEL_MONEY else text


def column_name(header) -> str:
    """The column a workbook header names: ``revenue at stake (USD)`` ->
    ``revenue_at_stake``; a header already so written is kept."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", str(header)).strip()
    return "_".join(text.lower().split()) if " " in text else text


#: Characters a worksheet cell holds; a longer text is cut, and the cell says so.
_EXCEL_CELL_CHARS = 32_767
_CUT = "… [cut: {} characters in all; the .csv or .parquet list holds the whole text]"


def _xlsxwriter(path: Path):
    try:
        from xlsxwriter import Workbook
    except ModuleNotFoundError:
        raise DetectorError(
            f"Writing {path.name} needs the xlsxwriter package: pip install "
            "'customs-detector[excel]', or write .csv / .parquet instead."
        ) from None
    return Workbook


def _fits_a_cell(df: pl.DataFrame) -> pl.DataFrame:
    """Text longer than a cell holds, cut with a note of its full length."""
    room = _EXCEL_CELL_CHARS - len(_CUT) - 12
    long = [
        pl.when(pl.col(c).str.len_chars() > _EXCEL_CELL_CHARS)
        .then(pl.col(c).str.slice(0, room) + format_text(_CUT, pl.col(c).str.len_chars()))
        .otherwise(pl.col(c))
        .alias(c)
        for c, dtype in df.schema.items()
        if dtype == pl.String
    ]
    return df.with_columns(long) if long else df


#: The creation date every workbook carries: the first a zip file can hold. The clock's
#: would make two runs on the same input write different files.
_WORKBOOK_CREATED = datetime(1980, 1, 1)


def _distinct_headers(columns: list[str], first: tuple[str, ...] = ()) -> dict[str, str]:
    """Each column as named, a number added to one that an Excel table would read as
    another (its headers ignore case: ``Rank`` beside ``rank``): to a later one, and
    never to those of ``first`` (the outcome cells, which feedback reads back)."""
    headers, seen = {}, set()
    for c in [*[c for c in first if c in columns], *[c for c in columns if c not in first]]:
        header, n = c, 2
        while header.casefold() in seen:
            header, n = f"{c} ({n})", n + 1
        headers[c] = header
        seen.add(header.casefold())
    return {c: headers[c] for c in columns}


def _write_excel(
    sheets: dict[str, pl.DataFrame],
    path: Path,
    *,
    currency: str | None = None,
    choices: dict[str, list[str]] | None = None,
    outcomes: tuple[str, ...] = (),
) -> None:
    """One sheet per table, each a named Excel table: header and the id columns frozen,
    filters, number formats (money with its ``currency``), wrapped reasons.

    Text stays text: no cell becomes a formula or a link, whatever it starts with.
    ``choices``: columns whose cells offer a list to pick from (data validation).
    ``outcomes``: the first sheet's columns that investigators fill in, named in the
    workbook's properties so that no later output writes over their work.
    """
    Workbook = _xlsxwriter(path)
    for name, df in sheets.items():
        if df.height >= _EXCEL_MAX_ROWS:
            raise DetectorError(
                f"The {name} table has {df.height:,} rows and an Excel sheet holds at most "
                f"{_EXCEL_MAX_ROWS - 1:,}: size the list with --top, or write .csv or .parquet."
            )
    options = {"strings_to_formulas": False, "strings_to_urls": False}
    money = f'#,##0 "{currency}"' if currency else None
    with Workbook(path, options) as workbook:
        # A fixed creation date, not the clock's: the same list gives the same file.
        workbook.set_properties({"created": _WORKBOOK_CREATED})
        for key, value in WRITTEN_BY.items():  # what check_output reads before replacing it
            workbook.set_custom_property(key, value)
        for name, df in sheets.items():
            formats = {**_EXCEL_FORMATS, **{c: money or f for c, f in _EXCEL_MONEY.items()}}
            formats |= dict.fromkeys(_EXCEL_WRAPPED, {"text_wrap": True, "valign": "top"})
            frozen = [c for c in _EXCEL_FROZEN if c in df.columns]
            headers = {c: readable_header(c, currency) for c in df.columns}
            if len({h.casefold() for h in headers.values()}) < len(headers):
                headers = _distinct_headers(df.columns, outcomes)  # as named, kept apart
            filled = [headers[c] for c in outcomes if c in df.columns]
            if filled and name == next(iter(sheets)):
                workbook.set_custom_property(OUTCOME_PROPERTY, "|".join(filled))
            _fits_a_cell(flat(_plain(df.lazy())).collect()).rename(headers).write_excel(
                workbook,
                worksheet=name,
                table_name=name,
                column_formats={headers[c]: f for c, f in formats.items() if c in df.columns},
                column_widths={headers[c]: w for c, w in _EXCEL_WIDTHS.items() if c in df.columns},
                dtype_formats={pl.Date: "yyyy-mm-dd"},
                autofit=True,
                freeze_panes=(1, df.columns.index(frozen[-1]) + 1 if frozen else 0),
                header_format={"bold": True, "text_wrap": True},
            )
            sheet = workbook.get_worksheet_by_name(name)
            rules = {
                column: {"validate": "list", "source": values, "ignore_blank": True}
                for column, values in (choices or {}).items()
            }
            if choices:  # the outcome cells an investigator fills in: amounts and dates
                rules |= _OUTCOME_RULES
            for column, rule in rules.items():
                if column in df.columns and df.height:
                    at = df.columns.index(column)
                    sheet.data_validation(1, at, df.height, at, rule)


def write_workbook(sheets: dict[str, pl.DataFrame], path: str | Path, **options) -> Path:
    """Write several tables as the sheets of one .xlsx file, atomically (``options`` as
    :func:`_write_excel`'s: ``currency``, ``choices``, ``outcomes``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        _write_excel(sheets, tmp, **options)
    return path


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` in the format its suffix names, atomically."""
    path = Path(path)
    if is_folder(path):
        return write_partitioned(df.lazy(), path)
    write = _writer(path)
    with atomic_path(path) as tmp:
        write(df, tmp)
    return path


def write_chunks(chunks: Iterable[pl.LazyFrame], path: str | Path) -> Path:
    """Write a table that arrives in chunks, in their order, atomically.

    CSV, Parquet and a folder of Parquet files are written by the streaming engine, a
    chunk at a time; a workbook is assembled whole (a sheet holds a million rows at
    most anyway).
    """
    path = Path(path)
    folder = is_folder(path)
    if not folder:
        _writer(path)  # an unknown suffix is refused before any work
    frame = pl.concat(list(chunks), how="diagonal_relaxed")
    if folder:
        return write_partitioned(frame, path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            flat(inert(frame)).sink_csv(tmp, engine="streaming")
        elif suffix == ".parquet":
            frame.sink_parquet(tmp, statistics=True, engine="streaming", metadata=WRITTEN_BY)
        else:
            _write_excel({"flagged": frame.collect()}, tmp)
    return path
