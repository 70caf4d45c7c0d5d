"""The deadline around transactional producer calls (librdkafka can block in one past its own timeout)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.service import CommitInFlight, ProducerStuck, call_with_deadline


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


def test_a_commit_in_flight_is_settled_when_it_returns():
    future = Future()
    commit = CommitInFlight(future, 60.0)
    assert not commit.settled  # the loop goes on, and starts no checkpoint meanwhile
    future.set_result(None)
    assert commit.settled
    commit.result()


def test_a_commit_in_flight_is_settled_when_its_time_is_up_and_then_given_up():
    commit = CommitInFlight(Future(), 0.05)  # a commit that never returns
    deadline = time.monotonic() + 5.0
    while not commit.settled:  # the loop notices without waiting on it
        assert time.monotonic() < deadline, "a commit past its time never counted as settled"
    with pytest.raises(ProducerStuck, match="did not return within"):
        commit.result()
