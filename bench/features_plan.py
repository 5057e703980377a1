"""The features of new declarations as one Polars plan, or in two (the rows' prices,
reclassification and lanes made first, then the histories on them): which is faster,
on the same rows, taking turns in one run.

Usage: python bench/features_plan.py --data DIR [--runs 3]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them; ``detector train`` makes the model).
Printed: each run's seconds, the medians and their ratio, whether the two tables are
equal, and whether the two-plan copy here is the shipped ``transform``'s table.
"""

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from detector.features import _builder as builder
from detector.io.ingest import read_declarations
from detector.io.persist import load_model


def features(f, accepted: pl.DataFrame, in_two: bool) -> pl.DataFrame:
    """``DeclarationFeatures.transform`` of a whole batch, with or without the cut."""
    lf = builder._with_optional(accepted.lazy())
    work = f._work(lf)
    counted = builder.join_day_counts(work, builder.day_counts(work, f.de_minimis))
    staged = f._apply_tables(counted, f.reference_, f.routes_)
    if in_two:
        staged = staged.collect(engine="in-memory").lazy()
    computed = f._finish(staged, state=f.entities_, use_labels=False, daily=None)
    new = [c for c in computed.collect_schema().names() if c not in builder._WORK_COLUMNS]
    return pl.concat([lf, computed.select(new)], how="horizontal").collect(engine="in-memory")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model, _ = load_model(args.data / "m.joblib")
    accepted = read_declarations(args.data / "day.csv").accepted
    print(f"{accepted.height:,} rows")
    seconds: dict[str, list[float]] = {"one plan": [], "two": []}
    tables = {}
    for i in range(args.runs):
        turn = ["one plan", "two"] if i % 2 == 0 else ["two", "one plan"]
        for name in turn:
            t0 = time.perf_counter()
            tables[name] = features(model.features_, accepted, in_two=name == "two")
            seconds[name].append(time.perf_counter() - t0)
        print(f"run {i + 1}: " + ", ".join(f"{n} {s[-1]:.2f} s" for n, s in seconds.items()))
    one, two = (statistics.median(seconds[n]) for n in ("one plan", "two"))
    print(f"median: one plan {one:.2f} s, two {two:.2f} s, two / one {two / one:.2f}")
    print(f"equal tables: {tables['one plan'].equals(tables['two'])}")
    shipped = model.transform(accepted)
    same = shipped.equals(tables["two"])
    print(f"the two-plan copy equals DeclarationFeatures.transform: {same}")


if __name__ == "__main__":
    main()
