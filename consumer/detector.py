"""The pipeline core: tweets and labels in, flags out. No Kafka, no metrics server.

``botwatch consume`` wraps Kafka around it and ``botwatch evaluate`` wraps
files around it; both call the very same :class:`Detector`.

Per batch (:meth:`Detector.process`):

1. fold each tweet into its account's state (duplicates change nothing);
2. apply the labels whose time the tweet stream has passed (the watermark):
   score the labelled account first (prequential quality), then learn;
3. score every account the batch touched, once, in one vectorised call;
4. ask the policy for each account's action and emit a flag where it changed.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from consumer import features as F
from consumer.events import Label, Tweet
from consumer.model import Model
from consumer.policy import ACTION_NAMES, BLOCK, CLEAR, NONE, Policy
from consumer.quality import RollingQuality


@dataclass
class BatchResult:
    """What one batch produced, for the sinks and the metrics."""

    flags: list[dict] = field(default_factory=list)
    tweets: int = 0
    duplicates: int = 0
    labels_applied: list[Label] = field(default_factory=list)
    scored: int = 0


class Detector:
    """Per-account state, the model and the policy, advanced one batch at a time.

    Parameters
    ----------
    policy
        Thresholds and the evidence needed to flag and to block.
    model
        The River model of record (default: a fresh logistic regression).
    min_tweets
        Tweets an account needs before it is scored.
    label_ttl
        Seconds of event time a label for a never-seen account is kept.
    account_ttl
        Seconds of event time after its last tweet an idle account is dropped.
    quality_window
        Labels the rolling quality figures cover.
    """

    def __init__(self, policy: Policy | None = None, model: Model | None = None, min_tweets: int = 5,
                 label_ttl: float = 7 * 86400.0, account_ttl: float = 30 * 86400.0, quality_window: int = 1000):
        self.policy = policy or Policy()
        self.model = model or Model()
        self.min_tweets = min_tweets
        self.label_ttl = label_ttl
        self.account_ttl = account_ttl
        self.quality = RollingQuality(quality_window, self.policy.review_threshold, self.policy.block_threshold)
        self.accounts: dict[str, object] = {}
        self.watermark = float("-inf")  # the highest tweet event time seen
        self._pending: list[tuple[float, int, Label]] = []  # labels waiting for the watermark
        self.unseen_labels: dict[str, Label] = {}  # labels of accounts not seen yet, newest wins
        self._label_seq = 0
        self._next_expiry = float("-inf")
        self.labels_dropped = 0
        self.accounts_expired = 0

    # ------------------------------------------------------------------ input

    def add_label(self, label: Label) -> None:
        """Queue a label; it is applied once the tweet stream's event time passes ``label.ts``."""
        heapq.heappush(self._pending, (label.ts, self._label_seq, label))
        self._label_seq += 1

    def process(self, tweets: Iterable[Tweet]) -> BatchResult:
        """Advance by one batch of tweets; return the flags it caused."""
        result = BatchResult()
        accounts = self.accounts
        dirty: dict[str, object] = {}
        watermark = self.watermark
        update = F.update
        for tweet in tweets:
            state = accounts.get(tweet.account_id)
            if state is None:
                state = accounts[tweet.account_id] = F.new_state()
                if tweet.account_id in self.unseen_labels:
                    self.add_label(self.unseen_labels.pop(tweet.account_id))
            if update(state, tweet):
                dirty[tweet.account_id] = state
                result.tweets += 1
                if tweet.ts > watermark:
                    watermark = tweet.ts
            else:
                result.duplicates += 1
        self.watermark = watermark

        result.flags.extend(self._apply_due_labels(result))
        if dirty:
            result.flags.extend(self._score(dirty, result))
        if watermark >= self._next_expiry:
            self._expire()
        return result

    # ----------------------------------------------------------------- labels

    def _apply_due_labels(self, result: BatchResult) -> list[dict]:
        flags = []
        while self._pending and self._pending[0][0] <= self.watermark:
            _, _, label = heapq.heappop(self._pending)
            state = self.accounts.get(label.account_id)
            if state is None:  # kept until the account appears or the label's TTL passes
                self.unseen_labels[label.account_id] = label
                continue
            x = F.feature_dict(F.feature_row(state))
            self.quality.update(self.model.predict_one(x), label.is_bot)  # score first ...
            self.model.learn_one(x, label.is_bot)  # ... learn after
            result.labels_applied.append(label)
            flag = self._apply_verdict(label, state)
            if flag is not None:
                flags.append(flag)
        return flags

    def _apply_verdict(self, label: Label, state) -> dict | None:
        action = int(state[F.ACTION])
        if not label.is_bot and action in (NONE, CLEAR):
            state[F.ACTION] = CLEAR
            return None
        if not label.is_bot:
            state[F.ACTION] = CLEAR
            return self._flag(label.account_id, state, CLEAR, float("nan"), [], label.ts)
        if action == CLEAR:  # a later verdict says bot: the model may flag it again
            state[F.ACTION] = NONE
        return None

    # ---------------------------------------------------------------- scoring

    def _score(self, dirty: dict[str, object], result: BatchResult) -> list[dict]:
        ready = [(aid, st) for aid, st in dirty.items() if st[F.N] >= self.min_tweets and st[F.ACTION] != CLEAR]
        if not ready:
            return []
        rows = np.array([F.feature_row(st) for _, st in ready])
        scores = self.model.score_many(rows, F.FEATURE_NAMES)
        result.scored += len(ready)
        counts = (self.model.examples_by_class[True], self.model.examples_by_class[False])
        precision_at_block = self.quality.precision_at_block
        support = self.quality.block_support
        flags = []
        for (aid, state), row, score in zip(ready, rows, scores):
            current = int(state[F.ACTION])
            action = self.policy.decide(float(score), current, counts, precision_at_block, support)
            if action != current:
                state[F.ACTION] = action
                reasons = self.model.reasons(row, F.FEATURE_NAMES)
                flags.append(self._flag(aid, state, action, float(score), reasons, state[F.LAST_TS]))
        return flags

    def _flag(self, account_id: str, state, action: int, score: float, reasons: list, event_time: float) -> dict:
        return {
            "account_id": account_id,
            "action": ACTION_NAMES[action],
            "score": None if score != score else round(score, 6),
            "threshold": self.policy.threshold_of(action) if action != CLEAR else None,
            "model_version": self.model.version,
            "reasons": reasons,
            "event_time": event_time,
            "flagged_at": time.time(),  # wall clock: the only field a replay does not reproduce
            "tweets_seen": int(state[F.N]),
        }

    # ------------------------------------------------------------------ expiry

    def _expire(self) -> None:
        horizon = self.watermark - self.account_ttl
        idle = [aid for aid, st in self.accounts.items() if st[F.LAST_TS] < horizon]
        for aid in idle:
            del self.accounts[aid]
        self.accounts_expired += len(idle)
        stale = [aid for aid, label in self.unseen_labels.items() if label.ts < self.watermark - self.label_ttl]
        for aid in stale:
            del self.unseen_labels[aid]
        self.labels_dropped += len(stale)
        self._next_expiry = self.watermark + min(self.account_ttl, 3600.0)

    @property
    def blocking_enabled(self) -> bool:
        counts = (self.model.examples_by_class[True], self.model.examples_by_class[False])
        return min(counts) >= self.policy.min_labels and self.policy.may_block(
            self.quality.precision_at_block, self.quality.block_support)
