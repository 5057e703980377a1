import copy
import math
import statistics
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from detector.features import (
    NUMERIC_FEATURES,
    USUAL_CODE_COLUMNS,
    DeclarationFeatures,
    StageCache,
    entity_histories,
    fit_reference_prices,
    fit_route_tables,
    history_tables,
    log_unit_value,
    out_of_fold_fraud_rates,
    out_of_fold_tables,
    reference_price_deviation,
    route_string,
    split_shipments,
    third_country_transshipment,
    to_base_currency,
    unit_value_per_ton,
    unit_value_per_unit,
)
from detector.features._histories import daily_tables, merge_daily_tables, piece_daily_tables
from detector.features._reference_prices import PERCENTILE_GRID as PERCENTILE
from detector.features._reference_prices import ZERO_VALUE_LOG_RATIO, ZERO_VALUE_Z
from detector.synthetic import generate_declarations

# ----------------------------------------------------------------- stateless expressions


@pytest.mark.parametrize(
    ("value", "mass", "expected"),
    [
        (5000.0, 1000.0, 5000.0),
        (2150.0, 1000.0, 2150.0),
        (10.0, 0.5, 20000.0),
        (10.0, 0.0, None),
        (0.0, 10.0, 0.0),
        (None, 10.0, None),
    ],
)
def test_unit_value_per_ton(value, mass, expected):
    df = pl.DataFrame(
        {"customs_value": [value], "net_mass_kg": [mass]},
        schema={"customs_value": pl.Float64, "net_mass_kg": pl.Float64},
    )
    assert df.select(unit_value_per_ton())[0, 0] == expected


@pytest.mark.parametrize(
    ("value", "qty", "expected"), [(100.0, 4.0, 25.0), (100.0, 0.0, None), (100.0, None, None)]
)
def test_unit_value_per_unit(value, qty, expected):
    df = pl.DataFrame(
        {"customs_value": [value], "supplementary_quantity": [qty]},
        schema={"customs_value": pl.Float64, "supplementary_quantity": pl.Float64},
    )
    assert df.select(unit_value_per_unit())[0, 0] == expected


def test_log_unit_value_needs_value_and_mass():
    df = pl.DataFrame({"customs_value": [1000.0, 0.0, 5.0], "net_mass_kg": [1000.0, 5.0, 0.0]})
    out = df.select(log_unit_value())["log_unit_value"].to_list()
    assert out[0] == pytest.approx(math.log(1000.0)) and out[1:] == [None, None]


def test_currency_conversion_and_unknown_currency():
    lf = pl.LazyFrame(
        {"customs_value": [100.0, 100.0, 100.0, 100.0], "currency": ["USD", "EUR", "XYZ", None]}
    )
    out = to_base_currency(lf, {"EUR": 1.1}, "USD").collect()
    assert out["customs_value"].to_list() == pytest.approx([100.0, 110.0, None, 100.0], nan_ok=True)
    assert out["customs_value"][2] is None
    with pytest.raises(ValueError):
        to_base_currency(lf, {"EUR": -1.0}, "USD")


@pytest.mark.parametrize(
    ("origin", "transit", "departure", "destination", "route", "third"),
    [
        ("TH", None, "TH", None, "TH", 0),
        ("TH", None, "TH", "CN", "TH>CN", 0),
        ("TH", "VN", "VN", "CN", "TH>VN>CN", 1),
        ("CN", "SG;MY", "MY", None, "CN>SG>MY", 1),
        ("CN", None, "MY", None, "CN>MY", 1),
        ("TH", "TH", "TH", None, "TH", 0),
        ("DE", "NL", "DE", None, "DE>NL>DE", 1),
    ],
)
def test_route_string_and_third_country(origin, transit, departure, destination, route, third):
    df = pl.DataFrame(
        {
            "country_origin": [origin],
            "transit_countries": [transit],
            "country_departure": [departure],
        },
        schema={
            "country_origin": pl.String,
            "transit_countries": pl.String,
            "country_departure": pl.String,
        },
    )
    out = df.select(route_string(destination), third_country_transshipment())
    assert out.row(0) == (route, third)


# ----------------------------------------------------------------- reference prices

_LEVELS = [
    ("hs_code", "country_origin", "quarter"),
    ("hs_code", "country_origin"),
    ("hs_code",),
    ("hs4",),
    ("hs2",),
]


def _naive_reference(train: list[dict], row: dict, min_count: int):
    def keyed(r):
        q = (r["declaration_date"].month - 1) // 3 + 1
        return {
            "hs_code": r["hs_code"],
            "country_origin": r["country_origin"],
            "quarter": q,
            "hs4": r["hs_code"][:4],
            "hs2": r["hs_code"][:2],
        }

    me = keyed(row)
    for level, keys in enumerate(_LEVELS):
        logs = [
            math.log(r["customs_value"] / r["net_mass_kg"] * 1000)
            for r in train
            if all(keyed(r)[k] == me[k] for k in keys)
        ]
        if len(logs) >= min_count:
            med = statistics.median(logs)
            mad = statistics.median(abs(x - med) for x in logs)
            return level, len(logs), med, max(mad * 1.4826, 0.05)
    return None


_rows = st.fixed_dictionaries(
    {
        "hs_code": st.sampled_from(["081060", "081070", "080450", "720839"]),
        "country_origin": st.sampled_from(["TH", "VN", "CN"]),
        "declaration_date": st.dates(date(2025, 1, 1), date(2025, 12, 31)),
        "net_mass_kg": st.floats(1.0, 1e5),
        "customs_value": st.floats(1.0, 1e7),
        "duty_rate_pct": st.sampled_from([0.0, 8.0, 20.0]),
    }
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_rows, min_size=1, max_size=40),
    st.lists(_rows, min_size=1, max_size=5),
    st.integers(1, 6),
)
def test_reference_prices_match_a_naive_backoff(train, score, min_count):
    reference = fit_reference_prices(pl.LazyFrame(train), min_count)
    out = reference_price_deviation(pl.LazyFrame(score), reference).collect()
    for row, got in zip(score, out.iter_rows(named=True), strict=True):
        want = _naive_reference(train, row, min_count)
        if want is None:
            assert got["peer_level"] is None and got["value_ratio"] is None
            assert got["revenue_at_stake"] == 0.0
            continue
        level, n, med, spread = want
        x = math.log(row["customs_value"] / row["net_mass_kg"] * 1000)
        assert got["peer_level"] == level and got["peer_n"] == n
        assert got["reference_value_per_ton"] == pytest.approx(math.exp(med), rel=1e-6)
        assert got["value_ratio"] == pytest.approx(math.exp(x - med), rel=1e-6)
        assert got["price_z"] == pytest.approx((x - med) / spread, rel=1e-6, abs=1e-9)
        assert 0.0 <= got["price_percentile"] <= 100.0
        lost = max(math.exp(med) * row["net_mass_kg"] / 1000 - row["customs_value"], 0.0)
        # A difference of two large values: compare to the value's own precision.
        want_stake = lost * row["duty_rate_pct"] / 100
        assert got["revenue_at_stake"] == pytest.approx(
            want_stake, rel=1e-6, abs=1e-9 * row["customs_value"]
        )
        assert got["peer_group"].endswith(f"n={n:,}")


def test_a_value_of_0_stands_below_every_price_on_the_price_scales():
    """Goods with a mass declared at value 0 are below the lowest price that can be
    declared: on the z-score, the percentile and the ratio (a tree sends a missing
    value elsewhere: the price would go unjudged)."""
    train = [
        {
            "hs_code": "081060",
            "country_origin": "TH",
            "declaration_date": date(2025, 1, 1) + timedelta(days=i),
            "net_mass_kg": 1000.0,
            "customs_value": 5000.0 * (1 + (i % 7) / 10),
            "duty_rate_pct": 20.0,
        }
        for i in range(40)
    ]
    score = [{**train[0], "customs_value": v} for v in (0.0, 1e-6, 5000.0)]
    reference = fit_reference_prices(pl.LazyFrame(train), 5)
    out = reference_price_deviation(pl.LazyFrame(score), reference).collect()
    zero, tiny, full = out.iter_rows(named=True)
    assert zero["value_ratio"] == 0.0 and zero["price_z"] == ZERO_VALUE_Z
    assert zero["price_z"] < tiny["price_z"] < full["price_z"]
    assert zero["price_percentile"] == 0.0 <= tiny["price_percentile"]
    # The whole duty of the reference value is at stake.
    assert zero["revenue_at_stake"] == pytest.approx(full["reference_value_per_ton"] * 0.2)
    assert zero["revenue_at_stake"] >= tiny["revenue_at_stake"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(_rows, min_size=1, max_size=60),
    st.lists(
        st.one_of(st.sampled_from([1.0, 2.5]), st.floats(0.01, 1e4)), min_size=60, max_size=60
    ),
)
def test_reference_statistics_are_polars_own_quantiles_exactly(train, prices):
    """Quantiles read off each group's sorted prices equal Polars' per-group quantile,
    median and median absolute deviation to the last bit (ties included)."""
    from detector.features._reference_prices import (
        _MAD_TO_SIGMA,
        _MIN_SPREAD,
        PEER_LEVELS,
        peer_keys,
    )

    # Repeated unit values make ties, the case interpolation gets wrong most easily
    # (the prices outnumber the rows: zip stops at the rows).
    train = [
        {**r, "customs_value": r["net_mass_kg"] * p} for r, p in zip(train, prices, strict=False)
    ]
    reference = fit_reference_prices(pl.LazyFrame(train), 1)
    priced = pl.DataFrame(train).with_columns(*peer_keys(), log_unit_value())
    x = pl.col("log_unit_value")
    for name, keys in PEER_LEVELS:
        k = list(keys)
        stats = priced.group_by(k).agg(
            pl.len().alias("n"),
            x.median().alias("median"),
            *[x.quantile(q / 100, "linear").alias(f"q{i}") for i, q in enumerate(PERCENTILE)],
        )
        mad = (
            priced.join(stats.select(*k, "median"), on=k)
            .group_by(k)
            .agg((x - pl.col("median")).abs().median().alias("mad"))
        )
        want = (
            stats.join(mad, on=k)
            .with_columns(
                (pl.col("mad") * _MAD_TO_SIGMA).clip(lower_bound=_MIN_SPREAD).alias("spread")
            )
            .drop("mad")
            .sort(k)
        )
        got = reference.tables[name]
        assert_frame_equal(got, want.select(got.columns), check_exact=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(_rows, min_size=5, max_size=40))
def test_percentile_rises_with_price_within_a_group(train):
    reference = fit_reference_prices(pl.LazyFrame(train), 1)
    probe = pl.LazyFrame([{**train[0], "customs_value": v} for v in np.geomspace(1e-9, 1e13, 25)])
    pct = reference_price_deviation(probe, reference).collect()["price_percentile"].to_list()
    assert pct == sorted(pct)
    assert pct[0] == 0.0 and pct[-1] == 100.0


def test_peer_group_label_names_the_group():
    train = [
        {
            "hs_code": "081060",
            "country_origin": "TH",
            "declaration_date": date(2025, 5, 1),
            "net_mass_kg": 1000.0,
            "customs_value": 5000.0 + i,
            "duty_rate_pct": 20.0,
        }
        for i in range(1240)
    ]
    reference = fit_reference_prices(pl.LazyFrame(train), 20)
    row = {**train[0], "declaration_date": date(2025, 11, 1), "customs_value": 2150.0}
    out = reference_price_deviation(pl.LazyFrame([row]), reference).collect().row(0, named=True)
    assert out["peer_group"] == "HS 081060 from TH, n=1,240"
    assert out["value_ratio"] == pytest.approx(2150 / 5619.5, rel=1e-6)
    assert out["price_percentile"] == 0.0
    # Goods of an origin never seen are priced against every origin's, and say so.
    other = {**row, "country_origin": "PH"}
    out = reference_price_deviation(pl.LazyFrame([other]), reference).collect().row(0, named=True)
    assert out["peer_group"] == "HS 081060 from every origin, n=1,240"


# ----------------------------------------------------------------- entity histories


def _history_frame(rows, **fixed):
    """Rows of importers with the other columns the histories read: the importer as its
    own broker and seller, and the same goods, origin, route and duty rate throughout
    (``fixed`` overrides them; a column the rows carry is kept)."""
    lf = pl.LazyFrame(rows)
    have = lf.collect_schema().names()
    same = {"value_ratio": 1.0, "route": "X", "hs_code": "081060", "country_origin": "TH"}
    same |= {"duty_rate_pct": 20.0, **fixed}
    return lf.with_columns(
        pl.col("importer_id").alias("declarant_id"),
        pl.col("importer_id").alias("seller_id"),
        *[pl.lit(v).alias(k) for k, v in same.items() if k not in have],
    )


_hist_rows = st.lists(
    st.fixed_dictionaries(
        {
            "importer_id": st.sampled_from(["A", "B", "C"]),
            "declaration_date": st.dates(date(2025, 1, 1), date(2025, 1, 20)),
            "inspected": st.booleans(),
            "fraud": st.sampled_from([0, 1]),
        }
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(_hist_rows)
def test_entity_history_matches_a_naive_loop(rows):
    rows = [{**r, "fraud": r["fraud"] if r["inspected"] else None} for r in rows]
    out = entity_histories(
        _history_frame(rows), None, use_labels=True, prior=0.2, smoothing=10.0
    ).collect()
    for row, got in zip(rows, out.iter_rows(named=True), strict=True):
        earlier = [
            r
            for r in rows
            if r["importer_id"] == row["importer_id"]
            and r["declaration_date"] < row["declaration_date"]
        ]
        frauds = sum(1 for r in earlier if r["inspected"] and r["fraud"] == 1)
        inspected = sum(1 for r in earlier if r["inspected"])
        assert got["importer_n_before"] == len(earlier)
        want_days = (
            (row["declaration_date"] - min(r["declaration_date"] for r in earlier)).days
            if earlier
            else None
        )
        assert got["importer_days_known"] == want_days
        assert got["importer_fraud_rate"] == pytest.approx((frauds + 2.0) / (inspected + 10.0))


def test_goods_on_their_route_have_a_record_of_their_own():
    """Durians from Thailand trucked through Vietnam are one record, durians shipped
    from Thailand another, and other goods on the Vietnam route a third."""
    day = date(2025, 1, 1)
    rows = [
        # hs, route, fraud: three frauds of durians through Vietnam, then clean others
        ("081060", "TH>VN", 1),
        ("081060", "TH>VN", 1),
        ("081060", "TH>VN", 1),
        ("081060", "TH", 0),
        ("080450", "TH>VN", 0),
        ("081060", "TH>VN", None),
        ("081060", "TH", None),
        ("080450", "TH>VN", None),
    ]
    frame = _history_frame(
        {
            "importer_id": [f"I{i}" for i in range(len(rows))],
            "declaration_date": [day + timedelta(days=i) for i in range(len(rows))],
            "inspected": [f is not None for _, _, f in rows],
            "fraud": [f for _, _, f in rows],
            "hs_code": [h for h, _, _ in rows],
            "route": [r for _, r, _ in rows],
        }
    )
    out = entity_histories(frame, None, use_labels=True, prior=0.2, smoothing=10.0).collect()
    last = out.tail(3)
    assert last["hs_route_n_before"].to_list() == [3.0, 1.0, 1.0]
    # (frauds + smoothing x prior) / (inspections + smoothing)
    assert last["hs_route_fraud_rate"].to_list() == pytest.approx(
        [(3 + 2.0) / (3 + 10.0), (0 + 2.0) / (1 + 10.0), (0 + 2.0) / (1 + 10.0)]
    )
    # The goods alone and the route alone mix the two.
    assert last["hs_n_before"].to_list() == [4.0, 5.0, 1.0]
    assert last["route_n_before"].to_list() == [4.0, 1.0, 5.0]


def test_goods_on_their_route_at_a_preferential_rate_have_a_record_of_their_own():
    """Durians through Vietnam declared at a 0 % (preferential) duty keep their own
    record, apart from the same durians on the same route paying the full 20 %; a row
    without a declared duty rate has no such record (null), and is still counted on its
    route."""
    day = date(2025, 1, 1)
    rows = [
        # duty rate, fraud: three frauds at 0 %, one clean at 20 %, then the rows scored
        (0.0, 1),
        (0.0, 1),
        (0.0, 1),
        (20.0, 0),
        (0.0, None),
        (20.0, None),
        (None, None),
    ]
    frame = _history_frame(
        {
            "importer_id": [f"I{i}" for i in range(len(rows))],
            "declaration_date": [day + timedelta(days=i) for i in range(len(rows))],
            "inspected": [f is not None for _, f in rows],
            "fraud": [f for _, f in rows],
            "duty_rate_pct": [d for d, _ in rows],
        },
        route="TH>VN",
    )
    out = entity_histories(frame, None, use_labels=True, prior=0.2, smoothing=10.0).collect()
    last = out.tail(3)
    assert last["hs_route_rate_n_before"].to_list() == [3.0, 1.0, 0.0]
    assert last["hs_route_rate_inspected_before"].to_list() == [3.0, 1.0, None]
    assert last["hs_route_rate_fraud_before"].to_list() == [3.0, 0.0, None]
    assert last["hs_route_rate_fraud_rate"].to_list() == pytest.approx(
        [(3 + 2.0) / (3 + 10.0), (0 + 2.0) / (1 + 10.0), None]
    )
    # On the route at any duty, the four inspections together.
    assert last["hs_route_n_before"].to_list() == [4.0, 5.0, 6.0]
    assert last["hs_route_fraud_before"].to_list() == [3.0, 3.0, 3.0]
    # A rate held as whole numbers or 32-bit floats is the same record as the 64-bit
    # floats a model's state holds: the same key.
    from detector.features._histories import ENTITIES, _key

    key = _key(list(ENTITIES["hs_route_rate"]))
    want = frame.select(key).collect().to_series()
    for dtype in (pl.Int64, pl.Float32):
        typed = frame.with_columns(pl.col("duty_rate_pct").cast(dtype))
        assert typed.select(key).collect().to_series().equals(want)


def test_the_model_learns_from_the_goods_on_their_route_and_names_them_goods_risk():
    """The record the backtest chose (bench/RESULTS.md) is among the model's features and
    in the family its reasons name."""
    from detector.features._builder import NUMERIC_FEATURES
    from detector.models import FAMILIES

    for record in ("hs_route", "hs_route_rate"):
        route = {f"log_{record}_n_before", f"{record}_days_known", f"{record}_fraud_rate"}
        assert route <= set(NUMERIC_FEATURES)
        assert route <= set(FAMILIES["GOODS_RISK"])


def test_scoring_history_carries_training_and_ignores_batch_labels():
    day = date(2025, 1, 1)
    train = [
        {
            "importer_id": "A",
            "declaration_date": day + timedelta(days=i),
            "inspected": True,
            "fraud": 1,
        }
        for i in range(5)
    ]
    builder_in = _history_frame(train).collect()
    from detector.features import fit_entity_state

    state = fit_entity_state(builder_in.lazy(), smoothing=10.0)
    batch = [
        {"importer_id": "A", "declaration_date": date(2025, 3, d), "inspected": True, "fraud": 0}
        for d in (1, 1, 2)
    ]
    out = entity_histories(_history_frame(batch), state, use_labels=False).collect()
    assert out["importer_n_before"].to_list() == [5.0, 5.0, 7.0]
    assert out["importer_days_known"].to_list() == [59.0, 59.0, 60.0]
    # Five frauds in five inspections, prior 1.0: batch outcomes do not move it.
    assert out["importer_fraud_rate"].to_list() == pytest.approx([1.0, 1.0, 1.0])


# ----------------------------------------------------------------- split shipments


def test_split_shipments_counts_same_day_parcels_under_threshold():
    d1, d2 = date(2025, 1, 1), date(2025, 1, 2)
    rows = [("I1", "S1", d1, v) for v in (140.0, 145.0, 149.0, 120.0, 30.0)]
    rows += [("I1", "S2", d1, 149.0), ("I1", "S1", d2, 149.0), ("I2", "S1", d1, 150.0)]
    lf = pl.LazyFrame(
        rows, schema=["importer_id", "seller_id", "declaration_date", "customs_value"], orient="row"
    )
    out = split_shipments(lf, de_minimis=150.0).collect()
    assert out["split_n_pair_day"].to_list() == [5, 5, 5, 5, 5, 1, 1, 1]
    assert out["split_under_pair_day"].to_list() == [4, 4, 4, 4, 4, 1, 1, 0]
    assert out["split_n_importer_day"].to_list() == [6, 6, 6, 6, 6, 6, 1, 1]
    assert out["split_under_importer_day"].to_list() == [5, 5, 5, 5, 5, 5, 1, 0]
    assert out["split_value_pair_day"][0] == pytest.approx(584.0 / 150.0)


def test_day_counts_of_pieces_add_up_to_the_counts_of_the_whole_batch():
    from detector.features._batch import day_counts, join_day_counts, merge_day_counts

    d1, d2 = date(2025, 1, 1), date(2025, 1, 2)
    rows = [("I1", "S1", d1, v, "080610", "TH", "VN") for v in (140.0, 145.0, 149.0, 0.1)]
    rows += [
        ("I1", None, d1, 149.0, "080610", "TH", "TH"),
        ("I2", "S1", d2, 1e9, "0806", "TH", "VN"),
    ]
    cols = ["importer_id", "seller_id", "declaration_date", "customs_value"]
    lf = pl.LazyFrame(
        rows, schema=[*cols, "hs_code", "country_origin", "country_departure"], orient="row"
    )
    whole = join_day_counts(lf, day_counts(lf, 150.0)).collect()
    pieces = [lf.slice(0, 2), lf.slice(2, 3), lf.slice(5, 1)]
    counted = [day_counts(p, 150.0) for p in pieces]
    merged = merge_day_counts({k: pl.concat(c[k] for c in counted) for k in counted[0]})
    joined = pl.concat(join_day_counts(p, merged).collect() for p in pieces)
    assert_frame_equal(whole, joined)
    # A piece reads only its own days' counts, and joins the same.
    own_days = pl.concat(
        join_day_counts(p, merged, (d, d)).collect()
        for p, d in zip(pieces, (d1, d1, d2), strict=True)
    )
    assert_frame_equal(whole, own_days)
    wrong_day = join_day_counts(pieces[2], merged, (d1, d1)).collect()
    assert wrong_day["_pair_day_n"].to_list() == [None]
    assert whole["_pair_day_n"].to_list() == [4, 4, 4, 4, 1, 1]
    assert whole["_pair_day_under"].to_list() == [3, 3, 3, 3, 1, 0]
    assert whole["_pair_day_cents"][0] == 43_410
    assert whole["_importer_day_n"].to_list() == [5, 5, 5, 5, 5, 1]
    assert whole["_lane_day_n"].to_list() == [4, 4, 4, 4, 1, 1]
    assert whole["_hs_day_n"].to_list() == [5, 5, 5, 5, 5, 1]


# ----------------------------------------------------------------- the entry point


@pytest.fixture(scope="module")
def fitted(synthetic_year):
    cut = date(2025, 10, 1)
    train = synthetic_year.filter(pl.col("declaration_date") < cut)
    test = synthetic_year.filter(pl.col("declaration_date") >= cut)
    builder = DeclarationFeatures()
    train_features = builder.fit_transform(train)
    return builder, train_features, builder.transform(test.lazy()).collect()


def test_a_value_of_0_is_read_as_the_features_were_fitted_to_read_it(fitted, synthetic_year):
    """A builder fitted now places a value of 0 below every price; one fitted before
    (without ``zero_value_below_``) reads it as a missing price, as its model learned."""
    builder, _, _ = fitted
    rows = synthetic_year.filter(pl.col("declaration_date") >= date(2025, 10, 1)).head(200)
    rows = rows.with_columns(
        customs_value=pl.when(pl.int_range(pl.len()) < 5)
        .then(0.0)
        .otherwise(pl.col("customs_value"))
    )
    now = builder.transform(rows.lazy()).collect().head(5)
    assert builder.zero_value_below_ and (now["value_ratio"] == 0).all()
    assert (now["price_z"] == ZERO_VALUE_Z).all() and (now["price_percentile"] == 0).all()
    assert (now["log_value_ratio"] == ZERO_VALUE_LOG_RATIO).all()
    saved_before = copy.copy(builder)
    del saved_before.zero_value_below_
    before = saved_before.transform(rows.lazy()).collect().head(5)
    assert (before["value_ratio"] == 0).all()
    for name in ("price_z", "price_percentile", "log_value_ratio"):
        assert before[name].is_null().all(), name
    # Every other row reads the same either way.
    later = saved_before.transform(rows.lazy()).collect().slice(5)
    assert_frame_equal(later, builder.transform(rows.lazy()).collect().slice(5))


@pytest.mark.slow
def test_no_leakage_from_later_rows(synthetic_year):
    cut = date(2025, 6, 15)
    early = synthetic_year.filter(pl.col("declaration_date") <= cut)
    a = DeclarationFeatures(label_history="expanding").fit_transform(early)
    builder = DeclarationFeatures(label_history="expanding")
    b = builder.fit_transform(synthetic_year).filter(pl.col("declaration_date") <= cut)
    assert a["declaration_id"].to_list() == b["declaration_id"].to_list()
    for name in [*builder.numeric_features_, "peer_group", "route", "reference_value_per_ton"]:
        left, right = a[name], b[name]
        assert left.null_count() == right.null_count(), name
        if left.dtype == pl.String:
            assert left.to_list() == right.to_list(), name
        else:
            np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-9, err_msg=name)


def test_out_of_fold_rates_never_see_the_row_itself(synthetic_year):
    data = synthetic_year.head(8000)
    flipped = data.with_columns(
        pl.when(pl.col("inspected")).then(1 - pl.col("fraud")).otherwise(None).alias("fraud")
    )
    rates = [f"{p}_fraud_rate" for p in ("importer", "seller", "importer_seller", "hs")]
    a = DeclarationFeatures(label_history="out_of_fold").fit_transform(data)
    b = DeclarationFeatures(label_history="out_of_fold").fit_transform(flipped)
    # Flip one row's outcome: its own rates stay, its fold-mates' rates stay, and
    # only rows of other folds sharing its entity move.
    one = data["declaration_id"][0]
    only = data.with_columns(
        pl.when(pl.col("declaration_id") == one)
        .then(1 - pl.col("fraud").fill_null(0))
        .otherwise(pl.col("fraud"))
        .alias("fraud"),
        pl.when(pl.col("declaration_id") == one)
        .then(True)
        .otherwise(pl.col("inspected"))
        .alias("inspected"),
    )
    c = DeclarationFeatures(label_history="out_of_fold").fit_transform(only)
    for name in rates:
        assert (
            a.filter(pl.col("declaration_id") == one)[name].to_list()
            == c.filter(pl.col("declaration_id") == one)[name].to_list()
        )
    assert not a.select(rates).equals(b.select(rates))


def test_a_piece_reads_the_same_histories_from_its_cut_of_the_batch_tables(fitted):
    # Scoring in pieces: each piece reads, of the whole batch's daily tables, only its
    # own days and one row of totals per entity for the days before them.
    builder, _, test = fitted
    drop = [
        c
        for c in test.columns
        if c.endswith(
            ("_n_before", "_days_known", "_fraud_rate", "_inspected_before", "_fraud_before")
        )
    ]
    rows = test.drop(*drop, "importer_mean_ratio_before", "importer_share_below_before")
    state = builder.entities_
    whole = entity_histories(rows.lazy(), state, use_labels=False).collect()
    week = pl.col("declaration_date").dt.week()
    pieces = [p for _, p in rows.group_by(week, maintain_order=True)]
    tables = [daily_tables(p.lazy()) for p in pieces]
    daily = merge_daily_tables({k: pl.concat(t[k] for t in tables) for k in tables[0]})
    daily = {k: t.collect().lazy() for k, t in daily.items()}
    out, cut_rows = [], 0
    for piece in pieces:
        first, last = piece["declaration_date"].min(), piece["declaration_date"].max()
        cut = piece_daily_tables(daily, piece.lazy(), first, last)
        earlier = cut["importer"].filter(pl.col("declaration_date") < first).collect()
        assert earlier["__key_importer"].is_unique().all()
        cut_rows += cut["importer"].collect().height
        out.append(entity_histories(piece.lazy(), state, use_labels=False, daily=cut).collect())
    assert len(pieces) > 10
    assert_frame_equal(pl.concat(out), whole)
    # Far fewer rows than every piece reading the whole table would.
    whole_rows = daily["importer"].collect().height
    assert cut_rows < 0.5 * whole_rows * len(pieces)
    assert whole.filter(pl.col("declaration_date") == last)["importer_n_before"].min() > 0


def test_histories_built_once_and_joined_month_by_month_equal_the_whole(fitted):
    # Training builds the entity histories and the out-of-fold rates once over the
    # whole history and joins them to one month at a time: each month must get what
    # the same steps give it when the whole period is computed in one frame.
    _, train, _ = fitted
    drop = [
        c
        for c in train.columns
        if c.endswith(
            ("_n_before", "_days_known", "_fraud_rate", "_inspected_before", "_fraud_before")
        )
    ]
    rows = train.drop(*drop, "importer_mean_ratio_before", "importer_share_below_before")
    whole = entity_histories(rows.lazy(), None, use_labels=True, prior=0.1)
    whole = out_of_fold_fraud_rates(whole).collect()
    tables = {
        p: t.collect().lazy() for p, t in history_tables(rows.lazy(), use_labels=True).items()
    }
    folds = {k: t.collect().lazy() for k, t in out_of_fold_tables(rows.lazy()).items()}
    months = []
    for (_,), month in rows.group_by(pl.col("declaration_date").dt.month(), maintain_order=True):
        lf = entity_histories(month.lazy(), None, use_labels=True, prior=0.1, tables=tables)
        months.append(out_of_fold_fraud_rates(lf, tables=folds).collect())
    by_month = pl.concat(months).sort("declaration_id")
    whole = whole.sort("declaration_id")
    assert len(months) == 9
    assert_frame_equal(by_month, whole)
    # The builder's own training features, whose history tables are cut by month,
    # carry the same counts (those that do not lean on an overall rate).
    counts = [c for c in drop if c in whole.columns and not c.endswith("_fraud_rate")]
    counts += ["importer_mean_ratio_before", "importer_share_below_before"]
    assert_frame_equal(
        train.select("declaration_id", *counts).sort("declaration_id"),
        whole.select("declaration_id", *counts),
    )
    # The histories are not empty: later months know their entities.
    assert (
        whole.filter(pl.col("declaration_date").dt.month() == 9)["importer_n_before"].median() > 10
    )
    assert whole["importer_fraud_rate"].n_unique() > 100


@pytest.mark.slow
def test_an_entity_named_only_in_some_months_or_never_still_trains(synthetic_year):
    # Sellers first recorded in June: the months before have no seller history at all.
    data = synthetic_year.sample(20_000, seed=1)
    late = data.with_columns(
        pl.when(pl.col("declaration_date").dt.month() < 6)
        .then(None)
        .otherwise(pl.col("seller_id"))
        .alias("seller_id")
    )
    out = DeclarationFeatures().fit_transform(late)
    assert out.height == late.height
    early = out.filter(pl.col("declaration_date").dt.month() < 6)
    assert early.height > 0 and early["seller_n_before"].max() == 0
    assert early["seller_fraud_rate"].null_count() == early.height
    assert out.filter(pl.col("declaration_date").dt.month() >= 7)["seller_n_before"].max() > 0
    # A file without sellers or declarants at all.
    bare = DeclarationFeatures().fit_transform(data.drop("seller_id", "declarant_id"))
    assert bare.height == data.height
    assert bare["seller_fraud_rate"].null_count() == data.height
    assert bare["importer_n_before"].max() > 0


@pytest.mark.slow
def test_a_model_reads_every_training_row_one_month_at_a_time(synthetic_year):
    # Fitting holds one month of features at a time; what it learns from every row
    # (label coverage, the detectors' and the stakes' distributions) still counts them all.
    from detector.models import FraudModel

    data = synthetic_year.filter(pl.col("declaration_date") < date(2025, 4, 1)).drop(
        "true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"
    )
    model = FraudModel().fit(data)
    table = DeclarationFeatures().fit_transform(data)
    labelled = (table["inspected"].fill_null(False) & table["fraud"].is_not_null()).mean()
    assert model.label_coverage_ == pytest.approx(labelled, abs=1e-12)
    assert model.counts_["rows"] == data.height == table.height
    price = (-table["price_z"]).clip(lower_bound=0.0).fill_nan(None).fill_null(0.0).to_numpy()
    np.testing.assert_allclose(
        model.novelty_quantiles_["price"], np.quantile(price, np.linspace(0, 1, 1001))
    )


def test_training_rows_never_see_their_own_month(synthetic_year):
    january = synthetic_year.filter(pl.col("declaration_date").dt.month() == 1)
    out = DeclarationFeatures().fit_transform(january)
    # No earlier month: no reference, no lane history, no entity history.
    assert out["value_ratio"].null_count() == out.height
    assert (out["hs_history_n"] == 0).all()


def test_undervaluation_is_obvious_against_peers(fitted):
    _, _, test = fitted
    ratio = test.group_by(pl.col("true_fraud_type").fill_null("honest")).agg(
        pl.col("value_ratio").median()
    )
    ratio = dict(ratio.iter_rows())
    assert ratio["undervaluation"] < 0.7
    assert 0.9 < ratio["honest"] < 1.1


def test_transshipment_carries_route_flags(fitted):
    _, _, test = fitted
    flagged = (
        (pl.col("third_country") == 1)
        | (pl.col("origin_share") < 0.05)
        | (pl.col("lane_share") < 0.05)
    )
    rate = dict(
        test.group_by(pl.col("true_fraud_type").fill_null("honest")).agg(flagged.mean()).iter_rows()
    )
    # Relabelled goods from a country that also makes them honestly look like honest
    # trade on the route alone; the rest carry a flag.
    assert rate["transshipment"] > 0.7
    assert rate["transshipment"] > 4 * rate["honest"]
    durian = test.filter(
        (pl.col("true_fraud_type") == "transshipment") & (pl.col("hs_code") == "081060")
    )
    assert (durian["route"] == "TH>VN").all()
    # Against every other durian from Thailand the price is far too low.
    assert durian["value_ratio"].median() < 0.7 and (durian["value_ratio"] < 0.8).mean() > 0.75


def test_split_shipments_stand_out(fitted):
    _, _, test = fitted
    split = test.filter(pl.col("true_fraud_type") == "split_shipment")
    honest = test.filter(pl.col("true_fraud").eq(0) & (pl.col("transport_mode") == "post"))
    assert split["split_under_pair_day"].median() >= 5
    assert honest["split_under_pair_day"].quantile(0.95) <= 1


def test_consistent_underpricers_have_a_history(fitted):
    _, _, test = fitted
    by = test.group_by(pl.col("true_fraud_type") == "undervaluation").agg(
        pl.col("importer_mean_ratio_before").median(),
        pl.col("importer_fraud_rate").mean(),
    )
    got = {row[0]: row[1:] for row in by.iter_rows()}
    assert got[True][0] < 0.8 and got[False][0] > 0.95
    assert got[True][1] > 2 * got[False][1]


def test_feature_names_cover_the_table(fitted):
    builder, train, test = fitted
    assert set(builder.feature_names_) <= set(test.columns)
    assert set(builder.feature_names_) <= set(train.columns)
    assert "true_fraud" not in builder.feature_names_
    for name in builder.numeric_features_:
        assert test[name].dtype.is_numeric(), name


def test_route_tables_do_not_depend_on_the_rows_order():
    """Fitted again, or on the rows shuffled, the lane tables are equal to the last bit:
    a float mean added up in parallel moved the HS codes' average duty from run to run,
    and every model trained on it with it."""
    rng = np.random.default_rng(5)
    n = 400_000
    rows = pl.DataFrame(
        {
            "hs_code": rng.choice(["081060", "720851", "640399"], size=n),
            "country_origin": rng.choice(["TH", "VN", "CN"], size=n),
            "country_departure": rng.choice(["TH", "VN"], size=n),
            "duty_rate_pct": rng.uniform(0.0, 30.0, size=n).round(3),
        }
    )
    first = fit_route_tables(rows.lazy())
    for seed in (None, 0, 1, 2):
        again = rows if seed is None else rows.sample(fraction=1.0, shuffle=True, seed=seed)
        tables = fit_route_tables(again.lazy())
        for name in ("hs", "lane", "origin", "usual"):
            assert_frame_equal(getattr(tables, name), getattr(first, name), check_exact=True)
    naive = rows.group_by("hs_code").agg(pl.col("duty_rate_pct").mean()).sort("hs_code")
    np.testing.assert_allclose(first.hs["hs_duty"], naive["duty_rate_pct"], rtol=1e-12)


@pytest.mark.slow
def test_a_replays_first_stages_are_reused_with_todays_labels():
    # The same declarations fitted again with other labels (a replay's next retraining,
    # another policy): the first stage comes from the cache, the features are exactly
    # those of a fit without it.
    year = generate_declarations(rows=12_000, seed=5).drop(
        "true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"
    )
    other = year.with_columns(  # another policy's labels: half of the inspections unknown
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(False).otherwise("inspected")
        .alias("inspected"),
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise("fraud").alias("fraud"),
    )  # fmt: skip

    def features(frame, cache=None):
        months = DeclarationFeatures().fit_months(frame, keep_order=True, stage_cache=cache)
        return pl.concat(list(months)).sort("__row")

    cache = StageCache()
    features(other, cache)
    filled = len(cache)
    assert filled == year["declaration_date"].dt.truncate("1mo").n_unique()
    assert_frame_equal(features(year, cache), features(year))
    assert len(cache) == filled  # every month taken from the cache
    # A history that differs (a row less) is not taken for the same one.
    features(year.slice(1), cache)
    assert len(cache) == 2 * filled
    # Nor are the first stages of a builder set otherwise (the importer's usual codes
    # are in an expanding builder's first stage, added later by an out-of-fold one's).
    builder = DeclarationFeatures(label_history="out_of_fold", min_peer_count=10)
    first = pl.concat(list(builder.fit_months(year, keep_order=True, stage_cache=cache)))
    assert len(cache) == 3 * filled
    assert_frame_equal(first, pl.concat(list(builder.fit_months(year, keep_order=True))))
    cache.close()


@pytest.mark.parametrize("label_history", ["expanding", "out_of_fold"])
def test_a_training_rows_usual_code_counts_declarations_it_may_see(synthetic_year, label_history):
    """The importer's usual code of a training row: with ``expanding``, from the months
    before the row's; with ``out_of_fold``, from the whole training period less the row
    itself, never counting it. Either way the counts are the declarations' own: of the
    importer's trade with the row's seller where that record is named, else of all the
    importer's declarations."""
    data = synthetic_year
    out = DeclarationFeatures(label_history=label_history).fit_transform(data)
    found = out.filter(pl.col("usual_hs_code").is_not_null())
    assert found.height > 30
    month = pl.col("declaration_date").dt.truncate("1mo")
    itself = float(label_history == "out_of_fold")
    by_seller = found["usual_seller_id"].is_not_null()
    assert 0 < by_seller.sum() < found.height  # either record is read
    # A row's record: its importer's trade with its seller where that is named, else all
    # of its importer's declarations.
    for record, rows in (
        (["importer_id", "seller_id"], found.filter(by_seller)),
        (["importer_id"], found.filter(~by_seller)),
    ):
        counts = data.with_columns(month.alias("m")).group_by(*record, "hs_code", "m").len()

        def seen(code, keys, rows=rows, counts=counts, record=record) -> list[float]:
            """Per row, the declarations of its record (and ``code``) it may see."""
            mine = rows.select("declaration_id", *record, pl.col(code).alias("hs_code"))
            mine = mine.with_columns(rows["declaration_date"].dt.truncate("1mo").alias("row_m"))
            joined = mine.join(counts, on=keys)
            if label_history == "expanding":
                joined = joined.filter(pl.col("m") < pl.col("row_m"))
            total = joined.group_by("declaration_id").agg(pl.col("len").sum().cast(pl.Float64))
            return mine.join(total, on="declaration_id", how="left")["len"].fill_null(0.0).to_list()

        coded = [*record, "hs_code"]
        assert rows["usual_own_n"].to_list() == [n - itself for n in seen("hs_code", coded)]
        assert rows["usual_hs_n"].to_list() == seen("usual_hs_code", coded)
        total = [n - itself for n in seen("hs_code", record)]
        assert rows["usual_importer_n"].to_list() == total
    # Found rows are mostly misclassified goods.
    assert (found["true_fraud_type"] == "misclassification").mean() > 0.6
    # The classifier reads them.
    assert {"usual_gap", "log_usual_revenue"} <= set(NUMERIC_FEATURES)
    assert (found["usual_gap"] > 0).all() and (out["usual_gap"] > 0).sum() == found.height


def test_a_scored_rows_usual_code_is_found_from_the_training_history(fitted):
    builder, _, test = fitted
    made = test.select(USUAL_CODE_COLUMNS)
    assert made["usual_hs_code"].is_not_null().sum() > 10
    # What transform made is what the training history's counts give the rows afresh.
    assert_frame_equal(builder.usual_codes(test.drop(USUAL_CODE_COLUMNS)), made)
    assert_frame_equal(builder.usual_codes(test), made)


def test_goods_codes_are_read_at_the_length_the_history_usually_writes():
    from detector.features._builder import _usual_length

    six = ["081060"] * 50 + ["0810600000"]  # one stray national code
    assert _usual_length(pl.Series("hs_code", six)) == 6
    assert _usual_length(pl.Series("hs_code", ["0810", "081060"])) == 6  # a tie: the longer
    assert _usual_length(pl.Series("hs_code", [None], dtype=pl.String)) is None
    builder = DeclarationFeatures()
    builder.hs_digits_ = 6
    codes = pl.DataFrame({"hs_code": ["08106000", "081060", "0810"]})
    assert builder.codes_as_read(codes)["hs_code"].to_list() == ["081060", "081060", "0810"]
