"""Memory and time of the training feature pass, month by month, as rows grow.

Usage: python bench/training_memory.py [--rows 1000000 3000000] [--keep DIR] [--train]

For each size: a synthetic year of that many rows as daily Parquet partitions (the
files `bench/scale.py` writes), then, in a fresh process, the training features
computed the way `FraudModel.fit` consumes them (`DeclarationFeatures.fit_months`, one
month at a time, nothing kept): wall time, CPU time and peak resident memory of that
process, which also holds the input rows it read. With ``--train``, `detector train
FOLDER --model M` is also timed under `/usr/bin/time -v` (the last 20 % of the year
validates it).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import _partitions  # noqa: E402  (the same daily partitions)
from score_speed import timed  # noqa: E402  (the same fresh-process timing)

_FEATURES = """
import resource, sys, time
import polars as pl
from detector.features import DeclarationFeatures

rows = pl.read_parquet(sys.argv[1])
rows = rows.drop(c for c in rows.columns if c.startswith("true_"))
t0, n, months = time.perf_counter(), 0, 0
for month in DeclarationFeatures(label_history="out_of_fold").fit_months(rows):
    n, months = n + month.height, months + 1
seconds = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(f"{n} {months} {seconds:.1f} {use.ru_utime + use.ru_stime:.1f} {use.ru_maxrss / 1024**2:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    for rows in args.rows:
        source = _partitions(rows, folder)
        out = subprocess.run(
            [sys.executable, "-c", _FEATURES, str(source)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        n, months, seconds, cpu, peak = int(out[0]), int(out[1]), *map(float, out[2:])
        print(
            f"{rows:>11,} rows: training features of {n:,} rows in {months} months "
            f"{seconds:6.1f} s (CPU {cpu:.0f} s), peak {peak:.2f} GB (input rows included)",
            flush=True,
        )
        if args.train:
            model = folder / f"model-{rows}.joblib"
            cmd = [sys.executable, "-m", "detector", "train", str(source), "--model", str(model)]
            seconds, peak, tree = timed(cmd)
            peak_text = f"{peak:.2f} GB" if peak is not None else "n/a"
            tree_text = f"{tree:.2f} GB" if tree is not None else "n/a (no psutil)"
            print(
                f"    detector train: {seconds:6.1f} s, peak {peak_text} (largest process), "
                f"{tree_text} (all processes)",
                flush=True,
            )


if __name__ == "__main__":
    main()
