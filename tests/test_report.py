"""The investigators' side: cases, the HTML report (in a real browser), Excel."""

import re
import shutil
import zipfile
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import polars as pl
import pytest
from conftest import GOOD_ROW, write_csv
from typer.testing import CliRunner

from detector.app.cases import CASE_STAKE, group_cases
from detector.app.cli import app
from detector.app.report import _rejections, write_report

runner = CliRunner()


def _flag(rank, ident, importer, seller, reason, stake=0.0, risk=0.5):
    return {
        "rank": rank,
        "declaration_id": ident,
        "importer_id": importer,
        "seller_id": seller,
        "reason_codes": [reason, "GOODS_RISK"],
        "reasons": [f"{reason}: numbers", "GOODS_RISK: more"],
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
    assert first["duty_at_stake"] == 115.0  # no scheme's duty given: the undervaluation's
    assert first["sellers"] == "S1, S2"
    # Each declaration's duty by its scheme: a relabelled origin's, with no undervaluation.
    staked = flagged.with_columns(pl.Series(CASE_STAKE, [100.0, 4_000.0, 10.0, 5.0, 1.0, 2.0]))
    listed, cases = group_cases(staked.with_columns(pl.lit(0.0).alias("revenue_at_stake")))
    route = cases.filter(pl.col("case_id") == "C0002").row(0, named=True)
    assert (route["revenue_at_stake"], route["duty_at_stake"]) == (0.0, 4_000.0)
    assert CASE_STAKE not in listed.columns
    assert first["strongest_reasons"].startswith("GOODS_RISK, UNDERVALUED")
    assert cases["declarations"].sum() == flagged.height


def test_a_declarations_duty_at_stake_is_its_schemes():
    from detector.app.cases import scheme_stake

    rows = pl.DataFrame(
        {
            "revenue_at_stake": [120.0, 0.0, 0.0, 0.0],
            "customs_value": [1_000.0, 1_000.0, 1_000.0, 1_000.0],
            "duty_gap": [0.0, 12.5, 0.0, 0.0],
            "hs_duty_gap": [0.0, 0.0, 0.0, 0.0],
            "reclass_revenue": [None, None, 300.0, None],
            "usual_revenue": [None, None, None, 50.0],
        }
    )
    # undervaluation, cheaper origin, the code the price fits, the importer's usual code
    assert rows.select(scheme_stake(rows.columns))[:, 0].to_list() == [120.0, 125.0, 300.0, 50.0]
    without = rows.drop("usual_revenue")  # reasons not made: the ranking's stake alone
    assert without.select(scheme_stake(without.columns))[:, 0].to_list() == [
        120.0,
        125.0,
        300.0,
        0.0,
    ]


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
    # Each card's risk says how sure it is and what it rests on.
    intervals = re.findall(r"95 % interval ([\d.]+)-([\d.]+) from ([\d,]+) inspections", page)
    assert len(intervals) == cards
    # Each card's route gives the inspections of its goods on that route.
    goods = re.findall(r"these goods on it: ([\d,]+) frauds? found in ([\d,]+) inspections?", page)
    assert len(goods) + page.count("these goods on it: no inspection yet") == cards
    assert goods  # most cards' goods were inspected on their route before
    # The lane's share is quoted as counted in the training declarations.
    lanes = re.findall(r"lane carried ([\d.]+)% \(([\d,]+) of ([\d,]+)\)", page)
    assert len(lanes) == cards
    for pct, n, of in lanes:
        n, of = int(n.replace(",", "")), int(of.replace(",", ""))
        assert abs(float(pct) - 100 * n / of) < 0.5
    # The parties' inspections as counted: "17 (17)", or n/a where a card has no seller.
    counted = re.findall(r"inspections \(frauds found\)</td><td class='n'>([^<]*)</td>", page)
    assert len(counted) == 2 * cards
    assert all(re.fullmatch(r"[\d,]+ \([\d,]+\)|n/a", c) for c in counted), counted
    # Every card says what to check, a card listed for a record alone too.
    assert page.count("What to check:</b>") >= cards
    assert all(int(f.replace(",", "")) <= int(n.replace(",", "")) for f, n in goods)
    assert all(float(lo) <= float(hi) for lo, hi, _ in intervals)
    for section in ("flags by reason", "flags by HS chapter", "flags by route", "All cases"):
        assert section in page


def test_excel_has_the_list_and_the_cases_with_formats(scored_run):
    _, out, _, _ = scored_run
    with zipfile.ZipFile(out) as book:
        workbook = book.read("xl/workbook.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        styles = book.read("xl/styles.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["flagged", "cases", "run"]
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert 'formatCode="0.000"' in styles  # risk
    assert re.search(r'formatCode="#,##0 &quot;[A-Z]{3}&quot;"', styles)  # money, its currency
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

    folder, book, report, _ = scored_run
    browser = _browser()
    try:
        browser.get(report.as_uri())
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        table = browser.find_element(By.ID, "flagged")
        headers = table.find_elements(By.CSS_SELECTOR, "thead th")
        names = [h.text.strip() for h in headers]
        column = names.index("revenue at stake (USD)")  # with its currency

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
        # Every reason of every row is in the table, and the filter finds it.
        listed = pl.read_excel(book, sheet_name="flagged", engine="openpyxl")
        under = listed["reasons"].str.contains("UNDERVALUED").sum()
        box.send_keys("UNDERVALUED")
        assert int(browser.find_element(By.ID, "flagged-count").text.replace(",", "")) == under
        box.clear()
        # The menu of schemes selects the rows whose reasons name one, not those whose
        # sentences mention a word of it ("route" is in a RELABEL sentence too).
        from selenium.webdriver.support.ui import Select

        routed = listed["reasons"].str.contains("ROUTE:", literal=True).sum()
        assert 0 < routed < listed["reasons"].str.contains("route", literal=True).sum()
        Select(browser.find_element(By.CSS_SELECTOR, "select.scheme")).select_by_value("ROUTE")
        assert int(browser.find_element(By.ID, "flagged-count").text.replace(",", "")) == routed
        schemes = "UNDERVALUED:|MISCLASSIFIED:|ROUTE:|RELABEL:|SPLIT_SHIPMENT:"
        bare = (~listed["reasons"].str.contains(schemes)).sum()
        assert bare > 0
        Select(browser.find_element(By.CSS_SELECTOR, "select.scheme")).select_by_value("NONE")
        assert int(browser.find_element(By.ID, "flagged-count").text.replace(",", "")) == bare
        Select(browser.find_element(By.CSS_SELECTOR, "select.scheme")).select_by_value("")
        # At a phone's width the page does not scroll sideways.
        browser.set_window_size(390, 844)
        browser.get(report.as_uri())
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= browser.execute_script("return window.innerWidth")
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
    assert table.count("<tr") - 1 == with_reasons  # every one of them, under the header


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


# Text from the input, in the report: bounded, literal and inert.


@pytest.fixture(scope="module")
def small_run(trained_model, tmp_path_factory):
    """300 declarations scored in this process, 20 flagged: a result to report on."""
    from detector.app.pipeline import score

    model, _, recent = trained_model
    small = tmp_path_factory.mktemp("small") / "small.parquet"
    pl.read_parquet(recent).head(300).write_parquet(small)
    result = score([small], model, top="20")
    assert (result.scored.height, result.flagged) == (20, 20)
    assert 10 <= result.cases.height < 20  # some cases hold several declarations
    return result


def _page_of(result, path, **scored_text) -> str:
    """The report of ``result`` with some of its scored list's text replaced."""
    scored = result.scored.with_columns(
        pl.Series(name, values) if isinstance(values, list) else pl.lit(values).alias(name)
        for name, values in scored_text.items()
    )
    write_report(replace(result, scored=scored), path)
    return path.read_text(encoding="utf-8")


def _glyphs_drawn(page: str, text: str) -> list[int]:
    """Per chart label ``text`` in the page, the glyphs drawn for it (one per character
    when it is drawn as plain text; a formula draws its own symbols instead)."""
    label = re.escape(f"<!-- {text} -->") + r"\s*<g[^>]*>(.*?)</g>"
    return [drawn.count("<use ") for drawn in re.findall(label, page, re.S)]


def test_a_field_of_a_million_characters_is_cut_in_charts_and_tables(small_run, tmp_path):
    # Before: this page was 229 MB (112 s); the customs office alone made it 82 MB.
    long = "O" * 999_999
    offices = [long + "AB"[i % 2] for i in range(small_run.scored.height)]
    importer = "I" * 1_000_000
    result = replace(small_run, cases=small_run.cases.with_columns(importers=pl.lit(importer)))
    page = _page_of(result, tmp_path / "r.html", customs_office=offices, importer_id=importer)
    assert len(page.encode()) < 1_000_000
    # Two offices that differ after the cut stay two bars, each label of 40 characters.
    assert _glyphs_drawn(page, "O" * 39 + "\u2026") == [40, 40]
    assert re.search("O{40}", page) is None
    # The importer column of the 20 flagged rows and of every case: cut, and said so.
    note = 'title="cut at 500 characters: the full text is in the scored list file"'
    cases = small_run.cases.height
    assert page.count(f"<td {note}>{'I' * 499}\u2026</td>") == 20 + cases
    assert re.search("I{500}", page) is None


@pytest.mark.parametrize("office", [r"$\sum$", r"$\alert{1}$", "5$ or 6$"])
def test_chart_labels_are_drawn_as_plain_text_not_as_formulas(small_run, tmp_path, office):
    # Before: "$\sum$" drew one summation sign, "$\alert{1}$" failed (Unknown symbol).
    page = _page_of(small_run, tmp_path / "r.html", customs_office=office)
    assert _glyphs_drawn(page, office) == [len(office)]


class _Markup(HTMLParser):
    """The elements, attributes and text of a page, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_markup_in_text_fields_stays_text(small_run, tmp_path):
    script, handler, link = (
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "javascript:alert(1)",
    )
    cases = small_run.cases.with_columns(importers=pl.lit(script), routes=pl.lit(link))
    page = _page_of(
        replace(small_run, cases=cases),
        tmp_path / "r.html",
        importer_id=script,
        customs_office=handler,
        route=link,
    )
    parsed = _Markup()
    parsed.feed(page)
    assert parsed.tags.count("script") == 1  # the page's own sorting script
    assert "img" not in parsed.tags
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    assert not [v for _, v in parsed.attrs if (v or "").strip().lower().startswith("javascript")]
    text = "".join(parsed.text)
    n = small_run.cases.height  # table cells, card titles and headings
    assert text.count(script) == 20 + n + 2 * n
    assert text.count(link) >= 20 + n


@pytest.mark.parametrize("top", [[], ["--top", "5"], ["--top", "5%"]])
def test_a_batch_with_every_row_rejected_says_so_and_counts_the_reasons(
    trained_model, tmp_path, top
):
    model, _, _ = trained_model
    rows = [
        {**GOOD_ROW, "declaration_id": "A", "net_mass_kg": "-1"},
        {**GOOD_ROW, "declaration_id": "B", "net_mass_kg": "-2"},
        {**GOOD_ROW, "declaration_id": "C", "hs_code": "x"},
    ]
    source, report = write_csv(tmp_path / "in.csv", rows), tmp_path / "r.html"
    result = runner.invoke(
        app,
        ["score", str(source), "--model", str(model), "--out", str(tmp_path / "out.csv")]
        + ["--report", str(report), *top],
    )
    # Unusable input: exit 2 with the commonest reason, and no page, list or rejects
    # half-written. A library caller that writes the page itself gets it said there.
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "all 3 were rejected; 2 of them: negative net_mass_kg" in said
    assert not report.exists() and not (tmp_path / "out.csv").exists()
    from detector.app.pipeline import score as score_batch
    from detector.app.report import write_report

    with score_batch([source], model, top=top[1] if top else None) as scored:
        write_report(scored, report)
    page = report.read_text(encoding="utf-8")
    assert "No row could be scored: all 3 rows read were rejected" in page
    assert _tally(page) == [("negative net_mass_kg", "2"), ("malformed hs_code", "1")]
    assert "<svg" not in page and 'id="flagged"' not in page


def _tally(page: str) -> list[tuple[str, str]]:
    section = page[page.index("<h2>Rejected rows</h2>") :]
    return re.findall(r"<tr><td>([^<]+)</td><td class='n'>([\d,]+)</td></tr>", section)


def test_a_report_with_rejected_rows_counts_their_reasons(small_run, tmp_path):
    kinds = [["negative net_mass_kg"], ["malformed hs_code", "negative net_mass_kg"]]
    rejects = pl.DataFrame({"reject_kinds": kinds + kinds[:1]})
    result = replace(small_run, rejects=rejects, n_read=small_run.n_read + 3)
    page = _page_of(result, tmp_path / "r.html")
    assert "3 rows could not be scored" in page and 'id="flagged"' in page
    assert _tally(page) == [("negative net_mass_kg", "3"), ("malformed hs_code", "1")]


def test_the_tally_of_rejections_shows_the_commonest_twenty_kinds():
    kinds = [[f"reason {k:02d}"] for k in range(25) for _ in range(25 - k)]
    section = _rejections(pl.DataFrame({"reject_kinds": kinds}))
    assert _tally(section)[:2] == [("reason 00", "25"), ("reason 01", "24")]
    assert len(_tally(section)) == 20
    assert "and 5 other kinds of reason, given 15 times" in section  # 5 + 4 + 3 + 2 + 1


def test_money_in_the_report_carries_the_models_currency(small_run, tmp_path):
    page = _page_of(small_run, tmp_path / "r.html")
    assert page.count("<b>What to check:</b>") >= 1  # a hint on the cards with a mechanism
    assert small_run.metadata["currency"] == "USD"
    # The summary's total at stake: each declaration's duty by its scheme (the
    # undervaluation's, the cheaper origin's, the code's its price fits), case by case.
    stake = small_run.cases["duty_at_stake"].sum()
    assert stake >= small_run.scored["revenue_at_stake"].fill_null(0).sum()
    assert f"<td>{stake:,.0f} USD</td>" in page
    assert re.search(r"duty at stake [\d,]+ USD</h3>", page)  # each case card
    assert re.search(r"[\d,]+ USD/t against a reference of\s+[\d,]+ USD/t", page)


def test_a_store_in_another_currency_is_warned_of_in_the_workbook_and_the_report(
    trained_model, tmp_path
):
    """The model's money is in USD, the store's in EUR: the run sheet and the report say
    so as the terminal does, and the store's revenue carries its own currency."""
    import html

    from detector.app.labels import LabelStore

    model, _, recent = trained_model
    store = LabelStore(tmp_path / "store")
    store.folder.mkdir()
    (store.folder / "store.json").write_text('{"currency": "EUR"}')
    rows = [{"declaration_id": "X1", "fraud": "1", "revenue_recovered": "1500"}]
    store.add_outcomes(write_csv(tmp_path / "o.csv", rows))
    book, report = tmp_path / "flagged.xlsx", tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["score", str(recent), "--model", str(model), "--out", str(book), "--top", "1%"]
        + ["--report", str(report), "--store", str(store.folder)],
    )
    assert result.exit_code == 0, result.output
    warning = (
        f"the label store {store.folder} keeps money in EUR and this model's is USD: "
        "revenue recovered in both would be added up as one; keep a store per currency"
    )
    assert f"warning: {warning}" in " ".join(result.output.split())
    run = pl.read_excel(book, sheet_name="run", engine="openpyxl")
    assert warning in run.filter(pl.col("item") == "warning")["value"].to_list()
    page = html.unescape(report.read_text(encoding="utf-8"))
    assert f'<p class="warn">{warning}</p>' in page
    assert "revenue recovered (EUR)" in page and "revenue recovered (USD)" not in page
    assert "revenue at stake (USD)" in page  # the model's money keeps the model's currency


def test_random_picks_of_one_importer_are_not_one_case():
    picks = [
        {**_flag(i, f"x{i}", "IMP-X", f"S{i}", "UNDERVALUED"), "reason_codes": ["EXPLORATION", c]}
        for i, c in ((1, "UNDERVALUED"), (2, "ROUTE"), (3, "PARTNER_HISTORY"))
    ]
    flagged = pl.DataFrame(picks).with_columns(pl.col("declaration_date").str.to_date())
    listed, cases = group_cases(flagged)
    assert cases.height == 3  # three schemes, three sellers: three cases
    assert "EXPLORATION" not in ",".join(cases["strongest_reasons"])


def test_charts_label_their_axes_and_keep_the_legend_off_the_lines():
    import numpy as np

    from detector.app.report import _bar_chart, _peer_plot

    bars = _bar_chart([("UNDERVALUED", 30), ("ROUTE", 12)], "flags by reason")
    assert "<!-- listed declarations -->" in bars
    row = {"unit_value_per_ton": 2150.0}
    percentiles = {"p25": 4000.0, "p50": 5000.0, "p75": 6000.0}
    peers = np.random.default_rng(0).lognormal(8.5, 0.3, 200)
    plot = _peer_plot(row, peers, percentiles, " USD")
    assert "<!-- declared value per tonne USD (log scale) -->" in plot
    assert "<!-- declarations -->" in plot  # a y axis with counts
    assert "<!-- this declaration 2,150 USD/t -->" in plot


def test_monitor_shows_one_month_as_one_point_with_its_interval_and_size():
    from datetime import date

    from detector.app.report import _monitor_section, _wilson

    low, high = _wilson(np.array([3]), np.array([3]))
    assert round(float(low[0]), 2) == 0.44 and high[0] == 1.0
    rates = pl.DataFrame(
        {
            "month": [date(2026, 11, 1), date(2026, 11, 1)],
            "selection": ["model", "exploration"],
            "inspected": [3, 40],
            "frauds": [2, 4],
            "hit_rate": [2 / 3, 0.1],
            "revenue_recovered": [100.0, 20.0],
        }
    )
    page = _monitor_section(rates)
    assert page.count("<!-- 2026-11 -->") == 1  # one tick, not an axis of years
    assert "<!-- 2025 -->" not in page and "<!-- 2027 -->" not in page
    assert "<!-- n=3 -->" in page and "<!-- n=40 -->" in page
    assert "20.8%" in page and "93.9%" in page  # 2 of 3: 20.8 %-93.9 %
    assert "hit rate low 95" in page


def test_a_case_says_how_many_routes_and_declarations_it_does_not_list():
    flagged = pl.DataFrame(
        [
            _flag(i, f"d{i:02d}", "IMP-A", "S1", "UNDERVALUED", 10, 0.9 - i / 100)
            for i in range(1, 26)
        ]
    ).with_columns(
        pl.lit("2025-10-01").str.to_date().alias("declaration_date"),
        pl.Series("route", [f"TH>X{i % 7}" for i in range(25)]),
    )
    _, cases = group_cases(flagged)
    case = cases.row(0, named=True)
    assert case["declarations"] == 25
    assert case["declaration_ids"].endswith(", and 5 more")
    assert case["declaration_ids"].count(",") == 20
    assert case["routes"] == "TH>X0, TH>X1, TH>X2, TH>X3, TH>X4, and 2 more"


def test_the_hit_rate_interval_never_puts_a_rate_outside_its_own_bounds():
    from detector.app.report import _wilson

    n = np.array([11, 22, 27, 44, 3, 3])
    frauds = np.array([0, 0, 0, 0, 3, 1])
    low, high = _wilson(frauds, n)
    rate = frauds / n
    # 0 of 11 gave a lower bound of 2.8e-17 above the rate, and a plot error: exit 1
    assert (low <= rate).all() and (high >= rate).all()
    assert low[:4].tolist() == [0.0] * 4 and high[4] == 1.0
    assert 0.43 < low[4] < 0.44 and 0.05 < low[5] < 0.07


def test_a_cases_duty_at_stake_counts_the_usual_code_its_reasons_name(trained_model):
    """End to end: each case's duty at stake is the sum of its declarations' duty by
    their scheme, the importer's usual code included where the reasons name it."""
    from detector import read_declarations
    from detector.app.pipeline import score
    from detector.io.persist import load_model
    from detector.models import DUTY_AT_STAKE

    model_path, _, recent = trained_model
    with score([recent], model_path, top="5%") as result:
        listed, cases = result.scored, result.cases
    model, _ = load_model(model_path)
    table = model.transform(read_declarations(recent).accepted)
    usual = model.usual_codes(table)["usual_revenue"].fill_null(0.0)
    own = table.select("declaration_id", DUTY_AT_STAKE.alias("duty")).with_columns(usual)
    expected = (
        listed.select("declaration_id", "case_id")
        .join(own, on="declaration_id")
        .group_by("case_id")
        .agg(pl.max_horizontal("duty", "usual_revenue").sum().alias("expected"))
    )
    both = cases.join(expected, on="case_id")
    assert both.height == cases.height
    assert both["duty_at_stake"].to_list() == pytest.approx(both["expected"].to_list(), rel=1e-6)
    named = listed.join(own, on="declaration_id").filter(pl.col("usual_revenue") > pl.col("duty"))
    assert named.height >= 3  # the usual code adds to these declarations' cases


@pytest.mark.parametrize(
    ("duty_gap", "hs_duty_gap", "said"),
    [
        (
            None,
            4.0,
            "; the declared duty is 4.0 points below what these goods usually pay "
            "(21,425 KRW on this declaration)",
        ),
        (
            6.0,
            4.0,
            "; the declared duty is 6.0 points below what these goods usually pay "
            "(32,137 KRW on this declaration)",
        ),
        (-2.0, None, ""),  # dearer than usual: nothing avoided
    ],
)
def test_a_card_says_where_a_cheaper_origins_duty_at_stake_comes_from(duty_gap, hs_duty_gap, said):
    from detector.app.report import _cheaper_origin

    lead = {"customs_value": 535613.0, "duty_gap": duty_gap, "hs_duty_gap": hs_duty_gap}
    assert _cheaper_origin(lead, " KRW") == said


def test_the_card_quotes_the_goods_at_their_duty_rate_where_that_record_differs():
    from detector.app.report import _goods_on_route

    lead = {
        "duty_rate_pct": 0.0,
        "hs_route_inspected_before": 32.0,
        "hs_route_fraud_before": 25.0,
        "hs_route_fraud_rate": 0.74,
        "hs_route_rate_inspected_before": 12.0,
        "hs_route_rate_fraud_before": 11.0,
        "hs_route_rate_fraud_rate": 0.59,
    }
    assert _goods_on_route(lead) == (
        "; these goods on it at 0% duty: 11 frauds found in 12 inspections, estimated "
        "fraud rate 0.59; at any duty: 25 frauds found in 32 inspections, estimated fraud "
        "rate 0.74"
    )
    # The same inspections: one record, quoted once.
    same = {**lead, "hs_route_rate_inspected_before": 32.0, "hs_route_rate_fraud_before": 25.0}
    assert _goods_on_route(same) == (
        "; these goods on it: 25 frauds found in 32 inspections, estimated fraud rate 0.74"
    )
    # Never declared at that rate on this route before: said so.
    never = {**lead, "hs_route_rate_n_before": 0.0, "hs_route_rate_inspected_before": 0.0}
    assert _goods_on_route({**never, "hs_route_rate_fraud_before": 0.0}).startswith(
        "; these goods on it at 0% duty: never declared at 0% on this route before; at any "
        "duty: 25 frauds found in 32 inspections"
    )
    # No duty declared, or a model of before the record: the route's record alone.
    assert _goods_on_route({**lead, "duty_rate_pct": None}) == _goods_on_route(same)
    older = {k: v for k, v in lead.items() if not k.startswith("hs_route_rate")}
    assert _goods_on_route(older) == _goods_on_route(same)
    assert _goods_on_route({}) == ""
