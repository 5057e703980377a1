"""One entry point: canonical declarations in, every feature column out.

:class:`DeclarationFeatures` is fitted on training declarations and stored in the model.
Its ``fit_transform`` computes the training rows' features from history only: peer
reference prices and lane statistics are refitted each month on the months before it,
entity histories count strictly earlier dates (``fit_months`` gives the same features
one month at a time, which is how the model reads them); with ``label_history`` set to
``out_of_fold``, entity fraud rates and the importer's usual codes are read from the
whole training period, never from the row itself. Its ``transform`` applies the
tables fitted on the whole training history to a new batch, which adds nothing to them.
"""

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import polars as pl

from detector.features._batch import (
    DAY_COUNT_COLUMNS,
    day_counts,
    join_day_counts,
    merge_day_counts,
)
from detector.features._histories import (
    ENTITIES,
    EntityState,
    daily_tables,
    entity_histories,
    fit_entity_state,
    history_tables,
    merge_daily_tables,
    out_of_fold_fraud_rates,
    out_of_fold_tables,
    piece_daily_tables,
)
from detector.features._reclassification import (
    USUAL_CODE_COLUMNS,
    declared_codes,
    reclassification,
    usual_codes,
)
from detector.features._reference_prices import (
    ZERO_VALUE_LOG_RATIO,
    ReferencePrices,
    fit_reference_prices,
    reference_price_deviation,
)
from detector.features._routes import RouteTables, fit_route_tables, route_patterns, route_string
from detector.features._split import split_shipments
from detector.features._unit_value import unit_value_per_unit

__all__ = ["DeclarationFeatures", "CATEGORICAL_BASE"]

CATEGORICAL_BASE: tuple[str, ...] = (
    "hs2",
    "hs4",
    "hs_code",
    "country_origin",
    "country_departure",
    "transport_mode",
    "customs_office",
)

_ROW = "__row"
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
#: The record of an importer's trade with one seller (``usual_codes``' ``seller_codes``).
_SELLER_RECORD = ("importer_id", "seller_id")
#: Optional columns a declaration may lack; missing ones are read as empty.
#: The optional canonical columns a frame may lack: the features add them, empty.
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {
    "declarant_id": pl.String(),
    "seller_id": pl.String(),
    "transit_countries": pl.String(),
    "supplementary_quantity": pl.Float64(),
    "duty_rate_pct": pl.Float64(),
    "inspected": pl.Boolean(),
    "fraud": pl.Int8(),
    "transport_mode": pl.String(),
    "customs_office": pl.String(),
}


def _with_optional(frame):
    """Add the optional canonical columns a frame lacks, empty, so every step can run."""
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [
        pl.lit(None, dtype).alias(c) for c, dtype in OPTIONAL_COLUMNS.items() if c not in names
    ]
    return frame.with_columns(missing) if missing else frame


#: The canonical columns the feature steps read.
_WORK_COLUMNS: tuple[str, ...] = (
    "declaration_id",
    "declaration_date",
    "hs_code",
    "importer_id",
    "declarant_id",
    "seller_id",
    "country_origin",
    "country_departure",
    "transit_countries",
    "net_mass_kg",
    "supplementary_quantity",
    "customs_value",
    "duty_rate_pct",
    "inspected",
    "fraud",
)
_PERIOD = "__period"
#: The label columns the first stage carries along without reading them.
_STAGE_LABELS = ("inspected", "fraud")


class StageCache:
    """Months' first stages kept across fits on growing histories of the same
    declarations (a replay's retrainings): on disk, in a folder of its own removed with
    it, so that a long replay holds one month in memory at a time."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="detector-stages-")
        self._files: dict[tuple, tuple[list[str], Path]] = {}

    def __len__(self) -> int:
        return len(self._files)

    def get(self, key: tuple) -> tuple[list[str], pl.DataFrame] | None:
        kept = self._files.get(key)
        return None if kept is None else (kept[0], pl.read_parquet(kept[1]))

    def put(self, key: tuple, columns: list[str], stage: pl.DataFrame) -> None:
        path = Path(self._folder.name) / f"{len(self._files):05d}.parquet"
        stage.write_parquet(path)
        self._files[key] = (columns, path)

    def close(self) -> None:
        self._files.clear()
        self._folder.cleanup()


def _stage_key(work: pl.DataFrame, period, settings: tuple) -> tuple:
    """What a month's first stage depends on: the builder's ``settings``, the month,
    and every declaration up to its end (positions included, labels left out)."""
    upto = work.filter(pl.col(_PERIOD) <= period).drop(_STAGE_LABELS, strict=False)
    digest = hashlib.sha256(upto.hash_rows(seed=1).to_numpy().tobytes()).hexdigest()
    return settings, period, upto.height, digest


def _with_labels(cached: tuple, work: pl.DataFrame, period) -> pl.DataFrame:
    """A cached first stage with the month's labels of today, its columns in order."""
    columns, stage = cached
    labels = [c for c in _STAGE_LABELS if c in work.columns]
    today = work.filter(pl.col(_PERIOD) == period).select(_ROW, *labels)
    return stage.join(today, on=_ROW, how="left", maintain_order="left").select(columns)


def _cut_by_month(tables: dict[str, pl.DataFrame], periods: list) -> dict:
    """Per month, the rows of the per-day tables (the prior and every entity's) that
    fall in it; those tables are moved out of ``tables``.

    A month's rows join only the history of its own days: cutting the tables by month
    once is cheaper than joining the whole period's tables to every month. (An entity
    never named in a month, a seller say, has no rows there: it gets an empty table.)
    """
    by_month = {period: {} for period in periods}
    for name in ("prior", *ENTITIES):
        whole = tables.pop(name)
        for period in periods:
            by_month[period][name] = whole.clear()
        cut = whole.with_columns(pl.col("declaration_date").dt.truncate("1mo").alias(_PERIOD))
        del whole
        for (period,), part in cut.partition_by(_PERIOD, as_dict=True).items():
            by_month[period][name] = part.drop(_PERIOD)
        del cut
    return by_month


def _usual_length(codes: pl.Series) -> int | None:
    """The length most of ``codes`` have (the longer of two as common)."""
    lengths = codes.drop_nulls().str.len_chars()
    if lengths.is_empty():
        return None
    counted = lengths.value_counts(name="n").sort(["n", lengths.name], descending=True)
    return int(counted[lengths.name][0])


class DeclarationFeatures:
    """Fitted feature builder: reference prices, lanes, entity histories, split shipments.

    Parameters
    ----------
    min_peer_count : smallest peer group whose reference price is trusted.
    de_minimis : value under which goods pass duty-free, in the declarations' currency.
    smoothing : pseudo-inspections that pull an entity's fraud rate to the overall rate.
    destination : country code appended to the route string (e.g. ``CN``), if any.
    extra_categorical : input columns to pass to the model as categories (a profile's
        ``features``).
    label_history : how training rows learn their entities' fraud rates and their
        importer's usual codes: ``expanding`` (inspections on earlier dates only, the
        declarations of earlier months) or ``out_of_fold`` (inspections of the other
        folds of the training data, all dates; the declarations of the whole training
        period less the row itself).
    usual_by_seller : read the importer's usual code from its trade with the row's
        seller first, then from all its declarations (``usual_codes``).
    """

    def __init__(
        self,
        *,
        min_peer_count: int = 20,
        de_minimis: float = 150.0,
        smoothing: float = 10.0,
        destination: str | None = None,
        extra_categorical: tuple[str, ...] = (),
        label_history: str = "expanding",
        usual_by_seller: bool = True,
    ) -> None:
        self.min_peer_count = min_peer_count
        self.de_minimis = de_minimis
        self.smoothing = smoothing
        self.destination = destination
        self.extra_categorical = tuple(extra_categorical)
        self.label_history = label_history
        self.usual_by_seller = usual_by_seller

    # ------------------------------------------------------------------ fitting
    def fit_transform(self, data: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Fit on training declarations; return their features computed from history only."""
        months = list(self.fit_months(data, keep_order=True))
        return pl.concat(months).sort(_ROW).drop(_ROW)

    def fit_months(
        self,
        data: pl.DataFrame | pl.LazyFrame,
        *,
        keep_order: bool = False,
        stage_cache: "StageCache | None" = None,
    ) -> Iterator[pl.DataFrame]:
        """Fit on training declarations; then their features, one month at a time.

        The features of every month come from tables built once over the whole
        training history (reference prices and lanes of the months before, entity
        histories by day, out-of-fold fraud rates, the overall rate by day), so a
        month's features are those :meth:`fit_transform` gives its rows. Each month's
        first stage (prices and lanes against the months before it) is written to a
        temporary folder, the tables are aggregations over a scan of it, and only one
        month's feature table is held at a time. Months come in date order, each in
        the rows' input order; ``keep_order`` leaves the input row number in ``__row``.

        ``stage_cache``: a :class:`StageCache` kept across fits on growing histories of
        the same declarations (a replay's monthly retrainings): a month's first stage
        reads no label, so one computed before for the same declarations up to that
        month is taken from it, with today's labels.
        """
        if self.label_history not in ("expanding", "out_of_fold"):
            raise ValueError(
                f"label_history must be 'expanding' or 'out_of_fold', got {self.label_history!r}"
            )
        # A value of 0 stands below every price on the price scales (a model fitted
        # before read it as missing, and is left to score as it was trained).
        self.zero_value_below_ = True
        df = data.lazy().collect() if isinstance(data, pl.LazyFrame) else data
        df = _with_optional(df)
        # Goods codes at the length the history usually writes them (a stray longer one
        # must not leave every later code with national digits unread), in training as
        # in scoring.
        self.hs_digits_ = _usual_length(df["hs_code"])
        df = self.codes_as_read(df)
        df = df.with_row_index(_ROW).with_columns(
            pl.col("declaration_date").dt.truncate("1mo").alias(_PERIOD)
        )
        work = df.select(_ROW, _PERIOD, *[c for c in _WORK_COLUMNS if c in df.columns])
        periods = work[_PERIOD].unique().sort().to_list()
        folder = tempfile.TemporaryDirectory(prefix="detector-train-")
        files = [Path(folder.name) / f"{i:04d}.parquet" for i in range(len(periods))]
        self._stage_months(work, periods, files, stage_cache)
        del work
        staged = pl.scan_parquet(files)
        tables = self._aggregate_history(staged)
        by_month = _cut_by_month(tables, periods)
        self._fit_whole_history(df, staged)
        inputs = df.drop(_PERIOD) if keep_order else df.drop(_PERIOD, _ROW)

        def months() -> Iterator[pl.DataFrame]:
            try:
                for period, file in zip(periods, files, strict=True):
                    yield self._training_month(
                        inputs.filter(df[_PERIOD] == period),
                        pl.read_parquet(file).drop(_PERIOD),
                        by_month[period] | tables,
                    )
            finally:
                folder.cleanup()

        return months()

    def _stage_months(
        self,
        work: pl.DataFrame,
        periods: list,
        files: list[Path],
        cache: "StageCache | None" = None,
    ) -> None:
        """Write each month's first stage, prices and lanes against the months before
        it, to its file (from ``cache`` where the same declarations came before)."""
        for period, file in zip(periods, files, strict=True):
            settings = (
                self.min_peer_count,
                self.de_minimis,
                self.destination,
                self.label_history,
                self.usual_by_seller,
            )
            key = None if cache is None else _stage_key(work, period, settings)
            cached = None if key is None else cache.get(key)
            if cached is not None:
                _with_labels(cached, work, period).write_parquet(file)
                continue
            history = work.lazy().filter(pl.col("declaration_date") < period)
            current = work.lazy().filter(pl.col(_PERIOD) == period)
            # A month holds whole days: its day counts are the training batch's.
            current = join_day_counts(current, day_counts(current, self.de_minimis))
            reference = fit_reference_prices(history, self.min_peer_count)
            routes = fit_route_tables(history)
            stage = self._apply_tables(current, reference, routes).collect(engine="in-memory")
            if self.label_history == "expanding":
                # The importer's usual codes from the months before, as the prices.
                found = usual_codes(
                    stage,
                    declared_codes(history),
                    reference,
                    routes,
                    seller_codes=declared_codes(history, _SELLER_RECORD)
                    if self.usual_by_seller
                    else None,
                )
                stage = pl.concat([stage, found], how="horizontal")
            stage.write_parquet(file)
            if key is not None:
                cache.put(key, stage.columns, stage.drop(_STAGE_LABELS, strict=False))

    def _aggregate_history(self, staged: pl.LazyFrame) -> dict[str, pl.DataFrame]:
        """The aggregations over the whole training history, built once: the overall
        rate by day, entity histories by day and, if asked for, out-of-fold tables."""
        tables = {"prior": _expanding_prior(staged)}
        tables |= history_tables(staged, use_labels=True)
        if self.label_history == "out_of_fold":
            tables |= {f"oof{k}": t for k, t in out_of_fold_tables(staged).items()}
        names = list(tables)
        return dict(zip(names, pl.collect_all(tables.values()), strict=True))

    def _fit_whole_history(self, df: pl.DataFrame, staged: pl.LazyFrame) -> None:
        """Fit the tables that :meth:`transform` applies, and the feature names."""
        self.reference_ = fit_reference_prices(df.lazy(), self.min_peer_count)
        self.routes_ = fit_route_tables(df.lazy())
        self.entities_ = fit_entity_state(staged, self.smoothing)
        self.seller_codes_ = (
            declared_codes(df.lazy(), _SELLER_RECORD) if self.usual_by_seller else None
        )
        extras = [c for c in self.extra_categorical if c in df.columns]
        self.categorical_features_ = [*CATEGORICAL_BASE, *extras]
        self.numeric_features_ = list(NUMERIC_FEATURES)
        self.feature_names_ = self.numeric_features_ + self.categorical_features_
        self.training_period_ = (df["declaration_date"].min(), df["declaration_date"].max())

    def _training_month(
        self, inputs: pl.DataFrame, staged: pl.DataFrame, tables: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        if self.label_history == "out_of_fold":
            # The importer's usual codes from the whole training history, each row left
            # out of its own count, as its entities' fraud rates leave out its fold: the
            # months before an early month show too few of an importer's habits
            # (misclassification recall@5% 0.52 -> 0.56 in the backtest).
            staged = self._with_usual_codes(staged, counted=True)
        lf = staged.lazy().join(
            tables["prior"].lazy(), on="declaration_date", how="left", maintain_order="left"
        )
        histories = {p: tables[p].lazy() for p in ENTITIES}
        lf = self._finish(lf, state=None, use_labels=True, tables=histories)
        if self.label_history == "out_of_fold":
            oof = {k[3:]: t.lazy() for k, t in tables.items() if k.startswith("oof")}
            lf = out_of_fold_fraud_rates(lf, smoothing=self.smoothing, tables=oof)
        computed = lf.collect(engine="in-memory")
        return pl.concat(
            [inputs, computed.drop(_ROW, *_WORK_COLUMNS, strict=False)], how="horizontal"
        )

    def batch_tables(self, lf: pl.LazyFrame) -> dict[str, dict[str, pl.LazyFrame]]:
        """The batch-wide counts of declarations: per day and group (split shipments,
        lane surges) and per entity and day (histories within the batch).

        Computed on a piece of a batch, they add up with :meth:`merge_batch_tables` to
        the whole batch's; :meth:`transform` of any piece then joins the whole batch's.
        """
        work = self._work(lf)
        counts = day_counts(work, self.de_minimis)
        staged = self._apply_tables(join_day_counts(work, counts), self.reference_, self.routes_)
        return {"counts": counts, "daily": daily_tables(staged)}

    @staticmethod
    def merge_batch_tables(
        parts: dict[str, dict[str, pl.LazyFrame]],
    ) -> dict[str, dict[str, pl.LazyFrame]]:
        """Add up batch tables whose pieces are concatenated (one frame per table)."""
        return {
            "counts": merge_day_counts(parts["counts"]),
            "daily": merge_daily_tables(parts["daily"]),
        }

    def _work(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        lf = _with_optional(lf)
        names = lf.collect_schema().names()
        return self.codes_as_read(lf.select(c for c in _WORK_COLUMNS if c in names))

    def codes_as_read(self, frame: FrameT) -> FrameT:
        """``frame`` with each goods code longer than the training history's usual
        length read at that length (``64039900`` as ``640399`` by a model of six-digit
        codes): its national digits would leave the goods without peers, lanes,
        records or a code the classifier knows. The declaration keeps its code as
        written: only the features and the classifier read it so."""
        digits = getattr(self, "hs_digits_", None)  # (not kept by a model fitted before)
        return frame.with_columns(pl.col("hs_code").str.slice(0, digits)) if digits else frame

    def transform(
        self, lf: pl.LazyFrame, batch: dict[str, dict[str, pl.LazyFrame]] | None = None
    ) -> pl.LazyFrame:
        """Features of new declarations against the fitted training history.

        ``batch``: the whole batch's :meth:`batch_tables` when ``lf`` is only a piece of
        it; by default ``lf`` is the batch.
        """
        if not hasattr(self, "reference_"):
            raise RuntimeError("DeclarationFeatures is not fitted; call fit_transform first.")
        # The joins run on the few columns features need; the input's own columns are
        # put back beside them (every step keeps the row order).
        lf = _with_optional(lf)
        work = self._work(lf)
        if batch:
            # A piece reads the batch's day counts of its own days only, and of its
            # entities' earlier days only their totals: what it holds follows its size.
            days = (
                work.select(
                    pl.col("declaration_date").min().alias("first"),
                    pl.col("declaration_date").max().alias("last"),
                )
                .collect()
                .row(0)
            )
            staged = self._apply_tables(
                join_day_counts(work, batch["counts"], days), self.reference_, self.routes_
            )
            keyed = work.with_columns(route_string(self.destination))
            daily = piece_daily_tables(batch["daily"], keyed, *days)
        else:
            counted = join_day_counts(work, day_counts(work, self.de_minimis))
            staged = self._apply_tables(counted, self.reference_, self.routes_)
            daily = None
        # Made here, before the histories: as one plan with them it took longer (1M
        # rows: 5.41 s against 4.15 s, median of 5 in turns, bench/features_plan.py).
        staged = self._with_usual_codes(staged.collect(engine="in-memory")).lazy()
        computed = self._finish(staged, state=self.entities_, use_labels=False, daily=daily)
        new = [c for c in computed.collect_schema().names() if c not in _WORK_COLUMNS]
        return pl.concat([lf, computed.select(new)], how="horizontal")

    def added_columns(self) -> list[str]:
        """The columns :meth:`transform` adds to a batch's own, as this code makes them
        (a model saved before a column was added is asked the same)."""
        types = {"declaration_date": pl.Date(), "net_mass_kg": pl.Float64()}
        types |= {"customs_value": pl.Float64(), **OPTIONAL_COLUMNS}
        schema = {c: types.get(c, pl.String()) for c in (*_WORK_COLUMNS, *OPTIONAL_COLUMNS)}
        schema |= {c: pl.String() for c in self.extra_categorical}
        made = self.transform(pl.LazyFrame(schema=schema)).collect_schema().names()
        return [c for c in made if c not in schema]

    def usual_codes(self, table: pl.DataFrame) -> pl.DataFrame:
        """Per row of a feature table, the importer's usual code its goods may really be
        (``features._reclassification.usual_codes``), from the training history's
        declarations per importer and code: the ``USUAL_CODE_COLUMNS`` of the table
        where :meth:`transform` made them, else found now (a table of an older model)."""
        if all(c in table.columns for c in USUAL_CODE_COLUMNS):
            return table.select(USUAL_CODE_COLUMNS)
        return self._usual_codes(table)

    def _with_usual_codes(self, staged: pl.DataFrame, counted: bool = False) -> pl.DataFrame:
        return pl.concat([staged, self._usual_codes(staged, counted)], how="horizontal")

    def _usual_codes(self, table: pl.DataFrame, counted: bool = False) -> pl.DataFrame:
        """``usual_codes`` from the training history's records (a model saved before
        the seller's record was kept reads the importer's alone)."""
        return usual_codes(
            table,
            self.entities_.tables["importer_hs"],
            self.reference_,
            self.routes_,
            counted=counted,
            seller_codes=getattr(self, "seller_codes_", None),
        )

    # ------------------------------------------------------------------ steps
    def _zero_below(self) -> bool:
        """Whether a value of 0 stands below every price (``ZERO_VALUE_Z``): so for
        every model fitted since; one fitted before read it as a missing price."""
        return getattr(self, "zero_value_below_", False)

    def _apply_tables(
        self, lf: pl.LazyFrame, reference: ReferencePrices, routes: RouteTables
    ) -> pl.LazyFrame:
        lf = reference_price_deviation(lf, reference, zero_below=self._zero_below())
        lf = reclassification(lf, reference, routes)
        return route_patterns(lf, routes, self.destination)

    def _finish(
        self,
        lf: pl.LazyFrame,
        state: EntityState | None,
        use_labels: bool,
        daily: dict[str, pl.LazyFrame] | None = None,
        tables: dict[str, pl.LazyFrame] | None = None,
    ) -> pl.LazyFrame:
        lf = entity_histories(
            lf,
            state,
            use_labels=use_labels,
            prior=None if state else "_prior",
            smoothing=self.smoothing,
            daily=daily,
            tables=tables,
        )
        lf = split_shipments(lf, self.de_minimis)
        lf = lf.with_columns(*_derived(self._zero_below()))
        return lf.drop("_prior", *DAY_COUNT_COLUMNS, strict=False)


def _expanding_prior(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Per day, the overall fraud rate of inspections on earlier dates, with a weak
    Beta(1, 9) prior (``_prior``): what small entity histories lean on in training."""
    inspected = pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()
    fraud = inspected & (pl.col("fraud") == 1)
    return (
        lf.group_by("declaration_date")
        .agg(inspected.sum().cast(pl.Float64).alias("_i"), fraud.sum().cast(pl.Float64).alias("_f"))
        .sort("declaration_date")
        .select(
            "declaration_date",
            (
                (pl.col("_f").cum_sum() - pl.col("_f") + 1.0)
                / (pl.col("_i").cum_sum() - pl.col("_i") + 10.0)
            ).alias("_prior"),
        )
    )


def _derived(zero_below: bool = True) -> list[pl.Expr]:
    zero = pl.col("value_ratio") == 0 if zero_below else pl.lit(False)
    return [
        pl.col("customs_value").log1p().alias("log_customs_value"),
        # The tariff is a hierarchy: as a number, neighbouring codes sit together and a
        # tree can split on chapters and headings of any size.
        pl.col("hs_code").str.slice(0, 6).cast(pl.Float64, strict=False).alias("hs_number"),
        pl.col("net_mass_kg").log1p().alias("log_net_mass"),
        (pl.col("net_mass_kg") <= 0).cast(pl.Int8).alias("mass_missing"),
        unit_value_per_unit().log().alias("log_value_per_unit"),
        pl.when(pl.col("value_ratio") > 0)
        .then(pl.col("value_ratio").log())
        .when(zero)
        .then(ZERO_VALUE_LOG_RATIO)
        .alias("log_value_ratio"),
        pl.col("peer_n").log1p().alias("log_peer_n"),
        pl.col("revenue_at_stake").log1p().alias("log_revenue_at_stake"),
        pl.col("reclass_duty_gap").fill_null(0.0).alias("reclass_gap"),
        pl.col("reclass_revenue").fill_null(0.0).log1p().alias("log_reclass_revenue"),
        pl.col("usual_duty_gap").fill_null(0.0).alias("usual_gap"),
        pl.col("usual_revenue").fill_null(0.0).log1p().alias("log_usual_revenue"),
        *[pl.col(f"{p}_n_before").log1p().alias(f"log_{p}_n_before") for p in _PREFIXES],
    ]


_PREFIXES = (
    "importer",
    "declarant",
    "seller",
    "hs",
    "origin",
    "route",
    "importer_seller",
    "importer_hs",
    "hs_route",
    "hs_route_rate",
)

NUMERIC_FEATURES: tuple[str, ...] = (
    "log_customs_value",
    "log_net_mass",
    "hs_number",
    "mass_missing",
    "duty_rate_pct",
    "log_value_per_unit",
    "log_value_ratio",
    "price_z",
    "price_percentile",
    "peer_level",
    "log_peer_n",
    "log_revenue_at_stake",
    "reclass_gap",
    "log_reclass_revenue",
    "usual_gap",
    "log_usual_revenue",
    "third_country",
    "n_transit",
    "lane_share",
    "origin_share",
    "lane_surge",
    "duty_gap",
    "hs_duty_gap",
    *[f"log_{p}_n_before" for p in _PREFIXES],
    *[f"{p}_days_known" for p in _PREFIXES],
    *[f"{p}_fraud_rate" for p in _PREFIXES],
    "importer_mean_ratio_before",
    "importer_share_below_before",
    "split_n_pair_day",
    "split_under_pair_day",
    "split_value_pair_day",
    "split_n_importer_day",
    "split_under_importer_day",
)
