"""The binned tree walk (models._predict) and the one door to scikit-learn's internals."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier

from detector.models import _sklearn_compat as compat
from detector.models._predict import Predictor, predict_positive, screen_positive


@pytest.fixture(scope="module")
def small():
    """A small boosting model with a categorical column, missing values and odd rows."""
    rng = np.random.default_rng(3)
    n = 3_000
    x = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 6, n)])
    x[rng.random(n) < 0.1, 0] = np.nan
    y = ((x[:, 1] + (x[:, 2] == 2) + rng.normal(scale=0.5, size=n)) > 0.8).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, categorical_features=[2], random_state=0).fit(
        x, y
    )
    odd = x[:400].copy()
    odd[:100, 2] = 9.0  # a category never seen
    odd[100:200, :2] = np.nan
    odd[200:300, :2] *= 1e6
    odd[300:, 2] = -1.0
    return clf, np.concatenate([x, odd])


def test_this_scikit_learn_is_one_the_walk_was_checked_on():
    import sklearn

    assert compat.AVAILABLE, f"scikit-learn {sklearn.__version__} is not in {compat.TESTED}"
    assert compat.openmp_threads() >= 1


def test_the_binned_walk_gives_predict_proba_exactly(small):
    clf, x = small
    predictor = Predictor(clf)
    assert predictor.binned
    prepared = predictor.prepare(x)
    assert prepared.dtype == np.uint8
    np.testing.assert_array_equal(predictor.proba(prepared), clf.predict_proba(x)[:, 1])
    np.testing.assert_array_equal(predict_positive(clf, x), predictor.proba(prepared))


def test_a_soft_vote_of_boosting_models_is_walked_as_their_average(small):
    _, x = small
    rng = np.random.default_rng(4)
    y = (rng.random(x.shape[0]) < 0.3).astype(int)
    members = [
        (f"m{s}", HistGradientBoostingClassifier(max_iter=10, random_state=s)) for s in (0, 1)
    ]
    vote = VotingClassifier(members, voting="soft").fit(np.nan_to_num(x[:3_000]), y[:3_000])
    assert Predictor(vote).binned
    np.testing.assert_allclose(
        predict_positive(vote, x), vote.predict_proba(x)[:, 1], rtol=1e-12, atol=0
    )
    # Walked on the values (a scoring) or on the bins (the reasons): the same to the bit.
    predictor = Predictor(vote)
    np.testing.assert_array_equal(predict_positive(vote, x), predictor.proba(predictor.prepare(x)))


def test_an_unchecked_scikit_learn_falls_back_to_predict_proba(small, monkeypatch):
    clf, x = small
    monkeypatch.setattr(compat, "AVAILABLE", False)
    predictor = Predictor(clf)
    assert not predictor.binned
    np.testing.assert_array_equal(predict_positive(clf, x), clf.predict_proba(x)[:, 1])
    assert screen_positive(clf, x, trees=5) is None  # no cheap first look without the bins


def test_the_screen_is_the_probability_after_the_first_trees(small):
    clf, x = small
    staged = list(clf.staged_predict_proba(x))[4][:, 1]
    np.testing.assert_allclose(screen_positive(clf, x, trees=5), staged, rtol=1e-12)


def test_the_screens_walk_on_values_leads_every_row_to_the_binned_walks_leaf(small):
    """The screen walks the unbinned values; the bins would send every row, odd ones
    included (unseen and negative categories, missing and huge values), to the same
    leaves, so the sums are equal to the last bit."""
    clf, x = small
    predictor = Predictor(clf)
    prepared = predictor.prepare(x)
    missing = clf._bin_mapper.missing_values_bin_idx_
    raw = np.full(x.shape[0], float(np.ravel(clf._baseline_prediction)[0]))
    for (tree,) in clf._predictors[:5]:
        raw += tree.predict_binned(prepared, missing, compat.openmp_threads())
    np.testing.assert_array_equal(screen_positive(clf, x, trees=5), expit(raw))


def test_values_and_bins_agree_at_every_threshold_and_beyond(small):
    """Values at each bin threshold, one step either side, infinite and huge, with
    every kind of category: the walk on values and the walk on bins give the same
    probabilities to the bit."""
    clf, _ = small
    edges = [np.asarray(t, dtype=np.float64) for t in clf._bin_mapper.bin_thresholds_[1:]]
    numbers = []
    for t in edges:
        near = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)])
        numbers.append(np.concatenate([near, [np.inf, -np.inf, 1e300, -1e300, np.nan]]))
    n = max(v.size for v in numbers)
    rng = np.random.default_rng(5)
    columns = [rng.permutation(np.resize(v, n)) for v in numbers]
    categories = np.resize(np.array([0, 1, 2, 3, 4, 5, 9, -1, np.nan, 2.0]), n)
    # The model's columns: the categorical one is its first binned column.
    x = np.column_stack([columns[0], columns[1], categories])
    predictor = Predictor(clf)
    np.testing.assert_array_equal(predict_positive(clf, x), predictor.proba(predictor.prepare(x)))


def test_models_that_bin_differently_are_each_walked_on_their_own_columns(small):
    _, x = small
    rng = np.random.default_rng(6)
    y = (np.nan_to_num(x[:, 1]) + rng.normal(size=x.shape[0]) > 0.5).astype(int)
    members = []
    for s in (0, 1, 2):
        part = rng.random(x.shape[0]) < 0.5
        model = HistGradientBoostingClassifier(max_iter=10, random_state=s)
        members.append((f"m{s}", model.fit(np.nan_to_num(x[part]), y[part])))
    vote = VotingClassifier(members, voting="soft")
    vote.estimators_ = [m for _, m in members]
    vote.classes_ = np.array([0, 1])
    predictor = Predictor(vote)
    assert len(predictor._layouts) > 1  # fitted on other rows, binned otherwise
    np.testing.assert_array_equal(predict_positive(vote, x), predictor.proba(predictor.prepare(x)))


def test_bins_are_the_mappers_own_on_every_core_even_when_fitted_on_one(small, monkeypatch):
    """A model trained in a worker keeps that worker's single thread in its bin
    mapper; the walk bins on every core and must give the mapper's own bins."""
    clf, x = small
    mapper = compat.boosting_parts(clf)[0]
    mapper.n_threads = 1
    wide = np.asfortranarray(np.repeat(x, 40, axis=0))
    np.testing.assert_array_equal(compat.bin_rows(mapper, wide), mapper.transform(wide))
    monkeypatch.setattr(compat, "_map_to_bins", None)  # a version where it moved
    np.testing.assert_array_equal(compat.bin_rows(mapper, wide), mapper.transform(wide))


def test_an_encoder_clips_infinities_in_a_frame_polars_hands_over_without_a_copy():
    import polars as pl

    from detector.models._encode import FrameEncoder

    frame = pl.DataFrame({"a": np.array([1.0, np.inf, -np.inf], dtype=np.float32)})
    encoder = FrameEncoder(numeric=("a",)).fit(frame)
    np.testing.assert_array_equal(encoder.transform(frame)[:, 0], np.float32([1.0, 1e30, -1e30]))


def test_the_encoder_clips_infinities_keeps_missing_and_is_in_column_order():
    import polars as pl

    from detector.models._encode import FrameEncoder

    frame = pl.DataFrame(
        {
            "a": [1.5, float("inf"), float("-inf"), None, float("nan")],
            "c": ["x", "y", None, "x", "z"],
        }
    )
    encoder = FrameEncoder(numeric=("a",), categorical=("c",), max_categories=3).fit(frame)
    matrix = encoder.transform(frame)
    assert matrix.dtype == np.float32 and matrix.flags["F_CONTIGUOUS"]
    np.testing.assert_array_equal(matrix[:, 0], np.float32([1.5, 1e30, -1e30, np.nan, np.nan]))
    # "x" is the most frequent (code 0), "y" next (1); "z" is beyond max_categories - 1
    # and shares the code of the rest (2); a missing category stays missing.
    np.testing.assert_array_equal(matrix[:, 1], [0.0, 1.0, np.nan, 0.0, 2.0])


def test_distinct_rows_map_every_row_back_to_itself():
    from detector.models._reasons import _unique_rows

    rng = np.random.default_rng(7)
    for dtype in (np.uint8, np.float32):
        rows = np.ascontiguousarray(rng.integers(0, 3, (2_000, 4)).astype(dtype))
        distinct, which = _unique_rows(rows)
        assert distinct.shape[0] == np.unique(rows, axis=0).shape[0]
        np.testing.assert_array_equal(distinct[which], rows)
