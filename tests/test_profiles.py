import json

import polars as pl
import pytest
from conftest import GOOD_ROW, write_csv
from polars.testing import assert_frame_equal

from detector import DetectorError, load_profile, read_declarations
from detector.io.ingest import accept_and_reject, canonicalise, plain_columns

KCS_HEADER = (
    "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,"
    "Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,"
    "Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,"
    "Net Mass,Item Price,Fraud,Critical Fraud"
)
KCS_ROWS = [
    "97061800,2020-01-01,30,B,11,21,11,10,ZZR1LT6,QLRUBN9,0VKY2BR,,440890,BE,BE,0.0,FEU1,G,108.0,372254.4,0,0",
    "85945189,2020-01-01,40,B,11,21,11,40,SWF9S4X,7JD1S2X,8WDKMC6,,090121,CN,CN,8.0,A,Y,11352.0,375751.2,1,2",
    "77854751,2020-01-02,20,B,11,21,11,50,X4XT6P8,WI9O3I5,,MWIDNS,620822,CN,CN,5.2,FCN1,B,0,5353.02,0,0",
]


@pytest.fixture
def kcs_file(tmp_path):
    """Rows in the exact layout of the Korean dataset (the tests read no data from outside)."""
    path = tmp_path / "kcs.csv"
    path.write_text(KCS_HEADER + "\n" + "\n".join(KCS_ROWS) + "\n")
    return path


def test_kcs_profile_maps_every_column(kcs_file):
    batch = read_declarations(kcs_file, "kcs")
    df = batch.accepted
    assert batch.rejects.height == 0
    raw = pl.read_csv(kcs_file, infer_schema=False)
    assert df.height == raw.height
    # Every KCS column has a home.
    assert len(load_profile("kcs").columns) == len(raw.columns)
    assert df["hs_code"].str.len_chars().unique().to_list() == [6]
    assert df["hs_code"].to_list() == raw["HS6 Code"].to_list()
    assert (df["currency"] == "KRW").all()
    assert df["inspected"].all()
    assert df["fraud"].to_list() == raw["Fraud"].cast(pl.Int8).to_list()
    assert df["customs_value"].to_list() == raw["Item Price"].cast(pl.Float64).to_list()
    assert set(df["transport_mode"].unique()) <= {"sea", "rail", "road", "air", "post", "other"}
    for extra in ("process_type", "import_type", "tax_type", "origin_indicator", "critical_fraud"):
        assert extra in df.columns


def test_kcs_leading_zeros_survive(tmp_path):
    path = tmp_path / "kcs.csv"
    path.write_text(KCS_HEADER + "\n" + "\n".join(KCS_ROWS) + "\n")
    df = read_declarations(path, "kcs").accepted
    assert df["hs_code"].to_list() == ["440890", "090121", "620822"]
    assert df["transport_mode"].to_list() == ["sea", "air", "post"]
    assert df["seller_id"].to_list() == ["0VKY2BR", "8WDKMC6", None]


def test_user_toml_profile(tmp_path):
    profile = tmp_path / "office.toml"
    profile.write_text(
        """
name = "office"
currency = "EUR"
hs_digits = 8
features = ["procedure"]

[columns]
"Decl No" = "declaration_id"
"Lodged" = "declaration_date"
"Goods code" = "hs_code"
"Consignee" = "importer_id"
"Origin" = "country_origin"
"Dispatch" = "country_departure"
"Mass kg" = "net_mass_kg"
"Value" = "customs_value"
"Mode" = "transport_mode"
"Proc" = "procedure"

[values.transport_mode]
"1" = "sea"
"4" = "air"
"""
    )
    data = tmp_path / "in.csv"
    data.write_text(
        "Decl No,Lodged,Goods code,Consignee,Origin,Dispatch,Mass kg,Value,Mode,Proc\n"
        "X1,2025-01-02,8106000,C1,th,TH,10,50,1,4000\n"
        "X2,2025-01-02,85171300,C2,CN,CN,1,900,4,4000\n"
    )
    batch = read_declarations(data, str(profile))
    df = batch.accepted
    assert df["hs_code"].to_list() == ["08106000", "85171300"]
    assert df["transport_mode"].to_list() == ["sea", "air"]
    assert df["currency"].to_list() == ["EUR", "EUR"]
    assert df["country_origin"].to_list() == ["TH", "CN"]
    assert df["procedure"].to_list() == ["4000", "4000"]
    assert load_profile(str(profile)).features == ("procedure",)
    assert batch.repairs == {"hs_code zero-padded": 1, "country_origin upper-cased": 1}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name = 'x'\ncolour = 'red'\n", "unknown key"),
        ("hs_digits = 7\n", "expected 6, 8 or 10"),
        ("[columns]\na = 'hs_code'\nb = 'hs_code'\n", "several input columns"),
        ("[values.transport_mode]\n'1' = 'boat'\n", "maps transport_mode onto .'boat'."),
        ("[values.colour]\n'1' = 'red'\n", "not a canonical column"),
        ("name = \n", "not valid TOML"),
        # hostile shapes: each was an unexpected failure (exit 1)
        ("columns = 'x'\n", "'columns' is 'x'; expected a table"),
        ("currency = 'USD'\nrates = [1, 2]\n", "'rates' is \\[1, 2\\]; expected a table"),
        ("values = 'x'\n", "'values' is 'x'; expected a table per column"),
        ("[values.transport_mode]\n'1' = {a = 1}\n", "'values' is .*expected a table per"),
        ("features = 'procedure'\n", "'features' is 'procedure'; expected a list"),
        ("currency = 'EUR'\n[rates]\nUSD = inf\n", "gives the rate inf for USD"),
        ("currency = 'EUR'\n[rates]\nUSD = true\n", "gives the rate True for USD"),
        ("[columns]\noffice = 'rank'\n", "onto 'rank', a column this engine computes"),
        ("[columns]\noffice = 'reject_reason'\n", "onto 'reject_reason', a column this"),
    ],
)
def test_bad_profiles_are_named(tmp_path, text, fragment):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(DetectorError, match=fragment):
        load_profile(str(path))


def test_unknown_profile_name():
    with pytest.raises(DetectorError, match="neither a built-in profile"):
        load_profile("nope")


def test_a_profile_path_that_is_a_folder_is_named(tmp_path):
    folder = tmp_path / "mine.toml"
    folder.mkdir()
    with pytest.raises(DetectorError, match="is a folder, not a TOML file"):
        load_profile(folder)


def test_rates_convert_values_and_reject_unknown_currencies(tmp_path):
    profile = tmp_path / "eur.toml"
    profile.write_text('currency = "EUR"\n[rates]\nUSD = 0.9\nkrw = 0.0007\n')
    data = tmp_path / "in.csv"
    rows = [
        {**GOOD_ROW, "declaration_id": "A", "customs_value": "100", "currency": "EUR"},
        {**GOOD_ROW, "declaration_id": "B", "customs_value": "100", "currency": "USD"},
        {**GOOD_ROW, "declaration_id": "C", "customs_value": "10000", "currency": "KRW"},
        {**GOOD_ROW, "declaration_id": "D", "customs_value": "100", "currency": "GBP"},
        {**GOOD_ROW, "declaration_id": "E", "customs_value": "100", "currency": ""},
    ]
    batch = read_declarations(write_csv(data, rows), str(profile))
    got = dict(zip(batch.accepted["declaration_id"], batch.accepted["customs_value"], strict=True))
    assert got == pytest.approx({"A": 100.0, "B": 90.0, "C": 7.0, "E": 100.0})
    assert (batch.accepted["currency"] == "EUR").all()
    assert batch.rejects["declaration_id"].to_list() == ["D"]
    assert "no rate for currency 'GBP' in profile" in batch.rejects["reject_reason"][0]
    assert batch.repairs["customs_value converted to EUR"] == 2


def test_a_model_refuses_values_in_another_currency(tmp_path):
    rows = [
        {**GOOD_ROW, "declaration_id": "A", "currency": "USD"},
        {**GOOD_ROW, "declaration_id": "B", "currency": "EUR"},
    ]
    batch = read_declarations(write_csv(tmp_path / "in.csv", rows), expected_currency="USD")
    assert batch.accepted["declaration_id"].to_list() == ["A"]
    assert "currency 'EUR' differs from the model's USD" in batch.rejects["reject_reason"][0]


def test_rates_without_a_currency_are_refused(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[rates]\nUSD = 1.1\n")
    with pytest.raises(DetectorError, match="has a rates table but no currency"):
        load_profile(str(path))


def test_a_profile_renaming_onto_a_column_the_input_has_is_named(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[columns]\nimporter_id = 'hs_code'\n")
    pl.DataFrame([GOOD_ROW]).write_csv(tmp_path / "in.csv")
    with pytest.raises(DetectorError, match="renames a column onto 'hs_code', which the input"):
        read_declarations([tmp_path / "in.csv"], load_profile(str(path)))


def test_kcs_columns_written_plainly_are_taken_as_they_are_by_their_canonical_names():
    rows = [line.split(",") for line in KCS_ROWS]
    header = KCS_HEADER.split(",")
    frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    # One cell the full reading repairs (a decimal comma), one it folds (a look-alike).
    odd = frame.with_columns(
        pl.Series("Net Mass", ["108,5", "11352.0", "0"]),
        pl.Series("Importer ID", ["QLRUBN9", "7JD1S2Х", "WI9O3I5"]),  # a Cyrillic Х
    )
    plain = plain_columns(frame, "kcs")
    assert {"customs_value", "net_mass_kg", "importer_id", "hs_code", "transport_mode"} <= plain
    assert not {"net_mass_kg", "importer_id"} & plain_columns(odd, "kcs")
    for rows_read in (frame, odd):
        framed = rows_read.with_row_index("input_row", offset=1)
        fast = accept_and_reject(
            canonicalise(framed.lazy(), "kcs", plain=plain_columns(framed, "kcs"))
        )
        slow = accept_and_reject(canonicalise(framed.lazy(), "kcs"))
        assert_frame_equal(fast[0], slow[0])
        assert_frame_equal(fast[1], slow[1])
        assert fast[2] == slow[2]
    assert slow[2] == {
        "net_mass_kg decimal comma read as a point": 1,
        "importer_id read as plain Latin text": 1,
    }


def test_the_profile_example_in_the_documentation_loads_as_written(tmp_path):
    import detector.io.profiles as profiles

    example = profiles.__doc__.split("::", 1)[1].split("(Keys at the top")[0]
    path = tmp_path / "example.toml"
    path.write_text("\n".join(line[4:] for line in example.splitlines()))
    profile = load_profile(path)
    assert profile.features == ("procedure",) and profile.rates == {"USD": 0.92}
    assert profile.columns == {"Decl No": "declaration_id", "Goods code": "hs_code"}


def test_a_profile_named_like_a_built_in_is_kept_whole_in_the_model(tmp_path):
    from detector.app.pipeline import kept_profile, model_profile

    assert kept_profile(load_profile("kcs")) == {}  # the built-in, by its name
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'name = "kcs"\ncurrency = "USD"\n\n[constants]\nsince = 2025-01-02\n\n'
        '[columns]\n"Consignee" = "importer_id"\n'
    )
    kept = kept_profile(load_profile(mine))
    metadata = {"schema_profile": "kcs", **json.loads(json.dumps(kept))}
    read = model_profile(None, metadata)
    assert read.currency == "USD" and read.columns == {"Consignee": "importer_id"}
    assert read.constants == {"since": "2025-01-02"}  # a TOML date, kept as its text
