"""The pipeline core: tweets and labels in, flags out. No Kafka, no metrics server.

``botwatch consume`` wraps Kafka around it and ``botwatch evaluate`` wraps
files around it; both call the very same :class:`Detector`.

Events arrive in event-time order (the aligner sees to that in the service).
The detector is deterministic and does not depend on how the stream is cut
into batches: decisions happen at points of *event time*, not of batches.

* A tweet is folded into its account's state at once (duplicates change nothing).
* A label waits until the stream passes its time, then the account is scored
  with the current model (prequential quality) and the model learns from the
  account's features as they were then, never from later ones.
* Event time is cut into ticks of ``tick`` seconds. An account that changes
  waits for the end of the tick of that change; when the stream passes it,
  every account waiting for that tick is scored once, in one vectorised call,
  and the policy turns scores into flags. (Per account, not per instance: a
  partition taken over from another instance may run behind or ahead of this
  one's stream, and its accounts are scored where their old owner would have.)
"""

from __future__ import annotations

import heapq
import math
import time
from array import array
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from consumer import features as F
from consumer.events import Label, Tweet
from consumer.drift import Detection, DriftMonitor
from consumer.feature_matrix import features_of, stack
from consumer.model import Model
from consumer.policy import ACTION_NAMES, CLEAR, NONE, Policy
from consumer.quality import RollingQuality


@dataclass
class BatchResult:
    """What one call produced, for the sinks and the metrics."""

    flags: list[dict] = field(default_factory=list)
    tweets: int = 0
    duplicates: int = 0
    labels_applied: list[Label] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)  # training examples, for the training log
    drift: list[Detection] = field(default_factory=list)
    scored: int = 0


class Detector:
    """Per-account state, the model and the policy, advanced in event time.

    Parameters
    ----------
    policy
        Thresholds and the evidence needed to flag and to block.
    model
        The River model of record (default: a fresh logistic regression).
    min_tweets
        Tweets an account needs before it is scored.
    tick
        Seconds of event time between scorings of the accounts that changed.
    label_ttl
        Seconds of event time a label for a never-seen account is kept.
    account_ttl
        Seconds of event time after its last tweet an idle account is dropped.
    quality_window
        Labels the rolling quality figures cover.
    drift
        The drift monitor fed with every scored batch and every applied label.

    Example
    -------
    >>> from consumer.events import Tweet
    >>> d = Detector(min_tweets=1)
    >>> r = d.process([Tweet(str(i), "7", 1e9 + 60 * i, text="hi") for i in range(3)])
    >>> r.tweets, len(d.accounts)
    (3, 1)
    """

    def __init__(self, policy: Policy | None = None, model: Model | None = None, min_tweets: int = 1,
                 tick: float = 60.0, label_ttl: float = 7 * 86400.0, account_ttl: float = 30 * 86400.0,
                 quality_window: int = 1000, drift: DriftMonitor | None = None):
        self.policy = policy or Policy()
        self.model = model or Model()
        self.min_tweets = min_tweets
        self.tick = tick
        self.label_ttl = label_ttl
        self.account_ttl = account_ttl
        self.quality = RollingQuality(quality_window, self.policy.review_threshold, self.policy.block_threshold)
        self.drift = drift or default_drift_monitor(self.policy.review_threshold)
        self.accounts: dict[str, array] = {}
        self.stream_time = float("-inf")  # the highest event time seen
        self.unseen_labels: dict[str, Label] = {}  # labels of accounts not seen yet, newest wins
        self.labels_dropped = 0
        self.accounts_expired = 0
        self._pending: list[tuple[float, int, Label]] = []  # labels waiting for the stream to pass them
        self._label_seq = 0
        self._dirty: dict[str, array] = {}  # accounts touched in an open tick
        # the open ticks by their end: the accounts whose last change fell in [end - tick, end). A tick is
        # closed (its accounts scored) when an event at or after its end arrives. Each account keeps the tick
        # of its own change because an instance's events can run behind its clock: a partition taken over
        # from a slower instance resumes at that instance's time, not at this one's
        self._ticks: dict[float, dict[str, array]] = {}
        self.changed: set[str] = set()  # accounts changed since the last drain_changed(), for the changelog
        self._tick_end = float("-inf")  # end of the tick this instance's stream is in
        self._open_until = float("inf")  # the earliest end of an open tick
        self._next_expiry = float("-inf")

    # ------------------------------------------------------------------ input

    def process(self, events: Iterable[Tweet | Label]) -> BatchResult:
        """Advance through ``events`` (in event-time order); return the flags they caused."""
        result = BatchResult()
        accounts, dirty, update, pending, changed = self.accounts, self._dirty, F.update, self._pending, self.changed
        ticks, tick, unseen, new_state = self._ticks, self.tick, self.unseen_labels, F.new_state
        tweets = duplicates = 0
        # Once per event, so the common case (a tweet inside the open tick) is kept to one comparison with the
        # nearest of the tick boundary and the earliest open tick's end, and the stream time is kept in a local;
        # self.stream_time is brought up to date before anything that may read it.
        stream_time = self.stream_time
        horizon = min(self._tick_end, self._open_until)
        for event in events:
            ts = event.ts
            if ts >= horizon:
                self.stream_time = stream_time
                if ts >= self._tick_end:
                    self._apply_labels_before(self._tick_end, result,
                                              dirty_at=math.nextafter(self._tick_end, -math.inf))
                    self._tick_end = (ts // tick + 1.0) * tick
                    if ts >= self._next_expiry:
                        self._expire(ts)
                while ts >= self._open_until:
                    end = self._open_until
                    self._apply_labels_before(end, result, dirty_at=math.nextafter(end, -math.inf))
                    self._close_ticks_through(end, result)
                horizon = min(self._tick_end, self._open_until)
            if ts > stream_time:
                stream_time = ts
            if type(event) is Label:
                heapq.heappush(pending, (ts, self._label_seq, event))
                self._label_seq += 1
                continue
            if pending and pending[0][0] < ts:
                self.stream_time = stream_time
                self._apply_labels_before(ts, result)
                horizon = min(self._tick_end, self._open_until)
            account_id = event.account_id
            state = accounts.get(account_id)
            if state is None:
                state = accounts[account_id] = new_state()
                if account_id in unseen:  # its label waited for it: apply after this tweet
                    label = unseen.pop(account_id)
                    heapq.heappush(pending, (ts, self._label_seq, label))
                    self._label_seq += 1
            if update(state, event):
                if account_id not in dirty:  # _mark_dirty, written out
                    end = (ts // tick + 1.0) * tick
                    dirty[account_id] = state
                    waiting = ticks.get(end)
                    if waiting is None:
                        waiting = ticks[end] = {}
                    waiting[account_id] = state
                    if end < self._open_until:
                        self._open_until = end
                        if end < horizon:
                            horizon = end
                changed.add(account_id)
                tweets += 1
            else:
                duplicates += 1
        self.stream_time = stream_time
        result.tweets += tweets
        result.duplicates += duplicates
        return result

    def flush(self) -> BatchResult:
        """Apply the labels the stream has passed and close the open tick (end of input, or caught up)."""
        result = BatchResult()
        self._apply_labels_before(self.stream_time, result, inclusive=True)
        self._close_ticks_through(float("inf"), result)
        return result

    # ----------------------------------------------------------------- labels

    def _apply_labels_before(self, ts: float, result: BatchResult, inclusive: bool = False,
                             dirty_at: float | None = None) -> None:
        """Apply the labels before ``ts`` (or at it: ``inclusive``); the accounts a rescan marks are scored
        with the tick of ``dirty_at`` (default ``ts``)."""
        pending = self._pending
        while pending and (pending[0][0] < ts or (inclusive and pending[0][0] <= ts)):
            _, _, label = heapq.heappop(pending)
            state = self.accounts.get(label.account_id)
            if state is None:  # kept until the account appears or the label's TTL passes
                self.unseen_labels[label.account_id] = label
                continue
            x = F.feature_dict(F.feature_row(state))
            was_ready = self.model_ready
            score = self.learn_example(x, label.is_bot)
            result.drift.extend(self.drift.observe_error(score, label.is_bot, at=label.ts))
            examples = self.model.examples
            if self.model_ready and (not was_ready or examples & (examples - 1) == 0):
                # accounts that went quiet were last scored by a weaker model (or none): look at everyone
                # again when the model becomes ready and each time its examples reach a power of two,
                # O(accounts) a handful of times in a model's life. Derived from the model alone, so a
                # restored detector rescans exactly where the uninterrupted one did.
                at = ts if dirty_at is None else dirty_at
                for aid, st in self.accounts.items():
                    if aid not in self._dirty:
                        self._mark_dirty(aid, st, at)
            result.labels_applied.append(label)
            result.examples.append({"account_id": label.account_id, "label": "bot" if label.is_bot else "human",
                                    "ts": label.ts, "features": x})
            flag = self._apply_verdict(label, state)
            if flag is not None:
                result.flags.append(flag)

    def learn_example(self, x: dict[str, float], is_bot: bool) -> float:
        """One training example, prequentially: score first, then learn. Returns the score."""
        score = self.model.predict_one(x)
        self.quality.update(score, is_bot)
        self.model.learn_one(x, is_bot)
        return score

    def _apply_verdict(self, label: Label, state) -> dict | None:
        self.changed.add(label.account_id)
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

    def _mark_dirty(self, account_id: str, state, ts: float) -> None:
        """``account_id`` changed at event time ``ts``: score it once the stream passes the end of that tick."""
        end = (ts // self.tick + 1.0) * self.tick
        self._dirty[account_id] = state
        self._ticks.setdefault(end, {})[account_id] = state
        if end < self._open_until:
            self._open_until = end

    def _close_ticks_through(self, end: float, result: BatchResult) -> None:
        """Score the accounts of every open tick that ends at or before ``end``, tick by tick."""
        for tick_end in sorted(e for e in self._ticks if e <= end):
            accounts = self._ticks.pop(tick_end)
            for aid in accounts:
                del self._dirty[aid]
            result.flags.extend(self._score(accounts, result))
        self._open_until = min(self._ticks, default=float("inf"))

    def _forget_dirty(self, account_id: str) -> None:
        if self._dirty.pop(account_id, None) is not None:
            for end in [e for e, accounts in self._ticks.items() if accounts.pop(account_id, None) is not None]:
                if not self._ticks[end]:
                    del self._ticks[end]
            self._open_until = min(self._ticks, default=float("inf"))

    def _score(self, dirty: dict[str, array], result: BatchResult) -> list[dict]:
        # On a sparse stream nearly every event makes a row here, so rows are selected, scored and decided on
        # as numpy arrays; Python only runs per account whose action changes.
        if not dirty:
            return []
        ids = list(dirty)
        S = stack(list(dirty.values()))
        ready = (S[:, F.N] >= self.min_tweets) & (S[:, F.ACTION] != CLEAR)
        if not ready.all():
            if not ready.any():
                return []
            keep = np.flatnonzero(ready)
            S = S[keep]
            ids = [ids[i] for i in keep]
        rows = features_of(S)
        scores = self.model.score_many(rows, F.FEATURE_NAMES)
        result.scored += len(ids)
        result.drift.extend(self.drift.observe_scores(rows, scores, at=self.stream_time))
        counts = (self.model.examples_by_class[True], self.model.examples_by_class[False])
        current = S[:, F.ACTION]
        actions = self.policy.decide_many(scores, current, counts, self.quality.precision_at_block,
                                          self.quality.block_support)
        flags = []
        for i in np.flatnonzero(actions != current).tolist():
            aid, action = ids[i], int(actions[i])
            state = dirty[aid]
            state[F.ACTION] = action
            self.changed.add(aid)
            reasons = self.model.reasons(rows[i], F.FEATURE_NAMES)
            flags.append(self._flag(aid, state, action, float(scores[i]), reasons, state[F.LAST_TS]))
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

    def _expire(self, now: float) -> None:
        """Drop accounts idle for ``account_ttl`` and labels that waited ``label_ttl`` (an O(accounts) scan,
        run at most once per hour of event time)."""
        horizon = now - self.account_ttl
        idle = [aid for aid, st in self.accounts.items() if st[F.LAST_TS] < horizon]
        for aid in idle:
            del self.accounts[aid]
            self._forget_dirty(aid)
            self.changed.add(aid)  # the changelog gets a tombstone
        self.accounts_expired += len(idle)
        stale = [aid for aid, label in self.unseen_labels.items() if label.ts < now - self.label_ttl]
        for aid in stale:
            del self.unseen_labels[aid]
        self.labels_dropped += len(stale)
        self._next_expiry = now + min(self.account_ttl, 3600.0)

    # --------------------------------------------------------- state handover

    def drain_changed(self) -> set[str]:
        """Accounts changed since the last call (their state, or None if dropped, goes to the changelog)."""
        changed, self.changed = self.changed, set()
        return changed

    def is_dirty(self, account_id: str) -> bool:
        return account_id in self._dirty

    def pending_labels(self) -> list[Label]:
        """Labels read but not applied yet: waiting for the stream, or for their account to appear."""
        return [label for _, _, label in self._pending] + list(self.unseen_labels.values())

    def install(self, accounts: dict[str, array], dirty: set[str], stream_time: float, labels: list[Label]) -> None:
        """Take over restored state (a partition assigned to this instance)."""
        self.accounts.update(accounts)
        for account_id in dirty:
            if account_id in accounts and account_id not in self._dirty:
                # scored at the end of the tick its partition's clock was in (where its previous owner would
                # have scored it), whether this instance's own stream is behind that or ahead of it
                self._mark_dirty(account_id, accounts[account_id], stream_time)
        if stream_time > self.stream_time:
            self.stream_time = stream_time
            self._tick_end = (stream_time // self.tick + 1.0) * self.tick
        for label in labels:
            heapq.heappush(self._pending, (label.ts, self._label_seq, label))
            self._label_seq += 1

    def drop(self, account_ids, labels_of) -> None:
        """Forget accounts (a partition revoked), and the pending labels ``labels_of(label)`` selects."""
        for account_id in account_ids:
            self.accounts.pop(account_id, None)
            self._forget_dirty(account_id)
            self.changed.discard(account_id)
        self._pending = [entry for entry in self._pending if not labels_of(entry[2])]
        heapq.heapify(self._pending)
        self.unseen_labels = {a: lb for a, lb in self.unseen_labels.items() if not labels_of(lb)}

    @property
    def model_ready(self) -> bool:
        """Whether the model has the labels of each class the policy needs before it flags anyone."""
        return min(self.model.examples_by_class.values()) >= self.policy.min_labels

    @property
    def has_open_tick(self) -> bool:
        """Whether accounts or labels wait for the stream to move on (see :meth:`flush`)."""
        return bool(self._dirty) or bool(self._pending and self._pending[0][0] <= self.stream_time)

    @property
    def blocking_enabled(self) -> bool:
        counts = (self.model.examples_by_class[True], self.model.examples_by_class[False])
        return min(counts) >= self.policy.min_labels and self.policy.may_block(
            self.quality.precision_at_block, self.quality.block_support)


#: Features whose distribution moves as accounts accumulate history, whatever the accounts do:
#: the entropy of an n-tweet hour histogram grows with n. Drift of these is not watched.
HISTORY_BOUND_FEATURES = frozenset({"hour_entropy"})


def default_drift_monitor(review_threshold: float, **options) -> DriftMonitor:
    """The drift monitor of the service: every feature but the history-bound ones, after a warm-up of
    10,000 scored rows (the first rows come from accounts with almost no history yet); ``options``
    override :class:`~consumer.drift.DriftMonitor`'s parameters."""
    return DriftMonitor(F.FEATURE_NAMES, error_threshold=review_threshold,
                        monitored=[n for n in F.FEATURE_NAMES if n not in HISTORY_BOUND_FEATURES],
                        **{"warmup": 10_000, **options})


def build_detector(settings) -> Detector:
    """The detector the options describe; ``consume`` and ``evaluate`` both build theirs here."""
    policy = Policy(settings.review_threshold, settings.block_threshold, settings.min_labels,
                    settings.target_precision, settings.block_confidence)
    drift = default_drift_monitor(
        settings.review_threshold, reference=settings.drift_reference, reference_size=settings.drift_window,
        window_size=settings.drift_window, check_every=settings.drift_window, warmup=settings.drift_warmup,
        psi_threshold=settings.drift_psi_threshold, ks_threshold=settings.drift_ks_threshold,
        score_psi_threshold=settings.drift_psi_threshold)
    return Detector(policy, Model(settings.model), min_tweets=settings.min_tweets, tick=settings.tick,
                    label_ttl=settings.label_ttl, account_ttl=settings.account_ttl,
                    quality_window=settings.quality_window, drift=drift)
