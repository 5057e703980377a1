"""The features of new declarations as one Polars plan, or in two (the rows' prices,
reclassification and lanes made first, then the histories on them): which is faster,
on the same rows, taking turns in one run.

Usage: python bench/features_plan.py --data DIR [--runs 3]

DIR holds ``day.csv`` and a model ``m.joblib`` trained on its ``history.parquet``
(``bench/score_speed.py --keep DIR`` leaves them; ``detector train`` makes the model).
Printed: each run's seconds, the medians and their ratio, whether the two tables are
equal, and whether the two-plan copy here is the shipped ``transform``'s table.
"""

import polars as pl
from _turns import kept_rows, take_turns

from detector.features import _builder as builder


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
    args, model, accepted = kept_rows()
    print(f"{accepted.height:,} rows")
    tables = take_turns(
        {
            "one plan": lambda: features(model.features_, accepted, in_two=False),
            "two": lambda: features(model.features_, accepted, in_two=True),
        },
        args.runs,
    )
    print(f"equal tables: {tables['one plan'].equals(tables['two'])}")
    same = model.transform(accepted).equals(tables["two"])
    print(f"the two-plan copy equals DeclarationFeatures.transform: {same}")


if __name__ == "__main__":
    main()
