"""How scoring cost grows with rows: daily Parquet partitions of 1, 3, 10 million rows.

Usage: python bench/scale.py [--rows 1000000 3000000 10000000] [--workers 1 2] [--keep DIR]
                             [--train]

For each size: a synthetic year of that many rows written as one Parquet file per day
(hive-style, ``declaration_date=YYYY-MM-DD/``), a bare Polars scan of the folder, and
``detector score FOLDER --model M --out flagged.parquet --top 5% --workers W`` in a
fresh process for each W: under ``/usr/bin/time -v`` for the wall time and the peak of
the largest single process, sampled with psutil in the same run for the peak of the
summed memory of the command and its workers. The model is trained once on a separate
300,000-row year.
With ``--train``, ``detector train FOLDER`` is also timed on each size (the last 20 %
of the year is its validation set; about 10 % of the synthetic rows are inspected, so
10 million rows hold about 800,000 labelled training rows).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from detector.synthetic import generate_declarations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_speed import timed  # noqa: E402  (the same fresh-process timing)


def _partitions(rows: int, folder: Path) -> Path:
    out = folder / f"rows-{rows}"
    if not out.exists():
        year = generate_declarations(rows=rows, seed=5)
        year.write_parquet(out, partition_by="declaration_date")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    history, model = folder / "history.parquet", folder / "model.joblib"
    if not model.exists():
        generate_declarations(rows=300_000, seed=6).write_parquet(history)
        subprocess.run(
            [py, "-m", "detector", "train", str(history), "--model", str(model)],
            check=True,
            capture_output=True,
        )
    for rows in args.rows:
        source = _partitions(rows, folder)
        n_files = sum(1 for _ in source.rglob("*.parquet"))
        t0 = time.perf_counter()
        pl.scan_parquet(source).select(pl.len()).collect()
        count_only = time.perf_counter() - t0
        t0 = time.perf_counter()
        pl.scan_parquet(source).collect()
        scan = time.perf_counter() - t0
        print(
            f"{rows:>11,} rows in {n_files} daily partitions: bare scan {scan:5.2f} s "
            f"(count only {count_only:.2f} s)",
            flush=True,
        )
        for workers in args.workers:
            out = folder / f"flagged-{rows}-{workers}.parquet"
            seconds, peak, tree = timed(
                [py, "-m", "detector", "score", str(source), "--model", str(model)]
                + ["--out", str(out), "--top", "5%", "--workers", str(workers)]
            )
            peak_text = f"{peak:.2f} GB" if peak is not None else "n/a"
            tree_text = f"{tree:.2f} GB" if tree is not None else "n/a (no psutil)"
            print(
                f"    --workers {workers}: detector score {seconds:6.1f} s "
                f"({rows / seconds:,.0f} rows/s), peak {peak_text} (largest process), "
                f"{tree_text} (all processes)",
                flush=True,
            )
        if args.train:
            seconds, peak, tree = timed(
                [py, "-m", "detector", "train", str(source)]
                + ["--model", str(folder / f"model-{rows}.joblib")]
            )
            peak_text = f"{peak:.2f} GB" if peak is not None else "n/a"
            tree_text = f"{tree:.2f} GB" if tree is not None else "n/a (no psutil)"
            print(
                f"    detector train: {seconds:6.1f} s, peak {peak_text} (largest process), "
                f"{tree_text} (all processes)",
                flush=True,
            )


if __name__ == "__main__":
    main()
