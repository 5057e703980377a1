"""The label store: feedback is idempotent, conflicts and unknowns are reported, nothing
is lost to concurrent runs or crashes, and fed-back outcomes make the next model better."""

import subprocess
import sys
from datetime import date

import numpy as np
import polars as pl
import pytest
from conftest import TRUTH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from detector import DetectorError
from detector.cli import app
from detector.labels import LabelStore
from detector.persist import load_model
from detector.pipeline import measure, score, train
from models._predict import predict_positive

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
    assert "fraud is not 0 or 1" in result.rejects["reject_reason"][0]

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


def test_monitor_of_an_empty_store_says_what_to_do(tmp_path):
    result = runner.invoke(app, ["monitor", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2 and "detector feedback" in result.output


_FEEDER = """
import sys
from detector.labels import LabelStore
LabelStore(sys.argv[1]).add_outcomes(sys.argv[2])
"""


def test_two_feedback_runs_at_once_both_land(tmp_path):
    store = tmp_path / "store"
    files = []
    for part in range(2):
        rows = [
            {"declaration_id": f"P{part}-{i}", "fraud": str(i % 2), "inspected_on": "2025-10-05"}
            for i in range(3000)
        ]
        files.append(_outcomes(tmp_path / f"o{part}.csv", rows))
    for _ in range(3):  # a few rounds, so that the runs really overlap
        procs = [
            subprocess.Popen([sys.executable, "-c", _FEEDER, str(store), str(f)]) for f in files
        ]
        assert [p.wait() for p in procs] == [0, 0]
    stored = LabelStore(store).outcomes()
    assert stored.height == 6000 and stored["declaration_id"].n_unique() == 6000


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
