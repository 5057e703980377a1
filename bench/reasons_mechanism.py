"""How often the reasons of the true frauds in the top 5 % name their scheme's mechanism.

For each seed: a synthetic year, trained on months 1-9 (inspected labels only), months
10-12 scored with ``--top 5%``; among the listed true frauds (the model's picks), per
scheme, the share whose reason codes include the mechanism, and whose first code is it.
Also the precision and revenue of the list, so that a change of reasons is seen with
the ranking it came with, and how often each mechanism is said of listed rows that are
not of its scheme (clean rows, or another scheme's): the false leads.

    python bench/reasons_mechanism.py --seeds 1 2 3 --rows 100000
"""

import argparse
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

from detector.app.pipeline import score, train
from detector.synthetic import generate_declarations

#: The reason codes that name each scheme's mechanism.
MECHANISM = {
    "undervaluation": ["UNDERVALUED"],
    "transshipment": ["ROUTE", "RELABEL"],
    "origin_misdeclaration": ["ROUTE", "RELABEL"],
    "split_shipment": ["SPLIT_SHIPMENT"],
    "misclassification": ["MISCLASSIFIED"],
}
TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


def split_year(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    """A synthetic year's months 1-9 without the truth (``h.parquet``) and months 10-12
    with it (``r.parquet``), written to ``folder``; returns months 10-12."""
    year = generate_declarations(rows=rows, seed=seed)
    cut = date(2025, 10, 1)
    history, recent = (
        year.filter(pl.col("declaration_date") < cut),
        year.filter(pl.col("declaration_date") >= cut),
    )
    history.drop(TRUTH).write_parquet(folder / "h.parquet")
    recent.write_parquet(folder / "r.parquet")
    return recent


def scored_year(seed: int, rows: int, folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A synthetic year split as :func:`split_year`, trained on months 1-9 (the model
    is ``m.joblib`` in ``folder``) and months 10-12 scored with ``--top 5%``: returns
    months 10-12 with their truth, and the list."""
    recent = split_year(seed, rows, folder)
    train([folder / "h.parquet"], folder / "m.joblib")
    with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
        percentile = result.details.select("declaration_id", "price_percentile")
        return recent, result.scored.join(percentile, on="declaration_id", how="left")


def each_seed(work: Callable, seeds: list[int]) -> tuple[argparse.Namespace, list]:
    """``--seeds`` and ``--rows`` read from the command line (``seeds`` by default);
    ``work(seed, rows, folder)`` for each seed, in a folder of its own; its results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    done = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            done.append(work(seed, args.rows, Path(tmp)))
    return args, done


def listed_frauds(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    """The model's listed picks (their truth and reason codes); the list's precision
    and revenue printed."""
    recent, listed = scored_year(seed, rows, folder)
    precision = listed["true_fraud"].mean()
    revenue = listed["true_revenue_lost"].sum() / recent["true_revenue_lost"].sum()
    print(f"seed {seed}: top 5 % precision {precision:.3f}, revenue {revenue:.3f}")
    picks = listed.filter(pl.col("selection") == "model").with_columns(
        pl.when(pl.col("true_fraud") == 1).then("true_fraud_type").otherwise(pl.lit("clean"))
    )
    return picks.select("true_fraud", "true_fraud_type", "reason_codes", "price_percentile")


def false_leads(picks: pl.DataFrame) -> pl.DataFrame:
    """Per mechanism code, the listed rows of other truths that it is said of."""
    rows = []
    for truth in picks["true_fraud_type"].unique().sort().to_list():
        part = picks.filter(pl.col("true_fraud_type") == truth)
        said = {
            code: int(part["reason_codes"].list.contains(code).sum())
            for code in sorted({c for codes in MECHANISM.values() for c in codes})
            if code not in MECHANISM.get(truth, [])
        }
        rows.append({"truth": truth, "rows": part.height, **said})
    return pl.DataFrame(rows)


#: Reason codes that name a record (of the importer, its partners, the goods), not what
#: the declaration itself shows.
RECORDS = ["IMPORTER_HISTORY", "PARTNER_HISTORY", "GOODS_RISK", "IMPORTER_UNDERPRICES"]


def unactionable(picks: pl.DataFrame) -> str:
    """Listed picks named on records alone (nothing on the declaration to check), and
    PRICE_UNUSUAL said of a price between the 10th and 90th percentile of its peers'."""
    codes = pl.col("reason_codes")
    records = picks.filter(codes.list.set_difference(pl.lit(RECORDS)).list.len() == 0)
    ordinary = picks.filter(
        codes.list.contains("PRICE_UNUSUAL") & pl.col("price_percentile").is_between(10, 90)
    )
    clean = records.filter(pl.col("true_fraud") == 0).height
    unusual = picks.filter(codes.list.contains("PRICE_UNUSUAL"))
    return (
        f"named on records alone: {records.height:,} listed model picks ({clean:,} clean); "
        f"PRICE_UNUSUAL at a price between the 10th and 90th percentile: {ordinary.height:,}; "
        f"PRICE_UNUSUAL said of {unusual.height:,} listed model picks "
        f"({unusual.filter(pl.col('true_fraud') == 0).height:,} clean)"
    )


def shares(frame: pl.DataFrame) -> pl.DataFrame:
    mech = pl.col("true_fraud_type").replace_strict(MECHANISM, return_dtype=pl.List(pl.String))
    return frame.with_columns(mech.alias("mechanism")).with_columns(
        (pl.col("reason_codes").list.set_intersection("mechanism").list.len() > 0).alias("named"),
        pl.col("mechanism").list.contains(pl.col("reason_codes").list.first()).alias("first"),
    )


def main() -> None:
    args, frames = each_seed(listed_frauds, [1, 2, 3])
    picks = pl.concat(frames)
    both = shares(picks.filter(pl.col("true_fraud") == 1).drop("true_fraud"))
    table = (
        both.group_by("true_fraud_type")
        .agg(pl.len().alias("rows"), pl.col("named").mean(), pl.col("first").mean())
        .sort("true_fraud_type")
    )
    pl.Config.set_tbl_rows(20)
    print(f"\nseeds {args.seeds}, {args.rows:,} rows each, listed true frauds (model picks)")
    print(table)
    print(
        f"overall: named {both['named'].mean():.3f}, first {both['first'].mean():.3f} "
        f"of {both.height:,} listed true frauds"
    )
    print("\nmechanisms said of listed model picks of another truth (null: its own)")
    print(false_leads(picks))
    print(unactionable(picks))


if __name__ == "__main__":
    main()
