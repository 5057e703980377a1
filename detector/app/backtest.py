"""Rolling-origin backtest: how a model configuration would have done on later months.

One split says little: a model tuned on it is tuned to it. A rolling origin asks the
question a risk unit asks of a model before it trusts it, several times over: fitted on
everything before a cut-off month, how well does it rank the months after it? The
folds' mean and spread say how good it is and how much of that is luck.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from time import perf_counter

import numpy as np
import polars as pl
from sklearn.frozen import FrozenEstimator

from detector.app.pipeline import measure
from detector.errors import DetectorError
from detector.models import FraudModel, ModelConfig

__all__ = ["Fold", "backtest", "fold_summary", "rolling_folds", "tree_count"]


@dataclass(frozen=True)
class Fold:
    """Fit on the rows before ``cutoff``; measure the rows from ``cutoff`` to before ``end``."""

    cutoff: date
    end: date

    @property
    def label(self) -> str:
        last = _add_months(self.end, -1)
        return f"{self.cutoff:%Y-%m}..{last:%Y-%m}"

    def split(self, declarations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        day = pl.col("declaration_date")
        return (
            declarations.filter(day < self.cutoff),
            declarations.filter((day >= self.cutoff) & (day < self.end)),
        )


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def rolling_folds(dates: pl.Series, *, folds: int = 3, months: int = 3) -> list[Fold]:
    """The last ``folds`` periods of ``months`` whole months each, ending with the data.

    Each fold is fitted on every month before its period, so the first fold needs at
    least ``months`` months before it.

    >>> import polars as pl
    >>> from datetime import date
    >>> days = pl.Series([date(2020, 1, 3), date(2021, 3, 31)])
    >>> [f.label for f in rolling_folds(days)]
    ['2020-07..2020-09', '2020-10..2020-12', '2021-01..2021-03']
    """
    if folds < 1 or months < 1:
        raise DetectorError(
            f"A backtest needs at least one fold of one month; got {folds} x {months}."
        )
    first, last = dates.min(), dates.max()
    if first is None:
        raise DetectorError("The backtest's input has no dated rows.")
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if (folds + 1) * months > span:
        raise DetectorError(
            f"The input covers {first} to {last}: too short for {folds} folds of {months} "
            f"months with as many months before the first; pass fewer folds or shorter ones."
        )
    end = _add_months(last.replace(day=1), 1)
    out = [
        Fold(_add_months(end, -months * (folds - k)), _add_months(end, -months * (folds - k - 1)))
        for k in range(folds)
    ]
    return out


def backtest(
    declarations: pl.DataFrame,
    config: ModelConfig,
    folds: list[Fold],
    *,
    on_fold: Callable[[Fold, dict], None] | None = None,
) -> list[dict]:
    """Fit ``config`` on each fold's earlier months and measure the fold's period.

    The model never sees a label of the period it is measured on, nor the synthetic
    ground truth of any row. Returns one metrics dict per fold (``capacity_metrics``,
    plus ``fold``, ``train_rows``, ``rows`` and ``fit_seconds``).
    """
    truth = [c for c in declarations.columns if c.startswith("true_")]
    out = []
    for fold in folds:
        history, period = fold.split(declarations)
        if period.height == 0:
            raise DetectorError(f"The backtest's period {fold.label} holds no declarations.")
        t0 = perf_counter()
        try:
            model = FraudModel(config).fit(history.drop(truth))
        except ValueError as exc:
            raise DetectorError(
                f"Cannot fit the fold {fold.label} on the months before {fold.cutoff}: {exc}; "
                "pass fewer folds or shorter ones."
            ) from None
        fit_seconds = perf_counter() - t0
        try:
            metrics = measure(model, period)
        except DetectorError as exc:
            raise DetectorError(
                f"Cannot measure the fold {fold.label}: {exc} Pass longer periods (--months) "
                "or fewer folds."
            ) from None
        metrics.update(
            fold=fold.label,
            train_rows=history.height,
            period_rows=period.height,
            fit_seconds=round(fit_seconds, 1),
            trees=tree_count(model.classifier_.steps[-1][1]),
        )
        out.append(metrics)
        if on_fold is not None:
            on_fold(fold, metrics)
    return out


def tree_count(classifier) -> int:
    """Trees a row walks down in the classifier: what its prediction costs."""
    if hasattr(classifier, "n_iter_"):
        return int(classifier.n_iter_)
    members = getattr(classifier, "estimators_", None)
    if members is None:
        return 1
    return sum(tree_count(m.estimator if isinstance(m, FrozenEstimator) else m) for m in members)


def _flat(metrics: dict) -> dict[str, float]:
    """The figures a backtest compares, by name (``p@5%``, ``r@5%``, ``rev@5%``...)."""
    row = {}
    for level, at in metrics["at"].items():
        row[f"p@{level}"] = at["precision"]
        row[f"r@{level}"] = at["recall"]
        if "revenue" in at:
            row[f"rev@{level}"] = at["revenue"]
        for scheme, recall in at.get("recall_by_scheme", {}).items():
            row[f"{scheme}@{level}"] = recall
    if metrics.get("auc") is not None:
        row["auc"] = metrics["auc"]
    return row


def fold_summary(results: list[dict]) -> dict[str, tuple[float, float]]:
    """Per figure, the mean over the folds and its spread (sample standard deviation)."""
    rows = [_flat(m) for m in results]
    names = [k for k in rows[0] if all(k in r for r in rows)]
    out = {}
    for name in names:
        values = np.array([r[name] for r in rows], dtype=float)
        spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[name] = (float(values.mean()), spread)
    return out
