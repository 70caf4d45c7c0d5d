"""From a score to an action, precision first.

Actions, as stored in an account's state and named on the bot-flags topic:

* ``none``   — never flagged (nothing is emitted for it);
* ``review`` — score at or above the review threshold: a human should look;
* ``block``  — score at or above the block threshold *and* the model has
  earned it: enough labels of each class, and the recent labelled window
  shows the target precision at the block threshold. "Shows" means the
  lower Wilson confidence bound of the window's precision (one-sided, at
  ``confidence``) reaches the target, not just the point estimate: with no
  false positive at all, a target of 0.99 at 95% confidence takes about 270
  labelled accounts above the block threshold;
* ``clear``  — a human said the account is not a bot; the earlier flag is
  withdrawn and the model does not flag the account again unless a later
  label says bot.

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

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
        Score from which an account may be blocked.
    min_labels
        Labels of each class the model must have learned before it flags anyone.
    target_precision
        Precision at the block threshold the recent labelled window must show.
    confidence
        One-sided confidence of the lower bound on that precision.
    """

    review_threshold: float = 0.5
    block_threshold: float = 0.9
    min_labels: int = 20
    target_precision: float = 0.99
    confidence: float = 0.95

    def may_block(self, precision_at_block: float, block_support: int) -> bool:
        if block_support < max(self.min_labels, 1) or precision_at_block != precision_at_block:
            return False
        return wilson_lower_bound(precision_at_block, block_support, self.confidence) >= self.target_precision

    def decide(self, score: float, current: int, labels_per_class: tuple[int, int],
               precision_at_block: float, block_support: int) -> int:
        """The account's new action; equal to ``current`` when nothing changes."""
        if current == CLEAR or min(labels_per_class) < self.min_labels:
            return current
        if score >= self.block_threshold and self.may_block(precision_at_block, block_support):
            return BLOCK
        if score >= self.review_threshold and current == NONE:
            return REVIEW
        if current == REVIEW and score < self.review_threshold / 2:
            return NONE
        return current

    def decide_many(self, scores, current, labels_per_class: tuple[int, int], precision_at_block: float,
                    block_support: int):
        """:meth:`decide` for many accounts at once: ``scores`` and ``current`` actions are numpy arrays
        (actions as the floats of the account state); returns the new actions, element for element
        what :meth:`decide` returns.

        >>> import numpy as np
        >>> p = Policy(min_labels=1)
        >>> p.decide_many(np.array([0.95, 0.6, 0.1, 0.1]), np.array([0.0, 0.0, 1.0, 3.0]), (5, 5), 1.0, 300).tolist()
        [2.0, 1.0, 0.0, 3.0]
        """
        out = current.copy()
        if min(labels_per_class) < self.min_labels:
            return out
        open_ = current != CLEAR
        if self.may_block(precision_at_block, block_support):
            block = open_ & (scores >= self.block_threshold)
            open_ &= ~block
            out[block] = BLOCK
        review = open_ & (scores >= self.review_threshold) & (current == NONE)
        out[review] = REVIEW
        out[open_ & ~review & (current == REVIEW) & (scores < self.review_threshold / 2)] = NONE
        return out

    def threshold_of(self, action: int) -> float:
        if action == NONE:
            return self.review_threshold / 2
        return self.block_threshold if action == BLOCK else self.review_threshold


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
