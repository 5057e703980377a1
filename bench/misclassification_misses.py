"""Which listed misclassifications do not show MISCLASSIFIED, and why the check missed.

For each seed: a synthetic year, trained on months 1-9, months 10-12 scored with
``--top 5%`` (as ``bench/reasons_mechanism.py``). For each listed true
misclassification (the model's picks), the code its goods really are (the generator's
pairs), the declared price against its own peers (``price_z``, the check needs 2
spreads) and against the true code's declarations of months 1-9, of the same origin and
of all origins (median and spread of the log price per tonne, as the engine's reference
tables make them roughly: the spread here is the interquartile range / 1.349), and
the two codes' duty for the origin.

    python bench/misclassification_misses.py --seeds 21 22 23 --rows 100000
"""

from pathlib import Path

import polars as pl
from reasons_mechanism import TRUTH, each_seed, scored_year

from detector.io.persist import load_model
from detector.synthetic import _catalogue as cat

TRUE_CODE = {declared: true for true, declared in cat.MISCLASSIFICATION}


def _peers(history: pl.DataFrame, keys: list[str], tag: str) -> pl.DataFrame:
    x = (pl.col("customs_value") / pl.col("net_mass_kg") * 1000).log()
    return (
        history.filter(pl.col("net_mass_kg") > 0, pl.col("customs_value") > 0)
        .group_by(keys)
        .agg(
            x.median().alias(f"{tag}_median"),
            ((x.quantile(0.75) - x.quantile(0.25)) / 1.349).alias(f"{tag}_spread"),
            pl.len().alias(f"{tag}_n"),
            pl.col("duty_rate_pct").median().alias(f"{tag}_duty"),
        )
        .rename({"hs_code": "true_hs"})
    )


def misses(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    recent, listed = scored_year(seed, rows, folder)
    model, _ = load_model(folder / "m.joblib")
    features = model.transform(recent.drop(TRUTH)).select(
        "declaration_id", "price_z", "log_unit_value", "reclass_hs_code"
    )
    history = pl.read_parquet(folder / "h.parquet")
    picks = (
        listed.filter(
            (pl.col("selection") == "model") & (pl.col("true_fraud_type") == "misclassification")
        )
        .join(features, on="declaration_id", how="left")
        .with_columns(pl.col("hs_code").replace_strict(TRUE_CODE, default=None).alias("true_hs"))
        .join(
            _peers(history, ["hs_code", "country_origin"], "o"),
            on=["true_hs", "country_origin"],
            how="left",
        )
        .join(_peers(history, ["hs_code"], "a"), on="true_hs", how="left")
    )
    return picks.select(
        pl.lit(seed).alias("seed"),
        "hs_code",
        "true_hs",
        "country_origin",
        pl.col("reason_codes").list.contains("MISCLASSIFIED").alias("named"),
        "value_ratio",
        pl.col("price_z").round(2),
        ((pl.col("log_unit_value") - pl.col("o_median")) / pl.col("o_spread"))
        .round(2)
        .alias("z_true_origin"),
        pl.col("o_n"),
        ((pl.col("log_unit_value") - pl.col("a_median")) / pl.col("a_spread"))
        .round(2)
        .alias("z_true_all"),
        "duty_rate_pct",
        pl.col("o_duty").alias("true_duty_origin"),
        pl.col("a_duty").alias("true_duty_all"),
    )


def main() -> None:
    args, frames = each_seed(misses, [21, 22, 23])
    picks = pl.concat(frames)
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(250)
    print(f"seeds {args.seeds}: {picks.height} listed misclassifications")
    print(
        picks.group_by("seed", "hs_code", "true_hs")
        .agg(pl.len().alias("rows"), pl.col("named").mean().round(3).alias("named"))
        .sort("seed", "hs_code")
    )
    missed = picks.filter(~pl.col("named"))
    print("the missed ones: why the check did not fire")
    print(
        missed.with_columns(
            (pl.col("price_z").abs() < 2).alias("own_z_under_2"),
            (pl.col("z_true_origin").abs() > 1).alias("true_origin_z_over_1"),
        )
        .group_by("seed", "hs_code", "own_z_under_2", "true_origin_z_over_1")
        .agg(
            pl.len().alias("rows"),
            pl.col("price_z").median().alias("price_z"),
            pl.col("z_true_origin").median(),
            pl.col("z_true_all").median(),
            pl.col("o_n").median(),
            pl.col("duty_rate_pct").median(),
            pl.col("true_duty_origin").median(),
        )
        .sort("seed", "hs_code")
    )


if __name__ == "__main__":
    main()
