import subprocess
import sys
import tempfile
from datetime import date

import polars as pl
import pytest
from conftest import GOOD_ROW, write_csv
from typer.testing import CliRunner

from detector.app.cli import app

runner = CliRunner()


def test_generate_writes_the_file(tmp_path):
    out = tmp_path / "year.parquet"
    result = runner.invoke(app, ["generate", "--rows", "2000", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2,000 declarations" in result.output
    df = pl.read_parquet(out)
    assert df.height == 2000 and df["declaration_date"].min().isoformat() == "2025-01-01"


def test_generate_start_and_days(tmp_path):
    out = tmp_path / "q.csv"
    args = ["generate", "--rows", "500", "--out", str(out), "--start", "2024-07-01", "--days", "30"]
    assert runner.invoke(app, args).exit_code == 0
    dates = pl.read_csv(out, try_parse_dates=True)["declaration_date"]
    assert str(dates.min()) >= "2024-07-01" and str(dates.max()) <= "2024-07-30"


def test_generate_bad_date_is_exit_2(tmp_path):
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "x.csv"), "--start", "soon"])
    assert result.exit_code == 2
    assert "--start 'soon' is not a date" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_validate_writes_rejects_and_reconciles(tmp_path):
    rows = [GOOD_ROW, {**GOOD_ROW, "declaration_id": "D2", "net_mass_kg": "-3"}]
    src = write_csv(tmp_path / "in.csv", rows)
    rejects = tmp_path / "rejects.csv"
    accepted = tmp_path / "ok.parquet"
    result = runner.invoke(
        app, ["validate", str(src), "--rejects", str(rejects), "--out", str(accepted)]
    )
    assert result.exit_code == 0, result.output
    assert "read 2 rows = 1 accepted + 1 rejected" in result.output
    assert "negative net_mass_kg" in result.output
    back = pl.read_csv(rejects, infer_schema=False)
    assert back["declaration_id"].to_list() == ["D2"]
    assert back["reject_reason"].to_list() == ["negative net_mass_kg '-3'"]
    assert pl.read_parquet(accepted)["declaration_id"].to_list() == ["D1"]


def test_missing_column_is_exit_2_with_one_sentence(tmp_path):
    src = write_csv(
        tmp_path / "in.csv", [{k: v for k, v in GOOD_ROW.items() if k != "importer_id"}]
    )
    result = runner.invoke(app, ["validate", str(src)])
    assert result.exit_code == 2
    assert "in.csv has no column 'importer_id'" in result.output
    assert "Traceback" not in result.output


def test_unknown_output_suffix_writes_nothing(tmp_path):
    result = runner.invoke(app, ["generate", "--rows", "100", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "use one of .csv, .parquet, .xlsx" in result.output
    assert list(tmp_path.iterdir()) == []


def test_python_dash_m_entry_point(tmp_path):
    src = tmp_path / "nope.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "detector", "validate", str(src)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: Input file {src} does not exist; check the path."


def test_version_is_printed():
    from detector import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"detector {__version__}"


def test_quiet_prints_nothing_but_warnings_and_errors(tmp_path):
    path = write_csv(tmp_path / "in.csv", [GOOD_ROW])
    loud = CliRunner().invoke(app, ["validate", str(path)])
    quiet = CliRunner().invoke(app, ["-q", "validate", str(path)])
    assert "read 1 rows" in loud.output and quiet.exit_code == 0 and quiet.output == ""
    missing = CliRunner().invoke(app, ["-q", "validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_quiet_still_prints_a_monitors_table(tmp_path):
    store = tmp_path / "store"
    outcomes = write_csv(tmp_path / "o.csv", [{"declaration_id": "D1", "fraud": 1}])
    assert runner.invoke(app, ["feedback", str(outcomes), "--store", str(store)]).exit_code == 0
    loud = runner.invoke(app, ["monitor", "--store", str(store)])
    quiet = runner.invoke(app, ["-q", "monitor", "--store", str(store)])
    assert quiet.exit_code == 0 and "hit rate" in quiet.output and "undated" in quiet.output
    # Only the line about the next list's exploration goes.
    assert "the next list's exploration" in loud.output
    assert "the next list's exploration" not in quiet.output


def test_quiet_still_prints_the_card_and_the_metrics_asked_for(trained_model):
    model, _, recent = trained_model
    first = pl.read_parquet(recent)["declaration_id"][0]
    card = runner.invoke(app, ["-q", "explain", first, "--model", str(model), "--input", recent])
    assert card.exit_code == 0, card.output
    assert card.output.startswith("reasons\n") and f"declaration_id: {first}" in card.output
    loud = runner.invoke(app, ["evaluate", str(recent), "--model", str(model)])
    quiet = runner.invoke(app, ["-q", "evaluate", str(recent), "--model", str(model)])
    assert quiet.exit_code == 0, quiet.output
    assert "precision" in quiet.output and "measured +" not in quiet.output
    assert quiet.output in loud.output


def test_verbose_prints_an_unexpected_failures_details_too(tmp_path, monkeypatch):
    import detector.io.ingest

    def panic(*args, **kwargs):
        raise RuntimeError("deep inside\nsecond line of the details")

    monkeypatch.setattr(detector.io.ingest, "read_declarations", panic)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    path = write_csv(tmp_path / "in.csv", [GOOD_ROW])
    brief = CliRunner().invoke(app, ["validate", str(path)])
    verbose = CliRunner().invoke(app, ["-v", "validate", str(path)])
    assert brief.exit_code == verbose.exit_code == 1
    assert "Traceback" not in brief.output and "second line" not in brief.output
    assert "Traceback" in verbose.output and "second line of the details" in verbose.output


def test_explain_prints_numbers_as_an_investigator_reads_them():
    from detector.app.cli import _number

    assert [_number(v) for v in (18.0, 0.0, 1_234_567.0, 3, None, float("nan"))] == [
        "18",
        "0",
        "1,234,567",
        "3",
        "-",
        "-",
    ]
    assert _number(0.1585) == "0.1585" and _number(12.5) == "12.50"
    assert _number(91_500.25) == "91,500"  # never 9.15e+04


@pytest.mark.slow
def test_train_and_evaluate_say_how_many_rows_they_rejected(synthetic_year, tmp_path):
    from conftest import CUT, TRUTH

    year = synthetic_year.head(20_000).drop(TRUTH)
    history = year.filter(pl.col("declaration_date") < CUT)
    broken = history.with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0)
        .then(-1.0)
        .otherwise(pl.col("net_mass_kg"))
        .alias("net_mass_kg")
    )
    broken.write_parquet(tmp_path / "h.parquet")
    rejected = broken.height // 50 + (broken.height % 50 > 0)
    model = tmp_path / "m.joblib"
    done = runner.invoke(app, ["train", str(tmp_path / "h.parquet"), "--model", str(model)])
    assert done.exit_code == 0, done.output
    kept = broken.height - rejected
    assert f"read {broken.height:,} rows = {kept:,} accepted + {rejected:,} rejected" in done.output
    # Measured on the last fifth, then fitted again on every row: the newest are learnt.
    newest = broken.filter(pl.col("net_mass_kg") >= 0)["declaration_date"].max()
    assert f"to {newest}; risk scores calibrated" in done.output
    assert f"trained on {kept:,} declarations" in done.output
    evaluated = runner.invoke(app, ["evaluate", str(tmp_path / "h.parquet"), "--model", str(model)])
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{kept:,} measured + {rejected:,} rejected" in evaluated.output


def test_evaluate_without_labels_names_the_file_and_what_is_missing(trained_model, tmp_path):
    from conftest import TRUTH

    model, _, recent = trained_model
    bare = pl.read_parquet(recent).drop(TRUTH, "inspected", "fraud", "fraud_type")
    bare.write_parquet(tmp_path / "bare.parquet")
    result = runner.invoke(app, ["evaluate", str(tmp_path / "bare.parquet"), "--model", str(model)])
    assert result.exit_code == 2, result.output
    assert "bare.parquet has no labelled rows" in result.output


def test_a_cards_counts_are_whole_numbers_and_its_ratios_stay_ratios():
    from detector.app.cli import _jsonable

    card = {
        "importer": {"importer_n_before": 5.0, "importer_share_below_before": 0.0},
        "route": {"goods_on_route_inspections": 3.0, "lane_share": 1.0, "peer": float("nan")},
    }
    got = _jsonable(card)
    assert got == {
        "importer": {"importer_n_before": 5, "importer_share_below_before": 0.0},
        "route": {"goods_on_route_inspections": 3, "lane_share": 1.0, "peer": None},
    }
    assert isinstance(got["importer"]["importer_n_before"], int)
    assert isinstance(got["importer"]["importer_share_below_before"], float)
    assert isinstance(got["route"]["lane_share"], float)


def test_declarations_are_not_written_as_a_workbook_nothing_reads_back(tmp_path):
    book = tmp_path / "year.xlsx"
    made = runner.invoke(app, ["generate", "--rows", "50", "--out", str(book)])
    assert made.exit_code == 2 and not book.exists()
    assert "declarations are written as .csv or .parquet" in " ".join(made.output.split())
    rows = write_csv(tmp_path / "in.csv", [GOOD_ROW])
    checked = runner.invoke(app, ["validate", str(rows), "--out", str(book)])
    assert checked.exit_code == 2 and not book.exists()


def test_backtest_sizes_without_backtest_are_refused_not_ignored(tmp_path):
    rows = write_csv(tmp_path / "in.csv", [GOOD_ROW])
    args = ["evaluate", str(rows), "--model", str(tmp_path / "m.joblib")]
    for extra in (["--folds", "2"], ["--months", "1"]):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 2, result.output
        assert "--folds and --months size a backtest" in " ".join(result.output.split())


def test_a_replay_whose_labels_name_no_scheme_prints_no_empty_scheme_table():
    from types import SimpleNamespace

    from detector.app.cli import _simulation_table

    measured = {"inspected": 10, "frauds": 3, "precision": 0.3, "revenue": None}
    sim = SimpleNamespace(
        currency=None,
        months=[date(2020, 10, 1), date(2020, 12, 1)],
        options=SimpleNamespace(capacity=5.0, retrain="monthly", policies=["exploit"]),
        measure=lambda name: {**measured, "coverage": 0.1, "recall_by_type": {}},
        hit_rates=lambda name: pl.DataFrame(
            schema={"selection": pl.String, "inspected": pl.Int64, "frauds": pl.Int64}
        ),
        basis="labels of the input",
        fits=3,
        default="exploit",
        fraud_types=[],
    )
    assert len(_simulation_table(sim)) == 1  # the Korean data: frauds, no schemes
    sim.fraud_types = ["undervaluation"]
    tables = _simulation_table(sim)
    assert len(tables) == 2 and tables[1].row_count == 1


def test_a_corrected_amount_that_rounds_alike_is_shown_in_full():
    from detector.app.cli import _changes

    row = {"revenue_recovered": 1234.4, "revenue_recovered_stored": 1234.0}
    assert _changes(row) == "revenue_recovered 1234.0 -> 1234.4"
    assert _changes({"fraud": 0, "fraud_stored": 1, "note": "x", "note_stored": "x"}) == (
        "fraud 1 -> 0"
    )
