"""Prequential model quality on the label stream: score first, learn after.

Example
-------
>>> q = RollingQuality(window=4, threshold=0.5, block_threshold=0.9)
>>> for score, is_bot in [(0.95, True), (0.2, False), (0.7, False), (0.92, True)]:
...     q.update(score, is_bot)
>>> q.precision, q.recall, q.precision_at_block, q.block_support
(0.6666666666666666, 1.0, 1.0, 2)
"""

from __future__ import annotations

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
        Score from which an account may be blocked.
    """

    def __init__(self, window: int = 1000, threshold: float = 0.5, block_threshold: float = 0.9):
        self.pairs: deque[tuple[float, bool]] = deque()
        self.window = window
        self.threshold = threshold
        self.block_threshold = block_threshold
        # running counts over the window, so the policy can ask on every scoring at no cost
        self._flagged = self._flagged_bots = self._blockable = self._blockable_bots = 0

    def _count(self, score: float, is_bot: bool, sign: int) -> None:
        if score >= self.threshold:
            self._flagged += sign
            self._flagged_bots += sign * is_bot
        if score >= self.block_threshold:
            self._blockable += sign
            self._blockable_bots += sign * is_bot

    def update(self, score: float, is_bot: bool) -> None:
        self.pairs.append((score, is_bot))
        self._count(score, is_bot, +1)
        if len(self.pairs) > self.window:
            self._count(*self.pairs.popleft(), -1)

    @property
    def precision(self) -> float:
        return self._flagged_bots / self._flagged if self._flagged else float("nan")

    @property
    def precision_at_block(self) -> float:
        return self._blockable_bots / self._blockable if self._blockable else float("nan")

    @property
    def block_support(self) -> int:
        """How many labelled accounts in the window scored at or above the block threshold."""
        return self._blockable

    @property
    def recall(self) -> float:
        bots = [score for score, is_bot in self.pairs if is_bot]
        return sum(s >= self.threshold for s in bots) / len(bots) if bots else float("nan")

    @property
    def roc_auc(self) -> float:
        """Probability that a random bot outscores a random human (ties count half)."""
        ranked = sorted(self.pairs)
        bots = sum(is_bot for _, is_bot in ranked)
        humans = len(ranked) - bots
        if not bots or not humans:
            return float("nan")
        rank_sum, i = 0.0, 0
        while i < len(ranked):  # average ranks over ties
            j = i
            while j < len(ranked) and ranked[j][0] == ranked[i][0]:
                j += 1
            avg_rank = (i + j + 1) / 2.0
            rank_sum += avg_rank * sum(is_bot for _, is_bot in ranked[i:j])
            i = j
        return (rank_sum - bots * (bots + 1) / 2.0) / (bots * humans)
