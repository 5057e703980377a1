"""Writing tables: format by suffix, atomically (a temporary file, then a rename)."""

import os
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from detector._errors import DetectorError

__all__ = ["atomic_path", "write_chunks", "write_table", "write_workbook", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")


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


def _writer(path: Path) -> Callable[[pl.DataFrame, Path], None]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return lambda df, p: df.write_csv(p)
    if suffix == ".parquet":
        return lambda df, p: df.write_parquet(p, statistics=True)
    if suffix == ".xlsx":
        return lambda df, p: _write_excel({"flagged": df}, p)
    raise DetectorError(
        f"Output file {path} has suffix '{path.suffix}'; use one of {', '.join(TABLE_SUFFIXES)}."
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
    write = _writer(path)
    with atomic_path(path) as tmp:
        write(df, tmp)
    return path


def write_chunks(chunks: Iterable[pl.LazyFrame], path: str | Path) -> Path:
    """Write a table that arrives in chunks, in their order, atomically.

    CSV and Parquet are written by the streaming engine, a chunk at a time; a workbook
    is assembled whole (a sheet holds a million rows at most anyway).
    """
    path = Path(path)
    _writer(path)  # an unknown suffix is refused before any work
    frame = pl.concat(list(chunks), how="diagonal_relaxed")
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.sink_csv(tmp, engine="streaming")
        elif suffix == ".parquet":
            frame.sink_parquet(tmp, statistics=True, engine="streaming")
        else:
            _write_excel({"flagged": frame.collect()}, tmp)
    return path
