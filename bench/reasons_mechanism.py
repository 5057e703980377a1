"""How often the reasons of the true frauds in the top 5 % name their scheme's mechanism.

For each seed: a synthetic year, trained on months 1-9 (inspected labels only), months
10-12 scored with ``--top 5%``; among the listed true frauds, per scheme, the share whose
reason codes include the mechanism, and whose first code is it. ``--on-the-row`` chooses
which families are measured on the declaration itself (see detector.models._reasons),
so that two settings are compared in one run.

    python bench/reasons_mechanism.py --seeds 1 2 3 --rows 100000
"""

import argparse
import tempfile
from datetime import date
from pathlib import Path

import polars as pl

from detector.app.pipeline import score, train
from detector.models import _reasons
from detector.synthetic import generate_declarations

#: The reason code that names each scheme's mechanism.
MECHANISM = {
    "undervaluation": "UNDERVALUED",
    "transshipment": "ROUTE",
    "origin_misdeclaration": "ROUTE",
    "split_shipment": "SPLIT_SHIPMENT",
    "misclassification": "PRICE_UNUSUAL",
}
TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


def listed_frauds(seed: int, rows: int, folder: Path, settings: dict) -> dict:
    year = generate_declarations(rows=rows, seed=seed)
    cut = date(2025, 10, 1)
    history, recent = (
        year.filter(pl.col("declaration_date") < cut),
        year.filter(pl.col("declaration_date") >= cut),
    )
    history.drop(TRUTH).write_parquet(folder / "h.parquet")
    recent.write_parquet(folder / "r.parquet")
    train([folder / "h.parquet"], folder / "m.joblib")
    out = {}
    for name, families in settings.items():
        _reasons.MEASURED_ON_THE_ROW = families
        with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
            listed = result.scored.filter(
                (pl.col("true_fraud") == 1) & (pl.col("selection") == "model")
            )
        out[name] = listed.select("true_fraud_type", "reason_codes")
    return out


def shares(frame: pl.DataFrame) -> pl.DataFrame:
    mech = pl.col("true_fraud_type").replace_strict(MECHANISM, default=None)
    return (
        frame.with_columns(mech.alias("mechanism"))
        .with_columns(
            pl.col("reason_codes").list.contains(pl.col("mechanism")).alias("named"),
            (pl.col("reason_codes").list.first() == pl.col("mechanism")).alias("first"),
        )
        .group_by("true_fraud_type")
        .agg(pl.len().alias("rows"), pl.col("named").mean(), pl.col("first").mean())
        .sort("true_fraud_type")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    settings = {"price only": ("UNDERVALUED",), "price, route, split": _reasons.MEASURED_ON_THE_ROW}
    pooled: dict[str, list[pl.DataFrame]] = {name: [] for name in settings}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            for name, frame in listed_frauds(seed, args.rows, Path(tmp), settings).items():
                pooled[name].append(frame)
    pl.Config.set_tbl_rows(20)
    for name, frames in pooled.items():
        both = pl.concat(frames)
        table = shares(both)
        print(f"\n{name} measured on the row: seeds {args.seeds}, {args.rows:,} rows each")
        print(table)
        mech = both["true_fraud_type"].replace_strict(MECHANISM, default=None)
        named = [m in c for m, c in zip(mech, both["reason_codes"].to_list(), strict=True)]
        print(f"overall: {sum(named) / len(named):.3f} of {len(named):,} listed true frauds")


if __name__ == "__main__":
    main()
