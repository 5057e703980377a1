"""Selection policies: which of a period's scored declarations go to inspection.

Capacity is fixed; a policy decides how to spend it. Every policy takes the model's top
first and differs in what it does with the exploration share
(``ModelConfig.exploration_share``) of the capacity: nothing (``exploit``), random
picks among the rest (``random-explore``, the list ``score --top`` draws), picks
weighted by the unsupervised detectors' novelty (``novelty-explore``), or a bandit over
segments (HS chapter x origin) that spends the picks where labels are scarce or have
found fraud, on the rows the detectors find strangest (``segment-bandit``).

A policy reads the scored rows in ``order`` (most suspicious first, with ``__h``, a
hash of the id, ``novelty``, and ``hs_code`` and ``country_origin`` or the segment
``__seg``) and the labels it has revealed so far; it returns the listed rows with
``selection`` (``model`` or ``exploration``) and ``rank``.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from detector.models._config import ModelConfig
from detector.models._selection import exploration_rng, select_for_inspection

__all__ = ["POLICIES", "SelectionPolicy", "segment_of", "segment_stats"]


def segment_of(frame: pl.DataFrame) -> pl.Series:
    """A declaration's segment for exploration: HS chapter and origin (``08|TH``)."""
    return frame.select(
        pl.concat_str(
            pl.col("hs_code").str.slice(0, 2), pl.col("country_origin"), separator="|"
        ).fill_null("?")
    ).to_series()


def segment_stats(revealed: pl.DataFrame) -> pl.DataFrame:
    """Per segment, the labels revealed (``__n``) and the frauds among them (``__f``)."""
    return (
        pl.DataFrame({"__seg": segment_of(revealed), "__y": revealed["fraud"].cast(pl.Float64)})
        .group_by("__seg")
        .agg(pl.len().alias("__n"), pl.col("__y").sum().alias("__f"))
        .sort("__seg")
    )


def _listed(head: pl.DataFrame, picks: pl.DataFrame) -> pl.DataFrame:
    """The model's head then the exploration picks, ranked in that order."""
    out = pl.concat(
        [
            head.with_columns(pl.lit("model").alias("selection")),
            picks.with_columns(pl.lit("exploration").alias("selection")),
        ]
    )
    return out.with_columns(pl.int_range(1, out.height + 1, dtype=pl.UInt32).alias("rank"))


def _split(order: pl.DataFrame, k: int, config: ModelConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The model's share of the capacity, and the rows left to explore (by ``__h``)."""
    n_explore = min(int(round(k * config.exploration_share)), max(order.height - k, 0))
    return order.head(k - n_explore), order.slice(k - n_explore).sort("__h")


def _exploit(order, k, revealed, config) -> pl.DataFrame:
    return _listed(order.head(k), order.clear())


def _random_explore(order, k, revealed, config) -> pl.DataFrame:
    # The very list ``score --top`` draws: one code path for the product and the replay.
    return select_for_inspection(order, k, config).drop("explain")


#: How sharply ``novelty-explore`` prefers the strangest rows: a row at the 99th
#: percentile of its strongest detector weighs 0.82, at the 90th 0.12, at the 70th 0.001.
_NOVELTY_POWER = 20.0


def _novelty_explore(order, k, revealed, config) -> pl.DataFrame:
    head, rest = _split(order, k, config)
    n = k - head.height
    if n == 0:
        return _listed(head, rest.clear())
    weight = np.power(rest["novelty"].fill_null(0.0).to_numpy(), _NOVELTY_POWER) + 1e-12
    # A weighted draw without replacement (Efraimidis-Spirakis): the n largest u^(1/w).
    keys = np.log(exploration_rng(rest, config).random(rest.height)) / weight
    picks = np.sort(np.argsort(-keys, kind="stable")[:n])
    return _listed(head, rest[picks])


def _segment_bandit(order, k, revealed, config) -> pl.DataFrame:
    """Upper confidence over segments, each pick the segment's next strangest row.

    A segment's value is its fraud rate among the labels revealed so far (one fraud
    and one clean pseudo-label) plus a bonus that shrinks with the labels it holds and
    the picks it already got (1 / sqrt(1 + labels + picks)); a row's priority is that
    value times its novelty. Within a segment priorities fall pick by pick, so the top
    priorities over all rows are the picks a greedy bandit would make one at a time.
    """
    head, rest = _split(order, k, config)
    n = k - head.height
    if n == 0:
        return _listed(head, rest.clear())
    # The labels themselves, or their counts per segment (what a model keeps of them).
    stats = revealed if "__seg" in revealed.columns else segment_stats(revealed)
    seg = rest["__seg"] if "__seg" in rest.columns else segment_of(rest)
    scored = (
        rest.select("__h", pl.col("novelty").fill_null(0.0))
        .with_columns(seg.alias("__seg"))
        .join(stats, on="__seg", how="left", maintain_order="left")
        .with_columns(pl.col("__n").fill_null(0), pl.col("__f").fill_null(0.0))
        .with_columns(
            pl.col("novelty")
            .rank("ordinal", descending=True)
            .over("__seg")
            .cast(pl.Float64)
            .alias("__j")
        )
    )
    value = (pl.col("__f") + 1.0) / (pl.col("__n") + 2.0) + 1.0 / (
        1.0 + pl.col("__n") + pl.col("__j") - 1.0
    ).sqrt()
    priority = scored.select((pl.col("novelty") * value).alias("p"))["p"].to_numpy()
    picks = np.sort(np.lexsort((scored["__h"].to_numpy(), -priority))[:n])
    return _listed(head, rest[picks])


@dataclass(frozen=True)
class SelectionPolicy:
    """A named way of spending the inspection capacity (see the module's docstring)."""

    name: str
    description: str
    rule: object

    def select(
        self, order: pl.DataFrame, k: int, revealed: pl.DataFrame, config: ModelConfig
    ) -> pl.DataFrame:
        """The ``k`` listed rows of ``order``, with ``selection`` and ``rank``.

        ``revealed``: the labels this policy's inspections have revealed so far
        (``hs_code``, ``country_origin``, ``fraud``), or their counts per segment
        (``segment_stats``); only the bandit reads them.
        """
        k = min(k, order.height)
        if k == 0:
            return _listed(order.clear(), order.clear())
        return self.rule(order, k, revealed, config)


POLICIES: dict[str, SelectionPolicy] = {
    p.name: p
    for p in (
        SelectionPolicy("exploit", "the model's top of the capacity", _exploit),
        SelectionPolicy(
            "random-explore",
            "the model's top, and a share of random picks among the rest",
            _random_explore,
        ),
        SelectionPolicy(
            "novelty-explore",
            "the model's top, and a share of picks weighted by the detectors' novelty",
            _novelty_explore,
        ),
        SelectionPolicy(
            "segment-bandit",
            "the model's top, and a share spent by a bandit over HS chapter x origin "
            "where labels are scarce or fraud was found, on the strangest rows",
            _segment_bandit,
        ),
    )
}
