"""Reading declarations: lazy scans, mapping onto the canonical schema, validation.

Every input row ends up in exactly one of two places: the accepted canonical table or
the rejects table (original values plus a ``reject_reason``). Repairs that keep a row
(a lost leading zero, a lower-case country code) are counted and reported.
"""

import csv
import re
from collections import deque
from collections.abc import Collection
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import polars as pl

from detector.errors import DetectorError
from detector.features import format_text
from detector.io._paths import expand_glob, has_magic
from detector.io.profiles import Profile, load_profile
from detector.io.schema import (
    CANONICAL_SCHEMA,
    CURRENCIES,
    LABEL_SCHEMA,
    REQUIRED_COLUMNS,
    SCORED_COLUMNS,
    TRANSPORT_MODES,
    TRUTH_SCHEMA,
)

__all__ = [
    "DATE_FORMATS",
    "FALSE_WORDS",
    "INPUT_ROW",
    "cut_runs",
    "PLAUSIBLE_MAX",
    "REJECT_KINDS",
    "REJECT_REASON",
    "Reason",
    "HIDDEN_CHARACTERS",
    "REPAIR_PREFIX",
    "TRUE_WORDS",
    "YEARS",
    "Batch",
    "Canonical",
    "accept_and_reject",
    "as_text",
    "canonicalise",
    "check_clashes",
    "csv_data_lines",
    "duplicate_rows",
    "earlier_scores",
    "is_scored_list",
    "hive_keys",
    "input_files",
    "line_note",
    "plain_columns",
    "quote_reason",
    "read_checked",
    "read_declarations",
    "read_failure",
    "repair_totals",
    "scan_file",
    "scan_input",
    "split",
]

INPUT_ROW = "input_row"
REJECT_REASON = "reject_reason"
#: The kinds of a rejected row's reasons (a list): what the tally counts.
REJECT_KINDS = "reject_kinds"
_PREFIX = "__c_"
REPAIR_PREFIX = "__repair_"
_BAD = "__bad"


@dataclass
class Canonical:
    """A scanned input mapped onto the canonical schema, with its checks not yet worded."""

    lf: pl.LazyFrame
    reasons: list["Reason"]
    #: Working columns of the parsing layers: never part of the output.
    internal: frozenset[str] = frozenset()


_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y")
_ID_COLUMNS = ("declaration_id", "importer_id", "declarant_id", "seller_id", "customs_office")
_COUNTRY_COLUMNS = ("country_origin", "country_departure")
_NUMERIC_COLUMNS = ("net_mass_kg", "supplementary_quantity", "customs_value", "duty_rate_pct")
_NON_NEGATIVE = ("net_mass_kg", "customs_value", "duty_rate_pct", "supplementary_quantity")
#: Beyond these a value is a typing or unit error, not a declaration: 10 million tonnes,
#: 10^15 in any currency, a thousand percent duty.
PLAUSIBLE_MAX = {"net_mass_kg": 1e10, "customs_value": 1e15, "duty_rate_pct": 1e3}
#: Numeric labels (inspection outcomes, synthetic truth): never needed for scoring.
_LABEL_NUMBERS = (
    "fraud",
    "revenue_recovered",
    "true_fraud",
    "true_customs_value",
    "true_revenue_lost",
)
#: Every column read as a number, in the order their reasons are listed.
_NUMBERS = (*_NUMERIC_COLUMNS, *_LABEL_NUMBERS)
#: The columns a text cell is read for.
_TEXT_READ = frozenset({**CANONICAL_SCHEMA, **LABEL_SCHEMA, **TRUTH_SCHEMA})
#: A cell of plain text: printable ASCII, not blank at either end, no leading quote.
_PLAIN_TEXT = r"^[!-&(-~](?:[ -~]*[!-~])?$"
#: A declared mass above 0 (0 is "not declared") and below a milligram is a unit error
#: too: its price per tonne would be beyond any number.
PLAUSIBLE_MIN = {"net_mass_kg": 1e-6}
#: 1,234,567.50 (thousands separators) and 1.234,50 or 12,5 (decimal comma).
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_DECIMAL_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$"
#: Points grouping thousands, as a comma-decimal column writes them: "1.234.567".
_THOUSAND_POINTS = r"^[+-]?\d{1,3}(\.\d{3})+$"
YEARS = (1950, 2100)


@dataclass
class Batch:
    """The result of reading declarations: accepted rows, rejected rows, and the tally."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    repairs: dict[str, int] = field(default_factory=dict)
    #: File-level repairs, e.g. a separator other than the comma.
    notes: list[str] = field(default_factory=list)

    @property
    def n_read(self) -> int:
        return self.accepted.height + self.rejects.height

    def summary(self) -> str:
        """One line: read = accepted + rejected."""
        line = (
            f"read {self.n_read:,} rows = {self.accepted.height:,} accepted "
            f"+ {self.rejects.height:,} rejected"
        )
        return line + describe_repairs(self.repairs, self.notes)


def describe_repairs(repairs: dict[str, int], notes: list[str]) -> str:
    """The repairs made while reading, and the file-level notes, as a clause."""
    line = ""
    if repairs:
        line += f" (repaired: {', '.join(f'{n:,} {what}' for what, n in repairs.items())})"
    return line + "".join(f"; {note}" for note in notes)


# ---------------------------------------------------------------------------- scanning


def _expand(path_like: str | Path) -> list[tuple[Path, str]]:
    """Resolve one argument into (file, kind) pairs; kind is 'csv' or 'parquet'.

    Each real file is listed once, however many links or patterns lead to it.
    """
    text = str(path_like)
    if has_magic(text):
        matches = expand_glob(text)
        if not matches:
            raise DetectorError(f"No file matches {text}; check the pattern and the folder.")
        return _once([pair for m in matches for pair in _expand(m)])
    path = Path(text)
    if path.is_dir():
        # Every table in the folder: its Parquet partitions, and CSV files beside them.
        found = sorted(p for p in path.rglob("*") if p.is_file())
        parts = [(p, "parquet") for p in found if p.suffix.lower() in _PARQUET_SUFFIXES]
        parts += [(p, "csv") for p in found if p.suffix.lower() in (".csv", ".tsv")]
        if not parts:
            raise DetectorError(
                f"Folder {path} holds no .parquet or .csv files; point at a CSV or Parquet "
                "file, or at a folder of them."
            )
        return _once(sorted(parts))
    if not path.exists():
        raise DetectorError(f"Input file {path} does not exist; check the path.")
    if not path.is_file():
        raise DetectorError(
            f"Input {path} is not a regular file (a device, pipe or socket); "
            "save the declarations to a file and read that."
        )
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return [(path, "csv")]
    if suffix in _PARQUET_SUFFIXES:
        return [(path, "parquet")]
    raise DetectorError(
        f"Input file {path} is neither CSV nor Parquet (suffix '{path.suffix}'); "
        "convert it to .csv or .parquet."
    )


def _once(pairs: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """The pairs with each real file once, in their order."""
    seen: set[Path] = set()
    kept = []
    for path, kind in pairs:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            kept.append((path, kind))
    return kept


def input_files(paths) -> list[tuple[Path, str]]:
    """Every file the arguments name (files, folders, globs), each real file once."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    return _once([pair for p in paths for pair in _expand(p)])


_SEPARATORS = (",", ";", "\t", "|")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


#: More columns than this is not a declarations table: refused before it is parsed.
MAX_COLUMNS = 2_000
_MAX_HEADER_BYTES = 1 << 20


def _header_line(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(_MAX_HEADER_BYTES)
    _check_text_file(path, head)
    if b"\n" not in head and len(head) == _MAX_HEADER_BYTES:
        raise DetectorError(
            f"CSV file {path} has a first line over {_MAX_HEADER_BYTES:,} bytes long: that "
            "is not a header of column names; check that the file is a CSV table."
        )
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    return text.splitlines()[0] if text else ""


def _check_text_file(path: Path, head: bytes) -> None:
    """A CSV file that is compressed, UTF-16 or ended by bare carriage returns, said plainly."""
    if head.startswith(b"\x1f\x8b"):
        problem = "is compressed with gzip; decompress it first"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head.split(b"\n", 1)[0]:
        problem = "is not UTF-8 text (UTF-16, or NUL bytes); save it as UTF-8"
    elif b"\r" in head and b"\n" not in head:
        problem = "ends its lines with bare carriage returns; save it with \\n or \\r\\n line ends"
    else:
        return
    raise DetectorError(f"CSV file {path} {problem}.")


def _check_width(path: Path, n_columns: int) -> None:
    if n_columns > MAX_COLUMNS:
        raise DetectorError(
            f"Input file {path} has {n_columns:,} columns; a declarations table has at most "
            f"{MAX_COLUMNS:,}. Check the separator, or keep only the declaration columns."
        )


def _sniff_separator(path: Path) -> str:
    """The separator the header line uses most: exports from spreadsheets often use ';'."""
    header = _header_line(path)
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def earlier_scores(path: Path, names: list[str], notes: list[str]) -> tuple[str, ...]:
    """The columns of an earlier run in a file (a scored list's scores, a rejects file's
    row numbers and reasons): dropped on reading, said once."""
    dropped: tuple[str, ...] = ()
    for columns, said in ((SCORED_COLUMNS, _SCORED_NOTE), (_REJECTS_COLUMNS, _REJECTS_NOTE)):
        found = tuple(c for c in names if c in columns)
        if found and not any(note.startswith(said) for note in notes):
            notes.append(
                f"{said} ({path.name}): its {', '.join(found[:4])}"
                f"{', ...' if len(found) > 4 else ''} are made anew"
            )
        dropped += found
    return dropped


def is_scored_list(path: Path) -> bool:
    """Whether a file holds the columns only a scored list has (``rank`` and
    ``risk_score``), read from its header alone."""
    for file, kind in input_files([path]):
        if kind == "parquet":
            try:
                names = set(pl.read_parquet_schema(file))
            except Exception:  # polars raises several types: reading the file says which
                continue
        else:
            header = _header_line(file)
            names = {n.strip().strip('"') for n in header.split(_sniff_separator(file))}
        if {"rank", "risk_score"} <= names:
            return True
    return False


_SCORED_NOTE = "the input is a scored list"
_REJECTS_NOTE = "the input is a rejects file"
_REJECTS_COLUMNS = (INPUT_ROW, REJECT_REASON, REJECT_KINDS)


def scan_file(path: Path, kind: str, notes: list[str]) -> pl.LazyFrame:
    if kind == "parquet":
        try:
            pl.read_parquet_schema(path)
        except Exception as exc:  # polars raises several types for a broken footer
            raise DetectorError(
                f"Parquet file {path} cannot be read ({type(exc).__name__}): it is truncated "
                "or not Parquet; write it again or remove it from the input."
            ) from None
        names = list(pl.read_parquet_schema(path))
        _check_width(path, len(names))
        return pl.scan_parquet(path).drop(earlier_scores(path, names, notes))
    if path.stat().st_size == 0:
        raise DetectorError(f"Input file {path} is empty; it needs a header line and rows.")
    separator = _sniff_separator(path)
    _check_width(path, _header_line(path).count(separator) + 1)
    if separator != ",":
        notes.append(f"{path.name} read with {_SEPARATOR_NAMES[separator]} as the separator")
    try:
        lf = pl.scan_csv(
            path,
            infer_schema=False,
            separator=separator,
            encoding="utf8-lossy",
        )
        names = lf.collect_schema().names()
    except pl.exceptions.NoDataError:
        raise DetectorError(
            f"Input file {path} is empty; it needs a header line and rows."
        ) from None
    except pl.exceptions.PolarsError as exc:
        said = cut_runs(str(exc).splitlines()[0])
        raise DetectorError(f"CSV file {path} cannot be read: {said}.") from None
    broken = [i + 1 for i, name in enumerate(names) if "\ufffd" in name]
    if broken:
        notes.append(
            f"warning: {path.name} has a header name that is not UTF-8 text (column "
            f"{broken[0]}); it matches no column of the schema, so what that column holds "
            "is not used: save the file as UTF-8"
        )
    for name in names:
        base = re.sub(r"_duplicated_\d+$", "", name)
        if base != name and base in names:
            raise DetectorError(
                f"CSV file {path} has the column '{base}' twice in its header; remove or "
                "rename one of them."
            )
    return lf.drop(earlier_scores(path, names, notes))


def hive_keys(path: Path, roots: list[Path]) -> dict[str, str]:
    """The ``key=value`` folders between a partition and the folder given as input."""
    root = next((r for r in roots if r in path.parents), None)
    if root is None:
        return {}
    return dict(part.split("=", 1) for part in path.relative_to(root).parent.parts if "=" in part)


def _with_hive_keys(lf: pl.LazyFrame, path: Path, roots: list[Path]) -> pl.LazyFrame:
    """Columns a hive-style folder keeps in its path (``declaration_date=2025-01-01/``).

    Some writers leave the partition column out of the files; it is read from the path,
    as text, when the file lacks it.
    """
    keys = hive_keys(path, roots)
    if not keys:
        return lf
    names = lf.collect_schema().names()
    missing = [pl.lit(value).alias(key) for key, value in keys.items() if key not in names]
    return lf.with_columns(missing) if missing else lf


def csv_data_lines(path: Path) -> int:
    """Physical lines of a CSV file after its header (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines, last = lines + block.count(b"\n"), block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def line_note(path: Path, lines: int, rows: int) -> str | None:
    """A sentence when a CSV file's rows are fewer than its lines (quoted fields span lines)."""
    if rows == lines:
        return None
    return (
        f"warning: {path} has {lines:,} lines after its header but {rows:,} rows were read: "
        "quoted cells span lines (a stray quote joins lines); check the rows rejected "
        "for it, or the file's quoting"
    )


@contextmanager
def _records(path: Path):
    """The CSV file's records as Python's reader sees them, with no limit on a cell's
    length (the reader's own, 128 KB, would fail on a cell a hostile file makes long):
    what the explanations of a file Polars cannot read walk through."""
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            yield csv.reader(handle, delimiter=_sniff_separator(path))
    finally:
        csv.field_size_limit(limit)


def _ragged_line(path: Path) -> str | None:
    """Where a CSV file has a row with more fields than its header, in words."""
    with _records(path) as reader:
        width = len(next(reader, []))
        end = reader.line_num
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if len(record) <= width:
                    continue
                if start == end:
                    return (
                        f"CSV file {path} line {end} has {len(record)} fields, its header "
                        f"has {width}; check the separator and the quoting of that line."
                    )
                return (
                    f"CSV file {path} lines {start} to {end} make one row of {len(record)} "
                    f"fields, its header has {width}: a quote on line {start} runs on to "
                    f"line {end}; check the quoting of line {start}."
                )
        except csv.Error:  # the quoting at fault: said by the next explanation
            return None
    return None


def _quote_line(path: Path) -> str | None:
    """Where a quoted cell of a CSV file opens and runs over several lines, in words."""
    with _records(path) as reader:
        next(reader, None)
        end = reader.line_num
        try:
            for _ in reader:
                if reader.line_num - end > 1:
                    break
                end = reader.line_num
            else:
                return _unclosed_last_line(path, end)
        except csv.Error:
            pass
        last = reader.line_num
    return (
        f"CSV file {path} has a quote on line {end + 1} that is not closed on that line "
        f"(the cell runs on to line {max(last, end + 1)}); fix the quoting of "
        f"line {end + 1}."
    )


def _unclosed_last_line(path: Path, lines: int) -> str | None:
    """A quote opened on a file's last line and never closed, in words."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        last = deque(handle, maxlen=1)
    if not last or last[0].count('"') % 2 == 0:
        return None
    return (
        f"CSV file {path} has a quote on its last line ({lines}) that is never closed; "
        f"fix the quoting of line {lines}."
    )


def _inner_quote_line(path: Path) -> str | None:
    """Where a CSV file has a quote inside a cell that is not quoted whole (``IM0"28``),
    in words: the reader Polars uses stops there."""
    with _records(path) as reader:
        header = next(reader, [])
        try:
            for record in reader:
                for name, cell in zip(header, record, strict=False):
                    if '"' in cell:
                        shown = cell if len(cell) <= 40 else cell[:40] + "..."
                        return (
                            f"CSV file {path} line {reader.line_num} has a quote inside the "
                            f"cell '{shown}' of column {name!r}; quote the whole cell and "
                            'double the quote inside it ("IM0""28"), or remove it.'
                        )
        except csv.Error:
            return None
    return None


def read_failure(path: Path, exc: Exception) -> str:
    """A CSV file Polars cannot read, explained with the line at fault where it can be
    found: the file's first fault of each kind looked for in turn, whatever Polars'
    message (which differs between its readers), so that the same file gets the same
    sentence however it is read."""
    return (
        _ragged_line(path)
        or _quote_line(path)
        or _inner_quote_line(path)
        or f"CSV file {path} cannot be read: {cut_runs(str(exc).splitlines()[0])}."
    )


def cut_runs(text: str, keep: int = 60) -> str:
    """A message with every run of more than ``keep`` characters without a space cut
    short: Polars quotes the cell it could not read, which a hostile file makes as long
    as it likes (megabytes in one line of an operator's log).

    >>> cut_runs("could not parse `" + "A" * 500 + "` as str", keep=5)
    'could not parse `AAAAA... (500 characters)` as str'
    """
    return re.sub(
        rf"[^\s`'\"]{{{keep + 1},}}",
        lambda m: f"{m.group(0)[:keep]}... ({len(m.group(0)):,} characters)",
        text,
    )


def scan_input(
    paths: str | Path | list[str | Path] | tuple[str | Path, ...],
    notes: list[str] | None = None,
) -> pl.LazyFrame:
    """Lazily scan CSV files, Parquet files, folders or globs of Parquet partitions.

    CSV cells are read as strings, so that codes keep their leading zeros; the mapping
    step parses numbers and dates and rejects what does not parse. A column
    ``input_row`` numbers the data rows from 1 in the order read. File-level repairs
    (a separator other than the comma) are appended to ``notes``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files = input_files(paths)
    if not files:
        raise DetectorError("No input files were given; pass at least one CSV or Parquet file.")
    notes = [] if notes is None else notes
    roots = [Path(str(p)) for p in paths if Path(str(p)).is_dir()]
    frames = [_with_hive_keys(scan_file(path, kind, notes), path, roots) for path, kind in files]
    lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return lf.with_row_index(INPUT_ROW, offset=1)


# ---------------------------------------------------------------------------- mapping


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as stripped text, null when blank; integral floats lose their '.0'.

    The quote that this engine's own CSV output puts before a text that a spreadsheet
    would run as a formula (``'=...``) is removed: a list read back keeps its ids. Lists
    and records become JSON text, bytes hexadecimal text.
    """
    col = pl.col(name)
    if dtype == pl.String:
        text = _blank_to_null(col)
        guarded = text.str.contains(r"^' *[=+\-@\t\r]")
        return pl.when(guarded).then(text.str.slice(1)).otherwise(text)
    if dtype.is_float():
        return (
            pl.when(col == col.round(0))
            .then(col.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(col.cast(pl.String))
        )
    if dtype.is_nested():
        encoded = pl.struct(col).struct.json_encode()
        return encoded.str.replace(r'^\{".*?":', "").str.strip_suffix("}")
    if dtype == pl.Binary:
        return col.bin.encode("hex")
    if isinstance(dtype, pl.Duration):
        return col.dt.to_string()
    return col.cast(pl.String)


#: What each canonical column may be read from, besides text.
def _readable(name: str, dtype: pl.DataType) -> bool:
    if dtype in (pl.String, pl.Null) or isinstance(dtype, pl.Categorical | pl.Enum):
        return True
    if name == "declaration_date":
        return dtype == pl.Date or isinstance(dtype, pl.Datetime)
    if name == "inspected":
        return dtype == pl.Boolean or dtype.is_numeric()
    if name in CANONICAL_SCHEMA and CANONICAL_SCHEMA[name] == pl.String:
        return dtype.is_integer() or dtype.is_float()
    # A yes/no answers a label; a mass, a value or a rate it would give as 1 or 0.
    return dtype.is_numeric() or (dtype == pl.Boolean and name in ("fraud", "true_fraud"))


def _check_types(schema: pl.Schema, source: str) -> None:
    """A declaration column of a type no value can be read from is refused by name."""
    known = {**CANONICAL_SCHEMA, **LABEL_SCHEMA, **TRUTH_SCHEMA}
    for name, dtype in schema.items():
        if name in known and not _readable(name, dtype):
            raise DetectorError(
                f"{source}: column '{name}' is of type {dtype}, which holds no "
                f"{known[name]} value per row; write it as text or as a plain "
                f"{'date' if name == 'declaration_date' else 'number or text'} column."
            )


def quote_reason(text: str, raw: pl.Expr) -> pl.Expr:
    """A reject reason quoting the received value."""
    return format_text(text, raw.cast(pl.String).fill_null("").str.slice(0, 40))


class Reason(NamedTuple):
    """Why a row is rejected: its kind (data, for counting) and its words (for people)."""

    kind: str
    text: pl.Expr


def _reason(template: str, raw: pl.Expr) -> Reason:
    """A reason quoting the received value; its kind is the template without the value
    and without what follows its colon (``malformed hs_code '{}': ...`` is
    ``malformed hs_code``)."""
    kind = template.replace(" '{}'", "").replace("'{}'", "").split(":")[0].strip()
    return Reason(kind, quote_reason(template, raw))


def _fixed(text: str) -> Reason:
    return Reason(text.split(":")[0], pl.lit(text))


class _Layers:
    """Intermediate columns computed once, in layers, and referred to by name.

    Polars evaluates each expression of a ``with_columns`` on its own, so a parsed value
    that several checks need is materialised in one layer and read by the next.
    """

    #: The layer before which ``verdicts`` (whole-column aggregations) are made.
    VERDICT_LAYER = 2

    def __init__(self) -> None:
        self.layers: list[dict[str, pl.Expr]] = []
        self.verdicts: dict[str, pl.Expr] = {}

    def put(self, layer: int, name: str, expr: pl.Expr) -> pl.Expr:
        while len(self.layers) <= layer:
            self.layers.append({})
        self.layers[layer][name] = expr.alias(name)
        return pl.col(name)

    def verdict(self, name: str, expr: pl.Expr) -> pl.Expr:
        """A whole column's answer (an aggregation of the layers before
        ``VERDICT_LAYER``), read by the layers from it on as a column of its own."""
        self.verdicts[name] = expr.alias(name)
        return pl.col(name)

    def apply(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        for number, layer in enumerate(self.layers):
            if number == self.VERDICT_LAYER and self.verdicts:
                # Made on the cells parsed so far, held once (cached): an aggregation in
                # a plan that reads a file would hold back its reading in parallel
                # (1M rows: 5.3 s against 4.6 s, bench/read_speed_against.py).
                lf = lf.cache().with_columns(*self.verdicts.values())
            lf = lf.with_columns(*layer.values())
        return lf


TRUE_WORDS = ["1", "1.0", "true", "t", "yes", "y"]
FALSE_WORDS = ["0", "0.0", "false", "f", "no", "n"]


def canonicalise(
    lf: pl.LazyFrame,
    profile: Profile | str | None = None,
    source: str = "the input",
    expected_currency: str | None = None,
    duplicates: pl.Series | None = None,
    plain: Collection[str] = (),
) -> Canonical:
    """Map a scanned input onto the canonical schema and mark what cannot be used.

    Returns the input's own columns (renamed by the profile), the parsed canonical and
    label columns under a private prefix, repair flags and one flag per failed check;
    :func:`split` turns it into the accepted and rejected tables, wording the reasons
    for the rejected rows only. Values in other currencies are converted with the
    profile's rates; with ``expected_currency`` (a model's), rows in any other currency
    are rejected. ``duplicates``: the ``input_row`` numbers that repeat an earlier id of
    the whole batch, when ``lf`` is only a piece of it (see :func:`duplicate_rows`);
    by default the earlier row is looked for in ``lf``. ``plain``: the text columns
    whose every cell is written plainly (:func:`plain_columns`), taken as they are (the
    same values, and no repair, but an entity's id put in its record's form).
    """
    profile = load_profile(profile)
    schema = lf.collect_schema()
    renames = {src: dst for src, dst in profile.columns.items() if src in schema}
    taken = [dst for dst in renames.values() if dst in schema and dst not in renames]
    if taken:
        raise DetectorError(
            f"{source}: the '{profile.name}' profile renames a column onto '{taken[0]}', "
            "which the input already has; map one of them onto another name."
        )
    lf = lf.rename(renames)
    schema = lf.collect_schema()

    constants = dict(profile.constants)
    if profile.currency and "currency" not in schema:
        constants["currency"] = profile.currency
    consts = [pl.lit(v).alias(k) for k, v in constants.items() if k not in schema]
    if consts:
        lf = lf.with_columns(consts)
        schema = lf.collect_schema()

    _check_types(schema, source)
    missing = [c for c in REQUIRED_COLUMNS if c not in schema]
    if missing:
        found = [c for c in schema if c != INPUT_ROW]
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
        raise DetectorError(
            f"{source} has no column '{missing[0]}' after applying the '{profile.name}' "
            f"profile (columns found: {shown}); rename the column in the file "
            "or map it in a schema profile (--schema)."
        )

    m = _Mapping(schema, profile, expected_currency, constants)
    m.plain = frozenset(plain)
    for parse in _PARSERS:
        parse(m)
    _required(m)
    _duplicates(m, duplicates)
    return m.finish(lf)


class _Mapping:
    """One input being mapped: its working columns in layers, its checks and repairs.

    Every column parser reads the raw cells through :meth:`text`, writes its parsed
    column with :meth:`parsed`, and records a failed check (row is bad, reason worded
    from the raw text) or a repair (row was repaired): one record shared by all.
    """

    #: The layer of the checks and repairs: after every parsed column.
    LAST = 5

    def __init__(self, schema, profile: Profile, expected_currency, constants) -> None:
        self.schema, self.profile = schema, profile
        self.expected_currency, self.constants = expected_currency, constants
        self.cols = _Layers()
        self.checks: list[tuple[pl.Expr, Reason]] = []
        self.repairs: dict[str, pl.Expr] = {}
        #: Text columns written plainly (``plain_columns``).
        self.plain: frozenset[str] = frozenset()

    def text(self, name: str) -> pl.Expr:
        """Layer 0: the raw cell as stripped text, null when blank (a plainly written
        column's cell as it is: nothing to strip)."""
        if name in self.plain:
            return pl.col(name)
        return self.cols.put(0, f"__t_{name}", as_text(name, self.schema[name]))

    def parsed(self, name: str, expr: pl.Expr, layer: int = 1) -> pl.Expr:
        return self.cols.put(layer, _PREFIX + name, expr)

    def check(self, bad: pl.Expr, reason: Reason) -> None:
        self.checks.append((bad, reason))

    def mapped(self, name: str, expr: pl.Expr) -> pl.Expr:
        table = self.profile.values.get(name)
        return expr.replace(table) if table else expr

    def finish(self, lf: pl.LazyFrame) -> "Canonical":
        """The frame with every layer, one flag per check and repair, and the verdict."""
        for i, (bad, _) in enumerate(self.checks):
            self.cols.put(self.LAST, f"{_BAD}{i}", bad.fill_null(False))
        for what, expr in self.repairs.items():
            self.cols.put(self.LAST, REPAIR_PREFIX + what, expr.fill_null(False))
        flags = [pl.col(f"{_BAD}{i}") for i in range(len(self.checks))]
        lf = self.cols.apply(lf).with_columns(pl.any_horizontal(flags).alias(_BAD))
        reasons = [reason for _, reason in self.checks]
        return Canonical(lf, reasons, frozenset(_layer_names(self.cols)))


#: Letters of other scripts drawn like Latin ones (Cyrillic, Greek, and the Cyrillic
#: palochka and Lisu letters that pass for I), and the Latin letter each passes for;
#: and the wide forms of ASCII (``Ｉ``, ``０``), each its ASCII character.
_LOOK_ALIKES = {
    **dict(
        zip(
            "АВЕКМНОРСТХУІЈЅӀӏаеорсхуіјѕΑΒΕΖΗΙΚΜΝΟΡΤΥΧοꓲꓳ",
            "ABEKMHOPCTXYIJSIlaeopcxyijsABEZHIKMNOPTYXoIO",
            strict=True,
        )
    ),
    **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
}
#: Ids whose entity a look-alike is read as: never the declaration's own key, where
#: reading one as another would make two declarations one.
_ENTITY_IDS = ("importer_id", "declarant_id", "seller_id", "customs_office")


def _non_ascii(text: pl.Expr | pl.Series):
    return text.str.len_bytes() != text.str.len_chars()


def _fold_look_alikes(ids: pl.Series) -> pl.Series:
    odd = _non_ascii(ids).fill_null(False)
    if not odd.any():  # the usual batch: plain ids, nothing to fold
        return ids
    at = odd.arg_true()
    some = ids.gather(at)
    folded = some.str.replace_many(_LOOK_ALIKES)
    # Drawn like a Latin id: plain ASCII once folded, and holding an ASCII letter or
    # digit or a wide form (a name wholly in Cyrillic, ВЕКТОР, is a name, not a disguise).
    latin = ~_non_ascii(folded) & some.str.contains(r"[A-Za-z0-9\uFF01-\uFF5E]")
    kept = pl.select(pl.when(latin).then(folded).otherwise(some)).to_series()
    return ids.clone().scatter(at, kept)


#: Ids of the entities whose record the engine keeps (importer, broker, seller): read
#: in one form, so that writing one in small letters or with a dash does not make it
#: an entity without a record.
_RECORD_IDS = ("importer_id", "declarant_id", "seller_id")


def _record_form(ids: pl.Series) -> pl.Series:
    odd = ids.str.contains(r"[^A-Z0-9]").fill_null(False)
    if not odd.any():  # the usual batch: capitals and digits only
        return ids
    at = odd.arg_true()
    some = ids.gather(at)
    folded = some.str.to_uppercase().str.replace_all(r"[^\p{L}\p{N}]", "")
    # An id of nothing but punctuation is kept as written: there is no form to read.
    kept = pl.select(pl.when(folded.str.len_chars() > 0).then(folded).otherwise(some)).to_series()
    return ids.clone().scatter(at, kept)


def record_form(text: pl.Expr) -> pl.Expr:
    """An entity's id as its record knows it: in capitals, without spaces or
    punctuation (letters and digits of any script kept), so that ``im-00801``,
    ``IM 00801`` and ``Im.00801`` are the record of ``IM00801``, as a customs officer
    reads them.

    >>> import polars as pl
    >>> ids = pl.DataFrame({"id": ["im-00801", "IM 00801", "ООО Ромашка", "--"]})
    >>> ids.select(record_form(pl.col("id")))["id"].to_list()
    ['IM00801', 'IM00801', 'ОООРОМАШКА', '--']
    """
    return text.map_batches(_record_form, return_dtype=pl.String)


def latin_look_alike(text: pl.Expr) -> pl.Expr:
    """An entity id as the plain Latin text it is drawn like, when it is one: wide
    forms (``ＩＭ００２８``) and letters of other scripts that look Latin (``IМ00028``
    with a Cyrillic М) read as ``IM00028``, so that the commonest look-alikes cannot
    take an entity out of its record. Text with other letters (a Cyrillic name) or
    wholly of another script is kept, and so are compatibility forms (``D²``).

    >>> import polars as pl
    >>> ids = pl.DataFrame({"id": ["IМ00028", "ＩＭ００２８", "ООО Ромашка", "ВЕКТОР"]})
    >>> ids.select(latin_look_alike(pl.col("id")))["id"].to_list()
    ['IM00028', 'IM0028', 'ООО Ромашка', 'ВЕКТОР']
    """
    return text.map_batches(_fold_look_alikes, return_dtype=pl.String)


def _text_columns(m: "_Mapping") -> None:
    """Ids and other text: valid UTF-8, on one line, without hidden characters; an id
    drawn like Latin text read as it (``latin_look_alike``), and the id of an entity
    with a record in capitals without spaces or punctuation (``record_form``), each
    repair counted. (A plainly written column, printable ASCII, has no hidden characters
    nor look-alikes.)"""
    for name in _ID_COLUMNS + ("supplementary_unit", "fraud_type", "true_fraud_type"):
        if name not in m.schema:
            continue
        plain, typed = name in m.plain, m.schema[name].is_numeric()
        read = pl.col(name) if plain else as_text(name, m.schema[name])
        if not plain and not typed and name in _ENTITY_IDS:
            read = latin_look_alike(read)
        if name in _RECORD_IDS and not typed:
            # Read once as written (look-alikes folded), then in its record's form; a
            # plainly written column is read from the input's own, not a copy of it.
            read = read if plain else m.cols.put(0, f"__r_{name}", read)
            value = m.parsed(name, record_form(read), layer=1)
            m.repairs[f"{name} read in capitals without spaces or punctuation"] = value != read
        else:
            value = read = m.parsed(name, read, layer=0)
        if plain:
            continue
        if not typed and name in _ENTITY_IDS:  # (a blank of another script stripped too)
            written = pl.col(name).cast(pl.String)
            m.repairs[f"{name} read as plain Latin text"] = _non_ascii(written) & ~_non_ascii(read)
        m.check(  # (as written: the record's form keeps no replacement character)
            read.str.contains("\ufffd", literal=True),
            _reason(f"{name} '{{}}' is not valid UTF-8 text: save the file as UTF-8", read),
        )
    # A code or an id never spans lines: one that does is several lines of the file
    # joined by a stray quote, and its numbers belong to another line. Nor does it hold
    # control characters or the invisible ones that make two ids look alike.
    for name in m.schema:
        if name in CANONICAL_SCHEMA and m.schema[name] == pl.String and name not in m.plain:
            m.check(
                pl.col(name).str.contains(HIDDEN_CHARACTERS)
                & ~pl.col(name).str.contains(r"[\r\n]"),
                _reason(
                    f"{name} '{{}}' holds control or invisible characters (shown escaped); "
                    "an id or a code is plain text",
                    pl.col(name).map_batches(_escaped, return_dtype=pl.String),
                ),
            )
            m.check(
                pl.col(name).str.contains("\n", literal=True),
                _reason(
                    f"{name} '{{}}' spans lines: an id or a code is one line of text; a "
                    "stray quote in the file may have joined several lines into this row "
                    "(fix the quoting of that line)",
                    pl.col(name).str.replace_all(r"\r?\n", " / "),
                ),
            )
            m.check(
                pl.col(name).str.contains("\r", literal=True)
                & ~pl.col(name).str.contains("\n", literal=True),
                _reason(
                    f"{name} '{{}}' holds a carriage return (shown as \\r): an id or a code "
                    "is one line of plain text",
                    pl.col(name).str.replace_all("\r", "\\r", literal=True),
                ),
            )


def _hs_code(m: "_Mapping") -> None:
    """The tariff code: written as a number's decimals ('730890.0', as spreadsheets
    export it) read without them, punctuation removed, zero-padded, 6 to 10 ASCII digits
    (a code in other digits, full-width or Arabic-Indic, is refused: it would match no
    peer group)."""
    if "hs_code" in m.schema:
        raw = m.text("hs_code")
        # A number's one decimal zero; '0409.00' is a dotted code, not a number.
        as_number = raw.str.contains(r"^[0-9]{5,10}\.0$")
        whole = pl.when(as_number).then(raw.str.replace(r"\.0$", "")).otherwise(raw)
        digits = m.cols.put(1, "__hs_digits", whole.str.replace_all(r"[\s.\-]", ""))
        length = m.cols.put(2, "__hs_len", digits.str.len_chars())
        if m.profile.hs_digits:
            target = (
                pl.when(length < m.profile.hs_digits).then(m.profile.hs_digits).otherwise(length)
            )
        else:
            target = pl.when(length % 2 == 1).then(length + 1).otherwise(length)
        code = m.parsed("hs_code", digits.str.pad_start(target, "0"), layer=3)
        # No chapter 00, and no code below zero ('-81060' is a number, not a code).
        ok = (
            code.str.contains(r"^(0[1-9]|[1-9][0-9])[0-9]{4,8}$")
            & (length >= 5)
            & ~raw.str.starts_with("-")
        )
        m.repairs["hs_code written as a number: decimals removed"] = as_number
        m.repairs["hs_code punctuation removed"] = ~as_number & raw.str.contains(r"[\s.\-]")
        m.repairs["hs_code zero-padded"] = ok & (code.str.len_chars() > length)
        m.check(
            raw.is_not_null() & ~ok,
            _reason("malformed hs_code '{}': expected 6 to 10 digits, chapter 01 to 99", raw),
        )


def _countries(m: "_Mapping") -> None:
    """Origin and departure: upper-cased alpha-2 codes, a profile's names mapped."""
    for name in _COUNTRY_COLUMNS:
        if name in m.schema:
            raw = m.text(name)
            upper = m.parsed(name, m.mapped(name, raw.str.to_uppercase()))
            m.repairs[f"{name} upper-cased"] = raw != raw.str.to_uppercase()
            m.check(
                upper.is_not_null() & ~upper.str.contains(r"^[A-Z]{2}$"),
                _reason(f"malformed {name} '{{}}': expected an ISO 3166-1 alpha-2 code", raw),
            )


def _transit_countries(m: "_Mapping") -> None:
    """The countries passed through: alpha-2 codes joined by ';'."""
    if "transit_countries" in m.schema:
        raw = m.text("transit_countries")
        norm = raw.str.to_uppercase().str.replace_all(r"[\s,>|/]+", ";").str.strip_chars(";")
        m.repairs["transit_countries upper-cased"] = raw != raw.str.to_uppercase()
        m.repairs["transit_countries separators read as ';'"] = (
            raw.str.to_uppercase().str.strip_chars(";") != norm
        )
        norm = m.parsed("transit_countries", pl.when(norm.str.len_chars() > 0).then(norm))
        m.check(
            norm.is_not_null() & ~norm.str.contains(r"^[A-Z]{2}(;[A-Z]{2})*$"),
            _reason("malformed transit_countries '{}': expected alpha-2 codes joined by ';'", raw),
        )


def _transport_mode(m: "_Mapping") -> None:
    """The transport mode, lower-cased; an unknown one becomes 'other'."""
    if "transport_mode" in m.schema:
        raw = m.text("transport_mode")
        mode = m.cols.put(1, "__mode", m.mapped("transport_mode", raw).str.to_lowercase())
        known = mode.is_in(list(TRANSPORT_MODES))
        m.parsed(
            "transport_mode",
            pl.when(known | mode.is_null()).then(mode).otherwise(pl.lit("other")),
            layer=2,
        )
        m.repairs["transport_mode unknown, set to other"] = mode.is_not_null() & ~known


def _flow(m: "_Mapping") -> None:
    """Import (the default) or export."""
    if "flow" in m.schema:
        raw = m.text("flow")
        flow = m.parsed("flow", raw.str.to_lowercase().fill_null("import"))
        m.check(
            ~flow.is_in(["import", "export"]),
            _reason("malformed flow '{}': expected import or export", raw),
        )


def _currency(m: "_Mapping") -> None:
    """The currency: an ISO 4217 code, converted by the profile's rates, the model's."""
    if "currency" in m.schema:
        raw = m.text("currency")
        cur = raw.str.to_uppercase()
        cur = m.cols.put(
            1, "__currency", cur.fill_null(m.profile.currency) if m.profile.currency else cur
        )
        m.check(
            cur.is_not_null() & ~cur.str.contains(r"^[A-Z]{3}$"),
            _reason("malformed currency '{}': expected an ISO 4217 code", raw),
        )
        m.check(
            cur.str.contains(r"^[A-Z]{3}$") & ~cur.is_in(CURRENCIES),
            _reason("unknown currency '{}': not an ISO 4217 code", raw),
        )
        if m.profile.rates:
            table = {m.profile.currency: 1.0, **m.profile.rates}
            rate = m.cols.put(
                2, "__rate", cur.replace_strict(table, default=None, return_dtype=pl.Float64)
            )
            m.check(
                cur.is_not_null() & rate.is_null(),
                _reason(f"no rate for currency '{{}}' in profile {m.profile.name}", cur),
            )
            m.repairs[f"customs_value converted to {m.profile.currency}"] = (
                cur != m.profile.currency
            )
            m.parsed(
                "currency",
                pl.when(rate.is_not_null()).then(pl.lit(m.profile.currency)).otherwise(cur),
                layer=3,
            )
        else:
            m.parsed("currency", cur, layer=2)
        if m.expected_currency:
            final = pl.col(_PREFIX + "currency")
            m.check(
                final.is_not_null() & (final != m.expected_currency),
                _reason(
                    f"currency '{{}}' differs from the model's {m.expected_currency}: add a "
                    "rates table to the m.schema profile",
                    final,
                ),
            )


#: The hours, minutes and seconds a stamp's time writes after its date, when it writes
#: them as digits: each must be on the clock (24:00 is the day's end).
_CLOCK = r"^\S+[ T]+(\d+):(\d+)(?::(\d+))?"


def _declaration_date(m: "_Mapping") -> None:
    """The date: a date, a datetime or text in one of the known formats."""
    dtype = m.schema["declaration_date"]
    if dtype == pl.Date:
        m.parsed("declaration_date", pl.col("declaration_date"))
    elif isinstance(dtype, pl.Datetime):
        m.parsed("declaration_date", pl.col("declaration_date").dt.date())
    else:
        raw = m.text("declaration_date")
        # A datetime stamp keeps only its date part.
        day = raw.str.split(" ").list.first().str.split("T").list.first()
        day = m.cols.put(1, "__day", day)
        when = m.parsed(
            "declaration_date",
            pl.coalesce([day.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS]),
            layer=2,
        )
        # Written as a date is, but no day of the calendar (2026-02-30): said so.
        shaped = day.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        m.check(
            raw.is_not_null() & when.is_null() & ~shaped,
            _reason("unparseable declaration_date '{}': expected YYYY-MM-DD", raw),
        )
        m.check(
            raw.is_not_null() & when.is_null() & shaped,
            _reason("impossible declaration_date '{}': no such day in the calendar", raw),
        )
        # The time a stamp carries is kept out, but it must be a time of day (not 25:00);
        # whatever follows it (a zone: +00, UTC, Z) is the stamp's own business.
        clock = [raw.str.extract(_CLOCK, i).cast(pl.Int64, strict=False) for i in (1, 2, 3)]
        m.check(
            when.is_not_null()
            & ((clock[0] > 24) | (clock[1] > 59) | (clock[2] > 60)).fill_null(False),
            _reason("impossible declaration_date '{}': no such time of day", raw),
        )
    when = pl.col(_PREFIX + "declaration_date")
    # Lodged at the latest today (a day's grace for time zones).
    latest = date.today() + timedelta(days=1)
    m.check(
        when > latest,
        _reason(f"impossible declaration_date '{{}}': after today, {latest}", when),
    )
    m.check(
        when.dt.year().is_between(*YEARS).not_(),
        _reason(
            f"impossible declaration_date '{{}}': outside the years {YEARS[0]}-{YEARS[1]}",
            when,
        ),
    )


def _numbers(m: "_Mapping") -> None:
    """Mass, value, duty and the numeric labels: separators and decimal commas read."""
    for name in _NUMBERS:
        if name not in m.schema:
            continue
        target = f"__num_{name}" if name in ("fraud", "true_fraud") else _PREFIX + name
        if m.schema[name].is_numeric() or m.schema[name] == pl.Boolean:
            raw = pl.col(name)
            number = raw.cast(pl.Float64) + 0.0  # -0.0 is 0
        else:
            raw, number = _text_number(m, name)
        unread = raw.is_not_null()
        if name in _LABEL_NUMBERS:
            # A label is never needed to score: NaN, as dataframes write "unknown", is
            # no outcome, not a reason to refuse the declaration.
            nan = m.cols.put(2, f"__nan_{name}", number.is_nan().fill_null(False))
            m.repairs[f"{name} NaN read as no outcome"] = nan
            number, unread = number.fill_nan(None), unread & ~nan
        if name == "revenue_recovered":
            # An amount recovered is never negative: a label, so no amount, not a reason
            # to refuse the declaration. The checks below read the amount as written.
            negative = m.cols.put(2, f"__neg_{name}", (number < 0).fill_null(False))
            m.repairs[f"negative {name} read as no amount"] = negative
            m.cols.put(2, target, pl.when(number < 0).then(None).otherwise(number))
            value = number
        else:
            value = m.cols.put(2, target, number)
        m.check(unread & value.is_null(), _reason(f"non-numeric {name} '{{}}'", raw))
        m.check(
            value.is_nan() | value.is_infinite(),
            _reason(f"{name} '{{}}' is not a finite number", raw),
        )
        if name in _NON_NEGATIVE:
            m.check(value < 0, _reason(f"negative {name} '{{}}'", raw))
        if name in PLAUSIBLE_MIN:
            least = PLAUSIBLE_MIN[name]
            m.check(
                (value > 0) & (value < least),
                _reason(f"{name} '{{}}' is implausibly small (above 0, under {least:.0e})", raw),
            )
        if name in PLAUSIBLE_MAX:
            limit = PLAUSIBLE_MAX[name]
            m.check(
                value.is_finite() & (value > limit),
                _reason(f"{name} '{{}}' is implausibly large (over {limit:.0e})", raw),
            )
        if name == "fraud":
            m.check(
                value.is_not_null() & ~value.is_in([0.0, 1.0, 2.0]),
                _reason("malformed fraud '{}': expected 0 or 1", raw),
            )
        if name == "true_fraud":
            m.check(
                value.is_finite() & ~value.is_in([0.0, 1.0]),
                _reason("malformed true_fraud '{}': expected 0 or 1", raw),
            )


def _text_number(m: "_Mapping", name: str) -> tuple[pl.Expr, pl.Expr]:
    """A column of numbers written as text: its cells, and their values read with the
    column's style of separators (``_number_style``), each repair counted."""
    if name in m.plain:
        # Every cell a plain number: nothing to strip, no separator to read.
        return pl.col(name), pl.col(name).cast(pl.Float64, strict=False) + 0.0
    raw = m.text(name)
    # Layer 0, from the cell itself (the style flags of layer 1 read it): blanks,
    # underscores and quotes between digits removed, a blank cell null.
    string = m.schema[name] == pl.String
    cell = pl.col(name) if string else as_text(name, m.schema[name])
    blanks = cell.str.replace_all(r"[\s_']", "")
    bare = m.cols.put(0, f"__bare_{name}", pl.when(blanks.str.len_bytes() > 0).then(blanks))
    thousands, comma, points, ambiguous = _number_style(m, name, bare)
    number = (
        pl.when(thousands)
        .then(bare.str.replace_all(",", ""))
        .when(comma)
        .then(bare.str.replace_all(".", "", literal=True).str.replace(",", "."))
        .when(points)
        .then(bare.str.replace_all(".", "", literal=True))
        .otherwise(bare)
        .cast(pl.Float64, strict=False)
        + 0.0
    )
    m.repairs[f"{name} thousands separators removed"] = thousands | points
    m.repairs[f"{name} spaces, _ or ' between digits removed"] = raw != bare
    m.repairs[f"{name} decimal comma read as a point"] = comma
    m.check(
        ambiguous,
        _reason(
            f"ambiguous {name} '{{}}': the column writes decimals both with a point "
            "and with a comma, so this number reads two ways (write it without "
            "thousands separators)",
            raw,
        ),
    )
    return raw, number


def _number_style(
    m: "_Mapping", name: str, bare: pl.Expr
) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """Which cells of a column of numbers (as text, blanks removed) have thousands
    commas, a decimal comma, or thousands points, and which read two ways in a column
    that writes both styles (to be refused).

    A cell such as "1,234" or "2.500" reads two ways; the column's other cells decide:
    where some cell has a decimal comma ("5000,50", "1.234,5", "1.234.567") and none a
    decimal point or thousands commas ("2.5", "1,234.50", "1,234,567"), the column
    writes decimals with a comma and "1,234" is 1.234, "2.500" 2500; otherwise a point
    (as before: "1,234" is 1234, "2.500" 2.5). A column that writes both has no way to
    tell: its ambiguous cells are refused. (A batch read in pieces decides per piece.)
    """

    # Each cell read once (layer 1): two patterns, and its commas and points counted
    # (a literal count costs a fraction of a pattern); the column's verdict from those.
    def cell(what: str, expr: pl.Expr) -> pl.Expr:
        return m.cols.put(1, f"__{what}_{name}", expr)

    n_commas = cell("commas", bare.str.count_matches(",", literal=True).fill_null(0))
    n_points = cell("points", bare.str.count_matches(".", literal=True).fill_null(0))
    by_thousands = cell("thousands", bare.str.contains(_THOUSANDS).fill_null(False))
    by_comma = cell("comma", bare.str.contains(_DECIMAL_COMMA).fill_null(False))
    by_points = cell("tpoints", bare.str.contains(_THOUSAND_POINTS).fill_null(False))
    amb_comma = by_thousands & (n_commas == 1) & (n_points == 0)  # "1,234"
    amb_point = by_points & (n_points == 1)  # "2.500"
    eu_cell = (by_comma & ~amb_comma) | (by_points & ~amb_point)
    us_cell = (by_thousands & ~amb_comma) | ((n_points == 1) & (n_commas == 0) & ~amb_point)
    # The column's two verdicts, made once on the cells' flags (``_Layers.verdict``).
    eu = m.cols.verdict(f"__eu_{name}", eu_cell.any())
    us = m.cols.verdict(f"__us_{name}", us_cell.any())
    eu_column = eu & ~us
    thousands = by_thousands & ~(amb_comma & eu_column)
    comma = by_comma & ~thousands
    points = by_points & eu_column
    ambiguous = (amb_comma | amb_point) & eu & us
    return thousands, comma, points, ambiguous


def _labels(m: "_Mapping") -> None:
    """Values converted to the profile's currency; the labels graded."""
    if m.profile.rates and "currency" in m.schema:
        value = pl.col(_PREFIX + "customs_value")
        m.parsed("customs_value", value * pl.col("__rate"), layer=3)

    # Labels: fraud > 0 is fraud (KCS grades critical fraud 2); inspected defaults to
    # "has an outcome".
    label_layer = 3
    if "fraud" in m.schema:
        fraud = pl.col("__num_fraud")
        graded = pl.when(fraud > 0).then(1).when(fraud == 0).then(0).cast(pl.Int8)
        m.repairs["fraud 2 (critical) read as fraud 1"] = fraud == 2
        if "inspected" in m.schema:
            # An outcome is an inspection's: on a declaration not inspected it is none.
            uninspected = (pl.col(_PREFIX + "inspected") == False) & fraud.is_not_null()  # noqa: E712
            m.repairs["fraud on a declaration not inspected read as no outcome"] = uninspected
            graded = pl.when(uninspected).then(None).otherwise(graded)
        m.parsed("fraud", graded, layer=label_layer)
    if "true_fraud" in m.schema:
        truth = pl.col("__num_true_fraud")
        graded = pl.when(truth == 1).then(1).when(truth == 0).then(0).cast(pl.Int8)
        m.parsed("true_fraud", graded, layer=label_layer)
    if "inspected" in m.schema:
        if m.schema["inspected"] == pl.Boolean:
            m.parsed("inspected", pl.col("inspected"))
        else:
            flag = m.text("inspected").str.to_lowercase()
            known = flag.is_in(TRUE_WORDS) | flag.is_in(FALSE_WORDS)
            m.repairs["inspected neither true nor false read as unknown"] = (
                flag.is_not_null() & ~known
            )
            m.parsed(
                "inspected",
                pl.when(flag.is_in(TRUE_WORDS))
                .then(True)
                .when(flag.is_in(FALSE_WORDS))
                .then(False),
            )
    elif "fraud" in m.schema:
        m.parsed("inspected", pl.col(_PREFIX + "fraud").is_not_null(), layer=label_layer + 1)


def _required(m: "_Mapping") -> None:
    """Required values present; a blank line is one reason, not one per column."""
    # A blank line in a CSV file is one reason, not one per missing column.
    own = [c for c in m.schema if c != INPUT_ROW and c not in m.constants]
    # (Polars reads an empty line as nulls: no need to strip every cell of every row.)
    empty = m.cols.put(0, "__empty", pl.all_horizontal(pl.col(c).is_null() for c in own))
    names = _layer_names(m.cols)
    for i, name in enumerate(REQUIRED_COLUMNS):
        src = f"__t_{name}" if f"__t_{name}" in names else _PREFIX + name
        if name in m.plain or (name in ("declaration_date",) and src not in names):
            src = name  # a plainly written or a typed column
        missing = pl.col(src).is_null() & ~empty
        m.checks.insert(i, (missing, _fixed(f"missing required {name}")))
    m.checks.insert(0, (empty, _fixed("empty line: no values")))


def _duplicates(m: "_Mapping", duplicates: pl.Series | None) -> None:
    """An id seen on an earlier row of the batch: the earlier row is kept."""
    ident = pl.col(_PREFIX + "declaration_id")
    repeated = (
        ~ident.is_first_distinct()
        if duplicates is None
        else pl.col(INPUT_ROW).is_in(duplicates.cast(pl.UInt32).implode())
    )
    m.check(
        ident.is_not_null() & repeated,
        _reason("duplicate declaration_id '{}': an earlier row has the same id", ident),
    )


#: The column parsers, in the order their reasons are listed.
_PARSERS = (
    _text_columns,
    _hs_code,
    _countries,
    _transit_countries,
    _transport_mode,
    _flow,
    _currency,
    _declaration_date,
    _numbers,
    _labels,
)


#: Control characters, bidirectional overrides, zero-width characters: what no id or
#: code holds (the declarations' and the outcomes' ids alike).
HIDDEN_CHARACTERS = r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"


def _escaped(values: pl.Series) -> pl.Series:
    """Text with its hidden characters written out (``\x1b``, ``\u202e``)."""
    return values.map_elements(
        lambda v: v.encode("unicode_escape").decode("ascii"), return_dtype=pl.String
    )


def _layer_names(cols: _Layers) -> set[str]:
    return {name for layer in cols.layers for name in layer} | set(cols.verdicts)


def split(canonical: "Canonical") -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split a canonicalised frame into (accepted, rejects) LazyFrames.

    Accepted rows carry the canonical columns (typed), the labels when present, and the
    input's other columns; rejected rows carry the original values and the reason. The
    reasons are written only for the rejected rows.
    """
    lf = canonical.lf
    schema = lf.collect_schema()
    names = list(schema)
    parsed = [n[len(_PREFIX) :] for n in names if n.startswith(_PREFIX)]
    own = [
        n
        for n in names
        if n not in canonical.internal and not n.startswith((_PREFIX, REPAIR_PREFIX, _BAD))
    ]

    dtypes = {**CANONICAL_SCHEMA, **LABEL_SCHEMA, **TRUTH_SCHEMA}
    canonical_order = [c for c in dtypes if c in parsed]
    extras = [n for n in own if n not in dtypes and n != INPUT_ROW]
    accepted = lf.filter(~pl.col(_BAD)).select(
        *[pl.col(_PREFIX + c).cast(dtypes[c]).alias(c) for c in canonical_order],
        *[as_text(n, schema[n]).alias(n) for n in extras],
    )
    reasons = [
        pl.when(pl.col(f"{_BAD}{i}")).then(reason.text)
        for i, reason in enumerate(canonical.reasons)
    ]
    kinds = [
        pl.when(pl.col(f"{_BAD}{i}")).then(pl.lit(reason.kind))
        for i, reason in enumerate(canonical.reasons)
    ]
    rejects = lf.filter(pl.col(_BAD)).select(
        INPUT_ROW,
        # As received; a list or a record as its JSON text, which every format holds.
        *[
            as_text(n, schema[n]).alias(n) if schema[n].is_nested() else n
            for n in own
            if n != INPUT_ROW
        ],
        pl.concat_list(reasons).list.drop_nulls().list.join("; ").alias(REJECT_REASON),
        pl.concat_list(kinds).list.drop_nulls().alias(REJECT_KINDS),
    )
    return accepted, rejects


def duplicate_rows(canonicals: list["Canonical"]) -> pl.Series:
    """The ``input_row`` numbers whose declaration id an earlier row of the batch has.

    ``canonicals`` are the pieces of one batch. Ids are first grouped by a 64-bit hash
    (a small table however large the batch); only the few ids whose hash repeats are
    then compared as text.
    """
    ident = pl.col(_PREFIX + "declaration_id")
    ids = pl.concat(
        [
            c.lf.select(INPUT_ROW, ident.alias("id")).filter(pl.col("id").is_not_null())
            for c in canonicals
        ]
    )
    hashed = ids.select(pl.col("id").hash(_ID_SEED).alias("h"))
    repeated = (
        hashed.group_by("h").len().filter(pl.col("len") > 1).select("h").collect(engine="streaming")
    )
    if repeated.height == 0:
        return pl.Series(INPUT_ROW, [], pl.UInt32)
    candidates = (
        ids.filter(pl.col("id").hash(_ID_SEED).is_in(repeated["h"].implode()))
        .collect(engine="streaming")
        .sort(INPUT_ROW)
    )
    return candidates.filter(~pl.col("id").is_first_distinct())[INPUT_ROW].cast(pl.UInt32)


_ID_SEED = 7


def repair_totals(canonical: "Canonical") -> pl.LazyFrame:
    cols = [n for n in canonical.lf.collect_schema() if n.startswith(REPAIR_PREFIX)]
    return canonical.lf.filter(~pl.col(_BAD)).select(
        pl.len().alias("__rows"), *[pl.col(c).sum() for c in cols]
    )


def read_declarations(
    paths: str | Path | list[str | Path] | tuple[str | Path, ...],
    profile: Profile | str | None = None,
    expected_currency: str | None = None,
) -> Batch:
    """Read, map and validate declarations into accepted and rejected tables.

    Raises :class:`DetectorError` for a file-level problem: a missing or unreadable
    file, a required column absent after mapping, no rows at all.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    names = ", ".join(str(p) for p in paths)
    notes: list[str] = []
    lf = scan_input(paths, notes)
    try:
        acc, rej, repairs = read_checked(
            lf, profile, source=f"Input {names}", expected_currency=expected_currency
        )
    except pl.exceptions.PolarsError as exc:
        for path, kind in input_files(paths):
            where = read_failure(path, exc) if kind == "csv" else None
            if where and "cannot be read" not in where:
                raise DetectorError(where) from None
        raise DetectorError(
            f"Input {names} cannot be read: {cut_runs(str(exc).splitlines()[0])}."
        ) from None
    if acc.height + rej.height == 0:
        raise DetectorError(f"Input {names} has a header but no rows; nothing to do.")
    notes += _line_notes(paths, acc.height + rej.height)
    return Batch(accepted=acc, rejects=rej, repairs=repairs, notes=notes)


def plain_columns(frame: pl.DataFrame, profile: Profile | str | None = None) -> frozenset[str]:
    """The text columns (canonical names, after ``profile``'s renames) whose every cell
    is plainly written: printable ASCII, no blank at either end, no leading quote; for
    a column of numbers, every cell one that a plain cast reads (no thousands separator,
    no decimal comma, at most one point). Such a cell has nothing to strip, fold,
    repair or read a separator style from, so :func:`canonicalise` takes it as it is
    (a number by that cast; an entity's id still in its record's form, ``record_form``):
    on a million rows, most of what reading a clean file costs.

    >>> import polars as pl
    >>> cells = {"customs_value": ["12.5", "1e3", None], "net_mass_kg": ["1,5", "2", "3"]}
    >>> cells["importer_id"] = ["IM1", "IM 2", " IM3"]
    >>> cells["seller_id"] = ["SE1", "SE2", "SE3"]
    >>> sorted(plain_columns(pl.DataFrame(cells)))
    ['customs_value', 'seller_id']
    """
    renames = load_profile(profile).columns
    text = {
        renames.get(name, name): name
        for name, dtype in frame.schema.items()
        if dtype == pl.String and renames.get(name, name) in _TEXT_READ
    }
    if not text:
        return frozenset()

    def odd(name: str, src: str) -> pl.Expr:
        cell = pl.col(src)
        odd = ~cell.str.contains(_PLAIN_TEXT)
        if name in _NUMBERS:  # (the text rule too: whatever a cast may come to accept)
            odd = odd | cell.cast(pl.Float64, strict=False).is_null()
        return (cell.is_not_null() & odd).any()

    found = frame.select(odd(name, src).alias(name) for name, src in text.items())
    return frozenset(name for name in text if not found[name][0])


def read_checked(
    lf: pl.LazyFrame, profile: Profile | str | None = None, **options
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """An input read once, its plainly written columns found (:func:`plain_columns`),
    then mapped (:func:`canonicalise`, with ``options``) and split
    (:func:`accept_and_reject`)."""
    # A column missing or of no usable type is named before any row is read.
    canonicalise(lf, profile, **options)
    frame = lf.collect()
    plain = plain_columns(frame, profile)
    return accept_and_reject(canonicalise(frame.lazy(), profile, plain=plain, **options))


def accept_and_reject(
    canonical: Canonical,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The accepted rows, the rejected rows with their reasons, and the repairs counted.

    The one reading step of a whole input (:func:`read_declarations`) and of a piece of
    a batch (``detector.batch``): the cells are parsed once, then the split only filters
    and words the rejected rows' reasons.
    """
    canonical = Canonical(canonical.lf.collect().lazy(), canonical.reasons, canonical.internal)
    accepted, rejects = split(canonical)
    acc, rej, totals = pl.collect_all([accepted, rejects, repair_totals(canonical)])
    repairs = {
        k[len(REPAIR_PREFIX) :]: int(v)
        for k, v in totals.row(0, named=True).items()
        if k.startswith(REPAIR_PREFIX) and v
    }
    return acc, rej, repairs


def _line_notes(paths, rows: int) -> list[str]:
    """Whether the batch's rows match its files' lines (Parquet files count their rows)."""
    files = input_files(paths)
    csvs = [path for path, kind in files if kind == "csv"]
    if not csvs:
        return []
    lines = sum(csv_data_lines(p) for p in csvs) + sum(
        pl.scan_parquet(p).select(pl.len()).collect().item()
        for p, kind in files
        if kind == "parquet"
    )
    note = line_note(csvs[0] if len(csvs) == 1 else Path(", ".join(map(str, csvs))), lines, rows)
    return [note] if note else []


def check_clashes(clashing: list[str], source: str) -> None:
    """Refuse input columns named like a column the engine computes (``clashing``)."""
    if clashing:
        shown = ", ".join(f"'{c}'" for c in clashing[:5])
        raise DetectorError(
            f"{source} has the column(s) {shown}, named like a column this engine computes; "
            "rename or drop them in the file, or map them to other names in a schema profile."
        )


def check_missing_features(missing: list[str], source: str, profile: Profile) -> None:
    """Refuse an input without a column the model was trained to read as a feature
    (``missing``: a profile's ``features``, which no canonical row needs)."""
    if missing:
        named = {canonical: raw for raw, canonical in profile.columns.items()}
        shown = ", ".join(
            f"'{c}'" + (f" ('{named[c]}' in the {profile.name} layout)" if c in named else "")
            for c in missing[:5]
        )
        raise DetectorError(
            f"{source} lacks the column(s) {shown} that the model reads as features; "
            "score files of the layout the model was trained on (its schema profile), or "
            "train a model on files of this one."
        )


def reject_tally(rejects: pl.DataFrame) -> list[tuple[str, int]]:
    """Rejected rows counted by kind of reason, most frequent first."""
    if rejects.height == 0 or REJECT_KINDS not in rejects.columns:
        return []
    counts = rejects[REJECT_KINDS].explode().drop_nulls().value_counts(sort=True)
    return [(str(k), int(v)) for k, v in counts.iter_rows()]
