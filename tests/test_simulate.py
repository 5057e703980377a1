"""The replay (detector.app.simulate), the selection policies and ``detector simulate``."""

import json
from datetime import date

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from detector.app.cli import app
from detector.app.labels import OUTCOME_SCHEMA, LabelStore
from detector.app.simulate import DEFAULT_POLICY, SimulationOptions, simulate
from detector.errors import DetectorError
from detector.models import POLICIES, ModelConfig
from detector.models._policies import adaptive_share
from detector.models._selection import select_for_inspection
from detector.synthetic.generate import generate_declarations

#: Cheap models: the replay's bookkeeping is under test, not the classifier.
FAST = ModelConfig(n_models=1, max_iter=15, max_leaf_nodes=31)
START = date(2025, 11, 1)
POLICY_NAMES = ["random-explore", DEFAULT_POLICY]


@pytest.fixture(scope="module")
def small_year() -> pl.DataFrame:
    return generate_declarations(rows=20_000, seed=11)


def _run(year: pl.DataFrame, fit=None, on_month=None):
    options = SimulationOptions.parse("5%", policies=POLICY_NAMES, start="2025-11")
    return simulate(year, options, config=FAST, fit=fit, on_month=on_month)


@pytest.fixture(scope="module")
def small_run(small_year):
    """A replay of November and December, every training table each policy got kept."""
    from detector.models import FraudModel

    pending, tables = [], {}

    def fit(table):
        pending.append(table)
        return FraudModel(FAST).fit(table)

    def on_month(month, name, chosen):
        if pending:
            tables[(name, month)] = pending.pop()

    sim = _run(small_year, fit, on_month)
    return sim, tables


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("text", "expected"), [("5%", 5.0), ("0.5%", 0.5), ("100%", 100.0), (" 2% ", 2.0)]
)
def test_a_capacity_is_a_share_of_each_month(text, expected):
    assert SimulationOptions.parse(text).capacity == expected


# "5" without its sign is refused: `score --top 5` means five declarations.
@pytest.mark.parametrize("text", ["150%", "0%", "-1%", "five", "nan%", "inf", "5"])
def test_a_capacity_outside_0_to_100_percent_is_refused(text):
    with pytest.raises(DetectorError, match="--capacity"):
        SimulationOptions.parse(text)


def test_without_policies_the_replay_compares_the_baselines_with_the_default():
    assert SimulationOptions.parse("5%").policies == ("exploit", "random-explore", DEFAULT_POLICY)
    assert DEFAULT_POLICY in POLICIES


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"policies": ["exploit", "greedy"]}, "--policy 'greedy'"),
        ({"retrain": "weekly"}, "--retrain 'weekly'"),
        ({"start": "April"}, "--start 'April'"),
        ({"start": "2025-13"}, "--start '2025-13'"),
    ],
)
def test_bad_options_are_one_sentence(options, match):
    with pytest.raises(DetectorError, match=match):
        SimulationOptions.parse("5%", **options)


# ---------------------------------------------------------------- policies


def _order(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "declaration_id": [f"D{i}" for i in range(n)],
            "hs_code": [["081060", "720851", "610910"][i % 3] for i in range(n)],
            "country_origin": [["TH", "CN"][i % 2] for i in range(n)],
            "novelty": rng.random(n),
            "rank_score": [1 - i / n for i in range(n)],
            "__h": [(i * 7919) % 1009 for i in range(n)],
        }
    )


NO_LABELS = pl.DataFrame(
    schema={"hs_code": pl.String, "country_origin": pl.String, "fraud": pl.Int8}
)


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_policy_lists_the_capacity_the_model_top_first(name):
    config = ModelConfig(exploration_share=0.1)
    listed = POLICIES[name].select(_order(1_000), 50, NO_LABELS, config)
    assert listed.height == 50 and listed["declaration_id"].n_unique() == 50
    assert listed["rank"].to_list() == list(range(1, 51))
    model = listed.filter(pl.col("selection") == "model")["declaration_id"]
    n_model = 50 if name == "exploit" else 45
    assert model.to_list() == [f"D{i}" for i in range(n_model)]
    explored = listed.filter(pl.col("selection") == "exploration")["declaration_id"]
    assert explored.len() == 50 - n_model
    assert all(int(d[1:]) >= n_model for d in explored)
    again = POLICIES[name].select(_order(1_000), 50, NO_LABELS, config)
    assert again.equals(listed)


def test_random_explore_is_the_list_score_top_draws():
    config = ModelConfig(exploration_share=0.1)
    listed = POLICIES["random-explore"].select(_order(500), 40, NO_LABELS, config)
    drawn = select_for_inspection(_order(500), 40, config)
    assert listed["declaration_id"].to_list() == drawn["declaration_id"].to_list()
    assert listed["selection"].to_list() == drawn["selection"].to_list()


def test_novelty_explore_picks_strange_rows_more_often_than_chance():
    config = ModelConfig(exploration_share=0.5)
    listed = POLICIES["novelty-explore"].select(_order(4_000), 200, NO_LABELS, config)
    picked = listed.filter(pl.col("selection") == "exploration")["novelty"]
    assert picked.mean() > 0.9  # against 0.5 for random picks of uniform novelty


def test_the_bandit_spends_exploration_where_labels_are_scarce():
    # Segment 08|TH holds many clean labels, the others none: at equal novelty the
    # picks go to the segments no inspection has looked at.
    order = _order(600).with_columns(pl.lit(0.9).alias("novelty"))
    labels = pl.DataFrame(
        {"hs_code": ["081060"] * 500, "country_origin": ["TH"] * 500, "fraud": [0] * 500},
        schema_overrides={"fraud": pl.Int8},
    )
    config = ModelConfig(exploration_share=0.5)
    listed = POLICIES["segment-bandit"].select(order, 60, labels, config)
    picks = listed.filter(pl.col("selection") == "exploration")
    segments = picks.select(pl.col("hs_code").str.slice(0, 2) + "|" + pl.col("country_origin"))
    assert picks.height == 30 and "08|TH" not in segments.to_series().to_list()


def test_scheme_explore_gives_every_scheme_its_share_whatever_the_labels_say():
    # 600 rows below the head, 100 per scheme and 100 showing none. Half of 120 explored:
    # 10 picks each, a scheme's the highest it holds in the model's order, the rest's
    # the strangest; labels (here: every split shipment clean) change nothing.
    arms = ["SPLIT_SHIPMENT", "MISCLASSIFIED", "ROUTE", "RELABEL", "UNDERVALUED", "NONE"]
    order = _order(660).with_columns(
        pl.Series("__mech", ["UNDERVALUED"] * 60 + [arms[i % 6] for i in range(600)])
    )
    config = ModelConfig(exploration_share=0.5)
    labels = pl.DataFrame({"__mech": ["SPLIT_SHIPMENT"] * 500, "fraud": [0] * 500})
    listed = POLICIES["scheme-explore"].select(order, 120, labels, config)
    picks = listed.filter(pl.col("selection") == "exploration").join(
        order.select("declaration_id", "__mech"), on="declaration_id"
    )
    assert picks.height == 60
    assert picks.group_by("__mech").len().sort("__mech")["len"].to_list() == [10] * 6
    rest = order.slice(60)
    for arm in arms[:-1]:
        first = rest.filter(pl.col("__mech") == arm).head(10)["declaration_id"].sort()
        assert picks.filter(pl.col("__mech") == arm)["declaration_id"].sort().equals(first)
    strange = rest.filter(pl.col("__mech") == "NONE").sort("novelty", descending=True).head(10)
    none = picks.filter(pl.col("__mech") == "NONE")["declaration_id"].sort()
    assert none.equals(strange["declaration_id"].sort())
    assert POLICIES["scheme-explore"].select(order, 120, NO_LABELS, config).equals(listed)


def test_a_scheme_with_few_rows_leaves_its_share_to_the_others():
    order = _order(300).with_columns(
        pl.Series("__mech", ["SPLIT_SHIPMENT" if i == 200 else "NONE" for i in range(300)])
    )
    listed = POLICIES["scheme-explore"].select(
        order, 100, NO_LABELS, ModelConfig(exploration_share=0.2)
    )
    explored = listed.filter(pl.col("selection") == "exploration")["declaration_id"].to_list()
    assert len(explored) == 20 and "D200" in explored


def _record(frauds: int, expected: float, months: int = 3) -> pl.DataFrame:
    """An exploration record of ``months`` equal months adding up to the figures."""
    return pl.DataFrame(
        {
            "month": [date(2025, m + 1, 1) for m in range(months)],
            "inspected": [20] * months,
            "frauds": [frauds // months + (m < frauds % months) for m in range(months)],
            "expected": [expected / months] * months,
        }
    )


def test_the_adaptive_share_follows_the_surprise_of_exploration():
    config = ModelConfig(exploration_share=0.1)
    assert adaptive_share(None, config) == 0.1  # nothing explored yet: the whole share
    assert adaptive_share(_record(0, 0.0).clear(), config) == 0.1
    # found what the model expected: a fifth of the share, never nothing
    assert adaptive_share(_record(9, 9.0), config) == pytest.approx(0.02)
    assert adaptive_share(_record(2, 9.0), config) == pytest.approx(0.02)
    # found twice (and more) what it expected, (9 + 1) / (4 + 1): the whole share
    assert adaptive_share(_record(9, 4.0), config) == pytest.approx(0.1)
    assert adaptive_share(_record(30, 1.0), config) == pytest.approx(0.1)
    # half way, (14 + 1) / (9 + 1) = 1.5: 0.02 + 0.5 * 0.08
    assert adaptive_share(_record(14, 9.0), config) == pytest.approx(0.06)
    # only the last three months count: an old surprise is forgotten
    old = pl.concat([_record(30, 1.0, 1).with_columns(pl.lit(date(2024, 1, 1)).alias("month")),
                     _record(9, 9.0)])  # fmt: skip
    assert adaptive_share(old, config) == pytest.approx(0.02)


def test_scheme_adapt_lists_scheme_explore_picks_at_the_share_it_reads():
    order = _order(1_000).with_columns(
        pl.Series("__mech", ["ROUTE" if i % 4 == 0 else "NONE" for i in range(1_000)])
    )
    config = ModelConfig(exploration_share=0.1)
    adapt = POLICIES["scheme-adapt"]
    full = adapt.select(order, 100, None, config)
    assert full.equals(POLICIES["scheme-explore"].select(order, 100, NO_LABELS, config))
    calm = adapt.select(order, 100, _record(9, 9.0), config)
    assert (calm["selection"] == "exploration").sum() == 2
    assert calm.filter(pl.col("selection") == "model")["declaration_id"].to_list() == [
        f"D{i}" for i in range(98)
    ]


def test_a_calm_record_still_explores_a_short_list_and_every_scheme_in_turn():
    """At a fifth of the share a list of 20 still gets one pick, and the arm that
    pick goes to moves from batch to batch: every scheme, and the rows showing none,
    get their turn."""
    arms = ["SPLIT_SHIPMENT", "MISCLASSIFIED", "ROUTE", "RELABEL", "UNDERVALUED", "NONE"]
    config, calm = ModelConfig(exploration_share=0.1), _record(9, 9.0)
    seen = set()
    for batch in range(40):
        order = _order(300, seed=batch).with_columns(
            pl.Series("__mech", [arms[i % 6] for i in range(300)]),
            ((pl.col("__h") + batch * 7) * 13 % 100_003).alias("__h"),
        )
        listed = POLICIES["scheme-adapt"].select(order, 20, calm, config)
        picks = listed.filter(pl.col("selection") == "exploration")
        assert picks.height == 1 and listed.height == 20
        seen.add(order.filter(pl.col("declaration_id") == picks["declaration_id"][0])["__mech"][0])
    assert seen == set(arms)
    # A list too short for the whole share to give a pick gets none: never more than it.
    listed = POLICIES["scheme-adapt"].select(order, 4, calm, config)
    assert listed.height == 4 and (listed["selection"] == "model").all()


def test_the_window_is_three_calendar_months_and_a_pick_without_a_score_is_left_out(tmp_path):
    from detector.app.labels import exploration_record

    # 2025-02 found what was expected; 2025-06 (three months after, a gap between)
    # alone is read: 8 found where 1 was expected, the whole share.
    record = pl.DataFrame(
        {
            "month": [date(2025, 2, 1), date(2025, 6, 1)],
            "inspected": [50, 10],
            "frauds": [10, 8],
            "expected": [40.0, 1.0],
        }
    )
    assert adaptive_share(record, ModelConfig(exploration_share=0.1)) == pytest.approx(0.1)
    outcomes = pl.DataFrame(
        {
            "declaration_id": ["A", "B"],
            "inspected": [True, True],
            "fraud": [1, 1],
            "fraud_type": [None, None],
            "revenue_recovered": [0.0, 0.0],
            "note": [None, None],
            "inspected_on": [None, None],
        },
        schema=OUTCOME_SCHEMA,
    )
    flagged = pl.DataFrame(
        {
            "declaration_id": ["A", "B"],
            "selection": ["exploration", "exploration"],
            "declaration_date": [date(2025, 6, 3)] * 2,
            "risk_score": [0.25, None],
        }
    )
    got = exploration_record(outcomes, flagged)
    assert got.select("inspected", "frauds", "expected").rows() == [(1, 1, 0.25)]
    # A pick with neither a declaration date nor an inspection date belongs to no month.
    undated = flagged.with_columns(pl.lit(None, pl.Date).alias("declaration_date"))
    assert exploration_record(outcomes, undated).height == 0
    nulls = record.with_columns(pl.lit(None, pl.Date).alias("month"))
    assert adaptive_share(nulls, ModelConfig(exploration_share=0.1)) == pytest.approx(0.1)


def test_a_store_and_a_replay_keep_one_exploration_record(tmp_path):
    from detector.app.labels import exploration_record

    day = date(2025, 5, 3)
    flagged = pl.DataFrame(
        {
            "declaration_id": ["A", "B", "C", "D", "E"],
            "declaration_date": [day] * 4 + [date(2025, 6, 2)],
            "selection": ["exploration", "exploration", "exploration", "model", "exploration"],
            "risk_score": [0.1, 0.2, 0.3, 0.9, 0.5],
            "rank": [4, 5, 6, 1, 2],
        }
    )
    store = LabelStore(tmp_path / "store")
    store.record_flagged(flagged)
    pl.DataFrame(
        {
            "declaration_id": ["A", "B", "C", "D", "E"],
            "inspected": ["true"] * 5,
            "fraud": ["1", "0", "1", "1", "0"],
        }
    ).write_csv(tmp_path / "outcomes.csv")
    store.add_outcomes(tmp_path / "outcomes.csv")
    record = store.exploration_record()
    assert record["month"].to_list() == [date(2025, 5, 1), date(2025, 6, 1)]
    assert record["inspected"].to_list() == [3, 1]
    assert record["frauds"].to_list() == [2, 0]
    assert record["expected"].to_list() == pytest.approx([0.6, 0.5])
    assert exploration_record(store.outcomes(), store.flagged()).equals(record)


@pytest.mark.slow
def test_scheme_adapt_reads_only_what_its_own_exploration_found(small_year, monkeypatch, tmp_path):
    from dataclasses import replace

    from detector.app.labels import exploration_record
    from detector.app.simulate import _as_store

    read = []
    adapt = POLICIES["scheme-adapt"]

    def rule(order, k, revealed, config):
        read.append(revealed)
        return adapt.rule(order, k, revealed, config)

    monkeypatch.setitem(POLICIES, "scheme-adapt", replace(adapt, rule=rule))
    options = SimulationOptions.parse(
        "5%", policies=["scheme-explore", "scheme-adapt"], start="2025-11"
    )
    sim = simulate(small_year, options, config=FAST)
    picks = sim.picks["scheme-adapt"]
    other = sim.picks["scheme-explore"].filter(pl.col("declaration_date") < date(2025, 12, 1))
    assert len(read) == 2 and read[0] is None  # November: nothing explored yet
    november = picks.filter(pl.col("declaration_date") < date(2025, 12, 1))
    assert read[1].equals(exploration_record(*_as_store(november)))
    explored = november.filter(pl.col("selection") == "exploration")
    assert read[1]["inspected"].to_list() == [explored.height]
    assert read[1]["frauds"].to_list() == [int(explored["__y"].sum())]
    assert read[1]["expected"].to_list() == pytest.approx([explored["risk_score"].sum()])
    assert not read[1].equals(exploration_record(*_as_store(other)))  # not the other's
    december = picks.filter(pl.col("declaration_date") >= date(2025, 12, 1))
    share = max(adaptive_share(read[1], FAST), 1 / december.height)
    assert (december["selection"] == "exploration").sum() == round(december.height * share)

    # The same picks in a label store, as score --store reads them: one exploration
    # pick's outcome never reported, and the outcome of a row never flagged.
    store = LabelStore(tmp_path / "store")
    store.record_flagged(november)
    unreported = explored["declaration_id"][0]
    reported = november.filter(pl.col("declaration_id") != unreported)
    outcomes = reported.select(
        "declaration_id",
        pl.lit("true").alias("inspected"),
        pl.col("__y").cast(pl.String).alias("fraud"),
    )
    extra = pl.DataFrame({"declaration_id": ["unknown"], "inspected": ["true"], "fraud": ["1"]})
    pl.concat([outcomes, extra]).write_csv(tmp_path / "outcomes.csv")
    store.add_outcomes(tmp_path / "outcomes.csv")
    assert store.exploration_record().equals(exploration_record(*_as_store(reported)))
    assert store.exploration_record()["inspected"].to_list() == [explored.height - 1]


def test_a_capacity_larger_than_the_month_lists_every_row():
    for policy in POLICIES.values():
        listed = policy.select(_order(10), 25, NO_LABELS, ModelConfig())
        assert sorted(listed["declaration_id"].to_list()) == sorted(f"D{i}" for i in range(10))


# ---------------------------------------------------------------- the replay


def test_each_policy_learns_exactly_the_labels_it_selected(small_run, small_year):
    sim, tables = small_run
    assert set(tables) == {(n, m) for n in POLICY_NAMES for m in sim.months}
    first = small_year.filter(pl.col("declaration_date") < START)
    first_labelled = set(first.filter(pl.col("inspected"))["declaration_id"].to_list())
    truth = dict(zip(small_year["declaration_id"], small_year["true_fraud"], strict=True))
    for (name, month), table in tables.items():
        assert not [c for c in table.columns if c.startswith("true_")]
        # Every declaration before the month feeds the features, labelled or not.
        assert table.height == small_year.filter(pl.col("declaration_date") < month).height
        labelled = table.filter(pl.col("inspected"))
        picks = sim.picks[name].filter(pl.col("declaration_date") < month)
        assert set(labelled["declaration_id"]) == first_labelled | set(picks["declaration_id"])
        replayed = labelled.filter(pl.col("declaration_date") >= START)
        assert sorted(replayed["declaration_id"]) == sorted(picks["declaration_id"])
        assert replayed["fraud"].null_count() == 0
        assert all(truth[i] == f for i, f in replayed.select("declaration_id", "fraud").rows())
        unlabelled = table.filter(~pl.col("inspected"))
        assert unlabelled["fraud"].null_count() == unlabelled.height


def test_the_policies_learn_from_different_labels(small_run):
    sim, tables = small_run
    december = [
        set(tables[(n, sim.months[-1])].filter(pl.col("inspected"))["declaration_id"])
        for n in POLICY_NAMES
    ]
    assert december[0] != december[1]


def test_each_month_lists_its_capacity_and_counts_what_it_found(small_run, small_year):
    sim, _ = small_run
    month_rows = small_year.filter(pl.col("declaration_date") >= START).group_by(
        pl.col("declaration_date").dt.truncate("1mo").alias("m")
    )
    sizes = dict(month_rows.len().rows())
    for name in POLICY_NAMES:
        picks = sim.picks[name]
        for month in sim.months:
            got = picks.filter(pl.col("__month") == month)
            assert got.height == int(np.ceil(sizes[month] * 0.05))
            m = sim.measure(name, [month])
            assert m["frauds"] == int(got["__y"].sum())
            assert m["precision"] == pytest.approx(m["frauds"] / got.height, abs=1e-6)
        total = sim.measure(name)
        assert total["frauds"] == sum(sim.measure(name, [m])["frauds"] for m in sim.months)
        kinds = total["recall_by_type"]
        assert kinds and all(0 <= v <= 1 for v in kinds.values())


def test_two_runs_give_the_same_json(small_run, small_year):
    sim, _ = small_run
    again = _run(small_year)
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(sim.to_json(), sort_keys=True)


def test_the_json_has_the_issue_shape(small_run):
    doc = small_run[0].to_json()
    assert set(doc) == {"policies", "default"} and doc["default"] == DEFAULT_POLICY
    keys = {"frauds", "precision", "revenue", "recall_by_type"}
    for name in POLICY_NAMES:
        entry = doc["policies"][name]
        assert set(entry) == {"total", "months"}
        assert set(entry["total"]) == keys
        assert [m["month"] for m in entry["months"]] == ["2025-11", "2025-12"]
        assert all(set(m) == keys | {"month"} for m in entry["months"])
        assert entry["total"]["frauds"] == sum(m["frauds"] for m in entry["months"])


def test_the_replay_hit_rates_are_what_monitor_reports(small_run, tmp_path):
    sim, _ = small_run
    picks = sim.picks[DEFAULT_POLICY]
    store = LabelStore(tmp_path / "store")
    store.record_flagged(picks.with_columns(pl.lit(0.5).alias("risk_score")))
    outcomes = picks.select(
        "declaration_id",
        pl.lit("true").alias("inspected"),
        pl.col("__y").alias("fraud"),
        pl.when(pl.col("__y") == 1).then(pl.col("__type")).alias("fraud_type"),
        pl.when(pl.col("__y") == 1)
        .then(pl.col("__revenue"))
        .otherwise(0.0)
        .alias("revenue_recovered"),
    )
    outcomes.write_csv(tmp_path / "outcomes.csv")
    store.add_outcomes(tmp_path / "outcomes.csv")
    monitored = store.hit_rates()
    simulated = sim.hit_rates(DEFAULT_POLICY)
    assert monitored.height == 4  # two months, model and exploration
    cols = ["month", "selection", "inspected", "frauds", "hit_rate"]
    assert simulated.select(cols).equals(monitored.select(cols))


# ---------------------------------------------------------------- the command


runner = CliRunner()


@pytest.fixture(scope="module")
def year_file(small_year, tmp_path_factory):
    path = tmp_path_factory.mktemp("simulate") / "year.parquet"
    small_year.write_parquet(path)
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--capacity", "150%"], "--capacity '150%'"),
        (["--capacity", "5%", "--policy", "greedy"], "not a selection policy"),
        (["--capacity", "5%", "--retrain", "weekly"], "not a schedule"),
        (["--capacity", "5%", "--start", "2031-01"], "no labelled stretch"),
        (["--capacity", "5%", "--json", "out.txt"], "use .json"),
        (["--capacity", "5%", "--report", "out.pdf"], "use .html"),
    ],
)
def test_bad_options_exit_2_with_one_sentence(year_file, args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["simulate", str(year_file), *args])
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_an_output_may_not_replace_the_input(year_file):
    result = runner.invoke(
        app, ["simulate", str(year_file), "--capacity", "5%", "--json", str(year_file)]
    )
    assert result.exit_code == 2 and "would overwrite the input" in result.output


def test_a_file_without_labels_exits_2(small_year, tmp_path):
    path = tmp_path / "unlabelled.csv"
    small_year.drop("inspected", "fraud", "fraud_type", "revenue_recovered").drop(
        [c for c in small_year.columns if c.startswith("true_")]
    ).write_csv(path)
    result = runner.invoke(app, ["simulate", str(path), "--capacity", "5%"])
    assert result.exit_code == 2 and "has no labels" in result.output


def test_a_file_with_unknown_outcomes_in_the_replay_exits_2(small_year, tmp_path):
    path = tmp_path / "selective.parquet"
    small_year.drop([c for c in small_year.columns if c.startswith("true_")]).write_parquet(path)
    result = runner.invoke(app, ["simulate", str(path), "--capacity", "5%"])
    assert result.exit_code == 2 and "without an outcome" in result.output


@pytest.mark.slow
def test_the_command_writes_the_json_and_the_report(year_file, tmp_path):
    doc, page = tmp_path / "replay.json", tmp_path / "replay.html"
    args = ["simulate", str(year_file), "--capacity", "2%", "--start", "2025-12"]
    args += ["--policy", "exploit", "--json", str(doc), "--report", str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    n = pl.read_parquet(year_file).height
    assert f"read {n:,} rows = {n:,} replayed + 0 rejected" in result.output
    data = json.loads(doc.read_text())
    assert list(data["policies"]) == ["exploit"]
    december = data["policies"]["exploit"]["months"]
    assert [m["month"] for m in december] == ["2025-12"]
    assert data["policies"]["exploit"]["total"]["frauds"] == december[0]["frauds"] > 0
    html = page.read_text()
    assert "frauds found, cumulative (declarations)" in html
    assert "revenue recovered, cumulative (USD)" in html
    assert "exploration hit rate" in html and "<script src" not in html


@pytest.mark.slow
def test_a_month_without_declarations_has_no_precision(small_year, tmp_path):
    gap = small_year.filter(pl.col("declaration_date").dt.month() != 11)
    gap.write_parquet(tmp_path / "gap.parquet")
    doc = tmp_path / "replay.json"
    args = ["simulate", str(tmp_path / "gap.parquet"), "--capacity", "2%", "--start", "2025-11"]
    result = runner.invoke(app, [*args, "--policy", "exploit", "--json", str(doc)])
    assert result.exit_code == 0, result.output
    months = {m["month"]: m for m in json.loads(doc.read_text())["policies"]["exploit"]["months"]}
    assert months["2025-11"]["frauds"] == 0 and months["2025-11"]["precision"] is None
    assert months["2025-12"]["precision"] > 0
