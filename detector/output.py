"""Writing tables: format by suffix, atomically (a temporary file, then a rename)."""

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from detector._errors import DetectorError

__all__ = ["atomic_path", "write_table", "TABLE_SUFFIXES"]

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
        return _write_excel
    raise DetectorError(
        f"Output file {path} has suffix '{path.suffix}'; use one of {', '.join(TABLE_SUFFIXES)}."
    )


def _write_excel(df: pl.DataFrame, path: Path) -> None:
    try:
        df.write_excel(path, autofit=True, freeze_panes=(1, 0))
    except ModuleNotFoundError:
        raise DetectorError(
            f"Writing {path.name} needs the xlsxwriter package: pip install xlsxwriter, "
            "or write .csv / .parquet instead."
        ) from None


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` in the format its suffix names, atomically."""
    path = Path(path)
    write = _writer(path)
    with atomic_path(path) as tmp:
        write(df, tmp)
    return path
