"""Entity histories: what was known about an importer, broker, seller, lane... before.

For every entity (and pair) the history of a declaration counts only what happened on
earlier dates: how many declarations, how long the entity has been known, and the
smoothed fraud rate of its past inspections (the "risky profile" of customs risk
management). During training the history is built from the training rows themselves,
strictly before each date; when scoring, the training history is carried as a state and
the batch adds its own earlier days without their labels.
"""

from dataclasses import dataclass
from datetime import date

import polars as pl

__all__ = [
    "ENTITIES",
    "EntityState",
    "entity_histories",
    "fit_entity_state",
    "history_tables",
    "out_of_fold_tables",
    "piece_daily_tables",
]

#: Prefix of the feature columns -> the key columns of the entity.
ENTITIES: dict[str, tuple[str, ...]] = {
    "importer": ("importer_id",),
    "declarant": ("declarant_id",),
    "seller": ("seller_id",),
    "hs": ("hs_code",),
    "origin": ("country_origin",),
    "route": ("route",),
    "importer_seller": ("importer_id", "seller_id"),
    "importer_hs": ("importer_id", "hs_code"),
    # The goods on their lane (origin, transit, departure): the risk profile of a
    # commodity from one place by one way, as a risk unit keeps it.
    "hs_route": ("hs_code", "route"),
    # The same goods on the same lane at the duty rate declared: a lane whose goods
    # claim a preferential rate (a free-trade origin, a lower tariff line) keeps its
    # own record apart from the same goods paying the full rate.
    "hs_route_rate": ("hs_code", "route", "duty_rate_pct"),
}

_BELOW = 0.7  # declared below 70 % of the peer reference counts as underpriced
_LOG_RATIO_CAP = 3.0


@dataclass
class EntityState:
    """Per entity: totals of the training history, as of its last day."""

    tables: dict[str, pl.DataFrame]
    prior: float  # fraud rate of all inspected training declarations
    smoothing: float


def _key(keys: list[str]) -> pl.Expr:
    """One 64-bit hash per entity: grouping, sorting and joining on it is cheap. A
    number in a key is hashed as a 64-bit float whatever its column's type (a duty of
    8 held as an integer is the record of 8.0)."""
    cols = [pl.col(c).cast(pl.Float64) if c in _NUMBER_KEYS else pl.col(c) for c in keys]
    if len(cols) == 1:
        return cols[0].hash(seed=7)
    return pl.struct(cols).hash(seed=7)


#: The key columns that hold numbers, not codes.
_NUMBER_KEYS = frozenset({"duty_rate_pct"})


def _daily(lf: pl.LazyFrame, keys: list[str], key: str, use_labels: bool) -> pl.LazyFrame:
    """Per entity and day: declarations, inspections, frauds, and pricing behaviour."""
    # A value of 0 (ratio 0) is no price: it is judged on its own row, not averaged
    # into the entity's pricing record.
    priced = pl.when(pl.col("value_ratio") > 0).then(pl.col("value_ratio"))
    log_ratio = priced.log().clip(-_LOG_RATIO_CAP, _LOG_RATIO_CAP)
    aggs = [
        pl.len().cast(pl.Float64).alias("n"),
        # In millionths, as an integer: the sum is the same in any order of addition,
        # so a batch counted piece by piece adds up to the batch counted whole.
        (log_ratio * _MICRO).round().cast(pl.Int64).sum().alias("sum_log_ratio"),
        log_ratio.is_not_null().sum().cast(pl.Float64).alias("n_priced"),
        (priced < _BELOW).sum().cast(pl.Float64).alias("n_below"),
    ]
    if use_labels:
        inspected = pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()
        aggs += [
            inspected.sum().cast(pl.Float64).alias("n_inspected"),
            (inspected & (pl.col("fraud") == 1)).sum().cast(pl.Float64).alias("n_fraud"),
        ]
    else:
        aggs += [pl.lit(0.0).alias("n_inspected"), pl.lit(0.0).alias("n_fraud")]
    return (
        lf.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
        .group_by(key, "declaration_date")
        .agg(*aggs)
    )


_SUMS = ("n", "sum_log_ratio", "n_priced", "n_below", "n_inspected", "n_fraud")
_MICRO = 1_000_000


def _in_units(daily: pl.LazyFrame) -> pl.LazyFrame:
    return daily.with_columns(pl.col("sum_log_ratio").cast(pl.Float64) / _MICRO)


def daily_tables(lf: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """Per entity and day, a batch's counts (no labels): the batch-wide part of histories.

    ``lf`` needs ``value_ratio`` and ``route``. Tables of pieces of a batch add up with
    :func:`merge_daily_tables` to the tables of the whole batch.
    """
    lf = lf.with_columns(_key(list(k)).alias(f"__key_{p}") for p, k in ENTITIES.items())
    return {p: _daily(lf, list(k), f"__key_{p}", False) for p, k in ENTITIES.items()}


def merge_daily_tables(parts: dict[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Add up the concatenated daily tables of a batch's pieces, entity by entity."""
    return {
        p: lf.group_by(f"__key_{p}", "declaration_date").agg(pl.col(c).sum() for c in _SUMS)
        for p, lf in parts.items()
    }


def piece_daily_tables(
    daily: dict[str, pl.LazyFrame], piece: pl.LazyFrame, first: date, last: date
) -> dict[str, pl.LazyFrame]:
    """The batch's daily tables cut down to what a piece of it from ``first`` to
    ``last`` needs: its entities' days from ``first`` to ``last``, and per entity one
    row adding up all its days before ``first``, dated its first day.

    :func:`history_tables` of the piece reads the same histories from them as from
    the whole batch's tables. They are collected by the streaming engine, so that the
    batch's tables are read a slice at a time: what a piece holds follows its size,
    not the batch's.
    """
    keyed = _with_keys(piece).select(f"__key_{p}" for p in ENTITIES).collect()
    day = pl.col("declaration_date")
    plans = []
    for prefix in ENTITIES:
        key = f"__key_{prefix}"
        mine = daily[prefix].join(keyed.lazy().select(key).unique(), on=key, how="semi")
        earlier = (
            mine.filter(day < first).group_by(key).agg(day.min(), *[pl.col(c).sum() for c in _SUMS])
        )
        plans.append(pl.concat([earlier, mine.filter(day.is_between(first, last))]))
    tables = pl.collect_all(plans, engine="streaming")
    return {p: t.lazy() for p, t in zip(ENTITIES, tables, strict=True)}


def fit_entity_state(lf: pl.LazyFrame, smoothing: float = 10.0) -> EntityState:
    """Totals per entity over the whole training history (for scoring later batches)."""
    plans = []
    for keys in ENTITIES.values():
        k = list(keys)
        # Summed in millionths first: the totals do not depend on the rows' order.
        daily = _daily(lf.with_columns(_key(k).alias("__key")), k, "__key", use_labels=True)
        names = (
            lf.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in k))
            .group_by(_key(k).alias("__key"))
            .agg(pl.col(c).first() for c in k)
        )
        plans.append(
            daily.group_by("__key")
            .agg(
                *[pl.col(c).sum() for c in _SUMS],
                pl.col("declaration_date").min().alias("first_seen"),
            )
            .join(names, on="__key")
            .pipe(_in_units)
            .select(*k, *_SUMS, "first_seen")
            .sort(*k)
        )
    tables = pl.collect_all(plans)
    totals = lf.select(
        (pl.col("inspected").fill_null(False) & (pl.col("fraud") == 1)).sum().alias("f"),
        (pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()).sum().alias("i"),
    ).collect()
    inspected = int(totals["i"][0])
    prior = float(totals["f"][0]) / inspected if inspected else 0.0
    return EntityState(
        tables=dict(zip(ENTITIES, tables, strict=True)), prior=prior, smoothing=smoothing
    )


def _with_keys(lf: pl.LazyFrame) -> pl.LazyFrame:
    names = set(lf.collect_schema().names())
    return lf.with_columns(
        _key(list(k)).alias(f"__key_{p}") for p, k in ENTITIES.items() if f"__key_{p}" not in names
    )


def history_tables(
    lf: pl.LazyFrame,
    state: EntityState | None = None,
    *,
    use_labels: bool,
    daily: dict[str, pl.LazyFrame] | None = None,
) -> dict[str, pl.LazyFrame]:
    """Per entity and day: what was known of the entity strictly before that day.

    The aggregation half of :func:`entity_histories`, which joins these tables to the
    rows: built once over a whole training history, they serve each of its months.
    Arguments as in :func:`entity_histories`; ``lf`` is every row whose days count.
    """
    base = _with_keys(lf)
    tables = {}
    for prefix, keys in ENTITIES.items():
        if state is not None and prefix not in state.tables:
            continue  # a model saved before this entity had a record: it has none
        k = list(keys)
        key = f"__key_{prefix}"
        if daily is None:
            days = _daily(base, k, key, use_labels)
        else:
            days = daily[prefix].join(base.select(key).unique(), on=key, how="semi")
        # Added up in millionths, as integers: the same sums however the days are cut.
        history = (
            days.sort(key, "declaration_date")
            .with_columns(
                *[(pl.col(c).cum_sum().over(key) - pl.col(c)).alias(f"_{c}") for c in _SUMS],
                pl.col("declaration_date").first().over(key).alias("_first"),
            )
            .with_columns(
                pl.col("_sum_log_ratio").cast(pl.Float64) / _MICRO,
                pl.when(pl.col("declaration_date") != pl.col("_first")).then(pl.col("_first")),
            )
        )
        if state is not None:
            # The training history sits before every day of the batch.
            carried = (
                state.tables[prefix]
                .lazy()
                .select(
                    _key(k).alias(key),
                    *[pl.col(c).alias(f"_s_{c}") for c in _SUMS],
                    pl.col("first_seen").alias("_s_first"),
                )
            )
            history = history.join(carried, on=key, how="left").with_columns(
                *[
                    (pl.col(f"_{c}") + pl.col(f"_s_{c}").fill_null(0.0)).alias(f"_{c}")
                    for c in _SUMS
                ],
                pl.coalesce("_s_first", "_first").alias("_first"),
            )
        cols = [
            pl.col("_n").alias(f"{prefix}_n_before"),
            (pl.col("declaration_date") - pl.col("_first"))
            .dt.total_days()
            .cast(pl.Float64)
            .alias(f"{prefix}_days_known"),
            pl.col("_n_fraud").alias("__fraud"),
            pl.col("_n_inspected").alias("__inspected"),
        ]
        if prefix == "importer":
            cols += [
                pl.when(pl.col("_n_priced") > 0)
                .then((pl.col("_sum_log_ratio") / pl.col("_n_priced")).exp())
                .alias("importer_mean_ratio_before"),
                pl.when(pl.col("_n_priced") > 0)
                .then(pl.col("_n_below") / pl.col("_n_priced"))
                .alias("importer_share_below_before"),
            ]
        tables[prefix] = history.select(key, "declaration_date", *cols)
    return tables


def entity_histories(
    lf: pl.LazyFrame,
    state: EntityState | None,
    *,
    use_labels: bool,
    prior: float | str | None = None,
    smoothing: float = 10.0,
    daily: dict[str, pl.LazyFrame] | None = None,
    tables: dict[str, pl.LazyFrame] | None = None,
) -> pl.LazyFrame:
    """Add, per entity, what was known strictly before each declaration's date.

    ``state`` is the training history (None while building it); ``use_labels`` says
    whether the frame's own inspection outcomes may count for its later days (True in
    training, False when scoring: labels are never needed to score). ``prior`` is the
    overall fraud rate that small histories are pulled towards: a number, or the name
    of a column holding the rate known at each row's date; with a state, the state's.
    The frame needs ``value_ratio`` (from the reference prices) and ``route``.

    Columns per entity prefix ``p``: ``p_n_before``, ``p_days_known`` (days since first
    seen, null when new), ``p_fraud_rate`` (smoothed towards the overall rate), for the
    entities of ``QUOTED_RECORDS`` the counts it was estimated from, and for the
    importer its price behaviour: ``importer_mean_ratio_before`` and
    ``importer_share_below_before``.

    ``daily``: the whole batch's :func:`daily_tables` when ``lf`` is a piece of it; by
    default ``lf`` is the batch. ``tables``: :func:`history_tables` built beforehand
    over every row whose days count (``lf`` is then one part of them).
    """
    if state is not None:
        prior, smoothing = state.prior, state.smoothing
    prior_expr = pl.col(prior) if isinstance(prior, str) else pl.lit(prior or 0.0)
    lf = _with_keys(lf)
    if tables is None:
        # Every history is built from the input, not from the joins below.
        tables = history_tables(lf, state, use_labels=use_labels, daily=daily)
    rate = (pl.col("__fraud").fill_null(0.0) + smoothing * prior_expr) / (
        pl.col("__inspected").fill_null(0.0) + smoothing
    )
    # Each entity's columns are joined to the few columns they need and put beside the
    # rows at the end: joining each to the whole frame would copy it once per entity.
    rated = [prior] if isinstance(prior, str) else []
    parts = []
    for prefix, keys in ENTITIES.items():
        if prefix not in tables:  # no record of it in the model: its columns are null
            parts.append(_unknown(lf, prefix))
            continue
        key = f"__key_{prefix}"
        known = pl.all_horizontal(pl.col(c).is_not_null() for c in keys)
        history = tables[prefix]
        names = history.collect_schema().names()
        parts.append(
            # Joined, then put back in the rows' order: the joins of a million rows
            # take 0.70 s so, 1.75 s when the join keeps the order itself
            # (bench/out/histories_join.txt).
            lf.select(key, "declaration_date", *keys, *rated)
            .with_row_index(_ORDER)
            .join(history, on=[key, "declaration_date"], how="left")
            .sort(_ORDER)
            .select(
                *[
                    pl.col(c).fill_null(0.0) if c == f"{prefix}_n_before" else pl.col(c)
                    for c in names
                    if c not in (key, "declaration_date", "__fraud", "__inspected")
                ],
                pl.when(known).then(rate).alias(f"{prefix}_fraud_rate"),
                *(
                    [
                        pl.when(known)
                        .then(pl.col(f"__{what}").fill_null(0.0))
                        .alias(f"{prefix}_{what}_before")
                        for what in ("inspected", "fraud")
                    ]
                    if prefix in QUOTED_RECORDS
                    else []
                ),
            )
        )
    return pl.concat([lf.drop(f"__key_{p}" for p in ENTITIES), *parts], how="horizontal")


def _unknown(lf: pl.LazyFrame, prefix: str) -> pl.LazyFrame:
    """An entity's history columns, null for every row: what a model saved before the
    entity had a record gives (as for a row whose entity is not known)."""
    names = [f"{prefix}_{c}" for c in ("n_before", "days_known", "fraud_rate")]
    if prefix in QUOTED_RECORDS:
        names += [f"{prefix}_inspected_before", f"{prefix}_fraud_before"]
    return lf.with_columns(pl.lit(None, dtype=pl.Float64).alias(n) for n in names).select(names)


#: The entities whose record a reason quotes with its counts: ``p_inspected_before``
#: and ``p_fraud_before`` (the inspections and frauds the rate was estimated from; not
#: model features).
QUOTED_RECORDS: tuple[str, ...] = (
    "importer",
    "importer_seller",
    "declarant",
    "seller",
    "hs",
    "origin",
    "route",
    "hs_route",
    "hs_route_rate",
)


_ORDER = "__order"


def out_of_fold_tables(lf: pl.LazyFrame, *, folds: int = 5) -> dict[str, pl.LazyFrame]:
    """Inspections and frauds per entity and fold, less the fold's own; and per fold,
    the overall rate of the other folds (``__prior``): what
    :func:`out_of_fold_fraud_rates` joins, from every training row."""
    inspected = pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()
    fraud = inspected & (pl.col("fraud") == 1)
    lf = lf.with_columns(_fold(folds))
    tables = {
        # The overall rate the small histories lean on comes from the other folds too.
        "__prior": lf.group_by("__fold")
        .agg(
            inspected.sum().cast(pl.Float64).alias("__pi"),
            fraud.sum().cast(pl.Float64).alias("__pf"),
        )
        .with_columns(
            (
                (pl.col("__pf").sum() - pl.col("__pf") + 1.0)
                / (pl.col("__pi").sum() - pl.col("__pi") + 10.0)
            ).alias("__prior")
        )
        .select("__fold", "__prior")
    }
    for prefix, keys in ENTITIES.items():
        k = list(keys)
        tables[prefix] = (
            lf.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in k))
            .group_by(*k, "__fold")
            .agg(
                inspected.sum().cast(pl.Float64).alias("__i"),
                fraud.sum().cast(pl.Float64).alias("__f"),
            )
            .with_columns(
                (pl.col("__i").sum().over(k) - pl.col("__i")).alias("__i"),
                (pl.col("__f").sum().over(k) - pl.col("__f")).alias("__f"),
            )
        )
    return tables


def _fold(folds: int) -> pl.Expr:
    return (pl.col("declaration_id").hash(seed=11) % folds).alias("__fold")


def out_of_fold_fraud_rates(
    lf: pl.LazyFrame,
    *,
    folds: int = 5,
    smoothing: float = 10.0,
    tables: dict[str, pl.LazyFrame] | None = None,
) -> pl.LazyFrame:
    """Replace each ``p_fraud_rate`` by one learned from the other folds of the data.

    Rows are dealt into folds by a hash of their declaration id; the rate of a row's
    entity counts the inspections of every other fold, all dates, never its own fold.
    Used at training time only, so that the training rows see an entity's whole
    history the way a scored batch sees it, without their own labels. ``tables``:
    :func:`out_of_fold_tables` of all the training rows when ``lf`` is a part of them.
    """
    if tables is None:
        tables = out_of_fold_tables(lf, folds=folds)
    lf = lf.with_columns(_fold(folds)).join(
        tables["__prior"], on="__fold", how="left", maintain_order="left"
    )
    rate = (pl.col("__f").fill_null(0.0) + smoothing * pl.col("__prior")) / (
        pl.col("__i").fill_null(0.0) + smoothing
    )
    for prefix, keys in ENTITIES.items():
        k = list(keys)
        known = pl.all_horizontal(pl.col(c).is_not_null() for c in k)
        lf = (
            lf.join(tables[prefix], on=[*k, "__fold"], how="left", maintain_order="left")
            .with_columns(pl.when(known).then(rate).alias(f"{prefix}_fraud_rate"))
            .drop("__i", "__f")
        )
    return lf.drop("__fold", "__prior")
