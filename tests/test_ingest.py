import math

import polars as pl
import pytest
from conftest import GOOD_ROW, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from detector import DetectorError, read_declarations
from detector.io.ingest import (
    accept_and_reject,
    canonicalise,
    plain_columns,
    reject_tally,
)


def _read(tmp_path, changes: dict[str, str], extra_rows: list[dict] = ()) -> tuple:
    row = {**GOOD_ROW, **changes}
    path = write_csv(tmp_path / "in.csv", [row, *extra_rows])
    return read_declarations(path)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"declaration_id": ""}, "missing required declaration_id"),
        ({"importer_id": "  "}, "missing required importer_id"),
        ({"customs_value": ""}, "missing required customs_value"),
        ({"declaration_date": ""}, "missing required declaration_date"),
        ({"net_mass_kg": "-5"}, "negative net_mass_kg '-5'"),
        ({"customs_value": "-0.01"}, "negative customs_value '-0.01'"),
        ({"net_mass_kg": "heavy"}, "non-numeric net_mass_kg 'heavy'"),
        ({"customs_value": "inf"}, "customs_value 'inf' is not a finite number"),
        ({"customs_value": "NaN"}, "customs_value 'NaN' is not a finite number"),
        (
            {"declaration_date": "2025-02-30"},
            "impossible declaration_date '2025-02-30': no such day in the calendar",
        ),
        ({"declaration_date": "yesterday"}, "unparseable declaration_date 'yesterday'"),
        (
            {"declaration_date": "2025-10-01T25:00"},
            "impossible declaration_date '2025-10-01T25:00': no such time of day",
        ),
        (
            {"declaration_date": "2025-10-01 10:61"},
            "impossible declaration_date '2025-10-01 10:61': no such time of day",
        ),
        ({"hs_code": "12"}, "malformed hs_code '12'"),
        ({"hs_code": "08106A"}, "malformed hs_code '08106A'"),
        ({"hs_code": "12345678901"}, "malformed hs_code '12345678901'"),
        # A number below zero is no code, and there is no chapter 00.
        ({"hs_code": "-81060"}, "malformed hs_code '-81060'"),
        ({"hs_code": "000000"}, "malformed hs_code '000000'"),
        ({"hs_code": "0012"}, "malformed hs_code '0012'"),
        # Digits of other scripts would match no peer group: refused, not scored blind.
        ({"hs_code": "\uff17\uff13\uff10\uff18\uff19\uff10"}, "malformed hs_code"),
        ({"hs_code": "\u0667\u0663\u0660\u0668\u0669\u0660"}, "malformed hs_code"),
        ({"country_origin": "THA"}, "malformed country_origin 'THA'"),
        # One bad cell of a synthetic truth column is that row's reject, not the run's end.
        ({"true_fraud": "300"}, "malformed true_fraud '300'"),
        # A label that is no number at all is still refused (NaN alone means unknown).
        ({"fraud": "abc"}, "non-numeric fraud 'abc'"),
        ({"revenue_recovered": "lots"}, "non-numeric revenue_recovered 'lots'"),
        ({"true_fraud": "x"}, "non-numeric true_fraud 'x'"),
        # A mass whose price per tonne is beyond any number (it broke the workbook).
        ({"net_mass_kg": "1e-310"}, "net_mass_kg '1e-310' is implausibly small"),
        ({"true_fraud": "inf"}, "true_fraud 'inf' is not a finite number"),
        ({"country_departure": "V1"}, "malformed country_departure 'V1'"),
    ],
)
def test_each_reject_reason(tmp_path, changes, reason):
    batch = _read(tmp_path, changes)
    assert batch.accepted.height == 0
    assert batch.rejects.height == 1
    assert reason in batch.rejects["reject_reason"][0]
    # The original values travel with the reason.
    for col, value in changes.items():
        assert batch.rejects[col][0] == value


def test_optional_columns_are_validated_too(tmp_path):
    rows = [
        {
            **GOOD_ROW,
            "declaration_id": "A",
            "transit_countries": "VN;X",
            "currency": "USD",
            "flow": "import",
        },
        {
            **GOOD_ROW,
            "declaration_id": "B",
            "transit_countries": "VN",
            "currency": "US",
            "flow": "import",
        },
        {
            **GOOD_ROW,
            "declaration_id": "C",
            "transit_countries": "",
            "currency": "USD",
            "flow": "transit",
        },
        {
            **GOOD_ROW,
            "declaration_id": "D",
            "transit_countries": "vn, my",
            "currency": "usd",
            "flow": "",
        },
    ]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows))
    reasons = dict(
        zip(batch.rejects["declaration_id"], batch.rejects["reject_reason"], strict=True)
    )
    assert reasons.keys() == {"A", "B", "C"}
    assert "malformed transit_countries 'VN;X'" in reasons["A"]
    assert "malformed currency 'US'" in reasons["B"]
    assert "malformed flow 'transit'" in reasons["C"]
    row = batch.accepted.row(0, named=True)
    assert (row["transit_countries"], row["currency"], row["flow"]) == ("VN;MY", "USD", "import")


def test_duplicate_ids_keep_the_first_and_reject_the_rest(tmp_path):
    rows = [GOOD_ROW, {**GOOD_ROW, "customs_value": "10"}, {**GOOD_ROW, "customs_value": "11"}]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows))
    assert batch.accepted["customs_value"].to_list() == [5000.0]
    assert batch.rejects["input_row"].to_list() == [2, 3]
    assert all("duplicate declaration_id 'D1'" in r for r in batch.rejects["reject_reason"])


def test_several_reasons_are_all_named(tmp_path):
    batch = _read(tmp_path, {"net_mass_kg": "-1", "country_origin": "Thailand", "hs_code": "1"})
    reason = batch.rejects["reject_reason"][0]
    assert reason.count(";") == 2
    assert "negative net_mass_kg" in reason and "malformed hs_code" in reason


def test_a_label_written_as_nan_is_no_outcome_not_a_reject(tmp_path):
    # As dataframes write "unknown": labels are never needed to score a declaration.
    batch = _read(tmp_path, {"fraud": "NaN", "revenue_recovered": "nan", "true_fraud": "nan"})
    assert batch.rejects.height == 0
    row = batch.accepted.row(0, named=True)
    assert row["fraud"] is None and row["revenue_recovered"] is None
    assert row["true_fraud"] is None and row["inspected"] is False
    assert batch.repairs == {
        "fraud NaN read as no outcome": 1,
        "revenue_recovered NaN read as no outcome": 1,
        "true_fraud NaN read as no outcome": 1,
    }


@pytest.mark.parametrize(
    ("changes", "expected", "repair"),
    [
        # Labels are never needed to score: what cannot be an outcome is none, said so.
        (
            {"inspected": "maybe", "fraud": ""},
            (None, None, None),
            "inspected neither true nor false read as unknown",
        ),
        (
            {"inspected": "false", "fraud": "1"},
            (False, None, None),
            "fraud on a declaration not inspected read as no outcome",
        ),
        (
            {"inspected": "false", "fraud": "0"},
            (False, None, None),
            "fraud on a declaration not inspected read as no outcome",
        ),
        (
            {"inspected": "true", "fraud": "2"},
            (True, 1, None),
            "fraud 2 (critical) read as fraud 1",
        ),
        (
            {"inspected": "true", "fraud": "1", "revenue_recovered": "-50"},
            (True, 1, None),
            "negative revenue_recovered read as no amount",
        ),
    ],
)
def test_a_label_that_cannot_be_an_outcome_is_none_and_the_repair_counted(
    tmp_path, changes, expected, repair
):
    batch = _read(tmp_path, {"revenue_recovered": "", **changes})
    assert batch.rejects.height == 0
    row = batch.accepted.row(0, named=True)
    assert (row["inspected"], row["fraud"], row["revenue_recovered"]) == expected
    assert batch.repairs == {repair: 1}


def test_a_line_break_in_an_id_is_named_for_what_it_is(tmp_path):
    # A quoted cell may hold a carriage return alone: no stray quote is to blame.
    rows = [{"importer_id": "\r=1+1"}, {"declaration_id": "D2", "importer_id": "IM\nX"}]
    batch = _read(tmp_path, rows[0], [{**GOOD_ROW, **rows[1]}])
    reasons = batch.rejects["reject_reason"].to_list()
    assert reasons[0] == (
        "importer_id '\\r=1+1' holds a carriage return (shown as \\r): an id or a code "
        "is one line of plain text"
    )
    assert reasons[1].startswith("importer_id 'IM / X' spans lines: an id or a code is one")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Nothing but the ambiguous and plain numbers: a point is the decimal mark.
        (["1,234", "2.500", "5000"], [1234.0, 2.5, 5000.0]),
        # A decimal comma elsewhere in the column: "1,234" is 1.234, "2.500" is 2500.
        (["1,234", "2.500", "5000,50"], [1.234, 2500.0, 5000.5]),
        (["1.234.567", "12,5"], [1234567.0, 12.5]),
        # A decimal point or thousands commas elsewhere: as before.
        (["1,234", "2.500", "2.25"], [1234.0, 2.5, 2.25]),
        (["1,234", "1,234,567"], [1234.0, 1234567.0]),
    ],
)
def test_a_number_that_reads_two_ways_is_read_as_its_column_writes(tmp_path, values, expected):
    rows = [
        {**GOOD_ROW, "declaration_id": f"D{i}", "customs_value": v} for i, v in enumerate(values)
    ]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows))
    assert batch.rejects.height == 0
    assert batch.accepted["customs_value"].to_list() == pytest.approx(expected)


def test_a_number_that_reads_two_ways_in_a_column_of_both_styles_is_refused(tmp_path):
    values = ["1,234", "2.500", "2.25", "5000,50"]
    rows = [
        {**GOOD_ROW, "declaration_id": f"D{i}", "customs_value": v} for i, v in enumerate(values)
    ]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows))
    assert batch.accepted["customs_value"].to_list() == [2.25, 5000.5]
    assert [r.split(":")[0] for r in batch.rejects["reject_reason"]] == [
        "ambiguous customs_value '1,234'",
        "ambiguous customs_value '2.500'",
    ]


def test_labels_as_an_inspection_gives_them_need_no_repair(tmp_path):
    batch = _read(tmp_path, {"inspected": "true", "fraud": "1", "revenue_recovered": "50"})
    assert batch.repairs == {} and batch.accepted["revenue_recovered"].to_list() == [50.0]


@pytest.mark.parametrize(
    ("changes", "column", "expected", "repair"),
    [
        ({"hs_code": "81060"}, "hs_code", "081060", "hs_code zero-padded"),
        ({"hs_code": "8517.13"}, "hs_code", "851713", "hs_code punctuation removed"),
        ({"hs_code": "0409.00"}, "hs_code", "040900", "hs_code punctuation removed"),
        # A code a spreadsheet wrote as a number: its decimals are no digits of it.
        (
            {"hs_code": "730890.0"},
            "hs_code",
            "730890",
            "hs_code written as a number: decimals removed",
        ),
        ({"hs_code": "8517130"}, "hs_code", "08517130", "hs_code zero-padded"),
        ({"country_origin": "th"}, "country_origin", "TH", "country_origin upper-cased"),
        # An id with a Cyrillic М, one in wide forms: the record they pass for is theirs.
        (
            {"importer_id": "IМ00028"},
            "importer_id",
            "IM00028",
            "importer_id read as plain Latin text",
        ),
        ({"seller_id": "ＳＬ７"}, "seller_id", "SL7", "seller_id read as plain Latin text"),
        (
            {"transport_mode": "Barge"},
            "transport_mode",
            "other",
            "transport_mode unknown, set to other",
        ),
    ],
)
def test_repairs_are_applied_and_counted(tmp_path, changes, column, expected, repair):
    batch = _read(tmp_path, changes)
    assert batch.rejects.height == 0
    assert batch.accepted[column][0] == expected
    assert batch.repairs == {repair: 1}
    assert repair in batch.summary()


def test_only_an_entity_id_drawn_like_latin_text_is_read_as_it(tmp_path):
    """A Cyrillic company name keeps its letters, even one whose letters all look Latin;
    a compatibility form is no disguise; the declaration's own key is never folded (a
    look-alike copy must not make the real declaration a duplicate); an importer id
    in a Parquet category column is folded as in text."""
    for seller in ("ВЕКТОР", "D²"):
        named = _read(tmp_path, {"seller_id": seller})
        assert named.accepted["seller_id"][0] == seller and named.repairs == {}
    # A name keeps its own letters, in its record's form (capitals, no spaces).
    named = _read(tmp_path, {"seller_id": "ООО Ромашка"})
    assert named.accepted["seller_id"][0] == "ОООРОМАШКА"
    assert named.repairs == {"seller_id read in capitals without spaces or punctuation": 1}
    copy = dict(GOOD_ROW, declaration_id="DΕ1")  # a Greek Epsilon
    batch = read_declarations(
        write_csv(tmp_path / "two.csv", [copy, dict(GOOD_ROW, declaration_id="DE1")])
    )
    assert batch.accepted["declaration_id"].to_list() == ["DΕ1", "DE1"]
    assert batch.rejects.height == 0
    rows = pl.read_csv(
        write_csv(tmp_path / "c.csv", [dict(GOOD_ROW, importer_id="IМ7")]), infer_schema=False
    )
    rows.with_columns(pl.col("importer_id").cast(pl.Categorical)).write_parquet(
        tmp_path / "c.parquet"
    )
    categorical = read_declarations(tmp_path / "c.parquet")
    assert categorical.accepted["importer_id"].to_list() == ["IM7"]
    assert categorical.repairs == {"importer_id read as plain Latin text": 1}


@pytest.mark.parametrize("written", ["im00801", "IM-00801", "IM 00801", "Im.00801", "I/M_00801"])
@pytest.mark.parametrize("column", ["importer_id", "declarant_id", "seller_id"])
def test_an_entity_id_in_small_letters_or_with_punctuation_is_read_as_its_record(
    tmp_path, written, column
):
    """A supplier writing the importer in small letters or with a dash must not make it
    an importer without a record; the declaration's own key is kept as written."""
    batch = read_declarations(
        write_csv(
            tmp_path / "ids.csv",
            [
                dict(GOOD_ROW, declaration_id="d-1", **{column: written}),
                dict(GOOD_ROW, declaration_id="D-2", **{column: "IM00801"}),
            ],
        )
    )
    assert batch.accepted[column].to_list() == ["IM00801", "IM00801"]
    assert batch.accepted["declaration_id"].to_list() == ["d-1", "D-2"]
    assert batch.repairs == {f"{column} read in capitals without spaces or punctuation": 1}
    assert f"{column} read in capitals without spaces or punctuation" in batch.summary()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04", "2025-03-04"),
        ("2025/03/04", "2025-03-04"),
        ("20250304", "2025-03-04"),
        ("04.03.2025", "2025-03-04"),
        ("2025-03-04 13:45:00", "2025-03-04"),
        # Stamps as databases and spreadsheets export them: zones, the day's end.
        ("2025-03-04 10:00:00+00", "2025-03-04"),
        ("2025-03-04 10:00:00 UTC", "2025-03-04"),
        ("2025-03-04T24:00:00", "2025-03-04"),
        ("2025-03-04  10:00:00", "2025-03-04"),
        ("04.03.2025 1:05 PM", "2025-03-04"),
    ],
)
def test_date_formats(tmp_path, text, expected):
    batch = _read(tmp_path, {"declaration_date": text})
    assert str(batch.accepted["declaration_date"][0]) == expected


def test_zero_mass_is_accepted(tmp_path):
    batch = _read(tmp_path, {"net_mass_kg": "0"})
    assert batch.accepted["net_mass_kg"].to_list() == [0.0]


def test_canonical_types_and_order(tmp_path):
    batch = _read(tmp_path, {"extra_note": "kept"})
    df = batch.accepted
    assert df.schema["declaration_date"] == pl.Date
    assert df.schema["net_mass_kg"] == pl.Float64
    assert df.schema["hs_code"] == pl.String
    # The canonical columns in schema order, then the input's own: no working columns.
    assert df.columns == [*GOOD_ROW, "extra_note"]
    assert df["extra_note"].to_list() == ["kept"]
    rejected = _read(tmp_path, {"extra_note": "kept", "net_mass_kg": "x"}).rejects
    assert rejected.columns == [
        "input_row",
        *GOOD_ROW,
        "extra_note",
        "reject_reason",
        "reject_kinds",
    ]


def test_integer_hs_codes_from_parquet_are_padded(tmp_path, synthetic_year):
    df = synthetic_year.head(500).with_columns(pl.col("hs_code").cast(pl.Int64))
    path = tmp_path / "int.parquet"
    df.write_parquet(path)
    batch = read_declarations(path)
    assert batch.accepted["hs_code"].to_list() == synthetic_year.head(500)["hs_code"].to_list()
    padded = synthetic_year.head(500)["hs_code"].str.starts_with("0").sum()
    assert padded > 0 and batch.repairs["hs_code zero-padded"] == padded


def test_float_columns_from_parquet_keep_their_values(tmp_path, synthetic_year):
    path = tmp_path / "y.parquet"
    synthetic_year.head(300).write_parquet(path)
    batch = read_declarations(path)
    assert batch.rejects.height == 0
    for col in ("net_mass_kg", "customs_value", "declaration_date", "inspected", "fraud"):
        assert batch.accepted[col].to_list() == synthetic_year.head(300)[col].to_list()


def test_folder_and_glob_of_partitions(tmp_path, synthetic_year):
    df = synthetic_year.head(3000)
    for month, part in df.group_by(pl.col("declaration_date").dt.month(), maintain_order=True):
        folder = tmp_path / "parts" / f"month={month[0]}"
        folder.mkdir(parents=True)
        part.write_parquet(folder / "0.parquet")
    for source in (tmp_path / "parts", str(tmp_path / "parts" / "*" / "*.parquet")):
        batch = read_declarations(source)
        assert batch.accepted.height == 3000
        assert sorted(batch.accepted["declaration_id"]) == sorted(df["declaration_id"])


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: d / "missing.csv", "does not exist"),
        (lambda d: (d / "x.json").write_text("{}") and d / "x.json", "neither CSV nor Parquet"),
        (lambda d: (d / "e.csv").write_text("") or d / "e.csv", "is empty"),
        (lambda d: (d / "h.csv").write_text(",".join(GOOD_ROW) + "\n") and d / "h.csv", "no rows"),
        (
            lambda d: (d / "t.parquet").write_bytes(b"PAR1\x00\x00garbage") and d / "t.parquet",
            "truncated or not Parquet",
        ),
        (
            lambda d: write_csv(
                d / "n.csv", [{k: v for k, v in GOOD_ROW.items() if k != "importer_id"}]
            ),
            "no column 'importer_id'",
        ),
        (lambda d: (d / "empty_dir").mkdir() or d / "empty_dir", "holds no .parquet"),
        (lambda d: str(d / "nothing-*.parquet"), "No file matches"),
    ],
)
def test_file_level_problems_raise_one_sentence(tmp_path, make, fragment):
    source = make(tmp_path)
    with pytest.raises(DetectorError) as info:
        read_declarations(source)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_reject_tally_groups_by_kind(tmp_path):
    rows = [
        {**GOOD_ROW, "declaration_id": "A", "net_mass_kg": "-1"},
        {**GOOD_ROW, "declaration_id": "B", "net_mass_kg": "-2"},
        {**GOOD_ROW, "declaration_id": "C", "hs_code": "x"},
        {**GOOD_ROW, "declaration_id": "D"},
    ]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows))
    assert reject_tally(batch.rejects) == [("negative net_mass_kg", 2), ("malformed hs_code", 1)]


_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "-1", "0", "1e308", "inf", "081060", "TH", "2025-01-01", "1,5", "NaN"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.fixed_dictionaries({k: _cells for k in GOOD_ROW}), min_size=1, max_size=8))
def test_random_cells_never_lose_a_row(tmp_path, rows):
    batch = read_declarations(write_csv(tmp_path / "random.csv", rows))
    assert batch.n_read == len(rows)
    assert sorted(batch.rejects["input_row"].to_list() + _accepted_rows(batch, rows)) == list(
        range(1, len(rows) + 1)
    )
    assert batch.rejects["reject_reason"].null_count() == 0
    values = batch.accepted["customs_value"].to_list() + batch.accepted["net_mass_kg"].to_list()
    assert all(math.isfinite(v) and v >= 0 for v in values)


def _accepted_rows(batch, rows):
    # Accepted declaration ids are unique, so each maps back to its first input row.
    first = {}
    for i, row in enumerate(rows, start=1):
        first.setdefault(row["declaration_id"].strip(), i)
    return [first[i] for i in batch.accepted["declaration_id"]]


def test_hive_folder_whose_files_lack_the_partition_column(tmp_path, synthetic_year):
    df = synthetic_year.head(2000)
    for (day,), part in df.group_by("declaration_date", maintain_order=True):
        folder = tmp_path / "parts" / f"declaration_date={day}"
        folder.mkdir(parents=True)
        part.drop("declaration_date").write_parquet(folder / "0.parquet")
    batch = read_declarations(tmp_path / "parts")
    assert batch.rejects.height == 0 and batch.accepted.height == 2000
    got = batch.accepted.sort("declaration_id").select("declaration_id", "declaration_date")
    assert got.equals(df.sort("declaration_id").select("declaration_id", "declaration_date"))


#: Numbers as files write them: plain, in the other styles, and what is no number.
_number_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(
        ["", " 5", "1_000", "1,234", "2.500", "5000,50", "1.234.567", "+5", ".5", "5.", "1e3"]
    ),
    st.sampled_from(["inf", "-inf", "nan", "NaN", "infinity", "0x10", "'=1", "1'000", "12 "]),
)
#: Ids, codes and dates as files write them: plain, padded, disguised or broken.
_text_cells = st.one_of(
    st.sampled_from(["IM1", "IM 2", "081060", "8106", "0810.60", "TH", "th", "2025-03-04"]),
    st.sampled_from([" IM1", "IM1 ", "'=IM1", "'IM1", "IМ1", "ＩＭ1", "IM\u200b1", "IM\n1", ""]),
    st.sampled_from(["04.03.2025", "2025/03/04", "20250304", "2025-02-30", "Thailand", "TH;VN"]),
    st.text(max_size=6),
)
_TEXT_COLUMNS = ("importer_id", "hs_code", "country_origin", "transit_countries")


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                **{name: _number_cells for name in ("customs_value", "net_mass_kg", "fraud")},
                **{name: _text_cells for name in (*_TEXT_COLUMNS, "declaration_date")},
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_plainly_written_columns_taken_as_they_are_read_as_before(cells):
    rows = [{**GOOD_ROW, "declaration_id": f"D{i}", **row} for i, row in enumerate(cells)]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).with_row_index(
        "input_row", offset=1
    )
    plain = plain_columns(frame)
    slow = accept_and_reject(canonicalise(frame.lazy()))
    fast = accept_and_reject(canonicalise(frame.lazy(), plain=plain))
    assert_frame_equal(fast[0], slow[0])
    assert_frame_equal(fast[1], slow[1])
    assert fast[2] == slow[2]
    for name in ("customs_value", "net_mass_kg", "fraud"):
        written = frame[name].drop_nulls()
        assert (name in plain) == written.cast(pl.Float64, strict=False).is_not_null().all()
    for name in (*_TEXT_COLUMNS, "declaration_date"):
        written = frame[name].drop_nulls().to_list()
        expected = all(
            v and v.isascii() and v.isprintable() and v == v.strip() and v[0] != "'"
            for v in written
        )
        assert (name in plain) == expected, written


def test_a_clean_file_has_its_columns_taken_as_they_are(synthetic_year):
    text = synthetic_year.head(200).select(pl.all().cast(pl.String))
    assert plain_columns(text) == set(text.columns)
    # Typed columns are read as they are; one odd cell decides for its column.
    assert plain_columns(synthetic_year.head(5)) == {
        c for c, t in synthetic_year.schema.items() if t == pl.String
    }
    text = text.with_columns(
        pl.lit("1,5").alias("customs_value"), pl.lit(" IM1").alias("importer_id")
    )
    assert not {"customs_value", "importer_id"} & plain_columns(text)


def test_a_missing_column_is_named_before_the_rows_are_read(tmp_path):
    path = tmp_path / "in.csv"
    header = [c for c in GOOD_ROW if c != "customs_value"]
    lines = [",".join(header)] + [",".join(GOOD_ROW[c] for c in header)] * 3
    path.write_text("\n".join([*lines, lines[1] + ",extra,fields"]) + "\n")
    with pytest.raises(DetectorError, match="has no column 'customs_value'"):
        read_declarations(path)
