"""How `detector feedback` finds rows typed below a list workbook's table: the table's
extent read from the workbook's XML parts and the rows after it streamed, against the
workbook loaded whole by openpyxl (the only mode that shows its tables).

Usage: python bench/workbook_table_check.py [--rows 50000]

A workbook of ``--rows`` rows and 31 columns, one named table, written as the engine
writes lists (xlsxwriter through Polars); each way timed once, in turns. Printed: the
seconds of each and the table's last row each found.
"""

import argparse
import tempfile
import time
from pathlib import Path

import openpyxl
import polars as pl
from openpyxl.utils.cell import range_boundaries
from xlsxwriter import Workbook

from detector.app.labels import _refuse_rows_below_the_table, _table_last_row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flagged.xlsx"
        frame = pl.DataFrame(
            {"rank": list(range(1, rows + 1)), **{f"c{i}": ["x" * 10] * rows for i in range(30)}}
        )
        with Workbook(path) as book:
            frame.write_excel(book, worksheet="flagged", table_name="flagged")
        t0 = time.perf_counter()
        last = _table_last_row(path, "flagged")
        _refuse_rows_below_the_table(path, "flagged")
        parts = time.perf_counter() - t0
        t0 = time.perf_counter()
        whole = openpyxl.load_workbook(path, data_only=True)
        ends = [range_boundaries(t.ref)[3] for t in whole["flagged"].tables.values()]
        loaded = time.perf_counter() - t0
        print(f"{rows:,} rows, 31 columns")
        print(f"from the parts, then the rows after it: {parts:.2f} s (last row {last})")
        print(f"the workbook loaded whole: {loaded:.2f} s (last row {max(ends)})")


if __name__ == "__main__":
    main()
