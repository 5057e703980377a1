"""Model files (detector.io.persist): what a saved model names, and older files."""

import io
import json

import joblib
import joblib.numpy_pickle
import pytest

from detector import DetectorError
from detector.io import persist


def test_a_file_of_an_older_format_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "old.joblib"
    header = {"format": persist.FORMAT, "format_version": persist.FORMAT_VERSION - 1}
    path.write_bytes(persist.MAGIC + json.dumps(header).encode() + b"\n{}\npayload")
    with pytest.raises(DetectorError, match="format version 3, this engine reads version 4"):
        persist.load_model(path)


@pytest.mark.slow
def test_a_saved_model_names_the_engines_classes_by_their_public_home(trained_model, monkeypatch):
    """Moving a private module (features._builder, models._model) breaks no model file."""
    path, _, _ = trained_model
    _, _, payload = persist._parts(path)
    named = set()

    class Spy(joblib.numpy_pickle.NumpyUnpickler):
        def find_class(self, module, name):
            named.add((module, name))
            return super().find_class(module, name)

    monkeypatch.setattr(joblib.numpy_pickle, "NumpyUnpickler", Spy)
    joblib.load(io.BytesIO(payload))
    ours = {
        (m, n) for m, n in named if m.split(".")[0] in ("detector.features", "models", "detector")
    }
    assert ours == {
        ("detector.features", "DeclarationFeatures"),
        ("detector.features", "EntityState"),
        ("detector.features", "ReferencePrices"),
        ("detector.features", "RouteTables"),
        ("detector.models", "DriftReference"),
        ("detector.models", "FraudModel"),
        ("detector.models", "FrameEncoder"),
        ("detector.models", "ModelConfig"),
        ("detector.models", "SmoothIsotonic"),
    }
