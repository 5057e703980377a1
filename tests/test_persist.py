"""Model files (detector.io.persist): what a saved model names, and older files."""

import hashlib
import io
import json
from fractions import Fraction
from pathlib import Path

import joblib
import joblib.numpy_pickle
import pytest
from typer.testing import CliRunner

from detector import DetectorError
from detector.app.cli import app
from detector.io import persist
from detector.io.persist import MAGIC, load_model, read_metadata, save_model

runner = CliRunner()


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


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_persistence_round_trip_gives_the_same_scores(model_file, year, tmp_path, suffix):
    if suffix == ".skops":
        pytest.importorskip("skops.io")
    path, _, _ = model_file
    model, meta = load_model(path)
    again = tmp_path / f"again{suffix}"
    save_model(model, meta, again)
    reloaded, meta2 = load_model(again)
    _, recent = year
    a = model.score(model.transform(recent.head(3000)))["risk_score"]
    b = reloaded.score(reloaded.transform(recent.head(3000)))["risk_score"]
    assert a.to_list() == b.to_list()
    assert meta2["feature_names"] == model.feature_names
    for key in ("training_period", "fingerprint", "rows", "validation", "versions", "config"):
        assert key in meta2
    assert meta2["training_period"] == ["2025-01-01", "2025-09-30"]
    assert meta2["fingerprint"] == meta["fingerprint"] and len(meta2["fingerprint"]) == 64


def _score_cli(score_file, model, out, *extra):
    return runner.invoke(
        app, ["score", str(score_file), "--model", str(model), "--out", str(out), *extra]
    )


def _header(version=persist.FORMAT_VERSION, **fields) -> bytes:
    return MAGIC + json.dumps({"format_version": version, **fields}).encode() + b"\n"


class _Trap:
    """A pickle that would create a file when loaded: proof that nothing ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_bytes(b"not a model"), "is not a customs-detector model"),
        (lambda p: joblib.dump({"hello": 1}, p), "is not a customs-detector model"),
        (lambda p: p.write_bytes(_header(99) + b"{}\n"), "format version 99"),
        # A model of the previous format ranks differently: trained again, not read.
        (
            lambda p: p.write_bytes(_header(persist.FORMAT_VERSION - 1) + b"{}\n"),
            "train the model again",
        ),
        (lambda p: p.write_bytes(MAGIC + b"{broken"), "damaged header"),
        # A version written as text is named as written, not as the number it reads like.
        (lambda p: p.write_bytes(_header(str(persist.FORMAT_VERSION)) + b"{}\n"), "version '"),
        # A file this installation wrote, digest and signature good, holding no model.
        (lambda p: save_model({"hello": 1}, {}, p), "holds a dict, not a fraud model"),
    ],
)
def test_incompatible_model_files_are_exit_2(tmp_path, model_file, make, fragment):
    bad = tmp_path / "bad.joblib"
    make(bad)
    with pytest.raises(DetectorError, match=fragment):
        load_model(bad)
    _, _, score_file = model_file
    result = _score_cli(score_file, bad, tmp_path / "s.csv")
    assert result.exit_code == 2 and fragment in result.output
    assert not (tmp_path / "s.csv").exists()


def test_a_tampered_model_is_refused_before_loading(tmp_path, model_file):
    path, _, score_file = model_file
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one flipped bit in the payload
    tampered = tmp_path / "tampered.joblib"
    tampered.write_bytes(bytes(data))
    result = _score_cli(score_file, tampered, tmp_path / "s.csv", "--trust")
    assert result.exit_code == 2
    assert "does not match its SHA-256 digest" in result.output
    # An edited metadata record (a training period moved) is caught the same way.
    edited = path.read_bytes().replace(b'"2025-09-30"', b'"2025-12-31"', 1)
    (tmp_path / "edited.joblib").write_bytes(edited)
    with pytest.raises(DetectorError, match="SHA-256 digest"):
        load_model(tmp_path / "edited.joblib")


def test_a_pickle_that_would_run_code_never_runs(tmp_path, model_file):
    _, _, score_file = model_file
    marker = tmp_path / "ran"
    bare = tmp_path / "bare.joblib"
    joblib.dump(_Trap(marker), bare)
    # The same trap behind a header whose SHA-256 is right but which is not signed here.
    body = b"{}\n" + bare.read_bytes()
    dressed = tmp_path / "dressed.joblib"
    dressed.write_bytes(_header(sha256=hashlib.sha256(body).hexdigest()) + body)
    for trap in (bare, dressed):
        result = _score_cli(score_file, trap, tmp_path / "s.csv")
        assert result.exit_code == 2
        assert not marker.exists()
    assert "not written by this installation" in result.output


def test_a_model_from_another_installation_needs_trust(tmp_path, model_file, monkeypatch):
    path, _, score_file = model_file
    reference = _score_cli(score_file, path, tmp_path / "here.csv")
    assert reference.exit_code == 0
    monkeypatch.setenv("DETECTOR_HOME", str(tmp_path / "elsewhere"))
    refused = _score_cli(score_file, path, tmp_path / "s.csv")
    assert refused.exit_code == 2 and "--trust" in refused.output
    assert not (tmp_path / "s.csv").exists()
    trusted = _score_cli(score_file, path, tmp_path / "s.csv", "--trust")
    assert trusted.exit_code == 0
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()


def test_a_skops_model_with_a_foreign_type_is_refused(tmp_path, model_file):
    sio = pytest.importorskip("skops.io")
    _, _, score_file = model_file
    foreign = tmp_path / "foreign.skops"
    sio.dump({"format": "customs-detector-model", "model": Fraction(1, 3)}, foreign)
    result = _score_cli(score_file, foreign, tmp_path / "s.csv")
    assert result.exit_code == 2 and "fractions.Fraction" in result.output


def test_a_damaged_metadata_line_is_named(tmp_path):
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(_header() + b"[not, a record\npayload")
    with pytest.raises(DetectorError, match="has a damaged metadata line"):
        read_metadata(bad)


def test_metadata_is_read_without_unpickling(model_file):
    path, _, _ = model_file
    meta = read_metadata(path)
    assert meta["training_period"] == ["2025-01-01", "2025-09-30"]
    assert meta["versions"]["scikit-learn"]


def test_model_from_another_library_version_is_refused(tmp_path, model_file, monkeypatch):
    path, _, _ = model_file
    model, meta = load_model(path)
    old = {**persist._versions(), "scikit-learn": "0.1.0"}
    monkeypatch.setattr(persist, "_versions", lambda: old)
    save_model(model, meta, tmp_path / "old.joblib")
    monkeypatch.undo()
    with pytest.raises(DetectorError, match="trained with scikit-learn 0.1.0"):
        load_model(tmp_path / "old.joblib")


@pytest.mark.slow
@pytest.mark.parametrize(
    "records", [("hs_route", "hs_route_rate"), ("hs_route_rate",)], ids=["route", "rate"]
)
def test_a_model_saved_before_the_goods_on_route_records_still_scores_and_explains(
    trained_model, tmp_path, records
):
    """A model whose entity state has no record of the goods on their route, or none of
    them at their duty rate (saved before it was kept), scores and explains; the missing
    records' columns are null, not made up."""
    import polars as pl

    path, _, recent = trained_model
    model, metadata = load_model(path)
    for record in records:
        del model.features_.entities_.tables[record]
    older = tmp_path / "older.joblib"
    save_model(model, metadata, older)
    out = tmp_path / "list.csv"
    scored = runner.invoke(
        app, ["score", str(recent), "--model", str(older), "--out", str(out), "--top", "5%"]
    )
    assert scored.exit_code == 0, scored.output
    listed = pl.read_csv(out, infer_schema_length=0)
    assert listed.height > 0
    assert not listed["reasons"].str.contains("at any duty").any()
    if "hs_route" in records:
        assert not listed["reasons"].str.contains("these goods on this route").any()
    first = listed["declaration_id"][0]
    args = ["explain", first, "--model", str(older), "--input", str(recent), "--json"]
    explained = runner.invoke(app, args)
    assert explained.exit_code == 0, explained.output
    card = json.loads(explained.output)
    assert card["route"]["goods_on_route_at_duty_inspections"] is None
    assert (card["route"]["goods_on_route_inspections"] is None) == ("hs_route" in records)
    assert card["route"]["goods_declarations"] >= 0
