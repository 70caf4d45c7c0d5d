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
