"""Why the list misses misclassified goods: the classifier's risk, or their stake?

Usage: python bench/misclassification_ranking.py [--seeds 1 2 3] [--rows 200000]

On the first fold of the synthetic backtest (fitted on months 1-6, measured on months
7-8), the true misclassifications are split into those the 5 % list holds and those it
misses; for each part: how many, whether the importer's usual code
(``usual_codes``) or a code the price fits (``reclass_hs_code``) is found for them,
their median place and risk score, and their median true revenue. A stake can only
reorder likely frauds: a miss with a low risk score needs the classifier to see it.
"""

import argparse
from datetime import date

import numpy as np
import polars as pl

from detector.app.backtest import rolling_folds
from detector.models import FraudModel, ModelConfig
from detector.synthetic import generate_declarations


def first_fold_list(seed: int, rows: int) -> tuple[str, pl.DataFrame, int]:
    """The first fold of a synthetic year's backtest (fitted on months 1-6): its test
    rows scored, most suspicious first, with their ``place`` and whether the 5 % list
    holds them (``listed``); the fold's label and the list's length."""
    year = generate_declarations(rows=rows, seed=seed, start=date(2025, 1, 1))
    fold = rolling_folds(year["declaration_date"], folds=3, months=2)[0]
    train, test = fold.split(year)
    model = FraudModel(ModelConfig()).fit(train)
    table = model.score(model.transform(test))
    k = int(np.ceil(0.05 * table.height))
    table = (
        table.sort("rank_score", descending=True)
        .with_row_index("place")
        .with_columns((pl.col("place") < k).alias("listed"))
    )
    return fold.label, table, k


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    for seed in args.seeds:
        label, table, k = first_fold_list(seed, args.rows)
        mc = table.filter(pl.col("true_fraud_type") == "misclassification")
        listed = table.filter(pl.col("listed") & (pl.col("true_fraud") == 1))
        print(f"seed {seed}, {label}: {mc.height} misclassifications, list of {k:,}")
        for held in (True, False):
            g = mc.filter(pl.col("listed") == held)
            print(
                f"  {'listed' if held else 'missed':<6} {g.height:4d}: usual code found "
                f"{g['usual_hs_code'].is_not_null().sum():4d}, a code the price fits "
                f"{g['reclass_hs_code'].is_not_null().sum():4d}, median place "
                f"{g['place'].median():7.0f}, median risk {g['risk_score'].median():.3f}, "
                f"median true revenue {g['true_revenue_lost'].median():8.1f}"
            )
        print(
            f"  every listed fraud: median risk {listed['risk_score'].median():.3f}, median "
            f"true revenue {listed['true_revenue_lost'].median():.1f}; risk at the cut "
            f"{table['risk_score'][k]:.3f}"
        )


if __name__ == "__main__":
    main()
