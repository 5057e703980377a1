"""Selection policies: which of a period's scored declarations go to inspection.

Capacity is fixed; a policy decides how to spend it. Every policy takes the model's top
first and differs in what it does with the exploration share
(``ModelConfig.exploration_share``) of the capacity: nothing (``exploit``), random
picks among the rest (``random-explore``), picks weighted by the unsupervised
detectors' novelty (``novelty-explore``), a bandit over segments (HS chapter x origin)
that spends the picks where labels are scarce or have found fraud, on the rows the
detectors find strangest (``segment-bandit``), or picks shared equally among the
schemes the declarations' own facts show (a price far below its peers, a price that
fits a dearer code, a rare lane through a third country, a cheap origin, parcels split
under de minimis), the model's most suspicious rows of each below its list
(``scheme-explore``): what a risk analyst does to test each known pattern, whether
or not the labels have shown it yet; ``scheme-adapt`` does the same with a share that
follows what exploration found beyond what the model expected (``adaptive_share``).

A policy reads the scored rows in ``order`` (most suspicious first, with ``__h``, a
hash of the id, ``novelty``, and ``hs_code`` and ``country_origin`` or the segment
``__seg``, and the scheme ``__mech``) and what the labels it has revealed so far say
(``SelectionPolicy.reads``); it returns the listed rows with
``selection`` (``model`` or ``exploration``) and ``rank``.
"""

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from detector.models._config import ModelConfig
from detector.models._reasons import declaration_facts
from detector.models._selection import exploration_rng, select_for_inspection

__all__ = [
    "POLICIES",
    "SelectionPolicy",
    "adaptive_share",
    "exploration_reading",
    "mechanism_of",
    "segment_of",
    "segment_stats",
]

#: The schemes ``scheme-explore`` explores, the most specific fact first: a row showing
#: several is counted under the first (parcels split under de minimis are also cheap).
SCHEMES: tuple[str, ...] = ("SPLIT_SHIPMENT", "MISCLASSIFIED", "ROUTE", "RELABEL", "UNDERVALUED")
#: The arm of the rows that show no scheme: there the strangest rows are explored.
NO_SCHEME = "NONE"


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


def mechanism_of(table: pl.DataFrame) -> pl.Series:
    """A scored declaration's scheme for exploration (``__mech``): the first of
    ``SCHEMES`` its own facts show (``declaration_facts``), else ``NONE``."""
    facts = declaration_facts(table)
    out = np.full(table.height, NO_SCHEME, dtype=object)
    for code in reversed(SCHEMES):
        out[facts[code]] = code
    return pl.Series("__mech", out, dtype=pl.String)


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


def _scheme_explore(order, k, revealed, config, rotate: bool = False) -> pl.DataFrame:
    """The exploration shared equally among the schemes the declarations' own facts
    show (``SCHEMES``) and the rows showing none (``NONE``), pick by pick in turn:
    within a scheme the rows the model ranks highest below its list, within ``NONE``
    the strangest to the detectors. A scheme with fewer rows than its share leaves the
    rest to the others. It reads no label: a scheme the labels never showed, which the
    model therefore cannot rank, gets its share all the same. ``rotate``: the turn
    starts at an arm set by the batch (a hash of its ids), so that when there are fewer
    picks than arms, batch after batch every arm gets its turn.
    """
    order = order.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__pos"))
    head, rest = _split(order, k, config)
    n = k - head.height
    if n == 0:
        return _listed(head, rest.clear()).drop("__pos")
    mech = rest["__mech"] if "__mech" in rest.columns else mechanism_of(rest)
    arms = (*SCHEMES, NO_SCHEME)
    first = int(rest["__h"].min() % len(arms)) if rotate else 0
    arm = {code: (i - first) % len(arms) for i, code in enumerate(arms)}
    turn = (
        rest.select("__h", "__pos", pl.col("novelty").fill_null(0.0))
        .with_columns(mech.alias("__mech"))
        .with_columns(
            pl.when(pl.col("__mech") == NO_SCHEME)
            .then(-pl.col("novelty"))
            .otherwise(pl.col("__pos").cast(pl.Float64))
            .rank("ordinal")
            .over("__mech")
            .alias("__j"),
            pl.col("__mech").replace_strict(arm, return_dtype=pl.Int8).alias("__arm"),
        )
    )
    picks = np.lexsort((turn["__h"].to_numpy(), turn["__arm"].to_numpy(), turn["__j"].to_numpy()))[
        :n
    ]
    return _listed(head, rest[np.sort(picks)]).drop("__pos")


#: ``scheme-adapt``: the months of exploration it reads, the share it never goes below
#: (of ``exploration_share``), and the surprise at which it explores in full.
ADAPT_MONTHS = 3
ADAPT_FLOOR = 0.2
ADAPT_FULL_SURPRISE = 2.0


def adaptive_share(record: pl.DataFrame | None, config: ModelConfig) -> float:
    """The exploration share ``scheme-adapt`` spends, from what exploration found.

    ``record``: per month, the exploration picks inspected, the frauds they found and
    the frauds the model expected of them (``detector.app.labels.exploration_record``).
    Over the ``ADAPT_MONTHS`` calendar months up to its latest, the surprise is
    (found + 1) / (expected + 1). Near 1 the model already knew what exploration found,
    and exploring costs frauds it would have listed; above it, exploration finds what
    the model misses (a scheme its labels never showed). The share runs from
    ``ADAPT_FLOOR`` of ``exploration_share`` at a surprise of 1 or less to all of it at
    ``ADAPT_FULL_SURPRISE``: it never stops, so a new scheme is still seen. Without a
    record (no exploration inspected yet), the whole share.
    """
    full = config.exploration_share
    last = _window(record)
    if last is None:
        return full
    surprise = (float(last["frauds"].sum()) + 1.0) / (float(last["expected"].sum()) + 1.0)
    reach = min(max((surprise - 1.0) / (ADAPT_FULL_SURPRISE - 1.0), 0.0), 1.0)
    return full * (ADAPT_FLOOR + (1.0 - ADAPT_FLOOR) * reach)


def exploration_reading(record: pl.DataFrame | None, config: ModelConfig) -> str:
    """In words, the share ``adaptive_share`` gives and why: what an operator reads in
    the log of a scoring run and in ``monitor``."""
    share = adaptive_share(record, config)
    last = _window(record)
    if last is None:
        return (
            f"{share:.1%} of the list (no exploration pick with a risk score and a date "
            "inspected yet: the whole share)"
        )
    months = last["month"]
    span = f"{months.min():%Y-%m}" + (f" to {months.max():%Y-%m}" if months.n_unique() > 1 else "")
    return (
        f"{share:.1%} of the list: in {span} the inspected exploration picks "
        f"({int(last['inspected'].sum()):,}) found {int(last['frauds'].sum()):,} frauds "
        f"where the model expected {float(last['expected'].sum()):,.1f}"
    )


def _window(record: pl.DataFrame | None) -> pl.DataFrame | None:
    """The record's ``ADAPT_MONTHS`` calendar months up to its latest (a month without
    an inspected exploration pick counts as one of them); None when it is empty."""
    if record is None or record.height == 0:
        return None
    record = record.filter(pl.col("month").is_not_null())
    if record.height == 0:
        return None
    latest = record["month"].max()
    since = pl.select(pl.lit(latest).dt.offset_by(f"-{ADAPT_MONTHS}mo")).item()
    return record.filter(pl.col("month") > since).sort("month")


def _scheme_adapt(order, k, revealed, config) -> pl.DataFrame:
    """``scheme-explore`` with the share that ``adaptive_share`` reads from ``revealed``
    (at least one pick in a list where the whole share gives one, never more than the
    whole share), its turn rotated from batch to batch."""
    share = adaptive_share(revealed, config)
    if round(k * config.exploration_share) >= 1:
        share = max(share, 1.0 / k)
    return _scheme_explore(order, k, None, replace(config, exploration_share=share), rotate=True)


@dataclass(frozen=True)
class SelectionPolicy:
    """A named way of spending the inspection capacity (see the module's docstring)."""

    name: str
    description: str
    rule: object
    #: What the policy reads of the revealed labels: nothing, their counts per segment
    #: (``segment_stats``), or what the exploration picks found by month
    #: (``exploration``: ``detector.app.labels.exploration_record``).
    reads: str | None = None

    def select(
        self, order: pl.DataFrame, k: int, revealed: pl.DataFrame, config: ModelConfig
    ) -> pl.DataFrame:
        """The ``k`` listed rows of ``order``, with ``selection`` and ``rank``.

        ``revealed``: what the labels this policy's inspections have revealed so far
        say, as ``reads`` asks: for ``segment``, the labels themselves (``hs_code``,
        ``country_origin``, ``fraud``) or their counts per segment (``segment_stats``);
        for ``exploration``, the exploration record (None: none yet).
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
            reads="segment",
        ),
        SelectionPolicy(
            "scheme-explore",
            "the model's top, and a share shared equally among the schemes the "
            "declarations' own facts show, each scheme's most suspicious rows below the list",
            _scheme_explore,
        ),
        SelectionPolicy(
            "scheme-adapt",
            "as scheme-explore, with a share that follows what exploration finds beyond "
            "what the model expected: less while it finds only what the model knows",
            _scheme_adapt,
            reads="exploration",
        ),
    )
}
