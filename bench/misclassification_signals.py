"""Which misclassification signal the missed misclassified goods show, and how often it
fires on clean rows.

Usage: python bench/misclassification_signals.py [--seeds 1 2 3] [--rows 200000]

On the first fold of the synthetic backtest (fitted on months 1-6, measured on months
7-8), the test rows are grouped by truth (misclassification, another fraud, clean) and
by the signals found for them: the importer's usual code (``usual_codes``) and a code
the declared price fits (``reclass_hs_code``). Per group: how many rows, how many of
them the 5 % list holds, and their median risk score.
"""

import argparse
from datetime import date

import numpy as np
import polars as pl

from detector.app.backtest import rolling_folds
from detector.models import FraudModel, ModelConfig
from detector.synthetic import generate_declarations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    pl.Config.set_tbl_rows(20)
    for seed in args.seeds:
        year = generate_declarations(rows=args.rows, seed=seed, start=date(2025, 1, 1))
        fold = rolling_folds(year["declaration_date"], folds=3, months=2)[0]
        train, test = fold.split(year)
        model = FraudModel(ModelConfig()).fit(train)
        table = model.score(model.transform(test))
        usual = model.usual_codes(table)["usual_hs_code"]
        k = int(np.ceil(0.05 * table.height))
        table = (
            table.with_columns(usual)
            .sort("rank_score", descending=True)
            .with_row_index("place")
            .select(
                pl.when(pl.col("true_fraud_type") == "misclassification")
                .then(pl.lit("misclassification"))
                .when(pl.col("true_fraud") == 1)
                .then(pl.lit("other fraud"))
                .otherwise(pl.lit("clean"))
                .alias("truth"),
                pl.col("usual_hs_code").is_not_null().alias("usual code"),
                pl.col("reclass_hs_code").is_not_null().alias("price fits a code"),
                (pl.col("place") < k).alias("listed"),
                "risk_score",
            )
        )
        print(f"seed {seed}, {fold.label}: list of {k:,} of {table.height:,}")
        print(
            table.group_by("truth", "usual code", "price fits a code")
            .agg(
                pl.len().alias("rows"),
                pl.col("listed").sum(),
                pl.col("risk_score").median().round(3).alias("median risk"),
            )
            .sort("truth", "usual code", "price fits a code")
        )


if __name__ == "__main__":
    main()
