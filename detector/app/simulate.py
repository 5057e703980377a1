"""Replay a labelled period month by month at fixed capacity, once per selection policy.

Labels come only from inspections a selection chose, so a policy shapes what its next
model can learn. The replay asks what a year under each policy would have found. A
first labelled stretch (the months before ``start``, with the labels they carry) trains
every policy's first model; then, month by month, each policy's current model scores
the month, the policy lists its capacity, and only the listed rows' outcomes are
revealed to that policy's later training. Every other row of the months already past
is in its training table too, uninspected (``inspected`` false, ``fraud`` null): it
still feeds reference prices, lanes and histories, as it would in life.

The outcome of an inspection is the row's ground truth where the input has one (the
synthetic year's ``true_*`` columns), else its own label, which every row of the
replayed months must then carry (a dataset where every declaration was inspected, such
as the Korean one).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from detector.app.backtest import Fold, rolling_folds
from detector.app.labels import OUTCOME_SCHEMA, exploration_record, hit_rates
from detector.errors import DetectorError
from detector.features import StageCache
from detector.io.schema import LABEL_SCHEMA
from detector.models import POLICIES, FraudModel, ModelConfig, mechanism_of

__all__ = [
    "DEFAULT_POLICY",
    "RETRAIN",
    "Simulation",
    "SimulationOptions",
    "simulate",
]

#: The policy the replays chose (bench/simulate.py, bench/RESULTS.md).
DEFAULT_POLICY = "scheme-adapt"
#: Months between two retrainings.
RETRAIN = {"monthly": 1, "quarterly": 3}
#: Months of the first labelled stretch when no start is given.
INITIAL_MONTHS = 3

_LABELS = tuple(LABEL_SCHEMA)
_Y, _TYPE, _REVENUE, _MONTH = "__y", "__type", "__revenue", "__month"
#: Ties between equal scores are broken by a hash of the id: the same order every run.
_TIE_SEED = 11
_ORDER_COLUMNS = ("declaration_id", "declaration_date", "hs_code", "country_origin")


@dataclass(frozen=True)
class SimulationOptions:
    """The replay's options, checked before any row is read (see :meth:`parse`)."""

    capacity: float
    policies: tuple[str, ...]
    retrain: str = "monthly"
    start: date | None = None

    @classmethod
    def parse(
        cls,
        capacity: str,
        *,
        policies: list[str] | None = None,
        retrain: str = "monthly",
        start: str | None = None,
    ) -> "SimulationOptions":
        """Options as typed on the command line; a bad one is one sentence."""
        return cls(_capacity(capacity), _policies(policies), _retrain(retrain), _start(start))


def _capacity(text: str) -> float:
    raw = str(text).strip()
    try:
        # With "%" only: `score --top 5` means five declarations, and so it would here.
        pct = float(raw[:-1]) if raw.endswith("%") else None
    except ValueError:
        pct = None
    if pct is None or not (0 < pct <= 100) or not math.isfinite(pct):
        raise DetectorError(
            f"--capacity '{text}' is not a share of the declarations: give a percentage "
            "above 0 and at most 100, with its % sign (e.g. 5%)."
        )
    return pct


def _policies(names: list[str] | None) -> tuple[str, ...]:
    if not names:
        return tuple(dict.fromkeys(("exploit", "random-explore", DEFAULT_POLICY)))
    for name in names:
        if name not in POLICIES:
            raise DetectorError(
                f"--policy '{name}' is not a selection policy; choose among {', '.join(POLICIES)}."
            )
    return tuple(dict.fromkeys(names))


def _retrain(text: str) -> str:
    if text not in RETRAIN:
        raise DetectorError(f"--retrain '{text}' is not a schedule; use {' or '.join(RETRAIN)}.")
    return text


def _start(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        year, month = (int(p) for p in str(text).strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise DetectorError(
            f"--start '{text}' is not a month; use YYYY-MM (e.g. 2025-04)."
        ) from None


def _outcomes(declarations: pl.DataFrame, source: str) -> tuple[str, pl.DataFrame]:
    """What an inspection of each row finds: (basis, ``__y``, ``__type``, ``__revenue``)."""
    cols = declarations.columns
    if "true_fraud" in cols:
        return "ground truth of every row", declarations.select(
            pl.col("true_fraud").cast(pl.Int8).alias(_Y),
            pl.col("true_fraud_type").alias(_TYPE),
            pl.col("true_revenue_lost").alias(_REVENUE),
        )
    if "fraud" not in cols or declarations["fraud"].null_count() == declarations.height:
        raise DetectorError(
            f"{source} has no labels (no fraud column with values, no synthetic ground "
            "truth); a replay needs the outcome of every declaration."
        )

    def own(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, dtype)

    return "inspected declarations", declarations.select(
        pl.col("fraud").cast(pl.Int8).alias(_Y),
        own("fraud_type", pl.String).alias(_TYPE),
        own("revenue_recovered", pl.Float64).alias(_REVENUE),
    )


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _plan(dates: pl.Series, start: date | None, source: str) -> list[Fold]:
    """One fold of one month per replayed month: the backtest's rolling folds."""
    first, last = dates.min(), dates.max()
    first_month, last_month = first.replace(day=1), last.replace(day=1)
    start = start or _add_months(first_month, INITIAL_MONTHS)
    if not first_month < start <= last_month:
        raise DetectorError(
            f"{source} covers {first:%Y-%m} to {last:%Y-%m}: --start {start:%Y-%m} leaves "
            "no labelled stretch before it or no month to replay; pass a month after the "
            "first and not after the last."
        )
    n = (last_month.year - start.year) * 12 + last_month.month - start.month + 1
    return rolling_folds(dates, folds=n, months=1)


@dataclass
class Simulation:
    """What each policy listed, month by month, with what the inspections found."""

    options: SimulationOptions
    months: list[date]
    basis: str
    #: Per policy: every listed row (id, date, ``__month``, selection, outcome).
    picks: dict[str, pl.DataFrame]
    #: Per replayed row: ``__month``, ``__y``, ``__type``, ``__revenue``.
    truth: pl.DataFrame
    currency: str | None = None
    default: str = DEFAULT_POLICY
    fits: int = 0
    seconds: dict = field(default_factory=dict)
    #: The input's rows read and rejected (the rejected ones are not replayed).
    read: int | None = None
    rejected: int = 0

    @property
    def has_revenue(self) -> bool:
        return self.truth[_REVENUE].null_count() < self.truth.height

    @property
    def fraud_types(self) -> list[str]:
        frauds = self.truth.filter(pl.col(_Y) == 1)[_TYPE].drop_nulls()
        return sorted(frauds.unique().to_list())

    def measure(self, name: str, months: list[date] | None = None) -> dict:
        """Frauds found, precision, revenue and recall per fraud type over ``months``
        (default: the whole replay), with the inspections and the share of the
        months' fraud they found (``coverage``)."""
        months = self.months if months is None else months
        picks = self.picks[name].filter(pl.col(_MONTH).is_in(months))
        truth = self.truth.filter(pl.col(_MONTH).is_in(months))
        frauds = int(picks[_Y].sum() or 0)
        found = picks.filter(pl.col(_Y) == 1)[_TYPE].value_counts()
        found = dict(zip(found[_TYPE].to_list(), found["count"].to_list(), strict=True))
        recall = {}
        for kind in self.fraud_types:
            total = int(truth.filter((pl.col(_Y) == 1) & (pl.col(_TYPE) == kind)).height)
            if total:
                recall[kind] = round(found.get(kind, 0) / total, 6)
        all_frauds = int(truth[_Y].sum() or 0)
        revenue = picks.filter(pl.col(_Y) == 1)[_REVENUE].fill_null(0.0).sum()
        return {
            "frauds": frauds,
            # Nothing inspected (a month without declarations): no precision, not 0.
            "precision": round(frauds / picks.height, 6) if picks.height else None,
            "revenue": round(float(revenue), 2) if self.has_revenue else None,
            "recall_by_type": recall,
            "inspected": picks.height,
            "coverage": round(frauds / all_frauds, 6) if all_frauds else None,
        }

    def hit_rates(self, name: str) -> pl.DataFrame:
        """The policy's hit rates by month and selection, as ``monitor`` computes them
        from a label store: the listed rows as flagged, their outcomes as reported."""
        return hit_rates(*_as_store(self.picks[name]))

    def to_json(self) -> dict:
        """``{"policies": {NAME: {"total": {...}, "months": [...]}}, "default": NAME}``."""
        keys = ("frauds", "precision", "revenue", "recall_by_type")
        policies = {}
        for name in self.options.policies:
            total = self.measure(name)
            months = [{"month": f"{m:%Y-%m}", **self.measure(name, [m])} for m in self.months]
            policies[name] = {
                "total": {k: total[k] for k in keys},
                "months": [{"month": m["month"], **{k: m[k] for k in keys}} for m in months],
            }
        return {"policies": policies, "default": self.default}


#: Fits a model on a training table; the replay's default is ``FraudModel(config).fit``.
Fit = Callable[[pl.DataFrame], FraudModel]
#: Told of each policy's month as it is done: (month, policy, its listed rows).
OnMonth = Callable[[date, str, pl.DataFrame], None]


def _split(declarations: pl.DataFrame, start: date):
    """The first stretch with its labels, and the replayed rows with theirs hidden."""
    data = declarations.drop([c for c in declarations.columns if c.startswith("true_")])
    data = data.with_columns(
        pl.lit(None, dtype).alias(c) for c, dtype in LABEL_SCHEMA.items() if c not in data.columns
    ).with_columns(pl.col(c).cast(t) for c, t in LABEL_SCHEMA.items())
    day = pl.col("declaration_date")
    initial = data.filter(day < start)
    replay = data.filter(day >= start).with_columns(
        pl.lit(False).alias("inspected"),
        *[pl.lit(None, LABEL_SCHEMA[c]).alias(c) for c in _LABELS[1:]],
    )
    return initial, replay


def training_table(
    initial: pl.DataFrame, past: pl.DataFrame, revealed: pl.DataFrame
) -> pl.DataFrame:
    """The first stretch as it is, then the replayed months so far with the labels this
    policy revealed (the other rows uninspected, their outcome unknown)."""
    labels = revealed.select("declaration_id", *_LABELS)
    joined = past.drop(_LABELS).join(labels, on="declaration_id", how="left", maintain_order="left")
    joined = joined.with_columns(pl.col("inspected").fill_null(False))
    return pl.concat([initial, joined.select(initial.columns)])


def _order(model: FraudModel, rows: pl.DataFrame) -> pl.DataFrame:
    """The month's rows scored by ``model``, most suspicious first."""
    scored = model.score(model.transform(rows))
    return scored.select(
        *_ORDER_COLUMNS,
        "novelty",
        "rank_score",
        "risk_score",
        pl.col("declaration_id").hash(_TIE_SEED).alias("__h"),
        mechanism_of(scored),
    ).sort(["rank_score", "__h"], descending=[True, False])


_EMPTY_ORDER = pl.DataFrame(
    schema={
        **dict.fromkeys(_ORDER_COLUMNS, pl.String),
        "declaration_date": pl.Date,
        "novelty": pl.Float64,
        "rank_score": pl.Float64,
        "risk_score": pl.Float64,
        "__h": pl.UInt64,
        "__mech": pl.String,
    }
)


def _fit(fit: Fit, table: pl.DataFrame, name: str, month: date) -> FraudModel:
    try:
        return fit(table)
    except ValueError as exc:
        raise DetectorError(
            f"Cannot fit the model of policy {name} on the months before {month:%Y-%m}: "
            f"{exc}; pass a later --start so that the first stretch holds more labels."
        ) from None


def simulate(
    declarations: pl.DataFrame,
    options: SimulationOptions,
    *,
    config: ModelConfig | None = None,
    fit: Fit | None = None,
    on_month: OnMonth | None = None,
    on_start: Callable[[list[date]], None] | None = None,
    source: str = "The input",
) -> Simulation:
    """Replay ``declarations`` month by month under each of ``options.policies``.

    ``fit`` fits a model on a policy's training table (default:
    ``FraudModel(config).fit``); the replay calls it at every retraining, so a test can
    see exactly what each policy's models learned from.
    """
    config = config or ModelConfig()
    # The policies' training tables hold the same declarations, month after month: the
    # first stage of a month's features (prices and lanes, which read no label) is
    # computed once for all of them.
    stages = StageCache()
    fit = fit or (lambda table: FraudModel(config).fit(table, stage_cache=stages))
    basis, outcomes = _outcomes(declarations, source)
    folds = _plan(declarations["declaration_date"], options.start, source)
    start, months = folds[0].cutoff, [f.cutoff for f in folds]
    initial, replay = _split(declarations, start)
    month_of = pl.col("declaration_date").dt.truncate("1mo")
    truth = pl.concat(
        [declarations.select("declaration_id", month_of.alias(_MONTH)), outcomes], how="horizontal"
    ).filter(pl.col(_MONTH) >= start)
    if truth[_Y].null_count():
        raise DetectorError(
            f"{source} has {truth[_Y].null_count():,} declarations from {start:%Y-%m} on "
            "without an outcome; a replay needs every declaration's outcome (every row "
            "inspected, or synthetic ground truth), or pass a --start after them."
        )
    sim = Simulation(options, months, basis, {}, truth, currency=_currency(declarations))
    first_labels = initial.filter(
        pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()
    )
    state = {name: _PolicyState(first_labels) for name in options.policies}
    every = RETRAIN[options.retrain]
    if on_start is not None:
        on_start(months)
    try:
        for i, fold in enumerate(folds):
            month = fold.cutoff
            past, rows = fold.split(replay)
            k = math.ceil(rows.height * options.capacity / 100)  # a month without rows lists none
            for name in options.policies:
                own = state[name]
                if i % every == 0:
                    own.model = _fit(fit, training_table(initial, past, own.revealed), name, month)
                    sim.fits += 1
                order = _order(own.model, rows) if rows.height else _EMPTY_ORDER
                listed = POLICIES[name].select(order, k, own.reads(POLICIES[name]), config)
                chosen = own.reveal(listed, truth, month)
                if on_month is not None:
                    on_month(month, name, chosen)
    finally:
        stages.close()
    sim.picks = {name: state[name].picks() for name in options.policies}
    return sim


def _as_store(picks: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A policy's listed rows as a label store holds them: their outcomes as reported,
    and the rows as flagged."""
    outcomes = picks.select(
        "declaration_id",
        pl.lit(True).alias("inspected"),
        pl.col(_Y).alias("fraud"),
        pl.col(_TYPE).alias("fraud_type"),
        pl.col(_REVENUE).alias("revenue_recovered"),
        pl.lit(None, pl.String).alias("note"),
        pl.lit(None, pl.Date).alias("inspected_on"),
    ).cast(OUTCOME_SCHEMA)
    return outcomes, picks.select("declaration_id", "selection", "declaration_date", "risk_score")


class _PolicyState:
    """One policy's model, the labels it revealed and the rows it listed."""

    def __init__(self, first_labels: pl.DataFrame) -> None:
        self.model: FraudModel | None = None
        empty = pl.DataFrame(schema={"declaration_id": pl.String, **LABEL_SCHEMA})
        self.revealed = empty
        self.labels = first_labels.select("hs_code", "country_origin", "fraud")
        self._picks: list[pl.DataFrame] = []

    def reveal(self, listed: pl.DataFrame, truth: pl.DataFrame, month: date) -> pl.DataFrame:
        chosen = listed.select(
            "declaration_id",
            "declaration_date",
            "hs_code",
            "country_origin",
            "selection",
            "rank",
            "risk_score",
        ).join(truth.drop(_MONTH), on="declaration_id", how="left", maintain_order="left")
        chosen = chosen.with_columns(pl.lit(month).alias(_MONTH))
        found = chosen.select(
            "declaration_id",
            pl.lit(True).alias("inspected"),
            pl.col(_Y).alias("fraud"),
            pl.when(pl.col(_Y) == 1).then(pl.col(_TYPE)).alias("fraud_type"),
            pl.when(pl.col(_Y) == 1)
            .then(pl.col(_REVENUE))
            .otherwise(0.0)
            .alias("revenue_recovered"),
        ).cast({"declaration_id": pl.String, **LABEL_SCHEMA})
        self.revealed = pl.concat([self.revealed, found])
        self.labels = pl.concat(
            [self.labels, chosen.select("hs_code", "country_origin", pl.col(_Y).alias("fraud"))],
            how="vertical_relaxed",
        )
        self._picks.append(chosen)
        return chosen

    def picks(self) -> pl.DataFrame:
        return pl.concat(self._picks)

    def reads(self, policy) -> pl.DataFrame | None:
        """What ``policy`` reads of this policy's own labels so far (``SelectionPolicy``):
        the labels by segment, or what its exploration picks found, as ``score --store``
        reads the same from a label store."""
        if policy.reads == "exploration":
            return exploration_record(*_as_store(self.picks())) if self._picks else None
        return self.labels


def _currency(df: pl.DataFrame) -> str | None:
    if "currency" not in df.columns or df["currency"].null_count() == df.height:
        return None
    return df["currency"].drop_nulls().mode().sort()[0]


def simulate_files(
    files,
    options: SimulationOptions,
    *,
    schema: str = "canonical",
    config: ModelConfig | None = None,
    on_month: OnMonth | None = None,
    on_start: Callable[[list[date]], None] | None = None,
) -> Simulation:
    """Read labelled declarations and replay them (see :func:`simulate`)."""
    from detector.io.ingest import read_declarations
    from detector.io.profiles import load_profile

    profile = load_profile(schema)
    batch = read_declarations(files, profile)
    config = config or ModelConfig(extra_categorical=profile.features)
    names = ", ".join(map(str, files))
    sim = simulate(
        batch.accepted,
        options,
        config=config,
        on_month=on_month,
        on_start=on_start,
        source=f"Input {names}",
    )
    sim.read, sim.rejected = batch.n_read, batch.rejects.height
    return sim
