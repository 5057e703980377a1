"""customs-detector: fraud and undervaluation detection for customs declarations.

The engine's layers, bottom to top (a lower layer never imports a higher one; the
contract is ``tests/test_layers.py``):

- ``detector.errors``: the one exception the command line turns into a sentence;
- ``detector.io``: the canonical schema, profiles, reading and validation, writing
  outputs, persisting models;
- ``detector.batch``: scoring a batch piece by piece, here or on a cluster;
- ``detector.app``: the jobs (train, score, evaluate, explain, demo), the label store,
  the report, the cases, and the command line;
- ``detector.synthetic``: the synthetic year with known fraud (the demo's data).

``features`` and ``models`` sit below all of them and import nothing from here.
"""

from detector.errors import DetectorError
from detector.io.ingest import Batch, read_declarations, scan_input
from detector.io.profiles import Profile, load_profile
from detector.io.schema import CANONICAL_SCHEMA, LABEL_SCHEMA, REQUIRED_COLUMNS

__version__ = "0.1.0"  # as pyproject.toml; model files record the installed version

__all__ = [
    "Batch",
    "CANONICAL_SCHEMA",
    "DetectorError",
    "LABEL_SCHEMA",
    "Profile",
    "REQUIRED_COLUMNS",
    "load_profile",
    "read_declarations",
    "scan_input",
]
