"""The fraud model: features, classifier, novelty signal and calibration, as one object."""

from datetime import date

import numpy as np
import polars as pl

from detector.features import OPTIONAL_COLUMNS, USUAL_CODE_COLUMNS, DeclarationFeatures
from detector.models._calibration import SmoothIsotonic
from detector.models._config import ModelConfig
from detector.models._drift import DRIFT_COLUMNS, fit_drift_reference
from detector.models._pipeline import fit_classifiers
from detector.models._policies import POLICIES, segment_stats
from detector.models._predict import Predictor, predict_positive, screen_positive
from detector.models._selection import select_for_inspection

__all__ = ["FraudModel", "NOVELTY_SIGNALS", "sample_labelled"]

#: Duty a cheaper declared origin avoids against the goods' usual origins (points).
_DUTY_GAP = pl.max_horizontal(
    pl.col("duty_gap").fill_null(0.0), pl.col("hs_duty_gap").fill_null(0.0), 0.0
)

#: Where the price detector puts a declared value of 0: beyond any price (a model fitted
#: before ``ZERO_VALUE_Z`` has no z-score for it).
_ZERO_VALUE_Z = 100.0

#: Unsupervised detectors, one per scheme a customs officer knows, oriented so that
#: higher is stranger; none of them needs a label.
NOVELTY_SIGNALS: dict[str, pl.Expr] = {
    # Priced far below the peers; a value of 0 for goods with a mass, furthest of all.
    "price": pl.when(pl.col("value_ratio") == 0)
    .then(pl.lit(_ZERO_VALUE_Z))
    .otherwise((-pl.col("price_z")).clip(lower_bound=0.0)),
    # An origin rarely seen for these goods that happens to pay less duty: relabelling.
    "relabel": -pl.col("origin_share").log() * _DUTY_GAP,
    # A rare lane through a third country.
    "route": pl.col("third_country") * -pl.col("lane_share").log()
    + pl.col("lane_surge").clip(lower_bound=0.0),
    # Many parcels from one seller to one consignee on one day, just under de minimis.
    "split": pl.col("split_under_pair_day"),
}
_GRID = np.linspace(0.0, 1.0, 1001)

#: Duty an inspection could recover: the undervaluation against peers, the duty a
#: cheaper declared origin avoids compared with the goods' usual origins, or the duty of
#: the code whose peer prices the declared price fits (``reclass_revenue``).
DUTY_AT_STAKE = pl.max_horizontal(
    pl.col("revenue_at_stake").fill_null(0.0),
    pl.col("customs_value") * _DUTY_GAP / 100.0,
    pl.col("reclass_revenue").fill_null(0.0),
)

#: A row whose inspection outcome is known.
_LABELLED = pl.col("inspected").fill_null(False) & pl.col("fraud").is_not_null()

#: Rows whose median feature values are the neutral ones the reasons compare with.
_NEUTRAL_ROWS = 50_000

#: The columns of every training row that fitting reads beyond the labelled rows: the
#: detectors' signals, the duty at stake, the label coverage and the price drift.
_SUMMARY_COLUMNS = sorted(
    {
        name
        for expr in [*NOVELTY_SIGNALS.values(), DUTY_AT_STAKE, _LABELLED, *DRIFT_COLUMNS]
        for name in expr.meta.root_names()
    }
    # the importer's usual code, as the training rows' features found it
    # (``usual_code_stake``)
    | set(USUAL_CODE_COLUMNS)
)


def sample_labelled(
    labelled: pl.DataFrame, cap: int, seed: int
) -> tuple[pl.DataFrame, np.ndarray | None, dict | None]:
    """At most ``cap`` labelled rows: every fraud, and the same share of every month's
    clean inspections, weighted by the inverse of that share.

    Frauds are the minority that carries the signal; sampling the clean inspections of
    each month at one rate keeps the period's shape, and the weights keep the classifier
    and the calibration unbiased. Returns the rows (in date order), their weights (None
    when nothing was dropped) and the record of what was done.
    """
    if labelled.height <= cap:
        return labelled, None, None
    fraud = labelled["fraud"] == 1
    n_fraud = int(fraud.sum())
    # Frauds beyond half the cap are sampled too, at their own rate.
    fraud_rate = min(1.0, cap / 2 / n_fraud) if n_fraud else 1.0
    kept_fraud = int(round(n_fraud * fraud_rate))
    clean_rate = (cap - kept_fraud) / (labelled.height - n_fraud)
    rate = pl.when(pl.col("fraud") == 1).then(fraud_rate).otherwise(clean_rate)
    month = pl.col("declaration_date").dt.truncate("1mo")
    # Within each month and outcome, a seeded shuffle keeps the first `rate` of the rows.
    position = pl.int_range(pl.len()).shuffle(seed=seed).over(month, "fraud")
    keep = position < (rate * pl.len().over(month, "fraud")).round()
    sample = (
        labelled.with_columns(rate.alias("__rate"))
        .filter(keep)
        .sort("declaration_date", maintain_order=True)
    )
    weight = (1.0 / sample["__rate"]).to_numpy()
    record = {
        "cap": cap,
        "labelled": labelled.height,
        "kept": sample.height,
        "strata": "month x outcome",
        "fraud_rate": round(fraud_rate, 6),
        "clean_rate": round(clean_rate, 6),
    }
    return sample.drop("__rate"), weight, record


def recency_weight(
    dates: pl.Series, weight: np.ndarray | None, halflife_days: float
) -> np.ndarray | None:
    """``weight`` (None: 1 each) halved for every ``halflife_days`` a row is older than
    the latest date, in case the latest inspections tell most of the next months;
    unchanged when ``halflife_days`` is not above 0. A backtest candidate, off by
    default: on the Korean folds it was lower at every half-life (bench/RESULTS.md).

    >>> d = pl.Series([date(2025, 1, 1), date(2025, 4, 1), date(2025, 6, 30)])
    >>> recency_weight(d, None, 180.0).round(3).tolist()
    [0.5, 0.707, 1.0]
    >>> recency_weight(d, np.array([2.0, 2.0, 2.0]), 0.0).tolist()
    [2.0, 2.0, 2.0]
    """
    if not halflife_days > 0 or dates.len() == 0:  # 0, negative or NaN: no decay
        return weight
    age = (dates.max() - dates).dt.total_days().to_numpy().astype(float)
    decay = 0.5 ** (age / halflife_days)
    return decay if weight is None else weight * decay


def _records_revenue(labelled: pl.DataFrame) -> bool:
    """The labels say how much revenue inspections recovered from frauds."""
    if "revenue_recovered" not in labelled.columns:
        return False
    recovered = labelled.filter(pl.col("fraud") == 1)["revenue_recovered"]
    return recovered.len() > 0 and bool((recovered.fill_null(0.0) > 0).any())


def _require_outcomes(declarations: pl.DataFrame) -> None:
    """Raise unless the declarations hold at least 50 inspected rows with both outcomes."""
    if {"inspected", "fraud"} <= set(declarations.columns):
        outcomes = declarations.filter(_LABELLED)["fraud"]
    else:
        outcomes = pl.Series("fraud", [], dtype=pl.Int8)
    if outcomes.len() < 50 or outcomes.n_unique() < 2:
        raise ValueError(
            f"training needs at least 50 inspected declarations with both outcomes; "
            f"found {outcomes.len()} inspected, {int(outcomes.sum() or 0)} fraud"
        )


#: What scoring and explaining add to the features: scores and reasons.
_SCORING_COLUMNS = {"novelty", "rank_score", "risk_score", "reason_codes", "novelty_detector"}


class FraudModel:
    """Everything fitted on training declarations that scoring needs.

    ``fit`` builds the features from history, trains the classifier on the inspected
    rows, learns how unusual each unsupervised detector's values are, and calibrates
    the combined score on the latest labelled rows, scored by a model of the rows
    before them. ``score`` turns a feature table into ``risk_score`` (a calibrated
    probability) and the ``rank_score`` behind it.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()

    # -------------------------------------------------------------------- fitting
    def fit(
        self,
        declarations: pl.DataFrame,
        stage_cache=None,
        exploration_record: pl.DataFrame | None = None,
    ) -> "FraudModel":
        """Fit the features, the classifier, the detectors and the calibration
        (``stage_cache``: see ``DeclarationFeatures.fit_months``; never saved).
        ``exploration_record``: what a label store's exploration picks found
        (``detector.app.labels.exploration_record``), kept for a policy that reads it."""
        cfg = self.config
        self.exploration_record_ = exploration_record
        # Checked on the input, before the features are built: they keep every row.
        _require_outcomes(declarations)
        self.features_ = DeclarationFeatures(
            min_peer_count=cfg.min_peer_count,
            de_minimis=cfg.de_minimis,
            smoothing=cfg.smoothing,
            destination=cfg.destination,
            extra_categorical=cfg.extra_categorical,
            label_history=cfg.label_history,
            usual_by_seller=cfg.usual_by_seller,
        )
        labelled, table, sample = self._fit_features(declarations, stage_cache)
        # What exploration knows of each segment: the labels the model learns from.
        self.segment_labels_ = segment_stats(labelled)
        labelled, weight, self.sampling_ = sample_labelled(
            labelled, cfg.max_labelled_rows, cfg.seed
        )
        weight = recency_weight(labelled["declaration_date"], weight, cfg.recency_halflife_days)
        y = labelled["fraud"].to_numpy()
        latest, latest_p = self._fit_classifiers(labelled, y, weight)

        self._fit_novelty(table)
        self.drift_ = fit_drift_reference(table)
        # The detectors are for what selective inspection cannot see: when every
        # declaration was inspected the labels already show every scheme that occurred.
        self.label_coverage_ = float(table.select(_LABELLED.mean()).item())
        self.revenue_weight_ = cfg.revenue_weight if _records_revenue(labelled) else 0.0
        self.stake_quantiles_ = np.quantile(self._stakes(table), _GRID)
        #: The fraud rate of the inspections learned from: an entity's record below it
        #: is no reason to inspect.
        self.fraud_rate_ = float(np.average(y, weights=weight)) if y.size else 0.0
        self._fit_calibrator(
            labelled[latest], latest_p, y[latest], None if weight is None else weight[latest]
        )
        self._fit_neutral(sample)
        self.counts_ = {
            "rows": declarations.height,
            "labelled": int(labelled.height),
            "calibration": int(latest.size),
        }
        # The columns scoring adds: an input column of one of these names would clash.
        added = set(self.transform(declarations.head(0)).columns) - set(declarations.columns)
        added -= set(OPTIONAL_COLUMNS)  # canonical columns the training rows lacked
        self.added_columns_ = tuple(sorted(added | _SCORING_COLUMNS))
        return self

    def clashing_columns(self, columns) -> list[str]:
        """The input ``columns`` named like a column that scoring adds: as the code
        installed makes them, which a model saved before some of them were added does
        not list in its ``added_columns_``."""
        added = set(getattr(self, "added_columns_", ())) | _SCORING_COLUMNS
        added |= set(self.features_.added_columns())
        return sorted(set(columns) & added)

    def matrix(self, table: pl.DataFrame) -> np.ndarray:
        """The classifier's matrix of a feature table, each goods code read as the
        features read it (``DeclarationFeatures.codes_as_read``)."""
        encoder = self.classifier_.named_steps["encode"]
        return encoder.transform(self.features_.codes_as_read(table))

    def missing_features(self, columns) -> list[str]:
        """The input columns the classifier reads as features that ``columns`` lacks:
        a profile's own fields (``ModelConfig.extra_categorical``) that its training
        rows had."""
        present, used = set(columns), set(self.features_.categorical_features_)
        return [c for c in self.features_.extra_categorical if c in used and c not in present]

    def _fit_features(
        self, declarations: pl.DataFrame, stage_cache=None
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """Fit the features and return the labelled rows (in date order), every row's
        summary columns and a sample of rows for the neutral values.

        One month of features at a time: what the classifier learns from (the labelled
        rows), the few columns the detectors' and the stakes' distributions are read
        from (every row), and a sample for the neutral values.
        """
        labelled, summary, sample = [], [], []
        share = min(1.0, _NEUTRAL_ROWS / max(declarations.height, 1))
        months = self.features_.fit_months(declarations, stage_cache=stage_cache)
        for i, month in enumerate(months):
            labelled.append(month.filter(_LABELLED))
            summary.append(month.select(_SUMMARY_COLUMNS))
            sample.append(
                month if share == 1.0 else month.sample(fraction=share, seed=self.config.seed + i)
            )
            del month
        table = pl.concat(summary)
        sample = pl.concat(sample)
        labelled = pl.concat(labelled).sort("declaration_date", maintain_order=True)
        return labelled, table, sample

    def _fit_classifiers(
        self, labelled: pl.DataFrame, y: np.ndarray, weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit the classifier on every labelled row; return the positions of the latest
        slice and its probabilities from a classifier fitted on the rows before it.

        Calibration needs scores the classifier did not see the labels of, and the
        future is scored by a classifier fitted on the past: the latest slice of the
        labelled period is scored by a classifier fitted on the rows before it, and the
        score is calibrated on that slice; the final classifier then learns from every
        labelled row, the latest included. The slice is scored by one model, not an
        average: the calibration learns how the scores' order maps to fraud rates, which
        an average of models shares with one of them, at a third of the cost.
        """
        cfg = self.config
        numeric = self.features_.numeric_features_
        categorical = self.features_.categorical_features_
        cut = min(labelled.height - 1, int(labelled.height * (1.0 - cfg.calibration_share)))
        earlier, latest = np.arange(cut), np.arange(cut, labelled.height)
        tasks = [(labelled, y, weight, cfg.n_models)]
        learn_past = np.unique(y[earlier]).size == 2
        if learn_past:
            past_weight = None if weight is None else weight[earlier]
            tasks.append((labelled[earlier], y[earlier], past_weight, 1))
        self.classifier_, *past = fit_classifiers(cfg, numeric, categorical, tasks)
        if learn_past:
            latest_p = past[0].predict_proba(labelled[latest])[:, 1]
        else:
            # Nothing to learn before the slice: every score means the slice's rate.
            latest_p = np.full(latest.size, y[latest].mean())
        return latest, latest_p

    def _fit_calibrator(
        self,
        slice_: pl.DataFrame,
        probability: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None,
    ) -> None:
        """Fit the map from the slice's rank scores to fraud rates, and note its dates."""
        raw = self._rank_score(slice_, probability=probability)
        self.calibrator_ = SmoothIsotonic().fit(raw, y, sample_weight=weight)
        self.calibration_period_ = (
            slice_["declaration_date"].min(),
            slice_["declaration_date"].max(),
        )

    def _fit_neutral(self, sample: pl.DataFrame) -> None:
        """The median encoded value of each feature, and the most frequent category."""
        matrix = self.classifier_.named_steps["encode"].transform(sample)
        self.neutral_ = np.nanmedian(matrix, axis=0)
        n_num = len(self.features_.numeric_features_)
        self.neutral_[n_num:] = 0.0  # the most frequent category

    def _fit_novelty(self, table: pl.DataFrame) -> None:
        signals = table.select(
            **{k: e.fill_nan(None).fill_null(0.0) for k, e in NOVELTY_SIGNALS.items()}
        )
        self.novelty_quantiles_ = {
            k: np.quantile(signals[k].to_numpy(), _GRID) for k in NOVELTY_SIGNALS
        }

    def _detector_percentiles(self, table: pl.DataFrame) -> np.ndarray:
        """Per row and detector, the share of training rows strictly below the value.

        Strictly below: the many rows where a detector is silent (0) sit at the
        bottom, not in the middle.
        """
        signals = table.select(
            **{k: e.fill_nan(None).fill_null(0.0) for k, e in NOVELTY_SIGNALS.items()}
        )
        return np.column_stack(
            [
                np.searchsorted(q, signals[k].to_numpy(), side="left") / q.size
                for k, q in self.novelty_quantiles_.items()
            ]
        )

    def novelty(self, table: pl.DataFrame) -> np.ndarray:
        """How strange (0-1) the row is on its most extreme unsupervised detector."""
        return self._detector_percentiles(table).max(axis=1)

    def strongest_detector(self, table: pl.DataFrame) -> list[str]:
        """Name of the detector behind each row's novelty."""
        names = list(self.novelty_quantiles_)
        return [names[j] for j in self._detector_percentiles(table).argmax(axis=1)]

    def novelty_boost(self, novelty: np.ndarray) -> np.ndarray:
        """How far the detectors alone would lift a row (0-1), less the more rows were
        inspected; ``detector_part`` is what they add to a classifier's probability."""
        floor = self.config.novelty_floor
        weight = self.config.novelty_weight * (1.0 - self.label_coverage_)
        return weight * np.clip((np.asarray(novelty) - floor) / (1.0 - floor), 0.0, 1.0)

    def detector_part(self, probability: np.ndarray, novelty: np.ndarray) -> np.ndarray:
        """What the detectors add to the classifier's probability: their boost, on the
        part of the row's risk the classifier leaves open.

        Either source of evidence can make a row suspect: a scheme the labels never
        showed lifts a row the classifier thinks clean, and a row the classifier is
        already sure of gains nothing (the labels cover its scheme).
        """
        return (1.0 - np.asarray(probability)) * self.novelty_boost(novelty)

    def _stakes(self, table: pl.DataFrame, usual: bool = True) -> np.ndarray:
        """Per row, the duty an inspection could recover (``DUTY_AT_STAKE``); with
        ``usual_code_stake``, at least the duty of the importer's usual code."""
        stake = table.select(DUTY_AT_STAKE).to_series().to_numpy()
        if usual and self.revenue_weight_ > 0 and getattr(self.config, "usual_code_stake", False):
            found = self.usual_codes(table)["usual_revenue"].fill_null(0.0).to_numpy()
            stake = np.maximum(stake, found)
        return stake

    def stake_share(self, table: pl.DataFrame, usual: bool = True) -> np.ndarray:
        """Per row, the share of training rows with strictly less duty at stake: 0 when
        nothing is at stake."""
        stake = self._stakes(table, usual)
        return np.searchsorted(self.stake_quantiles_, stake, side="left") / _GRID.size

    def _rank_score(
        self,
        table: pl.DataFrame,
        novelty: np.ndarray | None = None,
        probability: np.ndarray | None = None,
        usual: bool = True,
    ) -> np.ndarray:
        if probability is None:
            matrix = self.matrix(table)
            probability = predict_positive(self.classifier_.steps[-1][1], matrix)
        p = probability
        u = self.novelty(table) if novelty is None else novelty
        suspicion = p + self.detector_part(p, u)
        # Among likely frauds, the ones with more duty at stake come first (at weight 0.5
        # a sure fraud with nothing at stake ranks with a two-in-three chance of the
        # largest stake). Only where the labels record recovered revenue: the weight is 0
        # otherwise, as nothing shows that the stake estimate finds revenue there.
        return suspicion * (1.0 + self.revenue_weight_ * self.stake_share(table, usual))

    # -------------------------------------------------------------------- scoring
    def candidates(self, k: int, n: int) -> int | None:
        """How many of ``n`` rows the whole classifier must score for a list of ``k``,
        after the screen; None when every row is to be scored (no screen, or no saving).

        Measured with the defaults (``bench/screen_recall.py``, bench/RESULTS.md): of
        the model's picks when the whole classifier scores every row, a screen of 10
        trees kept every one at 1, 5 and 10 % capacity, on a million synthetic rows and
        on the Korean valid file (5 trees lost 31 of 45,000 at 5 % and 106 of 90,000 at
        10 % on the million rows).
        """
        cfg = self.config
        if cfg.screen_trees <= 0 or not Predictor(self.classifier_.steps[-1][1]).binned:
            return None
        c = max(int(np.ceil(cfg.screen_factor * k)), int(np.ceil(cfg.screen_share * n)))
        return c if c < n else None

    def screen(self, table: pl.DataFrame) -> pl.DataFrame:
        """Add ``novelty`` and a cheap first ``rank_score`` to a feature table: made as
        ``score`` makes it, but from the first trees of the first model only. Rows
        screened this way have no ``risk_score``; ``score`` the candidates."""
        u = self.novelty(table)
        matrix = self.matrix(table)
        p = screen_positive(self.classifier_.steps[-1][1], matrix, self.config.screen_trees)
        if p is None:
            raise ValueError("this classifier has no screen: score every row")
        # (the importer's usual code left to the candidates: the screen's margin holds them)
        rank = self._rank_score(table, u, probability=p, usual=False)
        return table.with_columns(pl.Series("novelty", u), pl.Series("rank_score", rank))

    def score(self, table: pl.DataFrame) -> pl.DataFrame:
        """Add ``novelty``, ``rank_score`` and ``risk_score`` to a feature table."""
        u = self.novelty(table)
        rank = self._rank_score(table, u)
        return table.with_columns(
            pl.Series("novelty", u),
            pl.Series("rank_score", rank),
            pl.Series("risk_score", self.calibrator_.predict(rank)),
        )

    def select(
        self, order: pl.DataFrame, k: int | None, exploration: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """The inspection list of scored rows in ``order`` (most suspicious first, with
        ``__h``, ``novelty``, the segment ``__seg`` and the scheme ``__mech``), with
        ``selection``, ``rank`` and
        ``explain``: without a capacity every row ranked (``select_for_inspection``);
        with one, the ``k`` rows the configured policy lists, the model's top and its
        exploration, all explained. (A model saved before policies had a name draws its
        exploration at random.) ``exploration``: a label store's exploration record,
        fresher than the one kept at training, for a policy that reads it."""
        if k is None:
            return select_for_inspection(order, k, self.config)
        policy = POLICIES[getattr(self.config, "selection_policy", "random-explore")]
        stats = self.revealed_for(policy)
        if policy.reads == "exploration" and exploration is not None:
            stats = exploration
        if policy.reads == "segment" and stats is None:
            policy = POLICIES["random-explore"]
        listed = policy.select(order, k, stats, self.config)
        return listed.with_columns(pl.lit(True).alias("explain"))

    def revealed_for(self, policy) -> pl.DataFrame | None:
        """What ``policy`` reads of the labels: the counts per segment of those the model
        learnt from, or the exploration record of the label store it was trained or is
        scoring with (``exploration_record_``); None when it reads none, or when there is
        none (a model saved before they were kept, or without a store)."""
        if policy.reads == "segment":
            return getattr(self, "segment_labels_", None)
        if policy.reads == "exploration":
            return getattr(self, "exploration_record_", None)
        return None

    def usual_codes(self, table: pl.DataFrame) -> pl.DataFrame:
        """Per row of a scored feature table, the importer's usual code that its goods
        may really be (``DeclarationFeatures.usual_codes``)."""
        return self.features_.usual_codes(table)

    def peer_percentiles(self, row: dict) -> dict[str, float] | None:
        """The training prices per tonne of a scored declaration's peer group (its goods
        code as the features read it, ``codes_as_read``)."""
        return self.features_.reference_.percentiles({**row, "hs_code": self.code_as_read(row)})

    def code_as_read(self, row: dict) -> str | None:
        """A declaration's goods code as the features and the classifier read it."""
        code, digits = row.get("hs_code"), getattr(self.features_, "hs_digits_", None)
        return code[:digits] if code and digits else code

    def transform(
        self,
        declarations: pl.DataFrame | pl.LazyFrame,
        batch: dict | None = None,
    ) -> pl.DataFrame:
        """Feature table of new declarations against the training history.

        ``batch``: the whole batch's batch-wide tables when ``declarations`` are only a
        piece of it (see ``DeclarationFeatures.batch_tables``).
        """
        lf = declarations.lazy()
        return self.features_.transform(lf, batch).collect(engine="in-memory")

    @property
    def feature_names(self) -> list[str]:
        return list(self.features_.feature_names_)

    @property
    def training_period(self) -> tuple[date, date]:
        return self.features_.training_period_
