"""Reasons in words (detector.app.reasons): one formatter per code, quoting the row."""

import inspect
import re

import polars as pl
import pytest

from detector.app import reasons
from detector.models import EVIDENCE_FIRST, FAMILIES


def test_every_code_the_model_gives_has_a_sentence():
    given = {"NOVEL", "PRICE_UNUSUAL", "RELABEL", "EXPLORATION"}
    assert set(FAMILIES) | given == set(reasons.FORMATTERS)
    assert set(reasons.FORMATTERS) - {"EXPLORATION"} == set(EVIDENCE_FIRST)


def test_sentences_quote_only_columns_they_are_given():
    """Every column a sentence reads is in SENTENCE_COLUMNS, and nothing else: only those
    are turned into Python values, so a column missing there would read as n/a."""
    quoted = set(re.findall(r"r(?:\.get\(|\[)[\"']([a-z_]+)[\"']", inspect.getsource(reasons)))
    # An entity's record is read by its prefix (``_record``).
    from detector.features._histories import QUOTED_RECORDS

    counts = ("fraud_rate", "inspected_before", "fraud_before")
    quoted |= {f"{p}_{c}" for p in QUOTED_RECORDS for c in counts}
    assert quoted - {"novelty_detector"} == set(reasons.SENTENCE_COLUMNS)


def test_sentences_follow_the_codes_with_the_rows_numbers():
    rows = pl.DataFrame(
        {
            "reason_codes": [["UNDERVALUED", "PARTNER_HISTORY"], ["PRICE_UNUSUAL"], None],
            "value_ratio": [0.43, 1.5, None],
            "unit_value_per_ton": [2150.0, 7500.0, None],
            "reference_value_per_ton": [5000.0, 5000.0, None],
            "peer_n": [1240, 1240, None],
            "peer_label": ["HS 081060 from TH"] * 2 + [None],
            "price_percentile": [1.25, 99.0, None],
            "declarant_id": ["BR1", None, None],
            "declarant_fraud_rate": [0.5, None, None],
            "seller_id": ["SE9", None, None],
            "seller_fraud_rate": [0.25, None, None],
            "declarant_inspected_before": [6.0, None, None],
            "declarant_fraud_before": [6.0, None, None],
            "seller_inspected_before": [0.0, None, None],
            "seller_fraud_before": [0.0, None, None],
        }
    )
    said = reasons.sentences(rows, de_minimis=150.0).to_list()
    assert said == [
        [
            "UNDERVALUED: 2,150/t is 57% below the median 5,000/t of 1,240 declarations of "
            "HS 081060 from TH (percentile 1.2)",
            "PARTNER_HISTORY: past inspections of declarant BR1: 6 frauds in 6 "
            "inspections, estimated rate 0.50 (an estimate from few inspections is drawn "
            "toward the overall rate); of seller SE9: no inspection yet (the overall fraud "
            "rate 0.25)",
        ],
        [
            "PRICE_UNUSUAL: 7,500/t is 50% above the median 5,000/t of 1,240 declarations of "
            "HS 081060 from TH (percentile 99.0)"
        ],
        None,
    ]


@pytest.mark.parametrize(
    ("inspected", "frauds", "rate", "said"),
    [
        # An estimate far from the count says why: few inspections are smoothed.
        (
            17.0,
            17.0,
            0.69,
            "17 frauds in 17 inspections, estimated rate 0.69 (an estimate from few "
            "inspections is drawn toward the overall rate)",
        ),
        (400.0, 100.0, 0.26, "100 frauds in 400 inspections, estimated rate 0.26"),
        (1.0, 1.0, 0.95, "1 fraud in 1 inspection, estimated rate 0.95"),
        (0.0, 0.0, 0.16, "no inspection yet (the overall fraud rate 0.16)"),
        (None, None, 0.30, "estimated fraud rate 0.30"),  # a model of before the counts
    ],
)
def test_an_entity_record_gives_its_count_before_its_estimate(inspected, frauds, rate, said):
    rows = pl.DataFrame(
        {
            "reason_codes": [["IMPORTER_HISTORY"]],
            "importer_id": ["IM7"],
            "importer_days_known": [120.0],
            "importer_n_before": [40.0],
            "importer_fraud_rate": [rate],
            "importer_inspected_before": [inspected],
            "importer_fraud_before": [frauds],
            "seller_id": ["SE3"],
            "importer_seller_n_before": [0.0],
        },
        schema_overrides={
            "importer_inspected_before": pl.Float64,
            "importer_fraud_before": pl.Float64,
        },
    )
    assert reasons.sentences(rows, 150.0).to_list() == [
        [
            f"IMPORTER_HISTORY: importer IM7 (known for 120 days, 40 earlier declarations): "
            f"{said}; this importer with seller SE3: no earlier declarations"
        ]
    ]


def test_goods_risk_quotes_the_goods_on_their_route_first():
    """The narrowest goods record first, each with the inspections behind its rate; a
    model of before the goods-on-route record says what it has."""
    counts = {
        "hs_inspected_before": [120.0, 120.0],
        "hs_fraud_before": [40.0, 40.0],
        "origin_inspected_before": [900.0, 900.0],
        "origin_fraud_before": [100.0, 100.0],
        "route_inspected_before": [50.0, None],
        "route_fraud_before": [20.0, None],
    }
    rows = pl.DataFrame(
        {
            "reason_codes": [["GOODS_RISK"], ["GOODS_RISK"]],
            "hs_code": ["081060", "081060"],
            "country_origin": ["TH", "TH"],
            "route": ["TH>VN", "TH"],
            "duty_rate_pct": [20.0, None],
            "hs_fraud_rate": [0.35, 0.35],
            "origin_fraud_rate": [0.12, 0.12],
            "route_fraud_rate": [0.40, 0.41],
            "hs_route_fraud_rate": [0.74, None],
            "hs_route_inspected_before": [32.0, None],
            "hs_route_fraud_before": [25.0, None],
            **counts,
        }
    )
    said = reasons.sentences(rows, 150.0).to_list()
    # With the record at the declared duty rate: quoted once where it counts the same
    # inspections as the route's record; first, and the route's "at any duty", where a
    # preferential rate keeps a record of its own.
    same = {
        "hs_route_rate_fraud_rate": [0.74, None],
        "hs_route_rate_inspected_before": [32.0, None],
        "hs_route_rate_fraud_before": [25.0, None],
    }
    with_same = rows.with_columns(pl.Series(k, v) for k, v in same.items())
    assert reasons.sentences(with_same, 150.0).to_list() == said
    apart = {
        "duty_rate_pct": [0.0, None],
        "hs_route_rate_fraud_rate": [0.59, None],
        "hs_route_rate_inspected_before": [12.0, None],
        "hs_route_rate_fraud_before": [11.0, None],
    }
    with_apart = rows.with_columns(pl.Series(k, v) for k, v in apart.items())
    assert reasons.sentences(with_apart, 150.0).to_list()[0] == [
        "GOODS_RISK: HS 081060 from TH on route TH>VN at 0% duty; past inspections "
        "of these goods on this route at 0% duty: 11 frauds in 12 inspections, "
        "estimated rate 0.59 (an estimate from few inspections is drawn toward the overall "
        "rate); these goods on this route at any duty: 25 frauds in 32 "
        "inspections, estimated rate 0.74; these goods on any route: 40 frauds in 120 "
        "inspections, estimated rate 0.35; origin TH: 100 frauds in 900 inspections, "
        "estimated rate 0.12; route TH>VN: 20 frauds in 50 inspections, estimated rate 0.40"
    ]
    # A rate never declared on the lane before says so; a rate is written to its last
    # decimal (the record is kept for that exact rate).
    never = {
        "duty_rate_pct": [2.75, None],
        "hs_route_rate_n_before": [0.0, None],
        "hs_route_rate_fraud_rate": [0.22, None],
        "hs_route_rate_inspected_before": [0.0, None],
        "hs_route_rate_fraud_before": [0.0, None],
    }
    with_never = rows.with_columns(pl.Series(k, v) for k, v in never.items())
    assert (
        reasons.sentences(with_never, 150.0)
        .to_list()[0][0]
        .startswith(
            "GOODS_RISK: HS 081060 from TH on route TH>VN at 2.75% duty; past inspections of "
            "these goods on this route at 2.75% duty: never declared at 2.75% on this route "
            "before; these goods on this route at any duty: 25 frauds in 32 inspections"
        )
    )
    assert said == [
        [
            "GOODS_RISK: HS 081060 from TH on route TH>VN at 20% duty; past inspections "
            "of these goods on this route: 25 frauds in 32 inspections, estimated rate "
            "0.74; these goods on any route: 40 frauds in 120 inspections, estimated rate "
            "0.35; origin TH: 100 frauds in 900 inspections, estimated rate 0.12; route "
            "TH>VN: 20 frauds in 50 inspections, estimated rate 0.40"
        ],
        [
            "GOODS_RISK: HS 081060 from TH, shipped from there at duty not declared; past "
            "inspections of these goods on any route: 40 frauds in 120 inspections, "
            "estimated rate 0.35; origin TH: 100 frauds in 900 inspections, estimated rate "
            "0.12; route TH: estimated fraud rate 0.41"
        ],
    ]


def test_a_row_listed_for_a_record_alone_still_says_what_to_check():
    assert reasons.what_to_check(["GOODS_RISK"])[0].startswith(
        "no scheme shown on the declaration itself: the goods' record (on this route, on any"
    )
    assert reasons.what_to_check(["EXPLORATION", "IMPORTER_HISTORY"]) == [
        "no scheme shown on the declaration itself: its parties' record is the reason"
    ]
    assert reasons.what_to_check(["ROUTE", "GOODS_RISK"]) == [reasons.HINTS["ROUTE"]]


@pytest.mark.parametrize(
    ("lane_n", "origin_n", "hs_n", "said"),
    [
        (
            133.0,
            2259.0,
            3088.0,
            "carries 4.3% (133 of 3,088) of past HS 081060 declarations; "
            "origin TH is on 73% (2,259 of 3,088) of them",
        ),
        # Few declarations: the count, not the smoothed estimate (15% for 1 of 9).
        (
            1.0,
            2.0,
            9.0,
            "carries 11% (1 of 9) of past HS 081060 declarations; origin TH is "
            "on 22% (2 of 9) of them",
        ),
        (
            0.0,
            0.0,
            0.0,
            "carries none of past HS 081060 declarations; origin TH is on none of them",
        ),
        # A model of before the counts: its estimate.
        (
            None,
            None,
            None,
            "carries 15% of past HS 081060 declarations; origin TH is on 25% of them",
        ),
    ],
)
def test_a_lane_share_is_quoted_with_its_counts(lane_n, origin_n, hs_n, said):
    rows = pl.DataFrame(
        {
            "reason_codes": [["ROUTE"]],
            "third_country": [1],
            "country_origin": ["TH"],
            "country_departure": ["VN"],
            "route": ["TH>VN"],
            "hs_code": ["081060"],
            "lane_share": [0.15],
            "origin_share": [0.25],
            "lane_history_n": [lane_n],
            "origin_history_n": [origin_n],
            "hs_history_n": [hs_n],
        },
        schema_overrides={
            c: pl.Float64 for c in ("lane_history_n", "origin_history_n", "hs_history_n")
        },
    )
    sentence = reasons.sentences(rows, 150.0).to_list()[0][0]
    assert sentence.startswith(
        "ROUTE: declared origin TH, shipped from VN (route TH>VN); this origin>departure lane "
        + said
    ), sentence


def test_a_price_without_peers_says_so():
    rows = pl.DataFrame({"reason_codes": [["UNDERVALUED"]], "value_ratio": [None]})
    assert reasons.sentences(rows, 150.0).to_list() == [
        ["UNDERVALUED: no peer price to compare with"]
    ]


def test_what_to_check_follows_the_first_reason_with_a_mechanism():
    assert reasons.hint(["IMPORTER_HISTORY", "ROUTE", "UNDERVALUED"]).startswith(
        "check the certificate of origin"
    )
    assert reasons.hint(["UNDERVALUED"]).startswith("ask for the sales contract")
    assert reasons.hint(["SPLIT_SHIPMENT"]).startswith("consolidate the day's parcels")
    assert reasons.hint(["IMPORTER_HISTORY"]) is None and reasons.hint(None) is None


def test_money_in_a_sentence_carries_the_declarations_currency():
    rows = pl.DataFrame(
        {
            "reason_codes": [["UNDERVALUED", "SPLIT_SHIPMENT"]],
            "currency": ["USD"],
            "value_ratio": [0.43],
            "unit_value_per_ton": [2150.0],
            "reference_value_per_ton": [5000.0],
            "peer_n": [1240],
            "peer_label": ["HS 081060 from TH"],
            "price_percentile": [1.25],
            "split_n_pair_day": [6],
            "split_under_pair_day": [6],
            "split_value_pair_day": [5.0],
            "seller_id": ["SE1"],
            "importer_id": ["IM1"],
            "declaration_date": ["2025-10-01"],
        }
    )
    price, split = reasons.sentences(rows, 150.0)[0].to_list()
    assert price.startswith("UNDERVALUED: 2,150 USD/t is 57% below the median 5,000 USD/t of")
    assert split.endswith("the de-minimis value 150 USD, together 750 USD")
