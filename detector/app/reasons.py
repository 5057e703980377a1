"""Reasons in words: the sentence of each reason code, from the declaration's numbers.

The model gives each listed declaration its reason codes (``reason_codes``, strongest
first); the numbers a reason quotes are the declaration's own columns. Here, and only
here, they become sentences an investigator reads: one formatter per code, in one table.
"""

import math
from collections.abc import Callable

import polars as pl

from detector.features import USUAL_CODE_COLUMNS, string_lists
from detector.models import FAR_BELOW

__all__ = [
    "FORMATTERS",
    "HINTS",
    "SENTENCE_COLUMNS",
    "duty_text",
    "hint",
    "hints",
    "origin_gap",
    "origin_stake",
    "rate_record",
    "rate_record_apart",
    "sentence_expr",
    "sentences",
    "share_of_past",
    "what_to_check",
    "with_sentences",
]

#: The columns the sentences quote (besides ``novelty_detector``).
SENTENCE_COLUMNS: tuple[str, ...] = (
    "country_departure",
    "country_origin",
    "currency",
    "customs_value",
    "declarant_fraud_before",
    "declarant_fraud_rate",
    "declarant_id",
    "declarant_inspected_before",
    "declaration_date",
    "duty_gap",
    "duty_rate_pct",
    "hs_code",
    "hs_history_n",
    "hs_duty_gap",
    "hs_fraud_before",
    "hs_fraud_rate",
    "hs_inspected_before",
    "hs_route_fraud_before",
    "hs_route_fraud_rate",
    "hs_route_inspected_before",
    "hs_route_rate_fraud_before",
    "hs_route_rate_fraud_rate",
    "hs_route_rate_inspected_before",
    "hs_route_rate_n_before",
    "importer_days_known",
    "importer_fraud_before",
    "importer_fraud_rate",
    "importer_id",
    "importer_inspected_before",
    "importer_mean_ratio_before",
    "importer_n_before",
    "importer_seller_fraud_before",
    "importer_seller_fraud_rate",
    "importer_seller_inspected_before",
    "importer_seller_n_before",
    "importer_share_below_before",
    "lane_history_n",
    "lane_share",
    "net_mass_kg",
    "novelty",
    "origin_fraud_before",
    "origin_fraud_rate",
    "origin_inspected_before",
    "origin_history_n",
    "origin_share",
    "peer_label",
    "peer_n",
    "price_percentile",
    "reclass_duty_pct",
    "reclass_hs_code",
    "reclass_peer_n",
    "reclass_revenue",
    "reclass_value_per_ton",
    "reference_value_per_ton",
    "route",
    "route_fraud_before",
    "route_fraud_rate",
    "route_inspected_before",
    "seller_fraud_before",
    "seller_fraud_rate",
    "seller_id",
    "seller_inspected_before",
    "split_n_pair_day",
    "split_under_pair_day",
    "split_value_pair_day",
    "third_country",
    "unit_value_per_ton",
    "usual_origin",
    "value_ratio",
    *(c for c in USUAL_CODE_COLUMNS if c != "usual_duty_gap"),
)


def _num(x, fmt: str = ",.0f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _cur(r: dict) -> str:
    """The declaration's currency, as money figures carry it (" USD"), or nothing."""
    code = r.get("currency")
    return f" {code}" if code else ""


def _pct(x) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:.1f}%" if x < 0.1 else f"{x * 100:.0f}%"


def share_of_past(n, of, estimate) -> str:
    """A lane's or an origin's share of the goods' past declarations, as counted: "4.3%
    (133 of 3,088)", "11% (1 of 9)"; "none" for goods never declared before; the
    model's estimate (smoothed) for a model of before the counts."""
    if n is None or of is None:
        return _pct(estimate)
    if of == 0:
        return "none"
    return f"{_pct(n / of)} ({n:,.0f} of {of:,.0f})"


def _lane_of_past(r: dict) -> str:
    return share_of_past(r.get("lane_history_n"), r.get("hs_history_n"), r.get("lane_share"))


def _origin_of_past(r: dict) -> str:
    return share_of_past(r.get("origin_history_n"), r.get("hs_history_n"), r.get("origin_share"))


def _price(code: str, r: dict, de_minimis: float) -> str:
    ratio = r.get("value_ratio")
    group = r.get("peer_label") or "its peer group"
    if ratio is None:
        return f"{code}: no peer price to compare with"
    if ratio == 0:
        return (
            f"{code}: declared at value 0 for {_num(r.get('net_mass_kg'), ',.1f')} kg; "
            f"the median of {_num(r.get('peer_n'))} declarations of {group} is "
            f"{_num(r.get('reference_value_per_ton'))}{_cur(r)}/t"
        )
    word = "below" if ratio < 1 else "above"
    per_t = f"{_cur(r)}/t"
    off = abs(1 - ratio) * 100
    gap = f"{off:.0f}% {word}" if off >= 0.5 else "at"
    price = (
        f"{_num(r.get('unit_value_per_ton'))}{per_t} is {gap} "
        f"the median {_num(r.get('reference_value_per_ton'))}{per_t} of "
        f"{_num(r.get('peer_n'))} declarations of {group} (percentile "
        f"{_num(r.get('price_percentile'), '.1f')})"
    )
    habit = r.get("importer_mean_ratio_before")
    if code == "UNDERVALUED" and ratio >= FAR_BELOW and habit is not None and habit < FAR_BELOW:
        # A mild discount: the importer's habit is what makes it one (mechanism_facts),
        # so it is said first; the price after it.
        return (
            f"{code}: importer {_id(r.get('importer_id'))}'s {_num(r.get('importer_n_before'))} "
            f"earlier declarations averaged {habit * 100:.0f}% of their peers' median price; "
            f"this one's {price}"
        )
    return f"{code}: {price}"


def _usual_origin(r: dict) -> str | None:
    """Where goods leaving the departure country usually come from, when that origin
    pays more duty: the origin an officer compares the certificate with."""
    gap = r.get("duty_gap")
    if gap is None or gap <= 0 or not r.get("usual_origin"):
        return None
    return (
        f"goods leaving {r.get('country_departure')} usually originate in "
        f"{r.get('usual_origin')}, which pays {gap:.1f} points more duty "
        f"({_num(_duty_of(r, gap))}{_cur(r)} on this declaration)"
    )


def _route(code: str, r: dict, de_minimis: float) -> str:
    if r.get("third_country"):
        parts = [
            f"declared origin {r.get('country_origin')}, shipped from "
            f"{r.get('country_departure')} (route {r.get('route')})",
            f"this origin>departure lane carries {_lane_of_past(r)} of "
            f"past HS {r.get('hs_code')} declarations",
            f"origin {r.get('country_origin')} is on {_origin_of_past(r)} of them",
        ]
    else:  # shipped from its origin: what is unusual is the origin itself
        parts = [
            f"shipped from its origin {r.get('country_origin')} (route {r.get('route')}), "
            f"an origin of {_origin_of_past(r)} of past HS {r.get('hs_code')} "
            "declarations"
        ]
    usual = _usual_origin(r)
    if usual:
        parts.append(usual)
    elif (r.get("hs_duty_gap") or 0) > 0:
        parts.append(
            f"the declared duty is {r['hs_duty_gap']:.1f} points below the average for these "
            f"goods ({_num(_duty_of(r, r['hs_duty_gap']))}{_cur(r)} on this declaration)"
        )
    return f"{code}: " + "; ".join(parts)


def _misclassified(code: str, r: dict, de_minimis: float) -> str:
    if r.get("reclass_hs_code") is None and r.get("usual_hs_code") is not None:
        return _usual_code(code, r)
    return (
        f"{code}: {_num(r.get('unit_value_per_ton'))}{_cur(r)}/t fits HS "
        f"{r.get('reclass_hs_code')} "
        f"(median {_num(r.get('reclass_value_per_ton'))}{_cur(r)}/t of "
        f"{_num(r.get('reclass_peer_n'))} declarations, duty "
        f"{_num(r.get('reclass_duty_pct'), '.1f')}%) better than the declared HS "
        f"{r.get('hs_code')} at {_num(r.get('duty_rate_pct'), '.1f')}%; under HS "
        f"{r.get('reclass_hs_code')} the duty would be {_num(r.get('reclass_revenue'))}{_cur(r)} "
        "more"
    )


def _usual_code(code: str, r: dict) -> str:
    """Goods under a code their importer rarely uses, at a price its usual code fits:
    the importer's counts (of its trade with the row's seller, where that is the
    record) are the training history's, both codes alike."""
    peers = f"from {r['usual_peer_origin']}" if r.get("usual_peer_origin") else "of all origins"
    seller = r.get("usual_seller_id")
    record = f" from seller {_id(seller)}" if seller is not None else ""
    return (
        f"{code}: in the training history importer {_id(r.get('importer_id'))} declared "
        f"HS {r.get('usual_hs_code')} ({_num(r.get('usual_duty_pct'), '.1f')}%) "
        f"{_times(r.get('usual_hs_n'))}, {_pct(_share(r))} of its "
        f"{_num(r.get('usual_importer_n'))} declarations{record}, and HS {r.get('hs_code')} "
        f"({_num(r.get('duty_rate_pct'), '.1f')}%) {_times(r.get('usual_own_n'))}; "
        f"{_num(r.get('unit_value_per_ton'))}{_cur(r)}/t fits HS {r.get('usual_hs_code')} "
        f"(median {_num(r.get('usual_value_per_ton'))}{_cur(r)}/t of "
        f"{_num(r.get('usual_peer_n'))} declarations {peers}); under it the duty would be "
        f"{_num(r.get('usual_revenue'))}{_cur(r)} more"
    )


def _share(r: dict) -> float | None:
    n, total = r.get("usual_hs_n"), r.get("usual_importer_n")
    return n / total if n is not None and total else None


def _times(n) -> str:
    if n is None:
        return "n/a times"
    return {0: "never", 1: "once"}.get(int(n), f"{_num(n)} times")


#: How many characters of an entity's id a sentence quotes.
_ID_SHOWN = 40


def _id(value) -> str:
    """An entity's id as a sentence quotes it: cut after ``_ID_SHOWN`` characters, and
    '|', which separates a list cell's sentences, shown as '¦' (the id's own column
    holds it whole)."""
    if value is None:
        return "n/a"
    text = str(value).replace("|", "\u00a6")
    return text if len(text) <= _ID_SHOWN else text[: _ID_SHOWN - 1] + "\u2026"


def _duty_of(r: dict, points) -> float | None:
    """The duty ``points`` percentage points make on the declared value."""
    value = r.get("customs_value")
    return None if value is None or points is None else value * points / 100.0


def origin_gap(r: dict) -> float:
    """How many points the declared duty is below what a cheaper origin avoids: the
    larger of its gap to the usual origin's duty from this departure country and to the
    goods' average over all origins, 0 when neither is above the declared rate."""
    return max(r.get("duty_gap") or 0.0, r.get("hs_duty_gap") or 0.0, 0.0)


def origin_stake(r: dict) -> float:
    """The duty a cheaper declared origin avoids on the declared value: the larger of
    its gap to the usual origin's duty from this departure country and to the goods'
    average over all origins (as ``DUTY_AT_STAKE`` counts it), 0 when neither is above
    the declared rate.

    >>> origin_stake({"customs_value": 535613.0, "duty_gap": None, "hs_duty_gap": 4.0})
    21424.52
    """
    return round(_duty_of(r, origin_gap(r)) or 0.0, 2)


def _relabel(code: str, r: dict, de_minimis: float) -> str:
    gap = r.get("hs_duty_gap")
    return (
        f"{code}: origin {r.get('country_origin')} on {_origin_of_past(r)} of past "
        f"HS {r.get('hs_code')} declarations, at {_num(r.get('duty_rate_pct'), '.1f')}% "
        f"duty, {_num(gap, '.1f')} points below the average these goods pay over all "
        f"origins ({_num(_duty_of(r, gap))}{_cur(r)} on this declaration); shipped from "
        f"{r.get('country_departure')} (route {r.get('route')})"
    ) + (
        # Through a third country the ROUTE sentence says where such goods come from.
        f"; {usual}" if (usual := _usual_origin(r)) and not r.get("third_country") else ""
    )


def _importer_underprices(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: importer {_id(r.get('importer_id'))} declared "
        f"{_pct(r.get('importer_share_below_before'))} of its "
        f"{_num(r.get('importer_n_before'))} earlier declarations below 70% of the peer "
        f"price (average ratio {_num(r.get('importer_mean_ratio_before'), '.2f')})"
    )


def _record(r: dict, prefix: str) -> str:
    """An entity's inspections and the fraud rate the model estimated from them: "6
    frauds in 6 inspections, estimated rate 0.47 (an estimate from few inspections is
    drawn toward the overall rate)"; with no inspection, the overall rate it leans on.
    The count comes first: it is what an officer can check, and it explains an estimate
    far from it."""
    rate = _num(r.get(f"{prefix}_fraud_rate"), ".2f")
    inspected = r.get(f"{prefix}_inspected_before")
    if inspected is None:  # a model of before these counts
        return f"estimated fraud rate {rate}"
    if inspected == 0:
        return f"no inspection yet (the overall fraud rate {rate})"
    frauds = r.get(f"{prefix}_fraud_before") or 0
    found = f"{frauds:,.0f} fraud{'s' * (frauds != 1)}"
    drawn = ""
    estimate = r.get(f"{prefix}_fraud_rate")
    if estimate is not None and abs(frauds / inspected - estimate) >= _DRAWN:
        drawn = " (an estimate from few inspections is drawn toward the overall rate)"
    return (
        f"{found} in {inspected:,.0f} inspection{'s' * (inspected != 1)}, estimated "
        f"rate {rate}{drawn}"
    )


def duty_text(duty: float) -> str:
    """A duty rate as declared, to its last decimal: "0%", "8%", "2.75%" (the record at
    a duty rate is kept for that exact rate, so two rates must not read alike)."""
    return f"{duty:.10g}%"


def rate_record_apart(r: dict) -> bool:
    """Whether the goods' record at their declared duty rate is quoted apart from their
    route's record: the declaration gives a rate, the model keeps both records with
    their counts (a model of before them has none), and the two count other
    inspections or frauds (a lane whose goods also claim another rate). Where they
    count the same, they are one record, quoted once."""
    if r.get("duty_rate_pct") is None:
        return False
    counts = [f"{p}_{c}" for p in ("hs_route_rate", "hs_route") for c in _COUNTS]
    if any(r.get(c) is None for c in counts):
        return False
    return any(r.get(f"hs_route_rate_{c}") != r.get(f"hs_route_{c}") for c in _COUNTS)


_COUNTS = ("inspected_before", "fraud_before")


def rate_record(r: dict) -> str:
    """The goods' record at their declared duty rate, in words: "never declared at 0%
    on this route before" where no earlier declaration gave that rate; else as
    ``_record``."""
    if r.get("hs_route_rate_n_before") == 0:
        return f"never declared at {duty_text(r['duty_rate_pct'])} on this route before"
    return _record(r, "hs_route_rate")


#: How far an entity's estimated fraud rate must be from its own count for a sentence
#: to say why (the smoothing toward the overall rate).
_DRAWN = 0.1


def _importer_history(code: str, r: dict, de_minimis: float) -> str:
    days = r.get("importer_days_known")
    known = "new" if days is None else f"known for {days:.0f} days"
    return (
        f"{code}: importer {_id(r.get('importer_id'))} ({known}, "
        f"{_num(r.get('importer_n_before'))} earlier declarations): "
        f"{_record(r, 'importer')}; this importer with seller {_id(r.get('seller_id'))}: "
        f"{_pair(r)}"
    )


def _pair(r: dict) -> str:
    if not r.get("importer_seller_n_before"):
        return "no earlier declarations"
    return _record(r, "importer_seller")


def _partner_history(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: past inspections of declarant {_id(r.get('declarant_id'))}: "
        f"{_record(r, 'declarant')}; of seller {_id(r.get('seller_id'))}: "
        f"{_record(r, 'seller')}"
    )


def _split_shipment(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: {_num(r.get('split_n_pair_day'))} declarations from seller "
        f"{_id(r.get('seller_id'))} to importer {_id(r.get('importer_id'))} on "
        f"{r.get('declaration_date')}, {_num(r.get('split_under_pair_day'))} just under "
        f"the de-minimis value {_num(de_minimis)}{_cur(r)}, together "
        f"{_num((r.get('split_value_pair_day') or 0) * de_minimis)}{_cur(r)}"
    )


def _goods_risk(code: str, r: dict, de_minimis: float) -> str:
    duty = r.get("duty_rate_pct")
    at = "duty not declared" if duty is None else f"{duty_text(duty)} duty"
    origin, route = r.get("country_origin"), r.get("route")
    where = (
        f"from {origin}, shipped from there"
        if route == origin
        else f"from {origin} on route {route}"
    )
    # The goods on their route first: the narrowest record, the one a risk profile
    # names; each with the inspections an officer can look up. At the declared duty
    # rate when that record differs from the route's (a preferential rate claimed on a
    # lane that also pays the full one); where they are the same, quoted once.
    records = [("these goods on this route", "hs_route"), ("these goods on any route", "hs")]
    if rate_record_apart(r):
        records = [
            (f"these goods on this route at {duty_text(duty)} duty", "hs_route_rate"),
            ("these goods on this route at any duty", "hs_route"),
            records[1],
        ]
    records += [(f"origin {origin}", "origin"), (f"route {route}", "route")]
    said = "; ".join(
        f"{name}: {rate_record(r) if prefix == 'hs_route_rate' else _record(r, prefix)}"
        for name, prefix in records
        if r.get(f"{prefix}_fraud_rate") is not None
    )
    return f"{code}: HS {r.get('hs_code')} {where} at {at}; past inspections of {said}"


def _declared_amounts(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: value {_num(r.get('customs_value'))}{_cur(r)} for "
        f"{_num(r.get('net_mass_kg'), ',.1f')} kg is unusual for what is found in "
        "inspections"
    )


def _novel(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: the {r.get('novelty_detector')} detector puts it in the top "
        f"{max(0.1, (1 - (r.get('novelty') or 0)) * 100):.1f}% of training declarations, "
        "a pattern past inspections have not shown"
    )


def _exploration(code: str, r: dict, de_minimis: float) -> str:
    return (
        f"{code}: picked below the model's list by the selection policy's exploration, "
        "to learn what past inspections have not shown; the reasons after this one say "
        "what it shows and how the model sees it"
    )


#: The sentence of each reason code: ``formatter(code, row, de_minimis)``.
FORMATTERS: dict[str, Callable[[str, dict, float], str]] = {
    "UNDERVALUED": _price,
    "PRICE_UNUSUAL": _price,
    "MISCLASSIFIED": _misclassified,
    "ROUTE": _route,
    "RELABEL": _relabel,
    "IMPORTER_UNDERPRICES": _importer_underprices,
    "IMPORTER_HISTORY": _importer_history,
    "PARTNER_HISTORY": _partner_history,
    "SPLIT_SHIPMENT": _split_shipment,
    "GOODS_RISK": _goods_risk,
    "DECLARED_AMOUNTS": _declared_amounts,
    "NOVEL": _novel,
    "EXPLORATION": _exploration,
}


#: What an officer checks for each mechanism, as a customs investigator would put it.
HINTS: dict[str, str] = {
    "UNDERVALUED": "ask for the sales contract, the payment records and the transport "
    "costs, and compare them with the declared value",
    "MISCLASSIFIED": "examine the goods against the heading the reason names, with the "
    "technical documents and a sample if needed, and reassess the duty under it",
    "PRICE_UNUSUAL": "examine the goods against the declared description and code: the "
    "price is unusual for them",
    "ROUTE": "check the certificate of origin and the transport documents (bills of "
    "lading, the transit through a third country), and where the seller really is",
    "RELABEL": "check the certificate of origin and the manufacturer's records against "
    "the declared origin, and where the goods were really made and loaded",
    "SPLIT_SHIPMENT": "consolidate the day's parcels of this seller and consignee and "
    "reassess the duty on their total",
    "DECLARED_AMOUNTS": "weigh the goods and check the declared value against the invoice",
}


def hint(codes: list[str] | None) -> str | None:
    """What to check first: the hint of the first reason that has one."""
    return next((HINTS[c] for c in codes or [] if c in HINTS), None)


def hints(codes: list[str] | None) -> list[str]:
    """What to check, for every mechanism the reasons name, in their order: a durian
    priced far below its peers and shipped through a third country needs both the
    contract and the transport documents checked."""
    return list(dict.fromkeys(HINTS[c] for c in codes or [] if c in HINTS))


def what_to_check(codes: list[str] | None) -> list[str]:
    """The hints of the mechanisms the reasons name; on a declaration that shows none,
    what its leading record asks: the parties' record, or the goods' on their route
    (their goods and documents against what is declared)."""
    found = hints(codes)
    if found:
        return found
    lead = next((c for c in codes or [] if c != "EXPLORATION"), None)
    if lead in ("IMPORTER_HISTORY", "PARTNER_HISTORY", "IMPORTER_UNDERPRICES"):
        return ["no scheme shown on the declaration itself: its parties' record is the reason"]
    if lead == "GOODS_RISK":
        return [
            "no scheme shown on the declaration itself: the goods' record (on this route, "
            "on any route, from this origin) is the reason: examine the goods and their "
            "documents (invoice, certificate of origin, the tariff heading) against what is "
            "declared"
        ]
    return [
        "no scheme shown on the declaration itself: examine the goods and the documents "
        "against what is declared"
    ]


def sentences(rows: pl.DataFrame, de_minimis: float, hs_digits: int | None = None) -> pl.Series:
    """Each row's reasons in words (a list, in the order of its ``reason_codes``).
    ``hs_digits``: the length the model reads goods codes at (its counts and prices are
    of the code so read, and the sentences quote it so)."""
    quoted = [c for c in (*SENTENCE_COLUMNS, "novelty_detector") if c in rows.columns]
    out = []
    for codes, r in zip(
        rows["reason_codes"].to_list(), rows.select(quoted).iter_rows(named=True), strict=True
    ):
        if hs_digits and r.get("hs_code"):
            r["hs_code"] = r["hs_code"][:hs_digits]
        out.append(None if codes is None else [FORMATTERS[c](c, r, de_minimis) for c in codes])
    return string_lists("reasons", out)


def sentence_expr(names: list[str], de_minimis: float, hs_digits: int | None = None) -> pl.Expr:
    """``reasons`` as an expression over a frame with the columns ``names``: for a list
    written a chunk at a time by the streaming engine."""
    quoted = [c for c in ("reason_codes", *SENTENCE_COLUMNS, "novelty_detector") if c in names]
    return (
        pl.struct(quoted)
        .map_batches(
            lambda rows: sentences(rows.struct.unnest(), de_minimis, hs_digits),
            return_dtype=pl.List(pl.String),
        )
        .alias("reasons")
    )


def with_sentences(
    frame: pl.DataFrame, de_minimis: float, hs_digits: int | None = None
) -> pl.DataFrame:
    """``frame`` with its ``reasons`` in words, made from ``reason_codes`` (``hs_digits``
    as :func:`sentences`')."""
    return frame.with_columns(sentences(frame, de_minimis, hs_digits))
