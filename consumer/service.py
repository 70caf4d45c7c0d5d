"""``botwatch consume``: the consume-process-produce loop, exactly-once.

The hot loop is :meth:`Service.run`. One checkpoint is one Kafka transaction,
and its commit order is the only one there is:

1. produce the batch's flags and dead letters (inside the open transaction);
2. ``send_offsets_to_transaction`` with the positions after the batch;
3. ``commit_transaction``, then ``begin_transaction`` for the next batches.

A crash before step 3 aborts everything since the last checkpoint: readers
with ``isolation.level=read_committed`` never see those flags, and the input is
consumed again from the committed offsets.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from consumer.align import Aligner
from consumer.decode import DecodeError, decode_label, decode_tweets
from consumer.detector import Detector, build_detector
from consumer.events import Label
from consumer.metrics import Metrics

log = logging.getLogger("botwatch.consume")


class Service:
    """The detection service: one consumer, one transactional producer, one :class:`Detector`."""

    def __init__(self, settings, detector: Detector | None = None, metrics: Metrics | None = None):
        self.s = settings
        self.detector = detector or build_detector(settings)
        self.metrics = metrics or Metrics()
        self.stopping = False
        self.aligner = Aligner()
        self.paused: set[tuple[str, int]] = set()
        self.in_transaction = False
        self.uncommitted = False
        txn_id = settings.transactional_id or f"{settings.group}-{socket.gethostname()}"
        self.producer = Producer(settings.client_config(**{
            "transactional.id": txn_id,
            "transaction.timeout.ms": 30000,
            "linger.ms": 5,
            "message.max.bytes": 16 * 1024 * 1024,
            "compression.type": "lz4",
        }))
        self.consumer = Consumer(settings.client_config(**{
            "group.id": settings.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "fetch.queue.backoff.ms": 10,
            "enable.partition.eof": True,  # the aligner must know when a partition has no more to give
            "statistics.interval.ms": 5000,
            "stats_cb": self.metrics.on_stats,
        }))

    def stop(self, *_args) -> None:
        self.stopping = True

    def _on_assign(self, consumer, partitions) -> None:
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))
        self.aligner.assign((p.topic, p.partition) for p in partitions)
        self.metrics.ready = True

    def _on_revoke(self, consumer, partitions) -> None:
        log.info("revoked %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))
        if self.in_transaction:
            self._checkpoint()
        # what was fetched but not released is consumed again by the partitions' next owner
        self.aligner.revoke((p.topic, p.partition) for p in partitions)
        self.paused.difference_update((p.topic, p.partition) for p in partitions)

    def run(self) -> int:
        s, m = self.s, self.metrics
        m.model_info.info({"kind": self.detector.model.kind, "version": self.detector.model.version})
        self.producer.init_transactions(30)
        self.consumer.subscribe([s.tweets_topic, s.labels_topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.producer.begin_transaction()
        self.in_transaction = True
        last_checkpoint = last_input = time.monotonic()
        try:
            while not self.stopping:
                msgs = self.consumer.consume(s.batch_size, s.poll_timeout)
                started = time.perf_counter()
                if self._ingest(msgs):
                    last_input = time.monotonic()
                released = self.aligner.release()
                caught_up = self.aligner.watermark == float("inf") and not any(self.aligner.buffers.values())
                if released or (caught_up and self.detector.has_open_tick):
                    self._process(released, caught_up)
                    m.batch_seconds.observe(time.perf_counter() - started)
                    m.batch_size.observe(len(released))
                    self.uncommitted = True
                self._apply_backpressure()
                if not msgs and s.exit_when_idle and time.monotonic() - last_input > s.exit_when_idle:
                    log.info("no input for %.1fs: exiting", s.exit_when_idle)
                    break
                if self.uncommitted and time.monotonic() - last_checkpoint >= s.checkpoint_interval:
                    self._checkpoint()
                    last_checkpoint = time.monotonic()
            if self.uncommitted:
                self._checkpoint()
        finally:
            self.in_transaction = False  # close() revokes: nothing more may be committed then
            self.consumer.close()
            self.producer.flush(10)
        return 0

    def _ingest(self, msgs) -> int:
        """Decode what was fetched into the aligner; returns how many messages carried data."""
        s, aligner = self.s, self.aligner
        n_data = 0
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    aligner.end_of_partition((msg.topic(), msg.partition()))
                else:
                    log.warning("consume error: %s", err)
                continue
            n_data += 1
            key = (msg.topic(), msg.partition())
            try:
                if key[0] == s.tweets_topic:
                    tweets = decode_tweets(msg.value(), s.max_message_bytes)
                    aligner.add(key, msg.offset(), tweets[0].ts, (tweets, msg.timestamp()[1]))
                else:
                    label = decode_label(msg.value())
                    aligner.add(key, msg.offset(), label.ts, label)
            except DecodeError as e:
                aligner.add(key, msg.offset(), None, (e, msg))
        return n_data

    def _apply_backpressure(self) -> None:
        """Pause partitions that ran far ahead in event time; resume them once drained."""
        limit = 5 * self.s.batch_size
        for key in list(self.aligner.buffers):
            size = self.aligner.buffered(key)
            if size > limit and key not in self.paused:
                self.consumer.pause([TopicPartition(*key)])
                self.paused.add(key)
            elif size <= self.s.batch_size and key in self.paused:
                self.consumer.resume([TopicPartition(*key)])
                self.paused.discard(key)

    def _process(self, released, caught_up: bool) -> None:
        s, m, detector = self.s, self.metrics, self.detector
        events, kafka_ts = [], {}
        n_tweet_msgs = n_label_msgs = 0
        for (topic, _), _, item in released:
            if isinstance(item, Label):
                n_label_msgs += 1
                events.append(item)
            elif isinstance(item[0], DecodeError):
                n_tweet_msgs += topic == s.tweets_topic
                n_label_msgs += topic != s.tweets_topic
                self._dead_letter(item[1], item[0].reason, str(item[0]))
            else:
                n_tweet_msgs += 1
                decoded, sent_ms = item
                events.extend(decoded)
                kafka_ts[decoded[-1].account_id] = sent_ms
        m.events_consumed.labels(s.tweets_topic).inc(n_tweet_msgs)
        m.events_consumed.labels(s.labels_topic).inc(n_label_msgs)

        result = detector.process(events)
        if caught_up:  # nothing more to wait for: decide now rather than at the next tick
            tail = detector.flush()
            result.flags.extend(tail.flags)
            result.labels_applied.extend(tail.labels_applied)
            result.examples.extend(tail.examples)
        self._emit(result, kafka_ts)

    def _emit(self, result, kafka_ts: dict) -> None:
        s, m, produce = self.s, self.metrics, self.producer.produce
        now_ms = time.time() * 1000.0
        for flag in result.flags:
            produce(s.flags_topic, orjson.dumps(flag), flag["account_id"].encode())
            m.flags.labels(flag["action"]).inc()
            sent_ms = kafka_ts.get(flag["account_id"])
            if sent_ms and sent_ms > 0:
                m.flag_latency.observe(max(0.0, (now_ms - sent_ms) / 1000.0))
            if s.print_flags:
                print(f"{flag['action']:>6}  account {flag['account_id']}  score {flag['score']}  "
                      f"tweets {flag['tweets_seen']}  reasons {', '.join(r['feature'] for r in flag['reasons'])}",
                      flush=True)
        self.producer.poll(0)
        self._observe(result)

    def _observe(self, result) -> None:
        m, d = self.metrics, self.detector
        m.tweets.inc(result.tweets)
        m.events_duplicate.inc(result.duplicates)
        if result.labels_applied:
            m.last_label_time.set_to_current_time()
        for label in result.labels_applied:
            m.labels.labels("bot" if label.is_bot else "human").inc()
        m.accounts.set(len(d.accounts))
        if result.labels_applied:
            q = d.quality
            m.model_examples.labels("bot").set(d.model.examples_by_class[True])
            m.model_examples.labels("human").set(d.model.examples_by_class[False])
            m.precision.set(q.precision)
            m.recall.set(q.recall)
            m.roc_auc.set(q.roc_auc)
            m.precision_at_block.set(q.precision_at_block)
            m.model_info.info({"kind": d.model.kind, "version": d.model.version})
        m.blocking_enabled.set(1 if d.blocking_enabled else 0)

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
        self.producer.produce(self.s.dlq_topic, msg.value(), msg.key(), headers=headers)
        log.warning("dead-lettered %s[%d]@%d: %s: %s", msg.topic(), msg.partition(), msg.offset(), reason, message)

    def _checkpoint(self) -> None:
        """Commit flags, dead letters and the offsets of everything released, in one transaction."""
        offsets = [TopicPartition(t, p, off) for (t, p), off in self.aligner.committable.items()]
        if offsets:
            self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 30)
        self.producer.commit_transaction(30)
        self.metrics.commits.inc()
        self.producer.begin_transaction()
        self.uncommitted = False


def run(settings) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics = Metrics()
    server = metrics.serve(settings.metrics_addr, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_addr, server.server_address[1])
    service = Service(settings, metrics=metrics)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    try:
        return service.run()
    except KafkaException as e:
        log.error("fatal Kafka error: %s", e)
        return 2
    finally:
        server.shutdown()
