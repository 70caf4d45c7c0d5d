"""Sending records to Kafka: key = account id, Kafka timestamp = event time.

:class:`KafkaSink` wraps one idempotent producer (``enable.idempotence``:
retries never duplicate or reorder a partition's messages). Delivery reports
are requested for failures only, so the hot path does no Python work per
delivered message; a failure is raised at :meth:`KafkaSink.flush`.

Example (needs a broker, so not run here)::

    with KafkaSink({"bootstrap.servers": "127.0.0.1:9092"}, {"tweets": "tweets", "labels": "labels"}) as sink:
        for record in records:
            sink.send(record)
"""

from __future__ import annotations

import time
from typing import Iterable

from confluent_kafka import Producer

from producers.records import Record

#: Producer tuning for throughput: big batches, lz4, a deep local queue (Kafka pass-through settings override it;
#: the producer is idempotent whatever they say).
PRODUCER_TUNING = {
    "linger.ms": 25,
    "batch.num.messages": 10000,
    "batch.size": 1 << 20,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 512 * 1024,
    "delivery.report.only.error": True,
}


class DeliveryError(RuntimeError):
    """Records the broker did not take; the message says how many and why."""


class KafkaSink:
    """An idempotent producer that sends :class:`Record` objects to their topics.

    Parameters
    ----------
    client_config
        librdkafka settings (bootstrap, security, overrides of :data:`PRODUCER_TUNING`).
    topics
        Topic name of each record kind: ``{"tweets": ..., "labels": ...}``.
    """

    def __init__(self, client_config: dict, topics: dict[str, str]):
        self.errors: list[str] = []
        self.failed = 0
        self.producer = Producer({**PRODUCER_TUNING, **client_config, "enable.idempotence": True, "acks": "all",
                                  "on_delivery": self._on_delivery})
        self.topics = topics
        self.counts = {kind: 0 for kind in topics}
        self._unpolled = 0

    def _on_delivery(self, err, msg) -> None:
        if err is not None:  # with delivery.report.only.error, only failures come here
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(str(err))

    def send(self, record: Record) -> None:
        """Queue one record; blocks (serving delivery reports) while the local queue is full."""
        topic = self.topics[record.topic]
        ts_ms = int(record.ts * 1000)
        while True:
            try:
                self.producer.produce(topic, record.value, record.key, timestamp=ts_ms)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.counts[record.topic] += 1
        self._unpolled += 1
        if self._unpolled >= 1000:  # serve callbacks in bulk: poll() per message costs more than produce()
            self._unpolled = 0
            self.producer.poll(0)

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until every queued record is delivered; raise :class:`DeliveryError` if any failed."""
        remaining = self.producer.flush(timeout)
        if self.failed or remaining:
            raise DeliveryError(f"{self.failed} records failed, {remaining} undelivered after {timeout:.0f}s; "
                                f"first errors: {self.errors}")

    def missing_topics(self, timeout: float = 30.0) -> list[str]:
        """The configured topics the cluster does not have (the local broker creates none by itself)."""
        names = set(self.topics.values())
        metadata = self.producer.list_topics(timeout=timeout)
        return sorted(n for n in names if n not in metadata.topics or metadata.topics[n].error is not None)

    def poll(self, timeout: float = 0.0) -> None:
        self.producer.poll(timeout)

    def __enter__(self) -> "KafkaSink":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.flush()
        else:
            self.producer.flush(10)


def send(records: Iterable[Record], client_config: dict, topics: dict[str, str], rate: float = 0.0,
         stop=lambda: False) -> dict[str, int]:
    """Produce ``records``; ``topics`` maps a record's kind to a topic name. Returns counts per kind.

    ``rate`` > 0 paces tweets to that many per second of wall-clock time.
    """
    sink = KafkaSink(client_config, topics)
    started = time.monotonic()
    for record in records:
        if stop():
            break
        if rate > 0 and record.topic == "tweets":
            delay = started + sink.counts["tweets"] / rate - time.monotonic()
            if delay > 0:
                sink.poll(0)
                time.sleep(delay)  # pacing to a rate, not synchronisation
        sink.send(record)
    sink.flush()
    return sink.counts
