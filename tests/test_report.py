"""The investigators' side: cases, the HTML report (in a real browser), Excel."""

import re
import shutil
import zipfile

import polars as pl
import pytest
from typer.testing import CliRunner

from detector.cases import group_cases
from detector.cli import app

runner = CliRunner()


def _flag(rank, ident, importer, seller, reason, stake=0.0, risk=0.5):
    return {
        "rank": rank,
        "declaration_id": ident,
        "importer_id": importer,
        "seller_id": seller,
        "reasons": f"{reason}: numbers | GOODS_RISK: more",
        "revenue_at_stake": stake,
        "risk_score": risk,
        "declaration_date": "2025-10-0" + str(rank),
        "route": "TH>VN",
    }


def test_cases_group_importer_schemes_and_supply_pairs():
    flagged = pl.DataFrame(
        [
            _flag(1, "a", "IMP-A", "S1", "UNDERVALUED", 100, 0.9),
            _flag(2, "b", "IMP-B", "S9", "ROUTE", 50, 0.8),
            _flag(3, "c", "IMP-A", "S2", "UNDERVALUED", 10, 0.7),  # same importer, scheme
            _flag(4, "d", "IMP-A", "S2", "SPLIT_SHIPMENT", 5, 0.6),  # same pair as c
            _flag(5, "e", "IMP-C", None, "ROUTE", 1, 0.5),
            _flag(6, "f", "IMP-B", "S8", "UNDERVALUED", 2, 0.4),  # B, other seller, other scheme
        ]
    ).with_columns(pl.col("declaration_date").str.to_date())
    listed, cases = group_cases(flagged)
    assert listed["declaration_id"].to_list() == ["a", "c", "d", "b", "e", "f"]
    assert listed["case_id"].to_list() == ["C0001"] * 3 + ["C0002", "C0003", "C0004"]
    first = cases.row(0, named=True)
    assert (first["declarations"], first["revenue_at_stake"], first["max_risk_score"]) == (
        3,
        115.0,
        0.9,
    )
    assert first["sellers"] == "S1, S2"
    assert first["strongest_reasons"].startswith("GOODS_RISK, UNDERVALUED")
    assert cases["declarations"].sum() == flagged.height


@pytest.fixture(scope="module")
def scored_run(trained_model, tmp_path_factory):
    model, _, recent = trained_model
    folder = tmp_path_factory.mktemp("report")
    out, report = folder / "flagged.xlsx", folder / "report.html"
    result = runner.invoke(
        app,
        ["score", str(recent), "--model", str(model), "--out", str(out), "--top", "5%"]
        + ["--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    return folder, out, report, result.output


def test_report_is_one_offline_file_with_cards_and_plots(scored_run):
    _, _, report, output = scored_run
    page = report.read_text(encoding="utf-8")
    # Nothing is fetched: no external script, stylesheet, font or image.
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|url\((?!#)|<img[^>]+src=\"http", page)
    links = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert links <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, links
    n_read = int(re.search(r"read ([\d,]+) rows", output).group(1).replace(",", ""))
    assert f"<td>{n_read:,}</td>" in page
    cards = page.count('<div class="card"')
    assert cards == 25
    assert page.count("<svg") >= cards + 3  # a peer plot per card, and the summary charts
    assert "this declaration" in page and "training median" in page
    for section in ("flags by reason", "flags by HS chapter", "flags by route", "All cases"):
        assert section in page


def test_excel_has_the_list_and_the_cases_with_formats(scored_run):
    _, out, _, _ = scored_run
    with zipfile.ZipFile(out) as book:
        workbook = book.read("xl/workbook.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        styles = book.read("xl/styles.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["flagged", "cases"]
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert 'formatCode="0.000"' in styles and 'formatCode="#,##0"' in styles
    widths = [float(w) for w in re.findall(r'<col [^>]*width="([\d.]+)"', sheet)]
    assert max(widths) < 120 and min(widths) > 5  # readable, not one giant column


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip(
            "the browser test needs Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingOptions", {"browser": "ALL"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_report_in_a_real_browser_loads_sorts_and_filters(scored_run):
    from selenium.webdriver.common.by import By

    folder, _, report, _ = scored_run
    browser = _browser()
    try:
        browser.get(report.as_uri())
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        table = browser.find_element(By.ID, "flagged")
        headers = table.find_elements(By.CSS_SELECTOR, "thead th")
        names = [h.text.strip() for h in headers]
        column = names.index("revenue at stake")

        def values():
            cells = table.find_elements(By.CSS_SELECTOR, f"tbody td:nth-child({column + 1})")
            return [float(c.get_attribute("data-v") or "nan") for c in cells]

        headers[column].click()
        ascending = values()
        assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
        headers[column].click()
        assert values() == sorted(ascending, reverse=True)
        box = browser.find_element(By.CSS_SELECTOR, "input.filter[data-table=flagged]")
        box.send_keys("exploration")
        shown = browser.find_element(By.ID, "flagged-count").text
        assert 0 < int(shown.replace(",", "")) < len(ascending)
        box.clear()
        browser.get_screenshot_as_file(str(folder / "report.png"))
        assert (folder / "report.png").stat().st_size > 20_000
    finally:
        browser.quit()


def test_report_without_a_capacity_shows_the_ranked_rows_with_reasons(trained_model, tmp_path):
    model, _, recent = trained_model
    report = tmp_path / "r.html"
    result = runner.invoke(
        app,
        ["score", str(recent), "--model", str(model), "--out", str(tmp_path / "all.parquet")]
        + ["--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    scored = pl.read_parquet(tmp_path / "all.parquet")
    with_reasons = scored["reasons"].is_not_null().sum()
    assert 0 < with_reasons < scored.height
    page = report.read_text(encoding="utf-8")
    assert f"the {with_reasons:,} most suspicious shown" in page
    table = re.search(r'<table class="sortable" id="flagged">(.*?)</table>', page, re.S).group(1)
    assert table.count("<tr>") - 1 == with_reasons  # every one of them, under the header


def test_the_same_run_writes_the_same_report(scored_run, trained_model, tmp_path):
    _, _, first, _ = scored_run
    model, _, recent = trained_model
    again = tmp_path / "again.html"
    result = runner.invoke(
        app,
        ["score", str(recent), "--model", str(model), "--out", str(tmp_path / "f.csv")]
        + ["--top", "5%", "--report", str(again)],
    )
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == first.read_bytes()
