"""A declared value of 0 against the same goods declared at a vanishing value, at a
hundredth and in full: how the classifier ranks them, read as it is now (a value of 0
below every price) and as before (a missing price).

Usage: python bench/zero_value_probe.py [--rows 60000] [--seed 1] [--probes 30]

A synthetic year is fitted on months 1-9; the first 4,000 rows of months 10-12 are the
batch, with ``--probes`` clean taxed rows of it added four times over: at 0, at a
millionth of their value, at a hundredth and in full. The same model scores the batch
twice: as fitted, and with its feature builder reading a value of 0 as models fitted
before ``ZERO_VALUE_Z`` did (``zero_value_below_`` removed). Printed per variant: the
median and lowest risk, the median rank, and how many of the probes the 5 % list holds.
"""

import argparse
import copy
from datetime import date

import numpy as np
import polars as pl

from detector.models import FraudModel, ModelConfig
from detector.synthetic import generate_declarations

TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--probes", type=int, default=30)
    args = parser.parse_args()
    year = generate_declarations(rows=args.rows, seed=args.seed)
    cut = pl.col("declaration_date") < date(2025, 10, 1)
    model = FraudModel(ModelConfig()).fit(year.filter(cut).drop(TRUTH))
    batch = year.filter(~cut).head(4_000)
    taxed = batch.filter((pl.col("true_fraud") == 0) & (pl.col("duty_rate_pct") > 0))
    taxed = taxed.head(args.probes)
    variants = {
        "at 0": pl.lit(0.0),
        "at a millionth": pl.col("customs_value") / 1e6,
        "at a hundredth": pl.col("customs_value") / 100,
        "in full": pl.col("customs_value"),
    }
    rows = pl.concat(
        [batch.with_columns(pl.lit("batch").alias("variant"))]
        + [
            taxed.with_columns(
                pl.format(f"{i}{{}}", pl.col("declaration_id")).alias("declaration_id"),
                pl.lit(name).alias("variant"),
                customs_value=value,
            )
            for i, (name, value) in enumerate(variants.items())
        ]
    )
    before = copy.copy(model)
    before.features_ = copy.copy(model.features_)
    del before.features_.zero_value_below_
    k = int(np.ceil(0.05 * rows.height))
    print(f"{args.rows:,} rows, seed {args.seed}: batch of {rows.height:,}, list of {k:,} (5 %)")
    for label, m in (("now (below every price)", model), ("before (a missing price)", before)):
        scored = m.score(m.transform(rows)).with_columns(
            pl.col("rank_score").rank("ordinal", descending=True).alias("rank")
        )
        print(label)
        for name in variants:
            part = scored.filter(pl.col("variant") == name)
            print(
                f"  {name:<15} median risk {part['risk_score'].median():.3f}, lowest "
                f"{part['risk_score'].min():.3f}, median rank {part['rank'].median():7.0f}, "
                f"in the list {(part['rank'] <= k).sum():3d} of {part.height}"
            )


if __name__ == "__main__":
    main()
