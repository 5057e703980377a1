"""Risk scores from rank scores: calibrated, in the ranking's order, without plateaus.

Isotonic regression maps scores to fraud rates honestly but as a staircase: every
declaration on a step shows the same risk, and the top step shows 1.000 for hundreds
of declarations the ranking tells apart. Here the staircase gives the knots instead:
one per step, at the step's mean score, its rate pulled towards the overall rate by one
pseudo-declaration (a step of 300 frauds out of 300 is 0.997, not certainty). Between
knots the log-odds are interpolated, beyond them extended along the knots' average
slope: the map rises wherever the ranking rises, and never reaches 0 or 1.
"""

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

__all__ = ["THIN_INSPECTIONS", "SmoothIsotonic", "is_thin"]

#: Fewer calibration declarations than this behind a risk, and the risk is "thin": its
#: interval is wide, and the report and ``explain`` say so.
THIN_INSPECTIONS = 30


def is_thin(n: float) -> bool:
    """Whether a risk resting on ``n`` calibration declarations is thin.

    >>> is_thin(4), is_thin(30), is_thin(float("inf"))
    (True, False, False)
    """
    return n < THIN_INSPECTIONS


class SmoothIsotonic:
    """An increasing map from scores to probabilities; ``fit(x, y, w)``, ``predict(x)``."""

    #: Weight of the overall rate in each step's rate: one pseudo-declaration.
    prior_weight = 1.0

    def fit(self, x, y, sample_weight=None) -> "SmoothIsotonic":
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        steps = IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=w)
        order = np.argsort(x, kind="stable")
        level = steps.predict(x[order])
        starts = np.flatnonzero(np.r_[True, np.diff(level) != 0])
        weight = np.add.reduceat(w[order], starts)
        centre = np.add.reduceat(w[order] * x[order], starts) / weight
        frauds = np.add.reduceat(w[order] * y[order], starts)
        prior = frauds.sum() / weight.sum()
        rate = (frauds + self.prior_weight * prior) / (weight + self.prior_weight)
        # The pull towards the prior can undo the order of two small steps: pool them.
        rate = IsotonicRegression().fit(centre, rate, sample_weight=weight).predict(centre)
        keep = np.r_[True, np.diff(rate) > 0]
        groups = np.cumsum(keep) - 1
        weight_k = np.bincount(groups, weights=weight)
        self.knots_ = np.bincount(groups, weights=weight * centre) / weight_k
        self.log_odds_ = logit(rate[keep])
        #: The calibration declarations behind each knot: how much a risk there rests on.
        self.support_ = weight_k
        span = self.knots_[-1] - self.knots_[0]
        rise = self.log_odds_[-1] - self.log_odds_[0]
        self.slope_ = rise / span if span > 0 else 0.0
        return self

    def support(self, risk) -> np.ndarray:
        """Per risk, the calibration declarations it rests on: those of the knots on
        either side of it (the fewer of the two), or of the end knot beyond them."""
        risk = np.asarray(risk, dtype=float)
        support = getattr(self, "support_", None)
        if support is None:  # a model calibrated before supports were kept
            return np.full(risk.shape, np.nan)
        at = np.searchsorted(expit(self.log_odds_), risk)
        left = support[np.clip(at - 1, 0, support.size - 1)]
        right = support[np.clip(at, 0, support.size - 1)]
        return np.minimum(left, right)

    def interval(self, risk, z: float = 1.96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A 95 % interval of each risk (Wilson, on the declarations it rests on), and
        that number: wide where the calibration is thin.

        >>> cal = SmoothIsotonic().fit([0, 1, 2, 3] * 50, [0, 0, 1, 1] * 50)
        >>> low, high, n = cal.interval([0.5])
        >>> float(n[0]), round(float(low[0]), 2), round(float(high[0]), 2)
        (100.0, 0.4, 0.6)
        """
        p = np.asarray(risk, dtype=float)
        n = self.support(p)
        m = np.where(np.isfinite(n) & (n > 0), n, np.nan)
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
        return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1), n

    def predict(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        knots, z = self.knots_, self.log_odds_
        inside = np.interp(x, knots, z)
        below = z[0] + self.slope_ * (x - knots[0])
        above = z[-1] + self.slope_ * (x - knots[-1])
        return expit(np.where(x < knots[0], below, np.where(x > knots[-1], above, inside)))
