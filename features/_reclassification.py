"""Which tariff heading a declared price fits: goods declared under a cheaper code.

Misclassified goods are often declared at their true value, so their price is wrong
only for the code they are declared under: shrimps declared as frozen fish at a
shrimp's price per tonne. The check asks, of a declaration whose price is far from its
own code's peers, which other code of the same section of the tariff (live animals,
vegetables, textiles, machinery...) has peer prices the declared price fits, and whose
duty is higher: what an officer examining the goods would compare them with. The
peer prices (of the declared origin where it has enough) and duties are the fitted
reference tables, so a training month sees only the months before it.
"""

import polars as pl

from detector.features._reference_prices import ReferencePrices
from detector.features._routes import RouteTables

__all__ = [
    "RECLASS_COLUMNS",
    "USUAL_CODE_COLUMNS",
    "declared_codes",
    "hs_section",
    "reclassification",
    "usual_codes",
]

#: First chapter of each of the 21 sections of the Harmonized System (I live animals
#: from chapter 1 ... XXI works of art from chapter 97).
_SECTION_STARTS: tuple[int, ...] = (
    1, 6, 15, 16, 25, 28, 39, 41, 44, 47, 50, 64, 68, 71, 72, 84, 86, 90, 93, 94, 97,
)  # fmt: skip

#: A price at least this many spreads from its own code's median is a misfit...
MISFIT_Z = 2.0
#: ...and fits another code when within this many of that code's median.
FIT_Z = 1.0
#: Duty points the other code must charge above the declared rate to matter.
MIN_DUTY_GAIN = 1.0

#: The columns :func:`reclassification` adds; null where no other code fits.
RECLASS_COLUMNS: tuple[str, ...] = (
    "reclass_hs_code",
    "reclass_value_per_ton",
    "reclass_peer_n",
    "reclass_duty_pct",
    "reclass_duty_gap",
    "reclass_revenue",
)

_ROW = "__reclass_row"

#: An importer's usual codes are those it declared at least this many times, on at
#: least this share of all its declarations...
USUAL_MIN_N = 5
USUAL_SHARE = 0.25
#: ...and a declared code is rare for it when a usual code outnumbers it this many times.
USUAL_TIMES = 4

#: The columns :func:`usual_codes` gives; null where no usual code fits.
USUAL_CODE_COLUMNS: tuple[str, ...] = (
    "usual_hs_code",
    "usual_hs_n",
    "usual_own_n",
    "usual_importer_n",
    "usual_value_per_ton",
    "usual_peer_n",
    "usual_peer_origin",
    "usual_duty_pct",
    "usual_duty_gap",
    "usual_revenue",
    "usual_seller_id",
)


def hs_section(hs: pl.Expr) -> pl.Expr:
    """The section (1-21) of the tariff an HS code's chapter falls in; 0 if unreadable.

    >>> pl.select(hs_section(pl.Series(["030617", "610910", "847130", "xx"]))).to_series().to_list()
    [1, 11, 16, 0]
    """
    chapter = hs.str.slice(0, 2).cast(pl.Int32, strict=False)
    return pl.sum_horizontal([(chapter >= s).cast(pl.Int8) for s in _SECTION_STARTS]).cast(pl.Int8)


def _codes(reference: ReferencePrices, routes: RouteTables) -> pl.LazyFrame:
    """Every code with a reference price of all origins and a known duty: its section,
    log median, spread, count and average duty."""
    return (
        reference.tables["hs"]
        .lazy()
        .select("hs_code", "median", "spread", "n")
        .join(routes.hs.lazy().select("hs_code", "hs_duty"), on="hs_code", how="inner")
        .filter(pl.col("hs_duty").is_not_null())
        .with_columns(hs_section(pl.col("hs_code")).alias("section"))
        .filter(pl.col("section") > 0)
    )


def _candidates(reference: ReferencePrices, routes: RouteTables) -> dict[str, pl.LazyFrame]:
    """The codes a price may fit: of all origins (``all``: section, median, spread,
    count, average duty), per origin (``origin``: median, spread, count, median duty)
    and per origin and quarter (``quarter``), named as the candidate's columns."""
    every = _codes(reference, routes).select(
        pl.col("hs_code").alias("reclass_hs_code"),
        pl.col("median").alias("_all_median"),
        pl.col("spread").alias("_all_spread"),
        pl.col("n").alias("_all_n"),
        "hs_duty",
        "section",
    )
    per_origin = (
        reference.tables["hs_origin"]
        .lazy()
        .select(
            pl.col("hs_code").alias("reclass_hs_code"),
            "country_origin",
            pl.col("median").alias("_o_median"),
            pl.col("spread").alias("_o_spread"),
            pl.col("n").alias("_o_n"),
        )
        .join(
            routes.origin.lazy().select(
                pl.col("hs_code").alias("reclass_hs_code"), "country_origin", "origin_duty"
            ),
            on=["reclass_hs_code", "country_origin"],
            how="full",
            coalesce=True,
        )
    )
    per_quarter = (
        reference.tables["hs_origin_quarter"]
        .lazy()
        .select(
            pl.col("hs_code").alias("reclass_hs_code"),
            "country_origin",
            "quarter",
            pl.col("median").alias("_q_median"),
            pl.col("spread").alias("_q_spread"),
            pl.col("n").alias("_q_n"),
        )
    )
    return {"all": every, "origin": per_origin, "quarter": per_quarter}


def reclassification(
    lf: pl.LazyFrame, reference: ReferencePrices, routes: RouteTables
) -> pl.LazyFrame:
    """Add the code of the same tariff section whose peer prices the declared price fits
    best, where that code pays more duty than declared.

    A row is checked when its log price per tonne lies at least ``MISFIT_Z`` spreads
    from its own peers' median (``price_z``, from ``reference_price_deviation``).
    Another code fits when the price lies within ``FIT_Z`` spreads of that code's median
    (of the same origin and quarter, else of the origin, else of all origins, as the
    row's own peers) and closer than to its own, and when it charges at least
    ``MIN_DUTY_GAIN`` points more (its median duty for the declared origin, else its
    average). The best fit wins, ties to the higher duty.

    New columns (``RECLASS_COLUMNS``): ``reclass_hs_code``, ``reclass_value_per_ton``
    (that code's median price per tonne), ``reclass_peer_n``, ``reclass_duty_pct``,
    ``reclass_duty_gap`` (points above the declared rate) and ``reclass_revenue`` (the
    declared value times that gap: the duty the declaration would owe under that code).
    """
    candidates = _candidates(reference, routes)
    x = pl.col("log_unit_value")
    own_z = pl.col("price_z").abs()
    z = ((x - pl.col("_median")) / pl.col("_spread")).abs()
    duty = pl.col("duty_rate_pct")
    lf = lf.with_row_index(_ROW)
    best = (
        lf.select(
            _ROW,
            "hs_code",
            "country_origin",
            "quarter",
            "log_unit_value",
            "price_z",
            "duty_rate_pct",
            "customs_value",
        )
        .filter(x.is_not_null() & duty.is_not_null() & (own_z >= MISFIT_Z))
        .with_columns(hs_section(pl.col("hs_code")).alias("section"))
        .join(candidates["all"], on="section", how="inner")
        .filter(pl.col("reclass_hs_code") != pl.col("hs_code"))
        .join(candidates["origin"], on=["reclass_hs_code", "country_origin"], how="left")
        .join(
            candidates["quarter"], on=["reclass_hs_code", "country_origin", "quarter"], how="left"
        )
        .with_columns(
            pl.coalesce("_q_median", "_o_median", "_all_median").alias("_median"),
            pl.coalesce("_q_spread", "_o_spread", "_all_spread").alias("_spread"),
            pl.coalesce("_q_n", "_o_n", "_all_n").alias("reclass_peer_n"),
            pl.coalesce("origin_duty", "hs_duty").alias("reclass_duty_pct"),
        )
        .with_columns(z.alias("_z"), (pl.col("reclass_duty_pct") - duty).alias("reclass_duty_gap"))
        .filter(
            (pl.col("_z") <= FIT_Z)
            & (pl.col("_z") < own_z)
            & (pl.col("reclass_duty_gap") >= MIN_DUTY_GAIN)
        )
        .sort(
            _ROW,
            "_z",
            "reclass_duty_pct",
            "reclass_hs_code",
            descending=[False, False, True, False],
        )
        .unique(subset=_ROW, keep="first", maintain_order=True)
        .select(
            _ROW,
            "reclass_hs_code",
            pl.col("_median").exp().alias("reclass_value_per_ton"),
            "reclass_peer_n",
            "reclass_duty_pct",
            "reclass_duty_gap",
            (pl.col("customs_value") * pl.col("reclass_duty_gap") / 100.0).alias("reclass_revenue"),
        )
    )
    return lf.join(best, on=_ROW, how="left", maintain_order="left").drop(_ROW)


def usual_codes(
    table: pl.DataFrame,
    importer_codes: pl.DataFrame,
    reference: ReferencePrices,
    routes: RouteTables,
    *,
    counted: bool = False,
    seller_codes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per row, the importer's usual code that its goods may really be: misclassified
    goods declared at their true value, where the two codes' prices are alike.

    Shrimps declared as frozen fish at a price both fit show nothing in their price; the
    importer's record does, as a post-clearance audit reads it: the importer classifies
    such goods under another code as a rule. In the training history
    (``importer_codes``: declarations per importer and code, :func:`declared_codes`),
    its usual code is one of the same tariff section that it declared ``USUAL_MIN_N`` or
    more times, on at least ``USUAL_SHARE`` of all its declarations and ``USUAL_TIMES``
    as often as the declared code; which the declared origin pays at least
    ``MIN_DUTY_GAIN`` points more duty on (its median rate for that origin: an origin
    that never shipped the code has no rate to claim); and whose peer prices the
    declared price is in line with (within ``MISFIT_Z`` spreads of their median: of the
    origin and quarter, else the origin, else all origins, as in
    :func:`reclassification`). Of several, the best fit, ties to the higher duty. Rows
    whose price already fits another code (``reclass_hs_code``) are left to it.
    ``counted``: the rows are among ``importer_codes``' own (training rows); each is
    left out of its code's and its importer's counts, as a new declaration is not in its
    history.

    ``seller_codes`` (declarations per importer, seller and code, :func:`declared_codes`):
    the same record of the importer's trade with the row's seller, read first. An
    importer of many goods has no usual code of its own, but what it buys from one
    supplier it usually declares under one code: the seller's goods declared under
    another is the same sign, and ``usual_seller_id`` names the seller (null where the
    record is of all the importer's declarations).

    Returns ``USUAL_CODE_COLUMNS`` in the rows' order: the code; the record's count of
    it, of the declared code, and in all; its peers' median price per tonne, number
    and origin (null: all); its duty, the points above the declared rate, and the duty
    they make on the declared value; the seller whose trade the record is of.
    """
    rows = _unpriced_rows(table)
    candidates = _candidates(reference, routes)
    records = [] if seller_codes is None else [(seller_codes, ("importer_id", "seller_id"))]
    records.append((importer_codes, ("importer_id",)))
    found = [
        _usual_best(rows, codes, keys, candidates, counted).with_columns(
            pl.lit(rank, dtype=pl.Int8).alias("_record")
        )
        for rank, (codes, keys) in enumerate(records)
    ]
    best = (
        pl.concat(found, how="vertical")
        .sort(_ROW, "_record")
        .unique(subset=_ROW, keep="first", maintain_order=True)
        .drop("_record")
    )
    numbered = pl.DataFrame({_ROW: pl.int_range(table.height, eager=True, dtype=pl.UInt32)})
    return (
        numbered.lazy()
        .join(best, on=_ROW, how="left", maintain_order="left")
        .drop(_ROW)
        .select(USUAL_CODE_COLUMNS)
        .collect()
    )


def _usual_best(
    rows: pl.LazyFrame,
    codes: pl.DataFrame,
    keys: tuple[str, ...],
    candidates: dict[str, pl.LazyFrame],
    counted: bool,
) -> pl.LazyFrame:
    """Per row of ``rows`` (:func:`_unpriced_rows`), the best usual code of the record
    ``codes`` keyed by ``keys`` (the importer, or the importer and the seller), as
    :func:`usual_codes` says."""
    duty = pl.col("duty_rate_pct")
    z = ((pl.col("log_unit_value") - pl.col("_median")) / pl.col("_spread")).abs()
    codes = codes.lazy().select(*keys, "hs_code", "n")
    by_seller = "seller_id" in keys
    return (
        rows.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
        .join(codes.rename({"n": "usual_own_n"}), on=[*keys, "hs_code"], how="left")
        .with_columns(
            (pl.col("usual_own_n").fill_null(0.0) - float(counted)).clip(lower_bound=0.0),
            hs_section(pl.col("hs_code")).alias("section"),
        )
        .join(_usual(codes, keys), on=list(keys), how="inner")
        .with_columns(pl.col("usual_importer_n") - float(counted))
        .filter(
            (pl.col("usual_hs_code") != pl.col("hs_code"))
            & (pl.col("usual_hs_n") >= USUAL_TIMES * pl.col("usual_own_n"))
            & (pl.col("usual_hs_n") >= USUAL_SHARE * pl.col("usual_importer_n"))
        )
        .pipe(_usual_peers, candidates)
        .with_columns(z.alias("_z"), (pl.col("usual_duty_pct") - duty).alias("usual_duty_gap"))
        .filter((pl.col("_z") <= MISFIT_Z) & (pl.col("usual_duty_gap") >= MIN_DUTY_GAIN))
        .sort(_ROW, "_z", "usual_duty_pct", "usual_hs_code", descending=[False, False, True, False])
        .unique(subset=_ROW, keep="first", maintain_order=True)
        .select(
            _ROW,
            *USUAL_CODE_COLUMNS[:4],
            pl.col("_median").exp().alias("usual_value_per_ton"),
            "usual_peer_n",
            "usual_peer_origin",
            "usual_duty_pct",
            "usual_duty_gap",
            (pl.col("customs_value") * pl.col("usual_duty_gap") / 100.0).alias("usual_revenue"),
            (pl.col("seller_id") if by_seller else pl.lit(None, dtype=pl.String)).alias(
                "usual_seller_id"
            ),
        )
    )


def _unpriced_rows(table: pl.DataFrame) -> pl.LazyFrame:
    """The rows, numbered, with a price and a duty, that no other code's price fits:
    the columns :func:`usual_codes` reads."""
    unpriced = (
        pl.col("reclass_hs_code").is_null() if "reclass_hs_code" in table.columns else pl.lit(True)
    )
    return (
        table.lazy()
        .with_row_index(_ROW)
        .select(
            _ROW,
            "importer_id",
            pl.col("seller_id")
            if "seller_id" in table.columns
            else pl.lit(None, pl.String).alias("seller_id"),
            "hs_code",
            "country_origin",
            pl.col("declaration_date").dt.quarter().cast(pl.Int8).alias("quarter"),
            "log_unit_value",
            "duty_rate_pct",
            "customs_value",
            unpriced.alias("_unpriced"),
        )
        .filter(
            pl.col("_unpriced")
            & pl.col("log_unit_value").is_not_null()
            & pl.col("duty_rate_pct").is_not_null()
        )
    )


def declared_codes(lf: pl.LazyFrame, keys: tuple[str, ...] = ("importer_id",)) -> pl.DataFrame:
    """Declarations per record and code: per importer (``keys``: ``importer_id``), or
    per importer and seller (``importer_id``, ``seller_id``), with ``hs_code`` and
    ``n``; of the records that declared some code ``USUAL_MIN_N`` or more times (no
    other can show a usual code). The history :func:`usual_codes` reads usual codes
    from.

    >>> rows = {"importer_id": ["A"] * 6 + ["B"], "seller_id": ["S"] * 7}
    >>> rows["hs_code"] = ["1"] * 5 + ["2", "1"]
    >>> declared_codes(pl.LazyFrame(rows), ("importer_id", "seller_id")).rows()
    [('A', 'S', '1', 5.0), ('A', 'S', '2', 1.0)]
    """
    return (
        lf.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in (*keys, "hs_code")))
        .group_by(*keys, "hs_code")
        .agg(pl.len().cast(pl.Float64).alias("n"))
        .filter(pl.col("n").max().over(keys) >= USUAL_MIN_N)
        .sort(*keys, "hs_code")
        .collect()
    )


def _usual(codes: pl.LazyFrame, keys: tuple[str, ...] = ("importer_id",)) -> pl.LazyFrame:
    """Per record (an importer, or an importer and a seller: ``keys``), the codes that
    may be usual for it (``USUAL_MIN_N`` or more declarations, on at least
    ``USUAL_SHARE`` of all of its but one: the row's own may be among them): their
    counts and the record's total."""
    return codes.select(
        *keys,
        pl.col("hs_code").alias("usual_hs_code"),
        pl.col("n").alias("usual_hs_n"),
        pl.col("n").sum().over(keys).alias("usual_importer_n"),
    ).filter(
        (pl.col("usual_hs_n") >= USUAL_MIN_N)
        & (pl.col("usual_hs_n") >= USUAL_SHARE * (pl.col("usual_importer_n") - 1.0))
    )


def _usual_peers(lf: pl.LazyFrame, candidates: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The peer prices and duty of each row's ``usual_hs_code`` of the same section: of
    the origin and quarter, else the origin, else all origins (``_median``,
    ``_spread``, ``usual_peer_n``, ``usual_peer_origin``: the origin, or null for all
    origins), and its median duty for the row's origin (``usual_duty_pct``); rows whose
    code has no peers, or no duty for the origin, drop."""
    named = {k: c.rename({"reclass_hs_code": "usual_hs_code"}) for k, c in candidates.items()}
    return (
        lf.join(named["all"], on=["usual_hs_code", "section"], how="inner")
        .join(named["origin"], on=["usual_hs_code", "country_origin"], how="left")
        .join(named["quarter"], on=["usual_hs_code", "country_origin", "quarter"], how="left")
        .filter(pl.col("origin_duty").is_not_null())
        .with_columns(
            pl.coalesce("_q_median", "_o_median", "_all_median").alias("_median"),
            pl.coalesce("_q_spread", "_o_spread", "_all_spread").alias("_spread"),
            pl.coalesce("_q_n", "_o_n", "_all_n").alias("usual_peer_n"),
            pl.when(pl.coalesce("_q_median", "_o_median").is_not_null())
            .then(pl.col("country_origin"))
            .alias("usual_peer_origin"),
            pl.col("origin_duty").alias("usual_duty_pct"),
        )
    )
