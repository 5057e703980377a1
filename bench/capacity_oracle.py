"""What a perfect ranking could do at 5 % capacity on the synthetic backtest's folds.

Usage: python bench/capacity_oracle.py [--seeds 1 2 3] [--rows 200000] [--capacity 5]

Two targets of the synthetic backtest share one list: revenue@5 % >= 0.85 and every
scheme's recall@5 % >= 0.8. No model is fitted here: on each fold's test months (the
backtest's folds, months 7-8, 9-10 and 11-12), the ground truth itself is ranked.

- ``revenue first``: every fraud, highest revenue first (the ceiling of revenue@5 %);
- ``schemes first``: for each scheme, its highest-revenue 80 % of frauds first, then
  the other frauds by revenue (the most revenue a list can have with every scheme at
  0.8; greedy is optimal, as every declaration takes one place on the list).

Printed per fold: rows, places on the list, frauds, and for each oracle its
revenue@5 % and recall by scheme; then whether the two targets can hold together.
"""

import argparse
import math
from datetime import date

import polars as pl

from detector.app.backtest import rolling_folds
from detector.synthetic import generate_declarations

SHARE = 0.8


def _frauds(test: pl.DataFrame) -> pl.DataFrame:
    return test.filter(pl.col("true_fraud") == 1).select(
        pl.col("true_fraud_type").alias("scheme"),
        pl.col("true_revenue_lost").fill_null(0.0).alias("revenue"),
    )


def _listed(frauds: pl.DataFrame, places: int, first_share: float) -> pl.DataFrame:
    """The frauds a perfect list of ``places`` holds: each scheme's ``first_share`` of
    its frauds (highest revenue first) before the rest by revenue."""
    ranked = frauds.with_columns(
        pl.col("revenue").rank("ordinal", descending=True).over("scheme").alias("in_scheme"),
        pl.len().over("scheme").alias("of_scheme"),
    ).with_columns(
        (pl.col("in_scheme") <= (pl.col("of_scheme") * first_share).ceil()).alias("first")
    )
    return ranked.sort(["first", "revenue"], descending=[True, True]).head(places)


def _line(name: str, frauds: pl.DataFrame, listed: pl.DataFrame) -> tuple[str, float, float]:
    revenue = listed["revenue"].sum() / frauds["revenue"].sum()
    totals = dict(frauds.group_by("scheme").len().iter_rows())
    held = dict(listed.group_by("scheme").len().iter_rows())
    recall = {s: held.get(s, 0) / n for s, n in sorted(totals.items())}
    parts = " ".join(f"{s} {r:.3f}" for s, r in recall.items())
    return f"  {name:<14} revenue {revenue:.3f}  recall {parts}", revenue, min(recall.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--capacity", type=float, default=5.0)
    args = parser.parse_args()
    both = []
    for seed in args.seeds:
        year = generate_declarations(rows=args.rows, seed=seed, start=date(2025, 1, 1))
        for fold in rolling_folds(year["declaration_date"], folds=3, months=2):
            _, test = fold.split(year)
            frauds = _frauds(test)
            places = math.ceil(test.height * args.capacity / 100)
            print(
                f"seed {seed}, {fold.label}: {test.height:,} rows, {places:,} places, "
                f"{frauds.height:,} frauds ({frauds.height / places:.2f} per place)"
            )
            text, *_ = _line("revenue first", frauds, _listed(frauds, places, 0.0))
            print(text)
            text, revenue, lowest = _line("schemes first", frauds, _listed(frauds, places, SHARE))
            print(text)
            both.append((revenue, lowest))
    holds = sum(r >= 0.85 and low >= SHARE for r, low in both)
    mean = sum(r for r, _ in both) / len(both)
    print(
        f"\nschemes first: every scheme at {SHARE} and revenue >= 0.85 on {holds} of "
        f"{len(both)} folds; its revenue@{args.capacity:g}% averages {mean:.3f}"
    )


if __name__ == "__main__":
    main()
