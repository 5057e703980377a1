"""Would the reclassification check find more misclassified goods if the codes it
compares a price with were priced on the batch's own declarations of this quarter?

A one-off experiment (issue 24): the training history of the benchmark years covers
months 1-9, so no code has a price for the fourth quarter, and a seasonal code's
price is compared with its average of the other three. For each seed: a synthetic
year, trained on months 1-9, months 10-12 scored with ``--top 5%`` twice: as shipped,
and with the candidate codes' per-origin-and-quarter prices fitted on the training
months and the scored months together (what a batch-wide price table would give).
Among the model's listed rows, per true scheme (``clean`` for none): how many, and the
share whose reason codes hold MISCLASSIFIED.

    python bench/reclass_batch.py --seeds 1 2 3 --rows 100000
"""

import argparse
import tempfile
from pathlib import Path

import polars as pl
from reasons_mechanism import split_year

import detector.features._reclassification as reclass
from detector.app.pipeline import score, train
from detector.features._reference_prices import fit_reference_prices
from detector.io.persist import load_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    shipped = reclass._candidates
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            split_year(seed, args.rows, folder)
            train([folder / "h.parquet"], folder / "m.joblib")
            model, _ = load_model(folder / "m.joblib")
            both = pl.concat(
                [
                    pl.read_parquet(folder / "h.parquet"),
                    pl.read_parquet(folder / "r.parquet").select(
                        list(pl.read_parquet_schema(folder / "h.parquet"))
                    ),
                ]
            )
            current = fit_reference_prices(
                model.features_._work(both.lazy()), model.features_.reference_.min_count
            )

            def with_batch(reference, routes, current=current):
                out = shipped(reference, routes)
                return out | {"quarter": shipped(current, routes)["quarter"]}

            for variant, candidates in (("shipped", shipped), ("batch quarter", with_batch)):
                reclass._candidates = candidates
                try:
                    with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
                        listed = result.scored.filter(pl.col("selection") == "model")
                finally:
                    reclass._candidates = shipped
                rows.append(
                    listed.with_columns(pl.col("true_fraud_type").fill_null("clean"))
                    .group_by("true_fraud_type")
                    .agg(
                        pl.len().alias("rows"),
                        pl.col("reason_codes").list.contains("MISCLASSIFIED").sum().alias("named"),
                    )
                    .with_columns(pl.lit(seed).alias("seed"), pl.lit(variant).alias("variant"))
                )
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_width_chars(200)
    table = pl.concat(rows).sort("true_fraud_type", "variant", "seed")
    print(f"{args.rows:,} rows a seed, seeds {args.seeds}")
    print(table.with_columns((pl.col("named") / pl.col("rows")).round(3).alias("share")))
    pooled = (
        table.group_by("true_fraud_type", "variant")
        .agg(pl.col("rows").sum(), pl.col("named").sum())
        .with_columns((pl.col("named") / pl.col("rows")).round(3).alias("share"))
        .sort("true_fraud_type", "variant")
    )
    print("\npooled over the seeds")
    print(pooled)


if __name__ == "__main__":
    main()
