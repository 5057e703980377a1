"""The frauds the 5 % list misses, scheme by scheme: is it the classifier or the stake?

Usage: python bench/scheme_misses.py [--seeds 1 2 3] [--rows 200000]

On the first fold of each synthetic year's backtest (fitted on months 1-6, measured on
months 7-8; ``misclassification_ranking.first_fold_list``), every row by truth and by
whether the list holds it: how many, the median risk score (and how many above 0.9),
the median rank score and place, and the true revenue. Then the frauds of the last 300
places of the list by scheme (what a scheme brought in would push out), and the
parcels that sit among five or more parcels just under de minimis from one seller to
one consignee on one day, by truth (how sure the split-shipment signal itself is).
"""

import argparse

import polars as pl
from misclassification_ranking import first_fold_list

_TAIL = 300


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_rows(40)
    pl.Config.set_tbl_width_chars(200)
    for seed in args.seeds:
        label, table, k = first_fold_list(seed, args.rows)
        table = table.with_columns(pl.col("true_fraud_type").fill_null("clean"))
        revenue = table.filter(pl.col("true_fraud") == 1)["true_revenue_lost"].sum()
        listed = table.filter(pl.col("listed") & (pl.col("true_fraud") == 1))
        print(
            f"seed {seed}, {label}: list of {k:,}; revenue@5 % "
            f"{listed['true_revenue_lost'].sum() / revenue:.3f}; rank score at the cut "
            f"{table['rank_score'][k]:.3f}, risk at the cut {table['risk_score'][k]:.3f}"
        )
        print(
            table.group_by("true_fraud_type", "listed")
            .agg(
                pl.len().alias("rows"),
                pl.col("risk_score").median().alias("risk"),
                (pl.col("risk_score") > 0.9).sum().alias("risk > 0.9"),
                pl.col("rank_score").median().alias("rank score"),
                pl.col("place").median().alias("place"),
                (pl.col("true_revenue_lost").sum() / revenue).alias("revenue share"),
            )
            .sort("true_fraud_type", "listed")
        )
        tail = table.filter(pl.col("listed")).tail(_TAIL)
        print(
            f"the last {_TAIL} places of the list:",
            tail.group_by("true_fraud_type")
            .agg(
                pl.len().alias("rows"),
                (pl.col("true_revenue_lost").sum() / revenue).alias("revenue share"),
            )
            .sort("rows"),
        )
        parcels = table.filter(
            (pl.col("split_parcel") == 1) & (pl.col("split_under_pair_day") >= 5)
        )
        print(
            "parcels among 5 or more just under de minimis, one seller, one consignee, one day:",
            parcels.group_by("true_fraud_type", "listed")
            .agg(pl.len().alias("rows"), pl.col("risk_score").median().alias("risk"))
            .sort("true_fraud_type", "listed"),
        )


if __name__ == "__main__":
    main()
