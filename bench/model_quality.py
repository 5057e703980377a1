"""Ranking quality at fixed inspection capacity, on the Korean dataset and synthetic years.

Usage: python bench/model_quality.py [--kcs DIR] [--seeds 1 2 3] [--rows N] [--default-only]

Korean dataset (profile kcs): train on train.csv, measure on valid.csv, next to two
baselines fitted on the raw label-encoded columns in the same run (a random forest and
gradient boosting), and the engine with the forest instead of gradient boosting.
Synthetic years: train on months 1-9 (inspected labels only), measure months 10-12
against the ground truth of every row; then once more with transshipment hidden from
every label, with and without the unsupervised detectors.
"""

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from detector import load_profile, read_declarations
from detector.app.pipeline import demo_split, measure
from detector.models import FraudModel, ModelConfig, capacity_metrics
from detector.synthetic import generate_declarations

TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


def _line(name: str, m: dict, seconds: float) -> str:
    at = m["at"]
    cells = "  ".join(f"p@{k} {v['precision']:.3f}" for k, v in at.items())
    return f"{name:<52} {cells}  AUC {m['auc']:.4f}  ({seconds:.0f} s)"


def raw_baselines(kcs: Path) -> list[str]:
    train = pl.read_csv(kcs / "train.csv", infer_schema=False)
    valid = pl.read_csv(kcs / "valid.csv", infer_schema=False)
    numeric = ["Net Mass", "Item Price", "Tax Rate"]
    skip = {"Declaration ID", "Date", "Fraud", "Critical Fraud"}
    cols = [c for c in train.columns if c not in skip]

    def matrix(df):
        out = []
        for c in cols:
            if c in numeric:
                out.append(df[c].cast(pl.Float64).to_numpy())
            else:
                codes = {v: i for i, v in enumerate(sorted(train[c].fill_null("").unique()))}
                out.append(np.array([codes.get(v, -1) for v in df[c].fill_null("")], float))
        return np.column_stack(out)

    x_train, x_valid = matrix(train), matrix(valid)
    y_train, y_valid = train["Fraud"].cast(int).to_numpy(), valid["Fraud"].cast(int).to_numpy()
    lines = []
    for name, model in (
        ("raw columns, random forest", RandomForestClassifier(300, n_jobs=-1, random_state=0)),
        ("raw columns, gradient boosting", HistGradientBoostingClassifier(random_state=0)),
    ):
        t0 = time.perf_counter()
        p = model.fit(x_train, y_train).predict_proba(x_valid)[:, 1]
        lines.append(_line(name, capacity_metrics(p, y_valid), time.perf_counter() - t0))
    return lines


def kcs_engine(kcs: Path, variants: bool = True) -> list[str]:
    profile = load_profile("kcs")
    train = read_declarations(kcs / "train.csv", profile).accepted
    valid = read_declarations(kcs / "valid.csv", profile).accepted
    lines = []
    extra = profile.features
    for name, config in [
        (
            "engine (default: 3 gradient boosting models averaged)",
            ModelConfig(extra_categorical=extra),
        ),
        *[
            (
                f"engine, one model, seed {seed}",
                ModelConfig(extra_categorical=extra, n_models=1, seed=seed),
            )
            for seed in range(3)
        ],
        ("engine, 5 models averaged", ModelConfig(extra_categorical=extra, n_models=5)),
        (
            "engine with a random forest",
            ModelConfig(extra_categorical=extra, estimator="forest"),
        ),
        (
            "engine, expanding label history",
            ModelConfig(extra_categorical=extra, label_history="expanding"),
        ),
        (
            "engine, 3 models at learning rate 0.12",
            ModelConfig(extra_categorical=extra, learning_rate=0.12),
        ),
    ][: None if variants else 1]:
        t0 = time.perf_counter()
        model = FraudModel(config).fit(train)
        trees = model.classifier_.steps[-1][1]
        name += f" [{_trees(trees)} trees]"
        lines.append(_line(name, measure(model, valid), time.perf_counter() - t0))
    return lines


def _trees(clf) -> str:
    """Trees each model kept after early stopping."""
    if hasattr(clf, "n_iter_"):
        return str(clf.n_iter_)
    members = clf.estimators_
    if all(hasattr(m, "n_iter_") for m in members):
        return "+".join(str(m.n_iter_) for m in members)
    return str(len(members))


def synthetic(seed: int, rows: int) -> str:
    start = date(2025, 1, 1)
    year = generate_declarations(rows=rows, seed=seed, start=start)
    history, recent = demo_split(year, start)
    t0 = time.perf_counter()
    model = FraudModel().fit(history.drop(TRUTH))
    m = measure(model, recent)
    at5 = m["at"]["5%"]
    share = {s: n / recent.height for s, n in m["schemes"].items()}
    schemes = ", ".join(
        f"{s} {r:.2f} ({share[s] * 100:.1f}% of rows)" for s, r in at5["recall_by_scheme"].items()
    )
    return (
        f"seed {seed}, {rows:,} rows: precision@5% {at5['precision']:.3f}, recall@5% "
        f"{at5['recall']:.3f}, revenue@5% {at5['revenue']:.3f}, AUC {m['auc']:.4f} "
        f"({time.perf_counter() - t0:.0f} s)\n    recall@5% by scheme: {schemes}"
    )


def blind(seed: int, rows: int) -> str:
    """Transshipment hidden from every label: does the ranking still find it?"""
    start = date(2025, 1, 1)
    year = generate_declarations(rows=rows, seed=seed, start=start)
    history, recent = demo_split(year, start)
    hidden = pl.col("true_fraud_type") == "transshipment"
    history = history.with_columns(
        pl.when(hidden).then(False).otherwise(pl.col("inspected")).alias("inspected"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud")).alias("fraud"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud_type")).alias("fraud_type"),
    ).drop(TRUTH)
    out = []
    for weight in (0.0, ModelConfig().novelty_weight):
        m = measure(FraudModel(ModelConfig(novelty_weight=weight)).fit(history), recent)
        r5 = m["at"]["5%"]["recall_by_scheme"]["transshipment"]
        r10 = m["at"]["10%"]["recall_by_scheme"]["transshipment"]
        out.append(f"novelty_weight {weight}: transshipment recall@5% {r5:.2f}, @10% {r10:.2f}")
    return f"seed {seed}, {rows:,} rows, no transshipment in the labels: " + "; ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--kcs", type=Path, default=here / "shared" / "data" / "kcs")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument(
        "--default-only", action="store_true", help="on the Korean data, only the default engine"
    )
    args = parser.parse_args()
    if (args.kcs / "train.csv").exists():
        print("Korean dataset: train.csv -> valid.csv")
        for line in raw_baselines(args.kcs) + kcs_engine(args.kcs, not args.default_only):
            print("  " + line)
    for seed in args.seeds:
        print(synthetic(seed, args.rows))
    print(blind(7, 60_000))


if __name__ == "__main__":
    main()
