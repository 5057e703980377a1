"""Route patterns: where goods come from, which way they travel, and how usual that is.

Stateless flags are expressions; how common a route or an origin is for an HS code,
and which origin usually ships from a departure country, are learned from history
(:func:`fit_route_tables`) and compared with the batch being scored.
"""

from dataclasses import dataclass

import polars as pl

from detector.features._batch import day_counts, join_day_counts

__all__ = [
    "RouteTables",
    "fit_route_tables",
    "route_patterns",
    "route_string",
    "third_country_transshipment",
]

_SMOOTH = 20.0  # pseudo-declarations pulling a small batch's route share to history


def route_string(destination: str | None = None) -> pl.Expr:
    """Human-readable route: origin, transit countries, departure, destination.

    Consecutive repeats are dropped, so goods shipped from their origin read ``TH``
    (``TH>CN`` with a destination) and durians trucked through Vietnam ``TH>VN>CN``.

    >>> df = pl.DataFrame({"country_origin": ["TH", "TH"], "transit_countries": [None, "VN"],
    ...                    "country_departure": ["TH", "VN"]})
    >>> df.select(route_string("CN"))["route"].to_list()
    ['TH>CN', 'TH>VN>CN']
    """
    # Plain string work (no lists): this runs on every row of every batch.
    origin = pl.col("country_origin")
    departure = pl.col("country_departure")
    via = pl.col("transit_countries").fill_null("").str.replace_all(";", ">")
    # A transit list that starts at the origin or ends at the departure says it twice.
    via = pl.when(via.str.starts_with(origin)).then(via.str.slice(3)).otherwise(via)
    via = (
        pl.when(via.str.ends_with(departure))
        .then(via.str.slice(0, via.str.len_chars() - 3))
        .otherwise(via)
    )
    via = pl.when(via == departure).then(pl.lit("")).otherwise(via)
    route = pl.concat_str(
        origin,
        pl.when(via != "").then(pl.concat_str(pl.lit(">"), via)).otherwise(pl.lit("")),
        pl.when(departure != origin)
        .then(pl.concat_str(pl.lit(">"), departure))
        .otherwise(
            pl.when(via != "").then(pl.concat_str(pl.lit(">"), departure)).otherwise(pl.lit(""))
        ),
    )
    if destination:
        route = pl.concat_str(route, pl.lit(">" + destination))
    return route.alias("route")


def third_country_transshipment() -> pl.Expr:
    """1 when the goods left from, or passed through, a country other than their origin."""
    origin = pl.col("country_origin")
    via = (
        pl.col("transit_countries")
        .fill_null("")
        .str.split(";")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    elsewhere = (pl.col("country_departure") != origin) | (
        via.list.set_difference(pl.concat_list(origin)).list.len() > 0
    )
    return elsewhere.cast(pl.Int8).alias("third_country")


@dataclass
class RouteTables:
    """How often each origin and origin>departure lane carries each HS code."""

    hs: pl.DataFrame  # hs_code, hs_n, hs_duty
    lane: pl.DataFrame  # hs_code, country_origin, country_departure, lane_n
    origin: pl.DataFrame  # hs_code, country_origin, origin_n, origin_duty
    usual: pl.DataFrame  # hs_code, country_departure, usual_origin, usual_origin_duty


def fit_route_tables(lf: pl.LazyFrame) -> RouteTables:
    """Count lanes and origins per HS code, and the usual origin per departure country."""
    duty = pl.col("duty_rate_pct")
    origin = lf.group_by("hs_code", "country_origin").agg(
        pl.len().alias("origin_n"), duty.median().alias("origin_duty")
    )
    lane = lf.group_by("hs_code", "country_origin", "country_departure").agg(
        pl.len().alias("lane_n")
    )
    usual = (
        lane.sort("lane_n", "country_origin", descending=[True, False])
        .group_by("hs_code", "country_departure", maintain_order=True)
        .agg(pl.col("country_origin").first().alias("usual_origin"))
        .join(
            origin.select(
                "hs_code",
                pl.col("country_origin").alias("usual_origin"),
                pl.col("origin_duty").alias("usual_origin_duty"),
            ),
            on=["hs_code", "usual_origin"],
            how="left",
        )
    )
    # Added up in integer millionths of a point: a parallel float sum adds its threads'
    # partial sums in the order they finish, which moves the last bits of the mean
    # from one run to the next (and with them the model trained on it).
    millionths = (duty * 1e6).round().cast(pl.Int64).sum()
    hs = lf.group_by("hs_code").agg(
        pl.len().alias("hs_n"),
        pl.when(duty.count() > 0).then(millionths / duty.count() / 1e6).alias("hs_duty"),
    )
    tables = pl.collect_all([hs, lane, origin, usual])
    return RouteTables(*[t.sort(t.columns[:-1]) for t in tables])


def route_patterns(lf: pl.LazyFrame, tables: RouteTables, destination: str | None = None):
    """Add route flags, and how usual the lane and origin are for the goods.

    New columns: ``route``, ``third_country``, ``n_transit``, ``lane_share`` (share of
    the HS code's past declarations on this origin>departure lane), ``origin_share``
    (share of the HS code's past declarations from this origin), ``lane_surge`` (log
    ratio of the lane's share on the declaration's day to its past share, smoothed
    towards the past on quiet days: a lane that appeared or surged recently),
    ``duty_gap`` (duty of the origin that usually ships these goods from this
    departure country, minus the declared duty: why someone would relabel) and
    ``hs_duty_gap`` (the HS code's average duty over all origins minus the declared
    duty: a cheap origin for goods that usually pay more); and the counts behind the
    shares, for the reasons to quote: ``hs_history_n`` (the HS code's past
    declarations), ``lane_history_n`` and ``origin_history_n`` (those of them on this
    lane, from this origin).
    """
    if "_lane_day_n" not in lf.collect_schema().names():
        lf = join_day_counts(lf, day_counts(lf, 0.0, ("lane_day", "hs_day")))
    hs_n = pl.col("hs_n").fill_null(0)
    # "Now" is the declaration's day: a nightly batch, and the same in training. The
    # day's counts are the batch's (features._batch), however the batch was read.
    batch_lane = pl.col("_lane_day_n")
    batch_hs = pl.col("_hs_day_n")
    lane_share = (pl.col("lane_n").fill_null(0) + 0.5) / (hs_n + 1.0)
    now = (batch_lane + _SMOOTH * lane_share) / (batch_hs + _SMOOTH)
    return (
        lf.join(tables.hs.lazy(), on="hs_code", how="left", maintain_order="left")
        .join(
            tables.lane.lazy(),
            on=["hs_code", "country_origin", "country_departure"],
            how="left",
            maintain_order="left",
        )
        .join(
            tables.origin.lazy(),
            on=["hs_code", "country_origin"],
            how="left",
            maintain_order="left",
        )
        .join(
            tables.usual.lazy(),
            on=["hs_code", "country_departure"],
            how="left",
            maintain_order="left",
        )
        .with_columns(
            route_string(destination),
            third_country_transshipment(),
            pl.col("transit_countries")
            .fill_null("")
            .str.split(";")
            .list.eval(pl.element().filter(pl.element() != ""))
            .list.len()
            .cast(pl.Int8)
            .alias("n_transit"),
            lane_share.alias("lane_share"),
            ((pl.col("origin_n").fill_null(0) + 0.5) / (hs_n + 1.0)).alias("origin_share"),
            (now / lane_share).log().alias("lane_surge"),
            (pl.col("usual_origin_duty") - pl.col("duty_rate_pct")).alias("duty_gap"),
            (pl.col("hs_duty") - pl.col("duty_rate_pct")).alias("hs_duty_gap"),
            pl.col("hs_n").fill_null(0).alias("hs_history_n"),
            # The counts behind the two shares, for the reasons to quote.
            pl.col("lane_n").fill_null(0).alias("lane_history_n"),
            pl.col("origin_n").fill_null(0).alias("origin_history_n"),
        )
        .drop("hs_n", "hs_duty", "lane_n", "origin_n", "origin_duty", "usual_origin_duty")
    )
