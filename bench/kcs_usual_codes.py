"""How often the importer's usual code is found on the Korean dataset, and why not.

Usage: python bench/kcs_usual_codes.py [--kcs DIR]

Fits the features on train.csv (out-of-fold label history, as the engine trains) and
counts, in the training rows and in valid.csv's rows: the rows with a usual code; the
rows whose importer has a usual code at all (``USUAL_MIN_N`` declarations on
``USUAL_SHARE`` of its own), one other than the declared code, of the same tariff
section; and the distinct duty rates those codes carry.
"""

import argparse
from pathlib import Path

import polars as pl

from detector import load_profile, read_declarations
from detector.features import DeclarationFeatures
from detector.features._reclassification import USUAL_MIN_N, USUAL_SHARE, hs_section


def main() -> None:
    here = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser()
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    args = parser.parse_args()
    profile = load_profile("kcs")
    train = read_declarations(args.kcs / "train.csv", profile).accepted
    valid = read_declarations(args.kcs / "valid.csv", profile).accepted
    builder = DeclarationFeatures(label_history="out_of_fold")
    rows = {
        "train": builder.fit_transform(train),
        "valid": builder.transform(valid.lazy()).collect(),
    }
    codes = builder.entities_.tables["importer_hs"]
    usual = codes.with_columns(pl.col("n").sum().over("importer_id").alias("total")).filter(
        (pl.col("n") >= USUAL_MIN_N) & (pl.col("n") >= USUAL_SHARE * pl.col("total"))
    )
    print(
        f"importers {codes['importer_id'].n_unique():,}, "
        f"with a usual code {usual['importer_id'].n_unique():,}"
    )
    print(f"duty rates in train: {train['duty_rate_pct'].value_counts(sort=True).head(8).rows()}")
    for name, table in rows.items():
        candidates = table.join(
            usual.select("importer_id", pl.col("hs_code").alias("usual_hs")), on="importer_id"
        ).filter(
            (pl.col("usual_hs") != pl.col("hs_code"))
            & (hs_section(pl.col("usual_hs")) == hs_section(pl.col("hs_code")))
        )
        print(
            f"{name}: {table.height:,} rows, usual code found "
            f"{table['usual_hs_code'].is_not_null().sum():,}; "
            f"rows whose importer's usual code is another of the same section "
            f"{candidates['declaration_id'].n_unique():,}; price fits another code "
            f"{table['reclass_hs_code'].is_not_null().sum():,}"
        )


if __name__ == "__main__":
    main()
