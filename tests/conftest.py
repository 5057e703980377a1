from datetime import date
from pathlib import Path

import polars as pl
import pytest

from detector.synthetic.generate import generate_declarations


@pytest.fixture(scope="session", autouse=True)
def detector_home(tmp_path_factory):
    """Models are signed with the installation's key: the tests get their own, never the user's."""
    home = tmp_path_factory.mktemp("detector-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("DETECTOR_HOME", str(home))
    yield home
    patch.undo()


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


TRUTH = ["true_fraud", "true_fraud_type", "true_customs_value", "true_revenue_lost"]
CUT = date(2025, 10, 1)


@pytest.fixture(scope="session")
def year(synthetic_year):
    """The synthetic year cut at October: (months 1-9, months 10-12)."""
    history = synthetic_year.filter(pl.col("declaration_date") < CUT)
    recent = synthetic_year.filter(pl.col("declaration_date") >= CUT)
    return history, recent


@pytest.fixture(scope="session")
def trained_model(synthetic_year, tmp_path_factory):
    """A model trained on months 1-9 (inspected labels only): (model, history, recent) files."""
    from detector.app.pipeline import train

    history = synthetic_year.filter(pl.col("declaration_date") < CUT)
    recent = synthetic_year.filter(pl.col("declaration_date") >= CUT)
    folder = tmp_path_factory.mktemp("model")
    train_file, score_file = folder / "history.parquet", folder / "recent.parquet"
    history.drop(TRUTH).write_parquet(train_file)
    recent.write_parquet(score_file)
    path = folder / "model.joblib"
    train([train_file], path, valid=[score_file])
    return path, train_file, score_file


#: Fixtures that fit a model (or hand one over): a test that uses one is slow.
FITTING = {"trained_model", "files", "fitted", "model_file", "scored", "layouts", "hostile"}
FITTING |= {"scored_run", "small_run"}


@pytest.fixture(scope="session")
def model_file(trained_model):
    return trained_model


def pytest_collection_modifyitems(items):
    """Mark every test that fits a model ``slow``: ``pytest -m "not slow"`` is the inner loop."""
    for item in items:
        if FITTING & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
