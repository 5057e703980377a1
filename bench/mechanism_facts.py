"""How often each scheme's facts hold, by true scheme and by whether the row was listed:
the exploration behind the thresholds of ``mechanism_facts`` (models/_reasons.py).

For each seed: a synthetic year, trained on months 1-9, months 10-12 scored with
``--top 5%``; every row of months 10-12 gets its features, and for each true scheme
(and no fraud), listed or not, the share of rows where each fact holds, with the same
thresholds the engine uses. A fact worth naming holds for its scheme's listed rows and
rarely for listed rows without fraud.

    python bench/mechanism_facts.py --seeds 1 2 --rows 100000
"""

from pathlib import Path

import polars as pl
from reasons_mechanism import each_seed, scored_year

from detector.io.persist import load_model
from detector.models._reasons import mechanism_facts


def facts_by_scheme(seed: int, rows: int, folder: Path) -> pl.DataFrame:
    recent, scored = scored_year(seed, rows, folder)
    listed = scored.filter(pl.col("selection") == "model")["declaration_id"]
    model = load_model(folder / "m.joblib")[0]
    table = model.transform(recent)
    facts = mechanism_facts(table)
    return pl.DataFrame(
        {
            "scheme": table["true_fraud_type"].fill_null("no fraud"),
            "listed": table["declaration_id"].is_in(listed.implode()),
            **{code: shown for code, shown in facts.items()},
        }
    )


def main() -> None:
    args, frames = each_seed(facts_by_scheme, [1, 2])
    both = pl.concat(frames)
    codes = [c for c in both.columns if c not in ("scheme", "listed")]
    table = (
        both.group_by("scheme", "listed")
        .agg(pl.len().alias("rows"), *[pl.col(c).mean().round(3) for c in codes])
        .sort("scheme", "listed")
    )
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(12)
    pl.Config.set_tbl_width_chars(160)
    print(f"seeds {args.seeds}, {args.rows:,} rows each: share of rows where each fact holds")
    print(table)


if __name__ == "__main__":
    main()
