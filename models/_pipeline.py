"""The factory of the classifier pipeline: encoder, then gradient boosting or a forest."""

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.pipeline import Pipeline

from models._config import ModelConfig
from models._encode import FrameEncoder

__all__ = ["make_classifier"]


def make_classifier(config: ModelConfig, numeric: list[str], categorical: list[str]) -> Pipeline:
    """A plain scikit-learn Pipeline: Polars feature table in, fraud probability out."""
    encoder = FrameEncoder(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        max_categories=config.max_categories,
    )
    if config.estimator == "hgb":
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
    elif config.estimator == "forest":
        model = RandomForestClassifier(
            n_estimators=config.n_trees,
            min_samples_leaf=3,
            max_features="sqrt",
            n_jobs=-1,
            random_state=config.seed,
        )
    else:
        raise ValueError(f"estimator must be 'hgb' or 'forest', got {config.estimator!r}")
    return Pipeline([("encode", encoder), ("classify", model)])
