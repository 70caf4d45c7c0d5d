"""Prequential model quality on the label stream: score first, learn after.

Example
-------
>>> q = RollingQuality(window=4, threshold=0.5, block_threshold=0.9)
>>> for score, is_bot in [(0.95, True), (0.2, False), (0.7, False), (0.92, True)]:
...     q.update(score, is_bot)
>>> q.precision, q.recall, q.precision_at_block, q.block_support
(0.6666666666666666, 1.0, 1.0, 2)

Given a policy, the block threshold is the one the policy calibrates from the window
(:meth:`~consumer.policy.Policy.calibrate`) rather than a fixed one:

>>> from consumer.policy import Policy
>>> q = RollingQuality(window=300, policy=Policy(block_threshold=0.9, target_precision=0.9, confidence=0.5))
>>> for k in range(100):
...     q.update(0.999 - k / 1000, True)   # bots from 0.999 down to 0.900
>>> q.update(0.95, False)                  # one human among them
>>> q.block_threshold_in_force, q.precision_at_block, q.block_support
(0.9, 0.9900990099009901, 101)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque


class RollingQuality:
    """Precision, recall, ROC AUC and precision at the block threshold over the last ``window`` labels.

    Parameters
    ----------
    window
        How many recent (score, label) pairs the figures cover.
    threshold
        Score from which an account counts as flagged (the review threshold).
    block_threshold
        Score from which an account may be blocked, when no ``policy`` calibrates it.
    policy
        A :class:`~consumer.policy.Policy` whose ``calibrate`` picks the block threshold from the window;
        ``precision_at_block`` and ``block_support`` are then the figures at that threshold, or at the
        policy's lowest block threshold while none qualifies.
    """

    def __init__(self, window: int = 1000, threshold: float = 0.5, block_threshold: float = 0.9, policy=None):
        self.pairs: deque[tuple[float, bool]] = deque()
        self.window = window
        self.threshold = threshold
        self.policy = policy
        self.block_threshold = policy.block_threshold if policy is not None else block_threshold
        # running counts over the window, so the policy can ask on every scoring at no cost
        self._flagged = self._flagged_bots = self._blockable = self._blockable_bots = self._bots = 0
        self._evidence: tuple[float, float, int] | None = None  # calibrated figures, until the next update
        self._rank_by_class()

    def _rank_by_class(self) -> None:
        """Each class's scores in the window, sorted, and twice the Mann-Whitney U of the bots over the humans:
        kept as pairs come and go, so ROC AUC and recall cost O(log window) at each update, not a sort of the
        window whenever the service reads them (after every batch that learns)."""
        self._bot_scores: list[float] = []
        self._human_scores: list[float] = []
        self._twice_u = 0  # 2 per (bot, human) pair the bot outscores, 1 per tie: an integer, so always exact
        for score, is_bot in self.pairs:
            self._rank(score, is_bot, +1)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        # a window pickled (in a model snapshot) before these were kept: each derived from the pairs
        if "_bots" not in state:
            self._bots = sum(is_bot for _, is_bot in self.pairs)
        if "_twice_u" not in state:
            self._rank_by_class()

    def _rank(self, score: float, is_bot: bool, sign: int) -> None:
        if score != score:  # NaN ranks nowhere (and would unsort the lists)
            return
        own, other = (self._bot_scores, self._human_scores) if is_bot else (self._human_scores, self._bot_scores)
        if sign > 0:
            insort(own, score)
        else:
            del own[bisect_left(own, score)]
        below, above = bisect_left(other, score), bisect_right(other, score)
        wins = below if is_bot else len(other) - above  # bots over this human, or humans under this bot
        self._twice_u += sign * (2 * wins + above - below)

    def _count(self, score: float, is_bot: bool, sign: int) -> None:
        self._bots += sign * is_bot
        if score >= self.threshold:
            self._flagged += sign
            self._flagged_bots += sign * is_bot
        if score >= self.block_threshold:
            self._blockable += sign
            self._blockable_bots += sign * is_bot

    def update(self, score: float, is_bot: bool) -> None:
        self.pairs.append((score, is_bot))
        self._count(score, is_bot, +1)
        self._rank(score, is_bot, +1)
        if len(self.pairs) > self.window:
            old_score, old_is_bot = self.pairs.popleft()
            self._count(old_score, old_is_bot, -1)
            self._rank(old_score, old_is_bot, -1)
        self._evidence = None

    def curve(self, lowest: float = 0.0) -> list[tuple[float, int, int]]:
        """``(score, support, bots)`` for each distinct score at or above ``lowest`` in the window, highest
        first: ``support`` labelled accounts scored at or above ``score``, ``bots`` of them bots.

        >>> q = RollingQuality()
        >>> for score, is_bot in [(0.9, True), (0.8, False), (0.9, False), (0.99, True)]:
        ...     q.update(score, is_bot)
        >>> q.curve(0.85)
        [(0.99, 1, 1), (0.9, 3, 2)]
        """
        ranked = sorted((p for p in self.pairs if p[0] >= lowest), reverse=True)
        out: list[tuple[float, int, int]] = []
        support = bots = 0
        for score, is_bot in ranked:
            support += 1
            bots += is_bot
            if out and out[-1][0] == score:
                out[-1] = (score, support, bots)
            else:
                out.append((score, support, bots))
        return out

    @property
    def block_evidence(self) -> tuple[float, float, int]:
        """``(threshold, precision, support)`` at the block threshold in force (see ``policy``)."""
        if self.policy is None:
            return self.block_threshold, self.precision_at_fixed_threshold, self._blockable
        if self._evidence is None:
            floor = self.policy.block_threshold
            calibrated = self.policy.calibrate(self.curve(floor))
            if calibrated is None:  # nothing qualifies: report the figures at the lowest threshold allowed
                calibrated = (floor, self.precision_at_fixed_threshold, self._blockable)
            self._evidence = calibrated
        return self._evidence

    @property
    def block_threshold_in_force(self) -> float:
        return self.block_evidence[0]

    @property
    def precision(self) -> float:
        return self._flagged_bots / self._flagged if self._flagged else float("nan")

    @property
    def precision_at_fixed_threshold(self) -> float:
        """Precision over the window's labelled accounts scored at or above ``block_threshold``."""
        return self._blockable_bots / self._blockable if self._blockable else float("nan")

    @property
    def precision_at_block(self) -> float:
        """Precision over the window's labelled accounts scored at or above the block threshold in force."""
        return self.block_evidence[1]

    @property
    def block_support(self) -> int:
        """How many labelled accounts in the window scored at or above the block threshold in force."""
        return self.block_evidence[2]

    @property
    def recall(self) -> float:
        return self._flagged_bots / self._bots if self._bots else float("nan")

    @property
    def roc_auc(self) -> float:
        """Probability that a random bot outscores a random human (ties count half): the Mann-Whitney U over
        the number of pairs."""
        pairs = len(self._bot_scores) * len(self._human_scores)
        return self._twice_u / 2 / pairs if pairs else float("nan")
