"""The label store: what the engine flagged, and what the inspections found.

A folder with two Parquet tables. ``flagged.parquet`` records each declaration a
scoring run put on the list (how it was selected, its score, when). ``outcomes.parquet``
records what investigators reported back. Every change happens under an exclusive lock
on the folder and is written to a temporary file then renamed, so two ``feedback`` runs
at once both land, and a crash leaves the store as it was before the run.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from detector._errors import DetectorError
from detector.ingest import INPUT_ROW, REJECT_REASON, scan_input
from detector.output import write_table
from detector.schema import FRAUD_TYPES

__all__ = ["FeedbackResult", "LabelStore", "OUTCOME_SCHEMA"]

#: One investigator's report on one declaration.
OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "declaration_id": pl.String(),
    "inspected": pl.Boolean(),
    "fraud": pl.Int8(),
    "fraud_type": pl.String(),
    "revenue_recovered": pl.Float64(),
    "note": pl.String(),
    "inspected_on": pl.Date(),
}
FLAGGED_SCHEMA: dict[str, pl.DataType] = {
    "declaration_id": pl.String(),
    "declaration_date": pl.Date(),
    "selection": pl.String(),
    "risk_score": pl.Float64(),
    "rank": pl.UInt32(),
    "scored_on": pl.Date(),
}
#: What makes two reports on one declaration the same report.
_OUTCOME_KEY = ("inspected", "fraud", "fraud_type", "revenue_recovered")
_TRUE, _FALSE = ["1", "true", "t", "yes", "y"], ["0", "false", "f", "no", "n"]


@dataclass
class FeedbackResult:
    """What one ``feedback`` run did, row by row accounted for."""

    read: int
    added: int
    unchanged: int
    conflicts: pl.DataFrame
    rejects: pl.DataFrame
    unknown: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"read {self.read:,} outcomes = {self.added:,} added + {self.unchanged:,} already "
            f"stored + {self.conflicts.height:,} conflicting + {self.rejects.height:,} rejected"
        )
        if self.unknown:
            line += (
                f"; {len(self.unknown):,} for declarations this engine never flagged "
                f"(stored as selection 'other', e.g. {self.unknown[0]})"
            )
        return line


def _parse_outcomes(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Outcomes file -> (valid outcomes, rejected rows with reasons)."""
    raw = scan_input(path).collect()
    if "declaration_id" not in raw.columns or "fraud" not in raw.columns:
        raise DetectorError(
            f"Outcomes file {path} needs the columns declaration_id and fraud (found "
            f"{', '.join(c for c in raw.columns if c != INPUT_ROW)}); add them and run again."
        )
    text = {
        c: raw.select(pl.col(c).cast(pl.String).str.strip_chars().replace("", None)).to_series()
        for c in raw.columns
        if c != INPUT_ROW
    }

    def col(name: str) -> pl.Series:
        return text.get(name, pl.Series(name, [None] * raw.height, pl.String))

    flag = col("inspected").str.to_lowercase()
    fraud_text = col("fraud").str.to_lowercase()
    frame = pl.DataFrame(
        {
            "declaration_id": col("declaration_id"),
            "inspected": pl.select(
                pl.when(flag.is_null())
                .then(True)
                .when(flag.is_in(_TRUE))
                .then(True)
                .when(flag.is_in(_FALSE))
                .then(False)
            ).to_series(),
            "fraud": pl.select(
                pl.when(fraud_text.is_in(_TRUE)).then(1).when(fraud_text.is_in(_FALSE)).then(0)
            )
            .to_series()
            .cast(pl.Int8),
            "fraud_type": col("fraud_type").str.to_lowercase(),
            "revenue_recovered": col("revenue_recovered").cast(pl.Float64, strict=False),
            "note": col("note"),
            "inspected_on": col("inspected_on").str.to_date("%Y-%m-%d", strict=False),
        },
        schema=OUTCOME_SCHEMA,
    )
    problems = [
        (frame["declaration_id"].is_null(), "missing declaration_id"),
        (flag.is_not_null() & frame["inspected"].is_null(), "inspected is not true or false"),
        (
            frame["inspected"].fill_null(True) & frame["fraud"].is_null(),
            "fraud is not 0 or 1 for an inspected declaration",
        ),
        (
            frame["fraud_type"].is_not_null() & ~frame["fraud_type"].is_in(FRAUD_TYPES),
            f"fraud_type is not one of {', '.join(FRAUD_TYPES)}",
        ),
        (
            col("revenue_recovered").is_not_null()
            & (frame["revenue_recovered"].is_null() | (frame["revenue_recovered"] < 0)),
            "revenue_recovered is not a number >= 0",
        ),
        (
            col("inspected_on").is_not_null() & frame["inspected_on"].is_null(),
            "inspected_on is not a date YYYY-MM-DD",
        ),
        (
            frame["declaration_id"].is_not_null() & frame["declaration_id"].is_duplicated(),
            "the file reports this declaration more than once",
        ),
    ]
    bad_any = pl.Series([False] * raw.height)
    words: list[list[str]] = [[] for _ in range(raw.height)]
    for bad, why in problems:
        bad = bad.fill_null(False)
        bad_any = bad_any | bad
        for i in bad.arg_true().to_list():
            words[i].append(why)
    rejects = raw.filter(bad_any).with_columns(
        pl.Series(REJECT_REASON, ["; ".join(w) for w in words if w], pl.String)
    )
    return frame.filter(~bad_any), rejects


class LabelStore:
    """The folder holding flagged lists and inspection outcomes."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def flagged_path(self) -> Path:
        return self.folder / "flagged.parquet"

    @property
    def outcomes_path(self) -> Path:
        return self.folder / "outcomes.parquet"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DetectorError(
                f"Label store {self.folder} cannot be created ({exc.strerror}); pass a "
                "folder you can write to."
            ) from None
        with open(self.folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield

    def _read(self, path: Path, schema: dict) -> pl.DataFrame:
        if not path.exists():
            return pl.DataFrame(schema=schema)
        try:
            return pl.read_parquet(path).cast(schema)
        except Exception as exc:  # a store damaged by hand
            raise DetectorError(
                f"Label store file {path} cannot be read ({type(exc).__name__}); restore it "
                "from a backup."
            ) from None

    def flagged(self) -> pl.DataFrame:
        return self._read(self.flagged_path, FLAGGED_SCHEMA)

    def outcomes(self) -> pl.DataFrame:
        return self._read(self.outcomes_path, OUTCOME_SCHEMA)

    def record_flagged(self, scored: pl.DataFrame, scored_on: date | None = None) -> int:
        """Remember the declarations a scoring run listed; re-recording one changes nothing."""
        rows = scored.select(
            pl.col("declaration_id").cast(pl.String),
            pl.col("declaration_date").cast(pl.Date),
            "selection",
            pl.col("risk_score").cast(pl.Float64),
            pl.col("rank").cast(pl.UInt32),
            pl.lit(scored_on or date.today(), pl.Date).alias("scored_on"),
        )
        with self._locked():
            known = self.flagged()
            new = rows.join(
                known.select("declaration_id"),
                on="declaration_id",
                how="anti",
                maintain_order="left",
            )
            if new.height:
                write_table(pl.concat([known, new]), self.flagged_path)
        return new.height

    def add_outcomes(self, path: str | Path) -> FeedbackResult:
        """Append an investigators' outcomes file; report repeats, conflicts and unknowns."""
        incoming, rejects = _parse_outcomes(Path(path))
        read = incoming.height + rejects.height
        with self._locked():
            stored = self.outcomes()
            both = incoming.join(
                stored, on="declaration_id", how="left", suffix="_stored", maintain_order="left"
            )
            seen = both["inspected_stored"].is_not_null()
            same = pl.all_horizontal(
                pl.col(c).eq_missing(pl.col(f"{c}_stored")) for c in _OUTCOME_KEY
            )
            verdict = both.select(seen.alias("seen"), same.alias("same"))
            unchanged = verdict.filter(pl.col("seen") & pl.col("same")).height
            conflicts = both.filter(verdict["seen"] & ~verdict["same"])
            new = incoming.filter(~seen)
            if new.height:
                write_table(pl.concat([stored, new]), self.outcomes_path)
            flagged = self.flagged()
        unknown = new.join(flagged, on="declaration_id", how="anti")["declaration_id"]
        return FeedbackResult(
            read=read,
            added=new.height,
            unchanged=unchanged,
            conflicts=conflicts.select(
                "declaration_id",
                *[pl.col(f"{c}_stored") for c in _OUTCOME_KEY],
                *_OUTCOME_KEY,
            ),
            rejects=rejects,
            unknown=unknown.to_list(),
        )

    def apply(self, declarations: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """Declarations with the store's outcomes as their labels; how many were joined."""
        outcomes = self.outcomes().select(
            "declaration_id",
            pl.col("inspected").alias("__inspected"),
            pl.col("fraud").alias("__fraud"),
            pl.col("fraud_type").alias("__fraud_type"),
            pl.col("revenue_recovered").alias("__revenue"),
        )
        joined = declarations.join(outcomes, on="declaration_id", how="left", maintain_order="left")
        hit = joined["__inspected"].is_not_null()

        def label(name: str, new: str, dtype: pl.DataType) -> pl.Expr:
            old = pl.col(name) if name in declarations.columns else pl.lit(None, dtype)
            return pl.when(pl.col("__inspected").is_not_null()).then(pl.col(new)).otherwise(old)

        out = joined.with_columns(
            label("inspected", "__inspected", pl.Boolean).alias("inspected"),
            label("fraud", "__fraud", pl.Int8).cast(pl.Int8).alias("fraud"),
            label("fraud_type", "__fraud_type", pl.String).alias("fraud_type"),
            label("revenue_recovered", "__revenue", pl.Float64).alias("revenue_recovered"),
        ).drop("__inspected", "__fraud", "__fraud_type", "__revenue")
        return out, int(hit.sum())

    def hit_rates(self) -> pl.DataFrame:
        """Per month of inspection and selection: inspected, frauds, hit rate, revenue."""
        outcomes = self.outcomes().filter(pl.col("inspected"))
        flagged = self.flagged().select("declaration_id", "selection", "declaration_date")
        joined = outcomes.join(flagged, on="declaration_id", how="left").with_columns(
            pl.col("selection").fill_null("other"),
            pl.coalesce("inspected_on", "declaration_date").dt.truncate("1mo").alias("month"),
        )
        return (
            joined.group_by("month", "selection")
            .agg(
                pl.len().alias("inspected"),
                pl.col("fraud").sum().cast(pl.Int64).alias("frauds"),
                pl.col("revenue_recovered").sum().alias("revenue_recovered"),
            )
            .with_columns((pl.col("frauds") / pl.col("inspected")).alias("hit_rate"))
            .sort("month", "selection")
        )
