import os
import tempfile
from pathlib import Path

import polars as pl
import pytest

from detector.generate import generate_declarations

# Models are signed with the installation's key: the tests get their own, never the user's.
os.environ["DETECTOR_HOME"] = tempfile.mkdtemp(prefix="detector-home-")

KCS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kcs"

GOOD_ROW = {
    "declaration_id": "D1",
    "declaration_date": "2025-03-04",
    "hs_code": "081060",
    "importer_id": "IM1",
    "country_origin": "TH",
    "country_departure": "VN",
    "net_mass_kg": "1000",
    "customs_value": "5000",
}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write rows as a CSV whose every cell is text, as an export would be."""
    pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).write_csv(path)
    return path


@pytest.fixture(scope="session")
def synthetic_year() -> pl.DataFrame:
    return generate_declarations(rows=60_000, seed=7)
