"""customs-detector: fraud and undervaluation detection for customs declarations."""

from detector._errors import DetectorError
from detector.generate import GeneratorConfig, generate_declarations
from detector.ingest import Batch, read_declarations, scan_input
from detector.profiles import Profile, load_profile
from detector.schema import CANONICAL_SCHEMA, LABEL_SCHEMA, REQUIRED_COLUMNS

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "CANONICAL_SCHEMA",
    "DetectorError",
    "GeneratorConfig",
    "LABEL_SCHEMA",
    "Profile",
    "REQUIRED_COLUMNS",
    "generate_declarations",
    "load_profile",
    "read_declarations",
    "scan_input",
]
