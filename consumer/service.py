"""``botwatch consume``: the consume-process-produce loop, exactly-once.

The hot loop is :meth:`Service.run`: consume a batch, decode it into the
aligner, process what the aligner releases, produce flags and dead letters.

One checkpoint is one Kafka transaction (:meth:`Service._checkpoint`), and
this is its commit order, the only one there is:

1. flags, dead letters and training examples were produced into the open
   transaction as batches were processed;
2. the changelog records of every account changed since the last checkpoint,
   each partition's clock and pending labels, go to ``botwatch-state``, and
   this instance's clock record to ``botwatch-training`` (how far other
   instances may go, see :class:`~consumer.recovery.TrainingLog`);
3. ``send_offsets_to_transaction`` with the offsets of everything processed;
4. ``commit_transaction``; then ``begin_transaction`` for what follows.

Steps 3 and 4 wait for the broker (tens of milliseconds), so they run on a
worker thread while the loop goes on with the next batches
(:class:`CommitInFlight`); what those batches produce is held and goes into the
next transaction once the commit has returned. The loop starts the next
checkpoint only once that commit has returned (under load a commit can take
longer than ``--checkpoint-interval``, and waiting for it there stalled the
loop and every flag behind it); a rebalance, a model snapshot and shutdown
wait for the commit first.

A crash anywhere before step 4 aborts the whole checkpoint: readers with
``isolation.level=read_committed`` never see its flags, the changelog holds
the state as of the previous checkpoint, and the input is consumed again from
the offsets committed with it. On restart the state is restored from the
changelog and the model from its snapshot plus the training log
(:mod:`consumer.recovery`), so processing resumes exactly where the committed
checkpoint left it.

With ``--delivery at-least-once`` there is no transaction: step 4 becomes
"flush the producer, then commit the offsets". A crash between the two emits
the flags since the last commit again.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import signal
import socket
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout
from typing import NamedTuple

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from consumer.align import Aligner
from consumer.decode import DecodeError, decode_label, decode_tweets, note_tweets, tweet_run
from consumer.detector import build_detector
from consumer.events import Label
from consumer.kafka.errors import is_transient
from consumer.metrics import Metrics
from consumer.recovery import (CLOCK_RECORD_KEY, INCARNATION_HEADER, TrainingLog, encode_clock_record,
                               restore_partitions)
from consumer.state import CLOCK_KEY, LABELS_KEY, encode_clock, encode_labels, produce_changes

log = logging.getLogger("botwatch.consume")

#: Seconds a transactional call may take. librdkafka gives up on its own after this, except where it does
#: not: from 2.10 on, ``send_offsets_to_transaction`` can block for good once the group coordinator it
#: cached went away, as in a broker restart (librdkafka issues 5456 and 5511). The call cannot be
#: cancelled, so a producer stuck in it is replaced (see :meth:`Service._transactional`).
TXN_TIMEOUT = 30.0
#: How long the watchdog waits for a transactional call: librdkafka's own timeout and a grace period.
TXN_DEADLINE = TXN_TIMEOUT + 5.0


class MissingTopic(Exception):
    """An input topic that does not exist: a configuration error, reported at start."""


class ConsumerFenced(Exception):
    """The consumer hit a fatal error: most often, after a broker restart, a static member fenced by its own
    rejoin under the same ``group.instance.id`` while the application was busy. Only a new consumer helps."""


class ProducerStuck(Exception):
    """A transactional call did not return within its timeout and a grace period."""


class TransactionWorker:
    """The thread that makes a transactional producer's calls (librdkafka can block in one past its own timeout:
    see :func:`call_with_deadline`), and whether a call is still running on it.

    >>> worker = TransactionWorker()
    >>> worker.idle
    True
    >>> worker.submit(lambda: None).result(); worker.idle
    True
    >>> worker.shutdown(wait=True)
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="txn")
        self._last: Future | None = None

    def submit(self, call, *args) -> Future:
        self._last = self._pool.submit(call, *args)
        return self._last

    @property
    def idle(self) -> bool:
        """No call is running or waiting (the calls run one at a time, in order): nothing is inside the producer."""
        return self._last is None or self._last.done()

    def shutdown(self, wait: bool) -> None:
        self._pool.shutdown(wait=wait)


class Abandoned(NamedTuple):
    """A replaced producer and the worker of its calls, kept until no call runs inside it."""

    producer: Producer
    worker: TransactionWorker


def call_with_deadline(worker: TransactionWorker | ThreadPoolExecutor, call, seconds: float) -> None:
    """Run ``call`` on ``worker`` (librdkafka releases the GIL while it waits); :class:`ProducerStuck` if it
    has not returned ``seconds`` later, in which case it never will and ``worker`` stays blocked with it.

    >>> with ThreadPoolExecutor(1) as worker:
    ...     call_with_deadline(worker, lambda: None, 1.0)
    """
    future = worker.submit(call)
    try:
        future.result(seconds)
    except FutureTimeout:
        raise ProducerStuck(f"a transactional call did not return within {seconds:.0f}s") from None

#: Longest wait (seconds) for messages to arrive when none are fetched: the latency a batch may add.
BATCH_WAIT = 0.02
#: Batches of events buffered for one partition, waiting for the others to catch up in event time, at which it
#: is paused (see Service._apply_backpressure), and at which it is resumed.
PAUSE_AT_BATCHES, RESUME_AT_BATCHES = 20, 5
#: Batches of events the aligner releases to the detector at most per loop. At the end of the input (or when a
#: lagging partition catches up) it holds everything up to the new watermark: the bench's 31,095 labels, which
#: fall after its last tweet, came out at once and held the loop for 10 to 15 s, without a checkpoint, a flag
#: or a poll of Kafka; a backlog of a day of labels would outlast max.poll.interval.ms.
RELEASE_AT_MOST_BATCHES = 5
#: Training examples after which the model is snapshotted (at the next checkpoint that reads its own back).
SNAPSHOT_EVERY = 500

# The clients' tuning. A Kafka pass-through setting ([kafka], BOTWATCH_KAFKA_*) overrides any of it; what the
# delivery guarantees rest on is set where each client is made, and the pass-through may not hold it
# (consumer.config.OWNED_KAFKA_SETTINGS).
#: The input consumer's tuning.
CONSUMER_TUNING = {
    "session.timeout.ms": 10000,  # a dead static member's partitions move on after this
    # a fetch returns once 64 KiB are there or after 10 ms, not at each of the producers' batches: at the bench's
    # half load our fetches fell from 180-360 to about 75 a second, and the broker, sharing a core with its
    # producers, took about half as long over a transaction's commit (101 to 116 ms on average, 54 and 67 in two
    # runs), the largest part of a flag's wait. It adds at most 10 ms to an event's. (At librdkafka's 500 ms,
    # while the tweets' partitions were paused (_apply_backpressure) a fetch of the others waited that long for
    # data and held the next fetch back: in batches of 20, 50,000 tweets took two minutes in
    # tests/test_scale_out.py; 3 s at 10 ms.)
    "fetch.queue.backoff.ms": 10,
    "fetch.min.bytes": 65536,
    "fetch.wait.max.ms": 10,
    "statistics.interval.ms": 5000,  # librdkafka's statistics feed the consumer-lag gauges
}
#: The output producer's tuning, with either delivery; a checkpoint writes every account changed since the last.
PRODUCER_TUNING = {"linger.ms": 5, "message.max.bytes": 16 * 1024 * 1024, "compression.type": "lz4",
                   "queue.buffering.max.messages": 1_000_000}
#: The transactional producer's tuning, added to PRODUCER_TUNING. The broker answers "concurrent transactions"
#: while the previous commit completes, and each flag waits for the next commit: librdkafka's default 100 ms
#: before retrying would cap how often we can checkpoint, and 10 ms still added to every flag's wait. The backoff
#: doubles per retry; left to double up to a second, it overshot the end of a commit that a broker under load
#: took tens of milliseconds to finish by as much again (the bench's latency p50 fell by 50 to 80 ms with 10).
TRANSACTIONAL_TUNING = {"transaction.timeout.ms": 60000,  # outlives a short broker outage
                        "retry.backoff.ms": 2, "retry.backoff.max.ms": 10}


class CommitFailed(Exception):
    """``commit_transaction`` raised ``args[0]`` (a KafkaError) after the offsets were sent."""


def send_offsets_and_commit(producer: Producer, offsets: list, group) -> None:
    """Steps 3 and 4 of a checkpoint, in this order; run on the transaction worker.

    A commit is never tried after ``send_offsets_to_transaction`` failed: it would commit the flags without
    the offsets that say their input was processed.
    """
    if offsets:
        producer.send_offsets_to_transaction(offsets, group, TXN_TIMEOUT)
    try:
        producer.commit_transaction(TXN_TIMEOUT)
    except KafkaException as e:
        raise CommitFailed(e.args[0]) from None


class CommitInFlight:
    """A transaction commit running on the worker, and the output produced while it runs.

    A transactional producer takes no messages between ``commit_transaction`` and the next
    ``begin_transaction``, so what the loop produces meanwhile is :meth:`hold`-ed and produced into the next
    transaction when the commit has returned.
    """

    def __init__(self, future, seconds: float):
        self.future, self.seconds = future, seconds
        self.started = time.monotonic()
        self.held: list[tuple[str, object, object, dict]] = []

    def hold(self, topic: str, value, key, kwargs: dict) -> None:
        self.held.append((topic, value, key, kwargs))

    @property
    def settled(self) -> bool:
        """Whether :meth:`result` would return without waiting: the commit returned, or its time is up."""
        return self.future.done() or time.monotonic() - self.started >= self.seconds

    def result(self) -> None:
        """Wait for the commit until ``seconds`` after it started; :class:`ProducerStuck` past that."""
        try:
            self.future.result(max(self.started + self.seconds - time.monotonic(), 0.0))
        except FutureTimeout:
            raise ProducerStuck(f"a transaction commit did not return within {self.seconds:.0f}s") from None


class RateLimitedLog:
    """At most one line per key per ``interval`` seconds, saying how many were held back.

    A flood of poison messages must not become a flood of log lines.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0):
        self.logger, self.interval = logger, interval
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def warn(self, key: str, fmt: str, *args) -> None:
        now = time.monotonic()
        if now - self.last.get(key, -self.interval) < self.interval:
            self.held[key] = self.held.get(key, 0) + 1
            return
        held = self.held.pop(key, 0)
        self.last[key] = now
        self.logger.warning(fmt + (f" (and {held} more like it since the last line)" if held else ""), *args)


class Service:
    """The detection service: one consumer, one transactional producer, one :class:`Detector`."""

    def __init__(self, settings, metrics: Metrics | None = None):
        self.s = settings
        self.metrics = metrics or Metrics()
        self.exactly_once = settings.delivery == "exactly-once"
        self.incarnation = uuid.uuid4().hex
        self.snapshot_key = settings.snapshot_key.encode() or None
        self.stopping = False
        self.uncommitted = False
        self.in_transaction = False
        self.committing: CommitInFlight | None = None  # the last checkpoint's commit, while it runs
        self.lost = False  # the group session expired: redo the open transaction's work (see _on_lost)
        self.detector = build_detector(settings)
        self.aligner = Aligner()
        self.paused: set[tuple[str, int]] = set()
        self.input_partitions: set[int] = set()  # every partition of the tweets topic, owned here or not
        self.waiting = False  # the detector stopped at its horizon: another instance's clock must move first
        # (event time, examples) the model must have learned before it may go on: see _restore
        self.catch_up_to: tuple[float, int] | None = None
        self.partition_of: dict[str, int] = {}  # account id -> input partition: changelog partition, revocation
        self.label_partition: dict[int, int] = {}  # id(label) -> input partition, for labels not applied yet
        self.examples_since_snapshot = 0
        self.drift_checks = 0
        self.late_examples_counted = 0  # of the detector's late_examples, what botwatch_examples_late_total has
        self.dlq_log = RateLimitedLog(log)
        # one stable identity per instance: it fences a crashed predecessor's transaction and, as a static
        # group member, takes its partitions back at once instead of after a session timeout
        instance_id = settings.transactional_id or f"{settings.group}-{socket.gethostname()}"
        self.instance_id = instance_id
        self.producer = self._new_producer()
        self.abandoned: list[Abandoned] = []  # replaced producers, maybe stuck in a call: see _replace_producer
        self.txn_worker = TransactionWorker()
        self.consumer = self._new_consumer()
        self.training = TrainingLog(settings.client_config(), settings.training_topic, self.incarnation)

    def _new_consumer(self) -> Consumer:
        return Consumer(self.s.client_config(CONSUMER_TUNING, **{
            "group.id": self.s.group,
            "group.instance.id": self.instance_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.s.offset_reset,
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "range",  # co-partitioned: tweets[p] and labels[p] go together
            "enable.partition.eof": True,  # the aligner must know when a partition has no more to give
            "stats_cb": self.metrics.on_stats,
        }))

    def _read_input_partitions(self) -> set[int]:
        """The tweets topic's partitions (every one has an owner whose clock counts, see TrainingLog.horizon)."""
        found: list = []
        self._retrying(lambda: found.append(self.consumer.list_topics(self.s.tweets_topic, timeout=30)),
                       "read the tweets topic's metadata")
        topic = found[0].topics.get(self.s.tweets_topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise MissingTopic(f"the tweets topic {self.s.tweets_topic!r} does not exist on {self.s.bootstrap}: "
                               f"create the topics first (botwatch topics create) or set --tweets-topic")
        return set(topic.partitions)

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.s.tweets_topic, self.s.labels_topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _new_producer(self) -> Producer:
        if self.exactly_once:
            return Producer(self.s.client_config({**PRODUCER_TUNING, **TRANSACTIONAL_TUNING},
                                                 **{"transactional.id": self.instance_id}))
        return Producer(self.s.client_config(PRODUCER_TUNING, **{"enable.idempotence": True}))

    def stop(self, *_args) -> None:
        self.stopping = True

    # ------------------------------------------------------------- rebalance

    def _on_assign(self, consumer, partitions) -> None:
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))
        if self.lost:  # rebuild from the last checkpoint before restoring into the detector
            self._recover_from_loss()
        self._restore([p.partition for p in partitions if p.topic == self.s.tweets_topic])
        self.aligner.assign((p.topic, p.partition) for p in partitions)
        self.input_partitions.update(p.partition for p in partitions if p.topic == self.s.tweets_topic)
        self.metrics.ready = True
        self.last_input = time.monotonic()  # idleness counts from when there is something to read
        self.metrics.accounts.set(len(self.detector.accounts))

    def _restore(self, partitions: list[int]) -> None:
        """Restore the given input partitions' state before any of their events is processed."""
        if not partitions:
            return
        states = restore_partitions(self.s.client_config(), self.s.state_topic, partitions)
        # a rebuilt model must relearn, without scoring anyone, what the restored checkpoint's model had learned
        # (never more than any restored partition's owner had: none of them is scored by a newer model)
        checkpoints = [(r.learned_through, r.examples_learned) for r in states.values() if r.learned_through > -math.inf]
        if checkpoints and min(checkpoints)[0] > self.detector.learned_through:
            self.catch_up_to = min(checkpoints + ([self.catch_up_to] if self.catch_up_to else []))
        for partition, restored in states.items():
            for account_id in restored.accounts:
                self.partition_of[account_id] = partition
            for _, label in restored.pending_labels:
                self.label_partition[id(label)] = partition
            self.detector.install(restored.accounts, restored.dirty, restored.stream_time, restored.pending_labels,
                                  restored.learned_through)

    def _on_revoke(self, consumer, partitions) -> None:
        log.info("revoked %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))
        if self.in_transaction:
            self._checkpoint()
        self._forget(partitions)

    def _on_lost(self, consumer, partitions) -> None:
        """The group session expired (the coordinator was unreachable for session.timeout.ms): this
        generation's offsets can no longer be committed and the partitions may be another member's already.
        Commit nothing, and return at once (librdkafka heartbeats with a stale identity while this callback
        runs, and a static member is then fenced for good); the loop redoes the open transaction's work."""
        log.warning("lost %s: the group session expired; redoing the work since the last checkpoint",
                    ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))
        self.lost = True
        self._forget(partitions)

    def _recover_from_loss(self) -> None:
        """After a lost session: rebuild from the last checkpoint; the partitions come back through _on_assign."""
        self._abort_and_rebuild()
        self.producer.begin_transaction()
        self.lost = False

    def _abort_and_rebuild(self) -> None:
        """Abort the open transaction (by fencing the producer where it cannot: see _abort) and rebuild the model
        from its snapshot and log; account state is restored per partition by the caller (the recovery module's
        job)."""
        self._settle_commit()
        self._abort()
        self.training.close()
        self.detector = build_detector(self.s)
        self.late_examples_counted = 0
        self.training = TrainingLog(self.s.client_config(), self.s.training_topic, self.incarnation)
        self.training.restore(self.detector, self.s.snapshot_dir, self.snapshot_key)
        self.aligner = Aligner()
        self.waiting = False
        self.catch_up_to = None
        self.partition_of.clear()
        self.label_partition.clear()
        self.uncommitted = False

    def _forget(self, partitions) -> None:
        """Drop the state of partitions this instance no longer owns."""
        revoked = {p.partition for p in partitions if p.topic == self.s.tweets_topic}
        gone = [a for a, p in self.partition_of.items() if p in revoked]
        self.detector.drop(gone, lambda label: self.label_partition.get(id(label)) in revoked)
        for account_id in gone:
            del self.partition_of[account_id]
        # what was fetched but not released is consumed again by the partitions' next owner
        self.aligner.revoke((p.topic, p.partition) for p in partitions)
        # librdkafka keeps a partition's pause flag across a rebalance: a paused partition assigned
        # again (here or, after a later rebalance, back to this instance) would never be fetched
        revoked_paused = self.paused.intersection((p.topic, p.partition) for p in partitions)
        if revoked_paused:
            self.consumer.resume([TopicPartition(*key) for key in revoked_paused])
        self.paused.difference_update(revoked_paused)
        self.metrics.ready = bool(self.aligner.buffers)
        for p in partitions:
            try:
                self.metrics.lag.remove(p.topic, str(p.partition))
            except KeyError:
                pass

    # -------------------------------------------------------------- the loop

    def run(self) -> int:
        s, m = self.s, self.metrics
        self.training.restore(self.detector, s.snapshot_dir, self.snapshot_key)
        m.model_info.info({"kind": self.detector.model.kind, "version": self.detector.model.version})
        m.target_precision.set(s.target_precision)
        m.block_threshold.set(self.detector.quality.block_threshold_in_force)  # (the series exists from the start)
        m.declare_drift_series(self.detector.drift.monitored)
        if self.exactly_once:
            self.producer.init_transactions(60)  # also aborts what a crashed predecessor left open
            self.producer.begin_transaction()
            self.in_transaction = True
        self.input_partitions = self._read_input_partitions()
        self._subscribe()
        last_checkpoint = self.last_input = time.monotonic()
        batch_wait = min(s.poll_timeout, BATCH_WAIT)
        try:
            while not self.stopping:
                if self.lost:
                    self._recover_from_loss()
                # what is fetched already; when nothing is, what arrives within BATCH_WAIT. A full batch is not
                # waited for: below batch_size / poll_timeout events/s (5,000/s with the defaults) that held
                # every event back for up to the poll timeout before it was even decoded. Nor is each message
                # taken alone as it comes: per-batch work (release, scoring when caught up) would then run
                # for every message. Stopped at the horizon, what we wait for is another instance's clock on
                # the training log (polled below), not input.
                msgs = self.consumer.consume(s.batch_size, 0)
                if not msgs and not self.waiting:
                    msgs = self.consumer.consume(s.batch_size, batch_wait)
                m.last_poll.set_to_current_time()
                started = time.perf_counter()
                try:
                    ingested = self._ingest(msgs)
                except ConsumerFenced as e:
                    log.error("fatal consumer error (%s): replacing the consumer and rebuilding state from the "
                              "last checkpoint", e.args[0])
                    self._replace_consumer()
                    continue
                if ingested or not self.metrics.ready:  # idle only counts once partitions are ours
                    self.last_input = time.monotonic()
                self.training.poll(self.detector, s.poll_timeout if self.waiting else 0)
                self.detector.horizon = self._horizon()
                released = self.aligner.release(RELEASE_AT_MOST_BATCHES * s.batch_size)
                caught_up = self.aligner.watermark == float("inf") and not any(self.aligner.buffers.values())
                if released or (caught_up and self.detector.has_open_tick):
                    self._process(released, caught_up)
                    if released:  # what the aligner held back is input too: idle counts from when it is done
                        self.last_input = time.monotonic()
                    m.batch_seconds.observe(time.perf_counter() - started)
                    m.batch_size.observe(len(released))
                    self.uncommitted = True
                if self.committing is not None and self.committing.settled:
                    self._finish_commit()
                self._apply_backpressure()
                if (not msgs and not self.waiting and s.exit_when_idle and self.metrics.ready
                        and time.monotonic() - self.last_input > s.exit_when_idle):
                    log.info("no input for %.1fs: exiting", s.exit_when_idle)
                    break
                if (self.uncommitted and not self.lost and self.committing is None
                        and time.monotonic() - last_checkpoint >= s.checkpoint_interval):
                    self._checkpoint(wait=False)
                    last_checkpoint = time.monotonic()
            if self.uncommitted and not self.lost:
                self._checkpoint()
            else:
                self._finish_commit()
            self._snapshot(force=True)
        finally:
            self.in_transaction = False  # close() revokes: nothing more may be committed then
            self.consumer.close()
            self.training.close()
            self.producer.flush(10)
            self.txn_worker.shutdown(wait=not self.abandoned)
        return 0

    def _ingest(self, msgs) -> int:
        """Decode what was fetched into the aligner; returns how many messages carried data. Runs of one
        partition's common tweets are decoded and added at once, in C (:func:`~consumer.decode.tweet_run`); this
        loop takes each other message: end-of-partition events, errors, labels, what the C declines."""
        aligner, tweets_topic, max_bytes = self.aligner, self.s.tweets_topic, self.s.max_message_bytes
        add = aligner.add
        n_data = i = 0
        fetched = time.monotonic()  # producers may stamp messages with event time: latency counts from here
        while i < len(msgs):
            run = tweet_run(msgs, i, tweets_topic, max_bytes, fetched)
            if run is not None:
                end, key, entries, times = run
                aligner.extend(key, entries, times)
                n_data += end - i
                i = end
                continue
            msg = msgs[i]
            i += 1
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    aligner.end_of_partition((msg.topic(), msg.partition()))
                elif err.fatal() or err.code() == KafkaError._FATAL:
                    raise ConsumerFenced(err)
                else:
                    log.warning("consume error: %s", err)
                continue
            n_data += 1
            topic = msg.topic()
            try:
                if topic == tweets_topic:
                    tweets = decode_tweets(msg.value(), max_bytes)
                    add((topic, msg.partition()), msg.offset(), tweets[0].ts, (tweets, fetched))
                else:
                    label = decode_label(msg.value())
                    add((topic, msg.partition()), msg.offset(), label.ts, label)
            except DecodeError as e:
                add((topic, msg.partition()), msg.offset(), None, (e, msg))
        return n_data

    def _horizon(self) -> float:
        """How far the detector may go: to the other instances' clocks, once it has caught up."""
        if self.catch_up_to is not None:
            until, examples = self.catch_up_to
            if self.detector.examples_known_before(until) < examples:
                return -math.inf  # the restored checkpoint's model learned examples not read yet: wait for them
            self.detector.catch_up(until)
            self.catch_up_to = None
        return self.training.horizon(self.input_partitions, self._owned())

    def _owned(self) -> set[int]:
        return {p for t, p in self.aligner.buffers if t == self.s.tweets_topic}

    def _clock(self) -> float:
        """This instance's clock for the partitions it owns: no example, and no scoring, before it."""
        return min(self.detector.clock, self.aligner.floor)

    def _apply_backpressure(self) -> None:
        """Pause partitions that ran far ahead in event time; resume them once drained.

        Only far ahead: librdkafka's pause() drops what it has prefetched for the partition, and resume() fetches
        it again. Paused past 5 batches, the ordinary unevenness of fetches (a megabyte of one partition at a
        time) paused partitions 60 times in the bench's run, and the consumer sat idle waiting for the data it
        had thrown away: the run took 40 s instead of 28."""
        limit = PAUSE_AT_BATCHES * self.s.batch_size
        for key in list(self.aligner.buffers):
            size = self.aligner.buffered(key)
            if size > limit and key not in self.paused:
                self.consumer.pause([TopicPartition(*key)])
                self.paused.add(key)
            elif size <= RESUME_AT_BATCHES * self.s.batch_size and key in self.paused:
                self.consumer.resume([TopicPartition(*key)])
                self.paused.discard(key)

    def _process(self, released, caught_up: bool) -> None:
        s, m, detector, partition_of = self.s, self.metrics, self.detector, self.partition_of
        events = []
        for _, _, item in released:  # an item is a Label, (tweets, fetched at) or (DecodeError, message)
            if type(item) is tuple:
                if type(item[0]) is list:
                    events += item[0]
            else:
                events.append(item)
        result = detector.process(events)
        self.waiting = result.processed < len(events)
        if self.waiting:  # stopped at the horizon: the rest goes back to the aligner
            released = self._hold_back(released, result.processed)
        elif caught_up:  # nothing more to wait for: decide now rather than at the next tick
            tail = detector.flush()
            result.flags.extend(tail.flags)
            result.labels_applied.extend(tail.labels_applied)
            result.examples.extend(tail.examples)
            result.drift.extend(tail.drift)
            result.learned += tail.learned
            self.waiting = detector.has_open_tick  # the horizon stopped the flush

        fetched_at = {}
        n_tweet_msgs, others = note_tweets(released, partition_of, fetched_at)
        n_label_msgs = 0
        for (topic, partition), _, item in others:
            if type(item) is not tuple:
                n_label_msgs += 1
                self.label_partition[id(item)] = partition
            else:  # (DecodeError, message)
                n_tweet_msgs += topic == s.tweets_topic
                n_label_msgs += topic != s.tweets_topic
                self._dead_letter(item[1], item[0].reason, str(item[0]))
        m.events_consumed.labels(s.tweets_topic).inc(n_tweet_msgs)
        m.events_consumed.labels(s.labels_topic).inc(n_label_msgs)
        self._emit(result, fetched_at)

    def _hold_back(self, released: list, processed: int) -> list:
        """Give the aligner back what the detector did not take (its first ``processed`` events were);
        returns the part of ``released`` that was taken (a message of several tweets may be split)."""
        seen = 0
        for n, (key, offset, item) in enumerate(released):
            size = 1 if isinstance(item, Label) else 0 if isinstance(item[0], DecodeError) else len(item[0])
            if seen + size > processed:
                done = processed - seen
                if not done:
                    self.aligner.hold_back(n)
                    return released[:n]
                tweets, fetched = item  # committable again from this message: its taken tweets are duplicates then
                self.aligner.hold_back(n, first=(tweets[done:], fetched))
                return released[:n] + [(key, offset, (tweets[:done], fetched))]
            seen += size
        return released

    def _emit(self, result, fetched_at: dict) -> None:
        s, m, produce = self.s, self.metrics, self._produce
        now = time.monotonic()
        by_action: dict[str, int] = {}  # the counters once per batch: a start-up flags thousands a second
        for flag in result.flags:
            produce(s.flags_topic, orjson.dumps(flag), flag["account_id"].encode())
            by_action[flag["action"]] = by_action.get(flag["action"], 0) + 1
            fetched = fetched_at.get(flag["account_id"])
            if fetched is not None:
                m.flag_latency.observe(now - fetched)
            if s.print_flags:
                print(f"{flag['action']:>6}  account {flag['account_id']}  score {flag['score']}  "
                      f"tweets {flag['tweets_seen']}  reasons {', '.join(r['feature'] for r in flag['reasons'])}",
                      flush=True)
        for action, flags in by_action.items():
            m.flags.labels(action).inc(flags)
        headers = [(INCARNATION_HEADER, self.incarnation.encode())]
        for example in result.examples:
            produce(s.training_topic, orjson.dumps(example), example["account_id"].encode(), headers=headers,
                    on_delivery=self.training.on_own_delivery)
        self.examples_since_snapshot += len(result.examples)
        if self.committing is None:  # a commit serves the delivery reports itself
            self.producer.poll(0)
        self._observe(result)

    def _observe(self, result) -> None:
        m, d = self.metrics, self.detector
        for detection in result.drift:
            m.drift_detections.labels(detection.detector, detection.feature).inc()
            log.warning("drift detected: %s", orjson.dumps(detection.as_dict()).decode())
        if d.drift.checks != self.drift_checks:  # the gauges only move at a check
            self.drift_checks = d.drift.checks
            for name, value in d.drift.feature_psi.items():
                if value == value:
                    m.feature_psi.labels(name).set(value)
            if d.drift.score_psi == d.drift.score_psi:
                m.score_psi.set(d.drift.score_psi)
        m.tweets.inc(result.tweets)
        m.events_duplicate.inc(result.duplicates)
        if result.labels_applied:
            m.last_label_time.set_to_current_time()
        for label in result.labels_applied:
            m.labels.labels("bot" if label.is_bot else "human").inc()
        m.accounts.set(len(d.accounts))
        if result.learned:  # (the example counts last: a scrape that reads them final reads the rest final too)
            q = d.quality
            m.precision.set(q.precision)
            m.recall.set(q.recall)
            m.roc_auc.set(q.roc_auc)
            m.precision_at_block.set(q.precision_at_block)
            m.block_support.set(q.block_support)
            m.block_threshold.set(q.block_threshold_in_force)
            m.model_examples.labels("bot").set(d.model.examples_by_class[True])
            m.model_examples.labels("human").set(d.model.examples_by_class[False])
        m.blocking_enabled.set(1 if d.blocking_enabled else 0)
        if d.late_examples != self.late_examples_counted:  # (made here or read from the training log)
            m.examples_late.inc(d.late_examples - self.late_examples_counted)
            self.late_examples_counted = d.late_examples

    def _produce(self, topic: str, value, key, **kwargs) -> None:
        """Produce, waiting while librdkafka's local queue is full (a checkpoint writes every account changed
        since the last one) instead of failing: serving delivery reports empties it. While a commit runs, the
        record is held for the next transaction."""
        if self.committing is not None:
            self.committing.hold(topic, value, key, kwargs)
            return
        while True:
            try:
                self.producer.produce(topic, value, key, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _dead_letter(self, msg, reason: str, message: str) -> None:
        self.metrics.events_invalid.labels(reason).inc()
        headers = [
            ("error.class", reason.encode()),
            ("error.message", message.encode("utf-8", "replace")[:1000]),
            ("source.topic", msg.topic().encode()),
            ("source.partition", str(msg.partition()).encode()),
            ("source.offset", str(msg.offset()).encode()),
            ("source.timestamp", str(msg.timestamp()[1]).encode()),
            ("dead_lettered_at", str(int(time.time() * 1000)).encode()),
        ]
        self._produce(self.s.dlq_topic, msg.value(), msg.key(), headers=headers)
        self.dlq_log.warn(reason, "dead-lettered %s[%d]@%d: %s: %s", msg.topic(), msg.partition(), msg.offset(),
                          reason, message)

    # ------------------------------------------------------------ checkpoint

    def _write_changelog(self) -> None:
        s, d, produce = self.s, self.detector, self._produce
        # one record per account changed since the last checkpoint, about one per tweet, encoded and produced
        # in C (state.produce_changes); librdkafka's produce called straight (no commit is in flight here:
        # _checkpoint has finished it). Where its queue is full, delivery reports make room.
        changed, gone, done = list(d.drain_changed()), [], 0
        while done < len(changed):
            done = produce_changes(changed, done, d.accounts, self.partition_of, d.waiting, self.producer.produce,
                                   s.state_topic, gone)
            if done < len(changed):
                self.producer.poll(0.05)
        for account_id in gone:
            del self.partition_of[account_id]
        pending_by_partition: dict[int, list[tuple[float, Label]]] = {}
        for at, label in d.pending_labels():
            pending_by_partition.setdefault(self.label_partition.get(id(label), -1), []).append((at, label))
        live = {id(label) for labels in pending_by_partition.values() for _, label in labels}
        self.label_partition = {k: v for k, v in self.label_partition.items() if k in live}
        clock = encode_clock(d.stream_time, d.learned_through, d.model.examples)
        owned = sorted(self._owned())
        for partition in owned:
            produce(s.state_topic, clock, CLOCK_KEY, partition=partition)
            produce(s.state_topic, encode_labels(pending_by_partition.get(partition, [])), LABELS_KEY,
                    partition=partition)
        if owned:  # how far the other instances may go (see TrainingLog.horizon)
            produce(s.training_topic, encode_clock_record(owned, self._clock()), CLOCK_RECORD_KEY,
                    headers=[(INCARNATION_HEADER, self.incarnation.encode())])

    def _checkpoint(self, wait: bool = True) -> None:
        """Commit changelog, flags, dead letters, training examples and offsets together (see the module doc).

        With ``wait=False`` the commit runs on while the loop goes on, unless a model snapshot is due: a snapshot
        must see the model exactly as committed, before the next batch changes it.
        """
        if not self._finish_commit():  # one transaction at a time
            return
        self._release_abandoned()
        self._write_changelog()
        offsets = [TopicPartition(t, p, off) for (t, p), off in self.aligner.committable.items()]
        if self.exactly_once:
            group = self.consumer.consumer_group_metadata()
            future = self.txn_worker.submit(send_offsets_and_commit, self.producer, offsets, group)
            self.committing = CommitInFlight(future, TXN_DEADLINE)
            self.uncommitted = False
            if wait or self._snapshot_due():
                self._finish_commit()
            return
        while self.producer.flush(10):
            log.warning("output not yet delivered; waiting for the broker before committing offsets")
        if offsets:
            self._retrying(lambda: self.consumer.commit(offsets=offsets, asynchronous=False), "commit offsets")
        self.metrics.commits.inc()
        self.uncommitted = False
        self._snapshot()

    def _finish_commit(self) -> bool:
        """Wait for the commit in flight (if any), begin the next transaction and produce what was held for it.
        False if the commit failed and state was rebuilt from the last committed checkpoint instead."""
        commit, self.committing = self.committing, None
        if commit is None:
            return True
        try:
            self._await_commit(commit)
        except ProducerStuck as e:
            log.error("%s: replacing the producer and rebuilding state from the last checkpoint", e)
            self._replace_producer()
            self._recover()
            return False
        except KafkaException as e:
            if not e.args[0].txn_requires_abort():
                raise
            log.warning("transaction must be aborted (%s): rebuilding state from the last checkpoint", e.args[0])
            self._recover()
            return False
        self.metrics.commit_seconds.observe(time.monotonic() - commit.started)
        self.producer.begin_transaction()
        for topic, value, key, kwargs in commit.held:
            self._produce(topic, value, key, **kwargs)
        self.metrics.commits.inc()
        if not self.uncommitted:  # the model is exactly what was committed
            self._snapshot()
        return True

    def _await_commit(self, commit: CommitInFlight) -> None:
        """Wait for ``commit`` to end. One that timed out goes on in librdkafka, which refuses every other
        transactional call (an abort included: _CONFLICT) until commit_transaction is called again: it is
        resumed, retried while the broker is away. KafkaException if the commit failed otherwise."""
        try:
            commit.result()
        except CommitFailed as e:
            err = e.args[0]
            if not is_transient(err) or err.txn_requires_abort():
                raise KafkaException(err) from None
            log.warning("could not commit the transaction (%s); retrying", err)
            self._retrying(lambda: self._transactional(lambda: self.producer.commit_transaction(TXN_TIMEOUT)),
                           "commit the transaction")

    def _settle_commit(self) -> None:
        """Before an abort: let a commit in flight end, whatever its outcome (everything since the last committed
        checkpoint is redone), and leave a transaction open to abort."""
        commit, self.committing = self.committing, None
        if commit is None:
            return
        try:
            self._await_commit(commit)
            self.producer.begin_transaction()
        except KafkaException as e:
            log.warning("the commit in flight failed (%s); its work is redone", e.args[0])
        except ProducerStuck as e:
            log.error("%s: replacing the producer", e)
            self._replace_producer()

    def _snapshot_due(self) -> bool:
        return bool(self.s.snapshot_dir) and self.examples_since_snapshot >= SNAPSHOT_EVERY

    def _transactional(self, call) -> None:
        """Run a transactional producer call with a deadline librdkafka is not trusted to keep."""
        call_with_deadline(self.txn_worker, call, TXN_DEADLINE)

    def _replace_consumer(self) -> None:
        """A new consumer under the same static identity; what the old one fetched and did not commit is
        redone from the last checkpoint once the new one is assigned (as after a lost session)."""
        self.in_transaction = False  # the old consumer's close() revokes: nothing may be committed for it
        try:
            self.consumer.close()
        except KafkaException as e:
            log.warning("closing the fenced consumer: %s", e.args[0])
        self.in_transaction = self.exactly_once
        self.consumer = self._new_consumer()
        self.paused.clear()
        self.metrics.ready = False
        self.lost = True  # the loop rebuilds from the last checkpoint before anything else
        self._subscribe()

    def _abort(self) -> None:
        """Abort the open transaction; where the producer cannot, fence it. After a commit failed while the
        broker was away (its messages failed delivery), an abort retried on the same producer went on failing
        past the two minutes a test gave it after the broker was back (once in about ten runs of
        tests/test_broker_outage.py); a new producer's init_transactions aborts the transaction on the broker
        instead, as it does for one stuck in a call. A fatal error (fenced by another instance) is raised."""
        try:
            self._transactional(lambda: self.producer.abort_transaction(TXN_TIMEOUT))
            return
        except ProducerStuck as e:
            reason = str(e)
        except KafkaException as e:
            if e.args[0].fatal():
                raise
            reason = e.args[0].str()
        log.warning("could not abort the transaction (%s): replacing the producer, which aborts it", reason)
        self._replace_producer(begin=False)

    def _replace_producer(self, begin: bool = True) -> None:
        """A new producer with the same transactional id; its init_transactions fences the old one and aborts
        the transaction it had open (and begins the next one if ``begin``). The old producer and its worker
        thread are left behind until the worker's last call returns (see :meth:`_release_abandoned`): a thread
        blocked inside librdkafka cannot be interrupted, and destroying its producer under it would crash."""
        self.abandoned.append(Abandoned(self.producer, self.txn_worker))
        self.txn_worker.shutdown(wait=False)
        self.txn_worker = TransactionWorker()
        self.producer = self._new_producer()
        self._retrying(lambda: self.producer.init_transactions(60), "initialise the new producer's transactions")
        if begin:
            self.producer.begin_transaction()

    def _release_abandoned(self) -> None:
        """Let go of the replaced producers whose last call has returned: nothing runs inside them any more, so
        they may be destroyed (each holds librdkafka's threads and connections). Without this, every producer
        replaced over a long run of broker trouble stayed until the process exited."""
        kept = [a for a in self.abandoned if not a.worker.idle]
        if len(kept) < len(self.abandoned):
            log.info("released %d replaced producer(s) whose calls have returned; %d still in a call",
                     len(self.abandoned) - len(kept), len(kept))
            self.abandoned = kept

    def _recover(self) -> None:
        """Abort the open transaction and resume from the last committed checkpoint, as a restart would."""
        assignment = self.consumer.assignment()
        self._abort_and_rebuild()
        self._restore([p.partition for p in assignment if p.topic == self.s.tweets_topic])
        self.aligner.assign((p.topic, p.partition) for p in assignment)
        committed: list[TopicPartition] = []
        self._retrying(lambda: committed.extend(self.consumer.committed(assignment, timeout=60)), "read committed offsets")
        for tp in committed:
            tp.offset = tp.offset if tp.offset >= 0 else -2  # nothing committed yet: from the beginning
            self.consumer.seek(tp)
        self.producer.begin_transaction()

    def _retrying(self, action, what: str) -> None:
        """Retry a retriable Kafka error with backoff (broker down); anything else is fatal."""
        delay = 0.5
        while True:
            try:
                action()
                return
            except KafkaException as e:
                err = e.args[0]
                if not is_transient(err):
                    raise
                log.warning("could not %s (%s); retrying in %.1fs", what, err, delay)
                time.sleep(delay)  # backoff while the broker is away, not synchronisation
                delay = min(delay * 2, 10.0)

    def _snapshot(self, force: bool = False) -> None:
        if not self.s.snapshot_dir or (not force and self.examples_since_snapshot < SNAPSHOT_EVERY):
            return
        if force:  # at shutdown: read our own committed examples back so the snapshot is the log's prefix
            deadline = time.monotonic() + 10
            while not self.training.at_end and time.monotonic() < deadline:
                self.training.poll(self.detector)
        path = self.training.snapshot(self.detector, self.s.snapshot_dir, self.snapshot_key)
        if path is not None:
            self.examples_since_snapshot = 0
            self.metrics.model_info.info({"kind": self.detector.model.kind, "version": self.detector.model.version})
            log.info("model snapshot written: %s", path)


def tune_gc() -> None:
    """Collect cycles rarely. Every event allocates a few short-lived containers while the long-lived state only
    grows (each account's state array is a tracked object): with the default thresholds the collector ran
    every ~70 events and kept re-walking every account, a fifth of the consumer's time; at 50,000 it still
    took 5 to 6% of the bench's run (perf), each youngest-generation pass 10 to 50 ms over the new accounts'
    states and the tweets in flight, and at 250,000 0.3%. Reference counting frees nearly everything here;
    the cycle collector only has to catch the rare cycle."""
    gc.collect()
    gc.freeze()  # what start-up built (modules, the model) lives as long as the process
    gc.set_threshold(250_000, 50, 100)


def compiled_parts() -> dict[str, bool]:
    """Each C extension of the per-event code, the per-tick scoring, the learning and the changelog, and whether
    it is built and in use."""
    from consumer import decode, detector, drift, features, model, scoring, state

    return {"consumer._features": features.COMPILED, "consumer._decode": decode.COMPILED,
            "consumer._fold": detector.COMPILED, "consumer._score": scoring.COMPILED,
            "consumer._drift": drift.KS_COMPILED, "consumer._pipeline": model.COMPILED,
            "consumer._changelog": state.COMPILED}


def log_compiled_parts() -> None:
    """Say whether the hot code runs compiled: without the C extensions botwatch gives the same results (the
    scores only within rounding) at a fraction of the throughput, which an operator should learn from the log
    rather than from the lag."""
    parts = compiled_parts()
    missing = [name for name, compiled in parts.items() if not compiled]
    if not missing:
        log.info("hot code compiled: %s", ", ".join(parts))
        return
    log.warning("%s not built: running the Python definitions instead (the same results, scores only within "
                "rounding, at a fraction of the throughput); build them with `pip install -e .` where a C "
                "compiler and Python's headers are installed", " and ".join(missing))


def run(settings) -> int:
    from consumer.snapshot import SnapshotError

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("options: %s", settings.redacted())
    log_compiled_parts()
    tune_gc()
    metrics = Metrics()
    service = Service(settings, metrics=metrics)  # (librdkafka refuses a bad client setting here: see cli.main)
    server = metrics.serve(settings.metrics_addr, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_addr, server.server_address[1])
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    try:
        code = service.run()
    except SnapshotError as e:
        log.error("refusing to start: %s", e)
        code = 3
    except MissingTopic as e:
        log.error("refusing to start: %s", e)
        code = 2
    except KafkaException as e:
        log.error("fatal Kafka error: %s", e)
        code = 2
    finally:
        server.shutdown()
    if service.abandoned:
        # a thread still blocked inside librdkafka (see Service._replace_producer) would hold the interpreter's
        # exit, and tearing its producer down under it could crash: everything is committed, so leave at once
        log.warning("exiting past %d replaced producer(s), which may be stuck inside librdkafka",
                    len(service.abandoned))
        logging.shutdown()
        os._exit(code)
    return code
