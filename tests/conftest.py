"""Shared fixtures: a real Kafka broker for the integration tests.

The broker comes from, in this order: ``KAFKA_BOOTSTRAP`` if set; a
testcontainers Kafka container if a Docker engine answers; otherwise the local
broker of ``botwatch broker``, started once per test session in a temporary
directory on a free loopback port and stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest


def _docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    from consumer.kafka.broker import LocalBroker, free_port

    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), "127.0.0.1", free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def own_broker(tmp_path):
    """A local broker of the test's own, to stop and start (the session's is shared and must stay up)."""
    from consumer.kafka.broker import LocalBroker, free_port

    broker = LocalBroker(tmp_path / "kafka", "127.0.0.1", free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topics(kafka_bootstrap, request):
    """Fresh topic names for one test (created by the test through ``botwatch topics create``)."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "tweets": f"tweets-{suffix}",
        "labels": f"labels-{suffix}",
        "flags": f"flags-{suffix}",
        "dlq": f"dlq-{suffix}",
        "state": f"state-{suffix}",
        "training": f"training-{suffix}",
        "group": f"botwatch-{suffix}",
    }
