"""Pieces that Polars' writers finish after a failed cutting of a CSV file: how late
they land, and whether ``_remove_partial`` keeps the folder gone.

A CSV file with a row too wide past its first pieces is cut into Parquet pieces of
1,000 rows (``sink_parquet`` with ``PartitionBy``), which raises; then, per run, either
the folder is removed once (the clean-up before) or by ``_remove_partial`` (now), and
half a second later the folder is looked at again. Printed: in how many runs a piece
came back, and how late after the error the last piece was written.

    python bench/cutting_race.py --runs 40
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from detector.batch.stream import _remove_partial


def cut(src: Path, folder: Path) -> float:
    """Cut ``src`` into ``folder``; the time of the error."""
    try:
        pl.scan_csv(src, infer_schema=False).sink_parquet(
            pl.PartitionBy(folder, max_rows_per_file=1_000), mkdir=True, engine="streaming"
        )
    except pl.exceptions.PolarsError:
        return time.time()
    raise SystemExit("the cutting did not fail")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = ["a,b,c"] + [f"{i},x{i},{i * 2}" for i in range(6_000)]
        rows[2_501] += ",surplus"
        src = work / "bad.csv"
        src.write_text("\n".join(rows) + "\n")
        late = []
        for i in range(args.runs):  # how late the pieces land, nothing removed
            folder = work / f"late{i}"
            failed = cut(src, folder)
            time.sleep(0.5)
            stamps = [p.stat().st_mtime - failed for p in folder.glob("*.parquet")]
            late += stamps
        print(
            f"pieces after the error, {args.runs} runs: {sum(t > 0 for t in late)} of "
            f"{len(late)}, the last {max(late) * 1000:.1f} ms after it"
        )
        for name, remove in (("removed once", lambda f: shutil.rmtree(f, True)),
                             ("_remove_partial", _remove_partial)):  # fmt: skip
            back = 0
            for i in range(args.runs):
                folder = work / f"{name[0]}{i}"
                cut(src, folder)
                remove(folder)
                time.sleep(0.5)
                back += folder.exists()
            print(f"{name}: a piece came back in {back} of {args.runs} runs")


if __name__ == "__main__":
    main()
