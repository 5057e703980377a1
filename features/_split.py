"""Split shipments: one consignee receiving many parcels on one day, each under de minimis."""

import polars as pl

__all__ = ["split_shipments"]

_NEAR = 0.7  # "just under" means between 70 % and 100 % of the threshold


def split_shipments(lf: pl.LazyFrame, de_minimis: float = 150.0) -> pl.LazyFrame:
    """Add same-day structuring signals per consignee and per consignee-seller pair.

    New columns: ``split_n_pair_day`` (declarations of this importer from this seller
    this day), ``split_under_pair_day`` (how many of them sit just under the de-minimis
    value), ``split_value_pair_day`` (their total value, in units of the threshold),
    ``split_n_importer_day`` and ``split_under_importer_day``, and
    ``batch_structured_share`` (share of the batch's declarations in a pair-day with at
    least three declarations just under the threshold).
    """
    value = pl.col("customs_value")
    under = ((value >= _NEAR * de_minimis) & (value < de_minimis)).cast(pl.Float64)
    pair = ["importer_id", pl.col("seller_id").fill_null("?"), "declaration_date"]
    day = ["importer_id", "declaration_date"]
    lf = lf.with_columns(
        pl.len().over(pair).cast(pl.Float64).alias("split_n_pair_day"),
        under.sum().over(pair).alias("split_under_pair_day"),
        (value.sum().over(pair) / de_minimis).alias("split_value_pair_day"),
        pl.len().over(day).cast(pl.Float64).alias("split_n_importer_day"),
        under.sum().over(day).alias("split_under_importer_day"),
    )
    return lf.with_columns(
        (pl.col("split_under_pair_day") >= 3).mean().alias("batch_structured_share")
    )
