"""On the Korean list, how far below its peers' median a row named UNDERVALUED is.

A model is trained on ``train.csv`` (profile kcs) and ``valid.csv`` is scored at
``--top`` (5 % by default), both through the command line of the installed engine; the
listed rows are counted by their reasons and their ratio to the peers' median price
(``value_ratio``): the UNDERVALUED ones in bands (below 0.7, 0.7-0.9, 0.9 or more), how
many name records alone, the PRICE_UNUSUAL ones (and those at twice the median), and
those named GOODS_RISK alone (how many were frauds, and their price against peers).

    python bench/kcs_price_reasons.py --kcs DIR [--top 5%]
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

_RECORDS = {"IMPORTER_HISTORY", "PARTNER_HISTORY", "GOODS_RISK", "IMPORTER_UNDERPRICES"}


def _run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "detector", *args], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kcs", type=Path, required=True)
    parser.add_argument("--top", default="5%")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        model, out = Path(work) / "kcs.joblib", Path(work) / "listed.parquet"
        _run("train", str(args.kcs / "train.csv"), "--schema", "kcs", "--model", str(model))
        _run(
            "score",
            str(args.kcs / "valid.csv"),
            "--model",
            str(model),
            "--top",
            args.top,
            "--out",
            str(out),
        )
        listed = pl.read_parquet(out) if out.exists() else None
    if listed is None:
        raise SystemExit("no list was written")
    print(f"valid.csv at {args.top}: {listed.height:,} listed")
    codes = listed["reason_codes"]
    under = listed.filter(codes.list.contains("UNDERVALUED"))
    ratio = pl.col("value_ratio")
    bands = under.select(
        (ratio < 0.7).sum().alias("below 0.7"),
        ((ratio >= 0.7) & (ratio < 0.9)).sum().alias("0.7-0.9"),
        (ratio >= 0.9).sum().alias("0.9 or more"),
        ratio.is_null().sum().alias("no peers"),
    )
    print(f"named UNDERVALUED: {under.height:,}, by ratio to the peers' median:")
    print(bands)
    records = codes.map_elements(lambda c: set(c) <= _RECORDS, return_dtype=pl.Boolean)
    print(f"named on records alone: {int(records.sum()):,}")
    goods = listed.filter(codes.list.len() == 1, codes.list.first() == "GOODS_RISK")
    if goods.height:
        r = goods["value_ratio"].drop_nulls()
        print(
            f"named GOODS_RISK alone: {goods.height:,}, of them frauds "
            f"{int(goods['fraud'].cast(pl.Int64).sum()):,}; ratio to the peers' median "
            f"{r.min():.2f} to {r.max():.2f}, median {r.median():.2f}, below 0.9 "
            f"{int((r < 0.9).sum()):,}, no peers {goods['value_ratio'].null_count():,}"
        )
    unusual = listed.filter(codes.list.contains("PRICE_UNUSUAL"))
    far = unusual.filter(ratio >= 2).height
    print(f"named PRICE_UNUSUAL: {unusual.height:,}, of them at twice the median or more: {far:,}")
    fraud = listed["fraud"].cast(pl.Int64)
    print(f"precision of the list: {fraud.mean():.4f}")


if __name__ == "__main__":
    main()
