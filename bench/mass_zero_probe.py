"""Frauds declared without a net mass (0, "not declared") against the same rows as
declared: how much of their risk rests on the price per ton a mass gives.

Usage: python bench/mass_zero_probe.py [--rows 60000] [--seed 1]

A synthetic year is fitted on months 1-9; the first 4,000 rows of months 10-12 are the
batch, scored as declared and again with its undervaluation and transshipment frauds
declared with a mass of 0. Printed per variant and scheme: the median risk, how many
score under 0.5, and how many the batch's 5 % list holds.
"""

import argparse
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
    args = parser.parse_args()
    year = generate_declarations(rows=args.rows, seed=args.seed)
    cut = pl.col("declaration_date") < date(2025, 10, 1)
    model = FraudModel(ModelConfig()).fit(year.filter(cut).drop(TRUTH))
    batch = year.filter(~cut).head(4_000)
    schemes = ("undervaluation", "transshipment")
    hidden = pl.col("true_fraud_type").is_in(schemes)
    k = int(np.ceil(0.05 * batch.height))
    print(f"{args.rows:,} rows, seed {args.seed}: batch of {batch.height:,}, list of {k:,} (5 %)")
    variants = {
        "as declared": batch,
        "mass 0": batch.with_columns(
            pl.when(hidden).then(0.0).otherwise(pl.col("net_mass_kg")).alias("net_mass_kg")
        ),
    }
    for variant, rows in variants.items():
        scored = model.score(model.transform(rows)).with_columns(
            pl.col("rank_score").rank("ordinal", descending=True).alias("rank")
        )
        for scheme in schemes:
            part = scored.filter(pl.col("true_fraud_type") == scheme)
            print(
                f"  {variant:<12} {scheme:<15} median risk {part['risk_score'].median():.3f}, "
                f"under 0.5 {(part['risk_score'] < 0.5).sum():3d} of {part.height}, "
                f"in the list {(part['rank'] <= k).sum():3d}"
            )


if __name__ == "__main__":
    main()
