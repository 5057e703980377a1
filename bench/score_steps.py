"""Where the reading and the features of `detector score` spend their time, step by
step, on the rows ``bench/score_speed.py --keep DIR`` leaves (``DIR/day.csv`` and a
model trained on ``DIR/history.parquet``): the next candidates for speed.

Printed, best of ``--runs`` in one process (compare within one run: the machine is
shared): a bare Polars read of the CSV; mapping and validating the rows
(``read_checked``), whole and with the hidden-character checks or the
duplicate-id check left out, or with every cell read as before (stripped, folded, styled) (as
before ``plain_columns``); and each stage of the features (day counts, reference
prices, reclassification, route patterns, entity histories and the per-day tables they
are built from), each collected on the previous stage's table.

    python bench/score_steps.py --data DIR --model MODEL [--runs 3]
"""

import argparse
import time
from pathlib import Path

import polars as pl

import detector.features._builder as builder
import detector.io.ingest as ingest
from detector.features import reference_price_deviation
from detector.features._histories import _with_keys, entity_histories, history_tables
from detector.features._reclassification import reclassification
from detector.features._routes import route_patterns
from detector.io.persist import load_model


def best(runs: int, label: str, work):
    """``work()`` run ``runs`` times; the best time printed, the last result returned."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t0)
    print(f"{label:48s} {min(times):6.2f} s")
    return out


def validated(src: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    lf = ingest.scan_file(src, "csv", []).with_row_index(ingest.INPUT_ROW, offset=1)
    return ingest.read_checked(lf, "canonical", source=str(src))


def staged(accepted: pl.DataFrame, features) -> pl.LazyFrame:
    """The rows through every stage of the features before the entity histories."""
    f = features
    work = f._work(builder._with_optional(accepted.lazy()))
    rows = builder.join_day_counts(work, builder.day_counts(work, f.de_minimis))
    rows = reference_price_deviation(rows, f.reference_)
    return route_patterns(reclassification(rows, f.reference_, f.routes_), f.routes_, f.destination)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    src, runs = args.data / "day.csv", args.runs
    best(runs, "bare read", lambda: pl.read_csv(src, infer_schema=False))
    accepted, _, _ = best(runs, "map and validate", lambda: validated(src))

    check = ingest._Mapping.check

    def no_hidden(self, bad, reason):  # the checks of hidden characters and joined lines
        if "control or invisible" not in reason.kind and "spans lines" not in reason.kind:
            check(self, bad, reason)

    ingest._Mapping.check = no_hidden
    best(runs, "  without the hidden-character checks", lambda: validated(src))
    ingest._Mapping.check = check
    duplicates = ingest._duplicates
    ingest._duplicates = lambda m, d: None
    best(runs, "  without the duplicate-id check", lambda: validated(src))
    ingest._duplicates = duplicates
    plain = ingest.plain_columns
    ingest.plain_columns = lambda frame, profile=None: frozenset()
    best(runs, "  every cell read as before (stripped, folded, styled)", lambda: validated(src))
    ingest.plain_columns = plain

    model, _ = load_model(args.model)
    f = model.features_
    work = f._work(builder._with_optional(accepted.lazy()))
    counted = best(
        runs,
        "features: day counts",
        lambda: builder.join_day_counts(work, builder.day_counts(work, f.de_minimis)).collect(),
    )
    priced = best(
        runs,
        "features: reference prices",
        lambda: reference_price_deviation(counted.lazy(), f.reference_).collect(),
    )
    refit = best(
        runs,
        "features: reclassification",
        lambda: reclassification(priced.lazy(), f.reference_, f.routes_).collect(),
    )
    routed = best(
        runs,
        "features: route patterns",
        lambda: route_patterns(refit.lazy(), f.routes_, f.destination).collect(),
    )
    best(
        runs,
        "features: entity histories",
        lambda: entity_histories(
            routed.lazy(), f.entities_, use_labels=False, smoothing=f.smoothing
        ).collect(),
    )
    keyed = _with_keys(routed.lazy())
    best(
        runs,
        "  of which the per-day tables",
        lambda: pl.collect_all(list(history_tables(keyed, f.entities_, use_labels=False).values())),
    )
    best(runs, "features: the whole transform", lambda: f.transform(accepted.lazy()).collect())


if __name__ == "__main__":
    main()
