"""The catalogue of bad inputs, driven through ``detector validate``.

Each case is a file an export from an old system could produce. It gets one of three
answers, never a traceback and never a lost row: a repair that the summary line
records, a row in the rejects file with its reason, or exit code 2 with one sentence
naming the file and what to do.
"""

import polars as pl
import pytest
from conftest import GOOD_ROW
from typer.testing import CliRunner

from detector.cli import app

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
    "truncated parquet": (b"PAR1\x00\x00garbage", "truncated or not Parquet"),
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
        None,
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
    ("impossible date", {"declaration_date": "2025-02-30"}, "unparseable declaration_date"),
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
