"""Is the model still fit for this batch? Unseen codes and entities, shifted prices, age.

At training, each HS chapter's prices per tonne, as ratios to their peer reference
prices (so that a season's different mix of goods is not a shift), are cut into
deciles. At scoring,
the batch is compared with that record: the share of declarations whose HS code,
origin or importer the training data never saw, the population stability index (PSI)
of each chapter's price distribution, and how far the batch lies past the training
period. Any of them past its threshold is a warning an operator should read.
"""

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

__all__ = [
    "DriftReference",
    "DriftReport",
    "drift_counts",
    "drift_report",
    "fit_drift_reference",
]

_MIN_ROWS = 200  # a chapter's price distribution is compared from this many rows on
_EPS = 1e-4
#: Thresholds of a warning: the common reading of PSI (0.25: a major shift), a fifth of
#: the batch unseen, half a year past the training data.
PSI_LIMIT = 0.25
UNSEEN_LIMIT = 0.20
AGE_LIMIT_DAYS = 183

_LOG_PRICE = pl.when(pl.col("value_ratio") > 0).then(pl.col("value_ratio").log())
#: What :func:`fit_drift_reference` reads of a training feature table.
DRIFT_COLUMNS = (pl.col("hs_code"), pl.col("value_ratio"), pl.col("declaration_date"))


@dataclass
class DriftReference:
    """The training data's price-ratio deciles per HS chapter and its last date."""

    edges: dict[str, np.ndarray]
    shares: dict[str, np.ndarray]
    last_date: date


@dataclass
class DriftReport:
    """How the batch differs from the training data; ``warnings`` in plain words."""

    age_days: int
    unseen: dict[str, float]
    psi: dict[str, float]
    rows_by_chapter: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "age_days": self.age_days,
            "unseen": self.unseen,
            "psi_by_chapter": self.psi,
            "warnings": self.warnings,
        }


def _log_prices(table: pl.DataFrame) -> pl.DataFrame:
    return table.select(
        pl.col("hs_code").str.slice(0, 2).alias("chapter"), _LOG_PRICE.alias("x")
    ).filter(pl.col("x").is_finite())


def _by_chapter(table: pl.DataFrame) -> list:
    """The finite log prices per HS chapter, chapters in order (a group_by's order is
    not the same from one run to the next, and the model file should be)."""
    return sorted(_log_prices(table).group_by("chapter"), key=lambda group: group[0])


def fit_drift_reference(table: pl.DataFrame) -> DriftReference:
    """Price deciles per chapter of a training feature table."""
    edges, shares = {}, {}
    for (chapter,), part in _by_chapter(table):
        x = part["x"].to_numpy()
        if x.size < _MIN_ROWS:
            continue
        inner = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)))
        edges[chapter] = inner
        shares[chapter] = np.bincount(np.searchsorted(inner, x), minlength=inner.size + 1) / x.size
    return DriftReference(edges, shares, table["declaration_date"].max())


def _unseen(prefix: str, last_training_date: date) -> pl.Expr:
    """First seen after the training data ended (or today): the model never saw it."""
    days = pl.col(f"{prefix}_days_known")
    first_seen = pl.col("declaration_date") - pl.duration(days=days.fill_null(0).cast(pl.Int64))
    return days.is_null() | (first_seen > last_training_date)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, _EPS, None), np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_counts(reference: DriftReference, table: pl.DataFrame) -> dict:
    """What the drift check counts in one piece of a batch; pieces add up."""
    counts = {
        "rows": table.height,
        "newest": table["declaration_date"].max(),
        "unseen": {
            what: int(table.select(_unseen(prefix, reference.last_date).sum()).item())
            for what, prefix in (("HS code", "hs"), ("origin", "origin"), ("importer", "importer"))
        },
        "chapters": {},
    }
    for (chapter,), part in _by_chapter(table):
        if chapter in reference.edges:
            inner = reference.edges[chapter]
            x = part["x"].to_numpy()
            counts["chapters"][chapter] = np.bincount(
                np.searchsorted(inner, x), minlength=inner.size + 1
            )
    return counts


def drift_report(reference: DriftReference, table: pl.DataFrame | list[dict]) -> DriftReport:
    """Compare a scored batch's feature table (or its pieces' counts) with training."""
    pieces = [drift_counts(reference, table)] if isinstance(table, pl.DataFrame) else table
    dates = [p["newest"] for p in pieces if p["newest"] is not None]
    newest = max(dates) if dates else None
    age = (newest - reference.last_date).days if newest else 0
    n = sum(p["rows"] for p in pieces)
    unseen = {
        what: sum(p["unseen"][what] for p in pieces) / n if n else 0.0
        for what in ("HS code", "origin", "importer")
    }
    psi, rows = {}, {}
    for chapter in sorted({c for p in pieces for c in p["chapters"]}):
        counts = sum(p["chapters"][chapter] for p in pieces if chapter in p["chapters"])
        total = int(counts.sum())
        if total < _MIN_ROWS:
            continue
        psi[chapter] = round(_psi(reference.shares[chapter], counts / total), 4)
        rows[chapter] = total
    report = DriftReport(age, unseen, dict(sorted(psi.items())), rows)
    if age > AGE_LIMIT_DAYS:
        report.warnings.append(
            f"the model's training data ends {reference.last_date}, {age} days before the "
            "newest declaration: train it again on recent declarations"
        )
    for what, share in unseen.items():
        if share > UNSEEN_LIMIT:
            report.warnings.append(
                f"{share:.0%} of the declarations have an {what} the training data never saw"
            )
    shifted = {c: v for c, v in psi.items() if v > PSI_LIMIT}
    if shifted:
        worst = sorted(shifted, key=shifted.get, reverse=True)[:5]
        listed = ", ".join(f"{c} (PSI {shifted[c]:.2f}, {rows[c]:,} rows)" for c in worst)
        report.warnings.append(
            f"prices per tonne against their peers have shifted since training in HS "
            f"chapter(s) {listed}: the reference prices are stale there"
        )
    return report
