"""The features of many accounts at once: :func:`consumer.features.feature_row`, vectorised.

Scoring is once per tick for every account the tick touched, which on a
sparse stream is close to once per tweet; a Python ``feature_row`` per account
would cost as much as decoding the tweet. Here the accounts' state arrays are
stacked into one matrix and every feature is a numpy expression over its
columns. ``tests/test_feature_matrix.py`` holds it equal to ``feature_row``.

Example
-------
>>> from consumer.events import Tweet
>>> from consumer.features import feature_row, new_state, update
>>> state = new_state()
>>> for i in range(3):
...     _ = update(state, Tweet(str(i), "7", 1e9 + 60 * i, text="hello"))
>>> import numpy as np
>>> bool(np.allclose(feature_matrix([state])[0], feature_row(state), equal_nan=True))
True
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from consumer import features as F

_M = F.BITMAP_BITS
_SATURATED = _M * math.log(_M)


def _linear_count(bits: np.ndarray) -> np.ndarray:
    zeros = _M - np.bitwise_count(bits.astype(np.uint64)).astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(zeros == 0, _SATURATED, -_M * np.log(zeros / _M))


def _hour_entropy(S: np.ndarray, n: np.ndarray) -> np.ndarray:
    packed = S[:, F.HOURS:F.HOURS + 12]
    hi = np.floor(packed / F._HOUR_SHIFT)
    counts = np.concatenate([packed - hi * F._HOUR_SHIFT, hi], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.minimum(n, F._HOUR_CAP)
        collision = (counts * (counts - 1.0)).sum(axis=1) / (total * (total - 1.0))
        entropy = np.where(collision <= 1.0 / 24.0, F._MAX_HOUR_ENTROPY, -np.log2(collision))
        return np.where(S[:, F.LAST_TS] - S[:, F.FIRST_TS] >= F.HOUR_ENTROPY_MIN_SPAN, entropy, np.nan)


def stack(states: list[array]) -> np.ndarray:
    """The states as one (accounts x SLOTS) float64 matrix."""
    return np.frombuffer(b"".join([s.tobytes() for s in states]), dtype=np.float64).reshape(len(states), F.SLOTS)


def feature_matrix(states: list[array]) -> np.ndarray:
    """One row of features per state, columns in :data:`~consumer.features.FEATURE_NAMES` order."""
    return features_of(stack(states))


def features_of(S: np.ndarray) -> np.ndarray:
    """:func:`feature_matrix` of states already stacked by :func:`stack`."""
    n = S[:, F.N]
    nan = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        age = (S[:, F.P_TS] - S[:, F.P_CREATED]) / 86400.0
        age = np.where(age >= 1.0, age, np.where(np.isnan(age), nan, 1.0))
        friends = S[:, F.P_FRIENDS]
        k = S[:, F.N_DT]
        dt_mean = np.where(k >= 1.0, S[:, F.DT_MEAN], nan)
        dt_sd = np.sqrt(S[:, F.DT_M2] / k)
        cv = np.where(k >= 2.0, np.where(dt_mean > 0, dt_sd / dt_mean, 0.0), nan)
        total = dt_sd + dt_mean
        burst = np.where(k >= 2.0, np.where(total > 0, (dt_sd - dt_mean) / total, 0.0), nan)
        span_h = (S[:, F.LAST_TS] - S[:, F.FIRST_TS]) / 3600.0
        rate = np.where(span_h > 0, (n - 1.0) / span_h, nan)
        n_text = S[:, F.N_TEXT]
        has_text = n_text > 0
        source_bits = S[:, F.SOURCE_BITS]
        out = np.column_stack([
            S[:, F.P_STATUSES], S[:, F.P_FOLLOWERS], friends, S[:, F.P_FAVOURITES], S[:, F.P_LISTED],
            S[:, F.P_DEFAULT], S[:, F.P_BACKGROUND], S[:, F.P_VERIFIED],
            S[:, F.P_STATUSES] / age, S[:, F.P_FOLLOWERS] / age, friends / age,
            S[:, F.P_FAVOURITES] / age, S[:, F.P_LISTED] / age,
            np.where(np.isnan(friends), nan, S[:, F.P_FOLLOWERS] / np.maximum(friends, 1.0)),
            S[:, F.P_SN_LEN], S[:, F.P_SN_DIGITS], S[:, F.P_NAME_LEN], S[:, F.P_NAME_DIGITS], S[:, F.P_DESC_LEN],
            S[:, F.P_SN_LIKELIHOOD],
            rate, dt_mean, cv, burst, _hour_entropy(S, n),
            S[:, F.N_URL] / n, S[:, F.N_MENTION] / n, S[:, F.N_HASHTAG] / n,
            S[:, F.N_RETWEET] / n, S[:, F.N_REPLY] / n, S[:, F.N_QUOTE] / n,
            np.where(S[:, F.N_URL] >= F.DOMAINS_MIN_URLS, _linear_count(S[:, F.DOMAIN_BITS]), nan),
            np.where(has_text, S[:, F.N_DUP] / n_text, nan), np.where(has_text, S[:, F.N_NEAR_DUP] / n_text, nan),
            np.where(source_bits != 0, _linear_count(source_bits), nan),
            np.where(has_text, S[:, F.LEN_MEAN], nan), np.where(has_text, S[:, F.LEN_M2] / n_text, nan),
        ])
    out[n == 0.0] = nan
    return out
