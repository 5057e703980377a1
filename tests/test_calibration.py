"""Risk scores from rank scores (detector.models._calibration): calibrated, no plateaus."""

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from detector.models import SmoothIsotonic


def _scores(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 2
    y = (rng.random(n) < expit(2 * x - 3)).astype(float)
    return x, y


def test_the_map_rises_wherever_the_ranking_does_and_never_reaches_0_or_1():
    x, y = _scores()
    risk = SmoothIsotonic().fit(x, y).predict(np.sort(x))
    assert (np.diff(risk) > 0).all()  # strictly: every distinct score its own risk
    assert 0 < risk.min() and risk.max() < 1
    # The staircase it replaces shows one value for a large share of the top.
    steps = IsotonicRegression(out_of_bounds="clip").fit(x, y).predict(np.sort(x))
    assert (steps[-1_000:] == steps[-1]).sum() > 100  # the top step: one value for many
    assert np.unique(risk[-1_000:]).size == 1_000  # here, one each


def test_the_map_is_calibrated():
    x, y = _scores(seed=1)
    calibrator = SmoothIsotonic().fit(x, y)
    test_x, test_y = _scores(seed=2)
    risk = calibrator.predict(test_x)
    assert abs(risk.mean() - test_y.mean()) < 0.01
    for lo, hi in ((0.0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.0)):
        band = (risk >= lo) & (risk < hi)
        assert band.sum() > 200
        assert abs(risk[band].mean() - test_y[band].mean()) < 0.03


def test_scores_beyond_the_training_range_keep_rising():
    x, y = _scores()
    calibrator = SmoothIsotonic().fit(x, y)
    far = calibrator.predict(np.array([x.min() - 5, x.min(), x.max(), x.max() + 5]))
    assert (np.diff(far) > 0).all() and far[-1] < 1


def test_a_risk_says_how_many_inspections_it_rests_on_and_how_sure_it_is():
    import numpy as np

    from detector.models._calibration import SmoothIsotonic

    rng = np.random.default_rng(0)
    # Many inspections at low scores, a handful at the top: the top's risk is thin.
    x = np.r_[rng.uniform(0, 1, 5_000), rng.uniform(2, 3, 12)]
    y = np.r_[rng.random(5_000) < 0.05, np.ones(12)].astype(float)
    cal = SmoothIsotonic().fit(x, y)
    risk = cal.predict([0.5, 2.5])
    low, high, n = cal.interval(risk)
    assert n[0] > 1_000 and n[1] <= 13
    assert (low <= risk).all() and (risk <= high).all()
    assert high[0] - low[0] < 0.03 < 0.2 < high[1] - low[1]  # thin where few were inspected
