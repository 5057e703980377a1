"""The canonical declaration schema every input is mapped onto."""

import polars as pl

__all__ = [
    "CANONICAL_SCHEMA",
    "CODE_COLUMNS",
    "CURRENCIES",
    "LABEL_SCHEMA",
    "OUTPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "REQUIRED_COLUMNS",
    "SCORED_COLUMNS",
    "TRANSPORT_MODES",
    "TRUTH_SCHEMA",
]

#: Declaration columns, in output order. Code columns are strings, always.
CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "declaration_id": pl.String(),
    "declaration_date": pl.Date(),
    "flow": pl.String(),
    "hs_code": pl.String(),
    "importer_id": pl.String(),
    "declarant_id": pl.String(),
    "seller_id": pl.String(),
    "country_origin": pl.String(),
    "country_departure": pl.String(),
    "transit_countries": pl.String(),
    "transport_mode": pl.String(),
    "customs_office": pl.String(),
    "net_mass_kg": pl.Float64(),
    "supplementary_quantity": pl.Float64(),
    "supplementary_unit": pl.String(),
    "customs_value": pl.Float64(),
    "currency": pl.String(),
    "duty_rate_pct": pl.Float64(),
}

REQUIRED_COLUMNS: tuple[str, ...] = (
    "declaration_id",
    "declaration_date",
    "hs_code",
    "importer_id",
    "country_origin",
    "country_departure",
    "net_mass_kg",
    "customs_value",
)

#: Inspection outcomes, for training and evaluation only; never needed for scoring.
LABEL_SCHEMA: dict[str, pl.DataType] = {
    "inspected": pl.Boolean(),
    "fraud": pl.Int8(),
    "fraud_type": pl.String(),
    "revenue_recovered": pl.Float64(),
}

#: Ground truth written by the synthetic generator for every row, inspected or not.
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "true_fraud": pl.Int8(),
    "true_fraud_type": pl.String(),
    "true_customs_value": pl.Float64(),
    "true_revenue_lost": pl.Float64(),
}

#: The first columns of a scored list, in order, with their types.
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "rank": pl.UInt32(),
    "declaration_id": pl.String(),
    "risk_score": pl.Float64(),
    "revenue_at_stake": pl.Float64(),
    "unit_value_per_ton": pl.Float64(),
    "reference_value_per_ton": pl.Float64(),
    "value_ratio": pl.Float64(),
    "peer_group": pl.String(),
    "route": pl.String(),
    "reason_codes": pl.List(pl.String()),
    "reasons": pl.List(pl.String()),
    "selection": pl.String(),
}
OUTPUT_COLUMNS: tuple[str, ...] = tuple(OUTPUT_SCHEMA)

#: Columns that a scoring writes: a scored list read back is scored anew without them.
SCORED_COLUMNS: tuple[str, ...] = (
    *(c for c in OUTPUT_COLUMNS if c != "declaration_id"),
    "case_id",
)

CODE_COLUMNS: tuple[str, ...] = tuple(
    name for name, dtype in CANONICAL_SCHEMA.items() if dtype == pl.String()
)

TRANSPORT_MODES: tuple[str, ...] = ("sea", "rail", "road", "air", "post", "other")

#: ISO 4217 currency codes in use (and recently replaced ones still found in archives).
CURRENCIES: tuple[str, ...] = tuple(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD
    IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)

FRAUD_TYPES: tuple[str, ...] = (
    "undervaluation",
    "transshipment",
    "origin_misdeclaration",
    "misclassification",
    "split_shipment",
    "other",
)
