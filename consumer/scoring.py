"""Scoring many accounts at once: their feature rows, and the linear model's contributions and scores.

The detector scores, once per tick, every account the tick touched. On a
sparse stream that is a few accounts per call, and numpy's fixed cost per
expression (about 200 µs a call for the ~40 of
:func:`~consumer.feature_matrix.features_of` and
:meth:`~consumer.model.Model.contributions`) outweighs the work. The compiled
kernel ``consumer._score`` (``consumer/_score.c``, built by ``pip install -e
.``) loops over the accounts instead, at under a microsecond a call and about
as much per account (``benchmarks/scoring.py``).

This module is the definition the kernel is held to, bit for bit:
:func:`feature_rows_python` is :func:`consumer.features.feature_row` of each
state, and :func:`linear_scores_python` is the linear pipeline of
:mod:`consumer.model` (symlog, standardise, clip, weigh; an unknown feature
contributes nothing) written with Python floats. :func:`feature_rows` and
:func:`linear_scores` run the kernel where it is built for this state layout
(:data:`COMPILED`), else numpy (:func:`feature_rows_numpy`,
:func:`linear_scores_numpy`), which agrees within rounding only.

Example
-------
>>> from consumer.events import Tweet
>>> from consumer.feature_matrix import stack
>>> from consumer.features import FEATURE_NAMES, feature_dict, new_state, update
>>> from consumer.model import Model
>>> state = new_state()
>>> for i in range(3):
...     _ = update(state, Tweet(str(i), "7", 1e9 + 60 * i, text="hello"))
>>> rows = feature_rows(stack([state]))
>>> rows.shape
(1, 37)
>>> bool(np.allclose(rows, feature_rows_python(stack([state])), equal_nan=True))
True
>>> model = Model()
>>> model.learn_one(feature_dict(rows[0].tolist()), True)
>>> _, means, stds, weights, clip, intercept = model._linear_params(FEATURE_NAMES)
>>> contributions, scores = linear_scores(rows, means, stds, weights, clip, intercept)
>>> contributions.shape, bool(0.5 < scores[0] < 1.0)
((1, 37), True)
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from consumer import features as F
from consumer.feature_matrix import features_of, stack

#: Features per row, in :data:`~consumer.features.FEATURE_NAMES` order.
NF = len(F.FEATURE_NAMES)


# ------------------------------------------------------------------ the definitions

def feature_rows_python(S: np.ndarray) -> np.ndarray:
    """:func:`~consumer.features.feature_row` of each state stacked in ``S`` (accounts x SLOTS), as an
    (accounts x NF) array."""
    S = np.ascontiguousarray(S, dtype=np.float64)
    return np.array([F.feature_row(array("d", row.tobytes())) for row in S], dtype=np.float64).reshape(-1, NF)


def linear_scores_python(rows, means, stds, weights, clip: float, intercept: float) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's contribution to the logit, and P(bot), of each row of ``rows`` (accounts x NF).

    ``means``, ``stds`` and ``weights`` (NF each), ``clip`` and ``intercept`` are
    :meth:`Model._linear_params <consumer.model.Model._linear_params>`'s. The sign is math.copysign's, as
    in :func:`consumer.model.symlog`, so that a row is transformed as River learned from it.
    """
    means, stds, weights = (np.asarray(a, dtype=np.float64).tolist() for a in (means, stds, weights))
    clip, intercept = float(clip), float(intercept)
    contributions, scores = [], []
    for row in np.asarray(rows, dtype=np.float64).reshape(-1, len(means)).tolist():
        total = 0.0
        for x, mean, std, weight in zip(row, means, stds, weights):
            z = (math.copysign(math.log1p(abs(x)), x) - mean) / std
            z = clip if z > clip else (-clip if z < -clip else z)  # NaN stays NaN
            c = z * weight
            c = 0.0 if c != c else c  # an unknown feature contributes nothing, as in River
            contributions.append(c)
            total += c
        logit = total + intercept
        logit = 30.0 if logit > 30.0 else (-30.0 if logit < -30.0 else logit)
        scores.append(1.0 / (1.0 + math.exp(-logit)))
    return np.array(contributions, dtype=np.float64).reshape(-1, len(means)), np.array(scores, dtype=np.float64)


def top_reasons_python(rows, contributions, names: tuple[str, ...], top: int = 3) -> list[list[dict]]:
    """Why each row scored as it did: its ``top`` features by positive contribution to the logit, highest first
    (a tie in ``names`` order), as ``{"feature", "value", "contribution"}`` with both figures rounded to 6
    digits. ``rows`` and ``contributions`` are (rows x len(names)); a row with fewer features pushing it up has
    fewer reasons.

    >>> top_reasons_python([[1.0, 2.0, 3.0]], [[0.5, -1.0, 0.5]], ("a", "b", "c"), top=3)
    [[{'feature': 'a', 'value': 1.0, 'contribution': 0.5}, {'feature': 'c', 'value': 3.0, 'contribution': 0.5}]]
    """
    out = []
    for row, pushes in zip(np.asarray(rows, dtype=np.float64).tolist(),
                           np.asarray(contributions, dtype=np.float64).tolist()):
        first = sorted((j for j, c in enumerate(pushes) if c > 0), key=lambda j: -pushes[j])[:top]  # stable
        out.append([{"feature": names[j], "value": round(row[j], 6), "contribution": round(pushes[j], 6)}
                    for j in first])
    return out


# ------------------------------------------------------------------ numpy, where the kernel is not built

def feature_rows_numpy(S: np.ndarray) -> np.ndarray:
    """:func:`feature_rows_python` within rounding: :func:`consumer.feature_matrix.features_of`."""
    return features_of(S)


def linear_scores_numpy(rows, means, stds, weights, clip: float, intercept: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`linear_scores_python` within rounding: the expressions of :meth:`consumer.model.Model.contributions`
    and :meth:`~consumer.model.Model.score_many`."""
    with np.errstate(invalid="ignore"):  # inf * 0 is an unknown contribution, set to 0 below
        z = np.clip((np.sign(rows) * np.log1p(np.abs(rows)) - means) / stds, -clip, clip)
        contributions = z * weights
    contributions[np.isnan(contributions)] = 0.0
    logit = contributions.sum(axis=1) + intercept
    return contributions, 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))


# ------------------------------------------------------------------ the dispatch

def _load_kernel():
    """``consumer._score`` and "", or None and why not (not built, or built for another state layout)."""
    try:
        from consumer import _score
    except ImportError as e:  # not built (no compiler where it was installed)
        return None, f"ImportError: {e}"
    ours = {name: getattr(F, name, None) for name in _score.LAYOUT} | {"NF": NF}
    differ = sorted(name for name, value in _score.LAYOUT.items() if ours[name] != value)
    if differ:
        return None, f"consumer._score was built for another state layout ({', '.join(differ)} differ): rebuild it"
    return _score, ""


_kernel, NOT_COMPILED = _load_kernel()
#: Whether :func:`feature_rows` and :func:`linear_scores` run the compiled kernel; if not, numpy runs them and
#: :data:`NOT_COMPILED` says why.
COMPILED: bool = _kernel is not None


def feature_rows(S: np.ndarray) -> np.ndarray:
    """The features of each state stacked in ``S`` (accounts x SLOTS float64, C-contiguous, as
    :func:`consumer.feature_matrix.stack` makes it): :func:`feature_rows_python`, compiled."""
    if _kernel is None:
        return feature_rows_numpy(S)
    out = np.empty((len(S), NF))
    _kernel.feature_rows(S, len(S), out)
    return out


def stack_states(states: list[array]) -> np.ndarray:
    """The states as one (accounts x SLOTS) matrix: :func:`consumer.feature_matrix.stack`, compiled (a rescan
    stacks every account: the Python join of each state's bytes cost as much as scoring it)."""
    if _kernel is None:
        return stack(states)
    out = np.empty((len(states), F.SLOTS))
    _kernel.stack_states(states, out)
    return out


def store_scores_python(states: list[array], scores: list[float]) -> None:
    """Each state keeps its score, and the tweet count it was scored at (a block is confirmed only by a later
    score after new tweets)."""
    SCORE, SCORE_N, N = F.SCORE, F.SCORE_N, F.N  # once, not per account
    for state, score in zip(states, scores):
        state[SCORE] = score
        state[SCORE_N] = state[N]


def store_scores(states: list[array], scores: np.ndarray) -> None:
    """:func:`store_scores_python`, compiled."""
    if _kernel is None:
        store_scores_python(states, scores.tolist())
    else:
        _kernel.store_scores(states, np.ascontiguousarray(scores, dtype=np.float64))


def known_features(state: array) -> dict[str, float]:
    """``features.feature_dict(features.feature_row(state))``, compiled: the model's input for a label's
    account (in Python, 24 µs a label, a tenth of the bench's label tail)."""
    if _kernel is None:
        return F.feature_dict(F.feature_row(state))
    return _kernel.known_features(state)


def idle_accounts_python(accounts: dict[str, array], horizon: float) -> list[str]:
    """The accounts whose last tweet is before ``horizon``, in the dict's order."""
    LAST_TS = F.LAST_TS
    return [account_id for account_id, state in accounts.items() if state[LAST_TS] < horizon]


def idle_accounts(accounts: dict[str, array], horizon: float) -> list[str]:
    """:func:`idle_accounts_python`, compiled (the expiry scan reads every account once an hour of event
    time: a tenth of a second of Python in the bench's run)."""
    if _kernel is None:
        return idle_accounts_python(accounts, horizon)
    return _kernel.idle_accounts(accounts, horizon)


def previous_scores(S: np.ndarray) -> np.ndarray:
    """Each stacked state's stored score where the account has tweeted since it was stored (``N > SCORE_N``),
    else NaN: a block is confirmed by a second score after new tweets, not by a rescan that only changed the
    model."""
    return np.where(S[:, F.N] > S[:, F.SCORE_N], S[:, F.SCORE], np.nan)


def ready_scores_python(states: list[array], min_tweets: float, excluded_action: float, means, stds, weights,
                        clip: float, intercept: float) -> tuple[np.ndarray, ...]:
    """The linear score of each of ``states`` that is ready (``N >= min_tweets`` and ``ACTION !=
    excluded_action``), and what the policy decides from beside it: ``(at, scores, tweets, actions,
    previous)``, one entry per ready state, ``at`` its index in ``states`` and ``previous`` its stored score
    where it has tweeted since (``N > SCORE_N``), else NaN. The other arguments are :func:`linear_scores`'."""
    S = stack_states(states)
    at = np.flatnonzero((S[:, F.N] >= min_tweets) & (S[:, F.ACTION] != excluded_action))
    S = S[at]
    _, scores = linear_scores(feature_rows(S), means, stds, weights, clip, intercept)
    return at, scores, S[:, F.N], S[:, F.ACTION], previous_scores(S)


def ready_scores(states: list[array], min_tweets: float, excluded_action: float, means, stds, weights,
                 clip: float, intercept: float) -> tuple[np.ndarray, ...]:
    """:func:`ready_scores_python`, compiled: each state read in place, no matrix of states, rows or
    contributions (a rescan scores every account to flag the few whose action changes)."""
    if _kernel is None:
        return ready_scores_python(states, min_tweets, excluded_action, means, stds, weights, clip, intercept)
    out = np.empty((len(states), 5))
    ready = _kernel.ready_scores(states, min_tweets, excluded_action, means, stds, weights, clip, intercept, out)
    out = out[:ready]
    return out[:, 0].astype(np.intp), out[:, 1], out[:, 2], out[:, 3], out[:, 4]


def linear_scores(rows, means, stds, weights, clip: float, intercept: float) -> tuple[np.ndarray, np.ndarray]:
    """(contributions, scores) of ``rows`` (accounts x NF float64, C-contiguous; ``means``, ``stds`` and
    ``weights`` likewise, NF each): :func:`linear_scores_python`, compiled. Rows of other widths (a model
    of other features, as in examples) take :func:`linear_scores_python` itself."""
    if np.ndim(rows) == 2 and np.shape(rows)[1] != NF:
        return linear_scores_python(rows, means, stds, weights, clip, intercept)
    if _kernel is None:
        return linear_scores_numpy(rows, means, stds, weights, clip, intercept)
    n = len(rows)
    contributions, scores = np.empty((n, NF)), np.empty(n)
    _kernel.linear_scores(rows, n, means, stds, weights, clip, intercept, contributions, scores)
    return contributions, scores


def top_reasons(rows, contributions, names: tuple[str, ...], top: int = 3) -> list[list[dict]]:
    """:func:`top_reasons_python`, compiled for the model's own features (:data:`~consumer.features.FEATURE_NAMES`):
    a warm model flags thousands of new accounts a second at start-up, and their reasons as Python dicts were
    most of the cost of a flag."""
    if _kernel is None or names != F.FEATURE_NAMES or not 0 <= top <= NF:
        return top_reasons_python(rows, contributions, names, top)
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    return _kernel.top_reasons(rows, np.ascontiguousarray(contributions, dtype=np.float64), len(rows), top)
