"""How wide the reclassification check's fit may be: named misclassifications against
MISCLASSIFIED said of rows that are not.

For each seed: a synthetic year, trained on months 1-9 (inspected labels only), months
10-12 scored with ``--top 5%`` under several thresholds of the check
(``features._reclassification``: a price at least MISFIT_Z spreads from its own peers,
within FIT_Z spreads of another code's). The model is trained once, with the shipped
thresholds; only the scoring's check changes (its two features move a little with it).
Among the model's listed rows, per true scheme (``clean`` for none): how many, and the
share whose reason codes hold MISCLASSIFIED, and whose first code it is.

    python bench/reclass_thresholds.py --seeds 1 2 --rows 100000
"""

import argparse
import tempfile
from pathlib import Path

import polars as pl
from reasons_mechanism import split_year

import detector.features._reclassification as reclass
from detector.app.pipeline import score, train

VARIANTS = [(2.0, 1.0), (2.0, 1.5), (2.0, 2.0), (1.5, 1.5)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    shipped = (reclass.MISFIT_Z, reclass.FIT_Z)
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            split_year(seed, args.rows, folder)
            train([folder / "h.parquet"], folder / "m.joblib")
            for misfit, fit in VARIANTS:
                reclass.MISFIT_Z, reclass.FIT_Z = misfit, fit
                with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
                    listed = result.scored.filter(pl.col("selection") == "model")
                codes = pl.col("reason_codes")
                rows.append(
                    listed.with_columns(pl.col("true_fraud_type").fill_null("clean"))
                    .group_by("true_fraud_type")
                    .agg(
                        pl.len().alias("rows"),
                        codes.list.contains("MISCLASSIFIED").mean().alias("named"),
                        (codes.list.first() == "MISCLASSIFIED").mean().alias("first"),
                    )
                    .with_columns(
                        pl.lit(seed).alias("seed"),
                        pl.lit(f"{misfit:g}/{fit:g}").alias("misfit/fit"),
                    )
                )
            reclass.MISFIT_Z, reclass.FIT_Z = shipped
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_width_chars(200)
    table = pl.concat(rows).sort("true_fraud_type", "misfit/fit", "seed")
    print(f"shipped: misfit {shipped[0]:g}, fit {shipped[1]:g}; {args.rows:,} rows a seed")
    print(table)
    pooled = (
        table.with_columns((pl.col("named") * pl.col("rows")).alias("n_named"))
        .group_by("true_fraud_type", "misfit/fit")
        .agg(pl.col("rows").sum(), (pl.col("n_named").sum() / pl.col("rows").sum()).alias("named"))
        .sort("true_fraud_type", "misfit/fit")
    )
    print("\npooled over the seeds")
    print(pooled)


if __name__ == "__main__":
    main()
