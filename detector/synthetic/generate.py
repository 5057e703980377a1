"""A seeded synthetic year of declarations with known fraud.

Honest trade first: importers with long-tailed activity and a few goods each, prices
log-normal around a level per (HS code, origin) with seasonality, most goods shipped
from their origin and a minority through hubs for honest reasons, e-commerce parcels
below the de-minimis value. Then the schemes an anti-fraud unit hunts, each with its
``fraud_type``: undervaluation (some importers consistently), transshipment (Thai
durians trucked through Vietnam and underpriced; anti-dumped goods relabelled in a
third country), origin misdeclaration, misclassification and split shipments. Only an
``inspected`` share, chosen the way a rule-based officer would with some random checks,
carries labels; the ground truth of every row is kept in ``true_*`` columns.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from detector.synthetic import _catalogue as cat
from features import format_text

__all__ = ["GeneratorConfig", "generate_declarations"]


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the synthetic year; shares are of all rows."""

    rows: int = 100_000
    seed: int = 0
    start: date = date(2025, 1, 1)
    days: int = 365
    currency: str = "USD"
    de_minimis: float = 150.0
    undervaluation_share: float = 0.030
    transshipment_share: float = 0.010
    origin_misdeclaration_share: float = 0.005
    misclassification_share: float = 0.005
    split_shipment_share: float = 0.010
    parcel_share: float = 0.08
    indirect_share: float = 0.12
    inspected_share: float = 0.10
    random_check_share: float = 0.25  # of the inspections, chosen at random


_GOODS_HS = np.array([g[0] for g in cat.GOODS])
_PRICE = np.array([g[3] for g in cat.GOODS], dtype=float)
_DUTY = np.array([g[4] for g in cat.GOODS], dtype=float)
_MASS = np.array([g[5] for g in cat.GOODS], dtype=float)
_SEASON = np.array([g[6] for g in cat.GOODS], dtype=float)
_HS_INDEX = {hs: i for i, hs in enumerate(_GOODS_HS)}
_COUNTRIES = sorted(
    {c for g in cat.GOODS for c in g[8]}
    | set(cat.LAND_NEIGHBOURS)
    | {h for hubs in cat.HUBS.values() for h in hubs}
)
_C_INDEX = {c: i for i, c in enumerate(_COUNTRIES)}


def _duty(hs_idx: np.ndarray, country_idx: np.ndarray) -> np.ndarray:
    """Applicable duty for declared (HS, origin): MFN, preference, anti-dumping."""
    countries = np.array(_COUNTRIES)[country_idx]
    base = _DUTY[hs_idx]
    share = np.array([cat.PREFERENTIAL.get(c, 1.0) for c in _COUNTRIES])[country_idx]
    sensitive = np.isin(_GOODS_HS[hs_idx], list(cat.SENSITIVE))
    duty = np.where(sensitive, base, base * share)
    for (hs, origin), extra in cat.ANTI_DUMPING.items():
        duty = np.where((_GOODS_HS[hs_idx] == hs) & (countries == origin), duty + extra, duty)
    return duty


def _origin_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per HS: origin country indices and cumulative weights, padded to one width."""
    width = max(len(g[8]) for g in cat.GOODS)
    idx = np.zeros((len(cat.GOODS), width), dtype=np.int64)
    cum = np.ones((len(cat.GOODS), width))
    for i, g in enumerate(cat.GOODS):
        names, weights = list(g[8]), np.array(list(g[8].values()), dtype=float)
        idx[i, : len(names)] = [_C_INDEX[c] for c in names]
        cum[i, : len(names)] = np.cumsum(weights / weights.sum())
    return idx, cum


def _draw_origin(rng, hs_idx, idx, cum):
    u = rng.random(hs_idx.size)
    k = (u[:, None] > cum[hs_idx]).sum(axis=1)
    return idx[hs_idx, k]


def generate_declarations(config: GeneratorConfig | None = None, **overrides) -> pl.DataFrame:
    """Generate a synthetic year of declarations in the canonical schema.

    Same configuration, same rows. Returns the canonical columns, the labels
    (``inspected``, ``fraud``, ``fraud_type``, ``revenue_recovered``) and the ground
    truth of every row (``true_fraud``, ``true_fraud_type``, ``true_customs_value``,
    ``true_revenue_lost``).

    >>> df = generate_declarations(rows=2_000, seed=1)
    >>> df.height, df["declaration_id"].n_unique()
    (2000, 2000)
    """
    cfg = GeneratorConfig(**{**(config.__dict__ if config else {}), **overrides})
    rng = np.random.default_rng(cfg.seed)
    n = cfg.rows
    o_idx, o_cum = _origin_tables()

    # Entities: long-tailed activity, a few goods each, a usual broker.
    n_imp = int(np.clip(n / 40, 200, 5000))
    n_decl = int(np.clip(n_imp / 8, 30, 600))
    activity = rng.pareto(1.2, n_imp) + 1.0
    activity /= activity.sum()
    k_goods = 4
    weight = np.array([cat.POPULARITY.get(g[0], 1.0) for g in cat.GOODS])
    popularity = weight * rng.uniform(0.5, 1.5, len(cat.GOODS))
    imp_goods = rng.choice(len(cat.GOODS), size=(n_imp, k_goods), p=popularity / popularity.sum())
    imp_goods_w = np.cumsum(rng.dirichlet(np.ones(k_goods) * 0.7, n_imp), axis=1)
    imp_origin = _draw_origin(rng, imp_goods.ravel(), o_idx, o_cum).reshape(n_imp, k_goods)
    imp_seller = rng.integers(0, 10**6, size=(n_imp, k_goods))
    imp_broker = rng.integers(0, n_decl, n_imp)
    imp_price = rng.lognormal(0, 0.08, n_imp)

    importer = rng.choice(n_imp, size=n, p=activity)
    slot = (rng.random(n)[:, None] > imp_goods_w[importer]).sum(axis=1).clip(0, k_goods - 1)
    hs = imp_goods[importer, slot]
    origin = np.where(
        rng.random(n) < 0.8, imp_origin[importer, slot], _draw_origin(rng, hs, o_idx, o_cum)
    )
    seller_key = np.where(
        rng.random(n) < 0.85, imp_seller[importer, slot], rng.integers(0, 10**6, n)
    )
    seller = (seller_key * 31 + origin) % int(np.clip(n / 25, 300, 8000))
    broker = np.where(rng.random(n) < 0.9, imp_broker[importer], rng.integers(0, n_decl, n))

    # Dates: weekdays busier than weekends.
    days = np.arange(cfg.days)
    weekday = np.array([(cfg.start + timedelta(days=int(d))).weekday() for d in days])
    day_w = np.where(weekday >= 5, 0.3, 1.0)
    day = rng.choice(days, size=n, p=day_w / day_w.sum())
    doy = (np.array([(cfg.start + timedelta(days=int(d))).timetuple().tm_yday for d in days]))[day]

    # Prices: level per (HS, origin), seasonality, importer and row noise.
    pair_level = rng.lognormal(0, 0.15, (len(cat.GOODS), len(_COUNTRIES)))
    phase = rng.uniform(0, 365, len(cat.GOODS))
    season = 1 + _SEASON[hs] * np.sin(2 * np.pi * (doy - phase[hs]) / 365)
    price = (
        _PRICE[hs]
        * pair_level[hs, origin]
        * season
        * imp_price[importer]
        * rng.lognormal(0, 0.22, n)
    )
    mass = np.round(_MASS[hs] * rng.lognormal(0, 0.9, n), 1).clip(0.5, None)

    # Routes: mostly direct, some through hubs; transport by goods and distance.
    region = np.array([cat.REGION.get(c, "asia") for c in _COUNTRIES])
    departure = origin.copy()
    transit = np.full(n, -1)
    indirect = rng.random(n) < cfg.indirect_share
    hub_pick = rng.integers(0, 3, n)
    for reg, hubs in cat.HUBS.items():
        m = indirect & (region[origin] == reg)
        h = np.array([_C_INDEX[x] for x in hubs])[hub_pick[m] % len(hubs)]
        h = np.where(h == origin[m], _C_INDEX[hubs[0]] if hubs[0] != "SG" else _C_INDEX["HK"], h)
        departure[m] = h
        transit[m] = h
    family = np.array([g[2] for g in cat.GOODS])[hs]
    mode = np.where(np.isin(family, ["electronics"]) & (rng.random(n) < 0.6), "air", "sea")
    neighbour = np.isin(np.array(_COUNTRIES)[departure], list(cat.LAND_NEIGHBOURS) + ["TH", "KH"])
    mode = np.where(neighbour & (rng.random(n) < 0.6), "road", mode)
    mode = np.where(
        (np.array(_COUNTRIES)[departure] == "CN") & (rng.random(n) < 0.05), "rail", mode
    )

    value = np.round(mass / 1000 * price, 2)
    declared_hs = hs.copy()
    declared_origin = origin.copy()
    fraud_type = np.full(n, "", dtype=object)
    true_value = value.copy()
    parcel = np.zeros(n, dtype=bool)

    # E-commerce parcels: honest low-value items, and the split-shipment scheme.
    parcel_hs = np.array([_HS_INDEX[h] for h in cat.PARCEL_GOODS])
    n_parcel = int(cfg.parcel_share * n)
    pidx = rng.choice(n, n_parcel, replace=False)
    parcel[pidx] = True
    hs[pidx] = declared_hs[pidx] = parcel_hs[rng.integers(0, parcel_hs.size, n_parcel)]
    origin[pidx] = declared_origin[pidx] = departure[pidx] = _C_INDEX["CN"]
    transit[pidx] = -1
    mode[pidx] = np.where(rng.random(n_parcel) < 0.7, "post", "air")
    mass[pidx] = np.round(rng.lognormal(np.log(0.8), 0.7, n_parcel), 2).clip(0.05, None)
    value[pidx] = true_value[pidx] = np.round(
        (_PRICE[hs[pidx]] * mass[pidx] / 1000 * rng.lognormal(0, 0.35, n_parcel)).clip(3, None), 2
    )

    # Split shipments: one consignee, one seller, one day, many parcels under de minimis.
    n_split = int(cfg.split_shipment_share * n)
    if n_split:
        spool = pidx[:n_split]
        cluster = rng.integers(6, 18, max(1, n_split // 10))
        cid = np.repeat(np.arange(cluster.size), cluster)[: spool.size]
        cid = np.pad(cid, (0, spool.size - cid.size), constant_values=cluster.size - 1)
        splitters = rng.choice(n_imp, size=cluster.size)
        importer[spool] = splitters[cid]
        seller[spool] = rng.integers(0, 10**5, cluster.size)[cid] % 1000 + 100_000
        day[spool] = rng.integers(0, cfg.days, cluster.size)[cid]
        chs = parcel_hs[rng.integers(0, parcel_hs.size, cluster.size)]
        hs[spool] = declared_hs[spool] = chs[cid]
        true_value[spool] = np.round(rng.uniform(0.80, 0.999, spool.size) * cfg.de_minimis, 2)
        value[spool] = true_value[spool]
        mass[spool] = np.round(
            true_value[spool] / _PRICE[hs[spool]] * 1000 * rng.lognormal(0, 0.2, spool.size), 2
        )
        fraud_type[spool] = "split_shipment"
    cargo = np.flatnonzero(~parcel)

    def pick(pool, share, weight=None):
        k = min(int(share * n), pool.size)
        if k == 0:
            return pool[:0]
        p = None if weight is None else weight / weight.sum()
        return rng.choice(pool, size=k, replace=False, p=p)

    # Transshipment: (a) durians from TH trucked through VN and underpriced;
    # (b) anti-dumped goods from CN relabelled in a neighbour.
    n_tr = int(cfg.transshipment_share * n)
    transshippers = rng.choice(n_imp, size=max(3, n_tr // 60), replace=False)
    tr = pick(cargo, cfg.transshipment_share)
    ad_pairs = [(_HS_INDEX[h], c) for (h, c) in cat.ANTI_DUMPING]
    durian = rng.random(tr.size) < 0.3
    importer[tr] = transshippers[rng.integers(0, transshippers.size, tr.size)]
    d_rows, a_rows = tr[durian], tr[~durian]
    hs[d_rows] = declared_hs[d_rows] = _HS_INDEX["081060"]
    origin[d_rows] = declared_origin[d_rows] = _C_INDEX["TH"]
    departure[d_rows] = transit[d_rows] = _C_INDEX["VN"]
    mode[d_rows] = "road"
    mass[d_rows] = np.round(_MASS[hs[d_rows]] * rng.lognormal(0, 0.6, d_rows.size), 1)
    d_season = 1 + _SEASON[hs[d_rows]] * np.sin(2 * np.pi * (doy[d_rows] - phase[hs[d_rows]]) / 365)
    dprice = (
        _PRICE[hs[d_rows]]
        * pair_level[hs[d_rows], origin[d_rows]]
        * d_season
        * rng.lognormal(0, 0.2, d_rows.size)
    )
    true_value[d_rows] = np.round(mass[d_rows] / 1000 * dprice, 2)
    value[d_rows] = np.round(true_value[d_rows] * rng.uniform(0.35, 0.65, d_rows.size), 2)
    which = rng.integers(0, len(ad_pairs), a_rows.size)
    hs[a_rows] = declared_hs[a_rows] = np.array([p[0] for p in ad_pairs])[which]
    origin[a_rows] = _C_INDEX["CN"]
    launder = np.array([_C_INDEX[c] for c in cat.LAUNDERING_COUNTRIES])
    declared_origin[a_rows] = departure[a_rows] = launder[
        rng.integers(0, launder.size, a_rows.size)
    ]
    transit[a_rows] = -1
    mode[a_rows] = "sea"
    mass[a_rows] = np.round(_MASS[hs[a_rows]] * rng.lognormal(0, 0.6, a_rows.size), 1)
    aprice = (
        _PRICE[hs[a_rows]]
        * pair_level[hs[a_rows], origin[a_rows]]
        * rng.lognormal(0, 0.22, a_rows.size)
    )
    true_value[a_rows] = value[a_rows] = np.round(mass[a_rows] / 1000 * aprice, 2)
    fraud_type[tr] = "transshipment"

    used = np.zeros(n, dtype=bool)
    used[tr] = True
    free = cargo[~used[cargo]]

    # Origin misdeclaration: Chinese goods shipped from CN, declared as a preferential origin.
    high = free[(_DUTY[hs[free]] >= 8) & (np.array(_COUNTRIES)[origin[free]] == "CN")]
    om = pick(high, cfg.origin_misdeclaration_share)
    pref = np.array([_C_INDEX[c] for c in ("VN", "TH", "MY", "KH", "ID")])
    departure[om] = _C_INDEX["CN"]
    transit[om] = -1
    declared_origin[om] = pref[rng.integers(0, pref.size, om.size)]
    fraud_type[om] = "origin_misdeclaration"
    used[om] = True
    free = free[~used[free]]

    # Misclassification: declared under a lower-duty code; value is the true one.
    src = np.array([_HS_INDEX[a] for a, _ in cat.MISCLASSIFICATION])
    dst = np.array([_HS_INDEX[b] for _, b in cat.MISCLASSIFICATION])
    lookup = dict(zip(src.tolist(), dst.tolist(), strict=True))
    able = free[np.isin(hs[free], src)]
    target_hs = np.array([lookup.get(h, h) for h in hs[able]], dtype=np.int64)
    able = able[_duty(hs[able], origin[able]) > _duty(target_hs, origin[able])]
    mc = pick(able, cfg.misclassification_share)
    declared_hs[mc] = np.array([lookup[h] for h in hs[mc]], dtype=np.int64)
    fraud_type[mc] = "misclassification"
    used[mc] = True
    free = free[~used[free]]

    # Undervaluation: some importers consistently, others now and then.
    cand = np.setdiff1d(np.arange(n_imp), transshippers)
    cand = cand[activity[cand] < np.quantile(activity, 0.995)]
    consistent = rng.choice(cand, size=max(2, n_imp // 150), replace=False)
    occasional = rng.choice(np.setdiff1d(cand, consistent), size=max(3, n_imp // 40), replace=False)
    imp_cut = rng.uniform(0.30, 0.70, n_imp)
    dutiable = free[_duty(declared_hs[free], declared_origin[free]) > 0]
    is_c = np.isin(importer[dutiable], consistent)
    is_o = np.isin(importer[dutiable], occasional) & (rng.random(dutiable.size) < 0.35)
    uv = dutiable[is_c | is_o]
    target = int(cfg.undervaluation_share * n)
    if uv.size > target:
        uv = rng.choice(uv, target, replace=False)
    elif uv.size < target:
        used[uv] = True
        spare = dutiable[~used[dutiable]]
        extra = rng.choice(spare, min(target - uv.size, spare.size), replace=False)
        importer[extra] = consistent[rng.integers(0, consistent.size, extra.size)]
        uv = np.concatenate([uv, extra])
    cut = (imp_cut[importer[uv]] + rng.normal(0, 0.05, uv.size)).clip(0.25, 0.70)
    value[uv] = np.round(true_value[uv] * (1 - cut), 2)
    fraud_type[uv] = "undervaluation"

    # Duties and revenue lost against what an honest declaration would have paid.
    declared_duty = _duty(declared_hs, declared_origin)
    true_duty = _duty(hs, origin)
    lost = np.round(np.maximum(true_value * true_duty - value * declared_duty, 0) / 100, 2)
    split = fraud_type == "split_shipment"
    lost[split] = np.round(true_value[split] * true_duty[split] / 100, 2)
    is_fraud = fraud_type != ""

    # Inspections: a rule-based officer's picks plus random checks.
    unit = value / np.maximum(mass, 1e-9) * 1000
    rule = (
        1.0 * (declared_duty >= 10)
        + 1.5 * (unit < 0.6 * _PRICE[declared_hs])
        + 0.5 * (departure != declared_origin)
        + 0.3 * (mode == "post")
        + rng.normal(0, 0.8, n)
    )
    n_insp = int(cfg.inspected_share * n)
    n_rand = int(n_insp * cfg.random_check_share)
    targeted = np.argsort(-rule, kind="stable")[: n_insp - n_rand]
    inspected = np.zeros(n, dtype=bool)
    inspected[targeted] = True
    rest = np.flatnonzero(~inspected)
    inspected[rng.choice(rest, n_rand, replace=False)] = True

    # Supplementary quantities where the tariff has a unit.
    sup_unit = np.array([g[7][0] if g[7] else "" for g in cat.GOODS], dtype=object)[declared_hs]
    unit_kg = np.array([g[7][1] if g[7] else np.nan for g in cat.GOODS])[declared_hs]
    sup_qty = np.round(mass / unit_kg * rng.lognormal(0, 0.05, n))

    countries = np.array(_COUNTRIES)
    offices = np.empty(n, dtype=object)
    for m, names in cat.OFFICES.items():
        rows = mode == m
        offices[rows] = np.array(names)[seller[rows] % len(names)]
    dates = np.datetime64(cfg.start, "D") + day

    df = pl.DataFrame(
        {
            "declaration_date": dates,
            "hs_code": _GOODS_HS[declared_hs],
            "importer_id": importer,
            "declarant_id": broker,
            "seller_id": seller,
            "country_origin": countries[declared_origin],
            "country_departure": countries[departure],
            "transit": np.where(transit >= 0, countries[np.maximum(transit, 0)], ""),
            "transport_mode": mode.astype(str),
            "customs_office": offices.astype(str),
            "net_mass_kg": mass,
            "supplementary_quantity": sup_qty,
            "supplementary_unit": sup_unit.astype(str),
            "customs_value": value,
            "duty_rate_pct": np.round(declared_duty, 2),
            "inspected": inspected,
            "is_fraud": is_fraud.astype(np.int8),
            "scheme": fraud_type.astype(str),
            "true_customs_value": true_value,
            "lost": lost,
        }
    )
    found = pl.col("inspected") & (pl.col("is_fraud") == 1)
    return (
        df.with_columns(
            pl.lit("import").alias("flow"),
            format_text("IM{}", pl.col("importer_id").cast(pl.String).str.pad_start(5, "0")),
            format_text("BR{}", pl.col("declarant_id").cast(pl.String).str.pad_start(4, "0")),
            format_text("SE{}", pl.col("seller_id").cast(pl.String).str.pad_start(6, "0")),
            pl.when(pl.col("transit") != "").then(pl.col("transit")).alias("transit_countries"),
            pl.col("supplementary_quantity").fill_nan(None),
            pl.when(pl.col("supplementary_unit") != "")
            .then(pl.col("supplementary_unit"))
            .alias("supplementary_unit"),
            pl.lit(cfg.currency).alias("currency"),
            pl.when(pl.col("inspected")).then(pl.col("is_fraud")).alias("fraud"),
            pl.when(found).then(pl.col("scheme")).alias("fraud_type"),
            pl.when(found).then(pl.col("lost")).alias("revenue_recovered"),
            pl.col("is_fraud").alias("true_fraud"),
            pl.when(pl.col("is_fraud") == 1).then(pl.col("scheme")).alias("true_fraud_type"),
            pl.when(pl.col("is_fraud") == 1)
            .then(pl.col("lost"))
            .otherwise(0.0)
            .alias("true_revenue_lost"),
        )
        .sort("declaration_date", maintain_order=True)
        .with_columns(
            format_text(
                "{}{}",
                pl.col("declaration_date").dt.strftime("%y%m%d"),
                pl.int_range(pl.len()).cast(pl.String).str.pad_start(8, "0"),
            ).alias("declaration_id")
        )
        .select(_COLUMNS)
    )


_COLUMNS = [
    "declaration_id",
    "declaration_date",
    "flow",
    "hs_code",
    "importer_id",
    "declarant_id",
    "seller_id",
    "country_origin",
    "country_departure",
    "transit_countries",
    "transport_mode",
    "customs_office",
    "net_mass_kg",
    "supplementary_quantity",
    "supplementary_unit",
    "customs_value",
    "currency",
    "duty_rate_pct",
    "inspected",
    "fraud",
    "fraud_type",
    "revenue_recovered",
    "true_fraud",
    "true_fraud_type",
    "true_customs_value",
    "true_revenue_lost",
]
