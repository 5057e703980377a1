"""The label store: feedback is idempotent, conflicts and unknowns are reported, nothing
is lost to concurrent runs or crashes, and fed-back outcomes make the next model better."""

import os
import re
import stat
import subprocess
import sys
import time
from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from conftest import TRUTH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from detector import DetectorError
from detector.app.cli import app
from detector.app.labels import OUTCOME_SCHEMA, LabelStore, exploration_record, hit_rates
from detector.app.pipeline import measure, score, train
from detector.io.persist import load_model
from detector.models._predict import predict_positive

runner = CliRunner()


def _flagged(ids, selection="model"):
    return pl.DataFrame(
        {
            "declaration_id": ids,
            "declaration_date": [date(2025, 10, 1)] * len(ids),
            "selection": [selection] * len(ids),
            "risk_score": [0.9] * len(ids),
            "rank": list(range(1, len(ids) + 1)),
        }
    )


def _outcomes(path, rows):
    pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).write_csv(path)
    return path


def test_an_id_a_spreadsheet_wrote_as_a_number_is_read_as_the_flagged_one(tmp_path):
    store = LabelStore(tmp_path / "store")
    store.record_flagged(_flagged(["25122400019616", "7.0"]))
    rows = [
        {"declaration_id": "25122400019616.0", "fraud": "1", "inspected_on": "2025-10-03"},
        {"declaration_id": "7.0", "fraud": "0", "inspected_on": "2025-10-03"},  # as flagged
        {"declaration_id": "8.0", "fraud": "0", "inspected_on": "2025-10-03"},  # never flagged
    ]
    result = store.add_outcomes(_outcomes(tmp_path / "o.csv", rows))
    assert (result.added, result.renumbered, result.unknown) == (3, 1, ["8.0"])
    assert sorted(store.outcomes()["declaration_id"]) == ["25122400019616", "7.0", "8.0"]
    assert "1 id written as a number ('.0' after the digits)" in result.summary()


def test_feedback_is_idempotent_and_reports_conflicts_unknowns_and_bad_rows(tmp_path):
    store = LabelStore(tmp_path / "store")
    store.record_flagged(_flagged(["A", "B", "C"]))
    first = _outcomes(
        tmp_path / "o1.csv",
        [
            {
                "declaration_id": "A",
                "fraud": "1",
                "fraud_type": "undervaluation",
                "revenue_recovered": "1200.5",
                "inspected_on": "2025-10-03",
            },
            {
                "declaration_id": "B",
                "fraud": "0",
                "fraud_type": "",
                "revenue_recovered": "",
                "inspected_on": "2025-10-04",
            },
            {
                "declaration_id": "Z",
                "fraud": "1",
                "fraud_type": "other",
                "revenue_recovered": "10",
                "inspected_on": "2025-10-04",
            },
            {
                "declaration_id": "C",
                "fraud": "maybe",
                "fraud_type": "",
                "revenue_recovered": "",
                "inspected_on": "2025-10-04",
            },
        ],
    )
    result = store.add_outcomes(first)
    assert (result.read, result.added, result.unchanged) == (4, 3, 0)
    assert result.unknown == ["Z"]
    assert result.rejects["declaration_id"].to_list() == ["C"]
    assert result.rejects["reject_reason"].to_list() == ["fraud 'maybe' is not 0 or 1"]

    again = store.add_outcomes(first)  # the same file twice changes nothing
    assert (again.added, again.unchanged) == (0, 3)
    assert store.outcomes().height == 3

    conflicting = _outcomes(
        tmp_path / "o2.csv",
        [
            {
                "declaration_id": "A",
                "fraud": "0",
                "fraud_type": "",
                "revenue_recovered": "",
                "inspected_on": "2025-10-09",
            }
        ],
    )
    clash = store.add_outcomes(conflicting)
    assert clash.added == 0 and clash.conflicts["declaration_id"].to_list() == ["A"]
    kept = store.outcomes().filter(pl.col("declaration_id") == "A").row(0, named=True)
    assert (kept["fraud"], kept["revenue_recovered"]) == (1, 1200.5)  # not overwritten


def test_a_corrected_outcome_replaces_the_stored_one_only_when_asked(tmp_path):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]))
    first = _outcomes(
        tmp_path / "o1.csv",
        [
            {"declaration_id": "A", "fraud": "1", "revenue_recovered": "900"},
            {"declaration_id": "B", "fraud": "0"},
        ],
    )
    corrected = _outcomes(
        tmp_path / "o2.csv",
        [
            {"declaration_id": "A", "fraud": "0", "inspected_on": "2025-10-07"},
            {"declaration_id": "B", "fraud": "0", "inspected_on": "2025-10-05"},
            {"declaration_id": "C", "fraud": "1", "inspected_on": "2025-10-07"},
        ],
    )
    assert runner.invoke(app, ["feedback", str(first), "--store", str(store)]).exit_code == 0
    kept = runner.invoke(app, ["feedback", str(corrected), "--store", str(store)])
    assert kept.exit_code == 0, kept.output
    # A's fraud differs, and B's inspection date, which the store lacks: both are said.
    assert "1 added + 0 already stored + 2 conflicting" in kept.output
    assert "the stored outcome was kept (rerun with --replace" in kept.output
    assert "conflict: B is stored as fraud=0, this file says fraud=0 (inspected_on - ->" in (
        kept.output
    )
    stored = LabelStore(store).outcomes().sort("declaration_id")
    assert stored["fraud"].to_list() == [1, 0, 1]

    replaced = runner.invoke(app, ["feedback", str(corrected), "--store", str(store), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    # A's fraud is corrected; B gains the inspection date the first file lacked.
    assert "0 added + 1 already stored + 2 replaced + 0 rejected" in replaced.output
    assert (
        "replaced: A: fraud 1 -> 0, revenue_recovered 900 -> -, inspected_on - -> 2025-10-07"
        in (replaced.output)
    )
    assert "replaced: B: inspected_on - -> 2025-10-05" in replaced.output
    stored = LabelStore(store).outcomes().sort("declaration_id")
    assert stored["declaration_id"].to_list() == ["A", "B", "C"]  # one row each, still
    row = stored.row(0, named=True)
    assert (row["fraud"], row["revenue_recovered"], str(row["inspected_on"])) == (
        0,
        None,
        "2025-10-07",
    )
    again = LabelStore(store).add_outcomes(corrected, replace=True)
    assert (again.added, again.unchanged, again.conflicts.height) == (0, 3, 0)
    # A correction of the note alone: kept as stored without --replace, but said, and
    # replaced with it.
    noted = _outcomes(
        tmp_path / "o3.csv",
        [{"declaration_id": "B", "fraud": "0", "inspected_on": "2025-10-05", "note": "seal ok"}],
    )
    said = LabelStore(store).add_outcomes(noted)
    assert (said.unchanged, said.conflicts.height) == (0, 1)
    assert LabelStore(store).outcomes().filter(pl.col("declaration_id") == "B")["note"][0] is None
    assert LabelStore(store).add_outcomes(noted, replace=True).conflicts.height == 1
    stored = LabelStore(store).outcomes().filter(pl.col("declaration_id") == "B")
    assert stored["note"].to_list() == ["seal ok"]


def test_a_workbook_saved_as_csv_is_read_by_its_headers_in_words(tmp_path):
    store = tmp_path / "store"
    path = tmp_path / "filled.csv"
    pl.DataFrame(
        {
            "rank": [1, 2],
            "declaration id": ["A", "B"],
            "revenue at stake (USD)": [900.0, 50.0],
            "fraud": ["1", "0"],
            "fraud type": ["undervaluation", None],
            "revenue recovered (USD)": [1200.0, None],
        }
    ).write_csv(path)
    result = LabelStore(store).add_outcomes(path)
    assert (result.added, result.rejects.height) == (2, 0)
    stored = LabelStore(store).outcomes().sort("declaration_id").row(0, named=True)
    assert (stored["fraud_type"], stored["revenue_recovered"]) == ("undervaluation", 1200.0)


def _fraud_of_1500_monitored(tmp_path, store) -> tuple[str, str]:
    """Declaration A reported a fraud with 1,500 recovered, then the store monitored:
    what the terminal and the page say."""
    rows = [{"declaration_id": "A", "fraud": "1", "revenue_recovered": "1500"}]
    fed = runner.invoke(
        app, ["feedback", str(_outcomes(tmp_path / "o.csv", rows)), "--store", str(store)]
    )
    assert fed.exit_code == 0, fed.output
    report = tmp_path / "m.html"
    shown = runner.invoke(app, ["monitor", "--store", str(store), "--report", str(report)])
    assert shown.exit_code == 0, shown.output
    return shown.output, report.read_text(encoding="utf-8")


def test_monitor_gives_the_revenue_recovered_in_the_currency_the_scoring_recorded(tmp_path):
    store = tmp_path / "store"
    assert LabelStore(store).currency is None
    LabelStore(store).record_flagged(_flagged(["A"]), currency="EUR")
    LabelStore(store).record_flagged(_flagged(["B"]), currency="USD")  # the first one stays
    assert LabelStore(store).currency == "EUR"
    shown, page = _fraud_of_1500_monitored(tmp_path, store)
    assert "revenue (EUR)" in shown and "1,500" in shown
    assert "revenue recovered (EUR)" in page
    # A store file edited by hand into something else than a currency code says nothing.
    for kept in ('{"currency": "[bold red]X[/]"}', '{"currency": {"a": 1}}', "[1, 2]", "{"):
        (store / "store.json").write_text(kept)
        assert LabelStore(store).currency is None


def test_a_store_without_a_recorded_currency_says_so_beside_its_revenue(tmp_path):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A"]))  # no currency recorded
    _, page = _fraud_of_1500_monitored(tmp_path, store)
    assert "revenue recovered (currency not recorded)" in page


def test_feedback_cli_and_monitor(tmp_path):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]))
    LabelStore(store).record_flagged(_flagged(["E1", "E2"], selection="exploration"))
    rows = [
        {"declaration_id": d, "fraud": f, "inspected_on": "2025-10-05"}
        for d, f in (("A", "1"), ("B", "1"), ("E1", "0"), ("E2", "1"))
    ]
    outcomes = _outcomes(tmp_path / "o.csv", rows)
    result = runner.invoke(app, ["feedback", str(outcomes), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "read 4 outcomes = 4 added + 0 already stored" in result.output
    report = tmp_path / "monitor.html"
    result = runner.invoke(app, ["monitor", "--store", str(store), "--report", str(report)])
    assert result.exit_code == 0, result.output
    rates = LabelStore(store).hit_rates()
    by = dict(zip(rates["selection"], rates["hit_rate"], strict=True))
    assert by == {"exploration": 0.5, "model": 1.0}
    assert "100.0%" in result.output and "50.0%" in result.output
    assert "<svg" in report.read_text()


def test_a_store_file_edited_by_hand_without_columns_names_them_and_says_what_to_do(tmp_path):
    store = LabelStore(tmp_path / "store")
    store.folder.mkdir()
    pl.DataFrame({"declaration_id": ["A"], "selection": ["model"]}).write_parquet(
        store.flagged_path
    )
    said = (
        f"Label store file {store.flagged_path} lacks the column(s) declaration_date, "
        "risk_score, rank, scored_on (it has declaration_id, selection); add them and run "
        "again, or restore the file from a backup."
    )
    outcomes = _outcomes(tmp_path / "o.csv", [{"declaration_id": "A", "fraud": "1"}])
    for args in (["monitor"], ["feedback", str(outcomes)]):
        result = runner.invoke(app, [*args, "--store", str(store.folder)])
        assert result.exit_code == 2, result.output
        assert said in " ".join(result.output.split())
        assert "Traceback" not in result.output and "cannot be read" not in result.output
    with pytest.raises(DetectorError, match=re.escape(said)):  # score's check, before any work
        store.check()
    assert not store.outcomes_path.exists()  # the refused feedback stored nothing
    pl.DataFrame({"declaration_id": ["A"], "fraud": [1]}).write_parquet(store.outcomes_path)
    store.flagged_path.unlink()
    with pytest.raises(DetectorError, match="outcomes.parquet lacks the column\\(s\\) inspected, "):
        store.hit_rates()


def test_a_store_column_edited_into_text_is_named_with_its_type(tmp_path):
    store = LabelStore(tmp_path / "store")
    store.record_flagged(_flagged(["A", "B"]))
    hand = pl.read_parquet(store.flagged_path).with_columns(
        pl.Series("risk_score", ["0.9", "high"])
    )
    hand.write_parquet(store.flagged_path)
    said = (
        f"Label store file {store.flagged_path} has the column risk_score as String, whose "
        "values cannot all be read as Float64; correct them, or restore the file from a backup."
    )
    result = runner.invoke(app, ["monitor", "--store", str(store.folder)])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert "Traceback" not in result.output
    # Text that reads as numbers is read.
    hand.with_columns(pl.Series("risk_score", ["0.9", "0.8"])).write_parquet(store.flagged_path)
    assert LabelStore(store.folder).flagged()["risk_score"].to_list() == [0.9, 0.8]


def test_a_declaration_listed_twice_by_hand_counts_once_in_every_reading(tmp_path):
    store = LabelStore(tmp_path / "store")
    store.folder.mkdir()
    # A list written by hand: E1 twice (the second time as the model's), M1 once.
    hand = pl.concat([_flagged(["E1", "E1", "E2"], "exploration"), _flagged(["M1"])])
    hand = hand.with_columns(
        selection=pl.Series(["exploration", "model", "exploration", "model"]),
        scored_on=pl.lit(date(2025, 10, 1)),
    ).cast({"rank": pl.UInt32})
    hand.write_parquet(store.flagged_path)
    rows = [
        {"declaration_id": d, "fraud": f, "inspected_on": "2025-10-05"}
        for d, f in (("E1", "1"), ("E2", "0"), ("M1", "1"))
    ]
    fed = store.add_outcomes(_outcomes(tmp_path / "o.csv", rows))
    assert (fed.added, fed.unknown) == (3, [])
    assert store.flagged()["declaration_id"].to_list() == ["E1", "E2", "M1"]
    # As first listed: an exploration pick, counted once.
    rates = store.hit_rates().select("selection", "inspected", "frauds").rows()
    assert rates == [("exploration", 2, 1), ("model", 1, 1)]
    record = store.exploration_record()
    assert record.select("inspected", "frauds").rows() == [(2, 1)]
    assert record["expected"].to_list() == pytest.approx([1.8])  # 2 x 0.9, not 3 x 0.9
    # The functions simulate reads its replay with, given the list itself: the same.
    outcomes = store.outcomes()
    assert hit_rates(outcomes, hand).equals(store.hit_rates())
    assert exploration_record(outcomes, hand).equals(record)
    # The engine records a list holding an id twice once, and never again.
    again = LabelStore(tmp_path / "other")
    assert again.record_flagged(_flagged(["A", "A", "B"])) == 2
    assert again.record_flagged(_flagged(["A", "C"])) == 1
    assert again.flagged()["declaration_id"].to_list() == ["A", "B", "C"]
    monitor = runner.invoke(app, ["monitor", "--store", str(store.folder)])
    assert monitor.exit_code == 0, monitor.output
    assert "50.0%" in monitor.output and "100.0%" in monitor.output


def test_monitor_of_an_empty_store_says_what_to_do(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["monitor", "--store", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "detector feedback" in result.output
    # A mistyped path is not an empty store.
    result = runner.invoke(app, ["monitor", "--store", str(tmp_path / "none")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"Label store {tmp_path / 'none'} does not exist" in said


def test_monitor_of_a_store_of_outcomes_none_inspected_says_how_many_it_holds(tmp_path):
    store = tmp_path / "store"
    rows = [{"declaration_id": d, "inspected": "false", "fraud": ""} for d in ("A", "B", "C")]
    LabelStore(store).add_outcomes(_outcomes(tmp_path / "o.csv", rows))
    result = runner.invoke(app, ["monitor", "--store", str(store)])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"Label store {store} holds 3 outcomes, none of them inspected yet" in said
    assert "no inspection outcomes" not in said
    # What it says to do works: the inspection's outcome replaces the stored one.
    found = [{"declaration_id": "A", "inspected": "true", "fraud": "1"}]
    fed = runner.invoke(
        app,
        ["feedback", str(_outcomes(tmp_path / "f.csv", found)), "--store", str(store), "--replace"],
    )
    assert fed.exit_code == 0 and "1 replaced" in fed.output, fed.output
    shown = runner.invoke(app, ["monitor", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert LabelStore(store).hit_rates().select("inspected", "frauds").rows() == [(1, 1)]


# A feeder that waits for the others, then holds the read-modify-write of the store open
# for half a second: without the lock, every feeder reads the store before any writes it.
_FEEDER = """
import sys, time
from pathlib import Path
from detector.app.labels import LabelStore

read = LabelStore.outcomes

def slow(self):
    stored = read(self)
    time.sleep(0.5)
    return stored

LabelStore.outcomes = slow
store, outcomes, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
LabelStore(store).add_outcomes(outcomes)
"""


@pytest.mark.slow
def test_concurrent_feedback_runs_each_land_once(tmp_path):
    store, go, feeders = tmp_path / "store", tmp_path / "go", 4
    files = [
        _outcomes(
            tmp_path / f"o{n}.csv",
            [{"declaration_id": f"P{n}-{i}", "fraud": str(i % 2)} for i in range(50)],
        )
        for n in range(feeders)
    ]
    ready = [tmp_path / f"ready{n}" for n in range(feeders)]
    procs = [
        subprocess.Popen([sys.executable, "-c", _FEEDER, str(store), str(f), str(r), str(go)])
        for f, r in zip(files, ready, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # all at once, each once: a later run cannot repair what an earlier lost
    assert [p.wait(timeout=120) for p in procs] == [0] * feeders
    stored = LabelStore(store).outcomes()
    expected = sorted(f"P{n}-{i}" for n in range(feeders) for i in range(50))
    assert sorted(stored["declaration_id"]) == expected


def test_a_crash_while_writing_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    store = LabelStore(tmp_path / "store")
    first = _outcomes(tmp_path / "o1.csv", [{"declaration_id": "A", "fraud": "1"}])
    store.add_outcomes(first)
    before = store.outcomes_path.read_bytes()

    def half_then_crash(self, path, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_then_crash)
    second = _outcomes(tmp_path / "o2.csv", [{"declaration_id": "B", "fraud": "0"}])
    with pytest.raises(OSError):
        store.add_outcomes(second)
    monkeypatch.undo()
    assert store.outcomes_path.read_bytes() == before
    assert store.outcomes()["declaration_id"].to_list() == ["A"]
    assert not list(store.folder.glob(".*.tmp"))


def test_outcomes_file_without_the_key_columns_is_exit_2(tmp_path):
    bad = _outcomes(tmp_path / "o.csv", [{"id": "A", "result": "fraud"}])
    with pytest.raises(DetectorError, match="needs the columns declaration_id and fraud"):
        LabelStore(tmp_path / "s").add_outcomes(bad)


@pytest.mark.slow
def test_fed_back_outcomes_teach_the_next_model_a_scheme_it_never_saw(synthetic_year, tmp_path):
    """Score October with a model whose labels never showed transshipment, inspect the
    flagged list (the synthetic ground truth plays the inspectors), feed the outcomes
    back, retrain on January-October: November-December transshipment is found more."""
    year = synthetic_year
    hidden = pl.col("true_fraud_type") == "transshipment"
    blind = year.with_columns(
        pl.when(hidden).then(False).otherwise(pl.col("inspected")).alias("inspected"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud")).alias("fraud"),
        pl.when(hidden).then(None).otherwise(pl.col("fraud_type")).alias("fraud_type"),
    )
    day = pl.col("declaration_date")
    history = blind.filter(day < date(2025, 10, 1)).drop(TRUTH)
    october = blind.filter(day.is_between(date(2025, 10, 1), date(2025, 10, 31)))
    later = year.filter(day > date(2025, 10, 31))
    # October arrives without inspection outcomes: they come from the feedback.
    october_in = october.drop(TRUTH).with_columns(
        pl.lit(False).alias("inspected"),
        pl.lit(None, pl.Int8).alias("fraud"),
        pl.lit(None, pl.String).alias("fraud_type"),
    )
    paths = {n: tmp_path / f"{n}.parquet" for n in ("history", "october", "later")}
    history.write_parquet(paths["history"])
    october_in.write_parquet(paths["october"])
    later.write_parquet(paths["later"])

    before = tmp_path / "before.joblib"
    train([paths["history"]], before)
    result = score([paths["october"]], before, top="10%")
    store = LabelStore(tmp_path / "store")
    store.record_flagged(result.scored)
    truth = october.select(
        "declaration_id",
        pl.col("true_fraud").cast(pl.String).alias("fraud"),
        pl.col("true_fraud_type").fill_null("").alias("fraud_type"),
        pl.col("true_revenue_lost").round(2).cast(pl.String).alias("revenue_recovered"),
    )
    inspected = result.scored.select("declaration_id").join(truth, on="declaration_id")
    inspected.write_csv(tmp_path / "outcomes.csv")
    fed = store.add_outcomes(tmp_path / "outcomes.csv")
    assert fed.added == result.flagged and fed.unknown == []
    found = inspected.filter(pl.col("fraud_type") == "transshipment").height
    assert found > 10  # the detectors put transshipped goods on the list unlabelled

    after = tmp_path / "after.joblib"
    meta = train([paths["history"], paths["october"]], after, store=store.folder)
    assert meta["rows"]["labels_from_store"] == result.flagged

    def learnt(path):
        model, _ = load_model(path)
        table = model.transform(later)
        at5 = measure(model, later)["at"]["5%"]["recall_by_scheme"]["transshipment"]
        matrix = model.classifier_.named_steps["encode"].transform(table)
        p = predict_positive(model.classifier_.steps[-1][1], matrix)
        shipped = (table["true_fraud_type"] == "transshipment").fill_null(False).to_numpy()
        return at5, float(np.median(p[shipped]))

    (old, p_old), (new, p_new) = learnt(before), learnt(after)
    print(f"transshipment in Nov-Dec: recall@5% {old:.2f} -> {new:.2f} after feedback")
    print(f"classifier's median probability {p_old:.3f} -> {p_new:.3f}")
    # The detectors already lift transshipments unlabelled; the fed-back outcomes teach
    # the classifier the scheme itself, and more of it reaches the list.
    assert p_new >= 2 * p_old, (p_old, p_new)
    assert new >= old + 0.03, (old, new)


def test_a_large_partly_known_file_adds_exactly_the_new_outcomes(tmp_path):
    store = LabelStore(tmp_path / "store")
    first = [{"declaration_id": f"D{i:06d}", "fraud": str(i % 2)} for i in range(0, 40_000, 2)]
    store.add_outcomes(_outcomes(tmp_path / "o1.csv", first))
    # Every id again, interleaved: the even ones are known, the odd ones are new.
    mixed = [{"declaration_id": f"D{i:06d}", "fraud": str(i % 2)} for i in range(40_000)]
    result = store.add_outcomes(_outcomes(tmp_path / "o2.csv", mixed))
    assert (result.added, result.unchanged, result.conflicts.height) == (20_000, 20_000, 0)
    stored = store.outcomes()
    assert sorted(stored["declaration_id"]) == [f"D{i:06d}" for i in range(40_000)]
    assert stored.select(
        (pl.col("declaration_id").str.slice(1).cast(int) % 2 == pl.col("fraud")).all()
    ).item()


_cells = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["", "1", "0", "true", "no", "-5", "1e400", "2025-10-03", "undervaluation"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                k: _cells
                for k in (
                    "declaration_id",
                    "inspected",
                    "fraud",
                    "fraud_type",
                    "revenue_recovered",
                    "inspected_on",
                )
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_random_outcome_cells_are_each_accounted_for(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("random")
    result = LabelStore(folder / "store").add_outcomes(_outcomes(folder / "o.csv", rows))
    assert result.read == len(rows)
    assert result.added + result.unchanged + result.conflicts.height + result.rejects.height == (
        len(rows)
    )
    assert result.rejects["reject_reason"].null_count() == 0


def _one_good_and(tmp_path, bad: dict[str, str]):
    """An outcomes file of a good report on G and the given report on X."""
    columns = [c for c in OUTCOME_SCHEMA if c != "note"]
    good = {"declaration_id": "G", "inspected": "true", "fraud": "1", "inspected_on": "2025-10-05"}
    rows = [{c: good.get(c, "") for c in columns}, {c: bad.get(c, "") for c in columns}]
    rows[1]["declaration_id"] = "X"
    return _outcomes(tmp_path / "o.csv", rows)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            {"fraud": "1", "revenue_recovered": "inf"},
            "revenue_recovered 'inf' is not a finite number",
        ),
        (
            {"fraud": "1", "revenue_recovered": "NaN"},
            "revenue_recovered 'NaN' is not a finite number",
        ),
        (
            {"fraud": "1", "revenue_recovered": "1e308"},
            "revenue_recovered '1e308' is implausibly large (over 1e+15)",
        ),
        ({"fraud": "1", "revenue_recovered": "-5"}, "negative revenue_recovered '-5'"),
        (
            {"fraud": "1", "inspected_on": "2099-01-01"},
            f"impossible inspected_on '2099-01-01': after today, {date.today()}",
        ),
        (
            {"fraud": "1", "inspected_on": "1900-01-01"},
            "impossible inspected_on '1900-01-01': before 1950",
        ),
        (
            {"inspected": "false", "fraud": "1"},
            "fraud '1' for a declaration not inspected (inspected false)",
        ),
        (
            {"fraud": "0", "fraud_type": "undervaluation"},
            "fraud_type 'undervaluation' contradicts fraud 0",
        ),
        ({"fraud": "0", "revenue_recovered": "5"}, "revenue_recovered '5' contradicts fraud 0"),
    ],
)
def test_impossible_or_contradictory_outcomes_are_rejected_naming_column_and_value(
    tmp_path, bad, reason
):
    result = LabelStore(tmp_path / "store").add_outcomes(_one_good_and(tmp_path, bad))
    assert (result.read, result.added, result.rejects.height) == (2, 1, 1)
    assert result.rejects.select("declaration_id", "reject_reason").row(0) == ("X", reason)
    assert LabelStore(tmp_path / "store").outcomes()["declaration_id"].to_list() == ["G"]


def test_non_finite_or_huge_revenue_in_a_float_column_is_rejected(tmp_path):
    path = tmp_path / "o.parquet"
    pl.DataFrame(
        {
            "declaration_id": ["A", "B", "C", "D"],
            "fraud": [1, 1, 1, 1],
            "revenue_recovered": [float("nan"), float("inf"), 1e308, 1200.5],
        }
    ).write_parquet(path)
    result = LabelStore(tmp_path / "store").add_outcomes(path)
    assert (result.read, result.added, result.rejects.height) == (4, 1, 3)
    assert result.rejects["reject_reason"].to_list() == [
        "revenue_recovered 'NaN' is not a finite number",
        "revenue_recovered 'inf' is not a finite number",
        "revenue_recovered '1e+308' is implausibly large (over 1e+15)",
    ]
    assert LabelStore(tmp_path / "store").outcomes()["revenue_recovered"].to_list() == [1200.5]


def test_float_ids_float_fraud_datetimes_and_the_declaration_date_formats_are_read(tmp_path):
    """Float ids and float fraud from Parquet, a datetime inspected_on, '1.0' and the
    declarations' date formats in CSV: all read as the declarations would read them."""
    store = LabelStore(tmp_path / "store")
    store.record_flagged(_flagged(["12345762", "12345763", "T1", "T2", "T3", "T4"]))
    typed = tmp_path / "typed.parquet"
    pl.DataFrame(
        {
            "declaration_id": [12345762.0, 12345763.0],
            "fraud": [1.0, 0.0],
            "inspected_on": [datetime(2025, 10, 3, 14, 5), datetime(2025, 10, 4, 23, 59)],
        }
    ).write_parquet(typed)
    first = store.add_outcomes(typed)
    assert (first.added, first.rejects.height, first.unknown) == (2, 0, [])
    texts = _outcomes(
        tmp_path / "text.csv",
        [
            {"declaration_id": "T1", "fraud": "1.0", "inspected_on": "2025/10/03"},
            {"declaration_id": "T2", "fraud": "0.0", "inspected_on": "03.10.2025"},
            {"declaration_id": "T3", "fraud": "1", "inspected_on": "20251003"},
            {"declaration_id": "T4", "fraud": "0", "inspected_on": "2025-10-03T08:00:00"},
        ],
    )
    second = store.add_outcomes(texts)
    assert (second.added, second.rejects.height, second.unknown) == (4, 0, [])
    stored = store.outcomes().sort("declaration_id")
    assert stored.select("declaration_id", "fraud", "inspected_on").rows() == [
        ("12345762", 1, date(2025, 10, 3)),
        ("12345763", 0, date(2025, 10, 4)),
        ("T1", 1, date(2025, 10, 3)),
        ("T2", 0, date(2025, 10, 3)),
        ("T3", 1, date(2025, 10, 3)),
        ("T4", 0, date(2025, 10, 3)),
    ]


def test_a_list_column_is_exit_2_naming_the_file_the_column_and_its_type(tmp_path):
    path = tmp_path / "nested.parquet"
    pl.DataFrame(
        {"declaration_id": ["A"], "fraud": [1], "note": [["seal broken", "photos"]]}
    ).write_parquet(path)
    store = tmp_path / "store"
    result = runner.invoke(app, ["feedback", str(path), "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert f"Outcomes file {path} has the column 'note' of type List(String)" in result.output
    assert LabelStore(store).outcomes().height == 0


def test_monitor_never_shows_impossible_months_or_nan_revenue(tmp_path):
    store = tmp_path / "store"
    rows = [
        {
            "declaration_id": "A",
            "fraud": "1",
            "revenue_recovered": "100",
            "inspected_on": "2025-10-05",
        },
        {
            "declaration_id": "B",
            "fraud": "1",
            "revenue_recovered": "NaN",
            "inspected_on": "2025-10-06",
        },
        {
            "declaration_id": "C",
            "fraud": "1",
            "revenue_recovered": "inf",
            "inspected_on": "2025-10-06",
        },
        {
            "declaration_id": "D",
            "fraud": "1",
            "revenue_recovered": "",
            "inspected_on": "1900-01-01",
        },
        {
            "declaration_id": "E",
            "fraud": "0",
            "revenue_recovered": "",
            "inspected_on": "2099-01-01",
        },
    ]
    fed = runner.invoke(
        app, ["feedback", str(_outcomes(tmp_path / "o.csv", rows)), "--store", str(store)]
    )
    assert fed.exit_code == 0, fed.output
    shown = runner.invoke(app, ["monitor", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    for never in ("1900-01", "2099-01", "nan", "inf"):
        assert never not in shown.output.lower()
    assert LabelStore(store).hit_rates().select(
        "month", "inspected", "revenue_recovered"
    ).rows() == [(date(2025, 10, 1), 1, 100.0)]
    assert "read 5 outcomes = 1 added + 0 already stored + 0 conflicting + 4 rejected" in fed.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_feedback_writes_the_rejects_file_with_its_header_even_when_empty(tmp_path, suffix):
    good = _outcomes(tmp_path / "o.csv", [{"declaration_id": "A", "fraud": "1"}])
    rejects = tmp_path / f"rejects{suffix}"
    result = runner.invoke(
        app, ["feedback", str(good), "--store", str(tmp_path / "s"), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    back = pl.read_csv(rejects) if suffix == ".csv" else pl.read_parquet(rejects)
    assert back.height == 0
    assert back.columns == ["input_row", "declaration_id", "fraud", "reject_reason"]


def test_feedback_rejects_file_round_trips_the_rejected_rows(tmp_path):
    bad = _outcomes(tmp_path / "o.csv", [{"declaration_id": "A", "fraud": "maybe"}])
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(
        app, ["feedback", str(bad), "--store", str(tmp_path / "s"), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    back = pl.read_csv(rejects, infer_schema=False)
    assert back.rows() == [("1", "A", "maybe", "fraud 'maybe' is not 0 or 1")]


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A store folder, and a parent folder, this user cannot write to.

    Root ignores mode bits, so as root ``os.access`` answers the way it would for the
    folder's owner without root's privilege: the same code path, a simulated refusal.
    """
    store = tmp_path / "ro" / "store"
    store.parent.mkdir()
    LabelStore(store).add_outcomes(
        _outcomes(tmp_path / "o.csv", [{"declaration_id": "A", "fraud": "1"}])
    )
    for folder in (store, store.parent):
        folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access

        def as_owner(path, mode):
            if mode & os.W_OK and not os.stat(path).st_mode & stat.S_IWUSR:
                return False
            return real(path, mode)

        monkeypatch.setattr(os, "access", as_owner)
    yield store
    for folder in (store.parent, store):
        folder.chmod(0o755)


def test_a_read_only_store_is_refused_before_any_work(read_only, tmp_path):
    refused = f"Label store {read_only} is read-only for this user"
    missing = tmp_path / "no-such-outcomes.csv"  # never read: the store is checked first
    with pytest.raises(DetectorError, match=re.escape(refused)):
        LabelStore(read_only).add_outcomes(missing)
    with pytest.raises(DetectorError, match=re.escape(refused)):
        LabelStore(read_only).record_flagged(_flagged(["B"]))
    with pytest.raises(
        DetectorError, match=re.escape(f"Label store {read_only.parent / 'new'} cannot be created")
    ):
        LabelStore(read_only.parent / "new").add_outcomes(missing)
    result = runner.invoke(app, ["feedback", str(missing), "--store", str(read_only)])
    assert result.exit_code == 2 and refused in result.output
    # score checks the store with its other options, before the model or any row is read
    result = runner.invoke(
        app,
        [
            "score",
            str(missing),
            "--model",
            str(tmp_path / "no-such-model.joblib"),
            "--out",
            str(tmp_path / "scored.csv"),
            "--store",
            str(read_only),
        ],
    )
    assert result.exit_code == 2 and refused in result.output
    assert not (tmp_path / "scored.csv").exists()
    assert LabelStore(read_only).outcomes()["declaration_id"].to_list() == ["A"]


def test_a_file_where_the_store_folder_should_be_is_exit_2(tmp_path):
    taken = tmp_path / "store"
    taken.write_text("not a folder")
    with pytest.raises(DetectorError, match="is a file, not a folder"):
        LabelStore(taken).check_writable()


def test_an_unwritable_rejects_path_is_refused_before_the_store_changes(tmp_path):
    rows = [{"declaration_id": "A", "fraud": "1"}, {"declaration_id": "B", "fraud": "maybe"}]
    outcomes, store = _outcomes(tmp_path / "o.csv", rows), tmp_path / "store"
    rejects = tmp_path / "r.txt"
    result = runner.invoke(
        app, ["feedback", str(outcomes), "--store", str(store), "--rejects", str(rejects)]
    )
    assert result.exit_code == 2 and "has suffix '.txt'" in result.output
    assert LabelStore(store).outcomes().height == 0


def test_feedback_names_each_rejected_row_and_says_when_it_creates_a_store(tmp_path):
    from typer.testing import CliRunner

    from detector.app.cli import app

    outcomes = tmp_path / "o.csv"
    outcomes.write_text("declaration_id,fraud\nA1,1\nA2,maybe\n")
    store = tmp_path / "new-store"
    result = CliRunner().invoke(app, ["feedback", str(outcomes), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "rejected: row 2, declaration A2: fraud 'maybe' is not 0 or 1" in result.output
    assert f"created the label store {store}" in result.output
    again = CliRunner().invoke(app, ["feedback", str(outcomes), "--store", str(store)])
    assert "created the label store" not in again.output


@pytest.mark.parametrize(
    ("written", "fraud"),
    [("fraud", 1), ("Fraudulent", 1), ("yes", 1), ("clean", 0), ("No fraud", 0), ("0", 0)],
)
def test_an_outcome_in_words_is_read(tmp_path, written, fraud):
    outcomes = tmp_path / "o.csv"
    outcomes.write_text(f"declaration_id,fraud\nA1,{written}\n")
    result = LabelStore(tmp_path / "s").add_outcomes(outcomes)
    assert result.added == 1 and result.rejects.height == 0
    assert LabelStore(tmp_path / "s").outcomes()["fraud"].to_list() == [fraud]


def test_a_store_path_that_is_not_there_is_said_or_refused(model_file, tmp_path):
    """A mistyped or unmounted store path: a store in a folder that does not exist is
    refused before any work; a new store in an existing folder is created with a
    warning, since its record of exploration and outcomes are not there to read."""
    path, _, score_file = model_file
    args = ["score", str(score_file), "--model", str(path), "--top", "5%"]
    deep = tmp_path / "nope" / "deeper" / "store"
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "a.csv"), "--store", str(deep)])
    assert refused.exit_code == 2
    assert f"the folder {deep.parent} it would be created in does not exist" in " ".join(
        refused.output.split()
    )
    assert not (tmp_path / "nope").exists() and not (tmp_path / "a.csv").exists()
    new = tmp_path / "store"
    # Without a capacity nothing is recorded, and no store created: nothing said of it.
    whole = ["score", str(score_file), "--model", str(path), "--out", str(tmp_path / "w.csv")]
    untouched = runner.invoke(app, [*whole, "--store", str(new)])
    assert untouched.exit_code == 0 and "held no record" not in untouched.output
    created = runner.invoke(app, [*args, "--out", str(tmp_path / "b.csv"), "--store", str(new)])
    assert created.exit_code == 0, created.output
    said = " ".join(created.output.split())
    assert f"warning: the label store {new} held no record and is created by this run" in said
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "c.csv"), "--store", str(new)])
    assert again.exit_code == 0 and "held no record" not in again.output
    # The same night again: nothing new to record, and said why.
    k = pl.read_csv(tmp_path / "c.csv").height
    assert (
        f"recorded 0 flagged declarations in {new}; {k:,} listed were recorded by an earlier "
        "run, whose rank and selection the store keeps"
    ) in " ".join(again.output.split())


def test_the_store_sets_the_share_of_exploration_score_and_train_spend(model_file, tmp_path):
    """The default policy reads what the store's exploration picks found: where they
    found what the model expected, `score --store` spends a fifth of the share on
    exploration; without a store, the whole share. A model trained with the store
    keeps the record."""
    path, train_file, score_file = model_file
    store = LabelStore(tmp_path / "store")
    picks = pl.DataFrame(
        {
            "declaration_id": [f"X{i}" for i in range(30)],
            "declaration_date": [date(2025, 9, 1)] * 30,
            "selection": ["exploration"] * 30,
            "risk_score": [0.3] * 30,
            "rank": list(range(1, 31)),
        }
    )
    store.record_flagged(picks)
    pl.DataFrame(
        {
            "declaration_id": picks["declaration_id"],
            "inspected": ["true"] * 30,
            "fraud": ["1"] * 9 + ["0"] * 21,  # 9 found, 9 expected (30 x 0.3)
        }
    ).write_csv(tmp_path / "outcomes.csv")
    store.add_outcomes(tmp_path / "outcomes.csv")
    out = {}
    for name, options in (("alone", []), ("with the store", ["--store", str(store.folder)])):
        listed = tmp_path / f"{name}.parquet"
        args = ["score", str(score_file), "--model", str(path), "--out", str(listed)]
        result = runner.invoke(app, [*args, "--top", "5%", *options])
        assert result.exit_code == 0, result.output
        out[name] = pl.read_parquet(listed), " ".join(result.output.split())
    k = out["alone"][0].height
    assert out["with the store"][0].height == k
    explored = {n: int((t["selection"] == "exploration").sum()) for n, (t, _) in out.items()}
    assert explored == {"alone": round(k * 0.1), "with the store": round(k * 0.02)}
    assert (
        f"exploration: {explored['alone']} of the {k} listed, by the policy scheme-adapt, "
        "10.0% of the list (no exploration pick with a risk score and a date inspected yet"
    ) in out["alone"][1]
    assert (
        f"exploration: {explored['with the store']} of the {k} listed, by the policy "
        "scheme-adapt, 2.0% of the list: in 2025-09 the inspected exploration picks (30) "
        "found 9 frauds where the model expected 9.0"
    ) in out["with the store"][1]

    page = tmp_path / "monitor.html"
    shown = runner.invoke(app, ["monitor", "--store", str(store.folder), "--report", str(page)])
    assert shown.exit_code == 0, shown.output
    reading = "default policy scheme-adapt at its default share, 2.0% of the list: in 2025-09"
    assert reading in " ".join(shown.output.split())
    assert reading in page.read_text(encoding="utf-8")

    # A model saved before scheme-adapt was the default does not read the store: said.
    from dataclasses import replace

    from detector.io.persist import save_model

    model, metadata = load_model(path)
    model.config = replace(model.config, selection_policy="scheme-explore")
    older = save_model(model, metadata, tmp_path / "older.joblib")
    args = ["score", str(score_file), "--model", str(older), "--out", str(tmp_path / "o.csv")]
    result = runner.invoke(app, [*args, "--top", "5%", "--store", str(store.folder)])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "record of exploration is not read" in said
    assert "this model's policy is scheme-explore" in said

    retrained = tmp_path / "m.joblib"
    train([train_file], retrained, store=store.folder)
    model, _ = load_model(retrained)
    assert model.exploration_record_["frauds"].to_list() == [9]
    assert model.exploration_record_["expected"].to_list() == pytest.approx([9.0])


def test_a_run_whose_report_fails_leaves_no_list_and_the_store_as_it_was(
    trained_model, tmp_path, monkeypatch
):
    import detector.app.report as report_module

    path, _, recent = trained_model
    store = tmp_path / "store"
    out, rejects, report = tmp_path / "list.csv", tmp_path / "rejects.csv", tmp_path / "r.html"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_module, "write_report", full_disk)
    args = ["score", str(recent), "--model", str(path), "--out", str(out), "--top", "5%"]
    args += ["--rejects", str(rejects), "--report", str(report), "--store", str(store)]
    failed = runner.invoke(app, args)
    assert failed.exit_code != 0
    assert not out.exists() and not rejects.exists() and not report.exists()
    assert LabelStore(store).flagged().height == 0  # nothing recorded by the failed run
    assert not any(p.name.startswith(".staged") for p in tmp_path.iterdir())  # none left
    monkeypatch.undo()
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert f"wrote {out}" in done.output and f"wrote {report}" in done.output
    assert LabelStore(store).flagged().height == pl.read_csv(out).height


def test_feedback_on_a_broken_csv_or_its_own_rejects_is_one_clear_answer(tmp_path):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("declaration_id,inspected,fraud\nA,true,1,extra\n")
    result = runner.invoke(app, ["feedback", str(ragged), "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert f"CSV file {ragged} line 2 has" in result.output
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('declaration_id,inspected,fraud\nA,tr"ue,1\n')
    result = runner.invoke(app, ["feedback", str(quoted), "--store", str(store)])
    assert result.exit_code == 2 and "quote" in result.output, result.output
    # Its own rejects file, corrected and fed back: read as any outcomes file.
    bad, rejects = tmp_path / "bad.csv", tmp_path / "rejects.csv"
    bad.write_text("declaration_id,inspected,fraud\nA,true,1\nB,true,7\n")
    args = ["feedback", str(bad), "--store", str(store), "--rejects", str(rejects)]
    assert runner.invoke(app, args).exit_code == 0
    fixed = pl.read_csv(rejects, infer_schema=False).with_columns(pl.lit("0").alias("fraud"))
    fixed.write_csv(rejects)
    again = runner.invoke(app, ["feedback", str(rejects), "--store", str(store)])
    assert again.exit_code == 0, again.output
    stored = LabelStore(store).outcomes().sort("declaration_id")
    assert stored["fraud"].to_list() == [1, 0]


def _store_and_workbook(tmp_path, rows: list[list]):
    """A store that listed A and B, and an outcomes workbook of ``rows`` (the header
    first) written by a script, as openpyxl writes it."""
    from openpyxl import Workbook

    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]))
    book = Workbook()
    sheet = book.active
    sheet.title = "flagged"
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / "outcomes.xlsx")
    return store


def test_a_workbook_with_a_date_typed_as_text_names_the_value(tmp_path):
    store = _store_and_workbook(
        tmp_path,
        [
            ["declaration_id", "inspected", "fraud", "inspected_on"],
            ["A", "yes", 1, datetime(2025, 11, 3)],
            ["B", "yes", 0, "31/02/2025"],  # typed as text, and no such day
        ],
    )
    result = runner.invoke(
        app, ["feedback", str(tmp_path / "outcomes.xlsx"), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "1 rejected" in result.output
    assert "inspected_on '31/02/2025' is not a date" in result.output


@pytest.mark.parametrize("name", [".lock", "store.json", "outcomes.parquet"])
@pytest.mark.parametrize("kind", ["folder", "pipe"])
def test_a_store_file_that_is_not_a_file_is_refused_before_any_work(tmp_path, name, kind):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]))
    (store / name).unlink(missing_ok=True)
    if kind == "folder":
        (store / name).mkdir()
    else:
        os.mkfifo(store / name)  # a pipe: reading the lock hung feedback
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("declaration_id,inspected,fraud\nA,true,1\n")
    result = subprocess.run(
        [sys.executable, "-m", "detector", "feedback", str(outcomes), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert f"Label store file {store / name} is not a regular file" in result.stderr
    assert LabelStore(store).flagged().height == 2


def test_a_folder_of_declarations_is_not_taken_for_a_store(tmp_path, synthetic_year):
    parts = tmp_path / "parts"
    parts.mkdir()
    synthetic_year.head(100).write_parquet(parts / "a.parquet")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("declaration_id,inspected,fraud\nA,true,1\n")
    result = runner.invoke(app, ["feedback", str(outcomes), "--store", str(parts)])
    assert result.exit_code == 2, result.output
    assert "holds data files that are not the store's (a.parquet)" in result.output
    assert sorted(p.name for p in parts.iterdir()) == ["a.parquet"]


def test_outcomes_in_another_currency_than_the_stores_are_refused(tmp_path):
    store = tmp_path / "store"
    LabelStore(store).record_flagged(_flagged(["A", "B"]), currency="USD")
    krw = tmp_path / "outcomes.csv"
    krw.write_text("declaration_id,inspected,fraud,revenue recovered (KRW)\nA,true,1,3000000\n")
    result = runner.invoke(app, ["feedback", str(krw), "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert (
        "gives revenue recovered in KRW" in result.output and "keeps money in USD" in result.output
    )
    assert LabelStore(store).outcomes().height == 0
    usd = tmp_path / "usd.csv"
    usd.write_text("declaration_id,inspected,fraud,revenue recovered (USD)\nA,true,1,3000\n")
    assert runner.invoke(app, ["feedback", str(usd), "--store", str(store)]).exit_code == 0
    assert LabelStore(store).outcomes()["revenue_recovered"].to_list() == [3000.0]


def test_an_outcome_formula_with_no_saved_value_is_named_not_skipped(tmp_path):
    store = _store_and_workbook(
        tmp_path,
        [
            ["declaration_id", "inspected", "fraud"],
            ["A", "yes", 1],
            ["B", "=TRUE()", "=1"],  # written by a script: no value saved with them
        ],
    )
    result = runner.invoke(
        app, ["feedback", str(tmp_path / "outcomes.xlsx"), "--store", str(store)]
    )
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "row 3, column 'inspected', holds the formula '=TRUE()' with no saved value" in said
    assert LabelStore(store).outcomes().height == 0


def test_a_damaged_record_of_the_stores_currency_is_refused_not_rewritten(tmp_path):
    """The store's currency keeps revenue in two currencies from being added up: a
    damaged record of it is refused, not taken for a new store's and rewritten."""
    store = LabelStore(tmp_path / "store")
    store.record_flagged(_flagged(["A"]), currency="USD")
    assert store.currency == "USD"
    store.check()
    store.about_path.write_text("{bad", encoding="utf-8")
    with pytest.raises(DetectorError, match="is damaged"):
        store.check()
    assert store.about_path.read_text(encoding="utf-8") == "{bad"


def test_outcomes_typed_in_while_a_run_works_stop_it_before_the_store_records(
    model_file, tmp_path, monkeypatch
):
    """A list workbook filled in by investigators while a run was writing its new one:
    the run is refused, their workbook kept, and the store left as it was."""
    openpyxl = pytest.importorskip("openpyxl")
    import detector.app.pipeline as pipeline

    path, _, score_file = model_file
    book, store = tmp_path / "flagged.xlsx", tmp_path / "store"
    pipeline.score_to_files([score_file], path, book, top="2%")
    written = pipeline.write_scores

    def meanwhile(result, out, rejects, **options):
        written(result, out, rejects, **options)
        filled = openpyxl.load_workbook(book)  # an investigator saves an outcome
        sheet = filled["flagged"]
        at = [c.value for c in sheet[1]].index("inspected") + 1
        sheet.cell(2, at, "true")
        filled.save(book)

    monkeypatch.setattr(pipeline, "write_scores", meanwhile)
    with pytest.raises(DetectorError, match="filled in by investigators"):
        pipeline.score_to_files([score_file], path, book, top="2%", store=store)
    assert not LabelStore(store).flagged_path.exists()
    sheet = openpyxl.load_workbook(book)["flagged"]
    assert sheet.cell(2, [c.value for c in sheet[1]].index("inspected") + 1).value == "true"


def test_an_outcome_typed_below_the_lists_table_is_named_not_dropped(model_file, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import detector.app.pipeline as pipeline

    path, _, score_file = model_file
    book = tmp_path / "flagged.xlsx"
    pipeline.score_to_files([score_file], path, book, top="2%")
    filled = openpyxl.load_workbook(book)
    sheet = filled["flagged"]
    header = [c.value for c in sheet[1]]
    below = sheet.max_row + 1  # a spreadsheet that does not grow the table
    sheet.cell(below, header.index("declaration id") + 1, "D-EXTRA")
    sheet.cell(below, header.index("inspected") + 1, "true")
    filled.save(book)
    result = runner.invoke(app, ["feedback", str(book), "--store", str(tmp_path / "store")])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"row {below} lies below the list's table" in said
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("content", [b"", b"PAR1 not the rest of a Parquet file"])
def test_a_broken_parquet_outcomes_file_is_exit_2(tmp_path, content):
    """Checking whether a file is a scored list must not read it harder than reading it
    does: a truncated or empty Parquet file is named, not a traceback."""
    path = tmp_path / "outcomes.parquet"
    path.write_bytes(content)
    result = runner.invoke(app, ["feedback", str(path), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2, result.output
    assert str(path) in " ".join(result.output.split())


def test_a_workbook_row_rejected_is_named_as_the_spreadsheet_numbers_it(tmp_path):
    """A row holding only a note, its inspected left blank, is read as an inspection
    without its finding: the reason says why, and names the row as the sheet shows it."""
    store = _store_and_workbook(
        tmp_path,
        [
            ["declaration_id", "inspected", "fraud", "note"],
            ["A", "yes", 1, None],
            ["B", None, None, "to check again"],
        ],
    )
    result = runner.invoke(
        app, ["feedback", str(tmp_path / "outcomes.xlsx"), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "rejected: sheet row 3, declaration B: fraud is missing, and a row without" in said
    assert "fill in fraud (0 or 1), or inspected = false" in said
