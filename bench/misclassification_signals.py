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

import polars as pl
from misclassification_ranking import first_fold_list


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    pl.Config.set_tbl_rows(20)
    for seed in args.seeds:
        label, table, k = first_fold_list(seed, args.rows)
        table = table.select(
            pl.when(pl.col("true_fraud_type") == "misclassification")
            .then(pl.lit("misclassification"))
            .when(pl.col("true_fraud") == 1)
            .then(pl.lit("other fraud"))
            .otherwise(pl.lit("clean"))
            .alias("truth"),
            pl.col("usual_hs_code").is_not_null().alias("usual code"),
            pl.col("reclass_hs_code").is_not_null().alias("price fits a code"),
            "listed",
            "risk_score",
        )
        print(f"seed {seed}, {label}: list of {k:,} of {table.height:,}")
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
