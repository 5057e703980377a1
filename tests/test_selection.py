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


def test_a_model_spends_its_exploration_with_the_default_policy():
    """``score --top`` explores with the policy the simulation chose: a bandit over HS
    chapter x origin that goes where the model's training labels are few, to the rows
    the detectors find strangest; a model without segment counts draws at random."""
    from detector.models import FraudModel
    from detector.models._policies import segment_stats

    n = 1_000
    order = _order(n).with_columns(
        # below the top, segment 03|VN has never been inspected; 08|TH often
        pl.when(pl.col("__row") % 2 == 0).then(pl.lit("03|VN")).otherwise(pl.lit("08|TH"))
        .alias("__seg"),
        (pl.col("__row") % 10 / 10).alias("novelty"),
    )  # fmt: skip
    labels = pl.DataFrame({"hs_code": ["081060"] * 200, "country_origin": ["TH"] * 200})
    model = FraudModel(ModelConfig(exploration_share=0.2))
    assert model.config.selection_policy == "segment-bandit"
    model.segment_labels_ = segment_stats(labels.with_columns(pl.lit(0).alias("fraud")))
    listed = model.select(order, 50)
    assert listed.height == 50 and listed["explain"].all()
    assert listed.filter(pl.col("selection") == "model")["__row"].to_list() == list(range(40))
    explored = listed.filter(pl.col("selection") == "exploration")
    assert explored.height == 10
    assert (explored["__seg"] == "03|VN").all() and (explored["novelty"] == 0.8).all()
    assert model.select(order, 50).equals(listed)  # the same batch, the same picks
    del model.segment_labels_  # as a model saved before policies had names
    randomly = model.select(order, 50).filter(pl.col("selection") == "exploration")
    assert randomly["__seg"].n_unique() == 2
