"""The inspection list (detector.models._selection): the model's top and exploration."""

from datetime import date

import polars as pl

from detector.models import ModelConfig
from detector.models._selection import select_for_inspection


def _order(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"rank_score": [1 - i / n for i in range(n)], "__h": [(i * 7919) % 1009 for i in range(n)]}
    ).with_row_index("__row")


def test_a_capacity_takes_the_top_and_a_share_of_random_picks_from_the_rest():
    listed = select_for_inspection(_order(1_000), 50, ModelConfig(exploration_share=0.1))
    assert listed["rank"].to_list() == list(range(1, 51))
    model = listed.filter(pl.col("selection") == "model")
    assert model["__row"].to_list() == list(range(45))  # the 45 highest scores, in order
    explored = listed.filter(pl.col("selection") == "exploration")["__row"]
    assert explored.len() == 5 and (explored >= 45).all()
    assert listed["explain"].all()
    # The same batch gives the same picks; another seed, others.
    again = select_for_inspection(_order(1_000), 50, ModelConfig(exploration_share=0.1))
    assert again.equals(listed)
    other = select_for_inspection(_order(1_000), 50, ModelConfig(exploration_share=0.1, seed=1))
    assert not other["__row"].equals(listed["__row"])


def test_without_a_capacity_every_row_is_listed_and_the_first_share_explained():
    listed = select_for_inspection(_order(200), None, ModelConfig(reasons_share=0.1))
    assert listed.height == 200 and (listed["selection"] == "model").all()
    assert listed["explain"].sum() == 20 and listed.head(20)["explain"].all()


def test_a_model_spends_its_exploration_with_the_default_policy():
    """``score --top`` explores with the policy the simulation chose: the exploration
    shared among the schemes the rows' own facts show (``__mech``), each scheme's most
    suspicious rows below the list, at the share that past exploration's record sets;
    a model configured with the segment bandit but saved without its segment counts
    draws at random."""
    from dataclasses import replace

    from detector.models import FraudModel

    n = 1_000
    order = _order(n).with_columns(
        # below the top, every fifth row is a split shipment, the others show nothing
        pl.when(pl.col("__row") % 5 == 0).then(pl.lit("SPLIT_SHIPMENT")).otherwise(pl.lit("NONE"))
        .alias("__mech"),
        (pl.col("__row") % 10 / 10).alias("novelty"),
        pl.lit("03|VN").alias("__seg"),
    )  # fmt: skip
    model = FraudModel(ModelConfig(exploration_share=0.2))
    assert model.config.selection_policy == "scheme-adapt"
    # Without a record of past exploration (no label store), the whole share.
    listed = model.select(order, 50)
    assert listed.height == 50 and listed["explain"].all()
    assert listed.filter(pl.col("selection") == "model")["__row"].to_list() == list(range(40))
    explored = listed.filter(pl.col("selection") == "exploration")
    # 5 picks each: the split shipments highest in the order, the strangest of the rest
    split = sorted(explored.filter(pl.col("__mech") == "SPLIT_SHIPMENT")["__row"].to_list())
    assert split == [40, 45, 50, 55, 60]
    assert (explored.filter(pl.col("__mech") == "NONE")["novelty"] == 0.9).all()
    assert model.select(order, 50).equals(listed)  # the same batch, the same picks
    # A store whose exploration found what the model expected: a fifth of the share.
    model.exploration_record_ = pl.DataFrame(
        {"month": [date(2025, 5, 1)], "inspected": [40], "frauds": [9], "expected": [9.0]}
    )
    calm = model.select(order, 50)
    assert (calm["selection"] == "exploration").sum() == 2
    assert calm.filter(pl.col("selection") == "model")["__row"].to_list() == list(range(48))
    del model.exploration_record_
    model.config = replace(model.config, selection_policy="segment-bandit")
    randomly = model.select(order, 50).filter(pl.col("selection") == "exploration")
    assert randomly.height == 10 and not randomly["__row"].equals(explored["__row"])
