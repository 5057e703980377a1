"""Rolling-origin backtest of the engine's candidate classifiers and of the peers.

Usage: python bench/backtest.py [--kcs DIR] [--seeds 1 2 3] [--rows N]
                                [--candidates NAME...] [--no-peers] [--json OUT]
                                [--drop-features NAME...] [--add-record NAME=COL,COL...]
                                [--kcs-folds 3] [--kcs-months 3]
       python bench/backtest.py --table OUT.json   (the Markdown status table of a run)

Every model is chosen here, on the folds' mean, never on one split. Each fold fits on
every month before its cut-off and measures the months after it:

- Korean dataset (profile kcs, train.csv and valid.csv together): test 2020-07..09,
  2020-10..12 and 2021-01..03, every row of them inspected (``--kcs-folds 9
  --kcs-months 1``: each month of 2020-07..2021-03 alone, for more pairs of folds);
- synthetic years (one per seed): test months 7-8, 9-10 and 11-12, fitted on the
  inspected rows before, measured against the ground truth of every row.

On the same folds and in the same run, the peers are fitted on the raw columns,
label-encoded (codes from the fold's training rows, unseen values -1): a random forest
(300 trees, the dataset paper's protocol), XGBoost, LightGBM and scikit-learn's
HistGradientBoosting, each with its library's usual settings. XGBoost and LightGBM
are benchmark dependencies only (`pip install xgboost lightgbm`).
"""

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from detector import CANONICAL_SCHEMA, load_profile, read_declarations
from detector.app.backtest import backtest, fold_summary, rolling_folds
from detector.features import _builder, _histories
from detector.io.profiles import BUILTIN_PROFILES
from detector.models import ModelConfig, capacity_metrics
from detector.synthetic import generate_declarations

#: The boosting settings shipped until the backtest chose others.
UNTIL_NOW = {"learning_rate": 0.06, "max_iter": 400}

#: Engine candidates: what the modelling decisions are made between.
CANDIDATES: dict[str, dict] = {
    "engine: 3 boosting x 511 leaves (until now)": UNTIL_NOW,
    "engine: 1 boosting x 511 leaves": {**UNTIL_NOW, "n_models": 1},
    "engine: 1 boosting x 127 leaves, lr 0.1": {
        **UNTIL_NOW,
        "n_models": 1,
        "max_leaf_nodes": 127,
        "learning_rate": 0.1,
    },
    "engine: 1 boosting x 511 leaves, seed 1": {**UNTIL_NOW, "n_models": 1, "seed": 1},
    "engine: 1 boosting x 511 leaves, seed 2": {**UNTIL_NOW, "n_models": 1, "seed": 2},
    "engine: 3 boosting x 511 leaves, lr 0.15, <=100 trees": {
        "learning_rate": 0.15,
        "max_iter": 100,
    },
    "engine: 3 boosting x 511 leaves, lr 0.15, <=80 trees": {
        "learning_rate": 0.15,
        "max_iter": 80,
    },
    "engine: 1 boosting x 511 leaves, lr 0.15, <=80 trees": {
        "n_models": 1,
        "learning_rate": 0.15,
        "max_iter": 80,
    },
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees": {
        "learning_rate": 0.2,
        "max_iter": 60,
    },
    "engine: 2 boosting x 511 leaves, lr 0.15, <=80 trees": {
        "n_models": 2,
        "learning_rate": 0.15,
        "max_iter": 80,
    },
    "engine: 3 boosting x 255 leaves, lr 0.15, <=100 trees": {
        "learning_rate": 0.15,
        "max_iter": 100,
        "max_leaf_nodes": 255,
    },
    "engine: 2 boosting x 511 leaves, lr 0.1, <=150 trees": {
        "n_models": 2,
        "learning_rate": 0.1,
        "max_iter": 150,
    },
    # How much the duty at stake orders the likely frauds (synthetic years only: the
    # Korean labels record no revenue, so there the weight is 0 whatever is asked).
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, revenue weight 0": {
        "revenue_weight": 0.0
    },
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, revenue weight 0.25": {
        "revenue_weight": 0.25
    },
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, revenue weight 1": {
        "revenue_weight": 1.0
    },
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, no usual-code stake": {
        "usual_code_stake": False
    },
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, usual-code stake, weight 1": {
        "usual_code_stake": True,
        "revenue_weight": 1.0,
    },
    # The importer's usual code read from its trade with the row's seller first (the
    # default since this candidate's run), against the importer's record alone.
    "engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, usual code of the importer alone": {
        "usual_by_seller": False
    },
    # One model of the shipped settings, for three seeds of its random tenths.
    **{
        f"engine: 1 boosting x 511 leaves, lr 0.2, <=60 trees, seed {k}": {
            "n_models": 1,
            "seed": k,
        }
        for k in (0, 1, 2)
    },
    # Recent inspections weighed more: an inspection this many days older than the
    # latest weighs half as much.
    **{
        f"engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, recency half-life {d} days": {
            "recency_halflife_days": float(d)
        }
        for d in (60, 120, 240, 480)
    },
    # How far an entity's few inspections are drawn toward the overall fraud rate (10
    # pseudo-inspections shipped).
    **{
        f"engine: 3 boosting x 511 leaves, lr 0.2, <=60 trees, smoothing {k}": {
            "smoothing": float(k)
        }
        for k in (3, 30)
    },
    "engine: forest 300": {"estimator": "forest", "n_trees": 300},
    "engine: forest 300, every entity coded": {
        "estimator": "forest",
        "n_trees": 300,
        "max_categories": 1_000_000,
    },
    "engine: extra trees 300, every entity coded": {
        "estimator": "extra_trees",
        "n_trees": 300,
        "max_categories": 1_000_000,
    },
    "engine: blend forest 300 + 1 boosting": {
        **UNTIL_NOW,
        "estimator": "blend",
        "n_trees": 300,
    },
}

_NOT_RAW = {
    "declaration_id",
    "declaration_date",
    "flow",
    "inspected",
    "fraud",
    "fraud_type",
    "revenue_recovered",
    "critical_fraud",
}
_NUMERIC = {"net_mass_kg", "customs_value", "duty_rate_pct", "supplementary_quantity"}


def _truth(period: pl.DataFrame) -> pl.DataFrame:
    """What a fold is measured against, as ``measure`` does for the engine."""
    if "true_fraud" in period.columns:
        return period.filter(pl.col("true_fraud").is_not_null()).select(
            pl.col("true_fraud").alias("y"),
            pl.col("true_revenue_lost").alias("revenue"),
            pl.col("true_fraud_type").alias("scheme"),
            "declaration_id",
        )
    return period.filter(pl.col("inspected") & pl.col("fraud").is_not_null()).select(
        pl.col("fraud").alias("y"),
        pl.lit(None, pl.Float64).alias("revenue"),
        pl.lit(None, pl.String).alias("scheme"),
        "declaration_id",
    )


def _raw_matrix(train: pl.DataFrame, other: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    columns = [c for c in train.columns if c not in _NOT_RAW and not c.startswith("true_")]
    parts_train, parts_other = [], []
    for c in columns:
        if c in _NUMERIC:
            parts_train.append(train[c].cast(pl.Float64).to_numpy())
            parts_other.append(other[c].cast(pl.Float64).to_numpy())
            continue
        values = train[c].cast(pl.String).fill_null("")
        codes = {v: float(i) for i, v in enumerate(sorted(values.unique().to_list()))}
        for frame, out in ((train, parts_train), (other, parts_other)):
            out.append(
                frame[c]
                .cast(pl.String)
                .fill_null("")
                .replace_strict(codes, default=-1.0, return_dtype=pl.Float64)
                .to_numpy()
            )
    return np.column_stack(parts_train), np.column_stack(parts_other)


def _peers() -> dict:
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from xgboost import XGBClassifier

    return {
        "peer: random forest 300, raw columns": lambda: RandomForestClassifier(
            300, n_jobs=-1, random_state=0
        ),
        "peer: XGBoost, raw columns": lambda: XGBClassifier(
            n_estimators=300, learning_rate=0.1, max_depth=6, n_jobs=2, random_state=0
        ),
        "peer: LightGBM, raw columns": lambda: LGBMClassifier(
            n_estimators=300, learning_rate=0.05, n_jobs=2, random_state=0, verbose=-1
        ),
        "peer: HistGradientBoosting, raw columns": lambda: HistGradientBoostingClassifier(
            random_state=0
        ),
    }


def peer_backtest(declarations: pl.DataFrame, folds, make) -> list[dict]:
    out = []
    for fold in folds:
        history, period = fold.split(declarations)
        labelled = history.filter(pl.col("inspected") & pl.col("fraud").is_not_null())
        truth = _truth(period)
        if "true_fraud" in period.columns:
            period = period.filter(pl.col("true_fraud").is_not_null())
        else:
            period = period.filter(pl.col("inspected") & pl.col("fraud").is_not_null())
        x_train, x_period = _raw_matrix(labelled, period)
        t0 = time.perf_counter()
        model = make().fit(x_train, labelled["fraud"].cast(int).to_numpy())
        fit_seconds = time.perf_counter() - t0
        p = model.predict_proba(x_period)[:, 1]
        has_rev = truth["revenue"].null_count() < truth.height
        m = capacity_metrics(
            p,
            truth["y"].cast(int).to_numpy(),
            revenue=truth["revenue"].fill_null(0.0).to_numpy() if has_rev else None,
            fraud_type=truth["scheme"].to_list()
            if truth["scheme"].null_count() < truth.height
            else None,
            ids=truth["declaration_id"].to_numpy(),
        )
        m.update(fold=fold.label, fit_seconds=round(fit_seconds, 1))
        out.append(m)
    return out


def _fold_line(name: str, m: dict) -> str:
    at = m["at"]
    cells = "  ".join(f"p@{k} {v['precision']:.3f}" for k, v in at.items())
    extra = f"  rev@5% {at['5%']['revenue']:.3f}" if "revenue" in at["5%"] else ""
    return (
        f"  {m['fold']}  {name:<48} {cells}  r@5% {at['5%']['recall']:.3f}{extra}  "
        f"AUC {m['auc']:.4f}  ({m['fit_seconds']:.0f} s, {m.get('trees', '-')} trees)"
    )


def _summary_lines(name: str, results: list[dict]) -> list[str]:
    s = fold_summary(results)
    keys = ["p@1%", "p@2%", "p@5%", "p@10%", "r@5%", "r@10%", "rev@5%", "auc"]
    cells = "  ".join(f"{k} {s[k][0]:.3f}±{s[k][1]:.3f}" for k in keys if k in s)
    lines = [
        f"  MEAN {name:<48} {cells}  (fit {np.mean([m['fit_seconds'] for m in results]):.0f} s)"
    ]
    schemes = sorted(k for k in s if "@5%" in k and k.split("@")[0] not in {"p", "r", "rev"})
    if schemes:
        lines.append(
            "       recall@5% by scheme: "
            + ", ".join(f"{k.split('@')[0]} {s[k][0]:.3f}±{s[k][1]:.3f}" for k in schemes)
        )
    return lines


def run(dataset: str, declarations, folds, config_base, names, peers, record) -> None:
    print(f"{dataset}: folds {', '.join(f.label for f in folds)}", flush=True)
    for name in names:
        config = ModelConfig(**{**config_base, **CANDIDATES[name]})
        results = backtest(
            declarations,
            config,
            folds,
            on_fold=lambda f, m, n=name: print(_fold_line(n, m), flush=True),
        )
        record.setdefault(dataset, {})[name] = results
        print("\n".join(_summary_lines(name, results)), flush=True)
    for name, make in peers.items():
        results = peer_backtest(declarations, folds, make)
        for m in results:
            print(_fold_line(name, m), flush=True)
        record.setdefault(dataset, {})[name] = results
        print("\n".join(_summary_lines(name, results)), flush=True)


def _add_record(spec: str) -> None:
    """One more entity with a history, as ``features._histories.ENTITIES`` keeps them:
    ``NAME=COL,COL`` (columns of the feature table, e.g. ``hs_origin=hs_code,country_origin``
    or ``hs4_route=hs4,route``), with its three features (declarations before, days
    known, fraud rate) added to the model's."""
    name, _, columns = spec.partition("=")
    keys = tuple(c for c in columns.split(",") if c)
    if not name or not keys or name in _histories.ENTITIES:
        raise SystemExit(f"--add-record {spec!r}: give a new NAME=COL,COL")
    _histories.ENTITIES[name] = keys
    _builder._PREFIXES = (*_builder._PREFIXES, name)
    # A canonical column the features do not carry yet (the office of entry, say), or a
    # field a profile passes to the model (the Korean import type, say).
    fields = {c for p in BUILTIN_PROFILES.values() for c in p.features}
    extra = [
        c
        for c in keys
        if (c in CANONICAL_SCHEMA or c in fields) and c not in _builder._WORK_COLUMNS
    ]
    _builder._WORK_COLUMNS = (*_builder._WORK_COLUMNS, *extra)
    added = (f"log_{name}_n_before", f"{name}_days_known", f"{name}_fraud_rate")
    _builder.NUMERIC_FEATURES = (*_builder.NUMERIC_FEATURES, *added)
    print(f"record added: {name} {keys}")


def markdown_table(record: dict) -> str:
    """Mean and spread per model: the Korean folds, and the synthetic folds of every
    seed pooled; then each model's per-fold difference from the best peer at 5 and 10 %."""
    pooled: dict[str, dict[str, list]] = {}
    for dataset, models in record.items():
        key = "Korean" if dataset.startswith("Korean") else "synthetic"
        for name, folds in models.items():
            pooled.setdefault(key, {}).setdefault(name, []).extend(folds)
    lines = []
    for key, models in pooled.items():
        schemes = sorted(
            {
                s
                for folds in models.values()
                for f in folds
                for s in f["at"]["5%"].get("recall_by_scheme", {})
            }
        )
        figures = ["p@1%", "p@2%", "p@5%", "p@10%", "r@5%", "r@10%", "rev@5%", "auc"]
        figures = [f for f in figures if f in fold_summary(next(iter(models.values())))]
        folds = len(next(iter(models.values())))
        lines.append(f"\n{key}: mean ± spread over {folds} folds\n")
        lines.append("| model | " + " | ".join(figures) + " | trees | fit s |")
        lines.append("|---|" + "---|" * (len(figures) + 2))
        for name, results in models.items():
            s = fold_summary(results)
            trees = [m["trees"] for m in results if "trees" in m]
            fit = np.mean([m["fit_seconds"] for m in results])
            cells = [f"{s[f][0]:.3f} ± {s[f][1]:.3f}" for f in figures]
            cells += [f"{np.mean(trees):.0f}" if trees else "-", f"{fit:.0f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if schemes:
            lines.append(f"\n{key}: recall@5% by scheme, mean ± spread\n")
            lines.append("| model | " + " | ".join(schemes) + " |")
            lines.append("|---|" + "---|" * len(schemes))
            for name, results in models.items():
                s = fold_summary(results)
                lines.append(
                    f"| {name} | "
                    + " | ".join(f"{s[f'{x}@5%'][0]:.3f} ± {s[f'{x}@5%'][1]:.3f}" for x in schemes)
                    + " |"
                )
        peers = [n for n in models if n.startswith("peer")]
        if peers:
            lines.append(f"\n{key}: per-fold difference from the best peer on the mean\n")
            for level in ("5%", "10%"):

                def precision(name, level=level, models=models):
                    return np.array([m["at"][level]["precision"] for m in models[name]])

                best = max(peers, key=lambda n: precision(n).mean())
                lines.append(f"- precision@{level}, against the best peer ({best[6:]}):")
                for name in models:
                    if name.startswith("peer"):
                        continue
                    d = precision(name) - precision(best)
                    lines.append(
                        f"  - {name}: mean {d.mean():+.3f}, lowest fold {d.min():+.3f}, "
                        f"spread {d.std(ddof=1):.3f}"
                    )
    return "\n".join(lines)


def paired_table(record: dict, base: str, candidate: str) -> str:
    """Per dataset (the Korean folds; the synthetic folds of every seed pooled), the
    difference CANDIDATE - BASE on each fold at 5 % capacity: precision, revenue and
    each scheme's recall (and the precision at 10 %, and the AUC), as the mean, its
    standard error over the folds, and the number of folds it is higher, equal and
    lower on. Names as in the saved run (or a
    part of one)."""

    def named(runs: dict, part: str) -> str:
        found = [n for n in runs if n == part] or [n for n in runs if part in n]
        if len(found) != 1:
            raise SystemExit(f"{part!r} names {len(found)} models of the run, not one")
        return found[0]

    groups: dict[str, list[tuple[dict, dict]]] = {}
    for dataset, runs in record.items():
        group = "synthetic" if dataset.startswith("synthetic") else dataset
        pairs = zip(runs[named(runs, base)], runs[named(runs, candidate)], strict=True)
        groups.setdefault(group, []).extend(pairs)
    lines = [
        f"{candidate} - {base}, at 5 % (and precision at 10 %, AUC): mean (se) over the "
        "folds; higher/equal/lower"
    ]
    for group, pairs in groups.items():
        lines.append(f"{group}, {len(pairs)} folds:")
        metrics = {"precision": lambda f: f["at"]["5%"]["precision"]}
        metrics["revenue"] = lambda f: f["at"]["5%"].get("revenue")
        metrics["precision at 10 %"] = lambda f: f["at"]["10%"]["precision"]
        metrics["AUC"] = lambda f: f.get("auc")
        for scheme in sorted(pairs[0][0]["at"]["5%"].get("recall_by_scheme") or {}):
            metrics[scheme] = lambda f, s=scheme: f["at"]["5%"]["recall_by_scheme"][s]
        for name, value in metrics.items():
            diffs = [value(c) - value(b) for b, c in pairs if value(b) is not None]
            if not diffs:
                continue
            se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
            up, same = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs)
            lines.append(
                f"  {name:<22} {statistics.mean(diffs):+.4f} ({se:.4f})"
                f"  {up}/{same}/{len(diffs) - up - same}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--kcs-folds", type=int, default=3, help="Korean periods measured (the latest last)"
    )
    parser.add_argument("--kcs-months", type=int, default=3, help="months in each Korean period")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--table", type=Path, help="print the status table of a saved run")
    parser.add_argument(
        "--paired",
        nargs=2,
        metavar=("BASE", "CANDIDATE"),
        help="with --table: each fold's difference CANDIDATE - BASE at 5 %%, mean and se",
    )
    parser.add_argument(
        "--drop-features", nargs="*", default=[], help="engine features left out (an ablation)"
    )
    parser.add_argument(
        "--add-record",
        nargs="*",
        default=[],
        metavar="NAME=COL,COL",
        help="one more entity with a history (its three features added): a trial",
    )
    args = parser.parse_args()
    for spec in args.add_record:
        _add_record(spec)
    if args.drop_features:
        unknown = set(args.drop_features) - set(_builder.NUMERIC_FEATURES)
        if unknown:
            parser.error(f"not engine features: {sorted(unknown)}")
        _builder.NUMERIC_FEATURES = tuple(
            f for f in _builder.NUMERIC_FEATURES if f not in args.drop_features
        )
        print(f"engine features left out: {args.drop_features}")
    if args.table:
        saved = json.loads(args.table.read_text())
        print(paired_table(saved, *args.paired) if args.paired else markdown_table(saved))
        return
    # A candidate named in full is that one alone; a part of a name, every one it is in.
    names = [
        n for n in CANDIDATES if any(c == n if c in CANDIDATES else c in n for c in args.candidates)
    ]
    peers = {} if args.no_peers else _peers()
    record: dict = {}
    if not (args.kcs / "train.csv").exists():
        # Said, not silent: a worktree elsewhere misses the data beside the checkout.
        print("Korean dataset: no train.csv in the --kcs folder, skipped (give --kcs DIR)")
    else:
        profile = load_profile("kcs")
        kcs = pl.concat(
            [read_declarations(args.kcs / f, profile).accepted for f in ("train.csv", "valid.csv")],
            how="diagonal_relaxed",
        )
        base = {"extra_categorical": profile.features}
        run(
            "Korean dataset",
            kcs,
            rolling_folds(kcs["declaration_date"], folds=args.kcs_folds, months=args.kcs_months),
            base,
            names,
            peers,
            record,
        )
    for seed in args.seeds:
        year = generate_declarations(rows=args.rows, seed=seed, start=date(2025, 1, 1))
        folds = rolling_folds(year["declaration_date"], folds=3, months=2)
        run(f"synthetic seed {seed}, {args.rows:,} rows", year, folds, {}, names, peers, record)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    main()
