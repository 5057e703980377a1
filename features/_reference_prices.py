"""Reference prices per peer group and the deviation of each declaration from them.

The reference of a peer group is robust: the median and the median absolute deviation
(MAD) of the log value per tonne, with the count behind them and a grid of quantiles to
place a declaration within its group. Peer groups go from the most specific to the
least; a declaration uses the most specific one with enough declarations.
"""

import math
from dataclasses import dataclass

import polars as pl

from detector.features._text import format_text
from detector.features._unit_value import log_unit_value

__all__ = [
    "PEER_LEVELS",
    "ZERO_VALUE_LOG_RATIO",
    "ZERO_VALUE_Z",
    "ReferencePrices",
    "fit_reference_prices",
    "reference_price_deviation",
]

#: (name, grouping columns) from the most specific peer group to the least.
PEER_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hs_origin_quarter", ("hs_code", "country_origin", "quarter")),
    ("hs_origin", ("hs_code", "country_origin")),
    ("hs", ("hs_code",)),
    ("hs4", ("hs4",)),
    ("hs2", ("hs2",)),
)

#: Quantiles (in percent) kept per group to place a declaration within it.
PERCENTILE_GRID: tuple[float, ...] = (0, 1, 2.5, 5, 10, 25, 50, 75, 90, 95, 97.5, 99, 100)

#: Where goods with a mass declared at value 0 stand on the price scales the classifier
#: reads (``price_z``, and the log of ``value_ratio``): below any price that can be
#: declared (a ratio of two positive floats is above e^-1500, and a spread at least
#: ``_MIN_SPREAD``). A model whose training rows declared no value of 0 then judges one
#: as the deepest undervaluation it knows, not as a row with no price (a missing value,
#: which a tree sends where most rows went); one trained on such rows learns their own
#: rate there.
ZERO_VALUE_Z = -1e6
ZERO_VALUE_LOG_RATIO = -1e4

_MAD_TO_SIGMA = 1.4826
_MIN_SPREAD = 0.05  # log units: a group of identical prices still gets a finite z


def peer_keys() -> list[pl.Expr]:
    """Columns the peer levels group on, derived from the canonical ones."""
    return [
        pl.col("hs_code").str.slice(0, 4).alias("hs4"),
        pl.col("hs_code").str.slice(0, 2).alias("hs2"),
        pl.col("declaration_date").dt.quarter().cast(pl.Int8).alias("quarter"),
    ]


@dataclass
class ReferencePrices:
    """Fitted reference tables, one per peer level."""

    tables: dict[str, pl.DataFrame]
    min_count: int

    def percentiles(self, row: dict) -> dict[str, float] | None:
        """The training prices per tonne of a declaration's peer group, by percentile.

        ``row`` holds a scored declaration's ``peer_level`` and peer keys; None when it
        has no peer group.
        """
        level = row.get("peer_level")
        if level is None:
            return None
        name, keys = PEER_LEVELS[int(level)]
        match = self.tables[name]
        for k in keys:
            match = match.filter(pl.col(k) == row[k])
        if match.height == 0:
            return None
        q = match.row(0, named=True)
        return {f"p{g:g}": math.exp(q[f"q{i}"]) for i, g in enumerate(PERCENTILE_GRID)}


def fit_reference_prices(lf: pl.LazyFrame, min_count: int = 20) -> ReferencePrices:
    """Compute the reference tables of every peer level from training declarations."""
    priced = lf.select("hs_code", "country_origin", *peer_keys(), log_unit_value()).filter(
        pl.col("log_unit_value").is_not_null()
    )
    grid = [q / 100 for q in PERCENTILE_GRID]
    plans = []
    for _, keys in PEER_LEVELS:
        k = list(keys)
        # Each group's prices sorted once give every quantile (``_quantile``), instead
        # of one selection per quantile.
        stats = (
            priced.group_by(k)
            .agg(pl.len().alias("n"), pl.col("log_unit_value").sort().alias("_sorted"))
            .filter(pl.col("n") >= min_count)
            .with_columns(
                _quantile(0.5).alias("median"),
                *[_quantile(q).alias(f"q{i}") for i, q in enumerate(grid)],
            )
        )
        mad = (
            stats.select(*k, "median", "_sorted")
            .explode("_sorted")
            .group_by(k)
            .agg((pl.col("_sorted") - pl.col("median")).abs().median().alias("mad"))
        )
        plans.append(
            stats.drop("_sorted")
            .join(mad, on=k)
            .with_columns(
                (pl.col("mad") * _MAD_TO_SIGMA).clip(lower_bound=_MIN_SPREAD).alias("spread"),
            )
            .drop("mad")
            .sort(k)
        )
    tables = pl.collect_all(plans)
    return ReferencePrices(
        tables={name: t for (name, _), t in zip(PEER_LEVELS, tables, strict=True)},
        min_count=min_count,
    )


def _quantile(q: float) -> pl.Expr:
    """Quantile ``q`` of a group's sorted prices (``_sorted``), interpolated linearly
    between the two nearest ranks: the value Polars' ``quantile(q, "linear")`` gives."""
    values = pl.col("_sorted")
    at = (values.list.len().cast(pl.Float64) - 1.0) * q
    low, high = at.floor(), at.ceil()
    a = values.list.get(low.cast(pl.Int64))
    b = values.list.get(high.cast(pl.Int64))
    return pl.when(a == b).then(a).otherwise((at - low) * (b - a) + a)


def _label(name: str) -> pl.Expr:
    hs = pl.col("hs_code")
    origin = pl.col("country_origin")
    return {
        "hs_origin_quarter": format_text("HS {} from {} in Q{}", hs, origin, pl.col("quarter")),
        "hs_origin": format_text("HS {} from {}", hs, origin),
        # A wider group says so: its peers come from every origin, not the declared one.
        "hs": format_text("HS {} from every origin", hs),
        "hs4": format_text("HS heading {} from every origin", pl.col("hs4")),
        "hs2": format_text("HS chapter {} from every origin", pl.col("hs2")),
    }[name]


def reference_price_deviation(
    lf: pl.LazyFrame, reference: ReferencePrices, *, zero_below: bool = True
) -> pl.LazyFrame:
    """Add the peer reference and the declaration's deviation from it.

    New columns: ``unit_value_per_ton``, ``log_unit_value``, ``peer_level`` (0 most
    specific .. 4, null when no group has enough declarations), ``peer_label`` (e.g.
    ``HS 081060 from TH``), ``peer_group`` (the label with its size, ``HS 081060 from
    TH, n=1,240``), ``peer_n``, ``reference_value_per_ton``,
    ``value_ratio`` (declared / reference; 0 for goods with a mass declared at value 0),
    ``price_z`` (robust z-score of the log unit value), ``price_percentile`` (0-100
    within the group; for a value of 0, which is no price, ``ZERO_VALUE_Z`` and 0, or
    null with ``zero_below`` False, as models fitted before read them) and
    ``revenue_at_stake`` ((reference value - declared value) x duty rate, 0 when not
    below).
    """
    n_grid = len(PERCENTILE_GRID)
    stat_cols = ["n", "median", "spread", *[f"q{i}" for i in range(n_grid)]]
    lf = lf.with_columns(*peer_keys(), log_unit_value())
    lf = _join_peer_levels(lf, reference, stat_cols)
    x = pl.col("log_unit_value")
    value = pl.col("customs_value")
    # Goods with a mass declared at no value at all: not a price (no place in an
    # importer's pricing record), but the extreme of undervaluation, judged as such:
    # declared / reference is 0, below every peer, and the whole duty of the reference
    # value is at stake.
    zero = (value == 0) & (pl.col("net_mass_kg") > 0) & pl.col("_median").is_not_null()
    placed = zero if zero_below else pl.lit(False)
    reference_value = pl.col("_median").exp() * pl.col("net_mass_kg") / 1000.0
    stake = (
        (reference_value - value).clip(lower_bound=0.0)
        * pl.col("duty_rate_pct").fill_null(0)
        / 100.0
    )
    dropped = [f"{c}_{lv}" for c in stat_cols for lv in range(len(PEER_LEVELS))]
    return (
        lf.with_columns(
            _peer_level().alias("peer_level"),
            _most_specific("n").alias("peer_n"),
            _most_specific("median").alias("_median"),
            _most_specific("spread").alias("_spread"),
            *[_most_specific(f"q{i}").alias(f"_q{i}") for i in range(n_grid)],
            _peer_label().alias("peer_label"),
        )
        .drop(dropped)
        .with_columns(
            (value / pl.col("net_mass_kg") * 1000.0)
            .alias("unit_value_per_ton")
            .pipe(lambda e: pl.when(pl.col("net_mass_kg") > 0).then(e)),
            pl.col("_median").exp().alias("reference_value_per_ton"),
            pl.when(zero).then(0.0).otherwise((x - pl.col("_median")).exp()).alias("value_ratio"),
            pl.when(placed)
            .then(ZERO_VALUE_Z)
            .otherwise((x - pl.col("_median")) / pl.col("_spread"))
            .alias("price_z"),
            pl.when(placed)
            .then(0.0)
            .when(x.is_not_null() & pl.col("_median").is_not_null())
            .then(_percentile_in_group(x))
            .alias("price_percentile"),
            pl.when((x.is_not_null() & pl.col("_median").is_not_null()) | zero)
            .then(stake)
            .otherwise(0.0)
            .alias("revenue_at_stake"),
            pl.when(pl.col("peer_n").is_not_null())
            .then(format_text("{}, n={}", pl.col("peer_label"), thousands(pl.col("peer_n"))))
            .alias("peer_group"),
        )
        .drop("_median", "_spread", *[f"_q{i}" for i in range(n_grid)])
    )


def _join_peer_levels(
    lf: pl.LazyFrame, reference: ReferencePrices, stat_cols: list[str]
) -> pl.LazyFrame:
    """Join every peer level's statistics, each column suffixed with the level's number."""
    for level, (name, keys) in enumerate(PEER_LEVELS):
        table = reference.tables[name].lazy().rename({c: f"{c}_{level}" for c in stat_cols})
        lf = lf.join(table, on=list(keys), how="left", maintain_order="left")
    return lf


def _most_specific(stat: str) -> pl.Expr:
    """The statistic ``stat`` of the most specific peer level that has the row's group."""
    return pl.coalesce([pl.col(f"{stat}_{lv}") for lv in range(len(PEER_LEVELS))])


def _peer_level() -> pl.Expr:
    """The number of the most specific peer level that has the row's group."""
    return pl.coalesce(
        [
            pl.when(pl.col(f"n_{lv}").is_not_null()).then(pl.lit(lv, pl.Int8))
            for lv in range(len(PEER_LEVELS))
        ]
    )


def _peer_label() -> pl.Expr:
    """The name of the row's peer group at the most specific level that has it."""
    return pl.coalesce(
        [
            pl.when(pl.col(f"n_{lv}").is_not_null()).then(_label(name))
            for lv, (name, _) in enumerate(PEER_LEVELS)
        ]
    )


def _percentile_in_group(x: pl.Expr) -> pl.Expr:
    """Percentile (0-100) of ``x`` within its group, interpolated linearly between the
    group's stored quantiles (``_q0``, ``_q1``...)."""
    n_grid = len(PERCENTILE_GRID)
    qs = [pl.col(f"_q{i}") for i in range(n_grid)]
    pieces = []
    for i in range(n_grid - 1):
        width = PERCENTILE_GRID[i + 1] - PERCENTILE_GRID[i]
        gap = qs[i + 1] - qs[i]
        frac = pl.when(gap > 0).then((x - qs[i]) / gap).otherwise((x >= qs[i + 1]).cast(pl.Float64))
        pieces.append(frac.clip(0.0, 1.0) * width)
    return pl.sum_horizontal(pieces)


def thousands(expr: pl.Expr) -> pl.Expr:
    """Format a non-negative integer with thousands separators (1240 -> '1,240').

    >>> pl.select(thousands(pl.lit(1234567)))[0, 0]
    '1,234,567'
    """
    n = expr.cast(pl.Int64)
    parts = [(n // 10**9), (n // 10**6) % 1000, (n // 1000) % 1000, n % 1000]
    padded = [p.cast(pl.String).str.pad_start(3, "0") for p in parts]
    return (
        pl.when(n >= 10**9)
        .then(format_text("{},{},{},{}", parts[0], *padded[1:]))
        .when(n >= 10**6)
        .then(format_text("{},{},{}", parts[1], *padded[2:]))
        .when(n >= 1000)
        .then(format_text("{},{}", parts[2], padded[3]))
        .otherwise(n.cast(pl.String))
    )
