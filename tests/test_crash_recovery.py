"""Exactly-once through crashes: SIGKILL at random points changes no account's sequence of actions."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import defaultdict

import orjson
import pytest

from kafka_io import produce_all, read_topic
from producers.generate import Generator
from support import REPO, botwatch, botwatch_env, wait_for
from test_end_to_end import metric
from consumer.kafka.broker import free_port

pytestmark = pytest.mark.broker

TWEETS, ACCOUNTS, KILLS = 100_000, 2_000, 10


@pytest.fixture(scope="module")
def records():
    return list(Generator(accounts=ACCOUNTS, tweets=TWEETS, seed=99).events())


def start_consumer(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", str(port),
                             "--exit-when-idle", "6", "--checkpoint-interval", "0.5"],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def action_sequences(bootstrap: str, topic: str) -> dict[str, list[str]]:
    flags = [orjson.loads(m.value()) for m in read_topic(bootstrap, topic, until=lambda msgs: len(msgs) > 0)]
    sequences = defaultdict(list)
    for flag in flags:
        sequences[flag["account_id"]].append(flag["action"])
    return dict(sequences)


def run_to_completion(env: dict) -> None:
    consumer = start_consumer(env, free_port())
    _, err = consumer.communicate(timeout=600)
    assert consumer.returncode == 0, err[-3000:]


def test_sigkill_at_ten_random_points_loses_and_duplicates_nothing(kafka_bootstrap, tmp_path_factory, records):
    reference_topics = {k: f"{k}-ref-{id(records) % 10_000}" for k in
                        ("tweets", "labels", "flags", "dlq", "state", "training", "group")}
    crash_topics = {k: v.replace("-ref-", "-crash-") for k, v in reference_topics.items()}
    for topics in (reference_topics, crash_topics):
        botwatch("topics", "create", env=botwatch_env(kafka_bootstrap, topics))
        produce_all(kafka_bootstrap, records, topics)

    run_to_completion(botwatch_env(kafka_bootstrap, reference_topics))
    expected = action_sequences(kafka_bootstrap, reference_topics["flags"])
    assert sum(len(s) for s in expected.values()) > 100, "too few flags for the comparison to mean anything"

    env = botwatch_env(kafka_bootstrap, crash_topics)
    rng = random.Random(7)
    for kill in range(KILLS):
        port = free_port()
        consumer = start_consumer(env, port)
        # kill after this incarnation has committed at least once and consumed a random amount more
        threshold = rng.randint(1_000, 12_000)
        wait_for(lambda: consumer.poll() is not None or (
            (metric(port, "botwatch_checkpoints_total") or 0) >= 1
            and (metric(port, "botwatch_events_consumed_total", f'{{topic="{crash_topics["tweets"]}"}}') or 0) >= threshold),
            180, f"incarnation {kill} to make progress")
        assert consumer.poll() is None, f"the consumer exited before kill {kill}: {consumer.stderr.read()[-2000:]}"
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(30)
    run_to_completion(env)

    got = action_sequences(kafka_bootstrap, crash_topics["flags"])
    assert got == expected
