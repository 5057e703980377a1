import json
import os
import re
import time
import warnings
from datetime import date

import numpy as np
import polars as pl
import pytest
from conftest import GOOD_ROW
from typer.testing import CliRunner

from detector.app.cli import app
from detector.features._routes import route_string
from detector.models import is_thin

# Every test here fits a model, or reads one that a fixture fitted.
pytestmark = pytest.mark.slow

runner = CliRunner()
TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]


@pytest.fixture(scope="module")
def files(synthetic_year, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    history = synthetic_year.filter(pl.col("declaration_date") < date(2025, 10, 1))
    recent = synthetic_year.filter(pl.col("declaration_date") >= date(2025, 10, 1))
    history.drop(TRUTH).write_csv(folder / "history.csv")
    recent.write_parquet(folder / "recent.parquet")
    # One bad row in the batch: it must be rejected, not lost.
    bad = recent.head(1).with_columns(
        pl.lit("BAD-1").alias("declaration_id"), pl.lit(-5.0).alias("net_mass_kg")
    )
    pl.concat([recent, bad]).write_csv(folder / "batch.csv")
    model = folder / "model.joblib"
    result = runner.invoke(app, ["train", str(folder / "history.csv"), "--model", str(model)])
    assert result.exit_code == 0, result.output
    return folder, model, result.output


def test_train_reports_and_saves(files):
    folder, model, output = files
    assert model.exists()
    assert "trained on" in output and "validation" in output
    assert "precision" in output


def test_score_writes_ranked_list_and_rejects(files):
    folder, model, _ = files
    out, rejects = folder / "flagged.csv", folder / "rejects.csv"
    result = runner.invoke(
        app,
        [
            "score",
            str(folder / "batch.csv"),
            "--model",
            str(model),
            "--out",
            str(out),
            "--top",
            "5%",
            "--rejects",
            str(rejects),
        ],
    )
    assert result.exit_code == 0, result.output
    n = pl.read_csv(folder / "batch.csv", infer_schema=False).height
    assert f"read {n:,} rows = {n - 1:,} scored + 1 rejected" in result.output
    flagged = pl.read_csv(out, infer_schema=False)
    assert flagged.height == -(-(n - 1) * 5 // 100)
    assert flagged.columns[0] == "rank" and "reasons" in flagged.columns
    back = pl.read_csv(rejects, infer_schema=False)
    assert back["declaration_id"].to_list() == ["BAD-1"]
    assert "negative net_mass_kg" in back["reject_reason"][0]


def test_score_to_parquet_round_trip(files):
    folder, model, _ = files
    out = folder / "flagged.parquet"
    args = [
        "score",
        str(folder / "recent.parquet"),
        "--model",
        str(model),
        "--out",
        str(out),
        "--top",
        "300",
    ]
    assert runner.invoke(app, args).exit_code == 0
    df = pl.read_parquet(out)
    assert df.height == 300 and df["risk_score"].dtype == pl.Float64
    assert (df["selection"] == "exploration").sum() == 30


def test_evaluate_json_and_table(files):
    folder, model, _ = files
    result = runner.invoke(
        app, ["evaluate", str(folder / "recent.parquet"), "--model", str(model), "--json"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert set(metrics["at"]) == {"1%", "2%", "5%", "10%"}
    assert metrics["basis"] == "ground truth of every row"
    assert metrics["at"]["5%"]["precision"] > 0.9
    assert "undervaluation" in metrics["at"]["5%"]["recall_by_scheme"]
    table = runner.invoke(app, ["evaluate", str(folder / "recent.parquet"), "--model", str(model)])
    assert table.exit_code == 0 and "recall undervaluation" in table.output
    words = " ".join(table.output.replace("│", " ").split())
    assert "revenue share" in words  # a share of the recoverable revenue, said so
    n = pl.scan_parquet(folder / "recent.parquet").select(pl.len()).collect().item()
    assert f"{n:,}\u00a0rows" in table.output  # the caption keeps a number with its unit
    assert "`score --top` also gives a share of the capacity to exploration picks" in words


def test_explain_prints_a_case_card(files, synthetic_year):
    folder, model, _ = files
    recent = pl.read_parquet(folder / "recent.parquet")
    target = recent.filter(pl.col("true_fraud_type") == "undervaluation")["declaration_id"][0]
    result = runner.invoke(
        app, ["explain", target, "--model", str(model), "--input", str(folder / "recent.parquet")]
    )
    assert result.exit_code == 0, result.output
    for section in ("declaration", "score", "peer_prices", "route", "importer", "reasons"):
        assert section in result.output
    assert "percentiles_per_ton" in result.output
    currency = recent.filter(pl.col("declaration_id") == target)["currency"][0]
    # Every money figure and price per tonne carries the declaration's currency.
    assert re.search(rf"revenue_at_stake: [\d,]+ {currency}\n", result.output)
    assert re.search(rf"customs_value: [\d,]+ {currency}\n", result.output)
    assert re.search(rf"this_declaration_per_ton: [\d,]+ {currency}/t\n", result.output)
    assert f"({currency}/t)" in result.output
    args = ["explain", target, "--model", str(model), "--input", str(folder / "recent.parquet")]
    card = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert card["declaration"]["declaration_id"] == target
    assert card["reasons"][0].startswith("UNDERVALUED: ")  # its own evidence first
    assert card["what_to_check"][0].startswith("ask for the sales contract")
    score = card["score"]
    assert score["risk_95_low"] <= score["risk_score"] <= score["risk_95_high"]
    assert score["calibration_declarations"] > 0 and score["model_rank"] <= score["of_rows"]
    # A risk resting on few inspections says so; one resting on many does not.
    thin = is_thin(score["calibration_declarations"])
    assert ("caution" in score) == thin
    assert not thin or score["caution"].startswith("thin: the risk rests on")
    assert card["peer_prices"]["value_ratio"] < 1
    # The goods on their route: the training's inspections of this HS code on this route.
    history = pl.read_csv(folder / "history.csv", infer_schema_length=0)
    history = history.with_columns(route_string()).filter(
        (pl.col("hs_code") == card["declaration"]["hs_code"])
        & (pl.col("route") == card["route"]["route"])
        & (pl.col("inspected") == "true")
    )
    assert card["route"]["goods_on_route_inspections"] == history.height
    # Counts are whole numbers in the JSON, not 5.0.
    assert isinstance(card["route"]["goods_on_route_inspections"], int)
    assert isinstance(card["importer"]["importer_n_before"], int)
    assert isinstance(card["score"]["calibration_declarations"], int)
    assert card["route"]["goods_on_route_frauds"] == (history["fraud"] == "1").sum()
    assert 0 < card["route"]["goods_on_route_fraud_rate"] < 1
    # And at the declared duty rate: those of them declared at this one.
    at_duty = history.filter(
        pl.col("duty_rate_pct").cast(pl.Float64) == card["declaration"]["duty_rate_pct"]
    )
    assert card["route"]["goods_on_route_at_duty_inspections"] == at_duty.height
    assert card["route"]["goods_on_route_at_duty_frauds"] == (at_duty["fraud"] == "1").sum()
    assert card["route"]["goods_on_route_at_duty_pct"] == card["declaration"]["duty_rate_pct"]
    # A synthetic year's duty follows from the goods and their origin: on a lane the two
    # records count the same, and are quoted as one.
    assert card["route"]["goods_on_route_at_duty_inspections"] == history.height
    assert card["route"]["goods_on_route_at_duty_apart"] is False
    goods = pl.read_csv(folder / "history.csv", infer_schema_length=0).filter(
        pl.col("hs_code") == card["declaration"]["hs_code"]
    )
    assert card["route"]["goods_declarations"] == goods.height
    # The duty a cheaper origin avoids, as the duty at stake counts it.
    route = card["route"]
    gap = max(route["duty_gap"] or 0.0, route["hs_duty_gap"] or 0.0, 0.0)
    want = card["declaration"]["customs_value"] * gap / 100.0
    assert route["duty_at_stake"] == pytest.approx(want, abs=0.01)
    assert (
        card["route"]["origin_declarations"]
        == goods.filter(pl.col("country_origin") == card["declaration"]["country_origin"]).height
    )
    missing = runner.invoke(
        app, ["explain", "NOPE", "--model", str(model), "--input", str(folder / "recent.parquet")]
    )
    assert missing.exit_code == 2 and "Declaration NOPE is not in" in missing.output


def test_explain_of_an_id_the_input_repeats_says_the_other_rows_were_rejected(files, tmp_path):
    folder, model, _ = files
    recent = pl.read_parquet(folder / "recent.parquet").head(3_000)
    target = recent["declaration_id"][0]
    # The id again on three later rows of other goods: score keeps the first, rejects them.
    again = recent.slice(1_000, 3).with_columns(pl.lit(target).alias("declaration_id"))
    path = tmp_path / "in.parquet"
    pl.concat([recent, again]).write_parquet(path)
    args = ["explain", target, "--model", str(model), "--input", str(path), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    card = json.loads(result.output)
    assert card["caution"].startswith("3 more row(s) of the input have this id and were rejected")
    assert f"duplicate declaration_id '{target}'" in card["caution"]
    assert card["declaration"]["customs_value"] == recent["customs_value"][0]
    plain = runner.invoke(app, args[:-1])
    assert "caution\n  3 more row(s)" in plain.output
    # An id the input holds once has no such section.
    single = runner.invoke(app, [*args[:1], recent["declaration_id"][1], *args[2:]])
    assert "caution" not in json.loads(single.output)


def test_explain_says_when_a_risk_rests_on_few_inspections(files, monkeypatch):
    from detector.models import SmoothIsotonic

    folder, model, _ = files
    target = pl.read_parquet(folder / "recent.parquet")["declaration_id"][0]
    args = ["explain", target, "--model", str(model), "--input", str(folder / "recent.parquet")]
    few = (np.array([0.2]), np.array([0.9]), np.array([4.0]))
    monkeypatch.setattr(SmoothIsotonic, "interval", lambda self, risk: few)
    score = json.loads(runner.invoke(app, [*args, "--json"]).output)["score"]
    assert score["caution"] == (
        "thin: the risk rests on 4 inspections scored alike (fewer than 30); its interval is wide"
    )
    many = (np.array([0.2]), np.array([0.3]), np.array([400.0]))
    monkeypatch.setattr(SmoothIsotonic, "interval", lambda self, risk: many)
    assert "caution" not in json.loads(runner.invoke(app, [*args, "--json"]).output)["score"]


def test_explain_of_an_exploration_pick_says_so_and_its_rank_in_the_list(files, tmp_path):
    """Its rank in the list and how it was picked are read from the store the list was
    recorded in; without it, the card gives the model's rank, called so, and no other."""
    folder, model, _ = files
    recent, store = folder / "recent.parquet", tmp_path / "store"
    listed = tmp_path / "listed.parquet"
    args = ["score", str(recent), "--model", str(model), "--top", "2%", "--out", str(listed)]
    assert runner.invoke(app, [*args, "--store", str(store)]).exit_code == 0
    picks = pl.read_parquet(listed).filter(pl.col("selection") == "exploration").sort("rank")
    assert picks.height >= 1
    pick, rank = picks["declaration_id"][0], picks["rank"][0]
    explain = ["explain", pick, "--model", str(model), "--input", str(recent), "--json"]
    card = json.loads(runner.invoke(app, [*explain, "--store", str(store)]).output)
    assert card["listing"] == {
        "selection": "exploration",
        "list_rank": rank,
        "scored_on": str(date.today()),
    }
    assert card["reasons"][0].startswith("EXPLORATION: picked below the model's list")
    # Picked from below the model's own: the model ranks it after them.
    model_picks = int(pl.read_parquet(listed)["selection"].eq("model").sum())
    assert card["score"]["model_rank"] > model_picks and "rank" not in card["score"]
    # Without the store: the model rank, said to be no rank in a list.
    alone = runner.invoke(app, explain[:-1])
    assert alone.exit_code == 0, alone.output
    text = " ".join(alone.output.split())
    assert "listing not known without --store" in text
    assert f"model_rank: {card['score']['model_rank']:,}" in text
    assert not re.search(r"\brank: ", alone.output) and "EXPLORATION" not in text
    # A store without it, and no store at all.
    other = tmp_path / "other"
    other.mkdir()
    card = json.loads(runner.invoke(app, [*explain, "--store", str(other)]).output)
    assert card["listing"] == f"not on any list recorded in the label store {other}"
    missing = runner.invoke(app, [*explain, "--store", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert f"There is no label store folder {tmp_path / 'nowhere'}" in missing.output


def test_money_in_another_currency_is_neither_explained_nor_added_up_silently(files, tmp_path):
    folder, model, _ = files
    recent = pl.read_parquet(folder / "recent.parquet")
    target = recent["declaration_id"][0]
    euros = tmp_path / "eur.parquet"
    recent.with_columns(
        pl.when(pl.col("declaration_id") == target).then(pl.lit("EUR")).otherwise("currency")
        .alias("currency")
    ).write_parquet(euros)  # fmt: skip
    args = ["explain", target, "--model", str(model), "--input", str(euros)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "currency 'EUR' differs from the model's" in refused.output
    # A label store that keeps EUR is warned about when a USD model records in it.
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_text('{"currency": "EUR"}')
    args = ["score", str(folder / "recent.parquet"), "--model", str(model), "--top", "1%"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "f.csv"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "keeps money in EUR and this model's is USD" in " ".join(result.output.split())


def test_score_with_a_missing_column_is_exit_2(files, tmp_path):
    _, model, _ = files
    src = tmp_path / "x.csv"
    pl.DataFrame([{k: v for k, v in GOOD_ROW.items() if k != "hs_code"}]).write_csv(src)
    result = runner.invoke(
        app, ["score", str(src), "--model", str(model), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2 and "no column 'hs_code'" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_score_without_a_field_the_model_reads_is_exit_2_naming_it(synthetic_year, tmp_path):
    # A profile's own field is a feature of the model trained with it: an input of
    # another layout, without it, is refused in one sentence, not a failure. A field
    # the training rows lacked too ("Chan") is no feature of the model: never asked for.
    profile = tmp_path / "office.toml"
    profile.write_text(
        'name = "office"\nfeatures = ["procedure", "channel"]\n\n'
        '[columns]\n"Proc" = "procedure"\n"Chan" = "channel"\n'
    )
    year = synthetic_year.sort("declaration_date").head(12_000).drop(TRUTH)
    year = year.with_columns(pl.format("P{}", pl.int_range(pl.len()) % 3).alias("Proc"))
    train, batch = tmp_path / "train.csv", tmp_path / "batch.csv"
    year.head(10_000).write_csv(train)
    year.tail(2_000).drop("Proc").write_csv(batch)
    model, out = tmp_path / "m.joblib", tmp_path / "o.csv"
    result = runner.invoke(
        app, ["train", str(train), "--model", str(model), "--schema", str(profile)]
    )
    assert result.exit_code == 0, result.output
    for command in (
        ["score", str(batch), "--model", str(model), "--out", str(out)],
        ["explain", year["declaration_id"][-1], "--model", str(model), "--input", str(batch)],
    ):
        result = runner.invoke(app, [*command, "--schema", str(profile)])
        assert result.exit_code == 2, result.output
        assert "lacks the column(s) 'procedure' ('Proc' in the office layout) that" in result.output
    assert not out.exists()
    # The training layout itself (with "Proc", without "Chan") is scored.
    args = ["score", str(train), "--model", str(model), "--out", str(out), "--top", "5%"]
    result = runner.invoke(app, [*args, "--schema", str(profile)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("labels", [True, False])
def test_training_without_enough_labels_is_exit_2_before_any_features(
    synthetic_year, tmp_path, labels
):
    # A few hundred declarations (27 inspected), or thousands without any outcome:
    # said plainly, and no model written.
    few = synthetic_year.sort("declaration_date").drop(TRUTH)
    few = few.head(300) if labels else few.head(5000).drop("inspected", "fraud")
    src = tmp_path / "few.csv"
    few.write_csv(src)
    model = tmp_path / "m.joblib"
    result = runner.invoke(app, ["train", str(src), "--model", str(model)])
    assert result.exit_code == 2, result.output
    assert "at least 50 inspected declarations with both outcomes" in result.output
    assert ("found 0 inspected" in result.output) is not labels
    assert not model.exists()


def test_demo_runs_end_to_end(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--rows", "40000"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flagged.csv").exists() and (tmp_path / "model.joblib").exists()
    assert "<svg" in (tmp_path / "report.html").read_text()
    assert "C0001" in result.output  # the top of the list, case by case
    assert "at 5 % capacity: precision" in result.output
    assert "undervaluation" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ""])
def test_a_scored_list_is_a_valid_input_to_score_and_explain(files, suffix):
    folder, model, _ = files
    listed = folder / f"listed{suffix}"
    args = ["score", str(folder / "recent.parquet"), "--model", str(model)]
    assert runner.invoke(app, [*args, "--out", str(listed), "--top", "2%"]).exit_code == 0
    if suffix == ".csv":
        first = pl.read_csv(listed, infer_schema=False)
    elif suffix == ".parquet":
        first = pl.read_parquet(listed)
    else:  # a folder of partitions by day
        first = pl.concat([pl.read_parquet(p) for p in sorted(listed.rglob("*.parquet"))])
    again = folder / f"again{suffix}.csv"
    args = ["score", str(listed), "--model", str(model), "--out", str(again)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"read {first.height:,} rows = {first.height:,} scored + 0 rejected" in result.output
    assert result.output.count("the input is a scored list (") == 1  # once, not per file
    assert "its rank, risk_score" in result.output
    rescored = pl.read_csv(again, infer_schema=False)
    assert rescored.columns.count("rank") == 1 and rescored.height == first.height
    assert sorted(rescored["declaration_id"]) == sorted(first["declaration_id"])
    ident = str(first["declaration_id"][0])
    result = runner.invoke(app, ["explain", ident, "--model", str(model), "--input", str(listed)])
    assert result.exit_code == 0, result.output
    assert f"declaration_id: {ident}" in result.output


def test_training_names_each_step_as_it_starts(files, tmp_path, monkeypatch):
    from detector.app.pipeline import train
    from detector.features import StageCache

    folder, _, _ = files
    steps: list[str] = []
    taken: list[bool] = []
    get = StageCache.get

    def counted(self, key):
        kept = get(self, key)
        taken.append(kept is not None)
        return kept

    monkeypatch.setattr(StageCache, "get", counted)
    train([folder / "history.csv"], tmp_path / "m.joblib", step=steps.append)
    # The fit again on every row takes the months the first fit staged, but the one the
    # measured fifth begins in, which it holds more of.
    dates = pl.read_csv(folder / "history.csv", try_parse_dates=True)["declaration_date"]
    first, last = dates.min(), dates.max()
    cut = first + (last - first) * 0.8
    months = dates.dt.truncate("1mo")
    n_first, n_all = months.filter(dates <= cut).n_unique(), months.n_unique()
    assert taken == [False] * n_first + [True] * (n_first - 1) + [False] * (n_all - n_first + 1)
    # Without --valid: measured on the last fifth, then fitted again on every row.
    assert [s.split(" ")[0] for s in steps] == [
        "reading",
        "fitting",
        "measuring",
        "fitting",
        "saving",
    ]
    assert "declarations" in steps[1] and steps[3].startswith("fitting again on all ")
    assert str(tmp_path / "m.joblib") in steps[4]


def test_a_night_of_rejected_rows_is_warned_of(files, tmp_path):
    """All rows rejected: exit 2 with the commonest reason, no list, the rejects file
    whole. Half of them (the same day given twice): a warning in the log, with the
    commonest reason, not only a count in the summary line."""
    folder, model, _ = files
    day = pl.read_parquet(folder / "recent.parquet").head(200)
    day.write_parquet(tmp_path / "day.parquet")
    day.write_parquet(tmp_path / "copy.parquet")
    day.with_columns(pl.lit(-5.0).alias("net_mass_kg")).write_parquet(tmp_path / "bad.parquet")
    args = ["score", "--model", str(model), "--top", "5%"]
    bad = runner.invoke(
        app, [*args, str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "b.csv")]
    )
    assert bad.exit_code == 2, bad.output
    said = " ".join(bad.output.split())
    assert f"No row of {tmp_path / 'bad.parquet'} could be scored: all 200 were rejected;" in said
    assert "200 of them: negative net_mass_kg (pass --rejects FILE" in said
    assert "Traceback" not in bad.output and not (tmp_path / "b.csv").exists()
    kept = runner.invoke(
        app,
        [*args, str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "b.csv")]
        + ["--rejects", str(tmp_path / "b-rejects.csv")],
    )
    assert kept.exit_code == 2 and not (tmp_path / "b.csv").exists()
    assert pl.read_csv(tmp_path / "b-rejects.csv").height == 200
    twice = [str(tmp_path / "day.parquet"), str(tmp_path / "copy.parquet")]
    result = runner.invoke(app, [*args, *twice, "--out", str(tmp_path / "t.csv")])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "warning: 200 of 400 rows (50%) were rejected" in said
    assert "duplicate" in said.split("warning: 200 of 400 rows")[1]
    one_bad = runner.invoke(
        app, [*args, str(folder / "batch.csv"), "--out", str(tmp_path / "o.csv")]
    )
    assert one_bad.exit_code == 0 and "were rejected" not in one_bad.output  # 1 row of many


def test_a_score_run_removes_what_a_killed_run_left_beside_its_outputs(files, tmp_path):
    import subprocess
    import sys

    from detector.io.leftovers import owner_tag

    folder, model, _ = files
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    left = tmp_path / f".staged.{owner_tag().split('@')[0]}@{dead}.q1"
    left.mkdir()
    (left / "flagged.xlsx").write_bytes(b"half a workbook")
    day_ago = time.time() - 24 * 3600
    os.utime(left, (day_ago, day_ago))
    args = ["score", str(folder / "recent.parquet"), "--model", str(model), "--top", "2%"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "flagged.csv")])
    assert result.exit_code == 0, result.output
    # (the system's temporary folder may hold more of this host's: at least this one)
    said = " ".join(result.output.split())
    assert re.search(r"removed \d+ work folders left by earlier runs that were killed", said)
    assert not left.exists() and (tmp_path / "flagged.csv").exists()


def test_training_with_a_store_says_which_outcomes_it_could_not_use(files, tmp_path):
    """Outcomes of days whose files are not among the inputs label nothing: said, with
    what to add, rather than a silent '0 declarations labelled'."""
    folder, _, _ = files
    history = pl.read_csv(folder / "history.csv", infer_schema=False)
    recent = pl.read_parquet(folder / "recent.parquet")
    ids = [*history["declaration_id"].head(2), *recent["declaration_id"].head(3)]
    pl.DataFrame({"declaration_id": ids, "inspected": ["true"] * 5, "fraud": ["0"] * 5}).write_csv(
        tmp_path / "outcomes.csv"
    )
    store = tmp_path / "store"
    fed = runner.invoke(app, ["feedback", str(tmp_path / "outcomes.csv"), "--store", str(store)])
    assert fed.exit_code == 0, fed.output
    args = ["train", str(folder / "history.csv"), "--store", str(store)]
    result = runner.invoke(app, [*args, "--model", str(tmp_path / "m.joblib")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"2 declarations labelled from the store {store}" in said
    assert "warning: 3 of the store's 5 outcomes match no declaration of the input" in said
    # A store path that is not there is a mistake, not a store without outcomes.
    typo = runner.invoke(
        app, [*args[:2], "--store", str(tmp_path / "stroe"), "--model", str(tmp_path / "m2.joblib")]
    )
    assert typo.exit_code == 2 and f"Label store {tmp_path / 'stroe'} does not exist" in " ".join(
        typo.output.split()
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_feedback_refuses_a_scored_list_whose_labels_are_the_inputs(files, tmp_path, suffix):
    """A CSV or Parquet list carries the scored input's columns, its labels among them:
    fed back, they would enter the store as what inspecting the list found."""
    folder, model, _ = files
    listed = tmp_path / f"list{suffix}"
    args = ["score", str(folder / "recent.parquet"), "--model", str(model), "--top", "2%"]
    assert runner.invoke(app, [*args, "--out", str(listed)]).exit_code == 0
    assert pl.read_parquet(folder / "recent.parquet")["fraud"].drop_nulls().len() > 0
    store = tmp_path / "store"
    result = runner.invoke(app, ["feedback", str(listed), "--store", str(store)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"Outcomes file {listed} is a scored list (columns rank and risk_score)" in said
    assert "--out list.xlsx" in said and not store.exists()


def test_training_with_a_store_labels_the_validation_files_too(files, tmp_path):
    """Outcomes reported on validation days are what the validation is measured on:
    a validation file with no label of its own is measured on the store's 40."""
    from detector.io.persist import load_model

    folder, _, _ = files
    recent = pl.read_parquet(folder / "recent.parquet")
    unlabelled = recent.drop(TRUTH).with_columns(
        pl.lit(False).alias("inspected"), pl.lit(None, pl.Int8).alias("fraud")
    )
    unlabelled.write_csv(tmp_path / "valid.csv")
    ids = recent["declaration_id"]
    outcomes = pl.DataFrame(
        {
            "declaration_id": [*ids.head(40), "NOT-SCORED-1", "NOT-SCORED-2"],
            "inspected": ["true"] * 42,
            "fraud": ["1"] * 20 + ["0"] * 22,
        }
    )
    outcomes.write_csv(tmp_path / "outcomes.csv")
    store = tmp_path / "store"
    fed = runner.invoke(app, ["feedback", str(tmp_path / "outcomes.csv"), "--store", str(store)])
    assert fed.exit_code == 0, fed.output
    args = ["train", str(folder / "history.csv"), "--valid", str(tmp_path / "valid.csv")]
    model = ["--model", str(tmp_path / "m.joblib")]
    result = runner.invoke(app, [*args, "--store", str(store), *model])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"40 declarations labelled from the store {store} (40 of them validation rows)" in said
    assert "warning: 2 of the store's 42 outcomes match no declaration" in said
    assert "also among the training declarations" not in said
    _, metadata = load_model(tmp_path / "m.joblib")
    assert metadata["validation"]["rows"] == 40 and metadata["validation"]["frauds"] == 20
    assert metadata["rows"]["valid_labels_from_store"] == 40
    # Validation rows that are training rows too: said, and each outcome counted once.
    again = [str(folder / "history.csv"), str(tmp_path / "valid.csv"), "--valid", args[-1]]
    twice = runner.invoke(
        app, ["train", *again, "--store", str(store), *model[:1], str(tmp_path / "m3.joblib")]
    )
    said = " ".join(twice.output.split())
    assert twice.exit_code == 0, twice.output
    n = unlabelled.height
    assert f"warning: {n:,} of the validation declarations are also among the training" in said
    assert "warning: 2 of the store's 42 outcomes match no declaration" in said
    # Without the store the same validation file has nothing to be measured on.
    alone = runner.invoke(app, [*args, "--model", str(tmp_path / "m2.joblib")])
    assert alone.exit_code == 2 and "no labelled rows" in " ".join(alone.output.split())


def test_input_columns_named_like_the_lists_in_other_letters_keep_the_workbook_whole(
    files, tmp_path
):
    """An Excel table reads ``Rank`` as ``rank``: an input column so named gets a number,
    the list's and the outcome columns keep theirs, and feedback reads the workbook."""
    openpyxl = pytest.importorskip("openpyxl")
    from detector.io.output import column_name

    folder, model, _ = files
    rows = pl.read_parquet(folder / "recent.parquet").head(3_000)
    rows.with_columns(
        pl.lit("x").alias("Rank"), pl.lit("2025-01-01").alias("Inspected On")
    ).write_parquet(tmp_path / "in.parquet")
    book = tmp_path / "flagged.xlsx"
    args = ["score", str(tmp_path / "in.parquet"), "--model", str(model), "--out", str(book)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xlsxwriter's warning of a header twice
        result = runner.invoke(app, [*args, "--top", "20"])
    assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["flagged"]
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 21 and sheet.tables["flagged"].ref.endswith("21")
    assert header[:2] == ["rank", "declaration_id"] and "Rank (2)" in header
    assert header[-1] == "inspected_on" and "Inspected On" in header
    assert len({h.casefold() for h in header}) == len(header)
    inputs = ("Rank (2)", "Inspected On")
    at = {column_name(h): header.index(h) + 1 for h in header if h not in inputs}
    sheet.cell(2, at["inspected"], "true")
    sheet.cell(2, at["fraud"], "1")
    workbook.save(tmp_path / "filled.xlsx")
    store = tmp_path / "store"
    done = runner.invoke(app, ["feedback", str(tmp_path / "filled.xlsx"), "--store", str(store)])
    assert done.exit_code == 0, done.output
    assert "read 1 outcomes = 1 added" in done.output


def test_the_workbook_is_filled_in_and_read_back_by_feedback(files, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from detector.io.output import column_name

    folder, model, _ = files
    book = tmp_path / "flagged.xlsx"
    args = ["score", str(folder / "recent.parquet"), "--model", str(model), "--out", str(book)]
    assert runner.invoke(app, [*args, "--top", "2%"]).exit_code == 0
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["flagged"]
    assert workbook.sheetnames == ["flagged", "cases", "run"]
    run = {r[0]: r[1] for r in workbook["run"].iter_rows(min_row=2, values_only=True)}
    assert run["currency of money columns"] == "USD" and "from" not in run["flagged (the capacity)"]
    assert run["model trained on declarations of"].startswith("2025-01-")
    assert list(sheet.tables) == ["flagged"] and list(workbook["cases"].tables) == ["cases"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "C2"  # the header, the rank and the id stay in view
    # Headers in words, money with its currency; the columns they name, as written.
    assert header[:2] == ["rank", "declaration id"]
    assert header[-6:] == ["inspected", "fraud", "fraud type", "revenue recovered (USD)"] + [
        "note",
        "inspected on",
    ]
    assert "revenue at stake (USD)" in header and not [h for h in header if "_" in h]
    assert not [h for h in header if h.startswith("true")]
    at = {column_name(name): header.index(name) + 1 for name in header}
    assert sheet.cell(2, at["value_ratio"]).number_format == "0%"
    assert sheet.cell(2, at["revenue_at_stake"]).number_format == '#,##0 "USD"'
    assert sheet.cell(2, at["revenue_recovered"]).number_format == '#,##0 "USD"'
    rules = {r.formula1: r.type for r in sheet.data_validations.dataValidation}
    assert '"true,false"' in rules and '"0,1"' in rules
    assert {"decimal", "date"} <= set(rules.values())  # revenue recovered, inspected on
    cases = workbook["cases"]
    widths = {c.value: cases.column_dimensions[c.column_letter].width for c in cases[1]}
    assert widths["sellers"] < 40  # wrapped, not one line hundreds of characters wide
    # Investigators fill in three rows; feedback reads exactly those back.
    ids = [sheet.cell(r, at["declaration_id"]).value for r in (2, 3, 4)]
    outcomes = (("true", "1"), ("true", "0"), ("false", None))
    for row, (inspected, fraud) in zip((2, 3, 4), outcomes, strict=True):
        sheet.cell(row, at["inspected"], inspected)
        sheet.cell(row, at["fraud"], fraud)
    sheet.cell(2, at["fraud_type"], "undervaluation")
    workbook.save(tmp_path / "filled.xlsx")
    store = tmp_path / "store"
    result = runner.invoke(app, ["feedback", str(tmp_path / "filled.xlsx"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "read 3 outcomes = 3 added" in result.output
    stored = pl.read_parquet(store / "outcomes.parquet").sort("declaration_id")
    assert sorted(stored["declaration_id"]) == sorted(ids)
    assert (
        stored.filter(pl.col("declaration_id") == ids[0])["fraud_type"].item() == "undervaluation"
    )
    # Scoring again over the filled workbook would lose the investigators' work: refused,
    # before any work; over the list as written (nothing filled in), it is replaced.
    before = (tmp_path / "filled.xlsx").read_bytes()
    again = runner.invoke(app, [*args[:-1], str(tmp_path / "filled.xlsx"), "--top", "2%"])
    assert again.exit_code == 2
    said = " ".join(again.output.split())
    assert "holds inspection outcomes filled in by investigators (row 2 and perhaps" in said
    # nor through another option or command
    other = [*args[:-1], str(tmp_path / "other.xlsx"), "--rejects", str(tmp_path / "filled.xlsx")]
    assert runner.invoke(app, [*other, "--top", "2%"]).exit_code == 2
    validate = ["validate", str(folder / "recent.parquet"), "--out", str(tmp_path / "filled.xlsx")]
    assert runner.invoke(app, validate).exit_code == 2
    gen = runner.invoke(app, ["generate", "--rows", "10", "--out", str(tmp_path / "filled.xlsx")])
    assert gen.exit_code == 2 and "filled in by investigators" in gen.output
    assert (tmp_path / "filled.xlsx").read_bytes() == before
    assert runner.invoke(app, [*args, "--top", "2%"]).exit_code == 0


COMMANDS = ("generate", "validate", "train", "score", "evaluate", "explain", "feedback",
            "monitor", "demo", "simulate")  # fmt: skip


def test_every_command_shows_an_example_in_its_help():
    for command in COMMANDS:
        out = runner.invoke(app, [command, "--help"], terminal_width=200).output
        assert f"Example: detector {command} " in out, command


def test_help_names_what_to_give_not_python_types():
    # No <bool> for flags, no <list[Path]> or <list[str]> for lists; the schema
    # option names its choices.
    def text(args: list[str]) -> str:  # the help's words, out of rich's wrapped panels
        out = runner.invoke(app, args, terminal_width=200).output
        return " ".join(out.replace("│", " ").split())

    outputs = {c: text([c, "--help"]) for c in COMMANDS}
    outputs["detector"] = text(["--help"])
    for command, out in outputs.items():
        assert "--help" in out, command
        assert "<bool>" not in out and "list[" not in out, command
        if "--schema" in out:
            assert "canonical, kcs, or a TOML file" in out, command
    assert "FILE" in outputs["score"] and "NAME" in outputs["simulate"]
    from detector.models import POLICIES

    assert all(name in outputs["simulate"] for name in POLICIES)  # every policy offered


def test_a_model_trained_with_a_users_profile_reads_its_layout_without_the_file(
    synthetic_year, tmp_path
):
    """The profile is kept in the model: score, explain and evaluate read the user's
    layout without ``--schema`` and without the TOML file beside them."""
    layout = {"importer_id": "Consignee", "customs_value": "Value", "net_mass_kg": "Mass kg"}
    rows = synthetic_year.drop(TRUTH).sample(12_000, seed=3).sort("declaration_date")
    rows = rows.rename(layout)
    history = rows.filter(pl.col("declaration_date") < date(2025, 10, 1))
    recent = rows.filter(pl.col("declaration_date") >= date(2025, 10, 1))
    history.write_csv(tmp_path / "history.csv")
    recent.write_csv(tmp_path / "recent.csv")
    profile = tmp_path / "office.toml"
    mapped = "\n".join(f'"{theirs}" = "{ours}"' for ours, theirs in layout.items())
    profile.write_text(f'name = "my-office"\ncurrency = "USD"\n\n[columns]\n{mapped}\n')
    model = tmp_path / "office.joblib"
    args = ["train", str(tmp_path / "history.csv"), "--schema", str(profile)]
    assert runner.invoke(app, [*args, "--model", str(model)]).exit_code == 0
    profile.unlink()  # gone: the model carries it
    out = tmp_path / "flagged.csv"
    args = ["score", str(tmp_path / "recent.csv"), "--model", str(model), "--out", str(out)]
    result = runner.invoke(app, [*args, "--top", "1%"])
    assert result.exit_code == 0, result.output
    flagged = pl.read_csv(out, infer_schema=False)
    assert flagged.height == round(recent.height * 0.01) and "importer_id" in flagged.columns
    first = flagged["declaration_id"][0]
    shown = runner.invoke(
        app, ["explain", first, "--model", str(model), "--input", str(tmp_path / "recent.csv")]
    )
    assert shown.exit_code == 0, shown.output
    measured = runner.invoke(app, ["evaluate", str(tmp_path / "recent.csv"), "--model", str(model)])
    assert measured.exit_code == 0, measured.output


def test_a_model_keeping_records_under_ids_as_written_is_refused_not_scored_blind(files, tmp_path):
    """A model trained before ids were read in their record's form, on ids written in
    small letters, would match none of today's: refused with what to do."""
    from detector.io.persist import load_model, read_metadata, save_model

    folder, model, _ = files
    fitted, _ = load_model(model)
    tables = fitted.features_.entities_.tables
    tables["importer"] = tables["importer"].with_columns(pl.col("importer_id").str.to_lowercase())
    old = save_model(fitted, read_metadata(model), tmp_path / "old.joblib")
    out = tmp_path / "o.csv"
    args = ["score", str(folder / "recent.parquet"), "--model", str(old), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and not out.exists()
    said = " ".join(result.output.split())
    assert "keeps its importers' records under ids as written" in said
    assert "retrain it with this version" in said
    # The model as trained (ids in their record's form) scores.
    assert runner.invoke(app, [*args[:3], str(model), *args[4:]]).exit_code == 0
