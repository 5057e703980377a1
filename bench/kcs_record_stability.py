"""How steady the Korean goods-on-their-route records are over time.

Usage: python bench/kcs_record_stability.py [--kcs DIR]

The goods on their route (HS6 code, origin, departure) with at least 20 declarations in
each half of 2020 and 10 in 2021 (train.csv and valid.csv): the correlation of their
fraud rates between the halves of 2020, between the second half and 2021, and between
the first half and 2021. A record that drifts would be told better by recent months.
"""

import argparse
from pathlib import Path

import polars as pl


def main() -> None:
    parser = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    args = parser.parse_args()
    rows = pl.concat(
        [pl.read_csv(args.kcs / f, infer_schema=False) for f in ("train.csv", "valid.csv")]
    ).with_columns(
        pl.col("Fraud").cast(pl.Int32),
        pl.col("Date").str.to_date(),
        pl.concat_str(
            ["HS6 Code", "Country of Origin", "Country of Departure"], separator="|"
        ).alias("key"),
    )
    month = pl.col("Date").dt.month() + 12 * (pl.col("Date").dt.year() - 2020)
    periods = {"h1": month <= 6, "h2": (month > 6) & (month <= 12), "y21": month > 12}
    joined = None
    for name, when in periods.items():
        part = (
            rows.filter(when)
            .group_by("key")
            .agg(pl.len().alias(f"n_{name}"), pl.col("Fraud").mean().alias(name))
        )
        joined = part if joined is None else joined.join(part, on="key")
    kept = joined.filter((pl.col("n_h1") >= 20) & (pl.col("n_h2") >= 20) & (pl.col("n_y21") >= 10))
    print(f"{kept.height} goods on their route")
    print(
        kept.select(
            pl.corr("h1", "h2").alias("2020 H1 ~ H2"),
            pl.corr("h2", "y21").alias("2020 H2 ~ 2021"),
            pl.corr("h1", "y21").alias("2020 H1 ~ 2021"),
        )
    )


if __name__ == "__main__":
    main()
