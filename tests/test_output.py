"""Every file the engine writes appears whole or not at all."""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from detector import DetectorError
from detector.io.output import write_table

_WRITER = """
import sys
import polars as pl
from detector.io.output import write_table
rows = int(sys.argv[2])
df = pl.DataFrame({"a": pl.int_range(rows, eager=True)}).with_columns(
    b=pl.col("a").cast(pl.String) + "-declaration", c=pl.col("a") * 0.5
)
write_table(df, sys.argv[1])
"""


def _kill_during_write(target, rows: int) -> bool:
    """Start a writer of ``target`` and kill it once its temporary file is growing."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(rows)])
    caught = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        temps = list(target.parent.glob(f".{target.name}.*.tmp"))
        if temps and temps[0].stat().st_size > 1_000_000:
            proc.kill()
            caught = True
            break
        time.sleep(0.002)
    proc.wait()
    return caught


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_run_killed_while_writing_leaves_the_old_file(tmp_path, suffix):
    target = tmp_path / f"scores{suffix}"
    old = pl.DataFrame({"a": [1, 2, 3]})
    write_table(old, target)
    before = target.read_bytes()
    assert _kill_during_write(target, 12_000_000), "the writer finished before it was killed"
    assert target.read_bytes() == before
    # A run killed before any earlier file existed leaves none.
    fresh = tmp_path / f"fresh{suffix}"
    assert _kill_during_write(fresh, 12_000_000)
    assert not fresh.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_written_tables_read_back_the_same(tmp_path, suffix):
    df = pl.DataFrame({"id": ["001", "002"], "value": [1.5, 2.25], "n": [1, 2]})
    path = write_table(df, tmp_path / f"t{suffix}")
    back = pl.read_csv(path, schema=df.schema) if suffix == ".csv" else pl.read_parquet(path)
    assert back.equals(df)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_the_same_table_written_twice_is_the_same_file(tmp_path, suffix):
    df = pl.DataFrame({"declaration_id": ["001", "002"], "risk_score": [0.5, 0.25]})
    first = write_table(df, tmp_path / f"a{suffix}").read_bytes()
    time.sleep(2.1)  # a workbook's clock-made dates have a resolution of seconds
    assert write_table(df, tmp_path / f"b{suffix}").read_bytes() == first


def test_a_failed_write_leaves_nothing_and_says_why(tmp_path):
    with pytest.raises(DetectorError, match="suffix '.txt'"):
        write_table(pl.DataFrame({"a": [1]}), tmp_path / "t.txt")
    with pytest.raises(DetectorError, match="does not exist"):
        write_table(pl.DataFrame({"a": [1]}), tmp_path / "no" / "t.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_table_too_long_for_excel_is_refused_before_writing(tmp_path):
    pytest.importorskip("xlsxwriter")
    big = pl.DataFrame({"a": pl.int_range(1_048_576, eager=True)})
    with pytest.raises(DetectorError, match="at most 1,048,575"):
        write_table(big, tmp_path / "big.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    df = pl.DataFrame(
        {"declaration_date": [date(2025, 1, d) for d in (1, 2, 2)], "a": [1, 2, 3]}
    ).with_columns(risk_score=pl.lit(0.5), reason_codes=pl.lit("X"))  # a list, replaceable
    folder = write_table(df, tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == [
        "declaration_date=2025-01-01",
        "declaration_date=2025-01-02",
    ]
    # A second run replaces the folder: no day of the first run is left behind.
    write_table(df.head(1).with_columns(a=pl.lit(9)), folder)
    back = pl.read_parquet(folder, hive_partitioning=True)
    assert back["a"].to_list() == [9]
    assert [p.name for p in folder.iterdir()] == ["declaration_date=2025-01-01"]

    # A write that fails half-way leaves the previous folder as it was.
    def broken(frame, target, **kwargs):
        (Path(target._pl_partition_by.base_path) / "half.parquet").write_bytes(b"PAR1")
        raise OSError("disk full")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(df, folder)
    assert pl.read_parquet(folder, hive_partitioning=True)["a"].to_list() == [9]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    monkeypatch.undo()
    # A folder this engine did not write is never replaced, even one of Parquet files.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    df.write_parquet(tmp_path / "mine" / "jan.parquet")
    with pytest.raises(DetectorError, match="did not write \\(jan.parquet, notes.txt\\)"):
        write_table(df, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert pl.read_parquet(tmp_path / "mine" / "jan.parquet").equals(df)
    # A table without dates is cut into files of rows.
    plain = write_table(pl.DataFrame({"a": [1, 2]}), tmp_path / "plain")
    assert pl.read_parquet(plain)["a"].to_list() == [1, 2]


def test_staged_outputs_appear_together_or_not_at_all(tmp_path):
    from detector.io.output import staged_outputs

    out, report = tmp_path / "list.csv", tmp_path / "report.html"
    report.write_text("the report of yesterday")
    frame = pl.DataFrame({"declaration_id": ["A", "B"]})
    with pytest.raises(OSError, match="No space"):
        with staged_outputs(out, None, report) as at:
            write_table(frame, at[out])
            assert at[out].name == "list.csv" and at[out].exists() and not out.exists()
            raise OSError(28, "No space left on device")  # the report fails after the list
    assert not out.exists()  # the list went with it
    assert report.read_text() == "the report of yesterday"  # an earlier output stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # nothing staged left
    with staged_outputs(out, report) as at:
        write_table(frame, at[out])
        at[report].write_text("today's")
    assert pl.read_csv(out)["declaration_id"].to_list() == ["A", "B"]
    assert report.read_text() == "today's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv", "report.html"]


def test_an_output_file_the_engine_did_not_write_is_never_replaced(tmp_path):
    """A Parquet file, workbook or HTML page carries the engine's mark: one without it
    (the user's own, or another program's) is refused as an output before any work;
    one the engine wrote is replaced."""
    from detector.io.output import check_output, write_table, write_workbook

    frame = pl.DataFrame({"a": [1, 2], "risk_score": [0.5, 0.4], "reason_codes": ["X", "Y"]})
    theirs = tmp_path / "theirs.parquet"
    frame.write_parquet(theirs)
    ours = write_table(frame, tmp_path / "ours.parquet")
    check_output(ours)  # replaceable
    with pytest.raises(DetectorError, match="is a file this engine cannot tell it wrote"):
        check_output(theirs)
    # Declarations the engine wrote (a generated year, validated rows) are not a list:
    # kept, as a CSV file of them is.
    rows = write_table(pl.DataFrame({"declaration_id": ["A"]}), tmp_path / "rows.parquet")
    with pytest.raises(DetectorError, match="rows.parquet holds declarations"):
        check_output(rows)
    check_output(write_table(frame.drop("risk_score", "reason_codes").with_columns(
        reject_reason=pl.lit("bad")), tmp_path / "rejects.parquet"))  # fmt: skip
    pytest.importorskip("xlsxwriter")
    frame.write_excel(tmp_path / "theirs.xlsx")
    with pytest.raises(
        DetectorError, match="theirs.xlsx is a file this engine cannot tell it wrote"
    ):
        check_output(tmp_path / "theirs.xlsx")
    check_output(write_workbook({"flagged": frame}, tmp_path / "ours.xlsx"))
    (tmp_path / "notes.html").write_text("<html><body>my notes</body></html>")
    with pytest.raises(
        DetectorError, match="notes.html is a file this engine cannot tell it wrote"
    ):
        check_output(tmp_path / "notes.html", "--report", "html")
    # Written by the engine through any path, in any case of suffix: replaced.
    from detector.io.output import write_chunks

    check_output(write_chunks(iter([frame.lazy()]), tmp_path / "chunks.parquet"))
    check_output(write_table(frame, tmp_path / "UPPER.PARQUET"))
    # A workbook of data with label columns filled (a list without a capacity, rejects)
    # is not a list for investigators: replaced. One for them, once filled in: refused.
    labelled = pl.DataFrame({"declaration_id": ["A", "B"], "inspected": ["true", "false"]})
    check_output(write_workbook({"flagged": labelled}, tmp_path / "labelled.xlsx"))
    blank = labelled.with_columns(pl.lit(None, pl.String).alias("inspected"))
    listed = write_workbook({"flagged": blank}, tmp_path / "list.xlsx", outcomes=("inspected",))
    check_output(listed)  # nothing filled in yet
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(listed)
    book["flagged"].cell(3, 2, "true")
    book.save(listed)
    with pytest.raises(DetectorError, match=r"filled in by investigators \(row 3 and perhaps"):
        check_output(listed, "--rejects")
    from detector.app.report import _page

    (tmp_path / "report.html").write_text(_page("Customs risk report", "<p>x</p>"))
    check_output(tmp_path / "report.html", "--report", "html")
    # CSV holds no mark: a CSV file is known by its header. The user's own (a history
    # of declarations, anything else) is refused; a list or rejects table is replaced.
    pl.DataFrame({"a": [1, 2]}).write_csv(tmp_path / "any.csv")
    with pytest.raises(DetectorError, match="any.csv is a file this engine cannot tell it wrote"):
        check_output(tmp_path / "any.csv", "--rejects")
    with pytest.raises(DetectorError, match="a CSV file of declarations carries no mark"):
        check_output(tmp_path / "any.csv", "--rejects")
    with pytest.raises(DetectorError) as raised:
        check_output(tmp_path / "notes.html", "--report", "html")
    assert "carries no mark" not in str(raised.value)
    listed = pl.DataFrame({"rank": [1], "risk_score": [0.9], "reason_codes": [["SPLIT"]]})
    check_output(write_table(listed, tmp_path / "list.csv"))
    check_output(
        write_table(pl.DataFrame({"a": ["x"], "reject_reason": ["y"]}), tmp_path / "r.csv")
    )
    # A byte-order mark and quoted header cells are read as a spreadsheet writes them.
    (tmp_path / "saved.csv").write_text('\ufeff"rank","risk_score","reason_codes"\n1,0.9,x\n')
    check_output(tmp_path / "saved.csv")
    (tmp_path / "half.csv").write_text("rank,risk_score\n1,0.9\n")
    with pytest.raises(DetectorError, match="half.csv is a file this engine cannot tell it wrote"):
        check_output(tmp_path / "half.csv")
    # JSON: a replay's record is replaced; the user's own settings, or a broken file, not.
    (tmp_path / "replay.json").write_text('{"policies": {}, "default": "exploit"}')
    check_output(tmp_path / "replay.json", "--json", "json")
    for name, text in (("settings.json", '{"a": 1}'), ("broken.json", "{")):
        (tmp_path / name).write_text(text)
        with pytest.raises(
            DetectorError, match=f"{name} is a file this engine cannot tell it wrote"
        ):
            check_output(tmp_path / name, "--json", "json")


def test_no_output_lies_in_a_label_store_even_without_store(tmp_path):
    """A store is known by its record or its own files: an output there could replace
    the investigators' outcomes, whether or not --store names it."""
    from detector.io.output import check_outputs

    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "store.json").write_text('{"currency": "USD"}\n')
    outcomes = tmp_path / "outcomes-only"
    outcomes.mkdir()
    write_table(
        pl.DataFrame({"declaration_id": ["A"], "inspected_on": [date(2025, 1, 2)]}),
        outcomes / "outcomes.parquet",
    )
    for store in (recorded, outcomes):
        for target in (store / "outcomes.parquet", store / "flagged.parquet", store / "x.csv"):
            with pytest.raises(DetectorError, match=f"lies in the label store {store}"):
                check_outputs([("--out", target, "table")])
        (store / "deeper").mkdir()
        with pytest.raises(DetectorError, match="lies in the label store"):
            check_outputs([("--report", store / "deeper" / "r.html", "html")])
    # A folder of the engine's own outputs that is not a store: written as before.
    plain = tmp_path / "plain"
    plain.mkdir()
    listed = pl.DataFrame({"declaration_id": ["A"], "risk_score": [0.5], "reason_codes": ["X"]})
    write_table(listed, plain / "outcomes.parquet")
    check_outputs([("--out", plain / "outcomes.parquet", "table")])


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_categories_and_bytes_are_written_as_inert_text(tmp_path, suffix):
    """A Parquet input may carry categorical, enum and binary columns: each is written as
    text, and guarded as text (a rejects table keeps the input's own types)."""
    if suffix == ".xlsx":
        pytest.importorskip("xlsxwriter")
    frame = pl.DataFrame(
        {
            "seller_id": pl.Series(["=1+1", "S2"], dtype=pl.Categorical),
            "note": pl.Series(["=2+3", "ok"], dtype=pl.Enum(["=2+3", "ok"])),
            "blob": [b"=x", b"\x00"],
        }
    )
    path = write_table(frame, tmp_path / f"rejects{suffix}")
    if suffix == ".csv":
        back = pl.read_csv(path, infer_schema=False)
        assert back["seller_id"].to_list() == ["'=1+1", "S2"]
        assert back["note"].to_list() == ["'=2+3", "ok"]
    else:
        # A workbook cell is text, never a formula: the characters stay as they were.
        openpyxl = pytest.importorskip("openpyxl")
        cells = list(openpyxl.load_workbook(path)["flagged"].iter_rows(min_row=2))
        assert all(cell.data_type == "s" for row in cells for cell in row)
        back = pl.DataFrame(
            [[c.value for c in r] for r in cells], schema=frame.columns, orient="row"
        )
        assert back["seller_id"].to_list() == ["=1+1", "S2"]
        assert back["note"].to_list() == ["=2+3", "ok"]
    assert back["blob"].to_list() == ["3d78", "00"]


def test_folders_of_a_run_killed_outright_are_removed_by_a_later_run(tmp_path):
    """A run killed with no clean-up (SIGKILL) leaves its folders; a later one removes
    those whose process is gone, never one a running process holds, one changed lately,
    another host's, a link, nor anything else."""
    from detector.io.leftovers import owner_tag, sweep_leftovers

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    host = owner_tag().split("@")[0]
    gone = [tmp_path / f"detector-{host}@{dead}.abc", tmp_path / f".staged.{host}@{dead}.x1"]
    kept = [
        tmp_path / f"detector-{owner_tag()}mine",  # this process: at work
        tmp_path / f"detector-otherhost@{dead}.abc",  # another host's, on a shared disk
        tmp_path / "detector-results",  # the user's own folder
    ]
    recent = tmp_path / f".staged.{host}@{dead}.new"  # changed within MIN_AGE: at work?
    huge = tmp_path / f".staged.{host}@99999999999.x"  # no process has this number
    gone.append(huge)
    for folder in [*gone, *kept, recent]:
        folder.mkdir()
        (folder / "piece.parquet").write_bytes(b"x")
    # Half-written outputs of atomic_path (a file) and atomic_folder (a folder).
    half = [
        tmp_path / f".flagged.csv.{host}@{dead}.k2j_x.tmp",
        tmp_path / f".out.{host}@{dead}.q.tmp",
    ]
    half[0].write_text("rank,declaration_id\n1,")
    half[1].mkdir()
    gone += half
    mine = tmp_path / f".flagged.csv.{owner_tag()}zz.tmp"  # this process's, being written
    mine.write_text("rank")
    kept.append(mine)
    (tmp_path / f".staged.{host}@{dead}.file").write_text("not a folder")
    (tmp_path / f"detector-{host}@{dead}.link").symlink_to(kept[2])
    day_ago = time.time() - 24 * 3600
    for path in tmp_path.iterdir():
        if path != recent:
            os.utime(path, (day_ago, day_ago), follow_symlinks=False)
    assert sweep_leftovers(tmp_path) == 5
    assert not any(f.exists() for f in gone) and all(f.exists() for f in [*kept, recent])
    assert (tmp_path / f".staged.{host}@{dead}.file").exists()
    assert (tmp_path / f"detector-{host}@{dead}.link").is_symlink() and kept[2].exists()


def test_a_half_written_output_carries_its_owner_for_the_sweep(tmp_path):
    """What atomic_path and atomic_folder write to, before the rename, is named by host
    and process: a later run can remove it once that process is gone."""
    from detector.io.leftovers import owner_tag
    from detector.io.output import atomic_folder, atomic_path

    with atomic_path(tmp_path / "flagged.csv") as tmp:
        assert tmp.name.startswith(f".flagged.csv.{owner_tag()}") and tmp.name.endswith(".tmp")
    with atomic_folder(tmp_path / "parts") as tmp:
        assert tmp.name.startswith(f".parts.{owner_tag()}") and tmp.name.endswith(".tmp")
    # A name near the file system's limit of 255 bytes still has room for its owner.
    long = tmp_path / ("a" * 240 + ".csv")
    with atomic_path(long) as tmp:
        tmp.write_text("rank")
    assert long.read_text() == "rank"
    with atomic_folder(tmp_path / ("b" * 250)) as tmp:
        (tmp / "piece").write_text("x")
    assert (tmp_path / ("b" * 250) / "piece").exists()


def test_outcomes_typed_into_a_list_while_a_run_works_are_not_written_over(tmp_path):
    """Checked before the work and again before the outputs are put in place."""
    from detector.io.output import staged_outputs, write_workbook

    openpyxl = pytest.importorskip("openpyxl")
    blank = pl.DataFrame({"declaration_id": ["A", "B"], "inspected": [None, None]}, strict=False)
    listed = write_workbook({"flagged": blank}, tmp_path / "list.xlsx", outcomes=("inspected",))
    with pytest.raises(DetectorError, match="filled in by investigators"):
        with staged_outputs(listed) as at:
            book = openpyxl.load_workbook(listed)  # an investigator, meanwhile
            book["flagged"].cell(2, 2, "true")
            book.save(listed)
            write_workbook({"flagged": blank}, at[listed], outcomes=("inspected",))
    assert openpyxl.load_workbook(listed)["flagged"].cell(2, 2).value == "true"
    assert [p.name for p in tmp_path.iterdir()] == ["list.xlsx"]
