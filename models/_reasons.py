"""Why a declaration scored high, found from the model itself.

Each split of a gradient boosting tree sends the declaration towards leaves of higher
or lower fraud; the change is credited to the split's feature, and each family of
features (price against peers, route, the importer's history...) gets what its
features were credited over every tree: the probability lost when those splits are
taken out of the declaration's paths. The trees are walked once per declaration, as
for its score. (Any other classifier: the family is set to its typical training value
and the declaration scored again.) The families that matter become reasons: codes, whose
numbers are the declaration's own columns.
"""

import numpy as np
import polars as pl
from scipy.special import expit

from detector.features import string_lists
from detector.models._predict import Predictor

__all__ = [
    "EVIDENCE_FIRST",
    "FAMILIES",
    "FAR_BELOW",
    "declaration_facts",
    "explain_rows",
    "mechanism_facts",
]

FAMILIES: dict[str, tuple[str, ...]] = {
    "UNDERVALUED": (
        "log_value_ratio",
        "price_z",
        "price_percentile",
        "log_revenue_at_stake",
        "peer_level",
        "log_peer_n",
        "log_value_per_unit",
    ),
    "ROUTE": (
        "third_country",
        "n_transit",
        "lane_share",
        "origin_share",
        "lane_surge",
        "duty_gap",
        "hs_duty_gap",
    ),
    "IMPORTER_UNDERPRICES": ("importer_mean_ratio_before", "importer_share_below_before"),
    "IMPORTER_HISTORY": (
        "log_importer_n_before",
        "importer_days_known",
        "importer_fraud_rate",
        "log_importer_seller_n_before",
        "importer_seller_days_known",
        "importer_seller_fraud_rate",
        "log_importer_hs_n_before",
        "importer_hs_days_known",
        "importer_hs_fraud_rate",
    ),
    "PARTNER_HISTORY": (
        "log_declarant_n_before",
        "declarant_days_known",
        "declarant_fraud_rate",
        "log_seller_n_before",
        "seller_days_known",
        "seller_fraud_rate",
    ),
    "MISCLASSIFIED": ("reclass_gap", "log_reclass_revenue", "usual_gap", "log_usual_revenue"),
    "SPLIT_SHIPMENT": (
        "split_n_pair_day",
        "split_under_pair_day",
        "split_value_pair_day",
        "split_n_importer_day",
        "split_under_importer_day",
    ),
    "GOODS_RISK": (
        "log_hs_n_before",
        "hs_days_known",
        "hs_fraud_rate",
        "log_origin_n_before",
        "origin_days_known",
        "origin_fraud_rate",
        "log_route_n_before",
        "route_days_known",
        "route_fraud_rate",
        "log_hs_route_n_before",
        "hs_route_days_known",
        "hs_route_fraud_rate",
        "log_hs_route_rate_n_before",
        "hs_route_rate_days_known",
        "hs_route_rate_fraud_rate",
        "duty_rate_pct",
        "hs_number",
    ),
    "DECLARED_AMOUNTS": ("log_customs_value", "log_net_mass", "mass_missing"),
}
#: The mechanism each unsupervised detector sees (see ``NOVELTY_SIGNALS``).
_DETECTED = {
    "price": "UNDERVALUED",
    "relabel": "RELABEL",
    "route": "ROUTE",
    "split": "SPLIT_SHIPMENT",
}

#: The families that show the scheme itself: measured on the declaration too (a typical
#: declaration with this one's values of the family, scored), so that an entity's record
#: that already decides the score does not hide them.
MEASURED_ON_THE_ROW: tuple[str, ...] = ("UNDERVALUED", "ROUTE", "MISCLASSIFIED", "SPLIT_SHIPMENT")
#: The families that name a record (of the importer, its partners, the goods), not what
#: the declaration itself shows. A row listed for them alone whose price is in the
#: lowest ``LOW_QUARTER`` of its peers' is also named UNDERVALUED: the record says whom
#: to suspect, the price what to check (bench/out/preregistered-record-and-price.md).
RECORDS: tuple[str, ...] = (
    "IMPORTER_HISTORY",
    "PARTNER_HISTORY",
    "GOODS_RISK",
    "IMPORTER_UNDERPRICES",
)
LOW_QUARTER = 25.0
#: ... and at least a tenth below the peers' median (ratio to it).
TENTH_BELOW = 0.9
#: A price at least this many times the peers' median (in their top tenth) is named on
#: a row listed for a record alone.
FAR_ABOVE = 2.0
#: PRICE_UNUSUAL is said of a price in the outer tenth of its peers' (percentile).
UNUSUAL_TENTH = 10.0
_MIN_DROP = 0.02
_MAX_REASONS = 3
#: The order reasons are given in: what the declaration itself shows and an officer can
#: check at the border (its price, the code its price fits, its route and origin, its
#: parcels, its amounts), then the record of its goods, then what the detectors alone
#: see, then its entities' past.
EVIDENCE_FIRST: tuple[str, ...] = (
    "UNDERVALUED",
    "MISCLASSIFIED",
    "PRICE_UNUSUAL",
    "ROUTE",
    "RELABEL",
    "SPLIT_SHIPMENT",
    "DECLARED_AMOUNTS",
    "GOODS_RISK",
    "NOVEL",
    "IMPORTER_UNDERPRICES",
    "IMPORTER_HISTORY",
    "PARTNER_HISTORY",
)


#: What the declaration itself must show for a scheme to be named from its facts: a
#: price this far below its peers' median (declared / reference), or below the
#: median from an importer whose earlier declarations averaged this far below theirs
#: (at least ``PATTERN_N`` of them): a mild discount that is the importer's habit...
FAR_BELOW = 0.7
PATTERN_N = 5
#: ...a lane through a third country that carries less than this share of the goods'
#: past declarations...
RARE_LANE = 0.25
#: ...an origin that pays at least this many points less duty than the goods' average
#: over all origins, and is not their main source.
RELABEL_DUTY_GAP = 5.0
MAIN_ORIGIN = 0.5


def _column(table: pl.DataFrame, name: str, fill: float) -> np.ndarray:
    if name not in table.columns:
        return np.full(table.height, fill)
    return table[name].cast(pl.Float64).fill_null(fill).fill_nan(fill).to_numpy()


def declaration_facts(table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per scheme, the rows whose own values show it, whatever the model weighed: what
    an investigator goes to the container to check, and what the exploration policies
    spread their picks over (``models._policies.mechanism_of``).

    - UNDERVALUED: the price per tonne is below ``FAR_BELOW`` of the peers' median;
    - MISCLASSIFIED: the price fits another code of the tariff section that pays more
      duty (``features.reclassification``);
    - ROUTE: the goods left from, or passed through, a third country on a lane that
      carries under ``RARE_LANE`` of the goods' declarations;
    - RELABEL: the declared origin pays ``RELABEL_DUTY_GAP`` points or more below the
      goods' average duty, and ships under ``MAIN_ORIGIN`` of them;
    - SPLIT_SHIPMENT: a parcel under the de-minimis value, among parcels of the same
      seller and consignee that day, some just under it (a cargo declaration of the
      pair that day is no split parcel).
    """
    mc = (
        table["reclass_hs_code"].is_not_null().to_numpy()
        if "reclass_hs_code" in table.columns
        else np.zeros(table.height, dtype=bool)
    )
    with np.errstate(invalid="ignore"):
        return {
            "UNDERVALUED": _column(table, "value_ratio", np.nan) < FAR_BELOW,
            "MISCLASSIFIED": mc,
            "ROUTE": (_column(table, "third_country", 0) == 1)
            & (_column(table, "lane_share", 1) < RARE_LANE),
            "RELABEL": (_column(table, "hs_duty_gap", 0) >= RELABEL_DUTY_GAP)
            & (_column(table, "origin_share", 1) < MAIN_ORIGIN),
            "SPLIT_SHIPMENT": (_column(table, "split_n_pair_day", 0) >= 2)
            & (_column(table, "split_under_pair_day", 0) >= 1)
            & (_column(table, "split_parcel", 1) == 1),
        }


def mechanism_facts(table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per scheme, the rows the reasons name it for: the declaration's own facts
    (:func:`declaration_facts`), and UNDERVALUED also for a price below the peers'
    median from an importer whose ``PATTERN_N`` or more earlier declarations averaged
    below ``FAR_BELOW`` of theirs (an importer who undervalues by habit also does it
    mildly, on goods whose true price was above the median). That habit is the
    importer's record, so the exploration, which spreads its picks over what the
    declarations themselves show, does not count it."""
    facts = declaration_facts(table)
    ratio = _column(table, "value_ratio", np.nan)
    with np.errstate(invalid="ignore"):
        habit = (_column(table, "importer_mean_ratio_before", np.nan) < FAR_BELOW) & (
            _column(table, "importer_n_before", 0) >= PATTERN_N
        )
        facts["UNDERVALUED"] = facts["UNDERVALUED"] | ((ratio < 1) & habit)
    if "usual_hs_code" in table.columns:
        usual = table["usual_hs_code"].is_not_null().to_numpy()
        facts["MISCLASSIFIED"] = facts["MISCLASSIFIED"] | usual
    return facts


def _shown(codes: list[str], table: pl.DataFrame) -> np.ndarray:
    """Per row and family (rows x codes), whether the declaration shows what the reason
    would say: a split shipment needs parcels of the same seller and consignee that
    day, some under de minimis; a misclassification, a code its price fits (the model
    also learns from their absence, which is no reason to inspect)."""
    shown = np.ones((table.height, len(codes)), dtype=bool)
    facts = mechanism_facts(table)
    for code in ("SPLIT_SHIPMENT", "MISCLASSIFIED"):
        if code in codes:
            shown[:, codes.index(code)] = facts[code]
    return shown


def _strongest(codes: list[str], table_d: np.ndarray, table: pl.DataFrame):
    """Per row, the families from the largest part to the smallest, those the row does
    not show last (rows x codes); and which of these positions are reasons: among the
    first ``_MAX_REASONS`` shown, a part of at least ``_MIN_DROP``."""
    shown = _shown(codes, table)
    order = np.argsort(np.where(shown, -table_d, np.inf), axis=1, kind="stable")
    top = np.arange(len(codes)) < _MAX_REASONS
    strong = (
        np.take_along_axis(shown, order, axis=1)
        & top
        & (np.take_along_axis(table_d, order, axis=1) >= _MIN_DROP)
    )
    return order, strong


def _ordered(codes: list[str]) -> list[str]:
    """Codes in ``EVIDENCE_FIRST`` order. A price that fits both an undervaluation of
    the declared goods and other goods declared under a cheaper code is first an
    undervaluation, the commoner scheme (on the demo's list, 77 of the 112 rows a
    misclassification with more duty at stake would lead are undervaluations, 34
    misclassifications: bench/both_stories.py); the examination's hint follows."""
    return sorted(codes, key=EVIDENCE_FIRST.index)


def explain_rows(model, table: pl.DataFrame) -> pl.DataFrame:
    """Per row of a scored feature table, its reasons as codes, its own evidence first.

    Columns: ``reason_codes`` (a list of codes: the schemes the declaration's own facts
    show (``mechanism_facts``), then the families the model counted most, given
    declaration's evidence first as ``EVIDENCE_FIRST`` orders them) and
    ``novelty_detector`` (the unsupervised detector behind a ``NOVEL`` reason), then
    ``USUAL_CODE_COLUMNS`` (the importer's usual code the goods may really be, which a
    MISCLASSIFIED reason may quote). The other numbers a reason quotes stay in the
    table's own columns; the sentences are made where they are shown
    (``detector.app.reasons``).
    """
    usual = model.usual_codes(table)
    if table.height == 0:
        return pl.DataFrame(
            schema={"reason_codes": pl.List(pl.String), "novelty_detector": pl.String}
        ).hstack(usual)
    table = table.with_columns(usual.get_columns())
    encoder = model.classifier_.named_steps["encode"]
    predictor = Predictor(model.classifier_.steps[-1][1])
    matrix = predictor.prepare(model.matrix(table))
    columns = list(encoder.numeric) + list(encoder.categorical)
    if predictor.binned:
        base, parts = _path_parts(model, predictor, matrix, columns)
    else:
        base, parts = _variant_parts(model, predictor, matrix, columns)
    codes = [c for c in FAMILIES if c in parts]
    table_d = np.column_stack([parts[c] for c in codes])
    order, strong = _strongest(codes, table_d, table)
    # The unsupervised detectors, not the labels, put these rows on the list; the
    # detector that saw the row names its mechanism too.
    novel = model.detector_part(base, table["novelty"].fill_null(0.0).to_numpy()) > base
    detectors = model.strongest_detector(table)
    facts = mechanism_facts(table)
    row = {
        "ratio": _column(table, "value_ratio", np.nan),
        "percentile": _column(table, "price_percentile", np.nan),
        "origin_share": _column(table, "origin_share", 0.0),
        "third_country": _column(table, "third_country", 0) == 1,
    }
    row["clean_record"] = _clean_records(table, getattr(model, "fraud_rate_", None))
    reasons = []
    for i in range(table.height):
        chosen = [codes[j] for j in order[i, strong[i]]]
        if novel[i]:
            chosen.insert(0, "NOVEL")
            chosen.append(_DETECTED.get(detectors[i], "NOVEL"))
        shown = [c for c in facts if facts[c][i]]
        named = [*shown, *(_as_shown(c, i, facts, row) for c in chosen)]
        named = [c for c in dict.fromkeys(named) if c is not None]
        if not named:  # nothing shown: the family the model counted most, as shown
            fallback = (_as_shown(codes[j], i, facts, row) for j in order[i])
            named = [next((c for c in fallback if c is not None), "GOODS_RISK")]
        reasons.append(_ordered(_with_low_price(named, row["percentile"][i], row["ratio"][i])))
    return pl.DataFrame(
        [string_lists("reason_codes", reasons), pl.Series("novelty_detector", detectors, pl.String)]
    ).hstack(usual)


def _with_low_price(named: list[str], percentile: float, ratio: float) -> list[str]:
    """A row named on ``RECORDS`` alone whose price is in the lowest ``LOW_QUARTER`` of
    its peers' (``percentile``, NaN without peers) and at least ``TENTH_BELOW`` under
    their median (``ratio``) is named UNDERVALUED as well: the record says whom to
    suspect, the price what to check. (Where the peers' prices lie close together, the
    lowest quarter is hardly below the median: no price to check there;
    bench/out/preregistered-low-price-tenth.md.) One priced in the top ``UNUSUAL_TENTH``
    and at least ``FAR_ABOVE`` times the median is named PRICE_UNUSUAL: a dearer good
    declared under a cheaper code, or a value inflated on purpose, looks like that
    (bench/out/preregistered-price-far-above.md)."""
    if not set(named) <= set(RECORDS):
        return named
    if percentile <= LOW_QUARTER and ratio < TENTH_BELOW:
        return [*named, "UNDERVALUED"]
    if percentile >= 100 - UNUSUAL_TENTH and ratio >= FAR_ABOVE:
        return [*named, "PRICE_UNUSUAL"]
    return named


def _as_shown(code: str, i: int, facts: dict, row: dict) -> str | None:
    """The model's family ``code`` as the reason the declaration shows, by the facts
    that name each scheme (``mechanism_facts``): a price the model weighed that is not
    undervalued is unusual, not low, and in the middle of its peers' prices (between the
    ``UNUSUAL_TENTH`` percentiles) no reason at all; a route family on a row whose
    origin, not its lane, is the odd part is a relabelling, and on a row that shows
    neither no reason at all (a rare origin that pays no less duty is no scheme); a
    scheme the row does not show (a detector's pick, say) is no reason."""
    if code == "UNDERVALUED" and not facts["UNDERVALUED"][i]:
        outer = not UNUSUAL_TENTH < row["percentile"][i] < 100 - UNUSUAL_TENTH
        return "PRICE_UNUSUAL" if outer else None
    if code == "ROUTE" and not facts["ROUTE"][i]:
        return "RELABEL" if facts["RELABEL"][i] else None
    if code in ("SPLIT_SHIPMENT", "MISCLASSIFIED") and not facts[code][i]:
        return None
    if code in row["clean_record"] and row["clean_record"][code][i]:
        return None
    return code


#: The fraud rates each entity reason quotes.
_RECORD_RATES = {
    "IMPORTER_HISTORY": ("importer_fraud_rate", "importer_seller_fraud_rate"),
    "PARTNER_HISTORY": ("declarant_fraud_rate", "seller_fraud_rate"),
}


def _clean_records(table: pl.DataFrame, base_rate: float | None) -> dict[str, np.ndarray]:
    """Per entity reason, the rows whose quoted fraud rates are all below the rate of
    the inspections the model learned from: a clean record, however much the model
    leaned on it, is no reason an officer can act on. A pair of importer and seller
    with no earlier declaration has no record: its rate is only the overall one."""
    if base_rate is None:
        return {}
    unseen_pair = _column(table, "importer_seller_n_before", np.inf) == 0
    out = {}
    for code, columns in _RECORD_RATES.items():
        clean = [_column(table, c, np.inf) < base_rate for c in columns]
        if code == "IMPORTER_HISTORY":
            clean[1] = clean[1] | unseen_pair
        out[code] = np.logical_and.reduce(clean)
    return out


def _path_parts(model, predictor: Predictor, matrix: np.ndarray, columns: list[str]):
    """Each family's part of a gradient boosting's probability, from what the rows'
    paths down the trees credit to it (``Predictor.paths``), averaged over the models:
    half what the probability loses when the family's credits are taken away, half
    what a typical declaration (the expected score) gains from them alone. The second
    half keeps a reason visible when another family already makes the declaration a
    near-certain fraud (its probability cannot rise any more).

    The scheme's own evidence (``MEASURED_ON_THE_ROW``: the price against peers, the
    route, the split parcels) is what an investigator checks first; its second half is
    measured on the declaration itself: a typical declaration (``model.neutral_``)
    with this one's values of the family, scored. Along the paths, such evidence earns
    little once an importer's record has decided the score.
    """
    codes = list(FAMILIES)
    group_of = np.full(len(columns), len(codes))
    for g, code in enumerate(codes):
        for name in FAMILIES[code]:
            if name in columns:
                group_of[columns.index(name)] = g
    raw, credits, expected = predictor.paths(matrix, group_of, len(codes))
    p, typical = expit(raw), expit(expected)[:, np.newaxis]
    base = p.mean(axis=0)
    parts = {}
    for g, code in enumerate(codes):
        if not (group_of == g).any():
            continue
        c = credits[:, :, g]
        drop = (p - expit(raw - c)).mean(axis=0)
        if code in MEASURED_ON_THE_ROW:
            idx = predictor.positions(np.flatnonzero(group_of == g))
            gain = _alone_gain(model, predictor, matrix, idx)
        else:
            gain = (expit(expected[:, np.newaxis] + c) - typical).mean(axis=0)
        parts[code] = 0.5 * (drop + gain)
    return base, parts


def _alone_gain(model, predictor: Predictor, matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """What a typical declaration gains when only the columns ``idx`` (positions in
    the prepared matrix) are as each row declares them."""
    neutral = predictor.prepare(model.neutral_[np.newaxis, :].astype(np.float32))[0]
    p_typical = predictor.proba(neutral[np.newaxis, :])[0]
    # Rows alike on these columns make the same variant: scored once each.
    values, which = _unique_rows(np.ascontiguousarray(matrix[:, idx]))
    alone = np.repeat(neutral[np.newaxis, :], values.shape[0], axis=0)
    alone[:, idx] = values
    return predictor.proba(alone)[which.ravel()] - p_typical


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a C-ordered matrix (in the order of their bytes) and each
    row's index among them: each row's bytes compared as one value, many times faster
    than ``np.unique(axis=0)``, which compares column by column."""
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    distinct, which = np.unique(as_bytes, return_inverse=True)
    return distinct.view(rows.dtype).reshape(-1, rows.shape[1]), which.ravel()


def _variant_parts(model, predictor: Predictor, matrix: np.ndarray, columns: list[str]):
    """Each family's part of any other classifier's probability, from variants of the
    rows: half what the score loses when the family alone is made typical, half what a
    typical declaration gains when only this family is as declared (``_alone_gain``)."""
    base = predictor.proba(matrix)
    neutral = predictor.prepare(model.neutral_[np.newaxis, :].astype(np.float32))[0]
    parts = {}
    for code, names in FAMILIES.items():
        idx = predictor.positions([columns.index(n) for n in names if n in columns])
        if not idx.size:
            continue
        without = matrix.copy()
        without[:, idx] = neutral[idx]
        drop = base - predictor.proba(without)
        parts[code] = 0.5 * (drop + _alone_gain(model, predictor, matrix, idx))
    return base, parts
