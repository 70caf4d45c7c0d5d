"""Reference and disturbed runs of ``botwatch consume`` over the same preloaded stream.

The pattern of the fault-tolerance tests: one generated stream is preloaded
into two sets of topics; a single consumer processes the first set without
interference (the reference), the second set is processed under some fault
(crashes, rebalances, a broker outage); then each account's sequence of
actions, read back with ``read_committed``, must be the same in both.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafka_io import produce_all, read_topic
from support import REPO, botwatch, botwatch_env, wait_for
from consumer.kafka.broker import free_port
from consumer.kafka.errors import is_transient

KINDS = ("tweets", "labels", "flags", "dlq", "state", "training", "group")


def topic_set(tag: str) -> dict[str, str]:
    """Fresh topic and group names, ``<kind>-<tag>-<random>``."""
    suffix = uuid.uuid4().hex[:6]
    return {kind: f"{kind}-{tag}-{suffix}" for kind in KINDS}


def preload(bootstrap: str, records, *topic_sets: dict) -> None:
    """Create each set's topics and produce the same ``records`` into each."""
    for topics in topic_sets:
        botwatch("topics", "create", env=botwatch_env(bootstrap, topics))
        produce_all(bootstrap, records, topics)


class ConsumerProcess:
    """One ``botwatch consume`` process, its stderr in a file, its /metrics on a free port."""

    def __init__(self, env: dict, log: Path, *args: str, transactional_id: str | None = None):
        self.port = free_port()
        self.log = log
        env = dict(env, PYTHONFAULTHANDLER="1")  # SIGABRT prints every thread's stack: see stacks()
        if transactional_id is not None:
            env["BOTWATCH_TRANSACTIONAL_ID"] = transactional_id
        self.name = env.get("BOTWATCH_TRANSACTIONAL_ID", "consumer")
        self._stderr = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", str(self.port), *args],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self._stderr)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def metric(self, name: str, labels: str = "") -> float:
        from test_end_to_end import metric

        return metric(self.port, name, labels) or 0.0

    def consumed(self, topic: str) -> float:
        return self.metric("botwatch_events_consumed_total", f'{{topic="{topic}"}}')

    def tail(self, lines: int = 25) -> str:
        """The last lines of the log, without the options line, the drift warnings and librdkafka's
        reconnection attempts (not these tests' concern)."""
        text = [line for line in self.log.read_text(errors="replace").splitlines()
                if " options: " not in line and "drift detected" not in line and "Connection refused" not in line]
        return f"--- {self.name} ({self.log}), last {lines} lines:\n" + "\n".join(text[-lines:])

    def stacks(self) -> str:
        """Where a live process is stuck: it is aborted and prints its threads' stacks (see PYTHONFAULTHANDLER)."""
        if self.alive:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        return self.tail(60)

    def wait_for(self, condition, timeout: float, what: str) -> None:
        """Wait until ``condition()`` holds while this process stays alive; on failure say where it was."""
        try:
            wait_for(lambda: not self.alive or condition(), timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}; {self.name} stuck, its threads:\n{self.stacks()}") from None
        assert self.alive, f"{self.name} exited (code {self.proc.returncode}) while waiting for {what}\n{self.tail()}"

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is not None:
                self._stderr.close()

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait(30)
        self._stderr.close()


def run_to_completion(env: dict, log: Path, *args: str, timeout: float = 600) -> None:
    """One consumer from the group's committed offsets to the end of the input (it exits when idle)."""
    consumer = ConsumerProcess(env, log, "--exit-when-idle", "6", "--checkpoint-interval", "0.5", *args)
    try:
        code = consumer.wait(timeout)
    except subprocess.TimeoutExpired:
        consumer.kill()
        raise AssertionError(f"the consumer did not finish within {timeout}s\n{consumer.tail()}")
    assert code == 0, f"the consumer exited {code}\n{consumer.tail()}"


def group_progress(bootstrap: str, topics: dict) -> dict[tuple[str, int], tuple[int, int]] | None:
    """(topic, partition) -> (offset the group committed, end of the partition) for the input topics;
    None while the broker cannot tell (just restarted, its group coordinator not loaded yet)."""
    # committed() only: never joins. read_uncommitted, because librdkafka then does not ask for stable offsets:
    # a killed instance's transaction holding offsets stays open until its timeout (60 s), and meanwhile the
    # broker answers a read_committed reader "unstable offset commit" instead of the offsets committed
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": topics["group"], "enable.auto.commit": False,
                       "isolation.level": "read_uncommitted"})
    try:
        tps = [TopicPartition(topics[kind], p) for kind in ("tweets", "labels")
               for p in reader.list_topics(topics[kind], timeout=10).topics[topics[kind]].partitions]
        progress = {}
        for tp in reader.committed(tps, timeout=10):
            _, high = reader.get_watermark_offsets(tp, timeout=10, cached=False)
            progress[(tp.topic, tp.partition)] = (max(tp.offset, 0), high)
        return progress
    except KafkaException as e:
        if is_transient(e.args[0]):
            return None
        raise
    finally:
        reader.close()


def settled_group_progress(bootstrap: str, topics: dict, timeout: float = 60) -> dict[tuple[str, int], tuple[int, int]]:
    """:func:`group_progress`, waiting while the broker cannot tell."""
    return wait_for(lambda: group_progress(bootstrap, topics), timeout, "the group coordinator to answer")


def open_transactions(bootstrap: str, topic: str) -> list[int]:
    """Partitions of ``topic`` whose last stable offset is behind the high watermark (a transaction is open)."""
    committed = Consumer({"bootstrap.servers": bootstrap, "group.id": f"lso-{uuid.uuid4().hex[:8]}",
                          "isolation.level": "read_committed"})
    uncommitted = Consumer({"bootstrap.servers": bootstrap, "group.id": f"hw-{uuid.uuid4().hex[:8]}",
                            "isolation.level": "read_uncommitted"})
    try:
        partitions = committed.list_topics(topic, timeout=10).topics[topic].partitions
        stuck = []
        for p in sorted(partitions):
            tp = TopicPartition(topic, p)
            _, stable = committed.get_watermark_offsets(tp, timeout=10, cached=False)
            _, high = uncommitted.get_watermark_offsets(tp, timeout=10, cached=False)
            if stable < high:
                stuck.append(p)
        return stuck
    finally:
        committed.close()
        uncommitted.close()


def action_sequences(bootstrap: str, topic: str, timeout: float = 90) -> dict[str, list[str]]:
    """Each account's actions in the order they were committed to ``topic``.

    A transaction left open (by a killed instance, until the broker aborts it
    after ``transaction.timeout.ms``) hides everything behind it from a
    ``read_committed`` reader: wait until none is open, so the read is complete.
    """
    wait_for(lambda: not open_transactions(bootstrap, topic), timeout,
             f"no open transaction on {topic} (a killed producer's is aborted after transaction.timeout.ms)",
             interval=1.0)
    flags = [orjson.loads(m.value()) for m in read_topic(bootstrap, topic, until=lambda msgs: len(msgs) > 0)]
    sequences = defaultdict(list)
    for flag in flags:
        sequences[flag["account_id"]].append(flag["action"])
    return dict(sequences)


def describe_differences(expected: dict[str, list[str]], got: dict[str, list[str]], limit: int = 15) -> str:
    """The accounts whose sequences differ, for an assertion message."""
    differing = sorted(a for a in expected.keys() | got.keys() if expected.get(a, []) != got.get(a, []))
    lines = [f"{len(differing)} of {len(expected.keys() | got.keys())} accounts differ "
             f"({sum(map(len, expected.values()))} flags expected, {sum(map(len, got.values()))} got):"]
    for a in differing[:limit]:
        lines.append(f"  {a}: expected {expected.get(a, [])}, got {got.get(a, [])}")
    return "\n".join(lines)


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
