"""Predicting with the classifier: exact probabilities, as fast as the trees allow.

A fitted gradient boosting walks each row down every tree. scikit-learn's
``predict_proba`` does it on the float64 matrix; the same trees also carry each split
as a bin index (the classifier learnt on features cut into at most 255 bins), and
walking them on the one-byte bins gives the same leaf for every row at about a third
of the cost: eight times less memory per row, and integer comparisons. The binned
walk is what training itself uses for its validation scores. It goes through
scikit-learn internals, so it is used only where they are all found, and
``tests/test_model.py`` checks that its probabilities equal ``predict_proba``'s.
"""

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

__all__ = ["Predictor", "predict_positive", "screen_positive"]

#: Rows per block: a block stays in the processor's cache while every tree walks it,
#: instead of each tree streaming the whole matrix from memory (measured: 25 % less
#: time for a million rows). Rows are scored independently, so blocks change nothing.
BLOCK_ROWS = 32_768


class Predictor:
    """The positive-class probability of a fitted classifier, from ``prepare``d rows.

    ``prepare`` turns the encoder's float matrix into what the trees read fastest (bins
    for gradient boosting, the matrix itself otherwise); ``proba`` predicts on it.
    ``positions(columns)`` says where the encoder's columns sit in a prepared matrix
    (an average of models that bin differently has one block of bins per binning).
    Two prepared rows that are equal get the same probability, which lets the reasons
    skip variants that change nothing.
    """

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        members = _members(classifier)
        parts = [_binned_parts(m) for m in members] if members else [None]
        self._layouts: list[tuple] = []  # distinct binnings: (mapper, columns)
        self._members: list[tuple] = []  # per model: (model, its layout, baseline)
        if all(p is not None for p in parts):
            for model, (mapper, columns, baseline) in zip(members, parts, strict=True):
                same = [
                    i
                    for i, (m, c) in enumerate(self._layouts)
                    if _same_binning(m, c, mapper, columns)
                ]
                if not same:
                    self._layouts.append((mapper, columns))
                self._members.append((model, same[0] if same else len(self._layouts) - 1, baseline))
        n = getattr(classifier, "n_features_in_", 0)
        self._n = n
        self._order = [np.argsort([src for src, _ in columns]) for _, columns in self._layouts] or [
            np.arange(n)
        ]

    @property
    def binned(self) -> bool:
        return bool(self._members)

    def positions(self, columns) -> np.ndarray:
        columns = np.asarray(columns, dtype=np.int64)
        return np.concatenate([b * self._n + order[columns] for b, order in enumerate(self._order)])

    def prepare(self, matrix: np.ndarray, layouts: int | None = None) -> np.ndarray:
        """The rows as the trees read them; ``layouts``: only the first binnings."""
        if not self._members:
            return matrix
        n, chosen = self._n, self._layouts[:layouts]
        out = np.empty((matrix.shape[0], n * len(chosen)), dtype=np.uint8)
        step = 8 * BLOCK_ROWS  # a float64 copy of this many rows at a time, not of all
        for i in range(0, matrix.shape[0], step):
            rows = matrix[i : i + step]
            for b, (mapper, columns) in enumerate(chosen):
                out[i : i + rows.shape[0], b * n : (b + 1) * n] = _bins(mapper, columns, rows)
        return out

    def screen(self, prepared: np.ndarray, trees: int) -> np.ndarray:
        """The first model's probability after its first ``trees`` trees only.

        Boosting adds each tree to correct the ones before, so the first few already
        order the rows roughly as the whole classifier does, at a small part of the
        cost: good enough to say which rows the whole classifier must look at.
        ``prepared`` needs only the first binning (``prepare(matrix, layouts=1)``).
        """
        model, layout, baseline = self._members[0]
        block = prepared[:, layout * self._n : (layout + 1) * self._n]
        missing = self._layouts[layout][0].missing_values_bin_idx_
        threads = _openmp_effective_n_threads()

        def walk(rows: np.ndarray) -> np.ndarray:
            raw = np.full(rows.shape[0], baseline)
            for (tree,) in model._predictors[:trees]:
                raw += tree.predict_binned(rows, missing, threads)
            return expit(raw)

        return _blocks(walk, block)

    def proba(self, prepared: np.ndarray) -> np.ndarray:
        if not self._members:
            return _blocks(lambda m: self.classifier.predict_proba(m)[:, 1], prepared)
        return _blocks(self._binned_proba, prepared)

    def _binned_proba(self, prepared: np.ndarray) -> np.ndarray:
        threads = _openmp_effective_n_threads()
        out = []
        for model, layout, baseline in self._members:
            block = prepared[:, layout * self._n : (layout + 1) * self._n]
            missing = self._layouts[layout][0].missing_values_bin_idx_
            raw = np.full(block.shape[0], baseline)
            for (tree,) in model._predictors:
                raw += tree.predict_binned(block, missing, threads)
            out.append(expit(raw))
        # As VotingClassifier averages its models' probabilities.
        return out[0] if len(out) == 1 else np.mean(np.stack(out), axis=0)


def _members(classifier) -> list | None:
    """The gradient boosting models whose probabilities the classifier is, or None."""
    if isinstance(classifier, HistGradientBoostingClassifier):
        return [classifier]
    if (
        isinstance(classifier, VotingClassifier)
        and classifier.voting == "soft"
        and classifier.weights is None
        and list(getattr(classifier, "classes_", [])) == [0, 1]
        and all(isinstance(m, HistGradientBoostingClassifier) for m in classifier.estimators_)
    ):
        return list(classifier.estimators_)
    return None


def _bins(mapper, columns, matrix: np.ndarray) -> np.ndarray:
    """The one-byte bins one model reads, from the encoder's matrix."""
    # The classifier's own preprocessing, as predict_proba does it: categorical columns
    # first, each category by its index among those seen in training, an unseen one
    # missing (it then walks the branch of a missing value).
    x = np.empty((matrix.shape[0], len(columns)), dtype=np.float64, order="F")
    for j, (src, categories) in enumerate(columns):
        col = matrix[:, src]
        if categories is None:
            x[:, j] = col
            continue
        at = np.minimum(np.searchsorted(categories, col), categories.size - 1)
        x[:, j] = np.where(categories[at] == col, at, np.nan)
    return mapper.transform(x)


def _same_binning(mapper_a, columns_a, mapper_b, columns_b) -> bool:
    if len(columns_a) != len(columns_b) or not np.array_equal(
        mapper_a.is_categorical_, mapper_b.is_categorical_
    ):
        return False
    for (sa, ca), (sb, cb) in zip(columns_a, columns_b, strict=True):
        if (
            sa != sb
            or (ca is None) != (cb is None)
            or (ca is not None and not np.array_equal(ca, cb))
        ):
            return False
    return mapper_a.missing_values_bin_idx_ == mapper_b.missing_values_bin_idx_ and all(
        np.array_equal(a, b)
        for a, b in zip(mapper_a.bin_thresholds_, mapper_b.bin_thresholds_, strict=True)
    )


def _binned_parts(classifier):
    """What the binned walk needs of a binary gradient boosting, or None.

    The bin mapper; per column of the classifier's preprocessed order, the encoder
    column it comes from and, for a categorical one, the categories seen in training
    (those the bin mapper also knows); the baseline of the raw score.
    """
    if not isinstance(classifier, HistGradientBoostingClassifier):
        return None
    try:
        mapper = classifier._bin_mapper
        predictors = classifier._predictors
        baseline = np.ravel(classifier._baseline_prediction)
        preprocessor = classifier._preprocessor
        if (
            baseline.size != 1
            or classifier.n_trees_per_iteration_ != 1
            or list(classifier.classes_) != [0, 1]
            or not all(len(p) == 1 and hasattr(p[0], "predict_binned") for p in predictors)
            or not hasattr(mapper, "missing_values_bin_idx_")
        ):
            return None
        n = classifier.n_features_in_
        if preprocessor is None:
            columns = [(j, None) for j in range(n)]
        else:
            steps = [(name, t, cols) for name, t, cols in preprocessor.transformers_]
            if [s[0] for s in steps[:2]] != ["encoder", "numerical"] or any(
                s[1] != "drop" for s in steps[2:]
            ):
                return None
            encoder, categorical = steps[0][1], np.flatnonzero(steps[0][2])
            numeric = np.flatnonzero(steps[1][2])
            columns = []
            for k, src in enumerate(categorical):
                seen = np.asarray(encoder.categories_[k], dtype=np.float64)
                seen = seen[~np.isnan(seen)]
                known = np.asarray(mapper.bin_thresholds_[k], dtype=np.float64)
                if seen.size == 0 or not np.array_equal(known, np.arange(seen.size)):
                    return None
                columns.append((int(src), seen))
            columns += [(int(src), None) for src in numeric]
        if sorted(src for src, _ in columns) != list(range(n)):
            return None
        if not np.array_equal(
            mapper.is_categorical_.astype(bool), [c is not None for _, c in columns]
        ):
            return None
    except AttributeError:
        return None
    return mapper, columns, float(baseline[0])


def _blocks(predict, matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[0] <= BLOCK_ROWS:
        return predict(matrix)
    return np.concatenate(
        [predict(matrix[i : i + BLOCK_ROWS]) for i in range(0, matrix.shape[0], BLOCK_ROWS)]
    )


def predict_positive(classifier, matrix: np.ndarray) -> np.ndarray:
    """The classifier's probability of the positive class for the encoder's matrix."""
    predictor = Predictor(classifier)
    return predictor.proba(predictor.prepare(matrix))


def screen_positive(classifier, matrix: np.ndarray, trees: int) -> np.ndarray | None:
    """``Predictor.screen`` of the encoder's matrix; None when the classifier is not
    gradient boosting walked on bins (then there is no cheap first look)."""
    predictor = Predictor(classifier)
    if not predictor.binned or trees <= 0:
        return None
    return predictor.screen(predictor.prepare(matrix, layouts=1), trees)
