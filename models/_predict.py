"""Predicting with the classifier: exact probabilities, as fast as the trees allow.

A fitted gradient boosting walks each row down every tree. scikit-learn's
``predict_proba`` does it on the float64 matrix; the same trees also carry each split
as a bin index (the classifier learnt on features cut into at most 255 bins), and
walking them on the one-byte bins gives the same leaf for every row: eight times less
memory per row, and integer comparisons. Cutting the rows into bins costs a binary
search per value, though: the screen, a few trees of one model, walks the values
straight from the encoder's matrix, as binning every column first would be most of its
time; the whole classifier (``predict_positive``) and the reasons' attributions, which
walk the same rows down every tree of every model, cut each block of rows into bins
first (measured: bench/full_walk.py). Both walks go
through scikit-learn internals (reached only through ``models._sklearn_compat``), so
they are used only on the versions checked and where they are all found, and
``tests/test_predict.py`` checks that their probabilities equal ``predict_proba``'s,
and each other's to the bit.
"""

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator

from detector.models import _sklearn_compat as compat

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

    def prepare(self, matrix: np.ndarray) -> np.ndarray:
        """The rows as the trees read them."""
        if not self._members:
            return matrix
        n, chosen = self._n, self._layouts
        out = np.empty((matrix.shape[0], n * len(chosen)), dtype=np.uint8)
        step = 8 * BLOCK_ROWS  # a float64 copy of this many rows at a time, not of all
        for i in range(0, matrix.shape[0], step):
            rows = matrix[i : i + step]
            for b, (mapper, columns) in enumerate(chosen):
                out[i : i + rows.shape[0], b * n : (b + 1) * n] = _bins(mapper, columns, rows)
        return out

    def screen(self, matrix: np.ndarray, trees: int) -> np.ndarray:
        """The first model's probability after its first ``trees`` trees only.

        Boosting adds each tree to correct the ones before, so the first few already
        order the rows roughly as the whole classifier does, at a small part of the
        cost: good enough to say which rows the whole classifier must look at.

        ``matrix`` is the encoder's, not ``prepare``d: a few trees walked on the values
        themselves cost less than cutting every column of every row into bins first
        (a binary search per value, which would be most of a screen's time). A split
        on ``value <= threshold`` and on ``bin <= bin of the threshold`` send every row
        the same way, so the leaves, and the sums, are those of the binned walk.
        """
        return self.values_proba(matrix, self._members[:1], trees)

    def values_proba(
        self, matrix: np.ndarray, members: list | None = None, trees: int | None = None
    ) -> np.ndarray:
        """``proba`` of the encoder's matrix, each tree walked on the values themselves:
        for a few trees, cheaper than binning every column first (the bins pay off
        where the rows walk many trees: the whole classifier, the reasons). ``members``:
        the models averaged (all by default); ``trees``: only each one's first trees."""
        threads = compat.openmp_threads()
        walkers = [
            (layout, compat.known_categories(model), baseline, model)
            for model, layout, baseline in (self._members if members is None else members)
        ]

        def walk(rows: np.ndarray) -> np.ndarray:
            out, made = [], {}  # models that bin alike read the same values
            for layout, (known, index), baseline, model in walkers:
                if layout not in made:
                    made[layout] = _values(self._layouts[layout][1], rows, order="C")
                values = made[layout]
                raw = np.full(rows.shape[0], baseline)
                for (tree,) in compat.trees(model)[:trees]:
                    raw += tree.predict(values, known, index, threads)
                out.append(expit(raw))
            # As VotingClassifier averages its models' probabilities.
            return out[0] if len(out) == 1 else np.mean(np.stack(out), axis=0)

        return _blocks(walk, matrix)

    def proba(self, prepared: np.ndarray) -> np.ndarray:
        if not self._members:
            return _blocks(lambda m: self.classifier.predict_proba(m)[:, 1], prepared)
        return _blocks(self._binned_proba, prepared)

    def paths(
        self, prepared: np.ndarray, group_of: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each model's raw score of every row, and its split among groups of the
        encoder's columns along the row's path down every tree.

        Every split moves a row from a node to a child whose expected output (the mean
        of the leaves below it, weighted by the training rows that reached them)
        differs; the difference is credited to the group of the split's column, and
        a row's credits add up to its leaf value less the tree's expected output (the
        path attribution of "treeinterpreter"). The trees are walked once, as for
        ``proba``: what the path of each leaf credits is worked out once per tree.
        ``group_of``: per encoder column, its group (0 to ``n_groups - 1``), or
        ``n_groups`` for none. Returns the raw scores (models x rows), whose logistic
        average is ``proba``; the credits (models x rows x groups); and each model's
        expected raw score, which a row's raw score is plus all its credits (those of
        columns in no group included).
        """
        threads = compat.openmp_threads()
        n_rows = prepared.shape[0]
        raws = np.empty((len(self._members), n_rows))
        parts = np.zeros((len(self._members), n_rows, n_groups + 1))
        expected = np.empty(len(self._members))
        for m, (model, layout, baseline) in enumerate(self._members):
            block = prepared[:, layout * self._n : (layout + 1) * self._n]
            mapper, columns = self._layouts[layout]
            group = np.asarray(group_of)[[src for src, _ in columns]]
            raw = np.full(n_rows, baseline)
            expected[m] = baseline
            for (tree,) in compat.trees(model):
                leaf = _leaf_index(tree, block, mapper.missing_values_bin_idx_, threads)
                raw += tree.nodes["value"][leaf]
                credits, root = _path_credits(tree.nodes, group, n_groups + 1)
                parts[m] += credits[leaf]
                expected[m] += root
            raws[m] = raw
        return raws, parts[:, :, :n_groups], expected

    def _binned_proba(self, prepared: np.ndarray) -> np.ndarray:
        threads = compat.openmp_threads()
        out = []
        for model, layout, baseline in self._members:
            block = prepared[:, layout * self._n : (layout + 1) * self._n]
            missing = self._layouts[layout][0].missing_values_bin_idx_
            raw = np.full(block.shape[0], baseline)
            for (tree,) in compat.trees(model):
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
        and all(isinstance(m, HistGradientBoostingClassifier) for m in _unfrozen(classifier))
    ):
        return _unfrozen(classifier)
    return None


def _unfrozen(voting) -> list:
    """A vote's models, out of the wrapper that kept them as fitted in parallel."""
    return [m.estimator if isinstance(m, FrozenEstimator) else m for m in voting.estimators_]


def _leaf_index(tree, block: np.ndarray, missing: int, threads: int) -> np.ndarray:
    """The leaf each row reaches: the tree walked with each node's index as its value."""
    nodes = tree.nodes.copy()
    nodes["value"] = np.arange(nodes.size)
    walker = compat.tree_predictor(nodes, tree.binned_left_cat_bitsets, tree.raw_left_cat_bitsets)
    return walker.predict_binned(block, missing, threads).astype(np.intp)


def _path_credits(nodes: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, float]:
    """Per node of one tree (nodes x groups): what the splits on the way from the root
    credit to each group of columns, read at the leaves; and the tree's expected
    output (the root's)."""
    leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.intp), nodes["right"].astype(np.intp)
    count, depth = nodes["count"].astype(np.float64), nodes["depth"]
    expected = np.where(leaf, nodes["value"], 0.0)
    levels = [np.flatnonzero((depth == d) & ~leaf) for d in range(int(depth.max()) + 1)]
    for at in reversed(levels):  # the mean of the leaves below, bottom up
        n_left, n_right = count[left[at]], count[right[at]]
        total = n_left + n_right
        mean = (n_left * expected[left[at]] + n_right * expected[right[at]]) / np.maximum(total, 1)
        expected[at] = np.where(total > 0, mean, 0.5 * (expected[left[at]] + expected[right[at]]))
    credits = np.zeros((nodes.size, n_groups))
    for at in levels:  # top down: a child inherits its parent's credits, plus its split's
        split_group = group[nodes["feature_idx"][at]]
        for child in (left[at], right[at]):
            credits[child] = credits[at]
            credits[child, split_group] += expected[child] - expected[at]
    return credits, float(expected[0])


def _values(columns, matrix: np.ndarray, order: str = "F") -> np.ndarray:
    """The encoder's matrix as one model reads it before binning: categorical columns
    first, each category by its index among those seen in training (an unseen one
    missing: it then walks the branch of a missing value), then the numeric ones."""
    # The classifier's own preprocessing, as predict_proba does it. The encoder's
    # matrix is in Fortran order, so each column is copied whole.
    x = np.empty((matrix.shape[0], len(columns)), dtype=np.float64, order=order)
    for j, (src, categories) in enumerate(columns):
        col = matrix[:, src]
        if categories is None:
            x[:, j] = col
            continue
        at = np.minimum(np.searchsorted(categories, col), categories.size - 1)
        x[:, j] = np.where(categories[at] == col, at, np.nan)
    return x


def _bins(mapper, columns, matrix: np.ndarray) -> np.ndarray:
    """The one-byte bins one model reads, from the encoder's matrix."""
    return compat.bin_rows(mapper, _values(columns, matrix))


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
    if not compat.AVAILABLE or not isinstance(classifier, HistGradientBoostingClassifier):
        return None
    try:
        mapper, predictors, baseline, preprocessor = compat.boosting_parts(classifier)
        baseline = np.ravel(baseline)
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
    """The classifier's probability of the positive class for the encoder's matrix:
    each block of rows cut into bins, then walked down every tree (for the whole
    classifier, cheaper than walking the values: bench/full_walk.py)."""
    predictor = Predictor(classifier)
    if not predictor.binned:
        return predictor.proba(matrix)
    return _blocks(lambda rows: predictor.proba(predictor.prepare(rows)), matrix)


def screen_positive(classifier, matrix: np.ndarray, trees: int) -> np.ndarray | None:
    """``Predictor.screen`` of the encoder's matrix; None when the classifier is not
    gradient boosting walked on bins (then there is no cheap first look)."""
    predictor = Predictor(classifier)
    if not predictor.binned or trees <= 0:
        return None
    return predictor.screen(matrix, trees)
