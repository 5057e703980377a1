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

from detector.models._predict import Predictor

__all__ = ["EVIDENCE_FIRST", "FAMILIES", "explain_rows"]

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
        "duty_rate_pct",
        "hs_number",
    ),
    "DECLARED_AMOUNTS": ("log_customs_value", "log_net_mass", "mass_missing"),
}
#: The mechanism each unsupervised detector sees (see ``NOVELTY_SIGNALS``).
_DETECTED = {
    "price": "UNDERVALUED",
    "relabel": "ROUTE",
    "route": "ROUTE",
    "split": "SPLIT_SHIPMENT",
}

#: The families that show the scheme itself: measured on the declaration too (a typical
#: declaration with this one's values of the family, scored), so that an entity's record
#: that already decides the score does not hide them.
MEASURED_ON_THE_ROW: tuple[str, ...] = ("UNDERVALUED", "ROUTE", "SPLIT_SHIPMENT")
_MIN_DROP = 0.02
_MAX_REASONS = 3
#: The order reasons are given in: what the declaration itself shows and an officer can
#: check at the border (its price, its route, its parcels, its amounts), then the record
#: of its goods, then what the detectors alone see, then its entities' past.
EVIDENCE_FIRST: tuple[str, ...] = (
    "UNDERVALUED",
    "PRICE_UNUSUAL",
    "ROUTE",
    "SPLIT_SHIPMENT",
    "DECLARED_AMOUNTS",
    "GOODS_RISK",
    "NOVEL",
    "IMPORTER_UNDERPRICES",
    "IMPORTER_HISTORY",
    "PARTNER_HISTORY",
)


def _shown(codes: list[str], table: pl.DataFrame) -> np.ndarray:
    """Per row and family (rows x codes), whether the declaration shows what the reason
    would say: a split shipment needs parcels of the same seller and consignee that
    day, some under de minimis (the model also learns from their absence, which is no
    reason to inspect)."""
    shown = np.ones((table.height, len(codes)), dtype=bool)
    if "SPLIT_SHIPMENT" in codes:

        def count(name: str) -> np.ndarray:
            if name not in table.columns:
                return np.zeros(table.height)
            return table[name].fill_null(0).to_numpy()

        shown[:, codes.index("SPLIT_SHIPMENT")] = (count("split_n_pair_day") >= 2) & (
            count("split_under_pair_day") >= 1
        )
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


def explain_rows(model, table: pl.DataFrame) -> pl.DataFrame:
    """Per row of a scored feature table, its reasons as codes, its own evidence first.

    Columns: ``reason_codes`` (a list of codes: the families the model counted most, a
    price far below its peers always among them, given declaration's evidence first as
    ``EVIDENCE_FIRST`` orders them) and
    ``novelty_detector`` (the unsupervised detector behind a ``NOVEL`` reason). The
    numbers a reason quotes stay in the table's own columns; the sentences are made
    where they are shown (``detector.app.reasons``).
    """
    if table.height == 0:
        return pl.DataFrame(
            schema={"reason_codes": pl.List(pl.String), "novelty_detector": pl.String}
        )
    encoder = model.classifier_.named_steps["encode"]
    predictor = Predictor(model.classifier_.steps[-1][1])
    matrix = predictor.prepare(encoder.transform(table))
    columns = list(encoder.numeric) + list(encoder.categorical)
    if predictor.binned:
        base, parts = _path_parts(model, predictor, matrix, columns)
    else:
        base, parts = _variant_parts(model, predictor, matrix, columns)
    codes = [c for c in FAMILIES if c in parts]
    table_d = np.column_stack([parts[c] for c in codes])
    order, strong = _strongest(codes, table_d, table)
    # A price far below its peers is the evidence an investigator checks first: name
    # it whenever the model counts it at all, even behind a stronger reason.
    far_below = np.zeros(table.height, dtype=bool)
    if "UNDERVALUED" in codes and "value_ratio" in table.columns:
        ratio = table["value_ratio"].fill_null(np.nan).to_numpy()
        with np.errstate(invalid="ignore"):
            far_below = (ratio < 0.7) & (table_d[:, codes.index("UNDERVALUED")] > 0)
    # The unsupervised detectors, not the labels, put these rows on the list; the
    # detector that saw the row names its mechanism too.
    novel = model.detector_part(base, table["novelty"].fill_null(0.0).to_numpy()) > base
    detectors = model.strongest_detector(table)
    shown = _shown(codes, table)
    # A price at or above its peers' median is unusual, not low.
    ratio = (
        table["value_ratio"].fill_null(np.nan).to_numpy()
        if "value_ratio" in table.columns
        else np.full(table.height, np.nan)
    )
    reasons = []
    for i in range(table.height):
        chosen = [codes[j] for j in order[i, strong[i]]]
        if far_below[i] and "UNDERVALUED" not in chosen:
            chosen.append("UNDERVALUED")
        if novel[i]:
            chosen.insert(0, "NOVEL")
            seen = _DETECTED.get(detectors[i])
            if seen in codes and seen not in chosen and shown[i, codes.index(seen)]:
                if not (seen == "UNDERVALUED" and ratio[i] >= 1):
                    chosen.append(seen)
        if not chosen:
            chosen = [codes[order[i, 0]]]
        named = ["PRICE_UNUSUAL" if c == "UNDERVALUED" and ratio[i] >= 1 else c for c in chosen]
        reasons.append(sorted(named, key=EVIDENCE_FIRST.index))
    return pl.DataFrame(
        {"reason_codes": reasons, "novelty_detector": detectors},
        schema={"reason_codes": pl.List(pl.String), "novelty_detector": pl.String},
    )


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
    values, which = np.unique(matrix[:, idx], axis=0, return_inverse=True)
    alone = np.repeat(neutral[np.newaxis, :], values.shape[0], axis=0)
    alone[:, idx] = values
    return predictor.proba(alone)[which.ravel()] - p_typical


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
