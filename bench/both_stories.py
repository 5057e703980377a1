"""Declarations whose price tells two stories, undervaluation and misclassification: what
they really are. The trial behind the reasons' order (``models._reasons._ordered``).

The demo's year (``detector demo``: 300,000 rows, seed 1, months 1-9 trained with months
10-12 for validation, months 10-12 scored with ``--top 5%``); among the model's listed
picks whose reasons name both UNDERVALUED and MISCLASSIFIED, their true scheme; and
among those, the ones where the duty of the code the price fits exceeds the
undervaluation's (the rows a misclassification led before the order was changed).

    python bench/both_stories.py [--rows 300000] [--seed 1]
"""

import argparse
import tempfile
from datetime import date
from pathlib import Path

import polars as pl

from detector.app.pipeline import demo_split, score, train
from detector.io.persist import load_model
from detector.synthetic import generate_declarations

TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        year = generate_declarations(rows=args.rows, seed=args.seed, start=date(2025, 1, 1))
        history, recent = demo_split(year, date(2025, 1, 1))
        history.drop(TRUTH).write_parquet(folder / "h.parquet")
        recent.write_parquet(folder / "r.parquet")
        train([folder / "h.parquet"], folder / "m.joblib", valid=[folder / "r.parquet"])
        with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
            listed = result.scored
        model, _ = load_model(folder / "m.joblib")
        stakes = model.transform(recent.drop(TRUTH)).select("declaration_id", "reclass_revenue")
    codes = pl.col("reason_codes")
    both = listed.filter(
        (pl.col("selection") == "model")
        & codes.list.contains("UNDERVALUED")
        & codes.list.contains("MISCLASSIFIED")
    ).join(stakes, on="declaration_id", how="left")
    truth = pl.when(pl.col("true_fraud") == 1).then("true_fraud_type").otherwise(pl.lit("clean"))
    both = both.with_columns(truth.alias("truth"))
    print(f"{listed.height:,} listed; {both.height:,} model picks name both stories")
    print(both.group_by("truth").len().sort("len", descending=True))
    dearer = both.filter(pl.col("reclass_revenue") > pl.col("revenue_at_stake"))
    print(f"{dearer.height:,} of them with more duty at stake under the code the price fits:")
    print(dearer.group_by("truth").len().sort("len", descending=True))


if __name__ == "__main__":
    main()
