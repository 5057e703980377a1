"""Polars feature builders for customs declarations.

Stateless features are expressions; anything that needs a group-by or a join is a
``LazyFrame -> LazyFrame`` function; anything learned from training data is a fitted
table held by :class:`DeclarationFeatures`, the one entry point the model uses.
"""

from detector.features._builder import (
    CATEGORICAL_BASE,
    NUMERIC_FEATURES,
    OPTIONAL_COLUMNS,
    DeclarationFeatures,
    StageCache,
)
from detector.features._histories import (
    ENTITIES,
    EntityState,
    entity_histories,
    fit_entity_state,
    history_tables,
    out_of_fold_fraud_rates,
    out_of_fold_tables,
)
from detector.features._reclassification import USUAL_CODE_COLUMNS
from detector.features._reference_prices import (
    PEER_LEVELS,
    ReferencePrices,
    fit_reference_prices,
    reference_price_deviation,
    thousands,
)
from detector.features._routes import (
    RouteTables,
    fit_route_tables,
    route_patterns,
    route_string,
    third_country_transshipment,
)
from detector.features._split import split_shipments
from detector.features._text import format_text, string_lists
from detector.features._unit_value import (
    log_unit_value,
    to_base_currency,
    unit_value_per_ton,
    unit_value_per_unit,
)

__all__ = [
    "CATEGORICAL_BASE",
    "DeclarationFeatures",
    "StageCache",
    "USUAL_CODE_COLUMNS",
    "ENTITIES",
    "EntityState",
    "NUMERIC_FEATURES",
    "OPTIONAL_COLUMNS",
    "PEER_LEVELS",
    "ReferencePrices",
    "RouteTables",
    "entity_histories",
    "format_text",
    "fit_entity_state",
    "fit_reference_prices",
    "fit_route_tables",
    "history_tables",
    "log_unit_value",
    "out_of_fold_fraud_rates",
    "out_of_fold_tables",
    "reference_price_deviation",
    "route_patterns",
    "route_string",
    "split_shipments",
    "string_lists",
    "third_country_transshipment",
    "thousands",
    "to_base_currency",
    "unit_value_per_ton",
    "unit_value_per_unit",
]

# A saved model names these classes by their public home, never by the private module
# that defines them: a module can move without breaking the model files written before.
for _cls in (DeclarationFeatures, EntityState, ReferencePrices, RouteTables):
    _cls.__module__ = __name__
del _cls
