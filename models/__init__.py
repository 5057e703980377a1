"""The scikit-learn side: the classifier pipeline factory, the fraud model, metrics."""

from detector.models._calibration import THIN_INSPECTIONS, SmoothIsotonic, is_thin
from detector.models._config import ModelConfig
from detector.models._drift import DriftReference, DriftReport, drift_counts, drift_report
from detector.models._encode import FrameEncoder
from detector.models._metrics import CAPACITY_LEVELS, calibration_table, capacity_metrics
from detector.models._model import DUTY_AT_STAKE, NOVELTY_SIGNALS, FraudModel
from detector.models._pipeline import make_classifier
from detector.models._policies import (
    POLICIES,
    SelectionPolicy,
    exploration_reading,
    mechanism_of,
    segment_of,
)
from detector.models._reasons import EVIDENCE_FIRST, FAMILIES, FAR_BELOW, explain_rows
from detector.models._selection import explained_without_capacity

__all__ = [
    "CAPACITY_LEVELS",
    "DUTY_AT_STAKE",
    "DriftReference",
    "EVIDENCE_FIRST",
    "DriftReport",
    "FAMILIES",
    "FAR_BELOW",
    "FraudModel",
    "FrameEncoder",
    "ModelConfig",
    "NOVELTY_SIGNALS",
    "POLICIES",
    "exploration_reading",
    "SelectionPolicy",
    "SmoothIsotonic",
    "THIN_INSPECTIONS",
    "calibration_table",
    "capacity_metrics",
    "drift_counts",
    "drift_report",
    "explain_rows",
    "explained_without_capacity",
    "is_thin",
    "make_classifier",
    "mechanism_of",
    "segment_of",
]

# A saved model names these classes by their public home, never by the private module
# that defines them: a module can move without breaking the model files written before.
for _cls in (DriftReference, FraudModel, FrameEncoder, ModelConfig, SmoothIsotonic):
    _cls.__module__ = __name__
del _cls
