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

from detector.features import format_text
from detector.io.schema import CANONICAL_SCHEMA, LABEL_SCHEMA, TRUTH_SCHEMA
from detector.synthetic import _catalogue as cat

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


#: Per HS: origin country indices and cumulative weights (see ``_origin_tables``).
_OriginTables = tuple[np.ndarray, np.ndarray]


def _origin_tables() -> _OriginTables:
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
    # Every step draws from this one generator in turn: reordering the steps, or the
    # draws within one, changes the rows of every seed.
    rng = np.random.default_rng(cfg.seed)
    origins = _origin_tables()
    importers = _draw_importers(rng, cfg.rows, origins)
    year = _draw_honest_year(rng, cfg, importers, origins)
    parcels = _draw_parcels(rng, cfg, year)
    _split_shipments(rng, cfg, year, parcels, importers.n)
    is_parcel = np.zeros(cfg.rows, dtype=bool)
    is_parcel[parcels] = True
    cargo = np.flatnonzero(~is_parcel)
    # Each scheme takes its rows from those no earlier scheme took.
    tr, transshippers = _transshipment(rng, cfg, year, cargo, importers.n)
    free = _untaken(cargo, tr)
    free = _untaken(free, _origin_misdeclaration(rng, cfg, year, free))
    free = _untaken(free, _misclassification(rng, cfg, year, free))
    _undervaluation(rng, cfg, year, free, importers, transshippers)
    declared_duty = _duty(year.declared_hs, year.declared_origin)
    inspected = _inspections(rng, cfg, year, declared_duty)
    sup_unit, sup_qty = _supplementary_quantities(rng, year)
    raw = _raw_frame(cfg, year, declared_duty, inspected, sup_unit, sup_qty)
    return _canonical_frame(raw, cfg.currency)


@dataclass(frozen=True)
class _Importers:
    """Importers' tables: activity, usual goods, origins, sellers, broker and price level."""

    n: int
    n_declarants: int
    activity: np.ndarray
    goods: np.ndarray
    goods_cum: np.ndarray
    origin: np.ndarray
    seller: np.ndarray
    broker: np.ndarray
    price: np.ndarray


_K_GOODS = 4  # usual goods per importer


def _draw_importers(rng: np.random.Generator, n: int, origins: _OriginTables) -> _Importers:
    """Importers with long-tailed activity, a few goods each and a usual broker."""
    o_idx, o_cum = origins
    n_imp = int(np.clip(n / 40, 200, 5000))
    n_decl = int(np.clip(n_imp / 8, 30, 600))
    activity = rng.pareto(1.2, n_imp) + 1.0
    activity /= activity.sum()
    weight = np.array([cat.POPULARITY.get(g[0], 1.0) for g in cat.GOODS])
    popularity = weight * rng.uniform(0.5, 1.5, len(cat.GOODS))
    goods = rng.choice(len(cat.GOODS), size=(n_imp, _K_GOODS), p=popularity / popularity.sum())
    goods_cum = np.cumsum(rng.dirichlet(np.ones(_K_GOODS) * 0.7, n_imp), axis=1)
    origin = _draw_origin(rng, goods.ravel(), o_idx, o_cum).reshape(n_imp, _K_GOODS)
    return _Importers(
        n=n_imp,
        n_declarants=n_decl,
        activity=activity,
        goods=goods,
        goods_cum=goods_cum,
        origin=origin,
        seller=rng.integers(0, 10**6, size=(n_imp, _K_GOODS)),
        broker=rng.integers(0, n_decl, n_imp),
        price=rng.lognormal(0, 0.08, n_imp),
    )


@dataclass
class _Year:
    """The year's rows, one array per column; each scheme rewrites its rows in place.

    ``hs`` and ``origin`` are the truth, ``declared_*`` what the declaration says;
    ``pair_level`` and ``phase`` are the price model, kept to price re-routed goods.
    """

    importer: np.ndarray
    seller: np.ndarray
    broker: np.ndarray
    day: np.ndarray
    doy: np.ndarray
    hs: np.ndarray
    declared_hs: np.ndarray
    origin: np.ndarray
    declared_origin: np.ndarray
    departure: np.ndarray
    transit: np.ndarray
    mode: np.ndarray
    mass: np.ndarray
    value: np.ndarray
    true_value: np.ndarray
    fraud_type: np.ndarray
    pair_level: np.ndarray
    phase: np.ndarray


def _draw_honest_year(
    rng: np.random.Generator, cfg: GeneratorConfig, importers: _Importers, origins: _OriginTables
) -> _Year:
    """Honest trade: who ships what from where, on which day, at what price and route."""
    importer, hs, origin, seller, broker = _draw_trades(rng, cfg.rows, importers, origins)
    day, doy = _draw_days(rng, cfg)
    price, mass, pair_level, phase = _draw_prices(rng, hs, origin, doy, importers.price[importer])
    departure, transit, mode = _draw_routes(rng, cfg, hs, origin)
    value = np.round(mass / 1000 * price, 2)
    return _Year(
        importer=importer,
        seller=seller,
        broker=broker,
        day=day,
        doy=doy,
        hs=hs,
        declared_hs=hs.copy(),
        origin=origin,
        declared_origin=origin.copy(),
        departure=departure,
        transit=transit,
        mode=mode,
        mass=mass,
        value=value,
        true_value=value.copy(),
        fraud_type=np.full(cfg.rows, "", dtype=object),
        pair_level=pair_level,
        phase=phase,
    )


def _draw_trades(rng: np.random.Generator, n: int, importers: _Importers, origins: _OriginTables):
    """Per row: the importer, the goods, the origin, the seller and the broker."""
    o_idx, o_cum = origins
    importer = rng.choice(importers.n, size=n, p=importers.activity)
    slot = (rng.random(n)[:, None] > importers.goods_cum[importer]).sum(axis=1)
    slot = slot.clip(0, _K_GOODS - 1)
    hs = importers.goods[importer, slot]
    origin = np.where(
        rng.random(n) < 0.8, importers.origin[importer, slot], _draw_origin(rng, hs, o_idx, o_cum)
    )
    seller_key = np.where(
        rng.random(n) < 0.85, importers.seller[importer, slot], rng.integers(0, 10**6, n)
    )
    seller = (seller_key * 31 + origin) % int(np.clip(n / 25, 300, 8000))
    broker = np.where(
        rng.random(n) < 0.9,
        importers.broker[importer],
        rng.integers(0, importers.n_declarants, n),
    )
    return importer, hs, origin, seller, broker


def _draw_days(rng: np.random.Generator, cfg: GeneratorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the day of the period and its day of the year; weekdays busier."""
    days = np.arange(cfg.days)
    weekday = np.array([(cfg.start + timedelta(days=int(d))).weekday() for d in days])
    day_w = np.where(weekday >= 5, 0.3, 1.0)
    day = rng.choice(days, size=cfg.rows, p=day_w / day_w.sum())
    doy = (np.array([(cfg.start + timedelta(days=int(d))).timetuple().tm_yday for d in days]))[day]
    return day, doy


def _draw_prices(rng: np.random.Generator, hs, origin, doy, importer_price):
    """Per row: price per tonne and net mass, with the price model's pair levels and phases.

    A price is the level of its (HS, origin) pair, seasonality, the importer's level and
    the row's own noise.
    """
    n = hs.size
    pair_level = rng.lognormal(0, 0.15, (len(cat.GOODS), len(_COUNTRIES)))
    phase = rng.uniform(0, 365, len(cat.GOODS))
    season = 1 + _SEASON[hs] * np.sin(2 * np.pi * (doy - phase[hs]) / 365)
    price = (
        _PRICE[hs] * pair_level[hs, origin] * season * importer_price * rng.lognormal(0, 0.22, n)
    )
    mass = np.round(_MASS[hs] * rng.lognormal(0, 0.9, n), 1).clip(0.5, None)
    return price, mass, pair_level, phase


def _draw_routes(rng: np.random.Generator, cfg: GeneratorConfig, hs, origin):
    """Per row: departure, transit hub (-1 for none) and transport mode.

    Mostly direct, some through hubs; the mode follows the goods and the distance.
    """
    n = hs.size
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
    return departure, transit, mode


_PARCEL_HS = np.array([_HS_INDEX[h] for h in cat.PARCEL_GOODS])


def _draw_parcels(rng: np.random.Generator, cfg: GeneratorConfig, year: _Year) -> np.ndarray:
    """Turn rows into honest low-value e-commerce parcels from CN; return their indices."""
    n_parcel = int(cfg.parcel_share * cfg.rows)
    pidx = rng.choice(cfg.rows, n_parcel, replace=False)
    y = year
    y.hs[pidx] = y.declared_hs[pidx] = _PARCEL_HS[rng.integers(0, _PARCEL_HS.size, n_parcel)]
    y.origin[pidx] = y.declared_origin[pidx] = y.departure[pidx] = _C_INDEX["CN"]
    y.transit[pidx] = -1
    y.mode[pidx] = np.where(rng.random(n_parcel) < 0.7, "post", "air")
    y.mass[pidx] = np.round(rng.lognormal(np.log(0.8), 0.7, n_parcel), 2).clip(0.05, None)
    y.value[pidx] = y.true_value[pidx] = np.round(
        (_PRICE[y.hs[pidx]] * y.mass[pidx] / 1000 * rng.lognormal(0, 0.35, n_parcel)).clip(3, None),
        2,
    )
    return pidx


def _split_shipments(
    rng: np.random.Generator, cfg: GeneratorConfig, year: _Year, parcels: np.ndarray, n_imp: int
) -> None:
    """Split shipments among the parcels: one consignee, one seller, one day, many
    parcels each under the de-minimis value."""
    n_split = int(cfg.split_shipment_share * cfg.rows)
    if not n_split:
        return
    y = year
    spool = parcels[:n_split]
    cluster = rng.integers(6, 18, max(1, n_split // 10))
    cid = np.repeat(np.arange(cluster.size), cluster)[: spool.size]
    cid = np.pad(cid, (0, spool.size - cid.size), constant_values=cluster.size - 1)
    splitters = rng.choice(n_imp, size=cluster.size)
    y.importer[spool] = splitters[cid]
    y.seller[spool] = rng.integers(0, 10**5, cluster.size)[cid] % 1000 + 100_000
    y.day[spool] = rng.integers(0, cfg.days, cluster.size)[cid]
    chs = _PARCEL_HS[rng.integers(0, _PARCEL_HS.size, cluster.size)]
    y.hs[spool] = y.declared_hs[spool] = chs[cid]
    y.true_value[spool] = np.round(rng.uniform(0.80, 0.999, spool.size) * cfg.de_minimis, 2)
    y.value[spool] = y.true_value[spool]
    y.mass[spool] = np.round(
        y.true_value[spool] / _PRICE[y.hs[spool]] * 1000 * rng.lognormal(0, 0.2, spool.size), 2
    )
    y.fraud_type[spool] = "split_shipment"


def _pick(rng: np.random.Generator, pool: np.ndarray, share: float, n: int) -> np.ndarray:
    """``share`` of ``n`` rows drawn from ``pool`` without replacement, at most all of it."""
    k = min(int(share * n), pool.size)
    if k == 0:
        return pool[:0]
    return rng.choice(pool, size=k, replace=False)


def _untaken(pool: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The rows of ``pool`` not in ``taken``, in their order."""
    return pool[~np.isin(pool, taken)]


def _transshipment(
    rng: np.random.Generator, cfg: GeneratorConfig, year: _Year, cargo: np.ndarray, n_imp: int
) -> tuple[np.ndarray, np.ndarray]:
    """Transshipment by a few importers: durians and anti-dumped goods re-routed.

    Returns the rows taken and the transshipping importers.
    """
    n_tr = int(cfg.transshipment_share * cfg.rows)
    transshippers = rng.choice(n_imp, size=max(3, n_tr // 60), replace=False)
    tr = _pick(rng, cargo, cfg.transshipment_share, cfg.rows)
    durian = rng.random(tr.size) < 0.3
    year.importer[tr] = transshippers[rng.integers(0, transshippers.size, tr.size)]
    _durians_through_vietnam(rng, year, tr[durian])
    _anti_dumped_relabelled(rng, year, tr[~durian])
    year.fraud_type[tr] = "transshipment"
    return tr, transshippers


def _durians_through_vietnam(rng: np.random.Generator, year: _Year, rows: np.ndarray) -> None:
    """Thai durians trucked through Vietnam and declared at about half their value."""
    y = year
    y.hs[rows] = y.declared_hs[rows] = _HS_INDEX["081060"]
    y.origin[rows] = y.declared_origin[rows] = _C_INDEX["TH"]
    y.departure[rows] = y.transit[rows] = _C_INDEX["VN"]
    y.mode[rows] = "road"
    hs = y.hs[rows]
    y.mass[rows] = np.round(_MASS[hs] * rng.lognormal(0, 0.6, rows.size), 1)
    season = 1 + _SEASON[hs] * np.sin(2 * np.pi * (y.doy[rows] - y.phase[hs]) / 365)
    price = (
        _PRICE[hs] * y.pair_level[hs, y.origin[rows]] * season * rng.lognormal(0, 0.2, rows.size)
    )
    y.true_value[rows] = np.round(y.mass[rows] / 1000 * price, 2)
    y.value[rows] = np.round(y.true_value[rows] * rng.uniform(0.35, 0.65, rows.size), 2)


def _anti_dumped_relabelled(rng: np.random.Generator, year: _Year, rows: np.ndarray) -> None:
    """Chinese goods under anti-dumping duty shipped from, and declared as of, a neighbour."""
    y = year
    ad_hs = np.array([_HS_INDEX[h] for (h, _) in cat.ANTI_DUMPING])
    y.hs[rows] = y.declared_hs[rows] = ad_hs[rng.integers(0, ad_hs.size, rows.size)]
    y.origin[rows] = _C_INDEX["CN"]
    launder = np.array([_C_INDEX[c] for c in cat.LAUNDERING_COUNTRIES])
    y.declared_origin[rows] = y.departure[rows] = launder[rng.integers(0, launder.size, rows.size)]
    y.transit[rows] = -1
    y.mode[rows] = "sea"
    hs = y.hs[rows]
    y.mass[rows] = np.round(_MASS[hs] * rng.lognormal(0, 0.6, rows.size), 1)
    price = _PRICE[hs] * y.pair_level[hs, y.origin[rows]] * rng.lognormal(0, 0.22, rows.size)
    y.true_value[rows] = y.value[rows] = np.round(y.mass[rows] / 1000 * price, 2)


def _origin_misdeclaration(
    rng: np.random.Generator, cfg: GeneratorConfig, year: _Year, free: np.ndarray
) -> np.ndarray:
    """Dutiable Chinese goods shipped from CN, declared as of a preferential origin;
    returns the rows taken."""
    y = year
    high = free[(_DUTY[y.hs[free]] >= 8) & (np.array(_COUNTRIES)[y.origin[free]] == "CN")]
    om = _pick(rng, high, cfg.origin_misdeclaration_share, cfg.rows)
    pref = np.array([_C_INDEX[c] for c in ("VN", "TH", "MY", "KH", "ID")])
    y.departure[om] = _C_INDEX["CN"]
    y.transit[om] = -1
    y.declared_origin[om] = pref[rng.integers(0, pref.size, om.size)]
    y.fraud_type[om] = "origin_misdeclaration"
    return om


def _misclassification(
    rng: np.random.Generator, cfg: GeneratorConfig, year: _Year, free: np.ndarray
) -> np.ndarray:
    """Goods declared under a lower-duty code, at their true value; returns the rows taken."""
    y = year
    src = np.array([_HS_INDEX[a] for a, _ in cat.MISCLASSIFICATION])
    dst = np.array([_HS_INDEX[b] for _, b in cat.MISCLASSIFICATION])
    lookup = dict(zip(src.tolist(), dst.tolist(), strict=True))
    able = free[np.isin(y.hs[free], src)]
    target_hs = np.array([lookup.get(h, h) for h in y.hs[able]], dtype=np.int64)
    able = able[_duty(y.hs[able], y.origin[able]) > _duty(target_hs, y.origin[able])]
    mc = _pick(rng, able, cfg.misclassification_share, cfg.rows)
    y.declared_hs[mc] = np.array([lookup[h] for h in y.hs[mc]], dtype=np.int64)
    y.fraud_type[mc] = "misclassification"
    return mc


def _undervaluation(
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    year: _Year,
    free: np.ndarray,
    importers: _Importers,
    transshippers: np.ndarray,
) -> None:
    """Dutiable goods declared below their value: some importers consistently, others now
    and then; topped up from the consistent ones' to the configured share."""
    y, n_imp, activity = year, importers.n, importers.activity
    cand = np.setdiff1d(np.arange(n_imp), transshippers)
    cand = cand[activity[cand] < np.quantile(activity, 0.995)]
    consistent = rng.choice(cand, size=max(2, n_imp // 150), replace=False)
    occasional = rng.choice(np.setdiff1d(cand, consistent), size=max(3, n_imp // 40), replace=False)
    imp_cut = rng.uniform(0.30, 0.70, n_imp)
    dutiable = free[_duty(y.declared_hs[free], y.declared_origin[free]) > 0]
    is_c = np.isin(y.importer[dutiable], consistent)
    is_o = np.isin(y.importer[dutiable], occasional) & (rng.random(dutiable.size) < 0.35)
    uv = dutiable[is_c | is_o]
    target = int(cfg.undervaluation_share * cfg.rows)
    if uv.size > target:
        uv = rng.choice(uv, target, replace=False)
    elif uv.size < target:
        spare = _untaken(dutiable, uv)
        extra = rng.choice(spare, min(target - uv.size, spare.size), replace=False)
        y.importer[extra] = consistent[rng.integers(0, consistent.size, extra.size)]
        uv = np.concatenate([uv, extra])
    cut = (imp_cut[y.importer[uv]] + rng.normal(0, 0.05, uv.size)).clip(0.25, 0.70)
    y.value[uv] = np.round(y.true_value[uv] * (1 - cut), 2)
    y.fraud_type[uv] = "undervaluation"


def _inspections(
    rng: np.random.Generator, cfg: GeneratorConfig, year: _Year, declared_duty: np.ndarray
) -> np.ndarray:
    """Which rows were inspected: a rule-based officer's picks plus random checks."""
    y, n = year, cfg.rows
    unit = y.value / np.maximum(y.mass, 1e-9) * 1000
    rule = (
        1.0 * (declared_duty >= 10)
        + 1.5 * (unit < 0.6 * _PRICE[y.declared_hs])
        + 0.5 * (y.departure != y.declared_origin)
        + 0.3 * (y.mode == "post")
        + rng.normal(0, 0.8, n)
    )
    n_insp = int(cfg.inspected_share * n)
    n_rand = int(n_insp * cfg.random_check_share)
    targeted = np.argsort(-rule, kind="stable")[: n_insp - n_rand]
    inspected = np.zeros(n, dtype=bool)
    inspected[targeted] = True
    rest = np.flatnonzero(~inspected)
    inspected[rng.choice(rest, n_rand, replace=False)] = True
    return inspected


def _supplementary_quantities(
    rng: np.random.Generator, year: _Year
) -> tuple[np.ndarray, np.ndarray]:
    """Supplementary unit and quantity where the declared code's tariff has a unit."""
    hs = year.declared_hs
    sup_unit = np.array([g[7][0] if g[7] else "" for g in cat.GOODS], dtype=object)[hs]
    unit_kg = np.array([g[7][1] if g[7] else np.nan for g in cat.GOODS])[hs]
    sup_qty = np.round(year.mass / unit_kg * rng.lognormal(0, 0.05, hs.size))
    return sup_unit, sup_qty


def _revenue_lost(year: _Year, declared_duty: np.ndarray) -> np.ndarray:
    """Duty lost per row against what an honest declaration would have paid."""
    y = year
    true_duty = _duty(y.hs, y.origin)
    lost = np.round(np.maximum(y.true_value * true_duty - y.value * declared_duty, 0) / 100, 2)
    split = y.fraud_type == "split_shipment"
    lost[split] = np.round(y.true_value[split] * true_duty[split] / 100, 2)
    return lost


def _raw_frame(
    cfg: GeneratorConfig,
    year: _Year,
    declared_duty: np.ndarray,
    inspected: np.ndarray,
    sup_unit: np.ndarray,
    sup_qty: np.ndarray,
) -> pl.DataFrame:
    """The year's arrays as a frame of row numbers and codes, before labels and ids."""
    y = year
    countries = np.array(_COUNTRIES)
    offices = np.empty(cfg.rows, dtype=object)
    for m, names in cat.OFFICES.items():
        rows = y.mode == m
        offices[rows] = np.array(names)[y.seller[rows] % len(names)]
    return pl.DataFrame(
        {
            "declaration_date": np.datetime64(cfg.start, "D") + y.day,
            "hs_code": _GOODS_HS[y.declared_hs],
            "importer_id": y.importer,
            "declarant_id": y.broker,
            "seller_id": y.seller,
            "country_origin": countries[y.declared_origin],
            "country_departure": countries[y.departure],
            "transit": np.where(y.transit >= 0, countries[np.maximum(y.transit, 0)], ""),
            "transport_mode": y.mode.astype(str),
            "customs_office": offices.astype(str),
            "net_mass_kg": y.mass,
            "supplementary_quantity": sup_qty,
            "supplementary_unit": sup_unit.astype(str),
            "customs_value": y.value,
            "duty_rate_pct": np.round(declared_duty, 2),
            "inspected": inspected,
            "is_fraud": (y.fraud_type != "").astype(np.int8),
            "scheme": y.fraud_type.astype(str),
            "true_customs_value": y.true_value,
            "lost": _revenue_lost(year, declared_duty),
        }
    )


def _canonical_frame(raw: pl.DataFrame, currency: str) -> pl.DataFrame:
    """The canonical columns: ids, labels seen only where inspected, truth, date order."""
    found = pl.col("inspected") & (pl.col("is_fraud") == 1)
    return (
        raw.with_columns(
            pl.lit("import").alias("flow"),
            format_text("IM{}", pl.col("importer_id").cast(pl.String).str.pad_start(5, "0")),
            format_text("BR{}", pl.col("declarant_id").cast(pl.String).str.pad_start(4, "0")),
            format_text("SE{}", pl.col("seller_id").cast(pl.String).str.pad_start(6, "0")),
            pl.when(pl.col("transit") != "").then(pl.col("transit")).alias("transit_countries"),
            pl.col("supplementary_quantity").fill_nan(None),
            pl.when(pl.col("supplementary_unit") != "")
            .then(pl.col("supplementary_unit"))
            .alias("supplementary_unit"),
            pl.lit(currency).alias("currency"),
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


#: The generated table's columns: the canonical schema, the labels, the ground truth.
_COLUMNS = [*CANONICAL_SCHEMA, *LABEL_SCHEMA, *TRUTH_SCHEMA]
