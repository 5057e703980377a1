"""Saving and loading a model: one joblib file, with the record of what it was trained on."""

import platform
from pathlib import Path

import joblib
import polars as pl
import sklearn

from detector._errors import DetectorError
from detector.output import atomic_path

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "customs-detector-model"
FORMAT_VERSION = 1


def _versions() -> dict[str, str]:
    from detector import __version__

    return {
        "package": __version__,
        "scikit-learn": sklearn.__version__,
        "polars": pl.__version__,
        "python": platform.python_version(),
    }


def save_model(model, metadata: dict, path: str | Path) -> Path:
    """Write the model and its metadata record to ``path``, atomically."""
    path = Path(path)
    envelope = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": {**metadata, "versions": _versions()},
        "model": model,
    }
    with atomic_path(path) as tmp:
        joblib.dump(envelope, tmp, compress=3)
    return path


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def load_model(path: str | Path):
    """Load a model written by :func:`save_model`; say plainly when it cannot be used.

    Returns ``(model, metadata)``. Raises :class:`DetectorError` for a missing file, a
    file that is not a model of this engine, another format version, or a model
    trained with another minor version of scikit-learn or Polars.
    """
    path = Path(path)
    if not path.exists():
        raise DetectorError(f"Model file {path} does not exist; train one with `detector train`.")
    try:
        envelope = joblib.load(path)
    except Exception as exc:  # joblib raises many types for a file that is not its own
        raise DetectorError(
            f"Model file {path} cannot be read ({type(exc).__name__}); it is not a model "
            "written by `detector train`, or it is damaged: train it again."
        ) from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise DetectorError(
            f"Model file {path} is not a customs-detector model; train one with `detector train`."
        )
    if envelope.get("format_version") != FORMAT_VERSION:
        raise DetectorError(
            f"Model file {path} has format version {envelope.get('format_version')}, this "
            f"engine reads version {FORMAT_VERSION}; train the model again with this version."
        )
    metadata = envelope["metadata"]
    saved, now = metadata.get("versions", {}), _versions()
    for lib in ("scikit-learn", "polars"):
        if _minor(saved.get(lib, "?")) != _minor(now[lib]):
            raise DetectorError(
                f"Model file {path} was trained with {lib} {saved.get(lib)}, this machine has "
                f"{now[lib]}; train the model again here or install {lib}=={saved.get(lib)}."
            )
    return envelope["model"], metadata
