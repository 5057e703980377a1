import json
from datetime import date

import polars as pl
import pytest
from typer.testing import CliRunner

from detector import DetectorError
from detector.app.backtest import Fold, backtest, fold_summary, rolling_folds
from detector.app.cli import app
from detector.app.pipeline import measure
from detector.io.persist import load_model
from detector.models import FraudModel

# Every test here fits a model, or reads one that a fixture fitted.
pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.mark.parametrize(
    ("first", "last", "folds", "months", "expected"),
    [
        (
            date(2020, 1, 1),
            date(2021, 3, 31),
            3,
            3,
            ["2020-07..2020-09", "2020-10..2020-12", "2021-01..2021-03"],
        ),
        # The newest month counts whole even when it has only its first days.
        (
            date(2025, 1, 15),
            date(2025, 12, 2),
            3,
            2,
            ["2025-07..2025-08", "2025-09..2025-10", "2025-11..2025-12"],
        ),
        (date(2025, 1, 1), date(2025, 3, 31), 1, 1, ["2025-03..2025-03"]),
    ],
)
def test_rolling_folds_end_with_the_data(first, last, folds, months, expected):
    got = rolling_folds(pl.Series([last, first]), folds=folds, months=months)
    assert [f.label for f in got] == expected
    assert all(a.end == b.cutoff for a, b in zip(got, got[1:], strict=False))


def test_rolling_folds_refuse_a_period_too_short_to_train_on():
    days = pl.Series([date(2025, 1, 1), date(2025, 6, 30)])
    with pytest.raises(DetectorError, match="too short for 3 folds of 2 months"):
        rolling_folds(days, folds=3, months=2)


def test_a_fold_splits_on_its_dates():
    rows = pl.DataFrame(
        {"declaration_date": [date(2025, 2, 28), date(2025, 3, 1), date(2025, 4, 1)]}
    )
    before, period = Fold(date(2025, 3, 1), date(2025, 4, 1)).split(rows)
    assert before["declaration_date"].to_list() == [date(2025, 2, 28)]
    assert period["declaration_date"].to_list() == [date(2025, 3, 1)]


def test_fold_summary_is_the_mean_and_sample_spread():
    folds = [{"at": {"5%": {"precision": p, "recall": 0.5}}, "auc": 0.8} for p in (0.9, 0.8, 0.7)]
    summary = fold_summary(folds)
    assert summary["p@5%"] == pytest.approx((0.8, 0.1))
    assert summary["r@5%"] == pytest.approx((0.5, 0.0))
    assert summary["auc"] == pytest.approx((0.8, 0.0))


@pytest.mark.slow
def test_backtest_fits_on_earlier_months_only_and_measures_the_period(trained_model, monkeypatch):
    """Each fold's model sees neither the period's rows nor any ground truth, and the
    fold's metrics are those of that model measured on the period."""
    path, _, score_file = trained_model
    recent = pl.read_parquet(score_file)  # months 10-12, with the ground truth
    config = load_model(path)[0].config
    seen = []
    fit = FraudModel.fit

    def spy(self, declarations):
        seen.append((declarations["declaration_date"].max(), declarations.columns))
        return fit(self, declarations)

    monkeypatch.setattr(FraudModel, "fit", spy)
    folds = rolling_folds(recent["declaration_date"], folds=1, months=1)
    (result,) = backtest(recent, config, folds)
    (last_seen, columns), *_ = seen
    assert last_seen < date(2025, 12, 1)
    assert not any(c.startswith("true_") for c in columns)

    history, period = folds[0].split(recent)
    expected = measure(
        fit(FraudModel(config), history.drop(c for c in recent.columns if c.startswith("true_"))),
        period,
    )
    assert result["fold"] == "2025-12..2025-12"
    assert result["rows"] == expected["rows"] == period.height
    assert result["at"] == expected["at"]
    assert result["trees"] > 0

    cli = runner.invoke(
        app,
        ["evaluate", str(score_file), "--model", str(path), "--backtest", "--folds", "1"]
        + ["--months", "1", "--json"],
    )
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.output)
    assert printed["folds"][0]["at"] == json.loads(json.dumps(expected["at"]))
    assert printed["mean"]["p@5%"] == pytest.approx(expected["at"]["5%"]["precision"])

    table = runner.invoke(
        app,
        ["evaluate", str(score_file), "--model", str(path), "--backtest", "--folds", "1"]
        + ["--months", "1"],
    )
    assert table.exit_code == 0, table.output
    assert "2025-12..2025-12" in table.output and "mean" in table.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--folds", "6"], "too short for 6 folds of 3 months"),
        (["--months", "10000"], "too short for 3 folds of 10000 months"),
    ],
)
def test_a_backtest_longer_than_the_data_is_exit_2(trained_model, options, message):
    path, _, score_file = trained_model
    result = runner.invoke(
        app, ["evaluate", str(score_file), "--model", str(path), "--backtest", *options]
    )
    assert result.exit_code == 2
    assert message in result.output


def test_a_fold_without_labels_before_it_names_the_fold(trained_model):
    path, _, score_file = trained_model
    recent = pl.read_parquet(score_file).with_columns(
        pl.when(pl.col("declaration_date") < date(2025, 12, 1))
        .then(False)
        .otherwise(pl.col("inspected"))
        .alias("inspected")
    )
    folds = rolling_folds(recent["declaration_date"], folds=1, months=1)
    with pytest.raises(DetectorError, match=r"Cannot fit the fold 2025-12..2025-12 .*50 inspected"):
        backtest(recent, load_model(path)[0].config, folds)
