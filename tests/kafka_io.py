"""Reading topics back in tests, with read_committed, until a condition holds."""

from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka import Consumer, KafkaError


def read_topic(bootstrap: str, topic: str, until, timeout: float = 60.0, idle: float = 3.0):
    """All committed messages of ``topic``, read until ``until(messages)`` is true and nothing
    new arrived for ``idle`` seconds, or ``timeout`` passes."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"reader-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            fresh = [m for m in batch if m.error() is None]
            for m in batch:
                if m.error() is not None and m.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(m.error())
            if fresh:
                messages.extend(fresh)
                last_new = time.monotonic()
            elif until(messages) and time.monotonic() - last_new >= idle:
                break
    finally:
        consumer.close()
    return messages


def json_values(messages) -> list[dict]:
    return [orjson.loads(m.value()) for m in messages]


def produce_all(bootstrap: str, records, topics: dict, extra: dict | None = None) -> None:
    """Produce generator ``records`` into ``topics[record.topic]``, keyed by account, and wait for every ack."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
                         **(extra or {})})
    for r in records:
        while True:
            try:
                producer.produce(topics[r.topic], r.value, r.key)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(120)
    assert remaining == 0, f"{remaining} messages not delivered"
