"""Which records tell the Korean frauds: each key's fraud rate from the months before a
fold, alone, on the fold.

Usage: python bench/kcs_records.py [--kcs DIR] [--declared]

On each fold of the Korean backtest (2020-07..09, 2020-10..12, 2021-01..03, every earlier
month its history), every test row gets the fraud rate of its key's earlier
declarations, smoothed toward the overall rate with 10 pseudo-declarations (as the
engine's entity histories do; a key never seen gets the overall rate). Printed per key:
the AUC of that rate alone, the precision of its top 10 %, and the share of test rows
whose key was seen before. The keys are the entities a risk unit keeps records of (the
importer, its broker, the seller, the goods, and their pairs) and the goods with what
the declaration says of their journey.
"""

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

KEYS: dict[str, list[str]] = {
    "importer": ["Importer ID"],
    "declarant": ["Declarant ID"],
    "seller": ["Seller ID"],
    "courier": ["Courier ID"],
    "importer, seller": ["Importer ID", "Seller ID"],
    "importer, goods": ["Importer ID", "HS6 Code"],
    "declarant, importer": ["Declarant ID", "Importer ID"],
    "seller, goods": ["Seller ID", "HS6 Code"],
    "origin": ["Country of Origin"],
    "goods (HS6)": ["HS6 Code"],
    "goods, origin": ["HS6 Code", "Country of Origin"],
    "goods, departure": ["HS6 Code", "Country of Departure"],
    "goods, origin, departure (the engine's hs_route)": [
        "HS6 Code",
        "Country of Origin",
        "Country of Departure",
    ],
    "goods, origin, tax type": ["HS6 Code", "Country of Origin", "Tax Type"],
    "goods, office": ["HS6 Code", "Office ID"],
}
#: With ``--declared``: the goods on their journey with one more thing the declaration
#: says of them (how they are taxed, whether the origin is marked, the kind of import,
#: the payment, the use, the transport, the office): does any of it sharpen hs_route?
_JOURNEY = ["HS6 Code", "Country of Origin", "Country of Departure"]
DECLARED_KEYS: dict[str, list[str]] = {
    f"goods, origin, departure, {what}": [*_JOURNEY, col]
    for what, col in [
        ("tax type", "Tax Type"),
        ("origin indicator", "Country of Origin Indicator"),
        ("import type", "Import Type"),
        ("process type", "Process Type"),
        ("payment type", "Payment Type"),
        ("import use", "Import Use"),
        ("transport", "Mode of Transport"),
        ("office", "Office ID"),
        ("tax rate", "Tax Rate"),
    ]
}
#: (first day, day after the last, label) of each fold.
FOLDS = [
    ("2020-07-01", "2020-10-01", "2020-07..09"),
    ("2020-10-01", "2021-01-01", "2020-10..12"),
    ("2021-01-01", "2021-04-01", "2021-01..03"),
]
SMOOTHING = 10.0


def main() -> None:
    here = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser()
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    parser.add_argument("--declared", action="store_true", help="also DECLARED_KEYS")
    args = parser.parse_args()
    keys = {**KEYS, **DECLARED_KEYS} if args.declared else KEYS
    rows = pl.concat(
        [pl.read_csv(args.kcs / f, infer_schema_length=0) for f in ("train.csv", "valid.csv")]
    ).with_columns(pl.col("Date").str.to_date(), pl.col("Fraud").cast(pl.Int8))
    for start, end, label in FOLDS:
        s, e = pl.lit(start).str.to_date(), pl.lit(end).str.to_date()
        history = rows.filter(pl.col("Date") < s)
        test = rows.filter((pl.col("Date") >= s) & (pl.col("Date") < e))
        prior = history["Fraud"].mean()
        y = test["Fraud"].to_numpy()
        top = int(0.1 * y.size)
        found = []
        for name, cols in keys.items():
            record = history.group_by(cols).agg(pl.len().alias("n"), pl.col("Fraud").sum())
            rate = test.join(record, on=cols, how="left", suffix="_before").select(
                (pl.col("Fraud_before").fill_null(0) + SMOOTHING * prior)
                / (pl.col("n").fill_null(0) + SMOOTHING),
                pl.col("n").is_not_null().alias("seen"),
            )
            r = rate.to_series(0).to_numpy()
            order = np.argsort(-r, kind="stable")[:top]
            found.append((roc_auc_score(y, r), y[order].mean(), rate["seen"].mean(), name))
        print(f"fold {label}: {y.size} rows, fraud rate {y.mean():.3f}")
        print(f"  {'AUC':>6} {'p@10%':>6} {'seen':>5}  key")
        for auc, p10, seen, name in sorted(found, reverse=True):
            print(f"  {auc:6.3f} {p10:6.3f} {seen:5.2f}  {name}")


if __name__ == "__main__":
    main()
