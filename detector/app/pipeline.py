"""The jobs behind the command line: train, score, evaluate, explain, demo."""

import dataclasses
import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from detector.app.cases import CASE_STAKE, group_cases, scheme_stake
from detector.app.labels import LabelStore
from detector.app.reasons import (
    origin_stake,
    rate_record_apart,
    sentence_expr,
    what_to_check,
    with_sentences,
)
from detector.batch.stream import PIECE_ROWS, Runner, Scored, ranked_chunks, score_pieces
from detector.errors import DetectorError
from detector.features import PEER_LEVELS, StageCache
from detector.io.ingest import (
    check_clashes,
    check_missing_features,
    describe_repairs,
    read_declarations,
    reject_tally,
)
from detector.io.leftovers import sweep_leftovers
from detector.io.output import (
    refuse_filled_outputs,
    staged_outputs,
    write_chunks,
    write_table,
    write_workbook,
)
from detector.io.persist import load_model, save_model
from detector.io.profiles import BUILTIN_PROFILES, Profile, load_profile
from detector.io.schema import CANONICAL_SCHEMA, FRAUD_TYPES, OUTPUT_COLUMNS, OUTPUT_SCHEMA
from detector.models import (
    POLICIES,
    THIN_INSPECTIONS,
    DriftReport,
    FraudModel,
    ModelConfig,
    capacity_metrics,
    drift_report,
    explain_rows,
    explained_without_capacity,
    exploration_reading,
    is_thin,
)

__all__ = [
    "ScoreResult",
    "evaluate",
    "explain",
    "parse_top",
    "score",
    "score_to_files",
    "split_by_time",
    "train",
]

#: What a case card shows besides the scored columns.
CARD_COLUMNS = (
    "hs_code",
    "country_origin",
    "country_departure",
    "importer_id",
    "seller_id",
    "declaration_date",
    "net_mass_kg",
    "customs_value",
    "duty_rate_pct",
    "peer_n",
    "peer_level",
    "price_percentile",
    "lane_share",
    "origin_share",
    "lane_history_n",
    "origin_history_n",
    "hs_history_n",
    "third_country",
    "duty_gap",
    "hs_duty_gap",
    "hs_route_inspected_before",
    "hs_route_fraud_before",
    "hs_route_fraud_rate",
    "hs_route_rate_n_before",
    "hs_route_rate_inspected_before",
    "hs_route_rate_fraud_before",
    "hs_route_rate_fraud_rate",
    "importer_n_before",
    "importer_days_known",
    "importer_fraud_rate",
    "importer_inspected_before",
    "importer_fraud_before",
    "importer_mean_ratio_before",
    "importer_share_below_before",
    "seller_n_before",
    "seller_fraud_rate",
    "seller_inspected_before",
    "seller_fraud_before",
    "novelty",
)


def _fingerprint(df: pl.DataFrame) -> str:
    cols = [
        c
        for c in (
            "declaration_id",
            "declaration_date",
            "hs_code",
            "customs_value",
            "net_mass_kg",
            "fraud",
        )
        if c in df.columns
    ]
    # The rows as CSV text, sorted by id, hashed a million rows at a time: the same
    # digest as the whole text at once, without holding it.
    rows = df.select(cols).sort("declaration_id")
    digest = hashlib.sha256()
    for start in range(0, max(rows.height, 1), _FINGERPRINT_ROWS):
        chunk = rows.slice(start, _FINGERPRINT_ROWS)
        digest.update(chunk.write_csv(include_header=start == 0).encode())
    return digest.hexdigest()


_FINGERPRINT_ROWS = 1_000_000


def kept_profile(profile: Profile) -> dict:
    """What a model's metadata keeps of its profile beside its name: a built-in one by
    its name alone, any other whole (one named like a built-in included)."""
    if BUILTIN_PROFILES.get(profile.name) == profile:
        return {}
    return {"schema_profile_fields": _fields(profile)}


def _fields(profile: Profile) -> dict:
    """A profile as the keys of its TOML file (a constant as text where JSON has no type
    for it: a date is read from text as from the file)."""
    fields = dataclasses.asdict(profile)
    fields["constants"] = {
        k: v if isinstance(v, str | int | float | bool) else str(v)
        for k, v in profile.constants.items()
    }
    fields["features"] = list(profile.features)
    return {k: v for k, v in fields.items() if v not in (None, {}, [])}


def _hs_digits(model) -> int | None:
    """The length the model reads goods codes at (None: as written)."""
    return getattr(model.features_, "hs_digits_", None)


def check_record_ids(model, path) -> None:
    """Refuse a model whose records of importers, brokers or sellers are kept under ids
    not in their record's form (``record_form``: a model trained before ids were read
    so, on ids in small letters or with punctuation): no declaration read now would
    match them, and every such entity would score as one without a record."""
    from detector.io.ingest import record_form

    state = getattr(model.features_, "entities_", None)
    for prefix in ("importer", "declarant", "seller"):
        table = state.tables.get(prefix) if state is not None else None
        column = f"{prefix}_id"
        if table is None or column not in table.columns:
            continue
        ids = table.select(pl.col(column), record_form(pl.col(column)).alias("__form"))
        odd = ids.filter(pl.col(column) != pl.col("__form"))
        if odd.height:
            raise DetectorError(
                f"Model {path} keeps its {prefix}s' records under ids as written (such as "
                f"'{odd[column][0]}'), and ids are now read in capitals without spaces or "
                f"punctuation ('{odd['__form'][0]}'): its records would match no "
                "declaration; retrain it with this version."
            )


def model_profile(schema: str | None, metadata: dict) -> Profile:
    """The profile a model reads its input with: ``schema`` when given, else the one it
    was trained with (a user's own kept whole in the model, a built-in by its name)."""
    if schema:
        return load_profile(schema)
    fields = metadata.get("schema_profile_fields")
    if fields:
        return Profile.from_dict(fields, f"'{fields.get('name')}' (kept in the model)")
    return load_profile(metadata.get("schema_profile", "canonical"))


def _model_currency(df: pl.DataFrame) -> str | None:
    if "currency" not in df.columns or df["currency"].null_count() == df.height:
        return None
    return df["currency"].drop_nulls().mode().sort()[0]


def _names(files) -> str:
    return ", ".join(map(str, files if isinstance(files, list | tuple) else [files]))


def split_by_time(df: pl.DataFrame, share: float = 0.2) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The last ``share`` of the time range, and what comes before it."""
    first, last = df["declaration_date"].min(), df["declaration_date"].max()
    cut = first + (last - first) * (1 - share)
    return df.filter(pl.col("declaration_date") <= cut), df.filter(pl.col("declaration_date") > cut)


def _truth(table: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    """Labels to measure against: the synthetic ground truth, else inspected outcomes."""
    if "true_fraud" in table.columns:
        return "ground truth of every row", table.select(
            pl.col("true_fraud").alias("y"),
            pl.col("true_revenue_lost").alias("revenue"),
            pl.col("true_fraud_type").alias("scheme"),
        )
    if "fraud" not in table.columns:
        raise DetectorError(
            "The input has no labels (a fraud column or synthetic ground truth); "
            "evaluation needs inspected declarations with outcomes."
        )
    return "inspected declarations", table.select(
        pl.col("fraud").alias("y"),
        (
            pl.col("revenue_recovered")
            if "revenue_recovered" in table.columns
            else pl.lit(None, pl.Float64)
        ).alias("revenue"),
        (pl.col("fraud_type") if "fraud_type" in table.columns else pl.lit(None, pl.String)).alias(
            "scheme"
        ),
    )


def measure(
    model: FraudModel, declarations: pl.DataFrame, source: str = "The declarations"
) -> dict:
    """Capacity metrics of ``model`` on labelled declarations.

    Every row feeds the features (histories, day counts); only the rows measured are
    scored: with inspection outcomes, the inspected ones (a row's score depends on its
    features alone).
    """
    table = model.transform(declarations)
    basis, truth = _truth(table)
    keep = truth["y"].is_not_null()
    if "true_fraud" not in table.columns and "inspected" in table.columns:
        keep = keep & table["inspected"].fill_null(False)
    table, truth = table.filter(keep), truth.filter(keep)
    if truth.height == 0:
        raise DetectorError(
            f"{source} has no labelled rows (no 'fraud' outcome of an inspected declaration, "
            "nor 'true_fraud'); measuring needs the outcomes of inspections."
        )
    if truth["y"].n_unique() < 2:
        raise DetectorError(
            f"{source}: its {truth.height:,} labelled rows hold only one outcome (fraud "
            f"{int(truth['y'][0])}); measuring a ranking needs frauds and clean declarations."
        )
    table = model.score(table)
    has_rev = truth["revenue"].null_count() < truth.height
    metrics = capacity_metrics(
        table["rank_score"].to_numpy(),
        truth["y"].to_numpy(),
        revenue=truth["revenue"].fill_null(0.0).to_numpy() if has_rev else None,
        fraud_type=truth["scheme"].to_list()
        if truth["scheme"].null_count() < truth.height
        else None,
        ids=table["declaration_id"].to_numpy(),
    )
    metrics["basis"] = basis
    return metrics


def train(
    files,
    model_path: str | Path,
    *,
    schema: str = "canonical",
    valid=None,
    config: ModelConfig | None = None,
    store: str | Path | None = None,
    step=None,
) -> dict:
    """Fit a model on ``files``, measure it on ``valid`` (or the last 20 %), save it.

    With ``store``, the inspection outcomes of a label store become the labels of the
    declarations they report on. ``step(text)`` is told what is being done, as it starts.
    """
    step = step or (lambda text: None)
    if store is not None and not Path(store).is_dir():
        # A mistyped or unmounted path would train as if no outcome had been reported.
        raise DetectorError(f"Label store {store} does not exist; check the --store path.")
    step("reading and validating the declarations")
    profile = load_profile(schema)
    batch = read_declarations(files, profile)
    n_read, n_rejected = batch.n_read, batch.rejects.height
    declarations, from_store, in_store, record = batch.accepted, 0, 0, None
    del batch  # the split below copies the rows: hold them once
    labels = None if store is None else LabelStore(store)
    if labels is not None:
        declarations, from_store = labels.apply(declarations)
        # What the store's exploration picks found: the adaptive policy's share.
        in_store, record = labels.outcomes().height, labels.exploration_record()
    config = config or ModelConfig(extra_categorical=profile.features)
    checked = {}
    if valid:
        train_rows = declarations
        valid_rows, checked = _validation_rows(valid, profile, labels, train_rows)
        from_store += checked.get("valid_labels_from_store", 0)
    else:
        train_rows, valid_rows = split_by_time(declarations)
    del declarations
    refit = not valid and valid_rows.height > 0
    model, metrics, train_rows = _fit_and_measure(
        config, train_rows, valid_rows, refit, (record, files), step
    )
    first, last = model.training_period
    metadata = {
        "schema_profile": profile.name,
        # A user's own profile is kept whole: the model reads its layout wherever it
        # runs, without the TOML file beside it.
        **kept_profile(profile),
        "currency": _model_currency(train_rows),
        "training_period": [str(first), str(last)],
        "calibration_period": [str(d) for d in model.calibration_period_],
        "rows": {
            "read": n_read,
            "rejected": n_rejected,
            "trained": train_rows.height,
            "validation": valid_rows.height,
            "labels_from_store": from_store,
            "outcomes_in_store": in_store,
            **checked,
            **model.counts_,
        },
        "fingerprint": _fingerprint(train_rows),
        "feature_names": model.feature_names,
        "config": config.to_dict(),
        "validation": metrics,
        "sampling": model.sampling_,
        # The duty at stake's weight in the ranking: 0 unless the labels record revenue.
        "revenue_weight": model.revenue_weight_,
    }
    step(f"saving {model_path}")
    save_model(model, metadata, model_path)
    return metadata


def _fit_and_measure(
    config: ModelConfig, train_rows, valid_rows, refit: bool, context, step
) -> tuple[FraudModel, dict | None, pl.DataFrame]:
    """The model fitted on ``train_rows``, its measure on ``valid_rows``; with ``refit``
    (no validation files: ``valid_rows`` are the last fifth), the model saved is then
    fitted again on every row. Returns it, the measure, and the rows it learned from.
    ``context``: the label store's exploration record and the input files."""
    # The fit again on every row takes the months the first fit already staged.
    stages = StageCache() if refit else None
    try:
        step(f"fitting the features and the classifier on {train_rows.height:,} declarations")
        model = _fit(config, train_rows, *context, stages)
        step(f"measuring on {valid_rows.height:,} validation declarations")
        metrics = measure(model, valid_rows) if valid_rows.height else None
        if refit:
            # Measured on the last 20 % by a model of the months before it, as the
            # future will be scored; the model saved then learns from every row, the
            # newest labels (an investigator's latest outcomes) most of all.
            step(f"fitting again on all {train_rows.height + valid_rows.height:,} declarations")
            train_rows = pl.concat([train_rows, valid_rows], how="vertical_relaxed")
            model = _fit(config, train_rows, *context, stages)
    finally:
        if stages is not None:
            stages.close()
    return model, metrics, train_rows


def _validation_rows(
    valid, profile, labels: LabelStore | None, training: pl.DataFrame
) -> tuple[pl.DataFrame, dict]:
    """The validation files' accepted rows, labelled from the store too (an outcome
    reported on a validation day is what the measurement must be against), and their
    counts: read, rejected, labelled from the store, also among the ``training`` rows,
    and the store's outcomes that label a row of either (each once)."""
    held = read_declarations(valid, profile)
    checked = {"valid_read": held.n_read, "valid_rejected": held.rejects.height}
    rows = held.accepted
    ids = rows["declaration_id"]
    checked["valid_in_training"] = int(ids.is_in(training["declaration_id"].implode()).sum())
    if labels is not None:
        rows, checked["valid_labels_from_store"] = labels.apply(rows)
        either = pl.concat([training["declaration_id"], ids]).unique()
        stored = labels.outcomes()["declaration_id"].unique()
        checked["outcomes_matched"] = int(stored.is_in(either.implode()).sum())
    return rows, checked


def _fit(config: ModelConfig, rows: pl.DataFrame, record, files, stages=None) -> FraudModel:
    """A model fitted on ``rows`` (months staged before taken from ``stages``); a
    training set it cannot learn from, in one sentence."""
    try:
        return FraudModel(config).fit(rows, exploration_record=record, stage_cache=stages)
    except ValueError as exc:
        raise DetectorError(f"Cannot train on {', '.join(map(str, files))}: {exc}.") from None


def parse_top(text: str | None, n_rows: int) -> int | None:
    """``--top 500`` or ``--top 5%`` as a number of rows (a share rounds up)."""
    if text is None:
        return None
    raw = text.strip()
    if raw.endswith("%"):
        try:
            pct = float(raw[:-1])
        except ValueError:
            pct = None
        if pct is None or not 0 < pct <= 100:
            raise DetectorError(
                f"--top '{text}' is not a share of the batch: give a percentage above 0 "
                "and at most 100 (e.g. 5%)."
            )
        return max(1, int(np.ceil(n_rows * pct / 100)))
    try:
        k = int(raw)
    except ValueError:
        try:
            float(raw)
        except ValueError:
            raise DetectorError(
                f"--top '{text}' is neither a number of declarations (e.g. 500) nor a "
                "percentage (e.g. 5%)."
            ) from None
        raise DetectorError(
            f"--top '{text}' is not a whole number of declarations: give one (e.g. 500), "
            "or a percentage (e.g. 1.5%)."
        ) from None
    if k < 1:
        raise DetectorError(
            f"--top '{text}' lists no declaration: give a number of declarations of 1 or "
            "more (e.g. 500), or a percentage (e.g. 5%)."
        )
    return k


#: The money a list shows, in cents of its currency: the duty at stake (computed as
#: reference less declared value it is otherwise 1e-13 where the two are the same) and
#: the prices per tonne (a median of logs gives 212300.00000000012).
_MONEY = ("revenue_at_stake", "unit_value_per_ton", "reference_value_per_ton")
MONEY_IN_CENTS = pl.col(*_MONEY).round(2)


@dataclass
class ScoreResult:
    scored: pl.DataFrame
    rejects: pl.DataFrame
    metadata: dict
    n_read: int = 0
    flagged: int = 0
    drift: DriftReport | None = None
    cases: pl.DataFrame | None = None
    #: Per listed declaration, the feature values its case card shows.
    details: pl.DataFrame | None = None
    #: Every scored declaration's goods, origin and price: the peer plots.
    peers: pl.DataFrame | pl.LazyFrame | None = None
    model: FraudModel | None = None
    #: Repairs and file-level notes of the reading, as in ``Batch``.
    repairs: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    #: Without a capacity, every row is listed: the ranked parts the writer merges.
    ranked: Scored | None = None
    #: The work folder the lazy ``peers`` and ``ranked`` read from: removed by
    #: :meth:`close`, or on leaving ``with score(...) as result``.
    work: tempfile.TemporaryDirectory | None = None
    #: Seconds per step of the scoring passes.
    timings: dict = field(default_factory=dict)
    #: The label store's exploration record the selection read (None: the model's own).
    exploration: pl.DataFrame | None = None

    def __enter__(self) -> "ScoreResult":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the work folder; the lazy ``peers`` and ``ranked`` go with it."""
        if self.work is not None:
            self.work.cleanup()
            self.work = None

    def summary(self) -> str:
        read = self.n_read
        scored = read - self.rejects.height
        listed = f"{self.flagged:,} flagged"
        if self.ranked is not None and self.model is not None:  # no capacity: all ranked
            explained = explained_without_capacity(scored, self.model.config)
            listed = f"no --top: all {scored:,} ranked, the first {explained:,} with reasons"
        return (
            f"read {read:,} rows = {scored:,} scored "
            f"+ {self.rejects.height:,} rejected{describe_repairs(self.repairs, self.notes)}; "
            f"{listed}"
        )

    def model_age(self) -> str:
        """How old the model's training data is, against this batch."""
        first, last = self.metadata.get("training_period", ["?", "?"])
        line = f"model trained on declarations of {first} to {last}"
        if self.drift is not None and self.drift.age_days >= 0:
            days = self.drift.age_days
            line += f", ending {days:,} day{'s' * (days != 1)} before the newest declaration scored"
        elif self.drift is not None:
            line += "; the declarations scored lie within or before that period"
        return line


def _empty_list(capacity: bool) -> pl.DataFrame:
    """The scored list of a batch with no row scored: the columns and types of a full one."""
    own = {c: t for c, t in CANONICAL_SCHEMA.items() if c not in OUTPUT_SCHEMA}
    cases = {"case_id": pl.String()} if capacity else {}
    return pl.DataFrame(schema={**OUTPUT_SCHEMA, **cases, **own})


def score(
    files,
    model_path: str | Path,
    *,
    schema: str | None = None,
    top: str | None = None,
    trust: bool = False,
    runner: Runner | None = None,
    piece_rows: int | None = None,
    exploration: pl.DataFrame | None = None,
) -> ScoreResult:
    """Score declarations: the ranked list, sized to capacity, with reasons.

    The batch is read and scored piece by piece (``detector.batch.stream``): memory follows
    the piece, not the batch, and ``runner`` may spread the pieces over processes or a
    Dask cluster; the result is the same either way. ``piece_rows`` defaults to a
    million rows shared among the processes of this machine. ``exploration``: a label
    store's exploration record, fresher than the one the model was trained with.
    """
    model, metadata = load_model(model_path, trust=trust)
    profile = model_profile(schema, metadata)
    check_record_ids(model, model_path)
    parse_top(top, 1)  # a malformed --top is refused before any work
    with runner or Runner() as run:
        done = score_pieces(
            files,
            model,
            profile,
            expected_currency=metadata.get("currency"),
            top=lambda n: parse_top(top, n),
            runner=run,
            piece_rows=piece_rows or run.default_piece_rows(PIECE_ROWS),
            exploration=exploration,
        )
    result = ScoreResult(
        _empty_list(top is not None),
        done.rejects,
        metadata,
        n_read=done.n_read,
        repairs=done.repairs,
        notes=done.notes,
        model=model,
        timings=done.timings,
        exploration=exploration,
    )
    if done.n_scored == 0:
        return result
    result.drift = drift_report(model.drift_, done.drift)
    if done.k is None:
        result.ranked = done
        # The report shows the explained head of the list; the writer merges all.
        chosen = (
            pl.concat(
                [
                    pl.scan_parquet(p).filter(pl.col("reason_codes").is_not_null())
                    for p in done.out_parts
                ],
                how="diagonal_relaxed",
            )
            .collect()
            .sort("rank")
        )
    else:
        chosen = done.listed
    chosen = with_sentences(chosen, model.config.de_minimis, _hs_digits(model))
    keys = {k for _, level in PEER_LEVELS for k in level}
    card = [c for c in (*CARD_COLUMNS, *sorted(keys)) if c in chosen.columns]
    result.details = chosen.select("declaration_id", *dict.fromkeys(card))
    result.peers, result.work = done.peers, done.work
    own = [c for c in done.columns if c not in OUTPUT_COLUMNS]
    scored = chosen.select(*OUTPUT_COLUMNS, *own).with_columns(MONEY_IN_CENTS)
    if done.k is not None:
        # A flagged list reads case by case: cases by their best rank, then by rank; a
        # case's duty at stake is its schemes' (``scheme_stake``).
        staked = scored.with_columns(chosen.select(scheme_stake(chosen.columns).alias(CASE_STAKE)))
        scored, result.cases = group_cases(staked)
        scored = scored.select(*OUTPUT_COLUMNS, "case_id", *own)
        result.flagged = done.k
    result.scored = scored
    return result


def evaluate(
    files,
    model_path: str | Path,
    *,
    schema: str | None = None,
    trust: bool = False,
    folds: int | None = None,
    months: int = 3,
) -> dict:
    """Capacity metrics of a saved model on labelled declarations.

    With ``folds``, a rolling-origin backtest instead: the model's configuration is
    fitted anew on every month before each of the last ``folds`` periods of ``months``
    months and measured on that period (see :mod:`detector.app.backtest`); the result
    holds each fold's metrics and their mean and spread.
    """
    model, metadata = load_model(model_path, trust=trust)
    profile = model_profile(schema, metadata)
    check_record_ids(model, model_path)
    batch = read_declarations(files, profile)
    check_clashes(model.clashing_columns(batch.accepted.columns), f"Input {_names(files)}")
    check_missing_features(
        model.missing_features(batch.accepted.columns), f"Input {_names(files)}", profile
    )
    if folds is not None:
        from detector.app.backtest import backtest, fold_summary, rolling_folds

        data = batch.accepted
        results = backtest(
            data, model.config, rolling_folds(data["declaration_date"], folds=folds, months=months)
        )
        summary = fold_summary(results)
        return {
            "folds": results,
            "mean": {k: v[0] for k, v in summary.items()},
            "spread": {k: v[1] for k, v in summary.items()},
            "read": batch.n_read,
            "rejected": batch.rejects.height,
        }
    metrics = measure(model, batch.accepted, f"Input {_names(files)}")
    metrics["read"] = batch.n_read
    metrics["rejected"] = batch.rejects.height
    return metrics


def explain(
    declaration_id: str,
    model_path: str | Path,
    files,
    *,
    schema: str | None = None,
    trust: bool = False,
    store: str | Path | None = None,
    step=lambda text: None,
) -> dict:
    """One declaration's case card, as a dict of sections (``step(text)`` is told what
    is being done, as it starts).

    Its rank here is the model's, among the declarations of ``files``: a list also
    holds exploration picks from below the model's own, by a selection that depends on
    the scoring run's capacity and the store's record at the time. How the declaration
    was listed is read from the ``store`` that run recorded its list in, never guessed.
    """
    listing = _listing(declaration_id, store)
    step("reading the model")
    model, metadata = load_model(model_path, trust=trust)
    profile = model_profile(schema, metadata)
    check_record_ids(model, model_path)
    step("reading and validating the declarations")
    # As score reads them: a row in another currency than the model's is rejected.
    batch = read_declarations(files, profile, expected_currency=metadata.get("currency"))
    check_clashes(model.clashing_columns(batch.accepted.columns), f"Input {_names(files)}")
    check_missing_features(
        model.missing_features(batch.accepted.columns), f"Input {_names(files)}", profile
    )
    if declaration_id not in set(batch.accepted["declaration_id"].to_list()):
        rejected = batch.rejects.filter(pl.col("declaration_id").cast(pl.String) == declaration_id)
        if rejected.height:
            raise DetectorError(
                f"Declaration {declaration_id} was rejected: {rejected['reject_reason'][0]}."
            )
        raise DetectorError(
            f"Declaration {declaration_id} is not in {', '.join(map(str, files))}; "
            "check the id and the input files."
        )
    # Other rows of the input under the same id were rejected (as repeats of it, or for
    # their own faults): the card is of the one accepted, and says so.
    others = batch.rejects.filter(pl.col("declaration_id").cast(pl.String) == declaration_id)
    # Its rank among the input's declarations: every one of them scored.
    step(f"scoring {batch.accepted.height:,} declarations for its model rank")
    table = model.score(model.transform(batch.accepted))
    step("its reasons and card")
    rank = table["rank_score"].rank("ordinal", descending=True)
    table = table.with_columns(rank.alias("rank"))
    row = table.filter(pl.col("declaration_id") == declaration_id)
    row = row.with_columns(explain_rows(model, row))
    if isinstance(listing, dict) and listing["selection"] == "exploration":
        # As its list gives it: its score is not why it is on the list.
        codes = ["EXPLORATION", *row["reason_codes"][0].to_list()]
        row = row.with_columns(pl.Series("reason_codes", [codes], pl.List(pl.String)))
    # The mechanism, its evidence and what to check first; the sections behind them.
    card = {
        "reasons": with_sentences(row, model.config.de_minimis, _hs_digits(model))["reasons"][
            0
        ].to_list(),
        "what_to_check": what_to_check(row["reason_codes"][0].to_list()),
    }
    if others.height:
        card["caution"] = (
            f"{others.height:,} more row(s) of the input have this id and were rejected "
            f"(first: {others['reject_reason'][0]}); this card is of the row accepted, "
            "the one a score run keeps"
        )
    card |= _card(row.row(0, named=True), table.height, model, listing)
    if card["declaration"].get("currency") is None and metadata.get("currency"):
        # No currency given: the values were read as the model's, which the card's money is in.
        card["declaration"]["currency"] = metadata["currency"]
    return card


def _listing(declaration_id: str, store: str | Path | None) -> dict | str:
    """How the declaration was listed, as the label store recorded it (the first list
    it was on): its selection, its rank in that list and the day; else what is known."""
    if store is None:
        return (
            "not known without --store: the list's selection depends on the scoring run's "
            "capacity and exploration; pass the label store the list was recorded in. "
            "model_rank is its rank by the model's score among the declarations read, "
            "not its rank in a list"
        )
    if not Path(store).is_dir():
        raise DetectorError(
            f"There is no label store folder {store}; pass the folder that `detector score "
            "--store` recorded the list in, or leave out --store."
        )
    recorded = LabelStore(store).flagged().filter(pl.col("declaration_id") == declaration_id)
    if recorded.height == 0:
        return f"not on any list recorded in the label store {store}"
    first = recorded.row(0, named=True)
    return {
        "selection": first["selection"],
        "list_rank": first["rank"],
        "scored_on": first["scored_on"],
    }


#: The case card's first section: the declaration as lodged.
_DECLARED = tuple(
    c
    for c in CANONICAL_SCHEMA
    if c not in ("flow", "customs_office", "supplementary_quantity", "supplementary_unit")
)
_IMPORTER = (
    "importer_id",
    "importer_n_before",
    "importer_days_known",
    "importer_fraud_rate",
    "importer_inspected_before",
    "importer_fraud_before",
    "importer_mean_ratio_before",
    "importer_share_below_before",
)
_SELLER = (
    "seller_id",
    "seller_n_before",
    "seller_days_known",
    "seller_fraud_rate",
    "importer_seller_n_before",
    "importer_seller_fraud_rate",
)


def _route_section(r: dict) -> dict:
    """The case card's route: the lane and the origin against the goods' past, a cheaper
    origin's duty, and the record of the goods on this route."""
    return {
        "route": r["route"],
        "lane_share": r["lane_share"],
        "origin_share": r["origin_share"],
        # The counts behind the two estimated shares: training declarations of the goods,
        # of them on this lane, and from this origin.
        "goods_declarations": r.get("hs_history_n"),
        "lane_declarations": r.get("lane_history_n"),
        "origin_declarations": r.get("origin_history_n"),
        "third_country": r["third_country"],
        "usual_origin_from_departure": r.get("usual_origin"),
        "duty_gap": r["duty_gap"],
        # The declared duty below the goods' average over all origins, and the duty the
        # larger of the two gaps makes on the declared value: a part of the duty at stake
        # the ranking and the case count (``DUTY_AT_STAKE``).
        "hs_duty_gap": r.get("hs_duty_gap"),
        "duty_at_stake": origin_stake(r),
        # The goods on this route: the record a risk profile keeps (null for a model
        # of before it).
        "goods_on_route_inspections": r.get("hs_route_inspected_before"),
        "goods_on_route_frauds": r.get("hs_route_fraud_before"),
        "goods_on_route_fraud_rate": r.get("hs_route_fraud_rate"),
        # The same at the declared duty rate (null where none is declared, or for a
        # model of before that record), and whether it is a record apart from the
        # route's, as the reasons and the case card quote it (``rate_record_apart``).
        "goods_on_route_at_duty_pct": r.get("duty_rate_pct"),
        "goods_on_route_at_duty_declarations": r.get("hs_route_rate_n_before"),
        "goods_on_route_at_duty_inspections": r.get("hs_route_rate_inspected_before"),
        "goods_on_route_at_duty_frauds": r.get("hs_route_rate_fraud_before"),
        "goods_on_route_at_duty_fraud_rate": r.get("hs_route_rate_fraud_rate"),
        "goods_on_route_at_duty_apart": rate_record_apart(r),
    }


def _card(r: dict, n_rows: int, model: FraudModel, listing: dict | str) -> dict:
    """A scored declaration's sections: as declared, how it was listed (``_listing``),
    score, peer prices, route, entities."""
    card = {"declaration": {c: r.get(c) for c in _DECLARED if c in r}, "listing": listing}
    low, high, n = model.calibrator_.interval([r["risk_score"]])
    card["score"] = {
        "risk_score": r["risk_score"],
        # what the risk rests on: the inspections of the calibration scored alike
        "risk_95_low": float(low[0]),
        "risk_95_high": float(high[0]),
        "calibration_declarations": float(n[0]),
        # By the model's score among the declarations read: not its rank in a list.
        "model_rank": int(r["rank"]),
        "of_rows": n_rows,
        "novelty": r["novelty"],
    }
    if is_thin(n[0]):
        card["score"]["caution"] = (
            f"thin: the risk rests on {n[0]:,.0f} inspections scored alike "
            f"(fewer than {THIN_INSPECTIONS}); its interval is wide"
        )
    percentiles = model.peer_percentiles(r)
    if percentiles is not None:
        card["peer_prices"] = {
            "group": r["peer_group"],
            "percentiles_per_ton": percentiles,
            "this_declaration_per_ton": r["unit_value_per_ton"],
            "value_ratio": r["value_ratio"],
            "percentile": r["price_percentile"],
            "revenue_at_stake": r["revenue_at_stake"],
        }
    card["route"] = _route_section(r)
    if r.get("reclass_hs_code") is not None:
        card["reclassification"] = {
            "fits_hs_code": r["reclass_hs_code"],
            "its_median_per_ton": r["reclass_value_per_ton"],
            "its_declarations": r["reclass_peer_n"],
            "its_duty_pct": r["reclass_duty_pct"],
            "declared_duty_pct": r.get("duty_rate_pct"),
            "duty_at_stake": r["reclass_revenue"],
        }
    if r.get("reclass_hs_code") is None and r.get("usual_hs_code") is not None:
        # No price misfit: the importer's usual code its goods may really be.
        card["reclassification"] = {
            "importers_usual_hs_code": r["usual_hs_code"],
            # Counted in the training history, both codes alike (not to this date).
            "importers_declarations_of_it_in_training": r["usual_hs_n"],
            "importers_declarations_of_the_declared_code_in_training": r["usual_own_n"],
            "importers_declarations_in_training": r["usual_importer_n"],
            # The counts are of the importer's trade with this seller, where named.
            "from_seller": r.get("usual_seller_id"),
            "its_median_per_ton": r["usual_value_per_ton"],
            "its_peers_origin": r["usual_peer_origin"] or "all origins",
            "its_declarations": r["usual_peer_n"],
            "its_duty_pct": r["usual_duty_pct"],
            "declared_duty_pct": r.get("duty_rate_pct"),
            "duty_at_stake": r["usual_revenue"],
        }
    card["importer"] = {k: r.get(k) for k in _IMPORTER}
    card["seller"] = {k: r.get(k) for k in _SELLER}
    return card


def demo_split(df: pl.DataFrame, start: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Months 1-9 for training (labels of inspected rows only), 10-12 to score."""
    cut = date(start.year + (start.month + 8) // 12, (start.month + 8) % 12 + 1, start.day)
    return df.filter(pl.col("declaration_date") < cut), df.filter(pl.col("declaration_date") >= cut)


def score_to_files(
    files,
    model_path: str | Path,
    out: str | Path,
    *,
    rejects: str | Path | None = None,
    report: str | Path | None = None,
    store: str | Path | None = None,
    **options,
) -> tuple[list[str], list[str]]:
    """Score, then write the list, the rejects, the store's record and the report.

    Every file is written before this returns; what the run did comes back as lines to
    print, and its warnings (``options`` go to :func:`score`).
    """
    labels = None
    if store is not None:
        labels = LabelStore(store)
        labels.check()  # unwritable or damaged: refused before any work
        options["exploration"] = labels.exploration_record()
    # What runs killed outright (no clean-up) left: their work and staging folders.
    folders = {Path(tempfile.gettempdir()), *(Path(p).parent for p in (out, rejects, report) if p)}
    swept = sum(sweep_leftovers(folder) for folder in folders)
    with score(files, model_path, **options) as result:
        if result.n_read and result.rejects.height == result.n_read:
            _refuse_all_rejected(result, files, rejects)
        lines, warnings = _write_run(result, out, rejects, report, labels, store)
    if swept:
        lines.append(f"removed {swept:,} work folders left by earlier runs that were killed")
    return lines, warnings


def _refuse_all_rejected(result: ScoreResult, files, rejects) -> None:
    """A batch of which no row could be scored is unusable input (a model for another
    currency or profile, a file of another layout): exit 2 with its commonest reason,
    not an empty list that an unattended run would take for a quiet night. The rejects
    file, when asked for, is written whole: it says why for each row."""
    if rejects is not None:
        with staged_outputs(rejects) as at:
            write_table(result.rejects, at[Path(rejects)])
    names = ", ".join(str(f) for f in ([files] if isinstance(files, str | Path) else files))
    kind, count = (reject_tally(result.rejects) or [("", 0)])[0]
    why = f"; {count:,} of them: {kind}" if kind else ""
    where = (
        f"every row's reason is in {rejects}"
        if rejects
        else "pass --rejects FILE for every row's reason"
    )
    raise DetectorError(
        f"No row of {names} could be scored: all {result.n_read:,} were rejected{why} "
        f"({where}); no list was written."
    )


def _write_run(result: ScoreResult, out, rejects, report, labels, store):
    """score_to_files' writing, while the result's work folder is there. The list, the
    rejects and the report are put in place together, after the label store records
    the list: a run that fails on any of them leaves none."""
    with staged_outputs(out, rejects, report) as at:
        lines, warnings = _write_staged(
            result,
            at[Path(out)],
            rejects and at[Path(rejects)],
            report and at[Path(report)],
            labels,
            store,
            targets=[Path(p) for p in (out, rejects, report) if p is not None],
        )
    named = {str(at[Path(p)]): str(p) for p in (out, rejects, report) if p is not None}
    for staged, path in named.items():
        lines = [line.replace(staged, path) for line in lines]
    return lines, warnings


def _write_staged(result: ScoreResult, out, rejects, report, labels, store, targets=()):
    """The run's files written at their staged paths (``targets``: where they will be
    put), its label store's record last; returns the lines to print and the warnings."""
    # The workbook's run sheet and the report say what the terminal says.
    warnings = list(result.drift.warnings) if result.drift else []
    warnings += _reject_warnings(result, rejects)
    if labels is not None:
        warnings += _store_warnings(result, labels, store)
    write_scores(result, out, rejects, warnings=warnings)
    lines = [result.summary() + f"; wrote {out}"]
    if result.timings:
        lines.append(
            "seconds per step: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
        )
    lines.append(result.model_age())
    # Its list's rows have no outcome yet: the hit rates are the same before it is recorded.
    rates = labels.hit_rates() if labels is not None and report is not None else None
    if result.flagged and result.model is not None:
        explored = int((result.scored.head(result.flagged)["selection"] == "exploration").sum())
        if result.flagged >= result.n_read - result.rejects.height and not explored:
            lines.append(
                f"exploration: none: the capacity lists every one of the {result.flagged:,} "
                "rows scored, and no row is left to explore"
            )
        else:
            lines.append(
                f"exploration: {explored:,} of the {result.flagged:,} listed, by the policy "
                f"{_policy(result)}"
            )
    if report is not None:
        from detector.app.report import write_report

        store_currency = labels.currency if labels is not None else None
        write_report(
            result, report, monitor=rates, store_currency=store_currency, warnings=warnings
        )
        lines.append(f"wrote {report}")
    # Checked before the store records the list, so that a refusal leaves it as it was
    # (staged_outputs checks once more before putting the outputs in place).
    refuse_filled_outputs(*targets)
    if labels is not None:  # last: a run that fails before it leaves the store as it was
        currency = result.metadata.get("currency")
        if result.flagged:
            added = labels.record_flagged(result.scored.head(result.flagged), currency=currency)
            line = f"recorded {added:,} flagged declarations in {store}"
            if added < result.flagged:
                # A rerun, or another capacity or model: the store keeps the first record
                # (its rank and selection), which the hit rates and exploration read.
                line += (
                    f"; {result.flagged - added:,} listed were recorded by an earlier run, "
                    "whose rank and selection the store keeps"
                )
            lines.append(line)
        elif result.ranked is not None:
            lines.append(
                f"nothing recorded in {store}: without --top no declaration is flagged "
                "for inspection"
            )
    if result.rejects.height and rejects is None:
        lines.append(
            f"{result.rejects.height:,} rejected rows were not written; "
            "pass --rejects FILE to keep them."
        )
    return lines, warnings


#: A batch with at least this share of its rows rejected is warned of.
REJECTED_WARN = 0.10


def _reject_warnings(result: ScoreResult, rejects) -> list[str]:
    """A night whose rows were many of them rejected: a warning an unattended run's log
    shows, not only a count in its summary line (all of them: ``_refuse_all_rejected``)."""
    n, rejected = result.n_read, result.rejects.height
    if not rejected or rejected < REJECTED_WARN * n:
        return []
    where = "the rejects file says why" if rejects else "pass --rejects FILE to keep them"
    kind, count = (reject_tally(result.rejects) or [("", 0)])[0]
    most = f"; {count:,} of them: {kind}" if kind else ""
    return [f"{rejected:,} of {n:,} rows ({rejected / n:.0%}) were rejected{most} ({where})"]


def _store_warnings(result: ScoreResult, labels: LabelStore, store) -> list[str]:
    """What a scoring run with a label store warns of: money in two currencies, and a
    record of exploration the model's policy does not read."""
    warnings = []
    new = not labels.flagged_path.exists() and not labels.outcomes_path.exists()
    if new and result.flagged:  # only a list recorded creates it
        warnings.append(
            f"the label store {store} held no record and is created by this run: if a store "
            "should have been there, check the path (its exploration record and outcomes "
            "are not read)"
        )
    currency, kept = result.metadata.get("currency"), labels.currency
    if currency and kept and currency != kept:
        warnings.append(
            f"the label store {store} keeps money in {kept} and this model's is {currency}: "
            "revenue recovered in both would be added up as one; keep a store per currency"
        )
    if result.flagged and result.model is not None:
        policy = getattr(result.model.config, "selection_policy", "random-explore")
        if POLICIES[policy].reads != "exploration":
            warnings.append(
                "the label store's record of exploration is not read: this model's policy "
                f"is {policy}; a model trained now uses scheme-adapt, which sets its share by it"
            )
    return warnings


#: What an investigator fills in on the workbook's list; ``detector feedback`` reads it.
OUTCOME_COLUMNS = ("inspected", "fraud", "fraud_type", "revenue_recovered", "note", "inspected_on")
OUTCOME_CHOICES = {
    "inspected": ["true", "false"],
    "fraud": ["0", "1"],
    "fraud_type": list(FRAUD_TYPES),
}


def _policy(result: ScoreResult) -> str:
    """The selection policy the list's exploration followed."""
    model = result.model
    if model is None:
        return "random-explore"
    policy = POLICIES[getattr(model.config, "selection_policy", "random-explore")]
    if policy.reads == "segment" and model.revealed_for(policy) is None:
        return "random-explore"
    if policy.reads == "exploration":
        record = model.revealed_for(policy) if result.exploration is None else result.exploration
        return f"{policy.name}, {exploration_reading(record, model.config)}"
    return policy.name


def _run_sheet(result: ScoreResult, warnings: list[str]) -> pl.DataFrame:
    """What the list came from: the model, the batch, the capacity, the warnings."""
    first, last = result.metadata.get("training_period", ["?", "?"])
    explored = int((result.scored["selection"] == "exploration").sum())
    facts = [
        ("scored on", str(date.today())),
        ("model trained on declarations of", f"{first} to {last}"),
        ("model", result.model_age()),
        ("rows", result.summary()),
        ("flagged (the capacity)", f"{result.flagged:,}"),
        (
            "of which exploration picks",
            f"{explored:,} (below the model's list, by the policy {_policy(result)})",
        ),
        ("currency of money columns", result.metadata.get("currency") or "not recorded"),
    ]
    facts += [("warning", w) for w in warnings]
    return pl.DataFrame(facts, schema=["item", "value"], orient="row")


def _for_investigators(listed: pl.DataFrame) -> pl.DataFrame:
    """The flagged list with empty outcome columns to fill in; the input's labels and the
    synthetic answers left out, so that what is filled in is the inspection's alone."""
    answers = [c for c in listed.columns if c in OUTCOME_COLUMNS or c.startswith("true_")]
    kept = listed.drop(answers)
    return kept.with_columns(pl.lit(None, pl.String).alias(c) for c in OUTCOME_COLUMNS)


def write_scores(
    result: ScoreResult,
    out: str | Path,
    rejects: str | Path | None,
    *,
    warnings: list[str] | None = None,
) -> None:
    """The scored list (and its cases, as a second sheet of a workbook), and the rejects.

    Without a capacity every row is listed: the ranked pieces are merged into the file
    a million ranks at a time, so that the whole list is never in memory. A workbook's
    run sheet lists the run's ``warnings`` (default: the drift's).
    """
    if warnings is None:
        warnings = list(result.drift.warnings) if result.drift else []
    if result.ranked is not None:
        own = [c for c in result.ranked.columns if c not in OUTPUT_COLUMNS]
        chunks = ranked_chunks(result.ranked.out_parts, result.ranked.n_scored)
        names = chunks[0].collect_schema().names()
        keep = [*OUTPUT_COLUMNS, *[c for c in own if c in names]]
        de_minimis = result.model.config.de_minimis
        write_chunks(
            (
                chunk.with_columns(sentence_expr(names, de_minimis, _hs_digits(result.model)))
                .select(keep)
                .with_columns(MONEY_IN_CENTS)
                for chunk in chunks
            ),
            out,
        )
    elif Path(out).suffix.lower() == ".xlsx" and result.cases is not None:
        write_workbook(
            {
                "flagged": _for_investigators(result.scored),
                "cases": result.cases,
                "run": _run_sheet(result, warnings),
            },
            out,
            currency=result.metadata.get("currency"),
            choices=OUTCOME_CHOICES,
            outcomes=OUTCOME_COLUMNS,
        )
    else:
        write_table(result.scored, out)
    if rejects is not None:
        write_table(result.rejects, rejects)
