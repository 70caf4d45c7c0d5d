"""Sending generated or replayed records to Kafka, paced or as fast as possible."""

from __future__ import annotations

import time
from typing import Iterable

from confluent_kafka import Producer

from producers.generate import Record


def send(records: Iterable[Record], client_config: dict, topics: dict[str, str], rate: float = 0.0,
         stop=lambda: False) -> dict[str, int]:
    """Produce ``records`` (idempotent producer); ``topics`` maps a record's topic kind to a topic name.

    ``rate`` > 0 paces tweets to that many per second. Returns counts per topic kind.
    """
    producer = Producer({**client_config, "enable.idempotence": True, "linger.ms": 20,
                         "compression.type": "lz4", "queue.buffering.max.messages": 500000})
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    counts = {kind: 0 for kind in topics}
    started = time.monotonic()
    for record in records:
        if stop():
            break
        if rate > 0 and record.topic == "tweets":
            due = started + counts["tweets"] / rate
            delay = due - time.monotonic()
            if delay > 0:
                producer.poll(0)
                time.sleep(delay)  # pacing to a rate, not synchronisation
        while True:
            try:
                producer.produce(topics[record.topic], record.value, record.key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        counts[record.topic] += 1
        producer.poll(0)
    remaining = producer.flush(60)
    if errors or remaining:
        raise RuntimeError(f"{len(errors)} records failed, {remaining} undelivered; first error: {errors[:1]}")
    return counts
