"""Split shipments: one consignee receiving many parcels on one day, each under de minimis."""

import polars as pl

from detector.features._batch import day_counts, join_day_counts

__all__ = ["split_shipments"]


def split_shipments(lf: pl.LazyFrame, de_minimis: float = 150.0) -> pl.LazyFrame:
    """Add same-day structuring signals per consignee and per consignee-seller pair.

    Reads the batch's day counts (``features._batch.join_day_counts``); when they are
    not there yet, counts the frame itself as the batch. New columns:
    ``split_n_pair_day`` (declarations of this importer from this seller this day),
    ``split_under_pair_day`` (how many of them sit just under the de-minimis value),
    ``split_value_pair_day`` (their total value, in units of the threshold),
    ``split_n_importer_day``, ``split_under_importer_day``, and ``split_parcel`` (1
    where the declaration itself is under the de-minimis value; not a model feature:
    it says which rows of a split pair-day are its parcels).
    """
    if "_pair_day_n" not in lf.collect_schema().names():
        lf = join_day_counts(lf, day_counts(lf, de_minimis, ("pair_day", "importer_day")))
    return lf.with_columns(
        pl.col("_pair_day_n").cast(pl.Float64).alias("split_n_pair_day"),
        pl.col("_pair_day_under").cast(pl.Float64).alias("split_under_pair_day"),
        (pl.col("_pair_day_cents") / (100.0 * de_minimis)).alias("split_value_pair_day"),
        pl.col("_importer_day_n").cast(pl.Float64).alias("split_n_importer_day"),
        pl.col("_importer_day_under").cast(pl.Float64).alias("split_under_importer_day"),
        (pl.col("customs_value") < de_minimis).cast(pl.Int8).alias("split_parcel"),
    )
