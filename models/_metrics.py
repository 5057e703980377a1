"""What "good" means when inspection capacity is fixed: the top n % of the ranking."""

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

__all__ = ["CAPACITY_LEVELS", "capacity_metrics", "calibration_table"]

CAPACITY_LEVELS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)


def _top_mask(score: np.ndarray, pct: float, ids: np.ndarray | None = None) -> np.ndarray:
    """The first ceil(pct % of rows) of the ranking; ties broken by id, then position."""
    n = score.size
    k = int(np.ceil(n * pct / 100.0))
    keys = (np.arange(n),) if ids is None else (np.arange(n), ids)
    order = np.lexsort((*keys, -score))
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def capacity_metrics(
    score,
    fraud,
    *,
    revenue=None,
    fraud_type=None,
    ids=None,
    levels: tuple[float, ...] = CAPACITY_LEVELS,
) -> dict:
    """Precision, recall and revenue at the top n % of ``score``, per scheme, and AUC.

    ``fraud`` is 0/1 per row; ``revenue`` what an inspection would recover; ``fraud_type``
    the scheme of each fraudulent row. Returns a plain dict (JSON-ready).

    >>> m = capacity_metrics([0.9, 0.8, 0.1, 0.2], [1, 0, 0, 1], levels=(50.0,))
    >>> float(m["at"]["50%"]["precision"]), float(m["at"]["50%"]["recall"])
    (0.5, 0.5)
    """
    score = np.asarray(score, dtype=float)
    y = np.asarray(fraud, dtype=float)
    ids_arr = None if ids is None else np.asarray(ids)
    out: dict = {"rows": int(y.size), "frauds": int(y.sum()), "at": {}}
    rev = None if revenue is None else np.nan_to_num(np.asarray(revenue, dtype=float))
    types = None if fraud_type is None else np.asarray(fraud_type, dtype=object)
    if types is not None:
        schemes = sorted({t for t in types[y == 1] if t is not None})
        out["schemes"] = {s: int(((types == s) & (y == 1)).sum()) for s in schemes}
    for pct in levels:
        top = _top_mask(score, pct, ids_arr)
        hits = float(y[top].sum())
        row = {
            "inspected": int(top.sum()),
            "precision": hits / top.sum() if top.sum() else 0.0,
            "recall": hits / y.sum() if y.sum() else 0.0,
        }
        if rev is not None:
            total = rev[y == 1].sum()
            row["revenue"] = float(rev[top & (y == 1)].sum() / total) if total > 0 else 0.0
        if types is not None:
            row["recall_by_scheme"] = {
                s: float(((types == s) & (y == 1) & top).sum() / n) if n else 0.0
                for s, n in out["schemes"].items()
            }
        out["at"][f"{pct:g}%"] = row
    out["auc"] = float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else None
    return out


def calibration_table(score, fraud, bins: int = 10) -> pl.DataFrame:
    """Predicted against observed fraud rate in bins of equal count."""
    df = pl.DataFrame({"p": np.asarray(score, float), "y": np.asarray(fraud, float)})
    return (
        df.with_columns(((pl.col("p").rank("ordinal") - 1) * bins // pl.len()).alias("bin"))
        .group_by("bin")
        .agg(
            pl.len().alias("n"),
            pl.col("p").mean().alias("predicted"),
            pl.col("y").mean().alias("observed"),
        )
        .sort("predicted")
    )
