"""Turning the linear model's scores into probabilities that mean what they say.

Temperature scaling: ``p = softmax(scores / T)`` with the one number ``T`` that minimises the
negative log-likelihood of the validation labels. It changes no ranking, so accuracy is untouched,
and one parameter cannot overfit a validation split of a few dozen examples.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

# log T is searched in this interval: T from about 0.001 to 20.
_LOG_T_BOUNDS = (-7.0, 3.0)


def probabilities(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``."""
    result: np.ndarray = softmax(scores / temperature, axis=1)
    return result


def negative_log_likelihood(scores: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean of ``-log p(true label)``; ``targets`` are column indices."""
    log_p = log_softmax(scores / temperature, axis=1)
    return float(-np.mean(log_p[np.arange(len(targets)), targets]))


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``targets`` (column indices)."""
    if len(targets) == 0:
        return 1.0
    result = minimize_scalar(lambda log_t: negative_log_likelihood(scores, targets, float(np.exp(log_t))),
                             bounds=_LOG_T_BOUNDS, method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by how full each bin is."""
    if len(confidence) == 0:
        return 0.0
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(which):
        inside = which == b
        error += inside.mean() * abs(float(correct[inside].mean()) - float(confidence[inside].mean()))
    return float(error)
