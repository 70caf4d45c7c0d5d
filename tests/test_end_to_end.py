"""The whole system on a real broker: generator -> Kafka -> botwatch consume -> bot-flags and /metrics."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import urllib.request

import pytest

from support import REPO, botwatch, botwatch_env, wait_for
from consumer.kafka.broker import free_port
from kafka_io import json_values, read_topic

pytestmark = pytest.mark.broker

TWEETS, ACCOUNTS = 20_000, 500


def metric(port: int, name: str, labels: str = "") -> float | None:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith(name + labels + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_generated_bots_are_flagged_and_no_human_is_blocked(kafka_bootstrap, topics, tmp_path):
    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", env=env)
    port = free_port()
    consumer = subprocess.Popen(
        [sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        truth_file = tmp_path / "truth.csv"
        botwatch("generate", "--tweets", str(TWEETS), "--accounts", str(ACCOUNTS), "--seed", "11",
                 "--truth-out", str(truth_file), env=env)
        truth = {row["account_id"]: row["label"] for row in csv.DictReader(truth_file.open())}
        assert len(truth) == ACCOUNTS and "bot" in truth.values()

        consumed = f'{{topic="{topics["tweets"]}"}}'
        wait_for(lambda: metric(port, "botwatch_events_consumed_total", consumed) == TWEETS, 120,
                 f"the consumer to count {TWEETS} tweets")
        flags = json_values(read_topic(kafka_bootstrap, topics["flags"], until=lambda msgs: len(msgs) > 0))

        final = {}
        for flag in flags:
            final[flag["account_id"]] = flag["action"]
        bots = [a for a, label in truth.items() if label == "bot"]
        humans = [a for a, label in truth.items() if label == "human"]
        flagged_bots = sum(final.get(a) in ("review", "block") for a in bots)
        blocked_humans = [a for a in humans if final.get(a) == "block"]
        assert flagged_bots > len(bots) / 2, f"only {flagged_bots} of {len(bots)} bots flagged"
        assert blocked_humans == []
        for flag in flags:
            assert set(flag) >= {"account_id", "action", "score", "threshold", "model_version", "reasons",
                                 "event_time", "flagged_at", "tweets_seen"}
        # one message per change of an account's action
        seen = {}
        for flag in flags:
            assert seen.get(flag["account_id"]) != flag["action"], f"repeated {flag['action']} for {flag['account_id']}"
            seen[flag["account_id"]] = flag["action"]
        assert metric(port, "botwatch_events_consumed_total", consumed) == TWEETS
        assert metric(port, "botwatch_flags_emitted_total", '{action="review"}') is not None
        assert metric(port, "botwatch_batch_duration_seconds_count") > 0
        assert 0.9 <= metric(port, "botwatch_block_threshold") <= 1.0  # never below --block-threshold's default
        assert metric(port, "botwatch_examples_late_total") == 0  # one instance: its own clock is the only one
    finally:
        consumer.send_signal(signal.SIGTERM)
        out, err = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, err[-3000:]
