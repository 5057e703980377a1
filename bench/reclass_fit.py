"""How close a declared price must be to another code's peers to call it misclassified.

For each setting of ``FIT_Z`` (features._reclassification): over synthetic seeds, a year
trained on months 1-9 and months 10-12 scored with ``--top 5%``; among the model's
listed rows, the share of true misclassifications named MISCLASSIFIED, and the share of
the other listed rows (other schemes, and no fraud) that are called so too.

    python bench/reclass_fit.py --seeds 1 2 3 --rows 100000 --fit 1.0 1.5 2.0
"""

import argparse
import tempfile
from pathlib import Path

import polars as pl
from reasons_mechanism import TRUTH, split_year

from detector.app.pipeline import score, train
from detector.features import _reclassification


def listed(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    split_year(seed, rows, folder)
    train([folder / "h.parquet"], folder / "m.joblib")
    with score([folder / "r.parquet"], folder / "m.joblib", top="5%") as result:
        return result.scored.filter(pl.col("selection") == "model").select(*TRUTH, "reason_codes")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--fit", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    args = parser.parse_args()
    for fit in args.fit:
        _reclassification.FIT_Z = fit
        frames = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                frames.append(listed(seed, args.rows, Path(tmp)))
        both = pl.concat(frames).with_columns(
            pl.col("reason_codes").list.contains("MISCLASSIFIED").alias("called"),
            pl.col("true_fraud_type").fill_null("no fraud").alias("truth"),
        )
        table = both.group_by("truth").agg(pl.len().alias("rows"), pl.col("called").mean())
        precision = both["true_fraud"].mean()
        print(f"\nFIT_Z {fit}: seeds {args.seeds}, listed precision {precision:.3f}")
        print(table.sort("truth"))


if __name__ == "__main__":
    main()
