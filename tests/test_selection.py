"""The inspection list (detector.models._selection): the model's top and exploration."""

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
