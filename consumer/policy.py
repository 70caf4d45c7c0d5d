"""From a score to an action, precision first.

Actions, as stored in an account's state and named on the bot-flags topic:

* ``none``   — never flagged (nothing is emitted for it);
* ``review`` — score at or above the review threshold: a human should look;
* ``block``  — score at or above the block threshold in force *and* the model
  has earned it: enough labels of each class, and the recent labelled window
  shows the target precision at that threshold. "Shows" means the lower
  Wilson confidence bound of the window's precision (one-sided, at
  ``confidence``) reaches the target, not just the point estimate: with no
  false positive at all, a target of 0.99 at 95% confidence takes about 270
  labelled accounts above the block threshold;
* ``clear``  — a human said the account is not a bot; the earlier flag is
  withdrawn and the model does not flag the account again unless a later
  label says bot.

The block threshold in force is calibrated from the window (:meth:`Policy.calibrate`):
the lowest score, at or above ``block_threshold``, from which the window's
labelled accounts show the target precision, so blocks happen only where the
evidence says they are right. ``block_threshold`` is the lowest the policy may go.

Flags escalate (none → review → block) until a human clears them. The one
way down the model takes by itself is from ``review`` back to ``none`` (a
``clear`` on the topic) once the score falls below half the review threshold:
the gap keeps an account whose score wobbles around a threshold from flapping,
and early reviews from a young model do not stay in the queue forever. A
block is never lifted automatically.

Example
-------
>>> p = Policy(review_threshold=0.5, block_threshold=0.9, min_labels=1, target_precision=0.99)
>>> p.decide(0.95, NONE, labels_per_class=(5, 5), precision_at_block=1.0, block_support=300)
2
>>> p.decide(0.95, NONE, labels_per_class=(5, 5), precision_at_block=1.0, block_support=50)  # too little evidence
1
>>> p.decide(0.95, NONE, labels_per_class=(0, 5), precision_at_block=1.0, block_support=5)  # cold
0
>>> p.decide(0.95, NONE, labels_per_class=(5, 5), precision_at_block=1.0, block_support=300, block_threshold=0.97)
1
>>> p.decide(0.95, NONE, labels_per_class=(5, 5), precision_at_block=1.0, block_support=300, previous_score=0.6)
1
>>> p.decide(0.95, REVIEW, labels_per_class=(5, 5), precision_at_block=1.0, block_support=300, previous_score=0.93)
2
>>> p.decide(0.95, REVIEW, labels_per_class=(5, 5), precision_at_block=1.0, block_support=300, previous_score=0.93,
...          tweets=3)  # too few tweets to block on
1
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

NONE, REVIEW, BLOCK, CLEAR = 0, 1, 2, 3
#: What each action is called on the topic; a return to ``none`` withdraws a flag, so it reads ``clear`` too.
ACTION_NAMES = {NONE: "clear", REVIEW: "review", BLOCK: "block", CLEAR: "clear"}


@dataclass(frozen=True)
class Policy:
    """Thresholds and the evidence the model needs before it may act.

    Parameters
    ----------
    review_threshold
        Score from which an account goes to review.
    block_threshold
        Lowest score from which an account may be blocked; the threshold in force is calibrated at or above it.
    min_labels
        Labels of each class the model must have learned before it flags anyone.
    target_precision
        Precision at the block threshold the recent labelled window must show.
    confidence
        One-sided confidence of the lower bound on that precision.
    min_block_tweets
        Tweets an account needs before it may be blocked. A block is never lifted, and the behaviour
        features of a handful of tweets are mostly chance (one tweet with a link is a URL ratio of 1).
    """

    review_threshold: float = 0.5
    block_threshold: float = 0.9
    min_labels: int = 20
    target_precision: float = 0.99
    confidence: float = 0.95
    min_block_tweets: int = 5

    def may_block(self, precision_at_block: float, block_support: int) -> bool:
        """Whether ``block_support`` labelled accounts with this precision are evidence enough to block."""
        if block_support < max(self.min_labels, 1) or precision_at_block != precision_at_block:
            return False
        return wilson_lower_bound(precision_at_block, block_support, self.confidence) >= self.target_precision

    @property
    def resolution(self) -> int:
        """Labelled accounts it takes to see one false positive at the target precision: ``1 / (1 - target)``.
        Fewer than that above a threshold say little about its precision either way."""
        return math.ceil(1.0 / (1.0 - self.target_precision) - 1e-9) if self.target_precision < 1.0 else 2**62

    def calibrate(self, curve) -> tuple[float, float, int] | None:
        """The block threshold the window's evidence supports, with its precision and support; None if none.

        Parameters
        ----------
        curve
            ``(score, support, bots)`` per distinct score of the labelled window, highest first
            (:meth:`~consumer.quality.RollingQuality.curve`).

        The threshold is the lowest window score, at or above ``block_threshold``, at which
        :meth:`may_block` holds — provided the point precision reaches the target at every higher score
        too. A precision over fewer than :attr:`resolution` labelled accounts cannot show the target, so
        a score with fewer above it is judged by the top :attr:`resolution` accounts above
        ``block_threshold`` (all of them, if fewer): the threshold cannot climb over a human into a
        sliver of bots too thin to say anything, and where humans crowd the top of the window nothing
        is blocked at all.

        >>> p = Policy(block_threshold=0.5, min_labels=1, target_precision=0.99, confidence=0.5)
        >>> p.calibrate([(0.99, 150, 150), (0.9, 300, 299), (0.6, 400, 380)])
        (0.9, 0.9966666666666667, 300)
        >>> p.calibrate([(0.99, 150, 140), (0.9, 3000, 2990)]) is None  # humans on top
        True
        >>> p.calibrate([(0.99, 60, 60), (0.95, 61, 60), (0.9, 100, 98)]) is None  # a thin top over a human
        True
        """
        above = [(score, support, bots) for score, support, bots in curve if score >= self.block_threshold]
        if not above:
            return None
        judged_from = min(max(self.resolution, self.min_labels), above[-1][1])
        pending, best = [], None
        for score, support, bots in above:
            precision = bots / support
            if support < judged_from:  # too few to judge alone: wait for the first score with enough above it
                pending.append((score, precision, support))
                continue
            if precision < self.target_precision:
                break  # this score fails, and so every score above it that waited for it, and every one below
            for candidate in pending + [(score, precision, support)]:
                if self.may_block(candidate[1], candidate[2]):
                    best = candidate
            pending = []
        return best

    def decide(self, score: float, current: int, labels_per_class: tuple[int, int],
               precision_at_block: float, block_support: int, block_threshold: float | None = None,
               previous_score: float | None = None, tweets: float | None = None) -> int:
        """The account's new action; equal to ``current`` when nothing changes.

        Parameters
        ----------
        score
            The account's score now.
        current
            Its action so far.
        labels_per_class
            Labels the model has learned, of bots and of humans.
        precision_at_block, block_support
            The labelled window's precision and support at ``block_threshold``.
        block_threshold
            The block threshold in force (default: the policy's lowest one).
        previous_score
            The account's score at its previous scoring, if it has tweeted since (NaN otherwise). Given, a
            block needs it at or above the block threshold too: a block is never lifted, so one score that
            a young account's few tweets, or the model's last SGD step, pushed over the threshold is not
            enough; the account goes to review and is blocked if its next tweets confirm it.
        tweets
            Tweets the account has posted; given, a block needs ``min_block_tweets`` of them.
        """
        if current == CLEAR or min(labels_per_class) < self.min_labels:
            return current
        block_at = self.block_threshold if block_threshold is None else block_threshold
        confirmed = (previous_score is None or previous_score >= block_at) and (
            tweets is None or tweets >= self.min_block_tweets)
        if score >= block_at and confirmed and self.may_block(precision_at_block, block_support):
            return BLOCK
        if score >= self.review_threshold and current == NONE:
            return REVIEW
        if current == REVIEW and score < self.review_threshold / 2:
            return NONE
        return current

    def decide_many(self, scores: np.ndarray, current: np.ndarray, labels_per_class: tuple[int, int],
                    precision_at_block: float, block_support: int, block_threshold: float,
                    previous_scores: np.ndarray, tweets: np.ndarray) -> np.ndarray:
        """:meth:`decide` of many accounts scored at once (arrays, one entry per account; a NaN previous score
        means the account has not tweeted since it was last scored). Returns the new actions."""
        actions = current.copy()
        if min(labels_per_class) < self.min_labels:
            return actions
        # precedence as in decide: a block wins, then a first review, then the way back from review
        actions[(current == REVIEW) & (scores < self.review_threshold / 2)] = NONE
        actions[(current == NONE) & (scores >= self.review_threshold)] = REVIEW
        if self.may_block(precision_at_block, block_support):
            actions[(current != CLEAR) & (scores >= block_threshold) & (previous_scores >= block_threshold)
                    & (tweets >= self.min_block_tweets)] = BLOCK
        return actions

    def threshold_of(self, action: int) -> float:
        if action == NONE:
            return self.review_threshold / 2
        return self.block_threshold if action == BLOCK else self.review_threshold


@lru_cache(maxsize=4096)  # asked at every scoring with the same window figures until a label moves them
def wilson_lower_bound(p: float, n: int, confidence: float) -> float:
    """Lower end of the one-sided Wilson score interval of a proportion ``p`` observed over ``n`` trials.

    >>> wilson_lower_bound(1.0, 270, 0.95) >= 0.99 > wilson_lower_bound(1.0, 260, 0.95)
    True
    """
    z = NormalDist().inv_cdf(confidence)
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - margin) / (1 + z2 / n)
