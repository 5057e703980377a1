"""The label store: what the engine flagged, and what the inspections found.

A folder with two Parquet tables. ``flagged.parquet`` records each declaration a
scoring run put on the list (how it was selected, its score, when). ``outcomes.parquet``
records what investigators reported back. Every change happens under an exclusive lock
on the folder and is written to a temporary file then renamed, so two ``feedback`` runs
at once both land, and a crash leaves the store as it was before the run.
"""

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from detector.errors import DetectorError
from detector.io.ingest import (
    DATE_FORMATS,
    FALSE_WORDS,
    HIDDEN_CHARACTERS,
    INPUT_ROW,
    PLAUSIBLE_MAX,
    REJECT_REASON,
    TRUE_WORDS,
    YEARS,
    as_text,
    is_scored_list,
    quote_reason,
    read_failure,
    scan_input,
)
from detector.io.output import atomic_path, column_name, write_table
from detector.io.schema import FRAUD_TYPES

__all__ = ["FeedbackResult", "LabelStore", "OUTCOME_SCHEMA", "exploration_record", "hit_rates"]

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
#: Revenue is money, as a declaration's customs value is: beyond that, a typo or an overflow.
_REVENUE_MAX = PLAUSIBLE_MAX["customs_value"]
_FIRST_YEAR = YEARS[0]
_TEXT, _VALUE, _REASON = "__text_", "__value_", "__reason"


@dataclass
class FeedbackResult:
    """What one ``feedback`` run did, row by row accounted for."""

    read: int
    added: int
    unchanged: int
    conflicts: pl.DataFrame
    rejects: pl.DataFrame
    unknown: list[str] = field(default_factory=list)
    #: Whether the conflicting outcomes replaced the stored ones (``--replace``).
    replaced: bool = False
    #: Ids a spreadsheet wrote as numbers ('…616.0') read as the flagged id ('…616').
    renumbered: int = 0

    def summary(self) -> str:
        differing = "replaced" if self.replaced else "conflicting"
        line = (
            f"read {self.read:,} outcomes = {self.added:,} added + {self.unchanged:,} already "
            f"stored + {self.conflicts.height:,} {differing} + {self.rejects.height:,} rejected"
        )
        if self.renumbered:
            line += (
                f"; {self.renumbered:,} id{'s' * (self.renumbered != 1)} written as a number "
                "('.0' after the digits) read as the flagged declaration's"
            )
        if self.unknown:
            line += (
                f"; {len(self.unknown):,} for declarations this engine never flagged "
                f"(stored as selection 'other', e.g. {self.unknown[0]})"
            )
        return line


def _ids_as_flagged(outcomes: pl.DataFrame, flagged: pl.Series) -> tuple[pl.DataFrame, int]:
    """Outcomes whose id a spreadsheet wrote as a number ('25122400019616.0'), read as
    the flagged declaration's id ('25122400019616') when that one was flagged and the
    id as written was not; and how many."""
    ids = outcomes["declaration_id"]
    bare = ids.str.replace(r"^([0-9]+)\.0$", "${1}")
    fix = (bare != ids) & ~ids.is_in(flagged.implode()) & bare.is_in(flagged.implode())
    n = int(fix.sum())
    if not n:
        return outcomes, 0
    return outcomes.with_columns(pl.when(fix).then(bare).otherwise(ids).alias("declaration_id")), n


def _refuse_nested(path: Path, schema: pl.Schema) -> None:
    """A list or struct column holds several values a cell: nothing to store or write back."""
    for name, dtype in schema.items():
        if dtype.is_nested():
            raise DetectorError(
                f"Outcomes file {path} has the column '{name}' of type {dtype}, several values "
                "in a cell; write it as one text value a cell and run again."
            )


def _texts(schema: pl.Schema) -> list[pl.Expr]:
    """Each outcome column as text the way declarations read it; null when blank or absent."""
    return [
        (as_text(name, schema[name]) if name in schema else pl.lit(None, pl.String)).alias(
            _TEXT + name
        )
        for name in OUTCOME_SCHEMA
    ]


def _flag(text: pl.Expr, yes: tuple[str, ...] = (), no: tuple[str, ...] = ()) -> pl.Expr:
    lower = text.str.to_lowercase().str.strip_chars()
    return (
        pl.when(lower.is_in([*TRUE_WORDS, *yes]))
        .then(True)
        .when(lower.is_in([*FALSE_WORDS, *no]))
        .then(False)
    )


#: How an investigator writes an outcome in words, besides yes/no, true/false, 1/0.
_FRAUD_WORDS = ("fraud", "fraudulent", "found")
_CLEAN_WORDS = ("clean", "no fraud", "none", "compliant")


def _number(name: str, schema: pl.Schema) -> pl.Expr:
    if name in schema and schema[name].is_numeric():
        return pl.col(name).cast(pl.Float64)
    return pl.col(_TEXT + name).cast(pl.Float64, strict=False)


def _day(name: str, schema: pl.Schema) -> pl.Expr:
    """A date, a datetime's date, or text in one of the formats declarations accept."""
    dtype = schema.get(name)
    if dtype == pl.Date:
        return pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.date()
    day = pl.col(_TEXT + name).str.split(" ").list.first().str.split("T").list.first()
    return pl.coalesce([day.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS])


def _values(schema: pl.Schema) -> list[pl.Expr]:
    """The outcome columns parsed from their text (or their own type); null where unparsed."""
    text = {name: pl.col(_TEXT + name) for name in OUTCOME_SCHEMA}
    values = {
        "declaration_id": text["declaration_id"],
        # A file without the column reports inspections.
        "inspected": pl.when(text["inspected"].is_null())
        .then(True)
        .otherwise(_flag(text["inspected"])),
        "fraud": _flag(text["fraud"], _FRAUD_WORDS, _CLEAN_WORDS).cast(pl.Int8),
        "fraud_type": text["fraud_type"].str.to_lowercase(),
        "revenue_recovered": _number("revenue_recovered", schema),
        "note": text["note"],
        "inspected_on": _day("inspected_on", schema),
    }
    return [expr.alias(_VALUE + name) for name, expr in values.items()]


def _problems(today: date) -> list[tuple[pl.Expr, pl.Expr]]:
    """(the row is bad, why, quoting the value received), one check a line."""
    text = {name: pl.col(_TEXT + name) for name in OUTCOME_SCHEMA}
    key, inspected, fraud, kind, revenue, _, day = (pl.col(_VALUE + n) for n in OUTCOME_SCHEMA)
    # A float column's NaN or 1e308 has no integral text: show the number itself.
    money = pl.coalesce(text["revenue_recovered"], revenue.cast(pl.String))
    return [
        (key.is_null(), pl.lit("missing declaration_id")),
        (
            key.str.contains(HIDDEN_CHARACTERS).fill_null(False),
            pl.lit(
                "declaration_id holds control or invisible characters: no declaration's id "
                "does (they are refused when declarations are read)"
            ),
        ),
        (
            key.is_not_null() & key.is_duplicated(),
            quote_reason("declaration_id '{}' is reported more than once in the file", key),
        ),
        (
            text["inspected"].is_not_null() & inspected.is_null(),
            quote_reason("inspected '{}' is not true or false", text["inspected"]),
        ),
        (
            text["fraud"].is_not_null() & fraud.is_null(),
            quote_reason("fraud '{}' is not 0 or 1", text["fraud"]),
        ),
        (
            text["fraud"].is_null() & inspected & text["inspected"].is_not_null(),
            pl.lit("fraud is missing for an inspected declaration: expected 0 or 1"),
        ),
        (
            text["fraud"].is_null() & text["inspected"].is_null(),
            pl.lit(
                "fraud is missing, and a row without inspected (left blank, or a file "
                "without the column) reports an inspection: fill in fraud (0 or 1), or "
                "inspected = false"
            ),
        ),
        (
            kind.is_not_null() & ~kind.is_in(FRAUD_TYPES),
            quote_reason(
                f"fraud_type '{{}}' is not one of {', '.join(FRAUD_TYPES)}", text["fraud_type"]
            ),
        ),
        *_impossible(text, money, (inspected, fraud, kind, revenue, day), today),
    ]


def _impossible(text: dict, money: pl.Expr, values: tuple, today: date) -> list:
    """Values that cannot be, and outcomes that contradict themselves."""
    inspected, fraud, kind, revenue, day = values
    return [
        (
            text["revenue_recovered"].is_not_null() & revenue.is_null(),
            quote_reason("revenue_recovered '{}' is not a number", money),
        ),
        (
            revenue.is_nan() | revenue.is_infinite(),
            quote_reason("revenue_recovered '{}' is not a finite number", money),
        ),
        (revenue < 0, quote_reason("negative revenue_recovered '{}'", money)),
        (
            revenue.is_finite() & (revenue > _REVENUE_MAX),
            quote_reason(
                f"revenue_recovered '{{}}' is implausibly large (over {_REVENUE_MAX:.0e})", money
            ),
        ),
        (
            text["inspected_on"].is_not_null() & day.is_null(),
            quote_reason(
                "inspected_on '{}' is not a date: expected YYYY-MM-DD", text["inspected_on"]
            ),
        ),
        (
            day.dt.year() < _FIRST_YEAR,
            quote_reason(
                f"impossible inspected_on '{{}}': before {_FIRST_YEAR}", text["inspected_on"]
            ),
        ),
        (
            day > today,
            quote_reason(
                f"impossible inspected_on '{{}}': after today, {today}", text["inspected_on"]
            ),
        ),
        # An outcome needs an inspection, and no fraud means no fraud type and no revenue.
        (
            ~inspected & (fraud == 1),
            quote_reason(
                "fraud '{}' for a declaration not inspected (inspected false)", text["fraud"]
            ),
        ),
        (
            ~inspected & kind.is_not_null(),
            quote_reason("fraud_type '{}' for a declaration not inspected (inspected false)", kind),
        ),
        (
            ~inspected & (revenue > 0),
            quote_reason(
                "revenue_recovered '{}' for a declaration not inspected (inspected false)", money
            ),
        ),
        (
            (fraud == 0) & kind.is_not_null(),
            quote_reason("fraud_type '{}' contradicts fraud 0", kind),
        ),
        (
            (fraud == 0) & (revenue > 0),
            quote_reason("revenue_recovered '{}' contradicts fraud 0", money),
        ),
    ]


def header_currency(columns) -> str | None:
    """The currency a file's revenue header names ("revenue recovered (KRW)"), if any:
    the engine's workbook writes money with its currency, and an investigator's copy of
    a list scored by another model carries that model's."""
    for name in columns:
        found = re.fullmatch(r"revenue[ _]recovered\s*\(([A-Z]{3})\)", str(name).strip())
        if found:
            return found.group(1)
    return None


def _named(frame: pl.DataFrame) -> pl.DataFrame:
    """Headers as the engine's workbook writes them ("revenue recovered (USD)"), also
    in a copy saved as CSV, read as the columns they name."""
    names = {c: column_name(c) for c in frame.columns}
    return frame.rename(names) if len(set(names.values())) == len(names) else frame


def _read_workbook(path: Path) -> pl.DataFrame:
    """The outcomes filled in on a workbook the engine wrote (its ``flagged`` sheet, or
    the first): the rows where an outcome was entered, numbered from 1 as data rows."""
    try:
        import openpyxl  # noqa: F401  (polars reads workbooks through it)
    except ModuleNotFoundError:
        raise DetectorError(
            f"Reading {path.name} needs the openpyxl package: pip install "
            "'customs-detector[excel]', or save the outcomes as .csv."
        ) from None
    try:
        sheets = pl.read_excel(path, sheet_id=0, engine="openpyxl")
    except Exception as exc:  # a damaged or foreign file: several types
        try:
            # A column of dates with one typed as text (01/12/2025) has no one type: read
            # every cell as text, and the value at fault is then rejected by its reason.
            sheets = pl.read_excel(path, sheet_id=0, engine="openpyxl", infer_schema_length=0)
        except Exception:
            raise DetectorError(
                f"Workbook {path} cannot be read ({type(exc).__name__}); save it again from "
                "the spreadsheet, or as .csv."
            ) from None
    name = "flagged" if "flagged" in sheets else next(iter(sheets))
    sheet = sheets[name]
    _refuse_unsaved_formulas(path, name)
    _refuse_rows_below_the_table(path, name)
    frame = _named(sheet).with_columns(pl.lit(header_currency(sheet.columns)).alias(_CURRENCY))
    entered = [c for c in _ENTERED if c in frame.columns]
    frame = frame.with_row_index(INPUT_ROW, offset=1)
    if not entered:
        return frame
    return frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in entered))


def _refuse_rows_below_the_table(path: Path, name: str) -> None:
    """A row typed below the list's table (a spreadsheet that does not grow the table)
    is outside what the table holds, and would be read as no row at all: refused,
    naming the row. The table's extent is read from the file's parts, not from a
    workbook loaded whole (half a minute for a list of 50,000 rows)."""
    import openpyxl

    last = _table_last_row(path, name)
    if last is None:
        return
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[name]
        if sheet.max_row is not None and sheet.max_row <= last:
            return
        for number, row in enumerate(sheet.iter_rows(min_row=last + 1, values_only=True), last + 1):
            if any(v is not None and str(v).strip() for v in row):
                raise DetectorError(
                    f"Workbook {path} row {number} lies below the list's table (rows 1 to "
                    f"{last}), so it would not be read; move it into the table (or extend "
                    "the table over it) and save."
                )
    finally:
        book.close()


def _table_last_row(path: Path, name: str) -> int | None:
    """The last row of the tables on sheet ``name`` of a workbook, from its XML parts;
    None when the sheet has no table, or the parts cannot be followed."""
    import posixpath
    import zipfile
    from xml.etree import ElementTree

    from openpyxl.utils.cell import range_boundaries

    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"

    def targets(z: zipfile.ZipFile, part: str) -> dict[str, str]:
        folder, base = posixpath.split(part)
        rels = ElementTree.fromstring(z.read(f"{folder}/_rels/{base}.rels"))
        # A target is relative to its part, or absolute from the package's root.
        joined = {r.get("Id"): posixpath.join(folder, r.get("Target")) for r in rels}
        return {k: posixpath.normpath(v).lstrip("/") for k, v in joined.items()}

    try:
        with zipfile.ZipFile(path) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            ids = {s.get("name"): s.get(rel) for s in book.iter() if s.tag.endswith("}sheet")}
            sheet = targets(z, "xl/workbook.xml")[ids[name]]
            folder, base = posixpath.split(sheet)
            if f"{folder}/_rels/{base}.rels" not in z.namelist():
                return None  # a sheet with no parts related to it holds no table
            ends = [
                range_boundaries(ElementTree.fromstring(z.read(t)).get("ref"))[3]
                for t in targets(z, sheet).values()
                if "/tables/" in t
            ]
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    return max(ends) if ends else None


def _refuse_unsaved_formulas(path: Path, name: str) -> None:
    """An outcome cell holding a formula whose value was never saved (a workbook written
    by a script, not saved from a spreadsheet) reads as empty: its row would be taken
    for one without an outcome. Refused, naming the cell."""
    import openpyxl

    try:
        books = [openpyxl.load_workbook(path, read_only=True, data_only=d) for d in (False, True)]
    except Exception:  # read by polars already: nothing more to learn here
        return
    try:
        typed_rows, saved_rows = (b[name].iter_rows(values_only=True) for b in books)
        header = [column_name(c) for c in next(typed_rows, ())]
        next(saved_rows, None)
        wanted = [i for i, c in enumerate(header) if c in _ENTERED]
        for number, (typed, saved) in enumerate(zip(typed_rows, saved_rows, strict=False), 2):
            for i in wanted:
                cell = typed[i] if i < len(typed) else None
                unsaved = i >= len(saved) or saved[i] is None
                if isinstance(cell, str) and cell.startswith("=") and unsaved:
                    raise DetectorError(
                        f"Workbook {path} row {number}, column {header[i]!r}, holds the "
                        f"formula {cell[:40]!r} with no saved value; open and save it in a "
                        "spreadsheet, or type the value."
                    )
    finally:
        for book in books:
            book.close()


#: The outcome cells an investigator fills in; a row with none of them is not reported.
_ENTERED = ("inspected", "fraud", "fraud_type", "revenue_recovered", "inspected_on", "note")


def _parse_outcomes(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
    """Outcomes file (CSV, Parquet, or a workbook the engine wrote) -> (valid outcomes,
    rejected rows with reasons, the currency its revenue header names)."""
    if path.suffix.lower() == ".xlsx":
        raw = _read_workbook(path)
    else:
        _refuse_scored_list(path)
        try:
            read = scan_input(path).collect()
            raw = _named(read).with_columns(pl.lit(header_currency(read.columns)).alias(_CURRENCY))
        except pl.exceptions.PolarsError as exc:
            if path.suffix.lower() == ".csv":
                raise DetectorError(read_failure(path, exc)) from None
            raise DetectorError(
                f"Outcomes file {path} cannot be read ({type(exc).__name__}); write it again "
                "as CSV, Parquet or the workbook the engine wrote."
            ) from None
    currency = raw[_CURRENCY][0] if raw.height else None
    raw = raw.drop(_CURRENCY)
    if "declaration_id" not in raw.columns or "fraud" not in raw.columns:
        raise DetectorError(
            f"Outcomes file {path} needs the columns declaration_id and fraud (found "
            f"{', '.join(c for c in raw.columns if c != INPUT_ROW)}); add them and run again."
        )
    _refuse_nested(path, raw.schema)
    reasons = [pl.when(bad).then(why) for bad, why in _problems(date.today())]
    joined = pl.concat_list(reasons).list.drop_nulls().list.join("; ")
    work = (
        raw.with_columns(_texts(raw.schema))
        .with_columns(_values(raw.schema))
        .with_columns(pl.when(joined != "").then(joined).alias(_REASON))
    )
    bad = pl.col(_REASON).is_not_null()
    frame = (
        work.filter(~bad)
        .select(pl.col(_VALUE + name).alias(name) for name in OUTCOME_SCHEMA)
        .cast(OUTCOME_SCHEMA)
    )
    rejects = work.filter(bad).select(
        *[c for c in raw.columns if c != REJECT_REASON], pl.col(_REASON).alias(REJECT_REASON)
    )
    return frame, rejects, currency


def _refuse_scored_list(path: Path) -> None:
    """A CSV or Parquet list carries after its own columns the scored input's, its labels
    among them, which no inspection of the list found."""
    if is_scored_list(path):
        raise DetectorError(
            f"Outcomes file {path} is a scored list (columns rank and risk_score): "
            "its outcome columns are the scored input's own labels, not what inspecting the "
            "list found; fill in the list workbook (`detector score ... --out list.xlsx`) or "
            "a file of declaration_id and the outcome columns, and feed back that."
        )


#: A private column that carries the revenue header's currency out of the reading.
_CURRENCY = "__header_currency"


def _listed_once(flagged: pl.DataFrame) -> pl.DataFrame:
    """Each declaration of a flagged list once, as first listed: the one reading of a
    declaration listed twice (a list written by hand, a run recorded again), so that
    its inspection counts once in every hit rate and exploration record."""
    return flagged.unique("declaration_id", keep="first", maintain_order=True)


def _refuse_missing(path: Path, found: pl.Schema, schema: dict) -> None:
    """A store file edited by hand must keep every column the store reads."""
    missing = [name for name in schema if name not in found]
    if missing:
        raise DetectorError(
            f"Label store file {path} lacks the column(s) {', '.join(missing)} (it has "
            f"{', '.join(found) or 'none'}); add them and run again, or restore the file "
            "from a backup."
        )


def _refuse_unreadable(path: Path, frame: pl.DataFrame, schema: dict) -> None:
    """A store file edited by hand must keep each column readable as the store reads it
    (a risk score typed as text, say): the first column that is not is named."""
    for name, dtype in schema.items():
        try:
            frame[name].cast(dtype)
        except Exception:  # polars raises several types for a failed cast
            raise DetectorError(
                f"Label store file {path} has the column {name} as {frame.schema[name]}, "
                f"whose values cannot all be read as {dtype}; correct them, or restore the "
                "file from a backup."
            ) from None


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

    @property
    def about_path(self) -> Path:
        return self.folder / "store.json"

    @property
    def currency(self) -> str | None:
        """The currency of the money in the store, as the first scoring that recorded a
        list in it knew it (its model's); None when no scoring said."""
        try:
            code = json.loads(self.about_path.read_text(encoding="utf-8")).get("currency")
        except (OSError, ValueError, AttributeError):
            return None
        # A file edited by hand says nothing unless it holds a currency code: it is
        # printed in tables and pages, where anything else could be read as markup.
        return code if isinstance(code, str) and re.fullmatch(r"[A-Z]{3}", code) else None

    def check(self) -> None:
        """Refuse, before any work, a store that cannot be written or whose files are damaged."""
        self.check_writable()
        own = {self.flagged_path.name, self.outcomes_path.name}
        strays = sorted(
            p.name
            for p in (self.folder.iterdir() if self.folder.is_dir() else ())
            if p.suffix.lower() in (".parquet", ".csv", ".xlsx") and p.name not in own
        )
        if strays:
            # A folder of declarations given as a store would be read back as both.
            raise DetectorError(
                f"Label store {self.folder} holds data files that are not the store's "
                f"({', '.join(strays[:3])}{', ...' if len(strays) > 3 else ''}); keep the "
                "store in a folder of its own."
            )
        for path in (self.flagged_path, self.outcomes_path, self.about_path, self.folder / ".lock"):
            # A store edited by hand: a folder or a pipe where a file belongs would fail
            # half-way through a run, or hang it.
            if (path.exists() or path.is_symlink()) and not path.is_file():
                raise DetectorError(
                    f"Label store file {path} is not a regular file (a folder, a pipe or a "
                    "broken link); restore it from a backup or remove it, or pass another "
                    "--store folder."
                )
        for path, schema in (
            (self.flagged_path, FLAGGED_SCHEMA),
            (self.outcomes_path, OUTCOME_SCHEMA),
        ):
            if path.exists():
                try:
                    found = pl.read_parquet_schema(path)
                except Exception:  # polars raises several types for a damaged file
                    raise DetectorError(
                        f"Label store file {path} cannot be read: it is damaged or not "
                        "Parquet; restore it from a backup, or pass another --store folder."
                    ) from None
                _refuse_missing(path, found, schema)
        if self.about_path.is_file() and self.currency is None:
            # Its currency is what keeps revenue of two currencies from being added up:
            # a damaged file would be rewritten by the next scoring as if new.
            raise DetectorError(
                f"Label store file {self.about_path} is damaged (not the engine's record of "
                "the store's currency); restore it from a backup, or write "
                '{"currency": "USD"} (the store\'s currency code) into it.'
            )

    def check_writable(self) -> None:
        """Refuse a store this user cannot write to, before any work is done.

        Raises
        ------
        DetectorError
            The folder (or, when it does not exist yet, the folder it would be created
            in) or its lock file is not writable for this user.
        """
        existing = next(p for p in (self.folder, *self.folder.parents) if p.exists())
        lock = self.folder / ".lock"
        if existing not in (self.folder, self.folder.parent):
            # A mistyped or unmounted path would start a new store in a new tree of folders.
            raise DetectorError(
                f"Label store {self.folder} cannot be created: the folder "
                f"{self.folder.parent} it would be created in does not exist; check the path, "
                "or create that folder first."
            )
        if not existing.is_dir():
            raise DetectorError(
                f"Label store {self.folder} cannot be used: {existing} is a file, not a "
                "folder; pass another --store folder."
            )
        if existing != self.folder and not os.access(existing, os.W_OK | os.X_OK):
            raise DetectorError(
                f"Label store {self.folder} cannot be created: the folder {existing} it "
                "would be created in is read-only for this user; pass a store folder you "
                "can write to."
            )
        if not os.access(existing, os.W_OK | os.X_OK) or (
            lock.exists() and not os.access(lock, os.W_OK)
        ):
            raise DetectorError(
                f"Label store {self.folder} is read-only for this user; give this user write "
                "access to the folder and its files, or pass a folder you can write to."
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.check_writable()
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
            frame = pl.read_parquet(path)
            _refuse_missing(path, frame.schema, schema)
            _refuse_unreadable(path, frame, schema)
            return frame.cast(schema)
        except DetectorError:
            raise
        except Exception as exc:  # a store damaged by hand
            raise DetectorError(
                f"Label store file {path} cannot be read ({type(exc).__name__}); restore it "
                "from a backup."
            ) from None

    def flagged(self) -> pl.DataFrame:
        """The flagged declarations, each once (:func:`_listed_once`)."""
        return _listed_once(self._read(self.flagged_path, FLAGGED_SCHEMA))

    def outcomes(self) -> pl.DataFrame:
        return self._read(self.outcomes_path, OUTCOME_SCHEMA)

    def record_flagged(
        self, scored: pl.DataFrame, scored_on: date | None = None, currency: str | None = None
    ) -> int:
        """Remember the declarations a scoring run listed; re-recording one changes nothing.
        The ``currency`` of its money is kept with the store, once."""
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
            new = _listed_once(rows).join(
                known.select("declaration_id"),
                on="declaration_id",
                how="anti",
                maintain_order="left",
            )
            if new.height:
                write_table(pl.concat([known, new]), self.flagged_path)
            if currency and self.currency is None:
                with atomic_path(self.about_path) as tmp:
                    tmp.write_text(json.dumps({"currency": currency}) + "\n", encoding="utf-8")
        return new.height

    def add_outcomes(self, path: str | Path, *, replace: bool = False) -> FeedbackResult:
        """Append an investigators' outcomes file; report repeats, conflicts and unknowns.

        An outcome that differs from the one stored for its declaration is a conflict:
        the stored one is kept, unless ``replace`` (a corrected outcome) says otherwise.
        """
        self.check()
        incoming, rejects, currency = _parse_outcomes(Path(path))
        kept = self.currency
        if currency and kept and currency != kept:
            raise DetectorError(
                f"Outcomes file {path} gives revenue recovered in {currency}, and the label "
                f"store {self.folder} keeps money in {kept}: adding them would mix the two; "
                f"feed it to a store kept in {currency}, or convert its revenue to {kept} "
                "and rename the column."
            )
        read = incoming.height + rejects.height
        with self._locked():
            stored, flagged = self.outcomes(), self.flagged()
            incoming, renumbered = _ids_as_flagged(incoming, flagged["declaration_id"])
            both = incoming.join(
                stored, on="declaration_id", how="left", suffix="_stored", maintain_order="left"
            )
            seen = both["inspected_stored"].is_not_null()
            # A correction may touch the note or the date alone: an outcome that differs in
            # them differs (kept as stored, said, unless --replace stores it).
            compared = [c for c in OUTCOME_SCHEMA if c != "declaration_id"]
            same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_stored")) for c in compared)
            verdict = both.select(seen.alias("seen"), same.alias("same"))
            unchanged = verdict.filter(pl.col("seen") & pl.col("same")).height
            conflicts = both.filter(verdict["seen"] & ~verdict["same"])
            new = incoming.filter(~seen)
            if replace and conflicts.height:
                kept = stored.join(
                    conflicts.select("declaration_id"), on="declaration_id", how="anti"
                )
                corrected = conflicts.select(stored.columns)
                write_table(pl.concat([kept, corrected, new]), self.outcomes_path)
            elif new.height:
                write_table(pl.concat([stored, new]), self.outcomes_path)
        unknown = new.join(flagged, on="declaration_id", how="anti")["declaration_id"]
        return FeedbackResult(
            read=read,
            added=new.height,
            unchanged=unchanged,
            conflicts=conflicts.select(
                "declaration_id",
                *[pl.col(f"{c}_stored") for c in compared],
                *compared,
            ),
            rejects=rejects,
            unknown=unknown.to_list(),
            replaced=replace,
            renumbered=renumbered,
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
        return hit_rates(self.outcomes(), self.flagged())

    def exploration_record(self) -> pl.DataFrame:
        """What the inspections of exploration picks found, per month (see
        :func:`exploration_record`)."""
        return exploration_record(self.outcomes(), self.flagged())


def _inspections(outcomes: pl.DataFrame, flagged: pl.DataFrame, *extra: str) -> pl.DataFrame:
    """The inspected outcomes with how each was selected and the month it counts in (of
    the inspection, else of the declaration); ``extra``: more columns of ``flagged``."""
    outcomes = outcomes.filter(pl.col("inspected"))
    flagged = _listed_once(flagged).select(
        "declaration_id", "selection", "declaration_date", *extra
    )
    return outcomes.join(flagged, on="declaration_id", how="left").with_columns(
        pl.col("selection").fill_null("other"),
        pl.coalesce("inspected_on", "declaration_date").dt.truncate("1mo").alias("month"),
    )


def hit_rates(outcomes: pl.DataFrame, flagged: pl.DataFrame) -> pl.DataFrame:
    """Per month of inspection and selection: inspected, frauds, hit rate, revenue.

    ``outcomes`` as the store keeps them (``OUTCOME_SCHEMA``), ``flagged`` with at least
    ``declaration_id``, ``selection`` and ``declaration_date``. The one definition of a
    hit rate: ``monitor`` reads it from the store, ``simulate`` from its replay.
    """
    return (
        _inspections(outcomes, flagged)
        .group_by("month", "selection")
        .agg(
            pl.len().alias("inspected"),
            pl.col("fraud").sum().cast(pl.Int64).alias("frauds"),
            pl.col("revenue_recovered").sum().alias("revenue_recovered"),
        )
        .with_columns((pl.col("frauds") / pl.col("inspected")).alias("hit_rate"))
        .sort("month", "selection")
    )


def exploration_record(outcomes: pl.DataFrame, flagged: pl.DataFrame) -> pl.DataFrame:
    """Per month, the inspected exploration picks (``inspected``), the frauds they
    found (``frauds``) and the frauds the model expected of them (``expected``: the sum
    of their risk scores when they were listed). Where the found exceed the expected,
    exploration shows the model something it does not know yet.

    As :func:`hit_rates` (``flagged`` also with ``risk_score``): ``score --store`` reads
    it from the store, ``simulate`` from its replay.
    """
    return (
        _inspections(outcomes, flagged, "risk_score")
        # A pick without a risk score (a list written by hand) says nothing of what
        # the model expected, and one without a date belongs to no month: left out,
        # found and expected alike.
        .filter(
            (pl.col("selection") == "exploration")
            & pl.col("risk_score").is_not_null()
            & pl.col("month").is_not_null()
        )
        .group_by("month")
        .agg(
            pl.len().alias("inspected"),
            pl.col("fraud").sum().cast(pl.Int64).alias("frauds"),
            pl.col("risk_score").sum().alias("expected"),
        )
        .sort("month")
    )
