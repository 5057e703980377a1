"""Peak memory of the feature pass alone: read 1 million rows, apply a fitted builder.

Usage: python bench/features_memory.py [--rows N]
A first process generates the rows and fits the builder on the first nine months; a
second one, timed under `/usr/bin/time -v`, only reads the Parquet file, validates it
and computes every feature of every row.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREPARE = """
import sys, joblib, polars as pl
from detector.synthetic import generate_declarations
from detector.features import DeclarationFeatures
df = generate_declarations(rows=int(sys.argv[1]), seed=1)
df.write_parquet(sys.argv[2])
builder = DeclarationFeatures()
builder.fit_transform(df.filter(pl.col("declaration_date") < pl.date(2025, 10, 1)))
joblib.dump(builder, sys.argv[3])
"""

PASS = """
import sys, joblib
from detector import read_declarations
builder = joblib.load(sys.argv[2])
rows = read_declarations(sys.argv[1]).accepted
out = builder.transform(rows.lazy()).collect(engine="in-memory")
print(out.height, out.width)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, builder = Path(tmp) / "year.parquet", Path(tmp) / "builder.joblib"
        subprocess.run(
            [sys.executable, "-c", PREPARE, str(args.rows), str(data), str(builder)], check=True
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "-c", PASS, str(data), str(builder)],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - t0
        peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
        print(
            f"read + validate + features of {proc.stdout.split()[0]} rows "
            f"({proc.stdout.split()[1]} columns) in a fresh process: {seconds:.2f} s, "
            f"peak {peak / 1024**2:.2f} GB"
        )


if __name__ == "__main__":
    main()
