"""Scoring piece by piece: the same scores however the batch is cut, read or run."""

import os
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from detector.app.cli import app
from detector.app.pipeline import score, write_scores
from detector.batch.stream import Runner, plan_pieces
from detector.errors import DetectorError

COLUMNS = ["rank", "declaration_id", "risk_score", "reasons", "selection", "case_id"]


@pytest.fixture(scope="module")
def scored(trained_model):
    """The reference: the recent months read as one file, in one piece."""
    path, _, score_file = trained_model
    return score([score_file], path, top="5%")


@pytest.fixture(scope="module")
def layouts(trained_model, tmp_path_factory):
    """The same declarations as one CSV and as hive-style daily Parquet partitions."""
    _, _, score_file = trained_model
    folder = tmp_path_factory.mktemp("layouts")
    df = pl.read_parquet(score_file)
    csv = folder / "recent.csv"
    df.write_csv(csv)
    hive = folder / "daily"
    # The partition column is left out of the files: it comes back from the path.
    for (day,), part in df.group_by("declaration_date", maintain_order=True):
        target = hive / f"day={day}"
        target.mkdir(parents=True)
        part.write_parquet(target / "part-0.parquet")
    return csv, hive


def test_a_csv_file_of_one_piece_is_read_as_it_is_and_a_larger_one_is_cut(layouts, tmp_path):
    csv, _ = layouts
    n = pl.scan_csv(csv).select(pl.len()).collect().item()
    whole = plan_pieces([csv], tmp_path / "a")
    assert [(p.kind, p.path, p.rows) for p in whole.pieces[0].parts] == [("csv", str(csv), n)]
    assert not (tmp_path / "a" / "csv").exists()
    cut = plan_pieces([csv], tmp_path / "b", piece_rows=n // 2)
    assert {p.kind for piece in cut.pieces for p in piece.parts} == {"parquet"}
    assert sum(p.rows for p in cut.pieces) == n
    assert (
        whole.pieces[0].scan().collect().equals(pl.concat([p.scan().collect() for p in cut.pieces]))
    )


def test_a_file_neither_route_can_read_gets_the_same_sentence(trained_model, layouts, tmp_path):
    path, _, _ = trained_model
    csv, _ = layouts
    lines = csv.read_text().splitlines()
    lines[2_500] += ",surplus"  # a row too wide, past the first pieces
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    said = f"CSV file {bad} line 2501 has"
    with pytest.raises(DetectorError, match=said):  # read as it is
        score([bad], path, top="5%")
    with pytest.raises(DetectorError, match=said):  # cut into pieces first
        plan_pieces([bad], tmp_path / "w", piece_rows=1_000)
    time.sleep(0.5)  # a piece Polars' writers finish late must not come back
    assert not (tmp_path / "w" / "csv" / "0").exists()  # no piece of the failed cutting


def test_pieces_cover_the_batch_in_reading_order(trained_model, layouts, tmp_path):
    _, _, score_file = trained_model
    n = pl.scan_parquet(score_file).select(pl.len()).collect().item()
    plan = plan_pieces([score_file], tmp_path, piece_rows=4_000)
    assert [p.rows for p in plan.pieces][:-1] == [4_000] * (len(plan.pieces) - 1)
    assert sum(p.rows for p in plan.pieces) == n
    assert [p.offset for p in plan.pieces] == [4_000 * i for i in range(len(plan.pieces))]
    first = plan.pieces[1].scan().collect()
    assert first["input_row"][0] == 4_001
    assert first["declaration_id"].to_list() == (
        pl.read_parquet(score_file)["declaration_id"].slice(4_000, 4_000).to_list()
    )
    # Small daily partitions are grouped into pieces of at most piece_rows rows.
    _, hive = layouts
    daily = plan_pieces([hive], tmp_path / "h", piece_rows=5_000)
    assert 1 < len(daily.pieces) < 92
    assert all(p.rows <= 5_000 for p in daily.pieces)
    assert sum(p.rows for p in daily.pieces) == n
    assert dict(daily.pieces[0].parts[0].hive) == {"day": "2025-10-01"}


@pytest.mark.parametrize(
    "layout, piece_rows, workers",
    [
        ("parquet", 1_500, 1),
        ("csv", 2_500, 1),
        ("csv", None, 1),  # one piece: the CSV file read as it is, not cut into Parquet
        ("csv", None, 2),
        ("hive", 4_000, 1),
        ("parquet", 3_000, 2),
    ],
)
def test_same_scores_however_the_batch_is_cut(
    trained_model, layouts, scored, layout, piece_rows, workers
):
    path, _, score_file = trained_model
    csv, hive = layouts
    files = {"parquet": score_file, "csv": csv, "hive": hive}[layout]
    result = score([files], path, top="5%", piece_rows=piece_rows, runner=Runner(workers))
    assert result.n_read == scored.n_read
    assert result.scored.select(COLUMNS).equals(scored.scored.select(COLUMNS))
    assert result.drift.psi == scored.drift.psi
    assert result.drift.unseen == scored.drift.unseen


@pytest.mark.parametrize("piece_rows", [None, 3_000])
def test_the_screened_list_is_the_whole_classifiers_list(
    trained_model, scored, tmp_path, piece_rows
):
    """With a capacity, the whole classifier scores only the screen's candidates; the
    list is the one it gives when it scores every row."""
    from dataclasses import replace

    from detector.io.persist import load_model, read_metadata, save_model

    path, _, score_file = trained_model
    model, _ = load_model(path)
    model.config = replace(model.config, screen_trees=0)
    exact = save_model(model, read_metadata(path), tmp_path / "exact.joblib")
    every = score([score_file], exact, top="5%", piece_rows=piece_rows)
    screened = (
        scored if piece_rows is None else score([score_file], path, top="5%", piece_rows=piece_rows)
    )
    assert "rescore" in screened.timings and "rescore" not in every.timings
    assert screened.scored.select(COLUMNS).equals(every.scored.select(COLUMNS))


def test_batch_wide_features_count_declarations_in_other_pieces(trained_model, tmp_path):
    """A split shipment cut in two still counts as one importer's day of parcels."""
    path, _, score_file = trained_model
    df = pl.read_parquet(score_file).head(3_000)
    parcels = df.head(6).with_columns(
        pl.format("SPLIT{}", pl.int_range(6)).alias("declaration_id"),
        pl.lit("IM-SPLIT").alias("importer_id"),
        pl.lit("SE-SPLIT").alias("seller_id"),
        pl.lit(df["declaration_date"][0]).alias("declaration_date"),
        pl.lit(140.0).alias("customs_value"),
    )
    # Three parcels at the start of the file, three at its end: different pieces.
    batch = pl.concat([parcels.head(3), df, parcels.tail(3)])
    batch.write_parquet(tmp_path / "batch.parquet")
    whole = score([tmp_path / "batch.parquet"], path, piece_rows=10_000)
    cut = score([tmp_path / "batch.parquet"], path, piece_rows=1_000)
    written = []
    for name, result in (("whole", whole), ("cut", cut)):
        write_scores(result, tmp_path / f"{name}.parquet", None)
        out = pl.read_parquet(tmp_path / f"{name}.parquet")
        assert out.height == batch.height
        assert out["rank"].to_list() == list(range(1, batch.height + 1))
        split = out.filter(pl.col("importer_id") == "IMSPLIT")  # in its record's form
        assert split.height == 6
        said = " ".join(split["reasons"].drop_nulls().list.join(" ").to_list())
        assert "SPLIT_SHIPMENT: 6 declarations" in said
        written.append(out)
    assert written[0].equals(written[1])


def test_duplicate_ids_across_pieces_are_rejected_once(trained_model, tmp_path):
    path, _, score_file = trained_model
    df = pl.read_parquet(score_file).head(2_000)
    copy = df.slice(10, 1).with_columns(pl.lit(99.0).alias("customs_value"))
    pl.concat([df, copy]).write_parquet(tmp_path / "dup.parquet")
    for piece_rows in (5_000, 500):
        result = score([tmp_path / "dup.parquet"], path, top="10", piece_rows=piece_rows)
        assert result.n_read == 2_001 and result.rejects.height == 1
        assert result.rejects["input_row"].to_list() == [2_001]
        assert "duplicate declaration_id" in result.rejects["reject_reason"][0]


def test_the_whole_ranked_list_is_written_in_rank_order(trained_model, tmp_path):
    path, _, score_file = trained_model
    result = score([score_file], path, piece_rows=2_000)
    for name in ("all.csv", "all.parquet"):
        write_scores(result, tmp_path / name, None)
        out = (pl.read_csv if name.endswith("csv") else pl.read_parquet)(tmp_path / name)
        assert out.height == result.n_read
        assert out["rank"].to_list() == list(range(1, out.height + 1))
        assert out["risk_score"].is_sorted(descending=True)
        assert out.columns[:3] == ["rank", "declaration_id", "risk_score"]
        # Reasons for the head of the list (the model's reasons share), none beyond.
        assert out["reasons"].head(10).null_count() == 0
        assert out["reasons"].tail(10).null_count() == 10


def test_a_folder_output_is_parquet_partitioned_by_day_in_rank_order(
    trained_model, scored, tmp_path
):
    path, _, score_file = trained_model
    result = score([score_file], path, piece_rows=2_000)
    write_scores(result, tmp_path / "all.parquet", None)
    whole = pl.read_parquet(tmp_path / "all.parquet")
    write_scores(result, tmp_path / "daily", None)
    files = sorted((tmp_path / "daily").glob("declaration_date=*/*.parquet"))
    days = whole["declaration_date"].unique()
    assert len({f.parent.name for f in files}) == days.len()
    for f in files:
        part = pl.read_parquet(f)
        assert part["declaration_date"].n_unique() == 1
        assert f.parent.name == f"declaration_date={part['declaration_date'][0]}"
        assert part["rank"].is_sorted()  # each day's file in rank order
    back = pl.read_parquet(tmp_path / "daily", hive_partitioning=True).sort("rank")
    assert back.select(whole.columns).equals(whole)
    # From the command line, with a capacity: the listed rows (a day's file keeps the
    # list's order, a case's rows together), the same folder layout.
    args = ["score", str(score_file), "--model", str(path), "--top", "5%"]
    run = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "flagged")])
    assert run.exit_code == 0, run.output
    flagged = pl.read_parquet(tmp_path / "flagged", hive_partitioning=True).sort("rank")
    assert flagged.select(COLUMNS).equals(scored.scored.select(COLUMNS).sort("rank"))
    # A suffix the engine cannot write is refused before any work.
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "flagged.txt")])
    assert bad.exit_code == 2 and "suffix '.txt'" in bad.output
    assert "read" not in bad.output


def test_workers_and_backend_from_the_command_line(trained_model, tmp_path, scored):
    path, _, score_file = trained_model
    out = tmp_path / "flagged.csv"
    args = ["score", str(score_file), "--model", str(path), "--out", str(out), "--top", "5%"]
    run = CliRunner().invoke(app, [*args, "--workers", "2"])
    assert run.exit_code == 0, run.output
    flagged = pl.read_csv(out, infer_schema=False)
    assert flagged["declaration_id"].to_list() == scored.scored["declaration_id"].to_list()
    run = CliRunner().invoke(app, [*args, "--workers", "2", "--piece-rows", "5000"])
    assert run.exit_code == 0, run.output
    flagged = pl.read_csv(out, infer_schema=False)
    assert flagged["declaration_id"].to_list() == scored.scored["declaration_id"].to_list()
    assert Runner(4).default_piece_rows(1_000_000) == 250_000
    assert Runner(4, "dask", "tcp://h:1").default_piece_rows(1_000_000) == 1_000_000
    bad = CliRunner().invoke(app, [*args, "--backend", "spark"])
    assert bad.exit_code == 2 and "'spark' is not one of" in bad.output  # choices shown
    bad = CliRunner().invoke(app, [*args, "--scheduler", "tcp://127.0.0.1:8786"])
    assert bad.exit_code == 2 and "--scheduler needs --backend dask" in bad.output


def test_a_scheduler_address_dask_cannot_read_is_named():
    pytest.importorskip("dask.distributed")
    from detector.batch.stream import _dask_client

    with pytest.raises(DetectorError, match="Cannot reach the Dask scheduler at bogus://x"):
        _dask_client("bogus://x", 1)


def test_a_dask_cluster_writes_exactly_the_same_scores(trained_model, scored, tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    path, _, score_file = trained_model
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        runner = Runner(backend="dask", scheduler=cluster.scheduler_address)
        result = score([score_file], path, top="5%", piece_rows=3_000, runner=runner)
    assert result.scored.select(COLUMNS).equals(scored.scored.select(COLUMNS))
    assert result.scored.select(pl.all().exclude("case_id")).equals(
        scored.scored.select(pl.all().exclude("case_id"))
    )
    # Without an address, --backend dask starts a local cluster of --workers processes.
    out = tmp_path / "flagged.parquet"
    args = ["score", str(score_file), "--model", str(path), "--out", str(out), "--top", "5%"]
    run = CliRunner().invoke(app, [*args, "--backend", "dask", "--workers", "2"])
    assert run.exit_code == 0, run.output
    assert pl.read_parquet(out).select(COLUMNS).equals(scored.scored.select(COLUMNS))


def test_progress_counts_every_piece_and_row_of_each_pass(trained_model):
    path, _, score_file = trained_model
    n = pl.scan_parquet(score_file).select(pl.len()).collect().item()
    seen: dict[str, list[int]] = {}
    first: dict[str, tuple[int, int]] = {}

    def progress(stage: str, pieces: int, rows: int) -> None:
        first.setdefault(stage, (pieces, rows))
        done = seen.setdefault(stage, [0, 0])
        done[0] += pieces
        done[1] += rows

    result = score([score_file], path, top="5%", piece_rows=4_000, runner=Runner(progress=progress))
    pieces = -(-n // 4_000)
    assert seen["read"] == [pieces, n] and seen["score"] == [pieces, n]
    # Each pass says it starts before any piece ends: its time runs from its start.
    assert set(first.values()) == {(0, 0)}
    # Only the pieces that hold listed rows are explained, counted in listed rows.
    assert 1 <= seen["explain"][0] <= pieces and seen["explain"][1] == result.flagged


_KEPT: list = []


def _keep_memory(n: int) -> int:
    """A piece's work that leaves its worker 400 MB larger than after its first piece
    (as an allocator keeps what a large piece freed), long enough for loky to look."""
    if n >= 2:
        _KEPT.append(np.ones(50_000_000))
    time.sleep(1.2)
    return os.getpid()


@pytest.mark.slow
def test_a_worker_replaced_for_its_memory_does_not_alarm_the_operator():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pids = Runner(workers=2).map("score", _keep_memory, list(range(5)), [1] * 5)
    # loky replaced at least one worker (a third process ran pieces), every piece ran,
    # and its "memory leak" warning did not reach the command's output.
    assert len(pids) == 5 and len(set(pids)) >= 3
    assert not [w for w in caught if "worker stopped" in str(w.message)]


def test_errors_name_the_files_the_user_gave(trained_model, tmp_path):
    path, _, _ = trained_model
    bad = tmp_path / "declarations.csv"
    bad.write_text("declaration_id,declaration_date,hs_code\nD1,2025-03-04,081060\n")
    args = ["score", str(bad), "--model", str(path), "--out", str(tmp_path / "o.csv")]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 2
    assert f"Input {bad} has no column 'importer_id'" in " ".join(run.output.split())
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("piece_rows", [None, 2_000])
def test_the_result_owns_its_work_folder_and_leaves_nothing_in_the_process(
    trained_model, piece_rows
):
    """One piece keeps its tables in memory between the passes, several on disk; either
    way the result's folder goes when it is closed, and no table stays in the process."""
    from detector.batch.stream import WorkStore

    path, _, recent = trained_model
    with score([recent], path, top="2%", piece_rows=piece_rows) as result:
        folder = Path(result.work.name)
        assert folder.is_dir() and result.flagged > 0
        peers = result.peers.select(pl.len()).collect().item()
        assert peers == result.n_read - result.rejects.height
    assert not folder.exists() and result.work is None
    store = WorkStore(str(folder), {})
    store.put("scored", 0, pl.DataFrame({"a": [1]}))
    store.drop("scored")
    assert store.memory == {} and store.get("scored", 0) is None


def test_a_parquet_rejects_file_read_back_is_scored(trained_model, tmp_path):
    path, _, recent = trained_model
    rows = pl.read_parquet(recent).head(3_000)
    broken = rows.with_columns(
        pl.when(pl.int_range(pl.len()) < 10)
        .then(-1.0)
        .otherwise(pl.col("net_mass_kg"))
        .alias("net_mass_kg")
    )
    broken.write_parquet(tmp_path / "in.parquet")
    rejects = tmp_path / "rejects.parquet"
    with score([tmp_path / "in.parquet"], path, top="5%") as result:
        write_scores(result, tmp_path / "out.csv", rejects)
    assert pl.read_parquet(rejects).height == 10
    fixed = pl.read_parquet(rejects).with_columns(pl.lit(1_000.0).alias("net_mass_kg"))
    fixed.write_parquet(tmp_path / "fixed.parquet")
    for pieces in ({}, {"piece_rows": 4}):  # whole, and cut in pieces
        with score([tmp_path / "fixed.parquet"], path, **pieces) as again:
            assert again.n_read == 10 and again.rejects.height == 0
            assert any("the input is a rejects file" in n for n in again.notes)


@pytest.mark.slow
def test_a_local_dask_cluster_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with Runner(workers=1, backend="dask") as runner:
        assert runner.map("score", abs, [-1, -2], [1, 1]) == [1, 2]
    assert list(tmp_path.iterdir()) == []
