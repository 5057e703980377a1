"""The entity histories' joins, two ways: a left join that keeps the rows' order itself
(``maintain_order="left"``) against a plain left join put back in order by a row index,
on the rows ``bench/score_speed.py --keep DIR`` leaves, taking turns; the tables are
checked equal. Decided how ``features._histories.entity_histories`` joins.

    python bench/histories_join.py --data DIR --model MODEL [--runs 5]
"""

import argparse
import statistics
import time
from pathlib import Path

import polars as pl
from score_steps import staged, validated

from detector.features._histories import ENTITIES, _with_keys, history_tables
from detector.io.persist import load_model


def joins(rows: pl.LazyFrame, tables: dict, keep_order: bool) -> list[pl.DataFrame]:
    """Each entity's history beside the rows, in the rows' order."""
    plans = []
    for prefix, keys in ENTITIES.items():
        key = f"__key_{prefix}"
        narrow = rows.select(key, "declaration_date", *keys)
        on = [key, "declaration_date"]
        if keep_order:
            plans.append(narrow.join(tables[prefix], on=on, how="left", maintain_order="left"))
        else:
            plans.append(
                narrow.with_row_index("__order")
                .join(tables[prefix], on=on, how="left")
                .sort("__order")
                .drop("__order")
            )
    return [plan.collect() for plan in plans]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    accepted, _, _ = validated(args.data / "day.csv")
    model, _ = load_model(args.model)
    f = model.features_
    rows = staged(accepted, f)
    rows = _with_keys(rows).collect().lazy()
    tables = {
        p: t.collect().lazy()
        for p, t in history_tables(rows, f.entities_, use_labels=False).items()
    }
    kept, put_back = joins(rows, tables, True), joins(rows, tables, False)
    same = all(a.equals(b) for a, b in zip(kept, put_back, strict=True))
    print(f"{accepted.height:,} rows, {len(tables)} entities; the tables equal: {same}")
    times = {"order kept by the join": [], "joined, then sorted back": []}
    for i in range(args.runs):
        turn = list(times) if i % 2 == 0 else list(times)[::-1]
        for name in turn:
            t0 = time.perf_counter()
            joins(rows, tables, name == "order kept by the join")
            times[name].append(time.perf_counter() - t0)
    for name, t in times.items():
        print(
            f"{name:28s} median {statistics.median(t):.2f} s  ({', '.join(f'{x:.2f}' for x in t)})"
        )


if __name__ == "__main__":
    main()
