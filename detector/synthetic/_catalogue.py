"""Goods, prices, duties and trade lanes behind the synthetic generator.

Prices are typical declared values in USD per tonne; duty rates are most-favoured-
nation rates in percent, lowered for free-trade partners and raised by anti-dumping
duties on some (HS code, origin) pairs, as in the trade remedies of many customs unions.
"""

# hs, description, family, USD per tonne, MFN duty %, median kg per item, seasonal
# amplitude, supplementary unit and kg per unit (None when the tariff has none),
# origins with weights.
# fmt: off
GOODS: list[tuple] = [
    ("030617", "frozen shrimps and prawns", "food", 9000, 20, 8000, 0.05, None, {"VN": 3, "IN": 2.5, "EC": 2, "TH": 1.5, "ID": 1}),
    ("030389", "frozen fish, other", "food", 2500, 10, 12000, 0.05, None, {"CN": 3, "RU": 3, "NO": 2, "VN": 2}),
    ("070310", "onions and shallots", "food", 400, 27, 20000, 0.25, None, {"CN": 6, "NZ": 2, "AU": 2}),
    ("080390", "bananas, fresh", "food", 700, 30, 18000, 0.10, None, {"PH": 7, "EC": 2, "VN": 1}),
    ("081060", "durians, fresh", "food", 5000, 20, 15000, 0.20, None, {"TH": 7.5, "MY": 1.5, "VN": 1}),
    ("080450", "mangoes and guavas", "food", 2500, 24, 8000, 0.30, None, {"TH": 4, "VN": 3, "PH": 2, "IN": 1}),
    ("081010", "strawberries, fresh", "food", 4000, 30, 2000, 0.35, None, {"US": 5, "AU": 3, "JP": 2}),
    ("090111", "coffee, not roasted", "food", 4000, 2, 18000, 0.05, None, {"BR": 3.5, "VN": 3, "CO": 2, "ET": 1.5}),
    ("090230", "black tea", "food", 3500, 15, 5000, 0.05, None, {"LK": 4, "IN": 3, "KE": 3}),
    ("100630", "rice, milled", "food", 600, 5, 25000, 0.05, None, {"TH": 4, "VN": 3, "US": 2, "CN": 1}),
    ("170199", "cane or beet sugar", "food", 500, 3, 25000, 0.05, None, {"TH": 5, "AU": 3, "BR": 2}),
    ("200911", "orange juice, frozen", "food", 2500, 10, 18000, 0.05, None, {"BR": 6, "US": 3, "ES": 1}),
    ("220421", "wine in containers up to 2 l", "food", 6000, 15, 6000, 0.10, ("l", 1.3), {"FR": 3.5, "IT": 2.5, "CL": 2, "ES": 1, "AU": 1}),
    ("160414", "tunas, prepared or preserved", "food", 5000, 20, 15000, 0.05, None, {"TH": 6, "EC": 2, "VN": 2}),
    ("520100", "cotton, not carded", "textiles", 1800, 0, 20000, 0.05, None, {"US": 5, "AU": 3, "BR": 2}),
    ("520812", "woven cotton fabric, unbleached", "textiles", 7000, 8, 3000, 0.0, None, {"CN": 6, "IN": 2, "PK": 2}),
    ("540752", "woven polyester fabric, dyed", "textiles", 5000, 8, 3000, 0.0, None, {"CN": 7, "TW": 2, "ID": 1}),
    ("610910", "T-shirts of cotton, knitted", "textiles", 15000, 13, 1500, 0.10, ("u", 0.2), {"CN": 4, "BD": 3, "VN": 2, "IN": 1}),
    ("611020", "jerseys and pullovers of cotton", "textiles", 18000, 13, 1200, 0.25, ("u", 0.5), {"CN": 5, "VN": 3, "BD": 2}),
    ("620342", "men's trousers of cotton", "textiles", 16000, 13, 1500, 0.05, ("u", 0.6), {"CN": 4, "BD": 3, "VN": 2, "KH": 1}),
    ("620462", "women's trousers of cotton", "textiles", 17000, 13, 1200, 0.05, ("u", 0.5), {"CN": 4, "BD": 3, "VN": 2, "KH": 1}),
    ("630790", "made-up textile articles, other", "textiles", 6000, 10, 1500, 0.0, None, {"CN": 8, "VN": 2}),
    ("640299", "footwear of rubber or plastics", "footwear", 9000, 13, 1500, 0.05, ("pa", 0.6), {"CN": 6, "VN": 3, "ID": 1}),
    ("640399", "footwear with leather uppers", "footwear", 30000, 13, 800, 0.05, ("pa", 0.9), {"VN": 4, "CN": 3, "IT": 2, "ID": 1}),
    ("640411", "sports footwear, textile uppers", "footwear", 20000, 13, 1000, 0.05, ("pa", 0.7), {"VN": 5, "CN": 3, "ID": 2}),
    ("720839", "flat-rolled iron, hot-rolled, < 3 mm", "steel", 650, 0, 60000, 0.0, None, {"CN": 5, "JP": 3, "IN": 1, "VN": 1}),
    ("721049", "flat-rolled iron, galvanised", "steel", 900, 0, 40000, 0.0, None, {"CN": 5, "JP": 3, "TW": 1, "VN": 1}),
    ("721391", "wire rod of iron, < 14 mm", "steel", 600, 0, 50000, 0.0, None, {"CN": 5, "JP": 3, "RU": 2}),
    ("721912", "stainless flat-rolled, hot-rolled coils", "steel", 2200, 0, 30000, 0.0, None, {"CN": 5, "JP": 2, "ID": 2, "TW": 1}),
    ("730890", "structures of iron or steel", "steel", 2500, 8, 20000, 0.0, None, {"CN": 7, "VN": 2, "JP": 1}),
    ("731815", "screws and bolts of iron or steel", "steel", 3500, 8, 8000, 0.0, None, {"CN": 6, "TW": 3, "JP": 1}),
    ("760429", "aluminium alloy profiles", "steel", 4000, 8, 15000, 0.0, None, {"CN": 7, "TW": 1, "VN": 1, "MY": 1}),
    ("441231", "plywood, tropical hardwood face", "wood", 600, 8, 25000, 0.0, None, {"CN": 5, "VN": 2, "MY": 2, "ID": 1}),
    ("940350", "wooden bedroom furniture", "wood", 2500, 8, 6000, 0.0, ("u", 40), {"CN": 4, "VN": 4, "MY": 2}),
    ("847130", "portable computers", "electronics", 250000, 0, 300, 0.05, ("u", 2.2), {"CN": 8, "VN": 1, "TW": 1}),
    ("851713", "smartphones", "electronics", 1500000, 0, 150, 0.05, ("u", 0.2), {"CN": 6, "VN": 3, "IN": 1}),
    ("851762", "network switching and routing apparatus", "electronics", 120000, 0, 400, 0.0, ("u", 1.5), {"CN": 6, "VN": 2, "MY": 1, "US": 1}),
    ("852872", "television receivers", "electronics", 12000, 8, 5000, 0.05, ("u", 12), {"CN": 5, "MX": 2, "VN": 2, "MY": 1}),
    ("850760", "lithium-ion accumulators", "electronics", 25000, 8, 3000, 0.0, None, {"CN": 7, "JP": 2, "PL": 1}),
    ("854140", "photovoltaic cells and panels", "electronics", 3000, 0, 15000, 0.0, ("u", 20), {"CN": 5, "MY": 2, "VN": 2, "TH": 1}),
    ("850440", "static converters", "electronics", 30000, 8, 800, 0.0, None, {"CN": 8, "VN": 1, "TW": 1}),
    ("851830", "headphones and earphones", "electronics", 60000, 8, 300, 0.0, ("u", 0.2), {"CN": 8, "VN": 2}),
    ("283620", "disodium carbonate", "chemicals", 300, 5.5, 25000, 0.0, None, {"CN": 5, "US": 3, "TR": 2}),
    ("390110", "polyethylene, density < 0.94", "chemicals", 1200, 6.5, 25000, 0.0, None, {"SA": 4, "US": 3, "SG": 2, "QA": 1}),
    ("390760", "polyethylene terephthalate", "chemicals", 1100, 6.5, 25000, 0.0, None, {"CN": 6, "TW": 2, "TH": 2}),
    ("330499", "beauty and skin-care preparations", "chemicals", 40000, 6.5, 500, 0.0, None, {"FR": 3, "US": 2, "JP": 2, "CN": 3}),
    ("380893", "herbicides", "chemicals", 6000, 6.5, 8000, 0.15, None, {"CN": 5, "US": 2, "DE": 2, "IN": 1}),
    ("870899", "motor vehicle parts, other", "vehicles", 8000, 8, 3000, 0.0, None, {"DE": 3, "JP": 3, "CN": 3, "MX": 1}),
    ("870830", "brakes and servo-brakes", "vehicles", 6000, 8, 3000, 0.0, None, {"CN": 4, "DE": 3, "JP": 3}),
    ("870322", "cars, 1,000-1,500 cc", "vehicles", 12000, 8, 1300, 0.0, ("u", 1300), {"JP": 4, "DE": 3, "US": 3}),
    ("401110", "new pneumatic tyres for cars", "vehicles", 3000, 8, 10000, 0.0, ("u", 9), {"CN": 5, "TH": 2, "JP": 2, "ID": 1}),
    ("950300", "toys", "consumer", 8000, 8, 2000, 0.20, None, {"CN": 9, "VN": 1}),
    ("392690", "articles of plastics, other", "consumer", 7000, 6.5, 2000, 0.0, None, {"CN": 8, "VN": 1, "TW": 1}),
    ("690722", "ceramic tiles, absorption 0.5-10 %", "consumer", 400, 8, 20000, 0.0, None, {"CN": 5, "ES": 3, "IT": 2}),
]
# fmt: on

# Goods traded more than the others (relative weight, default 1): fresh durians are the
# largest fresh-fruit import of the market in the motivating case.
POPULARITY: dict[str, float] = {"081060": 3.0, "392690": 2.0, "870899": 1.5}

# Countries with a free-trade agreement: their preferential duty is a share of MFN.
PREFERENTIAL: dict[str, float] = {
    **dict.fromkeys(["VN", "TH", "MY", "SG", "ID", "PH", "KH"], 0.0),
    **dict.fromkeys(["CL", "AU", "NZ", "PE", "CO"], 0.0),
    **dict.fromkeys(["US", "DE", "FR", "IT", "ES", "NL", "PL"], 0.5),
}

# Sensitive goods that free-trade agreements leave at the MFN rate.
SENSITIVE: frozenset[str] = frozenset({"081060", "080450", "080390", "070310", "100630", "170199"})

# Anti-dumping and countervailing duties on top of MFN, percent.
ANTI_DUMPING: dict[tuple[str, str], float] = {
    ("720839", "CN"): 25,
    ("721049", "CN"): 30,
    ("721912", "CN"): 25,
    ("760429", "CN"): 30,
    ("441231", "CN"): 20,
    ("854140", "CN"): 35,
    ("401110", "CN"): 20,
    ("940350", "CN"): 25,
    ("690722", "CN"): 30,
    ("390760", "CN"): 15,
}

# Where goods of an anti-dumping pair are relabelled (declared origin = departure).
LAUNDERING_COUNTRIES: tuple[str, ...] = ("MY", "VN", "TH", "ID")

# Hubs that honest indirect shipments pass through, by region of origin.
HUBS: dict[str, tuple[str, ...]] = {
    "asia": ("SG", "HK", "MY"),
    "europe": ("NL", "DE", "BE"),
    "americas": ("US", "PA"),
    "middle_east": ("AE",),
    "africa": ("AE", "NL"),
    "oceania": ("SG",),
}

REGION: dict[str, str] = {
    **dict.fromkeys(
        ["CN", "VN", "TH", "MY", "ID", "PH", "KH", "IN", "BD", "PK", "LK", "JP", "TW", "SG"],
        "asia",
    ),
    **dict.fromkeys(["FR", "IT", "ES", "DE", "NL", "PL", "NO", "RU", "TR"], "europe"),
    **dict.fromkeys(["US", "MX", "BR", "EC", "CL", "CO", "PE"], "americas"),
    **dict.fromkeys(["SA", "QA", "AE"], "middle_east"),
    **dict.fromkeys(["ET", "KE"], "africa"),
    **dict.fromkeys(["AU", "NZ"], "oceania"),
}

# Goods declared under a lower-duty code whose normal price per tonne differs widely.
MISCLASSIFICATION: tuple[tuple[str, str], ...] = (
    ("030617", "030389"),
    ("610910", "520812"),
    ("620342", "540752"),
    ("852872", "847130"),
    ("851830", "851762"),
    ("220421", "200911"),
    ("080450", "081060"),
)

# Cheap goods that e-commerce parcels carry.
PARCEL_GOODS: tuple[str, ...] = (
    "610910",
    "611020",
    "620462",
    "640299",
    "640411",
    "851830",
    "330499",
    "950300",
    "392690",
)

# Offices of entry by transport mode.
OFFICES: dict[str, tuple[str, ...]] = {
    "sea": ("SEA01", "SEA02", "SEA03", "SEA04"),
    "air": ("AIR01", "AIR02"),
    "road": ("LND01", "LND02"),
    "rail": ("RAL01",),
    "post": ("PST01", "PST02"),
}

# Neighbours that reach the importing country by road (a land border), as in the
# south-east Asian trade lanes of the motivating case.
LAND_NEIGHBOURS: tuple[str, ...] = ("VN", "LA", "MM")
