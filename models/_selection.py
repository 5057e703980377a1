"""Which declarations go to inspection: the model's top, and a share of exploration.

Labels come only from what was inspected; a list of the model's top alone would teach
the next model only what this one already finds. A share of the capacity goes to random
picks among the rest (``ModelConfig.exploration_share``).
"""

import numpy as np
import polars as pl

from detector.models._config import ModelConfig

__all__ = ["exploration_rng", "explained_without_capacity", "select_for_inspection"]


def select_for_inspection(order: pl.DataFrame, k: int | None, config: ModelConfig) -> pl.DataFrame:
    """Ranks, the selection of each listed row, and which rows get their reasons.

    ``order`` holds the scored rows, most suspicious first, with a hash of each id
    (``__h``). Without a capacity ``k`` every row is listed, the first
    ``reasons_share`` explained; with one, the model's top rows and a share of random
    picks among the rest (exploration, seeded by the batch, so that the same input
    gives the same picks), all explained.
    """
    n = order.height
    if k is None:
        listed = order.with_columns(
            pl.int_range(1, n + 1, dtype=pl.UInt32).alias("rank"),
            pl.lit("model").alias("selection"),
        )
        n_reasons = explained_without_capacity(n, config)
    else:
        n_explore = int(round(k * config.exploration_share))
        head, rest = order.head(k - n_explore), order.slice(k - n_explore).sort("__h")
        rng = exploration_rng(rest, config)
        picks = np.sort(rng.choice(rest.height, n_explore, replace=False))
        listed = pl.concat(
            [
                head.with_columns(pl.lit("model").alias("selection")),
                rest[picks].with_columns(pl.lit("exploration").alias("selection")),
            ]
        ).with_columns(pl.int_range(1, k + 1, dtype=pl.UInt32).alias("rank"))
        n_reasons = k
    return listed.with_columns((pl.col("rank") <= n_reasons).alias("explain"))


def explained_without_capacity(n: int, config: ModelConfig) -> int:
    """How many of ``n`` rows listed without a capacity get their reasons: the first
    ``reasons_share`` of them, at least one."""
    return min(n, max(1, int(np.ceil(n * config.reasons_share))))


def exploration_rng(rest: pl.DataFrame, config: ModelConfig) -> np.random.Generator:
    """The random picks' generator, seeded by the batch (the ids' hashes in ``__h``):
    the same input gives the same picks, another batch other picks."""
    batch = int((rest["__h"] % 2**32).sum() % 2**32) if rest.height else 0
    return np.random.default_rng(config.seed + batch)
