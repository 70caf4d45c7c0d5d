"""The pipeline core: tweets and labels in, flags out. No Kafka, no metrics server.

``botwatch consume`` wraps Kafka around it and ``botwatch evaluate`` wraps
files around it; both call the very same :class:`Detector`.

Events arrive in event-time order (the aligner sees to that in the service).
The detector is deterministic and does not depend on how the stream is cut
into batches, nor on how many instances share it: decisions happen at points
of *event time*, and the model that takes them is a function of event time.

* A tweet is folded into its account's state at once (duplicates change nothing).
* A label waits until the stream passes its time, then the account's verdict
  is applied and a training example is made of the account's features as
  they were then, never later ones.
* Event time is cut into ticks of ``tick`` seconds. At the end *E* of a tick
  the model learns every example made before *E*, in one canonical order
  (time, account, label) whichever instance made it, and then every account
  that changed during the tick is scored once, in one vectorised call, and
  the policy turns scores into flags. So the model that scores at *E* is the
  same on every instance: the one that learned exactly the examples before *E*.
* With several instances, each makes the examples of its own partitions; the
  others read them from the training log. An instance may only pass a tick end
  *E* once every other partition's owner has published that it will make no
  more examples before *E* (its clock, :attr:`Detector.example_floor`); until
  then it stops and the rest of its batch waits (:attr:`Detector.horizon`).
* Each account keeps the tick of its own change (per account, not per instance:
  a partition taken over from another instance resumes at its old owner's
  clock, and its accounts are scored where that owner would have scored them).
"""

from __future__ import annotations

import heapq
import math
import time
from array import array
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from consumer import features as F
from consumer.events import Label, Tweet
from consumer.drift import Detection, DriftMonitor
from consumer.model import Model
from consumer.policy import ACTION_NAMES, BLOCK, CLEAR, NONE, Policy
from consumer.quality import RollingQuality
from consumer.scoring import (feature_rows, idle_accounts, known_features, previous_scores, ready_scores,
                              stack_states, store_scores)

INF = float("inf")

try:  # Detector.process's fast path for the common tweet (consumer/_fold.c); process's Python body defines it
    from consumer import _fold

    _fold.bind(Tweet, F)
except (ImportError, TypeError) as e:  # not built, or built for another Tweet
    _fold_tweets, NOT_COMPILED = None, f"{type(e).__name__}: {e}"
else:
    _fold_tweets, NOT_COMPILED = _fold.fold_tweets, ""
#: Whether :meth:`Detector.process` folds runs of common tweets in C; if not, :data:`NOT_COMPILED` says why.
COMPILED = _fold_tweets is not None


def valid_tick(tick: float) -> bool:
    """Whether ``tick`` can cut event time: positive and a whole multiple of 1/1024 s. Then a tick end, ``(ts //
    tick + 1) * tick``, is exact for any event time of this era and so always later than ``ts``; with a tick
    such as 0.1 it can round down onto ``ts`` itself (60.0 for 60.0), and that tick would never be passed."""
    return 0 < tick < INF and (tick * 1024.0).is_integer()


#: Accounts scored per vectorised call. A rescan scores every account at one tick end; in one call that would
#: stack every state into one matrix (608 bytes an account: 0.6 GB at a million accounts). Scores and flags do
#: not depend on the cut (the model and the policy's evidence only change when examples are learned, and the
#: drift monitor takes its rows in any chunks).
SCORE_CHUNK = 8192


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
    learned: int = 0  # examples the model learned
    processed: int = 0  # events taken from the input; the rest wait for the horizon to move (see Detector.horizon)


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
                 tick: float = 5.0, label_ttl: float = 7 * 86400.0, account_ttl: float = 30 * 86400.0,
                 quality_window: int = 5000, drift: DriftMonitor | None = None):
        if not valid_tick(tick):
            raise ValueError(f"tick must be positive and a whole multiple of 1/1024 s (60, 5, 1, 0.25), not {tick!r}")
        self.policy = policy or Policy()
        self.model = model or Model()
        self.min_tweets = min_tweets
        self.tick = tick
        self.label_ttl = label_ttl
        self.account_ttl = account_ttl
        # the window the policy calibrates the block threshold from
        self.quality = RollingQuality(quality_window, self.policy.review_threshold, policy=self.policy)
        self.drift = drift or default_drift_monitor(self.policy.review_threshold)
        self.accounts: dict[str, array] = {}
        self.stream_time = float("-inf")  # the highest event time seen
        self.unseen_labels: dict[str, Label] = {}  # labels of accounts not seen yet, newest wins
        self.labels_dropped = 0
        self.accounts_expired = 0
        self._pending: list[tuple[float, int, Label]] = []  # labels waiting for the stream to pass them
        self._label_seq = 0
        # examples made (here, or by another instance and read from the training log) and not learned yet, in
        # their canonical order: (event time, account, label, arrival, features)
        self._unlearned: list[tuple[float, str, bool, int, dict]] = []
        self._example_seq = 0
        self.learned_through = float("-inf")  # the model has learned every example before this event time
        self.late_examples = 0  # examples that arrived after the model had passed their time (see add_example)
        self.rescans: list[float] = []  # tick ends at which every account was scored again (see _learn_before)
        self.horizon = float("inf")  # tick ends after this wait: another instance may still make examples before them
        self._dirty: dict[str, float] = {}  # accounts waiting to be scored -> the end of their tick
        # the open ticks by their end: the accounts whose last change fell in [end - tick, end). A tick is
        # closed (its accounts scored) when an event at or after its end arrives. Each account keeps the tick
        # of its own change because an instance's events can run behind its clock: a partition taken over
        # from a slower instance resumes at that instance's time, not at this one's
        self._ticks: dict[float, dict[str, array]] = {}
        self.changed: set[str] = set()  # accounts changed since the last drain_changed(), for the changelog
        self._open_until = float("inf")  # the earliest tick end with something to do: labels, examples or accounts
        self._next_expiry = float("-inf")

    # ------------------------------------------------------------------ input

    def process(self, events: Sequence[Tweet | Label]) -> BatchResult:
        """Advance through ``events`` (in event-time order); return the flags they caused.

        Stops before the first event that would pass a tick end beyond :attr:`horizon`;
        ``result.processed`` says how many events were taken (the caller offers the rest again).
        """
        result = BatchResult(processed=len(events))
        accounts, dirty, update, pending, changed = self.accounts, self._dirty, F.update, self._pending, self.changed
        fold, i, n = _fold_tweets, 0, len(events)
        while i < n:
            if fold is not None:
                # The C fold is this loop's fast path for the common event: from events[i] on, it does what the
                # body below does for each Tweet that has no tick end, expiry or label to handle first (and no
                # label waiting for its account), and returns the index of the first event it left for the body
                i = fold(self, events, i, result)
                if i == n:
                    break
            event = events[i]
            ts = event.ts
            if ts >= self._open_until and not self._pass_tick_ends(ts, result):
                result.processed = i
                break
            i += 1
            if ts >= self._next_expiry:
                self._expire(ts)
            if ts > self.stream_time:
                self.stream_time = ts
            if type(event) is Label:
                self._push_label(ts, event)
                continue
            if pending and pending[0][0] < ts:
                self._apply_labels_before(ts, result)
            state = accounts.get(event.account_id)
            if state is None:
                state = accounts[event.account_id] = F.new_state()
                if event.account_id in self.unseen_labels:  # its label waited for it: apply after this tweet
                    self._push_label(ts, self.unseen_labels.pop(event.account_id))
            if update(state, event):
                if event.account_id not in dirty:
                    self._mark_dirty(event.account_id, state, ts)
                changed.add(event.account_id)
                result.tweets += 1
            else:
                result.duplicates += 1
        return result

    def flush(self) -> BatchResult:
        """Apply the labels the stream has passed and pass the tick ends up to the end of the stream's tick
        (end of input, or caught up), as far as :attr:`horizon` allows: the accounts waiting are scored now
        rather than when later input passes their tick.

        Examples later than that tick (another instance's, or those of a training log read ahead of the
        stream, as when history is replayed with a later log) stay unlearned until the stream reaches them:
        learned now, they would score this stream's next tweets with a model that has seen their future."""
        result = BatchResult()
        if self._pass_tick_ends(self.stream_time, result):
            self._apply_labels_before(self.stream_time, result, inclusive=True)
            self._pass_tick_ends(self._stream_tick_end(), result)
        return result

    def _stream_tick_end(self) -> float:
        """The end of the tick the stream is in (minus infinity before any event)."""
        return self._end_of_tick(self.stream_time) if self.stream_time > -INF else -INF

    def _pass_tick_ends(self, ts: float, result: BatchResult) -> bool:
        """Pass every tick end with something to do up to ``ts``, in order: at each, apply the labels before it,
        learn the examples before it, score the accounts of its tick. False if stopped by the horizon."""
        while self._open_until <= ts and self._open_until != INF:
            end = self._open_until
            self._apply_labels_before(end, result)  # needs no model: done even when the horizon stops us here
            if end > self.horizon:
                return False
            quiet = self._learn_before(end, result)
            self._close_ticks_through(end, result)
            if quiet:
                result.flags.extend(self._score(*quiet, result, rescan=True))
            self._open_until = self._next_tick_end()
        return True

    def _next_tick_end(self) -> float:
        ends = [min(self._ticks)] if self._ticks else []
        if self._unlearned:
            ends.append(self._end_of_tick(self._unlearned[0][0]))
        if self._pending:
            ends.append(self._end_of_tick(self._pending[0][0]))
        return min(ends, default=float("inf"))

    def _end_of_tick(self, ts: float) -> float:
        return (ts // self.tick + 1.0) * self.tick

    # ----------------------------------------------------------------- labels

    def _push_label(self, ts: float, label: Label) -> None:
        heapq.heappush(self._pending, (ts, self._label_seq, label))
        self._label_seq += 1
        end = self._end_of_tick(ts)
        if end < self._open_until:
            self._open_until = end

    def _apply_labels_before(self, ts: float, result: BatchResult, inclusive: bool = False) -> None:
        """Apply the labels before ``ts`` (or at it: ``inclusive``): each account's verdict, and an example
        of its features as they are now for the model to learn at the end of the tick."""
        pending = self._pending
        while pending and (pending[0][0] < ts or (inclusive and pending[0][0] <= ts)):
            at, _, label = heapq.heappop(pending)
            state = self.accounts.get(label.account_id)
            if state is None:  # kept until the account appears or the label's TTL passes
                self.unseen_labels[label.account_id] = label
                continue
            x = known_features(state)
            self.add_example(at, label.account_id, label.is_bot, x)
            result.labels_applied.append(label)
            result.examples.append({"account_id": label.account_id, "label": "bot" if label.is_bot else "human",
                                    "ts": at, "features": x})
            flag = self._apply_verdict(label, state)
            if flag is not None:
                result.flags.append(flag)

    def add_example(self, ts: float, account_id: str, is_bot: bool, x: dict[str, float]) -> None:
        """An example made at event time ``ts``, here or by another instance; learned at the end of its tick."""
        if ts < self.learned_through:  # only if an instance's clock said otherwise: learned at the next tick end
            self.late_examples += 1
        heapq.heappush(self._unlearned, (ts, account_id, is_bot, self._example_seq, x))
        self._example_seq += 1
        end = self._end_of_tick(ts)
        if end < self._open_until:
            self._open_until = end

    def _learn_before(self, end: float, result: BatchResult) -> tuple[list[str], list[array]] | None:
        """Learn every example before ``end`` in canonical order. When the model becomes ready, and each time its
        examples reach a power of two, every account is scored again at ``end``: accounts that went quiet were
        last scored by a weaker model (or none). O(accounts) a handful of times in a model's life, and derived
        from the examples alone, so every instance and every restart rescans at the same tick.

        Returns the accounts a rescan scores after the tick's own, ids and states (None if there is no rescan):
        those not waiting for a tick already, which are scored then anyway."""
        if not self._learn_examples_before(end, result):
            return None
        self.rescans.append(end)
        accounts, dirty = self.accounts, self._dirty
        if not dirty:  # (lists of what the dict holds, no pair per account: a pass over 100,000 accounts each)
            return list(accounts), list(accounts.values())
        ids = [aid for aid in accounts if aid not in dirty]
        return ids, list(map(accounts.__getitem__, ids))

    def catch_up(self, until: float) -> None:
        """Learn the examples before ``until`` without scoring anyone: after a restore, the model relearns what
        it had learned when the restored state was checkpointed, whose flags and rescans that state holds."""
        if until <= self.learned_through:
            return
        unlearned = self._unlearned
        while unlearned and unlearned[0][0] < until:
            end = self._end_of_tick(unlearned[0][0])
            if self._learn_examples_before(min(end, until), None):
                self.rescans.append(end)
        self.learned_through = until
        self._open_until = self._next_tick_end()

    def examples_known_before(self, until: float) -> int:
        """How many examples before ``until`` this detector has, learned or not (given it learned none past it)."""
        return self.model.examples + sum(1 for entry in self._unlearned if entry[0] < until)

    def _learn_examples_before(self, end: float, result: BatchResult | None) -> bool:
        """Learn the examples before ``end``; True if the model became ready or its examples reached a power of two."""
        unlearned = self._unlearned
        rescan = False
        while unlearned and unlearned[0][0] < end:
            ts, _, is_bot, _, x = heapq.heappop(unlearned)
            was_ready = self.model_ready
            score = self.learn_example(x, is_bot)
            if result is not None:
                result.drift.extend(self.drift.observe_error(score, is_bot, at=ts))
                result.learned += 1
            examples = self.model.examples
            rescan |= self.model_ready and (not was_ready or examples & (examples - 1) == 0)
        if end > self.learned_through:
            self.learned_through = end
        return rescan

    def learn_example(self, x: dict[str, float], is_bot: bool) -> float:
        """One training example, prequentially: score first, then learn. Returns the score."""
        score = self.model.score_then_learn(x, is_bot)
        self.quality.update(score, is_bot)
        return score

    def _apply_verdict(self, label: Label, state) -> dict | None:
        """The account's action after a human's verdict; a ``clear`` flag if it undoes one of ours. Only an
        account whose action changed is changed for the changelog (a bot's verdict on an account the model
        may flag changes nothing: a quarter of the bench's labels)."""
        action = int(state[F.ACTION])
        new = (NONE if action == CLEAR else action) if label.is_bot else CLEAR
        if new == action:
            return None
        state[F.ACTION] = new
        self.changed.add(label.account_id)
        if new == CLEAR and action != NONE:
            return self._flag(label.account_id, state, CLEAR, float("nan"), [], label.ts)
        return None

    # ---------------------------------------------------------------- scoring

    def _mark_dirty(self, account_id: str, state, ts: float) -> None:
        """``account_id`` changed at event time ``ts``: score it once the stream passes the end of that tick."""
        self._wait_for(account_id, state, (ts // self.tick + 1.0) * self.tick)

    def _wait_for(self, account_id: str, state, end: float) -> None:
        self._dirty[account_id] = end
        self._ticks.setdefault(end, {})[account_id] = state
        if end < self._open_until:
            self._open_until = end

    def _close_ticks_through(self, end: float, result: BatchResult) -> None:
        """Score the accounts of every open tick that ends at or before ``end``, tick by tick."""
        for tick_end in sorted(e for e in self._ticks if e <= end):
            accounts = self._ticks.pop(tick_end)
            for aid in accounts:
                del self._dirty[aid]
            self.changed.update(accounts)  # no longer waiting: a restored copy must not be scored again
            result.flags.extend(self._score(list(accounts), list(accounts.values()), result))

    def _forget_dirty(self, account_id: str) -> None:
        end = self._dirty.pop(account_id, None)
        if end is not None:
            accounts = self._ticks[end]
            del accounts[account_id]
            if not accounts:
                del self._ticks[end]
            self._open_until = self._next_tick_end()

    def _score(self, ids: list[str], states: list[array], result: BatchResult, rescan: bool = False) -> list[dict]:
        """Score the accounts ``ids`` of ``states`` (see :meth:`_score_chunk`) in chunks."""
        flags = []
        for start in range(0, len(ids), SCORE_CHUNK):
            flags += self._score_chunk(ids[start:start + SCORE_CHUNK], states[start:start + SCORE_CHUNK], result,
                                       rescan)
        return flags

    def _score_chunk(self, ids: list[str], states: list[array], result: BatchResult,
                     rescan: bool = False) -> list[dict]:
        """Score the accounts of ``ids`` (their ``states``) that are ready (enough tweets, not cleared by a human)
        and turn the scores into actions, all as arrays: per account, only the two score slots are written
        back, in C.

        A ``rescan`` (quiet accounts scored again by a model that learned more) reads the states and writes only
        the action of the accounts it flags. Its scores are not kept: the score an account keeps is the one it
        had after its last tweets, which a block needs confirmed after new tweets; kept, a rescan would rewrite
        every account of the population to the changelog each time the model's examples double (a million
        records in the bench's run). Nor are its rows fed to the drift monitor, which watches the accounts that
        tweeted, not a snapshot of the whole population. So a rescan of the linear model reads the scores alone,
        each state in place (:func:`~consumer.scoring.ready_scores`), and the rows and contributions of the few
        accounts it flags after."""
        if rescan and self.model.kind == "logreg":
            kept, scores, n, current, previous = ready_scores(states, self.min_tweets, CLEAR,
                                                              *self.model.linear_params(F.FEATURE_NAMES))
            rows = contributions = None
        else:
            S = stack_states(states)
            ready = (S[:, F.N] >= self.min_tweets) & (S[:, F.ACTION] != CLEAR)
            kept = None  # where the ready accounts are in ids and states, if not all are ready
            if not ready.all():
                kept = np.flatnonzero(ready)  # (not the lists filtered: a chunk holds up to 8,192 accounts)
                S = S[kept]
            rows = feature_rows(S)
            scores, contributions = self.model.score_with_contributions(rows, F.FEATURE_NAMES)
            n = S[:, F.N]
            current = S[:, F.ACTION]
            previous = previous_scores(S)
        if not len(scores):
            return []
        result.scored += len(scores)
        if not rescan:
            result.drift.extend(self.drift.observe_scores(rows, scores, at=self.stream_time))
        block_at, precision_at_block, support = self.quality.block_evidence
        counts = (self.model.examples_by_class[True], self.model.examples_by_class[False])
        actions = self.policy.decide_many(scores, current, counts, precision_at_block, support, block_at, previous, n)
        if not rescan:  # (a tick's accounts are in ``changed`` already: _close_ticks_through put them there)
            # the score is state too: a restored account confirms a block where this would
            store_scores(states if kept is None else [states[k] for k in kept.tolist()], scores)
        flags = []
        flagged = np.flatnonzero(actions != current)
        if not len(flagged):
            return flags
        at = (flagged if kept is None else kept[flagged]).tolist()
        if rows is None:
            rows = feature_rows(stack_states([states[k] for k in at]))
            contributions = self.model.contributions(rows, F.FEATURE_NAMES)
        else:
            rows = rows[flagged]
            contributions = None if contributions is None else contributions[flagged]
        reasons = self.model.reasons_many(rows, F.FEATURE_NAMES, contributions)
        new_actions = actions[flagged].astype(np.int64).tolist()
        for k, action, score, why in zip(at, new_actions, scores[flagged].tolist(), reasons):
            aid, state = ids[k], states[k]
            state[F.ACTION] = action
            self.changed.add(aid)  # (a rescan's account changes only here)
            flag = self._flag(aid, state, action, score, why, state[F.LAST_TS])
            if action == BLOCK:
                flag["threshold"] = block_at  # the calibrated threshold, not the lowest one allowed
            flags.append(flag)
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
        idle = idle_accounts(self.accounts, horizon)
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

    def waits_until(self, account_id: str) -> float | None:
        """The tick end at which ``account_id`` waits to be scored, or None."""
        return self._dirty.get(account_id)

    @property
    def waiting(self) -> dict[str, float]:
        """:meth:`waits_until` of every account that waits (the detector's own dict: read it, never change it)."""
        return self._dirty

    def pending_labels(self) -> list[tuple[float, Label]]:
        """Labels read but not applied yet, each with the event time it applies at: waiting for the stream,
        or for their account to appear (applied at its first tweet)."""
        return [(at, label) for at, _, label in self._pending] + [(lb.ts, lb) for lb in self.unseen_labels.values()]

    def install(self, accounts: dict[str, array], waiting: dict[str, float], stream_time: float,
                labels: list[tuple[float, Label]], learned_through: float = INF) -> None:
        """Take over restored state (a partition assigned to this instance): its accounts, those waiting to
        be scored with the tick end they wait for (where their previous owner would have scored them), its
        pending labels; ``learned_through`` is how far the previous owner's model had learned."""
        self.accounts.update(accounts)
        for account_id, end in waiting.items():
            if account_id in accounts and account_id not in self._dirty:
                self._wait_for(account_id, accounts[account_id], end)
        # a rescan this model made and the previous owner's had not: these accounts missed it. (This
        # instance cannot have passed the partition's clock, so that rescan is at most the tick it is at.)
        missed = [at for at in self.rescans if learned_through < at <= self.learned_through]
        if missed:
            for account_id, state in accounts.items():
                if account_id not in self._dirty:
                    self._mark_dirty(account_id, state, math.nextafter(missed[-1], -INF))
        if stream_time > self.stream_time:
            self.stream_time = stream_time
        for at, label in labels:
            self._push_label(at, label)

    def drop(self, account_ids, labels_of) -> None:
        """Forget accounts (a partition revoked), and the pending labels ``labels_of(label)`` selects."""
        for account_id in account_ids:
            self.accounts.pop(account_id, None)
            self._forget_dirty(account_id)
            self.changed.discard(account_id)
        self._pending = [entry for entry in self._pending if not labels_of(entry[2])]
        heapq.heapify(self._pending)
        self.unseen_labels = {a: lb for a, lb in self.unseen_labels.items() if not labels_of(lb)}
        self._open_until = self._next_tick_end()

    @property
    def clock(self) -> float:
        """How far this detector is, from what it was given: it will make no example, learn none, and score
        no account before this event time. Its earliest label not applied yet and its next tick end with
        anything to do (labels it has not been given make examples no earlier than themselves, and a label
        waiting for its account applies at the account's first tweet). An instance publishes min(this, its
        next input's event time) as its clock: other instances may pass tick ends up to it (:attr:`horizon`),
        so a partition it hands over is never behind the model of the instance that takes it."""
        return min(self._pending[0][0] if self._pending else INF, self._open_until)

    def model_state(self) -> dict:
        """What a model snapshot holds: the model, its quality window, how far in event time it has learned,
        and the examples it knows of but has not learned yet."""
        return {"model": self.model, "quality": self.quality, "learned_through": self.learned_through,
                "rescans": self.rescans,
                "unlearned": [(ts, account_id, is_bot, x) for ts, account_id, is_bot, _, x in sorted(self._unlearned)]}

    def load_model_state(self, state: dict) -> None:
        self.model, self.quality, self.learned_through = state["model"], state["quality"], state["learned_through"]
        self.rescans = list(state["rescans"])
        self._unlearned = []
        for ts, account_id, is_bot, x in state["unlearned"]:
            self.add_example(ts, account_id, is_bot, x)

    @property
    def model_ready(self) -> bool:
        """Whether the model has the labels of each class the policy needs before it flags anyone."""
        return min(self.model.examples_by_class.values()) >= self.policy.min_labels

    @property
    def has_open_tick(self) -> bool:
        """Whether accounts, examples or labels that :meth:`flush` would take wait for the stream to move on."""
        bound = self._stream_tick_end()
        return (any(end <= bound for end in self._ticks) or bool(self._unlearned and self._unlearned[0][0] < bound)
                or bool(self._pending and self._pending[0][0] <= self.stream_time))

    @property
    def blocking_enabled(self) -> bool:
        """Whether the model may block: ready, and the window shows the target precision at some threshold
        (the one in force: ``quality.block_threshold_in_force``)."""
        _, precision, support = self.quality.block_evidence
        return self.model_ready and self.policy.may_block(precision, support)


#: Features whose distribution moves as accounts accumulate history, whatever the accounts do: the hour
#: entropy is unknown until an account has a day of tweets, so the population's share of known values grows
#: for days after a start or a restore. Drift of these is not watched.
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
                    settings.target_precision, settings.block_confidence, settings.min_block_tweets)
    drift = default_drift_monitor(
        settings.review_threshold, reference=settings.drift_reference, reference_size=settings.drift_window,
        window_size=settings.drift_window, check_every=settings.drift_window, warmup=settings.drift_warmup,
        psi_threshold=settings.drift_psi_threshold, ks_threshold=settings.drift_ks_threshold,
        score_psi_threshold=settings.drift_psi_threshold)
    return Detector(policy, Model(settings.model), min_tweets=settings.min_tweets, tick=settings.tick,
                    label_ttl=settings.label_ttl, account_ttl=settings.account_ttl,
                    quality_window=settings.quality_window, drift=drift)
