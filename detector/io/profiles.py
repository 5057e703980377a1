"""Schema profiles: how a foreign layout maps onto the canonical schema.

A profile renames columns, pads codes that lost their leading zeros, maps coded values
(a transport-mode code ``10`` means ``sea``), sets constants (every row of a dataset was
inspected) and names the currency of the values. Built in: ``canonical`` and ``kcs``;
a user's own profile is a TOML file with the same keys::

    name = "my-office"
    currency = "EUR"
    hs_digits = 8
    features = ["procedure"]   # extra columns the model may use as categories

    [columns]          # input column = canonical (or kept) column
    "Decl No" = "declaration_id"
    "Goods code" = "hs_code"

    [values.transport_mode]
    "1" = "sea"
    "4" = "air"

    [constants]
    inspected = true

    [rates]            # one unit of each currency, in the profile's currency
    USD = 0.92

(Keys at the top come before the first ``[table]``: TOML reads a key after one as the
table's.)
"""

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import DetectorError
from detector.io.schema import (
    CANONICAL_SCHEMA,
    LABEL_SCHEMA,
    SCORED_COLUMNS,
    TRANSPORT_MODES,
    TRUTH_SCHEMA,
)

__all__ = ["Profile", "load_profile", "BUILTIN_PROFILES"]

_KNOWN_KEYS = {
    "name",
    "currency",
    "hs_digits",
    "columns",
    "values",
    "constants",
    "features",
    "rates",
}


@dataclass(frozen=True)
class Profile:
    """A mapping from an input layout onto the canonical schema."""

    name: str
    columns: dict[str, str] = field(default_factory=dict)
    currency: str | None = None
    hs_digits: int | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    rates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> "Profile":
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise DetectorError(
                f"Profile {source} has unknown key(s) {sorted(unknown)}; "
                f"allowed keys are {sorted(_KNOWN_KEYS)}."
            )
        _check_shapes(data, source)
        modes = data.get("values", {}).get("transport_mode", {})
        bad = sorted(set(map(str, modes.values())) - set(TRANSPORT_MODES))
        if bad:
            raise DetectorError(
                f"Schema profile {source} maps transport_mode onto {bad}; "
                f"expected one of {', '.join(TRANSPORT_MODES)}."
            )
        known = set(CANONICAL_SCHEMA) | set(LABEL_SCHEMA) | set(TRUTH_SCHEMA)
        for col in data.get("values", {}):
            if col not in known:
                raise DetectorError(
                    f"Profile {source} maps values of '{col}', which is not a canonical "
                    "column; use the canonical name after renaming."
                )
        hs_digits = data.get("hs_digits")
        if hs_digits is not None and hs_digits not in (6, 8, 10):
            raise DetectorError(
                f"Profile {source} sets hs_digits = {hs_digits!r}; expected 6, 8 or 10."
            )
        targets = list(data.get("columns", {}).values())
        computed = sorted(set(targets) & (set(SCORED_COLUMNS) | _ENGINE_COLUMNS))
        if computed:
            raise DetectorError(
                f"Profile {source} maps an input column onto '{computed[0]}', a column this "
                "engine computes; map it onto another name."
            )
        doubled = {t for t in targets if targets.count(t) > 1}
        if doubled:
            raise DetectorError(
                f"Profile {source} maps several input columns onto {sorted(doubled)}; "
                "map exactly one input column onto each canonical column."
            )
        return cls(
            name=str(data.get("name", source)),
            columns=dict(data.get("columns", {})),
            currency=data.get("currency"),
            hs_digits=hs_digits,
            values={
                k: {str(a): str(b) for a, b in v.items()} for k, v in data.get("values", {}).items()
            },
            constants=dict(data.get("constants", {})),
            features=tuple(data.get("features", ())),
            rates=_rates(data.get("rates", {}), data.get("currency"), source),
        )


#: Columns the engine adds to its own outputs besides the scores.
_ENGINE_COLUMNS = {"input_row", "reject_reason", "reject_kinds", "case_id"}


def _check_shapes(data: dict[str, Any], source: str) -> None:
    """Each key of a profile as the shape it must have, else one sentence saying which."""

    def refuse(key: str, expected: str) -> None:
        raise DetectorError(f"Profile {source}: '{key}' is {data[key]!r}; expected {expected}.")

    def texts(table) -> bool:
        return isinstance(table, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        )

    for key in ("name", "currency"):
        if key in data and not isinstance(data[key], str):
            refuse(key, "text in quotes")
    if "columns" in data and not texts(data["columns"]):
        refuse("columns", 'a table of input column = "canonical column" lines')
    if "values" in data and not (
        isinstance(data["values"], dict)
        and all(
            isinstance(v, dict)
            and all(
                isinstance(b, str | int | float) and not isinstance(b, bool) for b in v.values()
            )
            for v in data["values"].values()
        )
    ):
        refuse("values", 'a table per column of "coded value" = "value" lines')
    for key in ("constants", "rates"):
        if key in data and not isinstance(data[key], dict):
            refuse(key, "a table of name = value lines")
    if "features" in data and not (
        isinstance(data["features"], list) and all(isinstance(f, str) for f in data["features"])
    ):
        refuse("features", 'a list of column names, e.g. ["procedure"]')


def _rates(rates: dict, currency: str | None, source: str) -> dict[str, float]:
    """Values of one unit of each currency in the profile's currency."""
    if rates and not currency:
        raise DetectorError(
            f"Profile {source} has a rates table but no currency to convert into; "
            'set currency = "..." (the rates are values of one unit in it).'
        )
    out = {}
    for code, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf:
            raise DetectorError(
                f"Profile {source} gives the rate {rate!r} for {code}; rates are positive "
                "numbers (the value of one unit in the profile's currency)."
            )
        out[str(code).upper()] = float(rate)
    return out


_KCS = {
    "name": "kcs",
    "currency": "KRW",
    "hs_digits": 6,
    "columns": {
        "Declaration ID": "declaration_id",
        "Date": "declaration_date",
        "Office ID": "customs_office",
        "Process Type": "process_type",
        "Import Type": "import_type",
        "Import Use": "import_use",
        "Payment Type": "payment_type",
        "Mode of Transport": "transport_mode",
        "Declarant ID": "declarant_id",
        "Importer ID": "importer_id",
        "Seller ID": "seller_id",
        "Courier ID": "courier_id",
        "HS6 Code": "hs_code",
        "Country of Departure": "country_departure",
        "Country of Origin": "country_origin",
        "Tax Rate": "duty_rate_pct",
        "Tax Type": "tax_type",
        "Country of Origin Indicator": "origin_indicator",
        "Net Mass": "net_mass_kg",
        "Item Price": "customs_value",
        "Fraud": "fraud",
        "Critical Fraud": "critical_fraud",
    },
    # Korean customs (UNI-PASS) transport mode codes.
    "values": {
        "transport_mode": {
            "10": "sea",
            "20": "rail",
            "30": "road",
            "40": "air",
            "50": "post",
            "90": "other",
        }
    },
    "constants": {"inspected": True, "flow": "import"},
    "features": [
        "process_type",
        "import_type",
        "import_use",
        "payment_type",
        "tax_type",
        "origin_indicator",
        "courier_id",
    ],
}

BUILTIN_PROFILES: dict[str, Profile] = {
    "canonical": Profile(name="canonical"),
    "kcs": Profile.from_dict(_KCS, "kcs"),
}


def load_profile(name_or_path: str | Path | Profile | None) -> Profile:
    """Return a built-in profile by name, or read a user's TOML profile.

    >>> load_profile("kcs").currency
    'KRW'
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path is None:
        return BUILTIN_PROFILES["canonical"]
    key = str(name_or_path)
    if key in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[key]
    path = Path(key)
    if not path.exists():
        raise DetectorError(
            f"Schema profile '{key}' is neither a built-in profile "
            f"({', '.join(BUILTIN_PROFILES)}) nor an existing TOML file; "
            "pass one of those names or the path of your profile."
        )
    if path.is_dir():
        raise DetectorError(
            f"Schema profile {path} is a folder, not a TOML file; pass the path of your "
            "profile's file."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DetectorError(f"Schema profile {path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise DetectorError(
            f"Schema profile {path} cannot be read ({exc.strerror or exc}); check the file."
        ) from None
    return Profile.from_dict(data, str(path))
