"""Cases: flagged declarations that an investigator would open together.

Two flagged declarations belong to one case when they share an importer and their first
reason, the scheme their own evidence shows (one scheme run by one importer; a random
pick's EXPLORATION is not a scheme), or an importer and a seller (one
supply relationship, which also holds every split-shipment cluster: same seller, same
consignee, same day). Cases are the connected groups of that relation.
"""

import polars as pl

from detector.features import format_text
from detector.models import DUTY_AT_STAKE

__all__ = ["group_cases"]


def _components(pairs: list[tuple[int, int]], n: int) -> list[int]:
    """Connected components of ``n`` nodes joined by ``pairs`` (union-find)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [root(i) for i in range(n)]


def _links(flagged: pl.DataFrame, keys: list[str]) -> list[tuple[int, int]]:
    """Each row linked to the first row with the same non-empty ``keys``."""
    frame = flagged.select(pl.int_range(pl.len()).alias("i"), *keys).drop_nulls(keys)
    first = frame.with_columns(pl.col("i").min().over(keys).alias("j"))
    return list(first.filter(pl.col("i") != pl.col("j")).select("i", "j").iter_rows())


def _some(values: pl.Expr, n: int) -> pl.Expr:
    """The first ``n`` values joined, and how many more there are: "a, b, and 13 more"."""
    more = values.len().cast(pl.Int64) - n
    tail = pl.concat_str(pl.lit(", and "), more.cast(pl.String), pl.lit(" more"))
    return pl.concat_str(
        values.head(n).str.join(", "), pl.when(more > 0).then(tail).otherwise(pl.lit(""))
    )


#: The column of a flagged list that holds each declaration's duty at stake by its
#: scheme (``models.DUTY_AT_STAKE``), summed as a case's ``duty_at_stake``; without it,
#: the undervaluation's ``revenue_at_stake``.
CASE_STAKE = "__duty_at_stake"


def scheme_stake(columns: list[str]) -> pl.Expr:
    """A declaration's duty at stake by its scheme, over a frame with ``columns``: the
    ranking's (``models.DUTY_AT_STAKE``), or the duty of the importer's usual code that
    a MISCLASSIFIED reason names (``usual_revenue``, where the reasons were made)."""
    usual = [pl.col("usual_revenue").fill_null(0.0)] if "usual_revenue" in columns else []
    return pl.max_horizontal(DUTY_AT_STAKE, *usual)


def group_cases(flagged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add ``case_id`` to a flagged list and summarise its cases.

    ``flagged`` is the scored list (``rank``, ``declaration_id``, ``importer_id``,
    ``seller_id`` when known, ``risk_score``, ``revenue_at_stake``, ``reason_codes``...).
    Returns the list ordered case by case (cases by their best rank, declarations by
    rank inside) and one row per case: its declarations, total revenue at stake (of
    undervaluation) and duty at stake (by each declaration's scheme: ``CASE_STAKE``), best
    risk score, period, routes and its most frequent reasons (``strongest_reasons``).
    """
    # Each declaration's duty at stake by its scheme, when the caller gives it.
    stake = pl.col(CASE_STAKE) if CASE_STAKE in flagged.columns else pl.col("revenue_at_stake")
    if flagged.height == 0:
        empty = flagged.with_columns(pl.lit(None, pl.String).alias("case_id"))
        empty = empty.drop(CASE_STAKE, strict=False)
        return empty, pl.DataFrame(schema={"case_id": pl.String, "declarations": pl.UInt32})
    work = flagged.with_columns(
        # The scheme a declaration shows is its first reason of its own; a random pick's
        # EXPLORATION says how it was chosen, not what it shows.
        pl.col("reason_codes")
        .list.eval(pl.element().filter(pl.element() != "EXPLORATION"))
        .list.first()
        .alias("__scheme"),
        (pl.col("seller_id") if "seller_id" in flagged.columns else pl.lit(None, pl.String)).alias(
            "__seller"
        ),
    )
    pairs = _links(work, ["importer_id", "__scheme"]) + _links(work, ["importer_id", "__seller"])
    work = work.with_columns(pl.Series("__root", _components(pairs, work.height)))
    best = work.group_by("__root").agg(pl.col("rank").min().alias("__best"))
    numbered = best.sort("__best").with_columns(
        format_text(
            "C{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.pad_start(4, "0")
        ).alias("case_id")
    )
    work = work.join(numbered, on="__root").sort("__best", "rank")
    cases = (
        work.with_columns(
            pl.col("reason_codes")
            .list.eval(pl.element().filter(pl.element() != "EXPLORATION"))
            .alias("__codes")
        )
        .group_by("case_id", maintain_order=True)
        .agg(
            pl.len().alias("declarations"),
            pl.col("importer_id").unique().sort().str.join(", ").alias("importers"),
            pl.col("__seller").drop_nulls().unique().sort().str.join(", ").alias("sellers"),
            pl.col("revenue_at_stake").fill_null(0).sum().alias("revenue_at_stake"),
            stake.fill_null(0).sum().alias("duty_at_stake"),
            pl.col("risk_score").max().alias("max_risk_score"),
            pl.col("rank").min().alias("best_rank"),
            pl.col("declaration_date").min().alias("first_date"),
            pl.col("declaration_date").max().alias("last_date"),
            _some(pl.col("route").unique().sort(), 5).alias("routes"),
            pl.col("__codes")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .drop_nulls()
            .value_counts(sort=True)
            .head(3)
            .struct.field("__codes")
            .alias("__top"),
            _some(pl.col("declaration_id"), 20).alias("declaration_ids"),
        )
    )
    cases = cases.with_columns(pl.col("__top").list.join(", ").alias("strongest_reasons")).drop(
        "__top"
    )
    listed = work.drop("__scheme", "__seller", "__root", "__best", CASE_STAKE, strict=False)
    return listed.select("case_id", *[c for c in listed.columns if c != "case_id"]), cases
