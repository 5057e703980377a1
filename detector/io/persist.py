"""Saving and loading a model, treating the file as the code it is.

A ``.joblib`` model file is a pickle, and loading a pickle runs code. So this engine
never unpickles a file it cannot vouch for. The file it writes is::

    CUSTOMS-DETECTOR-MODEL            (a magic line)
    {"format_version": 3, ...}        (digests, one line of JSON)
    {"schema_profile": ...}           (the metadata record, one line of JSON)
    <joblib payload>

``sha256`` is the digest of the metadata line and the payload: it finds a damaged or
edited file. ``signature`` is the same digest keyed with this installation's signing
key (HMAC-SHA256, the key in ``$DETECTOR_HOME/signing.key``, made on first use): it
tells a model this installation wrote from one that arrived from elsewhere. Both are
checked before anything is unpickled; a model from elsewhere loads only with
``trust=True`` (the operator's ``--trust``) or as a ``.skops`` file, which is read
without running code and only with the types listed in :data:`SKOPS_TYPES`.
"""

import hashlib
import hmac
import io
import json
import os
import platform
import secrets
from datetime import date
from pathlib import Path

import joblib
import numpy as np
import polars as pl
import sklearn

from detector.errors import DetectorError
from detector.io.output import atomic_path
from detector.models import FraudModel

__all__ = ["FORMAT", "FORMAT_VERSION", "SKOPS_TYPES", "load_model", "read_metadata", "save_model"]

FORMAT = "customs-detector-model"
#: 4: the engine's classes are saved under their public names (``models.FraudModel``).
FORMAT_VERSION = 4
MAGIC = b"CUSTOMS-DETECTOR-MODEL\n"

#: The only types a ``.skops`` model may contain beyond skops' own safe defaults
#: (numpy, scikit-learn estimators, builtins). Kept here, never taken from the file.
SKOPS_TYPES: tuple[str, ...] = (
    "datetime.date",
    "detector.features.DeclarationFeatures",
    "detector.features.EntityState",
    "detector.features.ReferencePrices",
    "detector.features.RouteTables",
    "functools.partial",
    "detector.models.ModelConfig",
    "detector.models.SmoothIsotonic",
    "detector.models.DriftReference",
    "detector.models.FrameEncoder",
    "detector.models.FraudModel",
    "polars.dataframe.frame.DataFrame",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils._bunch.Bunch",
    "sklearn.utils.validation.check_array",
)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("customs-detector")
    except PackageNotFoundError:  # run from a source tree that was never installed
        package = "unknown"

    return {
        "package": package,
        "scikit-learn": sklearn.__version__,
        "polars": pl.__version__,
        "python": platform.python_version(),
    }


def _home() -> Path:
    return Path(os.environ.get("DETECTOR_HOME") or Path.home() / ".customs-detector")


def _signing_key(create: bool) -> bytes | None:
    """This installation's key; made on first use, atomically, readable by its owner only."""
    path = _home() / "signing.key"
    if path.exists():
        return path.read_bytes()
    if not create:
        return None
    tmp = path.with_name(f".signing.key.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process made the key first: use theirs
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise DetectorError(
            f"The signing key cannot be written to {path} ({exc.strerror}); set "
            "DETECTOR_HOME to a folder you can write to."
        ) from None
    return path.read_bytes()


def _plain(value):
    """JSON for the metadata record: numpy scalars and dates become plain values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into model metadata")


def _digests(body: bytes, key: bytes | None) -> tuple[str, str | None]:
    plain = hashlib.sha256(body).hexdigest()
    signed = hmac.new(key, body, hashlib.sha256).hexdigest() if key else None
    return plain, signed


def save_model(model, metadata: dict, path: str | Path) -> Path:
    """Write the model and its metadata record to ``path`` (.joblib or .skops), atomically."""
    path = Path(path)
    metadata = json.loads(json.dumps({**metadata, "versions": _versions()}, default=_plain))
    if path.suffix.lower() == ".skops":
        sio = _skops()
        envelope = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": metadata}
        with atomic_path(path) as tmp:
            sio.dump({**envelope, "model": model}, tmp)
        return path
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    meta_line = json.dumps(metadata, sort_keys=True).encode()
    body = meta_line + b"\n" + buffer.getvalue()
    plain, signed = _digests(body, _signing_key(create=True))
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "sha256": plain}
    header["signature"] = signed
    with atomic_path(path) as tmp:
        tmp.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + body)
    return path


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _check_versions(path: Path, metadata: dict) -> None:
    saved, now = metadata.get("versions", {}), _versions()
    for lib in ("scikit-learn", "polars"):
        if _minor(saved.get(lib, "?")) != _minor(now[lib]):
            raise DetectorError(
                f"Model file {path} was trained with {lib} {saved.get(lib)}, this machine has "
                f"{now[lib]}; train the model again here or install {lib}=={saved.get(lib)}."
            )


def _parts(path: Path) -> tuple[dict, bytes, bytes]:
    """Header, metadata line and payload of a model file; nothing is unpickled."""
    if not path.exists():
        raise DetectorError(f"Model file {path} does not exist; train one with `detector train`.")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise DetectorError(
            f"Model file {path} is not a customs-detector model (it lacks the model header); "
            "it was not loaded, since loading a foreign pickle would run the code it holds: "
            "train one with `detector train`."
        )
    try:
        header_line, meta_line, payload = data[len(MAGIC) :].split(b"\n", 2)
    except ValueError:
        header_line, meta_line, payload = b"", b"", b""
    header = _json_record(path, header_line, "header")
    _check_format_version(path, header.get("format_version"))
    return header, meta_line, payload


def _check_format_version(path: Path, version) -> None:
    if version != FORMAT_VERSION:
        raise DetectorError(
            f"Model file {path} has format version {version!r}, this engine reads version "
            f"{FORMAT_VERSION!r}; train the model again with this version."
        )


def _json_record(path: Path, line: bytes, what: str) -> dict:
    """One JSON object of a model file's ``what`` line (its header, its metadata)."""
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError
    except ValueError:
        raise DetectorError(
            f"Model file {path} has a damaged {what}; train the model again."
        ) from None
    return record


def _metadata(path: Path, line: bytes) -> dict:
    """The metadata record of a model file's second line."""
    return _json_record(path, line, "metadata line")


def read_metadata(path: str | Path) -> dict:
    """The metadata record of a ``.joblib`` model, read without unpickling anything."""
    _, meta_line, _ = _parts(Path(path))
    return _metadata(Path(path), meta_line)


def _skops():
    try:
        import skops.io as sio
    except ModuleNotFoundError:
        raise DetectorError(
            ".skops model files need the skops package: pip install 'customs-detector[skops]'."
        ) from None
    return sio


def _load_skops(path: Path):
    sio = _skops()
    if not path.exists():
        raise DetectorError(f"Model file {path} does not exist; train one with `detector train`.")
    try:
        foreign = sorted(set(sio.get_untrusted_types(file=path)) - set(SKOPS_TYPES))
        if foreign:
            raise DetectorError(
                f"Model file {path} holds types this engine does not load "
                f"({', '.join(foreign[:5])}); it was not loaded. Ask its sender for a model "
                "written by `detector train`."
            )
        envelope = sio.load(path, trusted=list(SKOPS_TYPES))
    except DetectorError:
        raise
    except Exception as exc:  # skops raises many types for a damaged file
        raise DetectorError(
            f"Model file {path} cannot be read as a .skops model ({type(exc).__name__}); "
            "it is damaged or not a model: train it again."
        ) from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise DetectorError(
            f"Model file {path} is not a customs-detector model; train one with `detector train`."
        )
    _check_format_version(path, envelope.get("format_version"))
    _check_versions(path, envelope["metadata"])
    return _fraud_model(path, envelope["model"]), envelope["metadata"]


def load_model(path: str | Path, *, trust: bool = False):
    """Load a model written by :func:`save_model`; say plainly when it cannot be used.

    Returns ``(model, metadata)``. Raises :class:`DetectorError`, before anything is
    unpickled, for a missing file, a file that is not a model of this engine, another
    format version, a file whose digest does not match its content, and (unless
    ``trust``) a model signed by another installation; then for a model trained with
    another minor version of scikit-learn or Polars.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DetectorError(
            f"Model {path} is a folder or a device, not a model file; name the .joblib or "
            ".skops file that `detector train` wrote."
        )
    if path.suffix.lower() == ".skops":
        return _load_skops(path)
    header, meta_line, payload = _parts(path)
    body = meta_line + b"\n" + payload
    plain, signed = _digests(body, _signing_key(create=False))
    if not hmac.compare_digest(plain, str(header.get("sha256"))):
        raise DetectorError(
            f"Model file {path} does not match its SHA-256 digest: it was damaged or changed "
            "after it was written, so it was not loaded; train the model again."
        )
    if not trust and (
        signed is None or not hmac.compare_digest(signed, str(header.get("signature")))
    ):
        raise DetectorError(
            f"Model file {path} was not written by this installation (its signature does not "
            "match this machine's signing key), so it was not loaded: loading a model runs "
            "code. Pass --trust if you know where it comes from, or ask for a .skops model."
        )
    metadata = _metadata(path, meta_line)
    _check_versions(path, metadata)
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # joblib raises many types for a damaged payload
        raise DetectorError(
            f"Model file {path} cannot be read ({type(exc).__name__}); train it again."
        ) from None
    return _fraud_model(path, model), metadata


def _fraud_model(path: Path, model):
    """``model``, if it is one: a file with a good digest may still hold anything."""
    if not isinstance(model, FraudModel):
        raise DetectorError(
            f"Model file {path} holds a {type(model).__name__}, not a fraud model; name the "
            "file that `detector train` wrote."
        )
    return model
