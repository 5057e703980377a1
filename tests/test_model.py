import copy
import hashlib
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from detector import DetectorError
from detector.app.cli import app
from detector.app.pipeline import measure, score
from detector.io.persist import load_model
from detector.models import (
    FraudModel,
    ModelConfig,
    calibration_table,
    capacity_metrics,
    drift_report,
    explain_rows,
)
from detector.models._model import DUTY_AT_STAKE, _records_revenue, sample_labelled
from detector.models._predict import Predictor, predict_positive

# Every test here fits a model, or reads one that a fixture fitted.
pytestmark = pytest.mark.slow

TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]
runner = CliRunner()


@pytest.fixture(scope="module")
def fitted(year):
    history, _ = year
    return FraudModel().fit(history.drop(TRUTH))


def test_capacity_metrics_by_hand():
    m = capacity_metrics(
        [0.9, 0.8, 0.7, 0.1],
        [1, 0, 1, 0],
        revenue=[10, 0, 30, 0],
        fraud_type=["a", None, "b", None],
        levels=(50.0, 100.0),
    )
    assert m["at"]["50%"] == {
        "inspected": 2,
        "precision": 0.5,
        "recall": 0.5,
        "revenue": 0.25,
        "recall_by_scheme": {"a": 1.0, "b": 0.0},
    }
    assert m["at"]["100%"]["recall"] == 1.0 and m["auc"] == 0.75


def test_ranks_the_synthetic_schemes(fitted, year):
    _, recent = year
    metrics = measure(fitted, recent)
    at5 = metrics["at"]["5%"]
    assert metrics["basis"] == "ground truth of every row"
    assert at5["precision"] > 0.9
    assert at5["recall_by_scheme"]["undervaluation"] > 0.7
    assert at5["revenue"] > 0.6
    assert metrics["auc"] > 0.97


def test_risk_score_is_calibrated_on_inspections(fitted, year):
    history, recent = year
    # Calibrated on the latest quarter of the labelled rows, scored by a classifier
    # fitted on the rows before it.
    labelled = history.filter(pl.col("inspected")).sort("declaration_date")
    slice_ = labelled.height - int(labelled.height * 0.75)
    assert fitted.counts_["calibration"] == slice_ > 1000
    assert fitted.calibration_period_ == (
        labelled["declaration_date"][-slice_],
        labelled["declaration_date"][-1],
    )
    inspected = recent.filter(pl.col("inspected"))
    scored = fitted.score(fitted.transform(inspected))
    table = calibration_table(scored["risk_score"], scored["fraud"], bins=5)
    big = table.filter(pl.col("n") >= 100)
    assert big.height >= 3
    assert (big["predicted"] - big["observed"]).abs().max() < 0.1
    assert scored["risk_score"].mean() == pytest.approx(scored["fraud"].mean(), abs=0.04)
    # The score is a probability and follows the ranking.
    order = scored.sort("rank_score")["risk_score"].to_numpy()
    assert (np.diff(order) >= -1e-12).all() and order.min() >= 0 and order.max() <= 1


def test_duty_at_stake_orders_the_likely_frauds_where_labels_record_revenue(fitted, year):
    _, recent = year
    # The synthetic labels record recovered revenue, so the stake weighs in the ranking.
    assert fitted.revenue_weight_ == ModelConfig().revenue_weight > 0
    table = fitted.transform(recent)
    share = fitted.stake_share(table)
    duty = table.select(DUTY_AT_STAKE).to_series().to_numpy()
    # ...and so does the duty of the importer's usual code the goods may really be.
    usual = fitted.usual_codes(table)["usual_revenue"].fill_null(0.0).to_numpy()
    nothing = np.maximum(duty, usual) == 0
    assert nothing.sum() > 1000 and (share[nothing] == 0).all() and (share[~nothing] > 0).all()
    assert ((duty == 0) & (usual > 0) & (share > 0)).sum() > 10
    unweighted = copy.copy(fitted)
    unweighted.revenue_weight_ = 0.0
    weighted_at5 = measure(fitted, recent)["at"]["5%"]
    plain_at5 = measure(unweighted, recent)["at"]["5%"]
    assert weighted_at5["revenue"] >= plain_at5["revenue"] + 0.02
    # Revenue first costs a little precision: on the backtest's 9 synthetic folds p@5%
    # was 0.979 at this weight against 0.993 without it (bench/out/backtest-revenue-weight.txt).
    assert weighted_at5["precision"] >= plain_at5["precision"] - 0.015


def test_no_listed_row_is_named_on_records_alone_at_a_low_price(fitted, year):
    from detector.models._reasons import LOW_QUARTER, RECORDS, TENTH_BELOW, mechanism_facts

    _, recent = year
    table = fitted.score(fitted.transform(recent.drop(TRUTH)))
    listed = table.sort("rank_score", descending=True).head(table.height // 20)
    codes = explain_rows(fitted, listed)["reason_codes"]
    low = (
        (listed["price_percentile"] <= LOW_QUARTER) & (listed["value_ratio"] < TENTH_BELOW)
    ).fill_null(False)
    # Rows whose price is not undervalued by the facts (not far below the median, no
    # importer's habit): UNDERVALUED is said of them only by this rule.
    not_by_facts = pl.Series(~mechanism_facts(listed)["UNDERVALUED"])
    without_price = codes.list.set_difference(pl.lit(["UNDERVALUED"]))
    on_records = without_price.list.set_difference(pl.lit(list(RECORDS))).list.len() == 0
    by_rule = on_records & low & not_by_facts
    # Rows the model lists for a record alone, at a low price, exist on this year...
    assert by_rule.sum() >= 1
    # ...and each of them is also named for its price.
    assert codes.filter(by_rule).list.contains("UNDERVALUED").all()


def test_the_stake_weighs_only_where_inspections_recorded_revenue():
    found = pl.DataFrame({"fraud": [1, 0, 1], "revenue_recovered": [120.0, None, 0.0]})
    assert _records_revenue(found)
    assert not _records_revenue(found.drop("revenue_recovered"))
    assert not _records_revenue(found.with_columns(pl.lit(None).alias("revenue_recovered")))
    assert not _records_revenue(found.filter(pl.col("fraud") == 0))


def test_a_scheme_the_labels_never_showed_still_ranks_high(year):
    history, recent = year
    hidden = pl.col("true_fraud_type") == "transshipment"
    # Officers never inspected a transshipment: the labels do not contain one.
    blind = history.with_columns(
        pl.when(hidden).then(False).otherwise(pl.col("inspected")).alias("inspected"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud")).alias("fraud"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud_type")).alias("fraud_type"),
        pl.when(hidden)
        .then(None)
        .otherwise(pl.col("revenue_recovered"))
        .alias("revenue_recovered"),
    ).drop(TRUTH)
    assert blind.filter(pl.col("fraud_type") == "transshipment").height == 0
    recall = {}
    for weight in (0.0, ModelConfig().novelty_weight):
        model = FraudModel(ModelConfig(novelty_weight=weight)).fit(blind)
        at10 = measure(model, recent)["at"]["10%"]
        recall[weight] = at10["recall_by_scheme"]["transshipment"]
    # The known schemes fill the first 5 % with near-certain frauds; right after them
    # come the transshipments that only the unsupervised detectors can see.
    assert recall[ModelConfig().novelty_weight] >= 0.65
    assert recall[ModelConfig().novelty_weight] >= recall[0.0] + 0.05
    # Their reasons say so: NOVEL where the detectors add more than the classifier's
    # probability, never on a row the classifier already finds likely fraud.
    table = model.score(model.transform(recent)).sort("rank_score", descending=True)
    top = table.head(recent.height // 10)
    reasons = explain_rows(model, top)["reason_codes"].list.contains("NOVEL")
    matrix = model.classifier_.named_steps["encode"].transform(top)
    p = predict_positive(model.classifier_.steps[-1][1], matrix)
    shipped = (top["true_fraud_type"] == "transshipment").fill_null(False).to_numpy()
    assert reasons.filter(shipped).mean() >= 0.7  # 0.80 measured
    assert not reasons.filter(p >= 0.5).any()


def test_scored_list_reasons_and_exploration(model_file):
    path, _, score_file = model_file
    result = score([score_file], path, top="400")
    df = result.scored
    assert df.columns[:12] == [
        "rank",
        "declaration_id",
        "risk_score",
        "revenue_at_stake",
        "unit_value_per_ton",
        "reference_value_per_ton",
        "value_ratio",
        "peer_group",
        "route",
        "reason_codes",
        "reasons",
        "selection",
    ]
    assert df.height == 400 and sorted(df["rank"].to_list()) == list(range(1, 401))
    # Case by case: cases in the order of their best rank, declarations by rank inside.
    assert df.columns[12] == "case_id" and df["rank"][0] == 1
    best = df.group_by("case_id", maintain_order=True).agg(pl.col("rank").min(), pl.len())
    assert best["rank"].is_sorted() and best["len"].max() > 1
    assert all(g["rank"].is_sorted() for _, g in df.group_by("case_id"))
    assert (df["selection"] == "exploration").sum() == 40
    # The default policy spreads its exploration over the schemes the rows show: the
    # picks' first reason after EXPLORATION names several schemes, not one.
    explored = df.filter(pl.col("selection") == "exploration")["reason_codes"].list.get(1)
    schemes = {"UNDERVALUED", "MISCLASSIFIED", "ROUTE", "RELABEL", "SPLIT_SHIPMENT"}
    assert len(set(explored.to_list()) & schemes) >= 3
    model_part = df.filter(pl.col("selection") == "model")
    assert model_part.sort("rank")["risk_score"].is_sorted(descending=True)
    assert df["reasons"].null_count() == 0 and (df["reasons"].list.len() > 0).all()
    # A sentence per code, in the same order, the code first; the declaration's own
    # evidence before its entities' record; a random pick says so first.
    from detector.models import EVIDENCE_FIRST

    for codes, said, how in zip(df["reason_codes"], df["reasons"], df["selection"], strict=True):
        codes = codes.to_list()
        assert [s.split(":")[0] for s in said] == codes
        assert (codes[0] == "EXPLORATION") == (how == "exploration")
        rest = codes[1:] if how == "exploration" else codes
        # (a misclassification with more duty at stake may lead an undervaluation)
        rest = [c for c in rest if c != "MISCLASSIFIED"]
        assert rest == sorted(rest, key=EVIDENCE_FIRST.index)
    df = df.with_columns(pl.col("reasons").list.join(" | "))
    under = df.filter(
        (pl.col("true_fraud_type") == "undervaluation") & (pl.col("selection") == "model")
    )
    assert under.height > 20
    named = under["reasons"].str.contains(r"UNDERVALUED: [\d,]+ USD/t is \d+% below the median")
    assert named.mean() > 0.8
    assert (under["reasons"].str.starts_with("UNDERVALUED: ").mean()) > 0.8  # and first
    # A split shipment is named only where parcels of the pair that day show one (the
    # parcels, worth little duty each, come after the first 400).
    split = (
        score([score_file], path, top="10%")
        .scored.with_columns(pl.col("reasons").list.join(" | "))
        .select(
            pl.col("reasons").str.extract_groups(
                r"SPLIT_SHIPMENT: (?<n>\d+) declarations .*?, (?<under>\d+) just under"
            )
        )
        .unnest("reasons")
        .drop_nulls()
        .cast(pl.Int64)
    )
    assert split.height > 5
    assert (split["n"] >= 2).all() and (split["under"] >= 1).all()
    # Same input, same picks.
    again = score([score_file], path, top="400").scored
    assert again["declaration_id"].to_list() == df["declaration_id"].to_list()
    assert result.summary().startswith(f"read {result.n_read:,} rows = ")


def test_top_percent_and_bad_top(model_file):
    path, _, score_file = model_file
    result = score([score_file], path, top="1%")
    n = result.n_read - result.rejects.height
    assert result.scored.height == int(np.ceil(n / 100))
    with pytest.raises(DetectorError, match="--top 'lots'"):
        score([score_file], path, top="lots")


def test_a_model_saved_before_a_column_was_added_still_refuses_an_input_so_named(fitted):
    old = copy.copy(fitted)
    old.added_columns_ = tuple(c for c in fitted.added_columns_ if "usual" not in c)
    assert "usual_gap" in fitted.added_columns_ and "usual_gap" not in old.added_columns_
    columns = ["usual_gap", "usual_hs_code", "hs_code", "peer_n"]
    assert old.clashing_columns(columns) == ["peer_n", "usual_gap", "usual_hs_code"]
    assert fitted.clashing_columns(columns) == ["peer_n", "usual_gap", "usual_hs_code"]


def test_every_numeric_feature_belongs_to_exactly_one_reason_family():
    from detector.features import NUMERIC_FEATURES
    from detector.models import FAMILIES

    owners = [name for names in FAMILIES.values() for name in names]
    assert sorted(owners) == sorted(set(owners)), "a feature sits in two families"
    assert set(owners) == set(NUMERIC_FEATURES)


def test_drift_is_quiet_on_familiar_data_and_loud_on_a_changed_batch(fitted, year):
    history, recent = year
    familiar = history.filter(pl.col("declaration_date") >= date(2025, 7, 1)).drop(TRUTH)
    calm = drift_report(fitted.drift_, fitted.transform(familiar))
    assert calm.warnings == [] and calm.age_days == 0
    assert max(calm.psi.values()) < 0.1 and calm.unseen["HS code"] == 0.0
    # The next quarter: seasonal goods (fruit in chapter 08) leave the prices seen so far.
    autumn = drift_report(fitted.drift_, fitted.transform(recent))
    assert autumn.age_days == (recent["declaration_date"].max() - date(2025, 9, 30)).days
    assert autumn.psi["08"] > 0.25 and min(autumn.psi.values()) < 0.1

    # Prices of chapter 08 tripled, a year later, from importers never seen.
    chapter = pl.col("hs_code").str.starts_with("08")
    changed = recent.with_columns(
        pl.when(chapter).then(pl.col("customs_value") * 3).otherwise(pl.col("customs_value")),
        pl.col("declaration_date") + pl.duration(days=365),
        ("NEW-" + pl.col("importer_id")).alias("importer_id"),
    )
    loud = drift_report(fitted.drift_, fitted.transform(changed))
    assert loud.psi["08"] > 1.0 and loud.age_days > 365
    assert loud.unseen["importer"] == 1.0
    text = " | ".join(loud.warnings)
    assert "days before the newest declaration" in text
    assert "100% of the declarations have an importer" in text
    assert "HS chapter(s) 08 (PSI" in text


def test_same_input_same_model_same_bytes(model_file, tmp_path):
    path, _, score_file = model_file
    outputs = []
    for run in ("a", "b"):
        out, rejects = tmp_path / f"{run}.csv", tmp_path / f"{run}-rejects.csv"
        result = runner.invoke(
            app,
            ["score", str(score_file), "--model", str(path), "--out", str(out), "--top", "5%"]
            + ["--rejects", str(rejects)],
        )
        assert result.exit_code == 0, result.output
        outputs.append((out.read_bytes(), rejects.read_bytes()))
    assert outputs[0] == outputs[1]
    scored = pl.read_csv(tmp_path / "a.csv")
    assert (scored["selection"] == "exploration").sum() > 0  # the seeded picks are included


def test_labelled_rows_over_the_cap_are_sampled_by_month_and_outcome(fitted, year):
    history, recent = year
    labelled = history.filter(pl.col("inspected") & pl.col("fraud").is_not_null()).sort(
        "declaration_date"
    )
    n_fraud = int(labelled["fraud"].sum())
    n_clean = labelled.height - n_fraud
    cap = labelled.height // 3
    assert n_fraud < cap / 2  # so every fraud is kept
    sample, weight, record = sample_labelled(labelled, cap, seed=0)
    assert abs(sample.height - cap) <= 12  # one row of rounding per month and outcome
    assert int(sample["fraud"].sum()) == n_fraud
    rate = (cap - n_fraud) / n_clean
    assert record == {
        "cap": cap,
        "labelled": labelled.height,
        "kept": sample.height,
        "strata": "month x outcome",
        "fraud_rate": 1.0,
        "clean_rate": round(rate, 6),
    }
    month = pl.col("declaration_date").dt.month()
    before = labelled.filter(pl.col("fraud") == 0).group_by(month).len().sort("declaration_date")
    after = sample.filter(pl.col("fraud") == 0).group_by(month).len().sort("declaration_date")
    assert (after["len"] - (before["len"] * rate).round()).abs().max() == 0
    clean = (sample["fraud"] == 0).to_numpy()
    assert weight[clean].sum() == pytest.approx(n_clean, rel=0.01)
    assert (weight[~clean] == 1.0).all()
    assert sample["declaration_date"].is_sorted()
    assert sample_labelled(labelled, cap, seed=0)[0].equals(sample)  # seeded

    model = FraudModel(ModelConfig(max_labelled_rows=cap)).fit(history.drop(TRUTH))
    assert model.sampling_ == record and model.counts_["labelled"] == sample.height
    m = measure(model, recent)
    # A third of the labels (about 1,500 rows here) still ranks well, if below all of
    # them (0.90 against 0.96 at 5 % with the shipped settings).
    full = measure(fitted, recent)["at"]["5%"]["precision"]
    assert full - 0.08 < m["at"]["5%"]["precision"] <= full


def test_measuring_inspected_outcomes_scores_only_the_inspected_rows(fitted, year, monkeypatch):
    """With inspection outcomes, only the inspected rows are scored; every row still
    feeds the features, so the metrics are those of scoring every row."""
    _, recent = year
    labelled = recent.drop(TRUTH)
    scored_rows = []
    score_all = fitted.score

    def counting(table):
        scored_rows.append(table.height)
        return score_all(table)

    monkeypatch.setattr(fitted, "score", counting)
    m = measure(fitted, labelled)
    monkeypatch.undo()
    table = fitted.score(fitted.transform(labelled)).filter(pl.col("inspected"))
    expected = capacity_metrics(
        table["rank_score"].to_numpy(),
        table["fraud"].to_numpy(),
        revenue=table["revenue_recovered"].fill_null(0.0).to_numpy(),
        fraud_type=table["fraud_type"].to_list(),
        ids=table["declaration_id"].to_numpy(),
    )
    assert m["basis"] == "inspected declarations"
    assert m["at"]["5%"]["inspected"] == expected["at"]["5%"]["inspected"] > 0
    assert m["at"] == expected["at"] and m["auc"] == expected["auc"]
    assert scored_rows == [table.height] and table.height < labelled.height / 2


def test_binned_walk_gives_predict_proba_exactly(fitted, year):
    """The fast path reads the trees' bins; every probability equals predict_proba's."""
    from detector.models._predict import Predictor

    _, recent = year
    encoder = fitted.classifier_.named_steps["encode"]
    clf = fitted.classifier_.steps[-1][1]
    matrix = encoder.transform(fitted.transform(recent.drop(TRUTH)))
    rng = np.random.default_rng(0)
    rows = rng.choice(matrix.shape[0], 2_000, replace=False)
    odd = matrix[rows].copy()
    n_num = len(encoder.numeric)
    odd[:500, n_num:] = 246.0  # a category code the classifier never saw in training
    odd[500:1000, :n_num] = np.nan  # every number missing
    odd[1000:1500, :n_num] *= 1e6  # numbers far beyond the training range
    odd[1500:, n_num] = -3.0  # a negative code: missing to the classifier
    matrix = np.concatenate([matrix, odd])

    predictor = Predictor(clf)
    assert predictor.binned
    prepared = predictor.prepare(matrix)
    # One block of bins per binning (each model bins the rows it trained on).
    assert prepared.dtype == np.uint8 and prepared.shape[0] == matrix.shape[0]
    assert prepared.shape[1] % matrix.shape[1] == 0
    fast = predictor.proba(prepared)
    np.testing.assert_array_equal(fast, clf.predict_proba(matrix)[:, 1])
    # The classifier did tell the odd rows apart from the rows they were made of.
    assert np.abs(fast[-2_000:] - fast[rows]).max() > 0.01


def test_reasons_credit_each_split_along_the_paths_down_the_trees(fitted, year):
    """A row's credits add up to its raw score less the trees' expected output, the
    walk gives the score exactly, and the price family is credited where prices are low."""
    from detector.models._predict import Predictor

    _, recent = year
    table = fitted.transform(recent.drop(TRUTH).head(6_000))
    encoder = fitted.classifier_.named_steps["encode"]
    columns = list(encoder.numeric) + list(encoder.categorical)
    predictor = Predictor(fitted.classifier_.steps[-1][1])
    prepared = predictor.prepare(encoder.transform(table))
    raw, credits, expected = predictor.paths(prepared, np.arange(len(columns)), len(columns))
    assert raw.shape == (3, table.height) and credits.shape == (3, table.height, len(columns))
    np.testing.assert_allclose(expit(raw).mean(axis=0), predictor.proba(prepared), rtol=1e-12)
    np.testing.assert_allclose(raw - credits.sum(axis=2), expected[:, None] + 0 * raw, atol=1e-8)
    assert np.abs(credits).max() > 1.0
    price = credits[:, :, columns.index("log_value_ratio")].mean(axis=0)
    ratio = table["value_ratio"].to_numpy()
    low, usual = ratio < 0.5, (ratio > 0.9) & (ratio < 1.1)
    assert low.sum() > 50 and usual.sum() > 500
    # Measured: every low price is credited (median +0.24 in log-odds), no usual one
    # (median -0.21).
    assert (price[low] > 0).mean() > 0.95 and (price[usual] < 0).mean() > 0.95


def test_the_screen_is_the_first_models_first_trees(fitted, year):
    """The cheap first look of a capacity-sized run: the first trees of the first model,
    exactly as that model predicts after them."""
    from detector.models._predict import screen_positive

    _, recent = year
    table = fitted.transform(recent.drop(TRUTH).head(5_000))
    matrix = fitted.classifier_.named_steps["encode"].transform(table)
    clf = fitted.classifier_.steps[-1][1]
    first = clf.estimators_[0]
    trees = fitted.config.screen_trees
    assert 0 < trees < first.n_iter_
    staged = next(p for i, p in enumerate(first.staged_predict_proba(matrix)) if i == trees - 1)
    np.testing.assert_allclose(screen_positive(clf, matrix, trees), staged[:, 1], rtol=1e-12)
    screened = fitted.screen(table)
    assert "risk_score" not in screened.columns
    # Screened as scored, with the screen's probability in place of the classifier's.
    whole = fitted.score(table)
    assert np.corrcoef(screened["rank_score"], whole["rank_score"])[0, 1] > 0.9
    # A list of k rows draws on at least screen_factor x k candidates, and 20 % of rows.
    assert fitted.candidates(100, 100_000) == 20_000
    assert fitted.candidates(10_000, 100_000) == 40_000
    assert fitted.candidates(30_000, 100_000) is None
    # A model saved before the screen existed lacks the settings: it takes the defaults.
    before = copy.copy(fitted)
    before.config = copy.copy(fitted.config)
    for name in ("screen_trees", "screen_factor", "screen_share"):
        object.__delattr__(before.config, name)
    assert before.candidates(100, 100_000) == 20_000


def test_a_forest_is_predicted_by_its_own_predict_proba_and_explained_by_variants(year):
    from detector.models._predict import Predictor

    history, recent = year
    model = FraudModel(ModelConfig(estimator="forest", n_trees=20)).fit(history.drop(TRUTH))
    clf = model.classifier_.steps[-1][1]
    table = model.score(model.transform(recent.drop(TRUTH).head(3_000)))
    matrix = model.classifier_.named_steps["encode"].transform(table)
    predictor = Predictor(clf)
    assert not predictor.binned
    # The forest's trees add up in parallel threads: the last bit may differ.
    np.testing.assert_allclose(
        predictor.proba(predictor.prepare(matrix)), clf.predict_proba(matrix)[:, 1], rtol=1e-12
    )
    # No paths to follow: the reasons score variants of the rows instead. Nor a screen.
    assert model.candidates(100, 100_000) is None
    low = table.filter(pl.col("value_ratio") < 0.5)
    codes = explain_rows(model, low)["reason_codes"].to_list()
    assert low.height > 20 and all(codes)
    assert np.mean(["UNDERVALUED" in c for c in codes]) > 0.8


def test_an_average_of_models_is_predicted_exactly_and_explained(year):
    from detector.models._predict import Predictor
    from detector.models._reasons import explain_rows

    history, recent = year
    model = FraudModel(ModelConfig(n_models=2)).fit(history.drop(TRUTH))
    clf = model.classifier_.steps[-1][1]
    assert len(clf.estimators_) == 2
    table = model.score(model.transform(recent.drop(TRUTH)))
    matrix = model.classifier_.named_steps["encode"].transform(table)
    predictor = Predictor(clf)
    assert predictor.binned
    np.testing.assert_array_equal(
        predictor.proba(predictor.prepare(matrix)), clf.predict_proba(matrix)[:, 1]
    )
    # The two models stopped on different rows: they are not the same model twice.
    first, second = clf.estimators_
    assert not np.array_equal(first.predict_proba(matrix), second.predict_proba(matrix))
    top = table.sort("rank_score", descending=True).head(50)
    assert all(codes for codes in explain_rows(model, top)["reason_codes"].to_list())


@pytest.mark.parametrize("estimator", ["hgb", "forest"])
def test_classifiers_fitted_side_by_side_are_the_classifiers_fitted_alone(estimator):
    from detector.models import make_classifier
    from detector.models._pipeline import fit_classifiers

    rng = np.random.default_rng(3)
    n = 600
    rows = pl.DataFrame(
        {
            "price": rng.normal(size=n),
            "mass": rng.exponential(size=n),
            "origin": [o or None for o in rng.choice(["TH", "VN", "CN", ""], size=n)],
        }
    )
    y = (rows["price"].to_numpy() + rng.normal(scale=0.5, size=n) > 1.0).astype(int)
    weight = rng.uniform(0.5, 2.0, size=n)
    config = ModelConfig(estimator=estimator, max_iter=25, max_leaf_nodes=15, n_trees=20)
    numeric, categorical = ["price", "mass"], ["origin"]
    tasks = [(rows, y, None, 3), (rows.head(400), y[:400], weight[:400], 1)]

    together = fit_classifiers(config, numeric, categorical, tasks)

    assert len(together) == 2
    for pipe, (part, labels, w, n_models) in zip(together, tasks, strict=True):
        alone = make_classifier(
            ModelConfig(**{**config.to_dict(), "n_models": n_models}), numeric, categorical
        )
        alone.fit(part, labels, **({} if w is None else {"classify__sample_weight": w}))
        # A forest adds up its trees' votes on several threads, in no fixed order.
        rtol = 0.0 if estimator == "hgb" else 1e-12
        np.testing.assert_allclose(pipe.predict_proba(rows), alone.predict_proba(rows), rtol=rtol)
    if estimator == "hgb":
        # The three models of the vote are three different models, read as boosting.
        members = Predictor(together[0].named_steps["classify"])
        assert members.binned
        probs = [
            m.predict_proba(together[0].named_steps["encode"].transform(rows))
            for m in together[0].named_steps["classify"].estimators_
        ]
        assert not np.array_equal(probs[0], probs[1])


@pytest.mark.slow
def test_training_twice_gives_the_same_model_file(model_file, tmp_path):
    """Same input, configuration and installation: the same file, byte for byte, and so
    the same score on every row (the three boosting models are fitted side by side in
    other processes, and the features added up in parallel)."""
    _, train_file, score_file = model_file
    paths = [tmp_path / "a.joblib", tmp_path / "b.joblib"]
    for path in paths:
        result = runner.invoke(app, ["train", str(train_file), "--model", str(path)])
        assert result.exit_code == 0, result.output
    assert (
        hashlib.sha256(paths[0].read_bytes()).hexdigest()
        == hashlib.sha256(paths[1].read_bytes()).hexdigest()
    )
    recent = pl.read_parquet(score_file)
    scores = [load_model(p)[0] for p in paths]
    a, b = (m.score(m.transform(recent))["rank_score"].to_numpy() for m in scores)
    assert np.array_equal(a, b)
