"""scikit-learn's private internals that the binned tree walk reads, in one place.

The walk (``models._predict``) reads a fitted ``HistGradientBoostingClassifier``'s bin
mapper, trees and baseline, and builds ``TreePredictor`` walkers: none of them public.
They are reached only through this module, and only on the scikit-learn versions this
was checked on (``TESTED``); on any other version, or if a name has moved,
``AVAILABLE`` is False and the predictor falls back to ``predict_proba``, which gives
the same probabilities more slowly. ``tests/test_predict.py`` checks both paths.
"""

import numpy as np
import sklearn

__all__ = [
    "AVAILABLE",
    "TESTED",
    "bin_rows",
    "boosting_parts",
    "known_categories",
    "openmp_threads",
    "tree_predictor",
    "trees",
]

#: The minor versions whose internals the walk was checked against.
TESTED = ("1.6", "1.7", "1.8", "1.9")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


try:
    from sklearn.ensemble._hist_gradient_boosting._binning import _map_to_bins
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # a version that moved them: the public path only
    TreePredictor = _openmp_effective_n_threads = _map_to_bins = _BinMapper = None

AVAILABLE = (
    _minor(sklearn.__version__) in TESTED
    and _map_to_bins is not None
    and all(hasattr(TreePredictor, n) for n in ("predict", "predict_binned"))
    and hasattr(_BinMapper, "make_known_categories_bitsets")
)


def openmp_threads() -> int:
    """The threads scikit-learn's own prediction would use."""
    return _openmp_effective_n_threads()


def bin_rows(mapper, x: np.ndarray) -> np.ndarray:
    """``mapper.transform(x)`` on every core: a bin mapper fitted in a worker process
    keeps that worker's single thread, which its own ``transform`` would use.
    ``x``: float64, Fortran order (a column at a time is what the mapping reads).
    Where the mapping has moved, the mapper's own ``transform``."""
    if _map_to_bins is None:
        return mapper.transform(x)
    binned = np.zeros(x.shape, dtype=np.uint8, order="F")
    _map_to_bins(
        x,
        mapper.bin_thresholds_,
        mapper.is_categorical_,
        mapper.missing_values_bin_idx_,
        openmp_threads(),
        binned,
    )
    return binned


def known_categories(classifier) -> tuple[np.ndarray, np.ndarray]:
    """The categories a gradient boosting saw in training, per categorical column, and
    where each column's are: what a tree's walk on unbinned values needs."""
    return classifier._bin_mapper.make_known_categories_bitsets()


def tree_predictor(nodes, binned_bitsets, raw_bitsets):
    """A walker over a tree's node array (scikit-learn's ``TreePredictor``)."""
    return TreePredictor(nodes, binned_bitsets, raw_bitsets)


def boosting_parts(classifier) -> tuple:
    """A fitted gradient boosting's bin mapper, trees, raw baseline and preprocessor.

    Raises ``AttributeError`` when one is missing (then the binned walk is not used).
    """
    return (
        classifier._bin_mapper,
        classifier._predictors,
        classifier._baseline_prediction,
        classifier._preprocessor,
    )


def trees(classifier) -> list:
    """A fitted gradient boosting's trees, one list per iteration."""
    return classifier._predictors
