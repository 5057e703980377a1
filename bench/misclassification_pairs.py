"""Which misclassified goods the 5 % list misses, code by code, and what the labels
showed of them.

Usage: python bench/misclassification_pairs.py [--seeds 1 2 3] [--rows 200000]

On the first fold of each synthetic year's backtest (fitted on months 1-6, measured on
months 7-8; ``misclassification_ranking.first_fold_list``): the true misclassifications
of the test months by the code they were declared under, with how many the list holds,
for how many the importer's usual code or a dearer code the price fits is found, and
their median risk score and price ratio to their peers; beside them, how many
misclassifications of that code the training months' inspections labelled. Then the
rows whose price is more than three spreads above their peers' and fits a dearer code,
by truth: how sure that evidence is, against the risk the classifier gives it.
"""

import argparse
from datetime import date

import polars as pl
from misclassification_ranking import first_fold_list

from detector.app.backtest import rolling_folds
from detector.synthetic import generate_declarations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    pl.Config.set_tbl_rows(40)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    for seed in args.seeds:
        label, table, k = first_fold_list(seed, args.rows)
        year = generate_declarations(rows=args.rows, seed=seed, start=date(2025, 1, 1))
        train, _ = rolling_folds(year["declaration_date"], folds=3, months=2)[0].split(year)
        labelled = (
            train.filter(pl.col("inspected") & (pl.col("fraud_type") == "misclassification"))
            .group_by("hs_code")
            .agg(pl.len().alias("labelled in training"))
        )
        mc = table.filter(pl.col("true_fraud_type") == "misclassification")
        print(f"seed {seed}, {label}: {mc.height} misclassifications, list of {k:,}")
        print(
            mc.group_by("hs_code")
            .agg(
                pl.len().alias("rows"),
                pl.col("listed").sum().alias("listed"),
                pl.col("usual_hs_code").is_not_null().sum().alias("usual code"),
                pl.col("reclass_hs_code").is_not_null().sum().alias("dearer code fits"),
                pl.col("risk_score").median().alias("risk"),
                pl.col("value_ratio").median().alias("price ratio"),
            )
            .join(labelled, on="hs_code", how="left")
            .with_columns(pl.col("labelled in training").fill_null(0))
            .sort("hs_code")
        )
        far = table.filter(pl.col("reclass_hs_code").is_not_null() & (pl.col("price_z") > 3))
        print(
            "priced more than 3 spreads above the peers, a dearer code fits:",
            far.with_columns(pl.col("true_fraud_type").fill_null("clean"))
            .group_by("true_fraud_type")
            .agg(
                pl.len().alias("rows"),
                pl.col("listed").sum().alias("listed"),
                pl.col("risk_score").median().alias("risk"),
            )
            .sort("true_fraud_type"),
        )


if __name__ == "__main__":
    main()
