import hashlib

import polars as pl
import pytest

from detector import read_declarations
from detector.synthetic import _catalogue as cat
from detector.synthetic import generate_declarations
from detector.synthetic.generate import GeneratorConfig


def test_same_seed_same_bytes(tmp_path):
    paths = []
    for i in range(2):
        path = tmp_path / f"g{i}.parquet"
        generate_declarations(rows=5_000, seed=3).write_parquet(path)
        paths.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert paths[0] == paths[1]
    other = generate_declarations(rows=5_000, seed=4)
    assert not other.equals(generate_declarations(rows=5_000, seed=3))


def test_catalogue_is_broad():
    hs = {g[0] for g in cat.GOODS}
    families = {g[2] for g in cat.GOODS}
    assert len(hs) >= 40 and "081060" in hs
    assert {
        "food",
        "textiles",
        "footwear",
        "steel",
        "electronics",
        "chemicals",
        "vehicles",
    } <= families


def test_scheme_shares_match_the_configuration(synthetic_year):
    cfg = GeneratorConfig()
    shares = (
        synthetic_year["true_fraud_type"]
        .drop_nulls()
        .value_counts()
        .with_columns((pl.col("count") / synthetic_year.height).alias("share"))
    )
    got = dict(zip(shares["true_fraud_type"], shares["share"], strict=True))
    for scheme in (
        "undervaluation",
        "transshipment",
        "origin_misdeclaration",
        "misclassification",
        "split_shipment",
    ):
        want = getattr(cfg, f"{scheme}_share")
        assert got[scheme] == pytest.approx(want, rel=0.1), scheme


def test_canonical_and_accepted_whole(synthetic_year, tmp_path):
    path = tmp_path / "y.csv"
    synthetic_year.write_csv(path)
    batch = read_declarations(path)
    assert batch.rejects.height == 0
    assert batch.accepted["hs_code"].to_list() == synthetic_year["hs_code"].to_list()
    assert synthetic_year["declaration_id"].is_unique().all()
    assert synthetic_year["declaration_date"].is_sorted()
    span = synthetic_year["declaration_date"].max() - synthetic_year["declaration_date"].min()
    assert span.days >= 360


def test_labels_are_partial_and_true(synthetic_year):
    df = synthetic_year
    assert df["inspected"].mean() == pytest.approx(0.10, abs=0.002)
    assert (
        df.filter(~pl.col("inspected"))["fraud"].null_count()
        == df.filter(~pl.col("inspected")).height
    )
    seen = df.filter(pl.col("inspected"))
    assert (seen["fraud"] == seen["true_fraud"]).all()
    found = seen.filter(pl.col("fraud") == 1)
    assert (found["revenue_recovered"] == found["true_revenue_lost"]).all()
    assert (found["fraud_type"] == found["true_fraud_type"]).all()


def test_inspections_lean_towards_what_rules_catch(synthetic_year):
    scheme = pl.col("true_fraud_type")
    relabelled = (scheme == "transshipment") & (pl.col("hs_code") != "081060")
    rate = synthetic_year.group_by(
        pl.when(relabelled).then(pl.lit("relabelled")).otherwise(scheme)
    ).agg(pl.col("inspected").mean())
    rate = dict(rate.iter_rows())
    # Rule-based officers catch cheap-looking goods far more often than relabelled origins,
    # which look like honest trade in a single row.
    assert rate["undervaluation"] > 2.5 * rate[None]
    assert rate["relabelled"] < rate["undervaluation"] / 2


def test_undervaluation_cuts_25_to_70_percent(synthetic_year):
    df = synthetic_year.with_columns(ratio=pl.col("customs_value") / pl.col("true_customs_value"))
    uv = df.filter(pl.col("true_fraud_type") == "undervaluation")["ratio"]
    assert uv.min() >= 0.29 and uv.max() <= 0.76
    honest = df.filter(pl.col("true_fraud") == 0)["ratio"]
    assert (honest == 1.0).all()
    # Some undervaluing importers do it on every declaration.
    per_importer = df.group_by("importer_id").agg(
        n=pl.len(), uv=(pl.col("true_fraud_type") == "undervaluation").mean()
    )
    assert per_importer.filter((pl.col("n") >= 5) & (pl.col("uv") == 1.0)).height >= 3


def test_durians_through_vietnam(synthetic_year):
    tr = synthetic_year.filter(pl.col("true_fraud_type") == "transshipment")
    durian = tr.filter(pl.col("hs_code") == "081060")
    assert durian.height > 0.2 * tr.height
    assert (durian["country_origin"] == "TH").all() and (durian["country_departure"] == "VN").all()
    assert (durian["transport_mode"] == "road").all()
    assert (durian["customs_value"] / durian["true_customs_value"]).max() < 0.7
    relabelled = tr.filter(pl.col("hs_code") != "081060")
    assert set(relabelled["country_origin"]) <= set(cat.LAUNDERING_COUNTRIES)
    assert (relabelled["true_revenue_lost"] > 0).all()


def test_honest_routes_are_mostly_direct(synthetic_year):
    honest = synthetic_year.filter(pl.col("true_fraud") == 0)
    direct = (honest["country_origin"] == honest["country_departure"]).mean()
    assert 0.8 < direct < 0.95
    hubs = honest.filter(pl.col("country_origin") != pl.col("country_departure"))
    assert (hubs["transit_countries"] == hubs["country_departure"]).all()


def test_honest_prices_sit_near_the_catalogue(synthetic_year):
    honest = synthetic_year.filter(
        (pl.col("true_fraud") == 0) & (pl.col("transport_mode") != "post")
    )
    per_hs = honest.group_by("hs_code").agg(
        (pl.col("customs_value") / pl.col("net_mass_kg") * 1000).median().alias("usd_t")
    )
    price = {g[0]: g[3] for g in cat.GOODS}
    for hs, usd_t in per_hs.iter_rows():
        assert 0.6 < usd_t / price[hs] < 1.6, hs


def test_split_shipments_cluster_under_de_minimis(synthetic_year):
    split = synthetic_year.filter(pl.col("true_fraud_type") == "split_shipment")
    assert (split["customs_value"] < GeneratorConfig().de_minimis).all()
    clusters = split.group_by("importer_id", "seller_id", "declaration_date").len()
    assert clusters["len"].median() >= 5


def test_misclassified_goods_are_priced_unlike_their_declared_code(synthetic_year):
    mc = synthetic_year.filter(pl.col("true_fraud_type") == "misclassification")
    price = {g[0]: g[3] for g in cat.GOODS}
    ratio = (mc["customs_value"] / mc["net_mass_kg"] * 1000) / mc["hs_code"].replace_strict(price)
    far = ((ratio < 0.6) | (ratio > 1.7)).mean()
    assert far > 0.7
    assert (mc["true_revenue_lost"] > 0).all()
