"""Reading declarations: lazy scans, mapping onto the canonical schema, validation.

Every input row ends up in exactly one of two places: the accepted canonical table or
the rejects table (original values plus a ``reject_reason``). Repairs that keep a row
(a lost leading zero, a lower-case country code) are counted and reported.
"""

import glob
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from detector._errors import DetectorError
from detector.profiles import Profile, load_profile
from detector.schema import (
    CANONICAL_SCHEMA,
    LABEL_SCHEMA,
    REQUIRED_COLUMNS,
    TRANSPORT_MODES,
    TRUTH_SCHEMA,
)

__all__ = [
    "Batch",
    "canonicalise",
    "read_declarations",
    "scan_input",
]

INPUT_ROW = "input_row"
REJECT_REASON = "reject_reason"
_PREFIX = "__c_"
_REPAIR = "__repair_"

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y")
_ID_COLUMNS = ("declaration_id", "importer_id", "declarant_id", "seller_id", "customs_office")
_COUNTRY_COLUMNS = ("country_origin", "country_departure")
_NUMERIC_COLUMNS = ("net_mass_kg", "supplementary_quantity", "customs_value", "duty_rate_pct")
_NON_NEGATIVE = ("net_mass_kg", "customs_value", "duty_rate_pct", "supplementary_quantity")


@dataclass
class Batch:
    """The result of reading declarations: accepted rows, rejected rows, and the tally."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    repairs: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def n_read(self) -> int:
        return self.accepted.height + self.rejects.height

    def summary(self) -> str:
        """One line: read = accepted + rejected."""
        line = (
            f"read {self.n_read:,} rows = {self.accepted.height:,} accepted "
            f"+ {self.rejects.height:,} rejected"
        )
        if self.repairs:
            fixes = ", ".join(f"{n:,} {what}" for what, n in self.repairs.items())
            line += f" (repaired: {fixes})"
        return line


# ---------------------------------------------------------------------------- scanning


def _expand(path_like: str | Path) -> list[tuple[Path, str]]:
    """Resolve one argument into (file, kind) pairs; kind is 'csv' or 'parquet'."""
    text = str(path_like)
    if any(ch in text for ch in "*?["):
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            raise DetectorError(f"No file matches {text}; check the pattern and the folder.")
        out = []
        for m in matches:
            out.extend(_expand(m))
        return out
    path = Path(text)
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.suffix.lower() in _PARQUET_SUFFIXES)
        if not parts:
            raise DetectorError(
                f"Folder {path} holds no .parquet partitions; point at a CSV or Parquet "
                "file, or at a folder of Parquet files."
            )
        return [(p, "parquet") for p in parts]
    if not path.exists():
        raise DetectorError(f"Input file {path} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return [(path, "csv")]
    if suffix in _PARQUET_SUFFIXES:
        return [(path, "parquet")]
    raise DetectorError(
        f"Input file {path} is neither CSV nor Parquet (suffix '{path.suffix}'); "
        "convert it to .csv or .parquet."
    )


def _scan_one(path: Path, kind: str) -> pl.LazyFrame:
    if kind == "parquet":
        try:
            pl.read_parquet_schema(path)
        except Exception as exc:  # polars raises several types for a broken footer
            raise DetectorError(
                f"Parquet file {path} cannot be read ({type(exc).__name__}): it is truncated "
                "or not Parquet; write it again or remove it from the input."
            ) from None
        return pl.scan_parquet(path)
    if path.stat().st_size == 0:
        raise DetectorError(f"Input file {path} is empty; it needs a header line and rows.")
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        lf = pl.scan_csv(
            path,
            infer_schema=False,
            separator=separator,
            encoding="utf8-lossy",
        )
        lf.collect_schema()
    except pl.exceptions.NoDataError:
        raise DetectorError(
            f"Input file {path} is empty; it needs a header line and rows."
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise DetectorError(f"CSV file {path} cannot be read: {exc}.") from None
    return lf


def scan_input(paths: str | Path | list[str | Path] | tuple[str | Path, ...]) -> pl.LazyFrame:
    """Lazily scan CSV files, Parquet files, folders or globs of Parquet partitions.

    CSV cells are read as strings, so that codes keep their leading zeros; the mapping
    step parses numbers and dates and rejects what does not parse. A column
    ``input_row`` numbers the data rows from 1 in the order read.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files = [pair for p in paths for pair in _expand(p)]
    if not files:
        raise DetectorError("No input files were given; pass at least one CSV or Parquet file.")
    frames = [_scan_one(path, kind) for path, kind in files]
    lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return lf.with_row_index(INPUT_ROW, offset=1)


# ---------------------------------------------------------------------------- mapping


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as stripped text, null when blank; integral floats lose their '.0'."""
    col = pl.col(name)
    if dtype == pl.String:
        return _blank_to_null(col)
    if dtype.is_float():
        return (
            pl.when(col == col.round(0))
            .then(col.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(col.cast(pl.String))
        )
    return col.cast(pl.String)


def _number(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """Parsed Float64 value and the raw text (for messages)."""
    col = pl.col(name)
    if dtype.is_numeric():
        return col.cast(pl.Float64), col.cast(pl.String)
    raw = _blank_to_null(col.cast(pl.String))
    cleaned = raw.str.replace_all(r"[\s_]", "")
    return cleaned.cast(pl.Float64, strict=False), raw


def _date(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    col = pl.col(name)
    if dtype == pl.Date:
        return col, col.cast(pl.String)
    if isinstance(dtype, pl.Datetime):
        return col.dt.date(), col.cast(pl.String)
    raw = _blank_to_null(col.cast(pl.String))
    # A datetime stamp keeps only its date part.
    day = raw.str.split(" ").list.first().str.split("T").list.first()
    parsed = pl.coalesce([day.str.to_date(fmt, strict=False) for fmt in _DATE_FORMATS])
    return parsed, raw


def _bool(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col
    text = _blank_to_null(col.cast(pl.String)).str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "1.0", "true", "t", "yes", "y"]))
        .then(True)
        .when(text.is_in(["0", "0.0", "false", "f", "no", "n"]))
        .then(False)
    )


def _msg(text: str, raw: pl.Expr) -> pl.Expr:
    """A reject reason quoting the received value."""
    return pl.format(text, raw.fill_null("").str.slice(0, 40))


def canonicalise(
    lf: pl.LazyFrame, profile: Profile | str | None = None, source: str = "the input"
) -> pl.LazyFrame:
    """Map a scanned input onto the canonical schema and mark what cannot be used.

    Returns a LazyFrame with the input's own columns (renamed by the profile), the
    parsed canonical and label columns under a private prefix, repair flags, and a
    ``reject_reason`` that is null for an accepted row. :func:`split` turns it into the
    accepted and rejected tables.
    """
    profile = load_profile(profile)
    schema = lf.collect_schema()
    renames = {src: dst for src, dst in profile.columns.items() if src in schema}
    lf = lf.rename(renames)
    schema = lf.collect_schema()

    constants = dict(profile.constants)
    if profile.currency and "currency" not in schema:
        constants["currency"] = profile.currency
    consts = [pl.lit(v).alias(k) for k, v in constants.items() if k not in schema]
    if consts:
        lf = lf.with_columns(consts)
        schema = lf.collect_schema()

    missing = [c for c in REQUIRED_COLUMNS if c not in schema]
    if missing:
        found = [c for c in schema if c != INPUT_ROW]
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
        raise DetectorError(
            f"{source} has no column '{missing[0]}' after applying the '{profile.name}' "
            f"profile (columns found: {shown}); rename the column in the file "
            "or map it in a schema profile (--schema)."
        )

    parsed: dict[str, pl.Expr] = {}
    reasons: list[pl.Expr] = []
    repairs: dict[str, pl.Expr] = {}

    def mapped(name: str, expr: pl.Expr) -> pl.Expr:
        table = profile.values.get(name)
        if not table:
            return expr
        return expr.replace(table)

    for name in _ID_COLUMNS + ("supplementary_unit",):
        if name in schema:
            parsed[name] = _as_text(name, schema[name])

    # HS code: digits only, leading zeros restored.
    if "hs_code" in schema:
        raw = _as_text("hs_code", schema["hs_code"])
        digits = raw.str.replace_all(r"[\s.\-]", "")
        length = digits.str.len_chars()
        if profile.hs_digits:
            target = pl.when(length < profile.hs_digits).then(profile.hs_digits).otherwise(length)
        else:
            target = pl.when(length % 2 == 1).then(length + 1).otherwise(length)
        padded = digits.str.pad_start(target, "0")
        ok = padded.str.contains(r"^\d{6,10}$") & (length >= 5)
        parsed["hs_code"] = padded
        repairs["hs_code punctuation removed"] = raw.str.contains(r"[\s.\-]")
        repairs["hs_code zero-padded"] = ok & (target > length)
        reasons.append(
            pl.when(raw.is_not_null() & ~ok).then(
                _msg("malformed hs_code '{}': expected 6 to 10 digits", raw)
            )
        )

    for name in _COUNTRY_COLUMNS:
        if name in schema:
            raw = _as_text(name, schema[name])
            upper = mapped(name, raw.str.to_uppercase())
            parsed[name] = upper
            repairs[f"{name} upper-cased"] = raw != raw.str.to_uppercase()
            reasons.append(
                pl.when(upper.is_not_null() & ~upper.str.contains(r"^[A-Z]{2}$")).then(
                    _msg(f"malformed {name} '{{}}': expected an ISO 3166-1 alpha-2 code", raw)
                )
            )

    if "transit_countries" in schema:
        raw = _as_text("transit_countries", schema["transit_countries"])
        norm = raw.str.to_uppercase().str.replace_all(r"[\s,>|/]+", ";").str.strip_chars(";")
        norm = pl.when(norm.str.len_chars() > 0).then(norm)
        parsed["transit_countries"] = norm
        reasons.append(
            pl.when(norm.is_not_null() & ~norm.str.contains(r"^[A-Z]{2}(;[A-Z]{2})*$")).then(
                _msg("malformed transit_countries '{}': expected alpha-2 codes joined by ';'", raw)
            )
        )

    if "transport_mode" in schema:
        raw = _as_text("transport_mode", schema["transport_mode"])
        mode = mapped("transport_mode", raw).str.to_lowercase()
        known = mode.is_in(list(TRANSPORT_MODES))
        parsed["transport_mode"] = (
            pl.when(known | mode.is_null()).then(mode).otherwise(pl.lit("other"))
        )
        repairs["transport_mode unknown, set to other"] = mode.is_not_null() & ~known

    if "flow" in schema:
        raw = _as_text("flow", schema["flow"])
        flow = raw.str.to_lowercase().fill_null("import")
        parsed["flow"] = flow
        reasons.append(
            pl.when(~flow.is_in(["import", "export"])).then(
                _msg("malformed flow '{}': expected import or export", raw)
            )
        )

    if "currency" in schema:
        raw = _as_text("currency", schema["currency"])
        cur = raw.str.to_uppercase()
        if profile.currency:
            cur = cur.fill_null(profile.currency)
        parsed["currency"] = cur
        reasons.append(
            pl.when(cur.is_not_null() & ~cur.str.contains(r"^[A-Z]{3}$")).then(
                _msg("malformed currency '{}': expected an ISO 4217 code", raw)
            )
        )

    date_value, date_raw = _date("declaration_date", schema["declaration_date"])
    parsed["declaration_date"] = date_value
    reasons.append(
        pl.when(date_raw.is_not_null() & date_value.is_null()).then(
            _msg("unparseable declaration_date '{}': expected YYYY-MM-DD", date_raw)
        )
    )

    for name in _NUMERIC_COLUMNS:
        if name not in schema:
            continue
        value, raw = _number(name, schema[name])
        parsed[name] = value
        reasons.append(
            pl.when(raw.is_not_null() & value.is_null())
            .then(_msg(f"non-numeric {name} '{{}}'", raw))
            .when(value.is_nan() | value.is_infinite())
            .then(_msg(f"{name} '{{}}' is not a finite number", raw))
            .when(value < 0)
            .then(_msg(f"negative {name} '{{}}'", raw))
            if name in _NON_NEGATIVE
            else pl.when(raw.is_not_null() & value.is_null()).then(
                _msg(f"non-numeric {name} '{{}}'", raw)
            )
        )

    # Labels and synthetic ground truth.
    if "fraud" in schema:
        value, raw = _number("fraud", schema["fraud"])
        parsed["fraud"] = pl.when(value > 0).then(1).when(value == 0).then(0).cast(pl.Int8)
        reasons.append(
            pl.when(raw.is_not_null() & ~value.is_in([0.0, 1.0, 2.0])).then(
                _msg("malformed fraud '{}': expected 0 or 1", raw)
            )
        )
    if "inspected" in schema:
        parsed["inspected"] = _bool("inspected", schema["inspected"])
    elif "fraud" in parsed:
        parsed["inspected"] = parsed["fraud"].is_not_null()
    if "fraud_type" in schema:
        parsed["fraud_type"] = _as_text("fraud_type", schema["fraud_type"])
    for name in ("revenue_recovered", "true_customs_value", "true_revenue_lost"):
        if name in schema:
            parsed[name] = _number(name, schema[name])[0]
    if "true_fraud" in schema:
        parsed["true_fraud"] = _number("true_fraud", schema["true_fraud"])[0].cast(pl.Int8)
    if "true_fraud_type" in schema:
        parsed["true_fraud_type"] = _as_text("true_fraud_type", schema["true_fraud_type"])

    for name in REQUIRED_COLUMNS:
        reasons.insert(
            0,
            pl.when(parsed[name].is_null() & _is_blank(name, schema)).then(
                pl.lit(f"missing required {name}")
            ),
        )

    dup = parsed["declaration_id"].is_not_null() & ~parsed["declaration_id"].is_first_distinct()
    reasons.append(
        pl.when(dup).then(
            _msg(
                "duplicate declaration_id '{}': an earlier row has the same id",
                parsed["declaration_id"],
            )
        )
    )

    reason = pl.concat_list(reasons).list.drop_nulls().list.join("; ")
    return lf.with_columns(
        *[expr.alias(_PREFIX + name) for name, expr in parsed.items()],
        *[expr.fill_null(False).alias(_REPAIR + what) for what, expr in repairs.items()],
    ).with_columns(pl.when(reason.str.len_chars() > 0).then(reason).alias(REJECT_REASON))


def _is_blank(name: str, schema: pl.Schema) -> pl.Expr:
    col = pl.col(name)
    if schema[name] == pl.String:
        return col.is_null() | (col.str.strip_chars().str.len_chars() == 0)
    return col.is_null()


def split(lf: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split a canonicalised frame into (accepted, rejects) LazyFrames.

    Accepted rows carry the canonical columns (typed), the labels when present, and the
    input's other columns; rejected rows carry the original values and the reason.
    """
    schema = lf.collect_schema()
    names = list(schema)
    parsed = [n[len(_PREFIX) :] for n in names if n.startswith(_PREFIX)]
    private = {n for n in names if n.startswith((_PREFIX, _REPAIR))} | {REJECT_REASON}
    own = [n for n in names if n not in private]

    canonical_order = [
        c for c in {**CANONICAL_SCHEMA, **LABEL_SCHEMA, **TRUTH_SCHEMA} if c in parsed
    ]
    dtypes = {**CANONICAL_SCHEMA, **LABEL_SCHEMA, **TRUTH_SCHEMA}
    extras = [n for n in own if n not in dtypes and n != INPUT_ROW]
    accepted = lf.filter(pl.col(REJECT_REASON).is_null()).select(
        *[pl.col(_PREFIX + c).cast(dtypes[c]).alias(c) for c in canonical_order],
        *[_as_text(n, schema[n]).alias(n) for n in extras],
    )
    rejects = lf.filter(pl.col(REJECT_REASON).is_not_null()).select(
        INPUT_ROW, *[n for n in own if n != INPUT_ROW], REJECT_REASON
    )
    return accepted, rejects


def repair_counts(lf: pl.LazyFrame) -> dict[str, int]:
    """How many accepted rows each recorded repair touched."""
    cols = [n for n in lf.collect_schema() if n.startswith(_REPAIR)]
    if not cols:
        return {}
    row = (
        lf.filter(pl.col(REJECT_REASON).is_null())
        .select(pl.col(c).sum() for c in cols)
        .collect()
        .row(0, named=True)
    )
    return {k[len(_REPAIR) :]: int(v) for k, v in row.items() if v}


def read_declarations(
    paths: str | Path | list[str | Path] | tuple[str | Path, ...],
    profile: Profile | str | None = None,
) -> Batch:
    """Read, map and validate declarations into accepted and rejected tables.

    Raises :class:`DetectorError` for a file-level problem: a missing or unreadable
    file, a required column absent after mapping, no rows at all.
    """
    names = ", ".join(str(p) for p in ([paths] if isinstance(paths, str | Path) else paths))
    lf = canonicalise(scan_input(paths), profile, source=f"Input {names}")
    accepted, rejects = split(lf)
    try:
        acc, rej = pl.collect_all([accepted, rejects])
        repairs = repair_counts(lf)
    except pl.exceptions.PolarsError as exc:
        raise DetectorError(f"Input {names} cannot be read: {str(exc).splitlines()[0]}.") from None
    if acc.height + rej.height == 0:
        raise DetectorError(f"Input {names} has a header but no rows; nothing to do.")
    return Batch(accepted=acc, rejects=rej, repairs=repairs)


def reject_tally(rejects: pl.DataFrame) -> list[tuple[str, int]]:
    """Rejected rows counted by kind of reason (the reason without its quoted value)."""
    if rejects.height == 0:
        return []
    kinds = (
        rejects[REJECT_REASON]
        .str.split("; ")
        .explode()
        .str.replace(r" '.*?'", "")
        .str.replace(r":.*$", "")
    )
    counts = kinds.value_counts(sort=True)
    return [(str(k), int(v)) for k, v in counts.iter_rows()]
