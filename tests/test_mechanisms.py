"""The scheme a flagged declaration's own facts show, with its numbers and what to check."""

import re
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.app import reasons
from detector.features import fit_reference_prices, fit_route_tables, reference_price_deviation
from detector.features._reclassification import hs_section, reclassification, usual_codes
from detector.features._reference_prices import ReferencePrices
from detector.features._routes import RouteTables
from detector.models._reasons import _with_low_price, mechanism_facts


def _history() -> pl.DataFrame:
    """Shrimps (030617, 20 % duty) at about 9,000 a tonne and frozen fish (030389, 10 %)
    at about 2,000, both from VN; laptops (847130, 30 %) at about 9,000, another section."""
    rng = np.random.default_rng(0)
    rows = []
    for hs, price, duty in (("030617", 9000, 20.0), ("030389", 2000, 10.0), ("847130", 9000, 30.0)):
        for i in range(60):
            mass = 1000.0
            rows.append(
                {
                    "declaration_id": f"{hs}-{i}",
                    "declaration_date": date(2025, 1, 1) + timedelta(days=i),
                    "hs_code": hs,
                    "country_origin": "VN",
                    "country_departure": "VN",
                    "net_mass_kg": mass,
                    "customs_value": price * float(rng.lognormal(0, 0.1)),
                    "duty_rate_pct": duty,
                }
            )
    return pl.DataFrame(rows)


def _checked(rows: list[dict]) -> pl.DataFrame:
    history = _history()
    reference = fit_reference_prices(history.lazy())
    routes = fit_route_tables(history.lazy())
    new = pl.DataFrame(rows, schema=history.schema)
    lf = reference_price_deviation(new.lazy(), reference)
    return reclassification(lf, reference, routes).collect()


def test_a_price_that_fits_a_dearer_code_of_the_same_section_names_it():
    base = {"declaration_date": date(2025, 3, 1), "country_origin": "VN", "country_departure": "VN"}
    base |= {"net_mass_kg": 1000.0}
    out = _checked(
        [
            # fish at a shrimp's price: fits 030617, 10 points more duty
            base | {"declaration_id": "a", "hs_code": "030389", "customs_value": 9000.0,
                    "duty_rate_pct": 10.0},
            # fish at a fish's price: nothing to say
            base | {"declaration_id": "b", "hs_code": "030389", "customs_value": 2000.0,
                    "duty_rate_pct": 10.0},
            # declared at a higher duty than the code it fits: no duty at stake
            base | {"declaration_id": "c", "hs_code": "030389", "customs_value": 9000.0,
                    "duty_rate_pct": 25.0},
            # shrimp at a fish's price: fish pays less, so no reclassification
            base | {"declaration_id": "d", "hs_code": "030617", "customs_value": 2000.0,
                    "duty_rate_pct": 20.0},
        ]
    )  # fmt: skip
    a = out.row(0, named=True)
    assert a["reclass_hs_code"] == "030617"  # not 847130 at the same price: another section
    assert a["reclass_duty_pct"] == 20.0 and a["reclass_duty_gap"] == 10.0
    assert a["reclass_revenue"] == 900.0
    assert 8000 < a["reclass_value_per_ton"] < 10000 and a["reclass_peer_n"] == 60
    assert out["reclass_hs_code"].to_list()[1:] == [None, None, None]
    assert out["declaration_id"].to_list() == ["a", "b", "c", "d"]


def _alike_prices() -> tuple[pl.DataFrame, ReferencePrices, RouteTables]:
    """``_history`` with shrimps at about 5,000 a tonne and frozen fish at 4,500: a
    price both fit; its reference prices and route tables."""
    history = _history().with_columns(
        pl.when(pl.col("hs_code") == "030617")
        .then(pl.col("customs_value") * 5000 / 9000)
        .when(pl.col("hs_code") == "030389")
        .then(pl.col("customs_value") * 4500 / 2000)
        .otherwise(pl.col("customs_value"))
    )
    return history, fit_reference_prices(history.lazy()), fit_route_tables(history.lazy())


def test_goods_under_a_code_their_importer_rarely_uses_name_its_usual_dearer_code():
    """Prices alike (shrimps at about 5,000 a tonne and frozen fish at 4,500, from VN),
    so no price misfits: the importer's record names the code the goods may really be,
    its usual one of the same section, on a quarter or more of its declarations and
    declared at least four times as often, which the declared origin pays more on."""
    history, reference, routes = _alike_prices()
    # The training history's declarations per importer and code.
    importer_codes = pl.DataFrame(
        [
            ("I1", "030617", 14.0),  # shrimps as a rule, fish 3 times
            ("I1", "030389", 3.0),
            ("I2", "847130", 20.0),  # laptops only: another section
            ("I3", "030617", 1.0),  # shrimps once
            ("I4", "030617", 14.0),  # fish often too
            ("I4", "030389", 10.0),
            ("I5", "030617", 14.0),  # shrimps on 14 of 100: not its rule
            ("I5", "847130", 86.0),
        ],
        schema=["importer_id", "hs_code", "n"],
        orient="row",
    )
    base = {"declaration_date": date(2025, 3, 1), "country_origin": "VN", "country_departure": "VN"}
    base |= {"net_mass_kg": 1000.0, "hs_code": "030389", "duty_rate_pct": 10.0}
    rows = [
        base | {"declaration_id": "a", "customs_value": 4800.0},  # at a price both fit
        base | {"declaration_id": "b", "customs_value": 500.0},  # out of line with shrimps
        *[base | {"declaration_id": i, "customs_value": 4800.0} for i in "cdef"],
        # from TH, which never shipped shrimps: no rate to claim
        base | {"declaration_id": "g", "customs_value": 4800.0, "country_origin": "TH"},
    ]
    new = pl.DataFrame(rows, schema=history.schema).with_columns(
        pl.Series("importer_id", ["I1", "I1", "I2", "I3", "I4", "I5", "I1"])
    )
    table = reclassification(reference_price_deviation(new.lazy(), reference), reference, routes)
    table = table.collect()
    assert table["reclass_hs_code"].null_count() == 7  # no price misfit to name
    out = usual_codes(table, importer_codes, reference, routes)
    assert out["usual_hs_code"].to_list() == ["030617", *[None] * 6]
    a = out.row(0, named=True)
    assert (a["usual_hs_n"], a["usual_own_n"], a["usual_importer_n"]) == (14, 3, 17)
    assert a["usual_duty_pct"] == 20.0 and a["usual_duty_gap"] == 10.0
    assert a["usual_revenue"] == 480.0 and a["usual_peer_n"] == 60
    assert a["usual_peer_origin"] == "VN" and 4000 < a["usual_value_per_ton"] < 6000
    # A training row is among the counts it is compared with: it is left out of its
    # code's and its importer's, and is then judged as the same row scored would be.
    row = table.head(1)
    for importer, own, usual, other in [("I6", 4.0, 14.0, 0.0), ("I7", 2.0, 5.0, 14.0)]:
        # I6: shrimps 14 times, fish 3 times before this one (14 < 4 x 4 counted in);
        # I7: shrimps on 5 of 20 declarations before this one (a quarter; 5 of 21 not).
        history = pl.DataFrame(
            [(importer, "030617", usual), (importer, "030389", own), (importer, "847130", other)],
            schema=["importer_id", "hs_code", "n"],
            orient="row",
        ).filter(pl.col("n") > 0)
        mine = row.with_columns(importer_id=pl.lit(importer))
        counted = usual_codes(mine, history, reference, routes, counted=True)
        mine_code = pl.col("hs_code") == "030389"
        before = history.with_columns(pl.when(mine_code).then(own - 1.0).otherwise("n").alias("n"))
        scored = usual_codes(mine, before, reference, routes)
        assert_frame_equal(counted, scored)
        assert counted["usual_hs_code"].to_list() == ["030617"], importer
        assert usual_codes(mine, history, reference, routes)["usual_hs_code"].to_list() == [None]
    assert counted.row(0)[1:4] == (5.0, 1.0, 20.0)  # I7: 5 of 20, its own code once
    # A row of the reasons' table with it is a misclassification, and says why.
    facts = mechanism_facts(table.hstack(out))
    assert facts["MISCLASSIFIED"].tolist() == [True, *[False] * 6]
    said = reasons.sentences(
        table.hstack(out).with_columns(
            pl.Series("reason_codes", [["MISCLASSIFIED"]] * table.height), currency=pl.lit("USD")
        ),
        de_minimis=150.0,
    )[0]
    assert said.to_list() == [
        "MISCLASSIFIED: in the training history importer I1 declared HS 030617 (20.0%) 14 "
        "times, 82% of its 17 declarations, and HS 030389 (10.0%) 3 times; 4,800 USD/t fits "
        f"HS 030617 (median {a['usual_value_per_ton']:,.0f} USD/t of 60 declarations from "
        "VN); under it the duty would be 480 USD more"
    ]
    once = reasons.FORMATTERS["MISCLASSIFIED"](
        "MISCLASSIFIED", table.hstack(out).row(0, named=True) | {"usual_own_n": 1.0}, 150.0
    )
    assert "and HS 030389 (10.0%) once;" in once


def test_the_importers_trade_with_the_rows_seller_is_read_first():
    """An importer of many goods has no usual code of its own (shrimps on 14 of its 100
    declarations), but what it buys from seller S1 it declared as shrimps 12 times of
    13: fish from S1 at a price shrimps fit is named for it, with S1 and the counts of
    that trade; fish from S2, of which it has no record, is not. Where the importer has
    a usual code too, its trade with the seller is the record named."""
    history, reference, routes = _alike_prices()
    importer_codes = pl.DataFrame(
        [("I5", "030617", 14.0), ("I5", "847130", 86.0), ("I1", "030617", 14.0)],
        schema=["importer_id", "hs_code", "n"],
        orient="row",
    )
    seller_codes = pl.DataFrame(
        [("I5", "S1", "030617", 12.0), ("I5", "S1", "030389", 1.0), ("I1", "S1", "030617", 6.0)],
        schema=["importer_id", "seller_id", "hs_code", "n"],
        orient="row",
    )
    base = {"declaration_date": date(2025, 3, 1), "country_origin": "VN", "country_departure": "VN"}
    base |= {"net_mass_kg": 1000.0, "hs_code": "030389", "duty_rate_pct": 10.0}
    new = pl.DataFrame(
        [base | {"declaration_id": i, "customs_value": 4800.0} for i in "abcd"],
        schema=history.schema,
    ).with_columns(
        pl.Series("importer_id", ["I5", "I5", "I1", "I1"]),
        pl.Series("seller_id", ["S1", "S2", "S1", None]),
    )
    table = reclassification(reference_price_deviation(new.lazy(), reference), reference, routes)
    table = table.collect()
    alone = usual_codes(table, importer_codes, reference, routes)
    assert alone["usual_hs_code"].to_list() == [None, None, "030617", "030617"]
    assert alone["usual_seller_id"].to_list() == [None] * 4
    out = usual_codes(table, importer_codes, reference, routes, seller_codes=seller_codes)
    assert out["usual_hs_code"].to_list() == ["030617", None, "030617", "030617"]
    assert out["usual_seller_id"].to_list() == ["S1", None, "S1", None]
    counts = out.select("usual_hs_n", "usual_own_n", "usual_importer_n").rows()
    assert counts[0] == (12.0, 1.0, 13.0) and counts[2] == (6.0, 0.0, 6.0)
    assert counts[3] == (14.0, 0.0, 14.0)  # no seller: the importer's own record
    # Declarations without a seller column are read against the importer's record.
    unsold = table.drop("seller_id")
    assert_frame_equal(
        usual_codes(unsold, importer_codes, reference, routes, seller_codes=seller_codes), alone
    )
    said = reasons.FORMATTERS["MISCLASSIFIED"](
        "MISCLASSIFIED", table.hstack(out).row(0, named=True) | {"currency": "USD"}, 150.0
    )
    assert said.startswith(
        "MISCLASSIFIED: in the training history importer I5 declared HS 030617 (20.0%) 12 "
        "times, 92% of its 13 declarations from seller S1, and HS 030389 (10.0%) once; "
    )


def test_a_sentence_quotes_an_entity_id_that_cannot_pass_for_another_sentence():
    """'|' separates a list cell's sentences: an id holding it is quoted with '¦'; a
    long id is cut (its own column holds it whole)."""
    forged = "IM1 | IMPORTER_HISTORY: cleared by binding ruling, no action needed"
    said = reasons.sentences(
        pl.DataFrame(
            {
                "reason_codes": [["IMPORTER_HISTORY"], ["IMPORTER_HISTORY"]],
                "importer_id": [forged, "X" * 500],
                "importer_n_before": [40, 40],
                "importer_fraud_rate": [0.6, 0.6],
            }
        ),
        de_minimis=150.0,
    )
    first, second = said[0][0], said[1][0]
    assert " | " not in first
    assert "importer " + forged.replace("|", "\u00a6")[:39] + "\u2026 (new" in first
    assert "X" * 39 + "\u2026" in second and "X" * 40 not in second


def test_sections_of_the_tariff():
    codes = pl.Series(["010121", "060110", "150910", "847130", "970110", "", None])
    assert pl.select(hs_section(codes)).to_series().to_list() == [1, 2, 3, 16, 21, 0, 0]


def test_facts_name_each_scheme_from_the_row_alone():
    table = pl.DataFrame(
        {
            "value_ratio": [0.5, 1.0, 1.0, 1.0, 1.0, None],
            "reclass_hs_code": [None, "030617", None, None, None, None],
            "third_country": [0, 0, 1, 0, 0, 1],
            "lane_share": [0.5, 0.5, 0.06, 0.5, 0.5, 0.9],
            "hs_duty_gap": [0.0, 0.0, 0.0, 16.8, 0.0, 0.0],
            "origin_share": [0.5, 0.5, 0.5, 0.03, 0.5, 0.5],
            "split_n_pair_day": [1, 1, 1, 1, 6, 1],
            "split_under_pair_day": [0, 0, 0, 0, 6, 0],
        }
    )
    facts = mechanism_facts(table)
    shown = [[c for c in facts if facts[c][i]] for i in range(table.height)]
    assert shown == [
        ["UNDERVALUED"],
        ["MISCLASSIFIED"],
        ["ROUTE"],
        ["RELABEL"],
        ["SPLIT_SHIPMENT"],
        [],  # a third country on the goods' main lane is no reason
    ]


def test_a_mild_discount_is_undervalued_when_it_is_the_importers_habit():
    table = pl.DataFrame(
        {
            "value_ratio": [0.85, 0.85, 0.85, 1.05, 0.65],
            "importer_mean_ratio_before": [0.55, 0.92, 0.55, 0.55, None],
            "importer_n_before": [12, 40, 4, 12, 0],
        }
    )
    undervalued = mechanism_facts(table)["UNDERVALUED"].tolist()
    # habit and a price under the median; no habit; too few earlier declarations to
    # call it one; a habit but a price above the median; far below without a record
    assert undervalued == [True, False, False, False, True]
    # The habit is the importer's record: the exploration, which spreads its picks over
    # what the declarations themselves show, does not count it.
    from detector.models import mechanism_of

    assert mechanism_of(table).to_list() == ["NONE", "NONE", "NONE", "NONE", "UNDERVALUED"]


def test_the_sentence_of_a_mild_discount_quotes_the_importers_habit():
    row = {
        "reason_codes": [["UNDERVALUED"], ["UNDERVALUED"]],
        "value_ratio": [0.85, 0.5],
        "unit_value_per_ton": [4250.0, 2500.0],
        "reference_value_per_ton": [5000.0, 5000.0],
        "peer_n": [1240, 1240],
        "peer_label": ["HS 081060 from TH, n=1,240"] * 2,
        "price_percentile": [31.0, 2.0],
        "importer_id": ["IM7", "IM8"],
        "importer_n_before": [12.0, 30.0],
        "importer_mean_ratio_before": [0.55, 0.6],
        "currency": ["USD", "USD"],
    }
    mild, far = (s[0] for s in reasons.sentences(pl.DataFrame(row), 150.0).to_list())
    assert mild == (  # the habit first: it is what makes a mild discount one
        "UNDERVALUED: importer IM7's 12 earlier declarations averaged 55% of their peers' "
        "median price; this one's 4,250 USD/t is 15% below the median 5,000 USD/t of 1,240 "
        "declarations of HS 081060 from TH, n=1,240 (percentile 31.0)"
    )
    assert "importer" not in far  # its own price says it all
    at = pl.DataFrame(row).with_columns(pl.Series("value_ratio", [0.998, 0.5]))
    assert "this one's 4,250 USD/t is at the median 5,000" in reasons.sentences(at, 150.0)[0][0]


def test_a_split_parcel_is_itself_under_de_minimis():
    table = pl.DataFrame(
        {
            "split_n_pair_day": [44, 44, 44],
            "split_under_pair_day": [2, 2, 0],
            "split_parcel": [1, 0, 1],  # a cargo declaration of the pair that day: 0
        }
    )
    assert mechanism_facts(table)["SPLIT_SHIPMENT"].tolist() == [True, False, False]


def test_a_pair_never_seen_has_no_record_to_be_a_reason():
    from detector.models._reasons import _as_shown, _clean_records

    table = pl.DataFrame(
        {
            "importer_fraud_rate": [0.01, 0.01],
            "importer_seller_fraud_rate": [0.16, 0.16],  # the overall rate: no record
            "importer_seller_n_before": [0.0, 3.0],
        }
    )
    row = {"ratio": np.ones(2), "origin_share": np.zeros(2), "third_country": np.zeros(2)}
    row["clean_record"] = _clean_records(table, base_rate=0.1)
    facts = mechanism_facts(table)
    assert _as_shown("IMPORTER_HISTORY", 0, facts, row) is None
    assert _as_shown("IMPORTER_HISTORY", 1, facts, row) == "IMPORTER_HISTORY"


def test_an_undervaluation_leads_a_misclassification_its_price_also_fits():
    from detector.models._reasons import _ordered

    assert _ordered(["MISCLASSIFIED", "IMPORTER_HISTORY", "UNDERVALUED"]) == [
        "UNDERVALUED",
        "MISCLASSIFIED",
        "IMPORTER_HISTORY",
    ]


#: The reason codes that name each scheme's mechanism, with the numbers each quotes.
SCHEMES = {
    "undervaluation": {
        "UNDERVALUED": r"[\d,]+ USD/t is \d+% below the median [\d,]+ USD/t of [\d,]+ ",
    },
    "transshipment": {  # through a hub, or relabelled as of the hub
        "ROUTE": r"route [A-Z]{2}>[A-Z]{2}.*lane carries [\d.]+% \([\d,]+ of [\d,]+\) of past "
        r"HS \d{6}",
        "RELABEL": r"origin [A-Z]{2} on [\d.]+% \([\d,]+ of [\d,]+\) of past HS \d{6} "
        r"declarations, at [\d.]+% "
        r"duty, [\d.]+ points below",
    },
    "split_shipment": {
        "SPLIT_SHIPMENT": r"\d+ declarations from seller .* \d+ just under",
    },
    "misclassification": {  # by its price, or by the importer's usual code
        "MISCLASSIFIED": r"([\d,]+ USD/t fits HS \d{6} \(median [\d,]+ USD/t of [\d,]+ "
        r"declarations, duty [\d.]+%\) better than the declared HS \d{6} at [\d.]+%"
        r"|in the training history importer \S+ declared HS \d{6} \([\d.]+%\) [\d,]+ times, "
        r"[\d.]+% of its [\d,]+ declarations( from seller \w+)?, and HS \d{6} \([\d.]+%\) "
        r"([\d,]+ times|once|"
        r"never); [\d,]+ USD/t fits HS \d{6} \(median [\d,]+ USD/t of [\d,]+ declarations "
        r"(from [A-Z]{2}|of all origins)\)); .*the duty would be [\d,]+ USD more",
    },
}


def test_each_scheme_gets_its_mechanism_with_its_numbers_and_hint(model_file):
    from detector.app.pipeline import score

    path, _, score_file = model_file
    with score([score_file], path, top="10%") as result:
        listed = result.scored.filter(pl.col("selection") == "model")
    for scheme, patterns in SCHEMES.items():
        rows = listed.filter(pl.col("true_fraud_type") == scheme)
        codes = pl.col("reason_codes")
        named = rows.filter(pl.any_horizontal(codes.list.contains(c) for c in patterns))
        assert named.height >= 0.8 * rows.height > 0, (scheme, named.height, rows.height)
        for row_codes, said in zip(named["reason_codes"], named["reasons"], strict=True):
            row_codes = row_codes.to_list()
            code = next(c for c in row_codes if c in patterns)
            sentence = said[row_codes.index(code)]
            assert re.match(rf"{code}: .*{patterns[code]}", sentence), sentence
            assert reasons.HINTS[code] in reasons.hints(row_codes)
    # Misclassified goods at a price their declared code's peers also fit: the
    # importer's usual code names them, and their card shows it.
    mis = listed.filter(pl.col("true_fraud_type") == "misclassification")
    by_habit = mis.filter(
        pl.col("reasons")
        .list.join(" | ")
        .str.contains(r"MISCLASSIFIED: in the training history importer")
    )
    assert by_habit.height > 0
    from detector.app.pipeline import explain

    target = by_habit["declaration_id"][0]
    card = explain(target, path, [score_file])
    usual = card["reclassification"]
    assert usual["importers_usual_hs_code"] != card["declaration"]["hs_code"]
    assert usual["its_duty_pct"] > usual["declared_duty_pct"] and usual["duty_at_stake"] > 0
    usual_n = usual["importers_declarations_of_it_in_training"]
    assert usual_n >= 5 and usual_n >= 0.25 * usual["importers_declarations_in_training"]
    assert usual_n >= 4 * usual["importers_declarations_of_the_declared_code_in_training"]
    assert any(r.startswith("MISCLASSIFIED: in the training history") for r in card["reasons"])
    assert reasons.HINTS["MISCLASSIFIED"] in card["what_to_check"]
    # Durians through Vietnam show their route.
    through = listed.filter(
        (pl.col("true_fraud_type") == "transshipment") & (pl.col("route") == "TH>VN")
    )
    assert through.height > 0
    said = through["reasons"].list.join(" | ")
    assert said.str.contains(
        "ROUTE: declared origin TH, shipped from VN (route TH>VN)", literal=True
    ).all()
    # The entity's record never leads a row whose own facts show a scheme.
    first = listed.filter(pl.col("true_fraud") == 1)["reason_codes"].list.first()
    assert first.is_in(["IMPORTER_HISTORY", "PARTNER_HISTORY", "IMPORTER_UNDERPRICES"]).mean() < 0.1


def test_a_model_family_becomes_the_reason_the_row_shows_or_none():
    from detector.models._reasons import _as_shown

    table = pl.DataFrame(
        {
            "value_ratio": [1.1, 0.6, 0.86, 1.0, 1.0, 0.9, 1.5],
            "price_percentile": [93.0, 2.0, 8.5, 50.0, 50.0, 42.7, None],
            "third_country": [0, 0, 0, 0, 0, 0, 0],
            "origin_share": [0.9, 0.9, 0.87, 0.03, 0.03, 0.9, 0.9],
            "hs_duty_gap": [0.0, 0.0, 0.0, 0.0, 12.5, 0.0, 0.0],
            "lane_share": [0.9, 0.9, 0.87, 0.03, 0.03, 0.9, 0.9],
        }
    )
    facts = mechanism_facts(table)
    row = {
        "ratio": table["value_ratio"].to_numpy(),
        "percentile": table["price_percentile"].fill_null(float("nan")).to_numpy(),
        "origin_share": table["origin_share"].to_numpy(),
        "third_country": table["third_country"].to_numpy() == 1,
        "clean_record": {},
    }
    assert _as_shown("UNDERVALUED", 0, facts, row) == "PRICE_UNUSUAL"  # above the median
    assert _as_shown("UNDERVALUED", 1, facts, row) == "UNDERVALUED"
    # 14 % below, no importer's habit: the model weighed the price, which is no
    # undervaluation by the facts
    assert _as_shown("UNDERVALUED", 2, facts, row) == "PRICE_UNUSUAL"
    assert _as_shown("ROUTE", 2, facts, row) is None  # straight from its main origin
    assert _as_shown("ROUTE", 3, facts, row) is None  # a rare origin paying no less duty
    assert _as_shown("ROUTE", 4, facts, row) == "RELABEL"  # a rare origin paying less
    assert _as_shown("SPLIT_SHIPMENT", 1, facts, row) is None  # no parcels shown
    # A price in the middle of its peers' is no reason, however the model weighed it;
    # without peers the sentence says there is no price to compare with.
    assert _as_shown("UNDERVALUED", 5, facts, row) is None
    assert _as_shown("UNDERVALUED", 6, facts, row) == "PRICE_UNUSUAL"


@pytest.mark.parametrize(
    ("named", "percentile", "ratio", "expected"),
    [
        # Listed for a record, its price in the peers' lowest quarter and a tenth or
        # more below their median: the price too.
        (["IMPORTER_HISTORY"], 10.0, 0.6, ["IMPORTER_HISTORY", "UNDERVALUED"]),
        (
            ["PARTNER_HISTORY", "GOODS_RISK"],
            25.0,
            0.89,
            ["PARTNER_HISTORY", "GOODS_RISK", "UNDERVALUED"],
        ),
        (["IMPORTER_HISTORY"], 25.1, 0.6, ["IMPORTER_HISTORY"]),  # not the lowest quarter
        (["IMPORTER_HISTORY"], float("nan"), float("nan"), ["IMPORTER_HISTORY"]),  # no peers
        # Peers priced close together: the lowest quarter is 1 % below the median.
        (["GOODS_RISK"], 25.0, 0.99, ["GOODS_RISK"]),
        (["GOODS_RISK"], 5.0, 0.9, ["GOODS_RISK"]),
        # Priced far above its peers (their top tenth, twice the median or more).
        (["GOODS_RISK"], 99.9, 19.7, ["GOODS_RISK", "PRICE_UNUSUAL"]),
        (["IMPORTER_HISTORY"], 90.0, 2.0, ["IMPORTER_HISTORY", "PRICE_UNUSUAL"]),
        (["GOODS_RISK"], 89.9, 3.0, ["GOODS_RISK"]),  # not the top tenth
        (["GOODS_RISK"], 95.0, 1.9, ["GOODS_RISK"]),  # not twice the median
        (["ROUTE", "GOODS_RISK"], 99.0, 5.0, ["ROUTE", "GOODS_RISK"]),  # a fact already
        # The declaration already shows something to check.
        (["ROUTE", "IMPORTER_HISTORY"], 3.0, 0.5, ["ROUTE", "IMPORTER_HISTORY"]),
        (["NOVEL", "IMPORTER_HISTORY"], 3.0, 0.5, ["NOVEL", "IMPORTER_HISTORY"]),
    ],
)
def test_a_row_named_on_records_alone_gets_its_low_price(named, percentile, ratio, expected):
    assert _with_low_price(named, percentile, ratio) == expected


def test_route_and_relabel_sentences_give_the_duty_on_the_declaration():
    rows = pl.DataFrame(
        {
            "reason_codes": [["ROUTE", "RELABEL", "IMPORTER_HISTORY"]],
            "route": ["CN>VN"],
            "third_country": [1],
            "lane_share": [0.01],
            "origin_share": [0.02],
            "hs_code": ["721049"],
            "country_origin": ["VN"],
            "country_departure": ["CN"],
            "usual_origin": ["CN"],
            "duty_gap": [8.0],
            "hs_duty_gap": [6.2],
            "duty_rate_pct": [0.0],
            "customs_value": [775_085.0],
            "importer_id": ["IM1"],
            "seller_id": ["SE1"],
            "importer_seller_n_before": [0.0],
            "importer_seller_fraud_rate": [0.1585],
        }
    )
    route, relabel, history = reasons.sentences(rows, 150.0)[0].to_list()
    assert "which pays 8.0 points more duty (62,007 on this declaration)" in route
    assert "6.2 points below the average these goods pay over all origins (48,055 on " in relabel
    assert "usually originate" not in relabel  # said once, by the route
    assert history.endswith("with seller SE1: no earlier declarations")
    # Shipped from the hub with no third country: the relabelling says the usual origin.
    direct = rows.with_columns(
        pl.lit(0).alias("third_country"), pl.lit(["RELABEL"]).alias("reason_codes")
    )
    (relabel,) = reasons.sentences(direct, 150.0)[0].to_list()
    assert relabel.endswith(
        "; goods leaving CN usually originate in CN, which pays 8.0 points more duty "
        "(62,007 on this declaration)"
    )


def test_an_entity_record_below_the_usual_fraud_rate_is_no_reason():
    from detector.models._reasons import _as_shown, _clean_records

    table = pl.DataFrame(
        {
            "importer_fraud_rate": [0.01, 0.01, None],
            "importer_seller_fraud_rate": [0.02, 0.60, None],
            "declarant_fraud_rate": [0.01, 0.01, 0.01],
            "seller_fraud_rate": [0.01, 0.01, 0.01],
        }
    )
    row = {"ratio": np.ones(3), "origin_share": np.zeros(3), "third_country": np.zeros(3)}
    row["clean_record"] = _clean_records(table, base_rate=0.1)
    facts = mechanism_facts(table)
    assert _as_shown("IMPORTER_HISTORY", 0, facts, row) is None  # 0.01 and 0.02 < 0.1
    assert _as_shown("IMPORTER_HISTORY", 1, facts, row) == "IMPORTER_HISTORY"  # the pair's 0.60
    assert _as_shown("IMPORTER_HISTORY", 2, facts, row) == "IMPORTER_HISTORY"  # unknown
    assert _as_shown("PARTNER_HISTORY", 0, facts, row) is None
    assert _clean_records(table, None) == {}  # a model saved before kept no rate
