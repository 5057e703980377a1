"""The feature pass over N synthetic rows: fitting on history, and applying to a batch.

Usage: python bench/features_speed.py [--rows N] [--stage fit|transform]
Run under `/usr/bin/time -v` to read the peak memory (maximum resident set size).
Prints the wall time of each stage, next to a bare Polars read of the same file.
"""

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from detector import read_declarations
from detector.features import DeclarationFeatures
from detector.synthetic import generate_declarations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stage", choices=["fit", "transform", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.parquet"
        generate_declarations(rows=args.rows, seed=1).write_parquet(path)
        t0 = time.perf_counter()
        pl.read_parquet(path)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        batch = read_declarations(path)
        t_ingest = time.perf_counter() - t0
        df = batch.accepted
        cut = (
            df["declaration_date"].min()
            + (df["declaration_date"].max() - df["declaration_date"].min()) * 0.75
        )
        train, score = (
            df.filter(pl.col("declaration_date") < cut),
            df.filter(pl.col("declaration_date") >= cut),
        )
        builder = DeclarationFeatures()
        t0 = time.perf_counter()
        builder.fit_transform(train)
        t_fit = time.perf_counter() - t0
        print(f"rows {args.rows:,}: bare read {t_read:.2f} s, read+validate {t_ingest:.2f} s")
        print(f"fit_transform on {train.height:,} training rows: {t_fit:.2f} s")
        if args.stage in ("transform", "both"):
            t0 = time.perf_counter()
            out = builder.transform(score.lazy()).collect(engine="in-memory")
            t_tr = time.perf_counter() - t0
            print(
                f"transform {score.height:,} rows: {t_tr:.2f} s ({score.height / t_tr:,.0f} rows/s)"
            )
            for engine in ("in-memory", "streaming"):
                t0 = time.perf_counter()
                builder.transform(df.lazy()).collect(engine=engine)
                t_all = time.perf_counter() - t0
                print(
                    f"transform all {df.height:,} rows ({engine} engine): {t_all:.2f} s "
                    f"({df.height / t_all:,.0f} rows/s), {len(builder.feature_names_)} features, "
                    f"{out.width} columns"
                )


if __name__ == "__main__":
    main()
