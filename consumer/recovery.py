"""Recovery: rebuilding state from Kafka before processing resumes.

Two logs make botwatch's state; both are read with ``read_committed``, so an
aborted transaction of a crashed predecessor is never restored:

* ``botwatch-state`` partition *p* → the accounts, open tick and pending labels
  of input partition *p* (:func:`restore_partition`), on every assignment;
* ``botwatch-training`` (one partition) → the model: the newest valid snapshot,
  then every training example after it (:class:`TrainingLog`); and every
  instance's clock, the event time before which it will make no more examples.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from consumer.kafka.errors import is_transient
from consumer.snapshot import latest_snapshot, read_snapshot
from consumer.state import PartitionState

log = logging.getLogger("botwatch.recovery")

#: Header naming the process incarnation that produced a training example.
INCARNATION_HEADER = "botwatch.incarnation"
#: Key of a clock record on the training log (an account id never starts with a NUL).
CLOCK_RECORD_KEY = b"\x00clock"


def encode_clock_record(partitions: list[int], clock: float) -> bytes:
    """"The owner of these input partitions will make no more examples before ``clock``." """
    return orjson.dumps({"partitions": partitions, "clock": clock if math.isfinite(clock) else str(clock)})


def decode_clock_record(value: bytes) -> tuple[list[int], float]:
    record = orjson.loads(value)
    return record["partitions"], float(record["clock"])


def _reader(client_config: dict) -> Consumer:
    return Consumer({
        "fetch.queue.backoff.ms": 10,  # (tuning: Kafka pass-through settings in client_config override it)
        "fetch.wait.max.ms": 50,  # the end of a partition is what we wait for: learn of it quickly
        **client_config,
        "group.id": f"botwatch-restore-{uuid.uuid4().hex[:8]}",  # assign() only: never joins or commits
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    })


def _read_to_end(consumer: Consumer, tps: list[TopicPartition], on_message, timeout: float) -> int:
    """Feed ``on_message`` every committed message of ``tps`` from their offsets to their ends; returns how many."""
    deadline = time.monotonic() + timeout
    todo = []
    for tp in tps:
        low, high = _watermarks(consumer, tp, deadline)
        if high > max(low, tp.offset):
            todo.append(tp)
    if not todo:
        return 0
    consumer.assign(todo)
    open_partitions = {tp.partition for tp in todo}
    count = 0
    while open_partitions:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {todo[0].topic} to its end took longer than {timeout:.0f}s")
        for msg in consumer.consume(10_000, 0.5):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(msg.partition())
                elif not is_transient(err):
                    raise KafkaException(err)
                else:  # the broker is (re)starting: librdkafka fetches again by itself
                    log.warning("reading %s[%d]: %s", msg.topic(), msg.partition(), err)
                continue
            on_message(msg)
            count += 1
    consumer.unassign()
    return count


def _watermarks(consumer: Consumer, tp: TopicPartition, deadline: float) -> tuple[int, int]:
    """The partition's low and high watermarks, asking again while the broker is (re)starting."""
    delay = 0.2
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=max(deadline - time.monotonic(), 1.0), cached=False)
        except KafkaException as e:
            if not is_transient(e.args[0]) or time.monotonic() + delay > deadline:
                raise
            log.warning("watermarks of %s[%d]: %s; asking again in %.1fs", tp.topic, tp.partition, e.args[0], delay)
            time.sleep(delay)  # backoff while the broker is away, not synchronisation
            delay = min(delay * 2, 5.0)


def restore_partitions(client_config: dict, state_topic: str, partitions: list[int],
                       timeout: float = 120.0) -> dict[int, PartitionState]:
    """The state of each input partition in ``partitions``, folded from its changelog partition."""
    states = {p: PartitionState() for p in partitions}
    reader = _reader(client_config)
    try:
        started = time.monotonic()
        n = _read_to_end(reader, [TopicPartition(state_topic, p, OFFSET_BEGINNING) for p in partitions],
                         lambda m: states[m.partition()].apply(m.key(), m.value()), timeout)
        log.info("restored %s%s: %d records, %d accounts, %d pending labels in %.2fs", state_topic, partitions, n,
                 sum(len(s.accounts) for s in states.values()),
                 sum(len(s.pending_labels) for s in states.values()), time.monotonic() - started)
        foreign = sum(s.foreign_layout for s in states.values())
        if foreign:
            log.warning("%d account records in %s have another state layout (an older botwatch): those accounts "
                        "start afresh", foreign, state_topic)
    finally:
        reader.close()
    return states


class TrainingLog:
    """The single-partition log of training examples and of the instances' clocks.

    Examples go to the detector, which learns them in their canonical order at
    the end of their tick (:meth:`~consumer.detector.Detector.add_example`), so
    it does not matter in which order instances wrote them. Clock records say,
    per input partition, before which event time its owner will make no more
    examples; the detector may not pass a tick end beyond the earliest clock of
    the partitions other instances own (:meth:`horizon`).

    Parameters
    ----------
    client_config
        librdkafka settings (bootstrap, security).
    topic
        The training topic (one partition).
    incarnation
        This process's id: examples it produced itself went to its detector
        when they were made, so reading them back changes nothing.
    """

    def __init__(self, client_config: dict, topic: str, incarnation: str):
        self.topic = topic
        self.incarnation = incarnation.encode()
        self.consumer = _reader(client_config)
        self.position = OFFSET_BEGINNING  # next offset to read
        self.at_end = False
        self.last_own_offset = -1  # highest offset of an example this process produced
        self.clocks: dict[int, float] = {}  # input partition -> the clock its owner last published

    def on_own_delivery(self, err, msg) -> None:
        if err is None and msg.offset() > self.last_own_offset:
            self.last_own_offset = msg.offset()

    def horizon(self, partitions, owned) -> float:
        """The earliest clock published for an input partition in ``partitions`` this instance does not own
        (infinite if it owns them all; minus infinity while one has published none)."""
        return min((self.clocks.get(p, -math.inf) for p in partitions if p not in owned), default=math.inf)

    def restore(self, detector, snapshot_dir: str, key: bytes | None, timeout: float = 300.0) -> int:
        """Load the newest snapshot (if any) into ``detector``, then read the log after it."""
        if snapshot_dir:
            path = latest_snapshot(snapshot_dir)
            if path is not None:
                state, header = read_snapshot(path, key)  # SnapshotError stops the start
                detector.load_model_state(state["detector"])
                self.clocks = dict(state["clocks"])
                self.position = header["training_offset"] + 1
                log.info("model snapshot %s: %s at training offset %d", path, header["model_version"],
                         header["training_offset"])
        n = _read_to_end(self.consumer, [TopicPartition(self.topic, 0, self.position)],
                         lambda m: self._apply(detector, m, replaying=True), timeout)
        self.consumer.assign([TopicPartition(self.topic, 0, self.position)])
        log.info("model restored: %s, %d training-log records read after it", detector.model.version, n)
        return n

    def poll(self, detector, timeout: float = 0.0) -> int:
        """Take what other instances have committed since the last call (waiting up to ``timeout`` seconds for
        something); returns how many records."""
        n = 0
        for msg in self.consumer.consume(1000, timeout):
            err = msg.error()
            if err is not None:
                self.at_end = err.code() == KafkaError._PARTITION_EOF
                continue
            self.at_end = False
            self._apply(detector, msg, replaying=False)
            n += 1
        return n

    def _apply(self, detector, msg, replaying: bool) -> None:
        self.position = msg.offset() + 1
        if msg.key() == CLOCK_RECORD_KEY:
            partitions, clock = decode_clock_record(msg.value())
            for p in partitions:
                self.clocks[p] = clock
            return
        headers = dict(msg.headers() or ())
        if not replaying and headers.get(INCARNATION_HEADER) == self.incarnation:
            return
        example = orjson.loads(msg.value())
        detector.add_example(example["ts"], example["account_id"], example["label"] == "bot", example["features"])

    def snapshot(self, detector, snapshot_dir: str, key: bytes | None) -> Path | None:
        """Snapshot the model if it is exactly the log's prefix up to ``position``: every example
        this process made has been read back, so none lies beyond the snapshot's offset."""
        from consumer.snapshot import prune, snapshot_path, write_snapshot

        if not snapshot_dir or not self.at_end or self.position <= max(self.last_own_offset, 0):
            return None
        Path(snapshot_dir).mkdir(parents=True, exist_ok=True)
        path = snapshot_path(snapshot_dir, self.position - 1)
        write_snapshot(path, {"detector": detector.model_state(), "clocks": self.clocks},
                       model_version=detector.model.version, kind=detector.model.kind,
                       training_offset=self.position - 1, key=key)
        prune(snapshot_dir)
        return path

    def close(self) -> None:
        self.consumer.close()
