"""The HTML report: one self-contained file an investigator opens offline.

No script, font or image comes from the network: the plots are SVG drawn by
matplotlib into the page, and the little script that sorts and filters the tables is
written inline. A flag is a risk signal for a check, never a customs valuation; the
page says so.
"""

import html
import io
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator  # noqa: E402

from detector.app.reasons import (  # noqa: E402
    duty_text,
    origin_gap,
    origin_stake,
    rate_record_apart,
    share_of_past,
    what_to_check,
)
from detector.features import PEER_LEVELS  # noqa: E402
from detector.io.ingest import reject_tally  # noqa: E402
from detector.io.output import HTML_MARK, atomic_path  # noqa: E402
from detector.models import is_thin  # noqa: E402

__all__ = ["write_monitor_report", "write_report", "write_simulation_report"]

#: Drawing settings, applied only while a report is drawn: the same ids every run, and
#: text drawn as it is (a ``$`` in an office's name is not the start of a formula).
_RC = {"svg.hashsalt": "customs-detector", "font.size": 9, "text.parse_math": False}

#: The most characters of one text a chart label and a page's text show: the page's
#: size then follows its rows and columns, not the longest value of the input.
_LABEL_CHARS = 40
_TEXT_CHARS = 500
_REASONS_CHARS = 5_000

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       color: #1d2733; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccd; }
.note { color: #556; font-size: 0.9em; }
.warn { background: #fff4d6; border-left: 4px solid #e0a100; padding: 0.4em 0.8em; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; }
.figures > div { flex: 1 1 260px; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 3px 6px; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; background: #f1f3f6; position: sticky; top: 0; }
table.sortable th[data-dir="asc"]::after { content: " \\25B2"; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; }
.scroll { max-height: 560px; overflow: auto; border: 1px solid #e3e6ea; }
.card { border: 1px solid #ccd; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0; }
.card h3 { margin: 0.2em 0 0.5em; font-size: 1.05em; }
.card .cols { display: flex; flex-wrap: wrap; gap: 1.5em; }
.card .cols > div { flex: 1 1 360px; }
.reason { margin: 0.2em 0; }
input.filter { padding: 4px 8px; width: 22em; max-width: 100%; margin: 0.5em 0;
               box-sizing: border-box; }
svg { max-width: 100%; height: auto; }
.figures > div, .card .cols > div { min-width: 0; }
td, p, h3 { overflow-wrap: anywhere; }
th { overflow-wrap: normal; }
"""

_SCRIPT = """
function cellValue(row, i) {
  const cell = row.cells[i];
  const v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
  const n = parseFloat(v);
  return isNaN(n) || !/^-?[0-9.eE+-]+$/.test(v.trim()) ? v.toLowerCase() : n;
}
function sortTable(table, i, th) {
  const dir = th.dataset.dir === "asc" ? "desc" : "asc";
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = dir;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, i), y = cellValue(b, i);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return dir === "asc" ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
}
function filterTable(input) {
  const id = input.dataset.table;
  const table = document.getElementById(id);
  const box = document.querySelector(`input.filter[data-table="${id}"]`);
  const words = box.value.toLowerCase().split(/\\s+/).filter(w => w);
  const choice = document.querySelector(`select.scheme[data-table="${id}"]`);
  const scheme = choice ? choice.value : "";
  let shown = 0;
  Array.from(table.tBodies[0].rows).forEach(r => {
    const text = r.textContent.toLowerCase();
    const schemes = (r.dataset.schemes || "").split(" ");
    const keep = words.every(w => text.includes(w)) && (!scheme || schemes.includes(scheme));
    r.style.display = keep ? "" : "none";
    shown += keep ? 1 : 0;
  });
  document.getElementById(id + "-count").textContent = shown;
}
document.querySelectorAll("table.sortable").forEach(table => {
  table.querySelectorAll("th").forEach((th, i) =>
    th.addEventListener("click", () => sortTable(table, i, th)));
});
document.querySelectorAll("input.filter").forEach(input =>
  input.addEventListener("input", () => filterTable(input)));
document.querySelectorAll("select.scheme").forEach(choice =>
  choice.addEventListener("change", () => filterTable(choice)));
"""


def _cut(value, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _e(value, limit: int = _TEXT_CHARS) -> str:
    """The value as inert HTML text, cut at ``limit`` characters."""
    return html.escape(_cut(value, limit))


def _text_cell(value, limit: int = _TEXT_CHARS) -> str:
    cut = value is not None and len(str(value)) > limit
    note = f"cut at {limit:,} characters: the full text is in the scored list file"
    return f'<td title="{note}">{_e(value, limit)}</td>' if cut else f"<td>{_e(value, limit)}</td>"


def _num(value, fmt: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, fmt)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    # The drawing only: no XML prologue, no metadata block naming outside addresses.
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def _bar_chart(counts: list[tuple[str, int]], title: str) -> str:
    labels = [_cut(c[0], _LABEL_CHARS) for c in counts][::-1]
    values = [c[1] for c in counts][::-1]
    fig, ax = plt.subplots(figsize=(4.2, 0.3 * len(labels) + 0.8))
    # Bars at positions, not categories: two labels cut to the same text stay two bars.
    ax.barh(range(len(values)), values, color="#3d6fa8")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel("listed declarations", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    return _svg(fig)


def _currency(result) -> str:
    """The model's currency, as money figures carry it (" USD"), or nothing if unknown."""
    code = (result.metadata or {}).get("currency") if result is not None else None
    return f" {code}" if code else ""


def _peer_plot(
    row: dict, peers: np.ndarray, percentiles: dict[str, float] | None, currency: str = ""
) -> str:
    """The peer group's prices per tonne (log scale), this declaration marked."""
    fig, ax = plt.subplots(figsize=(5.2, 2.4))
    price = row.get("unit_value_per_ton")
    values = peers[np.isfinite(peers) & (peers > 0)]
    shown = ("p25", "p50", "p75")
    marks = [v for v in (price, *[(percentiles or {}).get(k) for k in shown]) if v and v > 0]
    span = np.concatenate([values, marks]) if values.size or marks else np.array([1.0])
    lo, hi = float(span.min()), float(span.max())
    if hi / lo < 1.5:  # identical prices: give the axis some room around them
        lo, hi = lo / 1.5, hi * 1.5
    if values.size >= 5:
        bins = np.logspace(np.log10(lo), np.log10(hi), 30)
        ax.hist(values, bins=bins, color="#b8c4d6", label=f"this batch, n={values.size:,}")
    if percentiles:
        ax.axvspan(
            percentiles["p25"],
            percentiles["p75"],
            color="#3d6fa8",
            alpha=0.15,
            label="training p25-p75",
        )
        ax.axvline(percentiles["p50"], color="#3d6fa8", ls="--", label="training median")
    if price and price > 0:
        ax.axvline(price, color="#c0392b", lw=2, label=f"this declaration {price:,.0f}{currency}/t")
    ax.set_xscale("log")
    ax.set_xlim(lo / 1.05, hi * 1.05)
    # Four round prices across the axis, written out in full.
    ticks = sorted({float(f"{t:.2g}") for t in np.geomspace(lo, hi, 4)})
    ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(f"declared value per tonne{currency} (log scale)", fontsize=9)
    ax.set_ylabel("declarations", fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax.spines[["top", "right"]].set_visible(False)
    # Below the axes, where no line of the plot can cross it.
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2)
    return _svg(fig)


def _table(
    frame: pl.DataFrame,
    table_id: str,
    numeric: set[str],
    formats: dict,
    placeholder: str = "importer, HS code, reason...",
    units: dict[str, str] | None = None,
    schemes: list[list[str]] | None = None,
) -> str:
    """A sortable, filterable table; ``units`` name a column's unit in its header.
    ``schemes``: per row, the schemes it shows, which a menu beside the filter selects
    rows by (a word search would also find "route" in another scheme's sentence)."""
    units = {c: u for c, u in (units or {}).items() if u}
    head = "".join(
        f'<th class="{"n" if c in numeric else ""}">'
        f"{_e(c.replace('_', ' ') + (f' ({units[c]})' if c in units else ''))}</th>"
        for c in frame.columns
    )
    rows = []
    for i, r in enumerate(frame.iter_rows(named=True)):
        cells = []
        for c, v in r.items():
            if c in numeric:
                raw = "" if v is None else repr(float(v))
                cells.append(
                    f'<td class="n" data-v="{raw}">{_e(_num(v, formats.get(c, ",.0f")))}</td>'
                )
            else:
                # The reasons are the engine's own sentences, several to a row: all of
                # them stay findable by the filter (an input field in them is cut).
                cells.append(_text_cell(v, _REASONS_CHARS if c == "reasons" else _TEXT_CHARS))
        shows = f' data-schemes="{_e(" ".join(schemes[i]) or _NONE)}"' if schemes else ""
        rows.append(f"<tr{shows}>" + "".join(cells) + "</tr>")
    menu = ""
    if schemes:
        options = (
            "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in MECHANISMS)
            + f'<option value="{_NONE}">{_e(NO_SCHEME)}</option>'
        )

        menu = (
            f'<select class="scheme" data-table="{table_id}" aria-label="scheme">'
            f'<option value="">every scheme</option>{options}</select> '
        )
    return (
        menu
        + f'<input class="filter" data-table="{table_id}" placeholder="filter: {_e(placeholder)}">'
        f' <span class="note"><span id="{table_id}-count">{frame.height:,}</span> rows shown; '
        "click a column to sort</span>"
        f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _counts(series: pl.Series, n: int = 10) -> list[tuple[str, int]]:
    counts = series.drop_nulls().value_counts(sort=True).head(n)
    return [(str(k), int(v)) for k, v in counts.iter_rows()]


def _listed(result) -> pl.DataFrame:
    """The flagged list; without a capacity, the ranked rows that were given reasons."""
    if result.flagged:
        return result.scored.head(result.flagged)
    return result.scored.filter(pl.col("reason_codes").is_not_null())


def _summary(result, warnings: list[str]) -> str:
    flagged = _listed(result)
    codes = flagged["reason_codes"].explode().drop_nulls()
    chapters = flagged["hs_code"].str.slice(0, 2) if "hs_code" in flagged.columns else None
    read, rejected = result.n_read, result.rejects.height
    stake = (
        float(result.cases["duty_at_stake"].sum())
        if result.cases is not None and "duty_at_stake" in result.cases.columns
        else float(flagged["revenue_at_stake"].fill_null(0).sum())
    )
    facts = [
        ("rows read", f"{read:,}"),
        ("scored", f"{read - rejected:,}"),
        ("rejected", f"{rejected:,}"),
        (
            "flagged",
            f"{result.flagged:,}"
            if result.flagged
            else f"no capacity given (--top): the {flagged.height:,} most suspicious shown",
        ),
        ("cases", f"{result.cases.height:,}" if result.cases is not None else "-"),
        ("duty at stake in the flagged list", f"{stake:,.0f}{_currency(result)}"),
        ("model", result.model_age()),
    ]
    items = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    lead = pl.Series(
        [next(iter(_schemes(c)), NO_SCHEME) for c in flagged["reason_codes"].to_list()],
        dtype=pl.String,
    )
    figures = [
        _bar_chart(_counts(lead), "flags by the first scheme shown"),
        _bar_chart(_counts(codes), "flags by reason (every reason of a row)"),
    ]
    if chapters is not None:
        figures.append(_bar_chart(_counts(chapters), "flags by HS chapter"))
    if (
        "customs_office" in flagged.columns
        and flagged["customs_office"].null_count() < flagged.height
    ):
        figures.append(_bar_chart(_counts(flagged["customs_office"]), "flags by customs office"))
    figures.append(_bar_chart(_counts(flagged["route"]), "flags by route (origin>departure)"))
    warned = "".join(f'<p class="warn">{_e(w)}</p>' for w in warnings)
    return (
        f"<h2>Summary</h2><table style='width:auto'>{items}</table>{warned}"
        f"<div class='figures'>{''.join(f'<div>{f}</div>' for f in figures)}</div>"
    )


def _same_peer_group(lead: dict) -> pl.Expr:
    """The batch's declarations in the lead declaration's peer group (any quarter)."""
    level = lead.get("peer_level")
    keys = PEER_LEVELS[int(level)][1] if level is not None else ("hs_code", "country_origin")
    conditions = [pl.lit(True)]
    for key in keys:
        if key in ("hs_code", "country_origin"):
            conditions.append(pl.col(key) == lead.get(key))
        elif key in ("hs4", "hs2"):
            width = int(key[2])
            conditions.append(pl.col("hs_code").str.slice(0, width) == lead.get(key))
    return pl.all_horizontal(conditions)


def _risk_interval(lead: dict, model) -> str:
    """The risk's 95 % interval and the calibration declarations it rests on; said to be
    thin under 30 of them."""
    calibrator = getattr(model, "calibrator_", None)
    risk = lead.get("risk_score")
    if calibrator is None or risk is None or not hasattr(calibrator, "interval"):
        return ""
    low, high, n = (float(v[0]) for v in calibrator.interval([risk]))
    if not math.isfinite(n):
        return ""
    thin = ", thin" if is_thin(n) else ""
    return f", 95 % interval {low:.3f}-{high:.3f} from {n:,.0f} inspections scored alike{thin}"


def _inspections(lead: dict, prefix: str) -> str:
    """An entity's past inspections and the frauds they found: "17 (17)"; "n/a" for a
    model of before these counts."""
    inspected = lead.get(f"{prefix}_inspected_before")
    if inspected is None:
        return "n/a"
    return f"{_num(inspected)} ({_num(lead.get(f'{prefix}_fraud_before') or 0)})"


def _cheaper_origin(lead: dict, cur: str) -> str:
    """The duty the declared origin avoids against what these goods usually pay, where
    it is part of the duty at stake: "; the declared duty is 4.0 points below what these
    goods usually pay (21,425 KRW on this declaration)"."""
    stake = origin_stake(lead)
    if stake <= 0:
        return ""
    gap = origin_gap(lead)
    return (
        f"; the declared duty is {_e(_num(gap, '.1f'))} points below what these goods "
        f"usually pay ({_e(_num(stake))}{cur} on this declaration)"
    )


def _goods_on_route(lead: dict) -> str:
    """The inspections of these goods on this route: "; these goods on it: 25 frauds
    found in 32 inspections, estimated fraud rate 0.74" ("1 fraud found in 1
    inspection"); first at the declared duty rate where that record is apart from the
    route's (``rate_record_apart``: "; these goods on it at 0% duty: ...; at any duty:
    ..."); nothing for a model of before that record."""
    if lead.get("hs_route_inspected_before") is None:
        return ""
    if not rate_record_apart(lead):
        return "; these goods on it: " + _record_inspections(lead, "hs_route")
    duty = _e(duty_text(lead["duty_rate_pct"]))
    if lead.get("hs_route_rate_n_before") == 0:
        at_rate = f"never declared at {duty} on this route before"
    else:
        at_rate = _record_inspections(lead, "hs_route_rate")
    return (
        f"; these goods on it at {duty} duty: {at_rate}; at any duty: "
        f"{_record_inspections(lead, 'hs_route')}"
    )


def _record_inspections(lead: dict, prefix: str) -> str:
    """A record's inspections in words, with the estimated fraud rate, for the case
    card's route line ("25 frauds found in 32 inspections, estimated fraud rate 0.74")."""
    inspected = lead.get(f"{prefix}_inspected_before")
    rate = _e(_num(lead.get(f"{prefix}_fraud_rate"), ".2f"))
    if not inspected:
        return f"no inspection yet (estimated fraud rate {rate}, the overall rate)"
    frauds = lead.get(f"{prefix}_fraud_before") or 0
    return (
        f"{_e(_num(frauds))} fraud{'s' * (frauds != 1)} found in "
        f"{_e(_num(inspected))} inspection{'s' * (inspected != 1)}, estimated fraud rate "
        f"{rate}"
    )


def _card(
    case: dict, lead: dict, members: pl.DataFrame, peers: pl.DataFrame, model, cur: str = ""
) -> str:
    percentiles = model.peer_percentiles(lead) if model is not None else None
    same = peers.filter(_same_peer_group(lead))["unit_value_per_ton"].to_numpy()
    plot = _peer_plot(lead, same, percentiles, cur)
    reasons = "".join(f'<p class="reason">{_e(r)}</p>' for r in lead.get("reasons") or [])
    todo = what_to_check(lead.get("reason_codes"))
    reasons += "".join(f'<p class="reason"><b>What to check:</b> {_e(t)}</p>' for t in todo)
    n = lead.get("hs_history_n")
    # The training declarations counted are of the code as the model reads it.
    code = model.code_as_read(lead) if model is not None else lead.get("hs_code")
    lane = share_of_past(lead.get("lane_history_n"), n, lead.get("lane_share"))
    origin = share_of_past(lead.get("origin_history_n"), n, lead.get("origin_share"))
    route = (
        f"<p><b>Route</b> {_e(lead.get('route'))}: this origin&gt;departure lane carried "
        f"{_e(lane)} of the training declarations of HS {_e(code)}; origin "
        f"{_e(lead.get('country_origin'))} {_e(origin)} of them"
        f"{' (via a third country)' if lead.get('third_country') else ''}"
        f"{_goods_on_route(lead)}{_cheaper_origin(lead, cur)}.</p>"
    )
    history = [
        ("earlier declarations", _num(lead.get("importer_n_before"))),
        ("known for (days)", _num(lead.get("importer_days_known"))),
        ("inspections (frauds found)", _inspections(lead, "importer")),
        ("estimated fraud rate", _num(lead.get("importer_fraud_rate"), ".2f")),
        ("average price ratio to peers", _num(lead.get("importer_mean_ratio_before"), ".2f")),
        ("share declared below 70% of peers", _num(lead.get("importer_share_below_before"), ".2f")),
        ("seller's earlier declarations", _num(lead.get("seller_n_before"))),
        ("seller's inspections (frauds found)", _inspections(lead, "seller")),
        ("seller's estimated fraud rate", _num(lead.get("seller_fraud_rate"), ".2f")),
    ]
    rows = "".join(f"<tr><td>{_e(k)}</td><td class='n'>{_e(v)}</td></tr>" for k, v in history)
    listed = ", ".join(
        f"#{r['rank']} {_e(r['declaration_id'])}" for r in members.head(12).iter_rows(named=True)
    )
    more = f" and {members.height - 12:,} more" if members.height > 12 else ""
    return f"""
<div class="card" id="{_e(case["case_id"])}">
<h3>Case {_e(case["case_id"])}: importer {_e(case["importers"])}, {case["declarations"]:,}
declaration(s), duty at stake {_num(case.get("duty_at_stake", case["revenue_at_stake"]))}{cur}</h3>
<p class="note">Declarations: {listed}{more}. Period {_e(case["first_date"])} to
{_e(case["last_date"])}. Strongest reasons: {_e(case["strongest_reasons"])}.</p>
<div class="cols"><div><b>Lead declaration {_e(lead["declaration_id"])}</b>
(rank {lead["rank"]}, risk {_num(lead.get("risk_score"), ".3f")}{_risk_interval(lead, model)}):
HS {_e(lead.get("hs_code"))}, {_num(lead.get("net_mass_kg"), ",.1f")} kg declared at
{_num(lead.get("customs_value"), ",.0f")}{cur},
{_num(lead.get("unit_value_per_ton"))}{cur}/t against a reference of
{_num(lead.get("reference_value_per_ton"))}{cur}/t ({_e(lead.get("peer_group"))}).
<div>{plot}</div></div>
<div>{route}<p><b>Importer {_e(lead.get("importer_id"))}</b></p><table>{rows}</table>
<p><b>Reasons</b></p>{reasons}</div></div></div>"""


def _cards(result, max_cards: int) -> str:
    if result.cases is None or result.cases.height == 0:
        return ""
    listed = result.scored.head(result.flagged)
    detail_cols = [c for c in result.details.columns if c not in listed.columns]
    full = listed.join(
        result.details.select("declaration_id", *detail_cols), on="declaration_id", how="left"
    )
    cards = []
    for case in result.cases.head(max_cards).iter_rows(named=True):
        members = full.filter(pl.col("case_id") == case["case_id"]).sort("rank")
        cards.append((case, members.row(0, named=True), members))
    peers = result.peers
    if isinstance(peers, pl.LazyFrame):
        # One read of the batch's prices for every card's peer group.
        groups = pl.any_horizontal(_same_peer_group(lead) for _, lead, _ in cards)
        peers = peers.filter(groups).collect()
    cur = _currency(result)
    out = [_card(case, lead, members, peers, result.model, cur) for case, lead, members in cards]
    shown = min(max_cards, result.cases.height)
    return (
        f"<h2>Cases</h2><p class='note'>Cards for the first {shown:,} of "
        f"{result.cases.height:,} cases, most suspicious first; every case is in the tables "
        "below.</p>" + "".join(out)
    )


def _wilson(frauds: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval of a hit rate from ``frauds`` of ``n`` inspections (Wilson score):
    3 of 3 is 0.44-1.00, not a certainty."""
    n = np.maximum(n.astype(float), 1.0)
    p = frauds / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # 0 of n is 0 exactly, n of n is 1 (the sum above may miss by a rounding error, and
    # an error bar below a point that is its own bound must not be negative).
    low = np.where(frauds <= 0, 0.0, np.clip(centre - half, 0, 1))
    high = np.where(frauds >= n, 1.0, np.clip(centre + half, 0, 1))
    return np.minimum(low, p), np.maximum(high, p)


def _monitor_section(rates: pl.DataFrame | None, currency: str = "") -> str:
    if rates is None or rates.height == 0:
        return ""
    dated = rates.filter(pl.col("month").is_not_null()).sort("month")
    # Months as positions: one month is one point, not an axis of years.
    months = sorted(set(dated["month"].dt.strftime("%Y-%m").to_list()))
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    for k, (selection, part) in enumerate(dated.group_by("selection", maintain_order=True)):
        x = np.array([months.index(m) for m in part["month"].dt.strftime("%Y-%m")]) + 0.08 * k
        frauds, n = part["frauds"].to_numpy(), part["inspected"].to_numpy()
        rate = part["hit_rate"].to_numpy()
        low, high = _wilson(frauds, n)
        ax.errorbar(
            x, rate, yerr=[rate - low, high - rate], marker="o", capsize=3, label=str(selection[0])
        )
        for xi, yi, ni in zip(x, rate, n, strict=True):
            ax.annotate(
                f"n={ni:,}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7
            )
    ax.set_xticks(range(len(months)), months)
    ax.set_xlim(-0.5, max(len(months) - 0.5, 0.5))
    ax.set_xlabel("month of inspection", fontsize=9)
    ax.set_ylabel("hit rate (frauds / inspections)", fontsize=9)
    ax.set_ylim(0, 1)
    if dated.height:
        ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    low, high = _wilson(rates["frauds"].to_numpy(), rates["inspected"].to_numpy())
    table = _table(
        rates.with_columns(
            pl.col("month").dt.strftime("%Y-%m").fill_null("undated"),
            pl.Series("hit_rate_low_95", low),
            pl.Series("hit_rate_high_95", high),
        ),
        "monitor",
        {"inspected", "frauds", "hit_rate", "hit_rate_low_95", "hit_rate_high_95"}
        | {"revenue_recovered"},
        {"hit_rate": ".1%", "hit_rate_low_95": ".1%", "hit_rate_high_95": ".1%"},
        placeholder="month, selection...",
        units={"revenue_recovered": currency.strip() or "currency not recorded"},
    )
    return (
        "<h2>Inspections: model-selected versus exploration</h2><p class='note'>Hit rate of "
        "the inspections reported back, by month and by how the declaration was selected. "
        "Exploration picks come from below the model's list: random ones give the base rate "
        "the model must beat; the default policy's test each scheme the declarations' own "
        "facts show, so their hit rate is higher than the base rate, and it spends more on "
        "them while they find more frauds than the model expected of them. "
        "Bars and the low/high columns: 95 % interval (Wilson); n: inspections.</p>"
        f"{_svg(fig)}{table}"
    )


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        + HTML_MARK
        + "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>{body}<script>{_SCRIPT}</script></body></html>"
    )


def _flagged_table(listed: pl.DataFrame, currency: str = "") -> str:
    columns = [
        c
        for c in (
            "case_id",
            "rank",
            "declaration_id",
            "risk_score",
            "revenue_at_stake",
            "hs_code",
            "route",
            "importer_id",
            "value_ratio",
            "selection",
            "reasons",
        )
        if c in listed.columns
    ]
    return "<h2>Flagged declarations</h2>" + _table(
        listed.select(columns).with_columns(pl.col("reasons").list.join(" | ")),
        "flagged",
        {"rank", "risk_score", "revenue_at_stake", "value_ratio"},
        {"risk_score": ".3f", "value_ratio": ".2f", "rank": ",d"},
        units={"revenue_at_stake": currency.strip()},
        schemes=[_schemes(codes) for codes in listed["reason_codes"].to_list()],
    )


#: The schemes a declaration can show, as its reason codes name them; NO_SCHEME where
#: it shows none (its record, the goods' risk or a detector put it on the list).
MECHANISMS: tuple[str, ...] = ("UNDERVALUED", "MISCLASSIFIED", "ROUTE", "RELABEL", "SPLIT_SHIPMENT")
NO_SCHEME = "no scheme shown"
_NONE = "NONE"  # its token in a row's data-schemes, which the menu splits on spaces


def _schemes(codes: list[str] | None) -> list[str]:
    return [c for c in codes or [] if c in MECHANISMS]


def _cases_table(cases: pl.DataFrame | None, currency: str = "") -> str:
    if cases is None or cases.height == 0:
        return ""
    return "<h2>All cases</h2>" + _table(
        cases.select(
            "case_id",
            "declarations",
            "importers",
            *[c for c in ("duty_at_stake", "revenue_at_stake") if c in cases.columns],
            "max_risk_score",
            "first_date",
            "last_date",
            "routes",
            "strongest_reasons",
        ),
        "cases",
        {"declarations", "duty_at_stake", "revenue_at_stake", "max_risk_score"},
        {"max_risk_score": ".3f", "declarations": ",d"},
        units={"duty_at_stake": currency.strip(), "revenue_at_stake": currency.strip()},
    )


def _nothing_scored(result, warnings: list[str]) -> str:
    read = result.n_read
    return (
        f"<h2>Summary</h2><p class='warn'>No row could be scored: all {read:,} rows read "
        "were rejected, so nothing is flagged. The reasons are counted below; --rejects "
        "FILE keeps every rejected row with its reason.</p>"
        f"<p class='note'>{_e(result.model_age())}.</p>"
        + "".join(f'<p class="warn">{_e(w)}</p>' for w in warnings)
    )


def _rejections(rejects: pl.DataFrame, shown: int = 20) -> str:
    """The rejected rows counted by kind of reason, the commonest first."""
    tally = reject_tally(rejects)
    if not tally:
        return ""
    rows = "".join(f"<tr><td>{_e(k)}</td><td class='n'>{n:,}</td></tr>" for k, n in tally[:shown])
    rest = tally[shown:]
    more = (
        f"<p class='note'>and {len(rest):,} other kinds of reason, given "
        f"{sum(n for _, n in rest):,} times.</p>"
        if rest
        else ""
    )
    return (
        f"<h2>Rejected rows</h2><p class='note'>{rejects.height:,} rows could not be "
        "scored; a row may have several reasons.</p><table style='width:auto'><thead><tr>"
        f"<th>reason</th><th class='n'>rows</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )


def write_report(
    result,
    path: str | Path,
    *,
    monitor: pl.DataFrame | None = None,
    store_currency: str | None = None,
    warnings: list[str] | None = None,
    max_cards: int = 25,
) -> Path:
    """Write the report of a scoring run (a :class:`~detector.app.pipeline.ScoreResult`).

    ``monitor``: a label store's hit rates, its money in ``store_currency`` (the store's,
    which may differ from the model's); ``warnings``: the run's (default: the drift's).
    """
    path = Path(path)
    if warnings is None:
        warnings = list(result.drift.warnings) if result.drift else []
    with plt.rc_context(_RC):
        if result.n_read - result.rejects.height == 0:
            found = _nothing_scored(result, warnings)
        else:
            found = (
                _summary(result, warnings)
                + _cards(result, max_cards)
                + _cases_table(result.cases, _currency(result))
                + _flagged_table(_listed(result), _currency(result))
            )
        body = (
            "<p class='note'>A flag is a risk signal that calls for a check, never a customs "
            "valuation: the reasons give the numbers to verify.</p>"
            + found
            + _rejections(result.rejects)
            + _monitor_section(monitor, store_currency or "")
        )
    with atomic_path(path) as tmp:
        tmp.write_text(_page("Customs risk report", body), encoding="utf-8")
    return path


def write_monitor_report(
    rates: pl.DataFrame,
    path: str | Path,
    *,
    store: str,
    currency: str | None = None,
    exploration: str | None = None,
) -> Path:
    """A page with the hit rates of a label store's inspections (money in ``currency``)
    and, in ``exploration``, what the next list's exploration spends and why."""
    path = Path(path)
    with plt.rc_context(_RC):
        body = f"<p class='note'>Label store {_e(store)}.</p>" + _monitor_section(
            rates, currency or ""
        )
        if exploration:
            body += f"<p class='note'>The next list's exploration: {_e(exploration)}.</p>"
    with atomic_path(path) as tmp:
        tmp.write_text(_page("Inspection outcomes", body), encoding="utf-8")
    return path


def _cumulative_plot(sim, key: str, ylabel: str) -> str:
    """One line per policy: ``key`` summed month after month over the replay."""
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    for name in sim.options.policies:
        values = [sim.measure(name, [m])[key] or 0 for m in sim.months]
        ax.plot(sim.months, np.cumsum(values), marker="o", ms=3, label=_cut(name, _LABEL_CHARS))
    ax.set_xlabel("month of the replay")
    ax.set_ylabel(ylabel)
    # Whole amounts with their thousands, not "1e7" in a corner.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    return _svg(fig)


def _exploration_plot(sim) -> str:
    """The exploration picks' hit rate by month, one line per policy that explores."""
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    for name in sim.options.policies:
        rates = sim.hit_rates(name).filter(pl.col("selection") == "exploration")
        if rates.height:
            ax.plot(
                rates["month"].to_list(),
                rates["hit_rate"].to_list(),
                marker="o",
                ms=3,
                label=_cut(name, _LABEL_CHARS),
            )
    ax.set_xlabel("month of the replay")
    ax.set_ylabel("exploration hit rate (frauds / picks)")
    ax.set_ylim(0, 1)
    if ax.lines:
        ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    return _svg(fig)


def _simulation_totals(sim, currency: str) -> str:
    rows = []
    for name in sim.options.policies:
        m = sim.measure(name)
        rates = sim.hit_rates(name).filter(pl.col("selection") == "exploration")
        picks = int(rates["inspected"].sum()) if rates.height else 0
        hit = int(rates["frauds"].sum()) / picks if picks else None
        rows.append(
            {
                "policy": name + (" (default)" if name == sim.default else ""),
                "inspected": m["inspected"],
                "frauds found": m["frauds"],
                "precision": m["precision"],
                f"revenue recovered{currency}": m["revenue"],
                "share of the fraud found": m["coverage"],
                "exploration hit rate": hit,
                **{f"recall {k}": v for k, v in m["recall_by_type"].items()},
            }
        )
    frame = pl.DataFrame(rows)
    numeric = {c for c in frame.columns if c != "policy"}
    formats = {c: ".1%" for c in numeric if c not in ("inspected", "frauds found")}
    formats[f"revenue recovered{currency}"] = ",.0f"
    return _table(frame, "policies", numeric, formats, placeholder="policy")


def write_simulation_report(sim, path: str | Path) -> Path:
    """A page of a replay (:class:`~detector.app.simulate.Simulation`): what each policy
    would have found, cumulated month by month, and what its exploration found."""
    path = Path(path)
    currency = f" {sim.currency}" if sim.currency else ""
    first, last = sim.months[0], sim.months[-1]
    with plt.rc_context(_RC):
        figures = [_cumulative_plot(sim, "frauds", "frauds found, cumulative (declarations)")]
        if sim.has_revenue:
            label = f"revenue recovered, cumulative ({sim.currency or 'money'})"
            figures.insert(0, _cumulative_plot(sim, "revenue", label))
        figures.append(_exploration_plot(sim))
        body = (
            f"<p class='note'>Months {first:%Y-%m} to {last:%Y-%m} replayed at "
            f"{_e(f'{sim.options.capacity:g}')} % capacity, {_e(sim.options.retrain)} "
            f"retraining; outcomes from the {_e(sim.basis)}. Each policy's model learns only "
            "from the labels of the first stretch and of the declarations that policy "
            "selected.</p><h2>What each policy would have found</h2>"
            + _simulation_totals(sim, currency)
            + "<h2>Month by month</h2><div class='figures'>"
            + "".join(f"<div>{f}</div>" for f in figures)
            + "</div>"
        )
        if sim.default in sim.picks:  # the default policy's hit rates, as monitor shows them
            body += _monitor_section(sim.hit_rates(sim.default), currency)
    with atomic_path(path) as tmp:
        tmp.write_text(_page("Selection policies: a replay", body), encoding="utf-8")
    return path
