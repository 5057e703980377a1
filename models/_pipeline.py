"""The factory of the classifier pipeline: encoder, then gradient boosting or a forest."""

from dataclasses import replace

import numpy as np
import polars as pl
from joblib import Parallel, cpu_count, delayed
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from detector.models._config import ModelConfig
from detector.models._encode import FrameEncoder

__all__ = ["fit_classifiers", "make_classifier"]


def make_classifier(config: ModelConfig, numeric: list[str], categorical: list[str]) -> Pipeline:
    """A plain scikit-learn Pipeline: Polars feature table in, fraud probability out."""
    encoder = FrameEncoder(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        max_categories=config.max_categories,
    )
    n_num = len(numeric)

    def boosting(seed: int) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=config.learning_rate,
            max_iter=config.max_iter,
            max_leaf_nodes=config.max_leaf_nodes,
            max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf,
            l2_regularization=config.l2_regularization,
            categorical_features=list(range(n_num, n_num + len(categorical))),
            max_bins=255,
            max_features=config.max_features,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=30,
            random_state=seed,
        )

    if config.estimator == "hgb":
        # Several models, each stopping on a different tenth of the rows, averaged:
        # one model's ranking depends on which tenth it held out; the average does not
        # as much.
        model = (
            boosting(config.seed)
            if config.n_models == 1
            else VotingClassifier(
                [(f"boosting_{i}", boosting(config.seed + i)) for i in range(config.n_models)],
                voting="soft",
            )
        )
    elif config.estimator in ("forest", "extra_trees"):
        model = _forest(config)
    elif config.estimator == "blend":
        # A forest's and one boosting model's probabilities averaged: the forest's deep
        # trees remember entities, the boosting corrects what they leave.
        model = VotingClassifier(
            [
                ("forest", _forest(replace(config, estimator="forest"))),
                ("boosting", boosting(config.seed)),
            ],
            voting="soft",
        )
    else:
        raise ValueError(
            f"estimator must be 'hgb', 'forest', 'extra_trees' or 'blend', got {config.estimator!r}"
        )
    return Pipeline([("encode", encoder), ("classify", model)])


def fit_classifiers(
    config: ModelConfig,
    numeric: list[str],
    categorical: list[str],
    tasks: list[tuple[pl.DataFrame, np.ndarray, np.ndarray | None, int]],
) -> list[Pipeline]:
    """Classifier pipelines, one per task, with their boosting models fitted side by side.

    A task is ``(rows, labels, sample weights or None, n_models)``; its pipeline is
    ``make_classifier`` with ``n_models`` models, fitted on the rows, and is the same
    pipeline that fitting it alone gives. The gradient boosting models of every task
    are fitted in parallel, one process per core, each on one thread: the trees of a
    few tens of thousands of rows spend most of their time in Python between small
    histograms, which a second thread does not speed up and a second process does.
    """
    pipes, jobs = [], []
    for rows, y, weight, n_models in tasks:
        pipe = make_classifier(replace(config, n_models=n_models), numeric, categorical)
        if config.estimator != "hgb":
            fit_params = {} if weight is None else {"classify__sample_weight": weight}
            pipes.append(pipe.fit(rows, y, **fit_params))
            continue
        matrix = pipe.named_steps["encode"].fit_transform(rows)
        model = pipe.named_steps["classify"]
        members = [model] if n_models == 1 else [m for _, m in model.estimators]
        pipes.append((pipe, matrix, y, len(jobs), len(members)))
        jobs += [(m, matrix, y, weight) for m in members]
    if jobs:
        # The largest first, so that the last to finish is a small one.
        order = sorted(range(len(jobs)), key=lambda i: -jobs[i][1].shape[0])
        fitted = Parallel(n_jobs=min(len(jobs), cpu_count()))(
            delayed(_fit_boosting)(*jobs[i]) for i in order
        )
        models = dict(zip(order, fitted, strict=True))
    out = []
    for item in pipes:
        if isinstance(item, Pipeline):
            out.append(item)
            continue
        pipe, matrix, y, first, n = item
        members = [models[first + i] for i in range(n)]
        if n == 1:
            model = members[0]
        else:
            # Already fitted: the vote only averages them.
            model = VotingClassifier(
                [
                    (name, FrozenEstimator(m))
                    for (name, _), m in zip(
                        pipe.named_steps["classify"].estimators, members, strict=True
                    )
                ],
                voting="soft",
            ).fit(matrix, y)
        pipe.steps[-1] = ("classify", model)
        out.append(pipe)
    return out


def _fit_boosting(model, matrix: np.ndarray, y: np.ndarray, weight: np.ndarray | None):
    return model.fit(matrix, y, sample_weight=weight)


def _forest(config: ModelConfig) -> RandomForestClassifier | ExtraTreesClassifier:
    kind = RandomForestClassifier if config.estimator == "forest" else ExtraTreesClassifier
    return kind(
        n_estimators=config.n_trees,
        min_samples_leaf=config.min_samples_leaf,
        max_features="sqrt",
        n_jobs=-1,
        random_state=config.seed,
    )
