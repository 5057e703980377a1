"""Which misclassified goods the list misses, code pair by code pair, and what the
importer's record shows of them.

Usage: python bench/misclassification_codes.py [--seeds 1 2 3] [--rows 200000]

On the first fold of the synthetic backtest (fitted on months 1-6, measured on months
7-8, as ``bench/misclassification_ranking.py``), the true misclassifications of the test
months are grouped by declared code: how many, how many the 5 % list holds, for how
many the importer's usual code was found (and of those, how many from its trade with
the row's seller), how many the price fits another code, and the median risk of the
listed and the missed. Then, for the declared codes, the clean test rows found with a
usual code: the signal's false alarms.
"""

import argparse

import polars as pl
from misclassification_ranking import first_fold_list


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(12)
    for seed in args.seeds:
        label, table, k = first_fold_list(seed, args.rows)
        mc = pl.col("true_fraud_type") == "misclassification"
        usual = pl.col("usual_hs_code").is_not_null()
        codes = table.filter(mc)["hs_code"].unique()
        print(f"seed {seed}, {label}: list of {k:,}")
        print(
            table.filter(pl.col("hs_code").is_in(codes.implode()))
            .group_by("hs_code")
            .agg(
                pl.len().alias("rows"),
                mc.sum().alias("misclassified"),
                (mc & pl.col("listed")).sum().alias("listed"),
                (mc & usual).sum().alias("usual code"),
                (mc & pl.col("usual_seller_id").is_not_null()).sum().alias("by seller"),
                (mc & pl.col("reclass_hs_code").is_not_null()).sum().alias("price fits"),
                (~mc & usual).sum().alias("clean, usual code"),
                pl.col("risk_score").filter(mc & pl.col("listed")).median().alias("risk listed"),
                pl.col("risk_score").filter(mc & ~pl.col("listed")).median().alias("risk missed"),
                pl.col("risk_score")
                .filter(mc & usual & ~pl.col("listed"))
                .median()
                .alias("risk missed, usual"),
            )
            .sort("hs_code")
        )


if __name__ == "__main__":
    main()
