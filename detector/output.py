"""Writing tables: format by suffix, atomically (a temporary file, then a rename).

A path without a suffix (or an existing folder) is a folder of Parquet files,
partitioned by declaration date the way Hive lays them out
(``declaration_date=2025-10-01/00000000.parquet``), which any Parquet reader scans as
one table; each file keeps the rows in the order they were written (rank order for a
scored list).
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from detector._errors import DetectorError

__all__ = [
    "atomic_folder",
    "atomic_path",
    "check_output",
    "is_folder",
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


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A run that fails or is killed half-way leaves the old file (or none), never a
    partial one.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise DetectorError(f"Output folder {path.parent} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
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
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_folder(path: str | Path) -> bool:
    """Whether ``path`` names a folder of partitioned Parquet rather than one file."""
    path = Path(path)
    return path.is_dir() or path.suffix == ""


def check_output(path: str | Path) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    path = Path(path)
    if not is_folder(path):
        _writer(path)
    if path.parent and not path.parent.exists():
        raise DetectorError(f"Output folder {path.parent} does not exist; create it first.")
    _check_replaceable(path)


def _check_replaceable(path: Path) -> None:
    """A folder output replaces only an earlier folder output, never a folder of other files.

    ``--out reports`` naming an existing folder of the user's would otherwise lose
    everything in it when the new output is swapped in.
    """
    if not path.is_dir():
        return
    foreign = sorted(
        p.name
        for p in path.iterdir()
        if not (p.is_dir() and p.name.startswith(f"{PARTITION_KEY}="))
        and not (p.is_file() and p.suffix == ".parquet")
    )
    if foreign:
        raise DetectorError(
            f"Output folder {path} holds other files ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}) that writing there would replace; name "
            "a new folder, or a file with a suffix."
        )


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
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or "."))
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
        frame.sink_parquet(target, statistics=True, mkdir=True, engine="streaming")
    return folder


def _writer(path: Path) -> Callable[[pl.DataFrame, Path], None]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return lambda df, p: df.write_csv(p)
    if suffix == ".parquet":
        return lambda df, p: df.write_parquet(p, statistics=True)
    if suffix == ".xlsx":
        return lambda df, p: _write_excel({"flagged": df}, p)
    raise DetectorError(
        f"Output file {path} has suffix '{path.suffix}'; use one of "
        f"{', '.join(TABLE_SUFFIXES)}, or a name without a suffix for a folder of "
        "Parquet files."
    )


#: Excel number formats of the scored list's columns, for an investigator's eye.
_EXCEL_FORMATS = {
    "risk_score": "0.000",
    "max_risk_score": "0.000",
    "revenue_at_stake": "#,##0",
    "unit_value_per_ton": "#,##0",
    "reference_value_per_ton": "#,##0",
    "value_ratio": "0.00",
    "customs_value": "#,##0.00",
    "net_mass_kg": "#,##0.0",
}
_EXCEL_MAX_ROWS = 1_048_576  # rows of a worksheet, the header included
#: Long text columns get a fixed width (pixels) instead of the width of their longest cell.
_EXCEL_WIDTHS = {"reasons": 700, "peer_group": 220, "declaration_ids": 400, "routes": 200}


def _write_excel(sheets: dict[str, pl.DataFrame], path: Path) -> None:
    """One sheet per table: frozen header, filters, number formats, sensible widths."""
    try:
        from xlsxwriter import Workbook
    except ModuleNotFoundError:
        raise DetectorError(
            f"Writing {path.name} needs the xlsxwriter package: pip install "
            "'customs-detector[excel]', or write .csv / .parquet instead."
        ) from None
    for name, df in sheets.items():
        if df.height >= _EXCEL_MAX_ROWS:
            raise DetectorError(
                f"The {name} table has {df.height:,} rows and an Excel sheet holds at most "
                f"{_EXCEL_MAX_ROWS - 1:,}: size the list with --top, or write .csv or .parquet."
            )
    with Workbook(path) as workbook:
        for name, df in sheets.items():
            df.write_excel(
                workbook,
                worksheet=name,
                column_formats={c: f for c, f in _EXCEL_FORMATS.items() if c in df.columns},
                column_widths={c: w for c, w in _EXCEL_WIDTHS.items() if c in df.columns},
                dtype_formats={pl.Date: "yyyy-mm-dd"},
                autofit=True,
                freeze_panes=(1, 0),
                header_format={"bold": True, "text_wrap": True},
            )


def write_workbook(sheets: dict[str, pl.DataFrame], path: str | Path) -> Path:
    """Write several tables as the sheets of one .xlsx file, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        _write_excel(sheets, tmp)
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
            frame.sink_csv(tmp, engine="streaming")
        elif suffix == ".parquet":
            frame.sink_parquet(tmp, statistics=True, engine="streaming")
        else:
            _write_excel({"flagged": frame.collect()}, tmp)
    return path
