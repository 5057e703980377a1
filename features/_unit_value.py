"""Unit values: declared value per tonne and per supplementary unit, in one currency."""

import math

import polars as pl

__all__ = ["log_unit_value", "to_base_currency", "unit_value_per_ton", "unit_value_per_unit"]


def _col(name: str | pl.Expr) -> pl.Expr:
    return pl.col(name) if isinstance(name, str) else name


def unit_value_per_ton(
    value: str | pl.Expr = "customs_value", mass_kg: str | pl.Expr = "net_mass_kg"
) -> pl.Expr:
    """Declared value per tonne; null where the mass is not declared (0) or missing.

    >>> df = pl.DataFrame({"customs_value": [5000.0, 10.0], "net_mass_kg": [1000.0, 0.0]})
    >>> df.select(unit_value_per_ton())["unit_value_per_ton"].to_list()
    [5000.0, None]
    """
    mass = _col(mass_kg)
    return pl.when(mass > 0).then(_col(value) / mass * 1000.0).alias("unit_value_per_ton")


def unit_value_per_unit(
    value: str | pl.Expr = "customs_value",
    quantity: str | pl.Expr = "supplementary_quantity",
) -> pl.Expr:
    """Declared value per supplementary unit (piece, litre, pair); null where none given."""
    qty = _col(quantity)
    return pl.when(qty > 0).then(_col(value) / qty).alias("unit_value_per_unit")


def log_unit_value(
    value: str | pl.Expr = "customs_value", mass_kg: str | pl.Expr = "net_mass_kg"
) -> pl.Expr:
    """Natural log of the value per tonne; null where the mass or the value is 0 or
    missing (a value of 0 is no price: ``reference_price_deviation`` judges it apart).
    A value above 0, however small, is judged as it is.

    >>> df = pl.DataFrame({"customs_value": [0.0, 5000.0], "net_mass_kg": [1000.0, 1000.0]})
    >>> df.select(log_unit_value().round(3))["log_unit_value"].to_list()
    [None, 8.517]
    """
    mass, val = _col(mass_kg), _col(value)
    return pl.when((mass > 0) & (val > 0)).then((val / mass * 1000.0).log()).alias("log_unit_value")


def to_base_currency(
    lf: pl.LazyFrame, rates: dict[str, float] | None, base: str | None
) -> pl.LazyFrame:
    """Convert ``customs_value`` into the base currency with a rates table.

    ``rates`` maps a currency code to the value of one unit in the base currency. Rows
    whose currency has no rate get a null value, for the caller to reject with a reason.
    Without a ``currency`` column or a base currency the frame is returned unchanged.

    >>> lf = pl.LazyFrame({"customs_value": [100.0, 100.0, 100.0],
    ...                    "currency": ["USD", "EUR", "XYZ"]})
    >>> to_base_currency(lf, {"EUR": 1.1}, "USD").collect()["customs_value"].to_list()
    [100.0, 110.00000000000001, None]
    """
    if base is None or "currency" not in lf.collect_schema():
        return lf
    table = {base: 1.0, **(rates or {})}
    if any(not math.isfinite(r) or r <= 0 for r in table.values()):
        raise ValueError(f"rates must be positive finite numbers, got {table}")
    factor = (
        pl.col("currency")
        .fill_null(base)
        .replace_strict(table, default=None, return_dtype=pl.Float64)
    )
    return lf.with_columns(
        (pl.col("customs_value") * factor).alias("customs_value"),
        pl.lit(base).alias("currency"),
    )
