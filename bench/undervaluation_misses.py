"""Which listed undervaluations do not show UNDERVALUED, and what they show instead.

For each seed: a synthetic year, trained on months 1-9, months 10-12 scored with
``--top 5%`` (as ``bench/reasons_mechanism.py``); among the model's listed true
undervaluations whose reasons lack UNDERVALUED, the declared price against the peers'
median (``value_ratio``) in bands, and their first reason codes.

    python bench/undervaluation_misses.py --seeds 1 2 --rows 100000
"""

from pathlib import Path

import polars as pl
from reasons_mechanism import TRUTH, each_seed, scored_year

from detector.io.persist import load_model


def misses(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    recent, listed = scored_year(seed, rows, folder)
    # The importer's earlier prices are features, not output columns (the percentile
    # among the peers' prices comes with the list: ``scored_year``).
    model, _ = load_model(folder / "m.joblib")
    features = model.transform(recent.drop(TRUTH)).select(
        "declaration_id",
        "importer_mean_ratio_before",
        "importer_share_below_before",
        "importer_n_before",
    )
    listed = listed.join(features, on="declaration_id", how="left")
    truth = pl.when(pl.col("true_fraud") == 1).then("true_fraud_type").otherwise(pl.lit("clean"))
    return listed.filter(pl.col("selection") == "model").select(
        pl.lit(seed).alias("seed"),
        truth.alias("truth"),
        "value_ratio",
        "price_percentile",
        "importer_mean_ratio_before",
        "importer_share_below_before",
        "importer_n_before",
        (pl.col("true_customs_value") / pl.col("customs_value")).alias("true_over_declared"),
        pl.col("reason_codes").list.contains("UNDERVALUED").alias("named"),
        pl.col("reason_codes").list.first().alias("first"),
    )


def _bands(column: str, breaks: list[float]) -> pl.Expr:
    """``column`` in left-closed bands between ``breaks`` (in order: ``[a, b)``)."""
    edges = ["-inf", *map(str, breaks), "inf"]
    labels = [f"{i}: [{a}, {b})" for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))]
    return pl.col(column).bin_intervals(breaks, labels=labels)


def main() -> None:
    args, frames = each_seed(misses, [1, 2])
    picks = pl.concat(frames)
    listed = picks.filter(pl.col("truth") == "undervaluation")
    missed = listed.filter(~pl.col("named"))
    print(
        f"seeds {args.seeds}: {listed.height:,} listed undervaluations, {missed.height:,} "
        "without UNDERVALUED"
    )
    bands = _bands("value_ratio", [0.7, 0.8, 0.9, 1.0, 1.2])
    ranks = _bands("price_percentile", [1, 2, 5, 10, 20])
    pl.Config.set_tbl_rows(40)
    print(missed.group_by(bands.alias("value_ratio")).len().sort("value_ratio"))
    print(missed.group_by("first").len().sort("len", descending=True))
    print("their percentile among their peers' prices, and that of the other listed rows")
    others = picks.filter((pl.col("truth") != "undervaluation") & (pl.col("value_ratio") >= 0.7))
    print(
        pl.concat(
            [missed.select("truth", "price_percentile"), others.select("truth", "price_percentile")]
        )
        .group_by("truth", ranks.alias("percentile"))
        .len()
        .sort("truth", "percentile")
    )
    print("the importer's earlier prices against their peers (mean ratio), mild discounts only")
    mild = pl.concat([missed, others]).filter(pl.col("value_ratio") < 1.0)
    ratio = _bands("importer_mean_ratio_before", [0.6, 0.7, 0.8, 0.9, 1.0])
    print(
        mild.group_by("truth", ratio.alias("importer ratio")).len().sort("truth", "importer ratio")
    )
    share = _bands("importer_share_below_before", [0.5, 0.7, 0.8, 0.9])
    print(mild.group_by("truth", share.alias("share below")).len().sort("truth", "share below"))
    print(
        "their declared value is the true one divided by: median "
        f"{missed['true_over_declared'].median():.2f}, listed ones named: "
        f"{listed.filter(pl.col('named'))['true_over_declared'].median():.2f}"
    )


if __name__ == "__main__":
    main()
