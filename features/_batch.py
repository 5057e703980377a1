"""Counts over a whole batch, per day: the batch-wide features.

Split shipments (declarations of one importer, or one importer-seller pair, on one
day) and lane surges (declarations of the goods on one lane on one day) count every
declaration of the batch, whichever file or partition it came in. They are computed
by one aggregation, :func:`day_counts`, and joined to the rows by
:func:`join_day_counts`; a batch read whole and a batch read piece by piece join the
same counts, so their features are the same.

The groups are keyed by a 64-bit hash of their columns, which keeps the tables of a
batch of ten million declarations small; two groups share a key with a probability of
about n^2 / 2^65 (3e-6 for ten million groups).
"""

import polars as pl

__all__ = ["DAY_COUNT_COLUMNS", "day_counts", "join_day_counts", "merge_day_counts"]

_NEAR = 0.7  # "just under" de minimis means between 70 % and 100 % of it
_SEED = 20_250_101

_KEYS: dict[str, tuple] = {
    "pair_day": ("importer_id", pl.col("seller_id").fill_null("?"), "declaration_date"),
    "importer_day": ("importer_id", "declaration_date"),
    "lane_day": ("hs_code", "country_origin", "country_departure", "declaration_date"),
    "hs_day": ("hs_code", "declaration_date"),
}


def _key(name: str) -> pl.Expr:
    return pl.struct(*_KEYS[name]).hash(_SEED).alias(f"_k_{name}")


def _aggregations(name: str, de_minimis: float) -> list[pl.Expr]:
    value = pl.col("customs_value")
    under = ((value >= _NEAR * de_minimis) & (value < de_minimis)).cast(pl.Int64)
    n = pl.len().cast(pl.Int64).alias(f"_{name}_n")
    if name == "pair_day":
        # Money in whole cents: an integer sum is the same in any order of addition.
        cents = (value * 100).round().cast(pl.Int64)
        return [n, under.sum().alias(f"_{name}_under"), cents.sum().alias(f"_{name}_cents")]
    if name == "importer_day":
        return [n, under.sum().alias(f"_{name}_under")]
    return [n]


#: The columns :func:`join_day_counts` adds (and the feature steps drop again).
DAY_COUNT_COLUMNS: tuple[str, ...] = (
    "_pair_day_n",
    "_pair_day_under",
    "_pair_day_cents",
    "_importer_day_n",
    "_importer_day_under",
    "_lane_day_n",
    "_hs_day_n",
)


def day_counts(
    lf: pl.LazyFrame, de_minimis: float, kinds: tuple[str, ...] = tuple(_KEYS)
) -> dict[str, pl.LazyFrame]:
    """Per-day group counts of a batch of declarations, one table per kind of group.

    Each table keeps its groups' day beside the key, so that a piece of the batch can
    read the days it covers and no more (:func:`join_day_counts`).
    """
    return {
        name: lf.group_by(_key(name), "declaration_date").agg(_aggregations(name, de_minimis))
        for name in kinds
    }


def merge_day_counts(parts: dict[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Add up the concatenated day counts of a batch's pieces, group by group."""
    out = {}
    for name, frames in parts.items():
        key = f"_k_{name}"
        values = [c for c in frames.collect_schema().names() if c not in (key, "declaration_date")]
        out[name] = frames.group_by(key, "declaration_date").agg(pl.col(c).sum() for c in values)
    return out


def join_day_counts(
    lf: pl.LazyFrame, counts: dict[str, pl.LazyFrame], days: tuple | None = None
) -> pl.LazyFrame:
    """Put each row's day counts beside it (the row order is kept).

    ``days``: the first and last day of ``lf`` when the counts are a whole batch's and
    ``lf`` a piece of it: only those days' counts are read (a filter on the scan), so a
    piece's memory does not grow with the batch.
    """
    lf = lf.with_columns(_key(name) for name in counts)
    for name, table in counts.items():
        if days is not None:
            table = table.filter(pl.col("declaration_date").is_between(*days))
        table = table.drop("declaration_date")
        lf = lf.join(table, on=f"_k_{name}", how="left", maintain_order="left")
    return lf.drop(f"_k_{name}" for name in counts)
