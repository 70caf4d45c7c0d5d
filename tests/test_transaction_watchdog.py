"""The deadline around transactional producer calls (librdkafka can block in one past its own timeout)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.service import ProducerStuck, call_with_deadline


def test_a_call_that_never_returns_is_given_up_after_its_deadline():
    release = threading.Event()
    worker = ThreadPoolExecutor(1)
    try:
        with pytest.raises(ProducerStuck, match="did not return within"):
            call_with_deadline(worker, release.wait, 0.2)
    finally:
        release.set()  # let the worker thread go, so the test leaves no thread behind
        worker.shutdown(wait=True)


def test_a_kafka_error_raised_by_the_call_reaches_the_caller():
    def fails():
        raise KafkaException(KafkaError(KafkaError._STATE, "not in a transaction"))

    with ThreadPoolExecutor(1) as worker, pytest.raises(KafkaException, match="not in a transaction"):
        call_with_deadline(worker, fails, 5.0)
