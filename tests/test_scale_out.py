"""Scale-out is Kafka's own: instances joining and dying mid-stream change no account's sequence of actions.

Two consumers share the group, a third joins (a rebalance moves partitions and
their state between instances), then one of the first two is killed with
SIGKILL: as a static member it keeps its partitions until its session times
out (``session.timeout.ms``), then they move to the survivors, which restore
their state from the changelog and resume from the committed offsets. The
per-account action sequences must equal a single consumer's on the same input,
labels included: every instance learns every example, its own and the others'
from the training log, at the same points of event time (README, "Delivery
guarantees and state").
"""

from __future__ import annotations

import re
import time

import pytest

from producers.generate import Generator
from runs import (ConsumerProcess, action_sequences, describe_differences, elapsed, preload, run_to_completion,
                  settled_group_progress, topic_set)
from support import botwatch_env, wait_for

pytestmark = pytest.mark.broker

TWEETS, ACCOUNTS = 50_000, 1_500
# one event a batch and a checkpoint whenever no commit is in flight: slow enough that the join and the kill fall
# mid-stream (decisions are taken in event time, so how the stream is cut into batches and transactions must not
# matter). Batches of 20 were slow enough only while every fetch could wait 500 ms for data (librdkafka's default
# fetch.wait.max.ms); at the service's 10 ms one consumer took the whole stream before a second joined
PACE = ("--batch-size", "1", "--checkpoint-interval", "0")
# instances learning from one another move one tick at a time while they are level (README, "Delivery
# guarantees and state"): ten-minute ticks keep the run short; the reference uses the same
TICK = ("--tick", "600")
# longer than a dead static member's session (10 s) plus the rebalance, so the survivors are still
# running when its partitions come to them
IDLE_EXIT = "25"


@pytest.fixture(scope="module")
def records():
    return list(Generator(accounts=ACCOUNTS, tweets=TWEETS, seed=5).events())


def last_assignment(consumer: ConsumerProcess, topic: str) -> set[int]:
    """The partitions of ``topic`` the consumer's log says it was last assigned."""
    assigned = [line for line in consumer.log.read_text(errors="replace").splitlines() if " assigned " in line]
    return {int(p) for p in re.findall(re.escape(topic) + r"\[(\d+)\]", assigned[-1])} if assigned else set()


def scale_out_run(bootstrap: str, topics: dict, tmp_path) -> list[ConsumerProcess]:
    """Consumers a and b, then c joining, then a killed, all over ``topics``; returns them, finished."""
    started = time.monotonic()
    env = botwatch_env(bootstrap, topics)
    tweets, group = topics["tweets"], topics["group"]

    def start(name: str) -> ConsumerProcess:
        return ConsumerProcess(env, tmp_path / f"{name}.log", "--exit-when-idle", IDLE_EXIT, *PACE, *TICK,
                               transactional_id=f"{group}-{name}")  # also its static group member id

    a, b = start("a"), start("b")
    consumers = [a, b]

    def logs() -> str:
        return "\n".join(x.tail() for x in consumers)

    try:
        # both members of the group process part of the stream
        wait_for(lambda: not all(x.alive for x in consumers) or (
            a.consumed(tweets) >= 1_000 and b.consumed(tweets) >= 1_000), 120, "two consumers to share the stream")
        assert a.alive and b.alive, f"a consumer exited early\n{logs()}"
        assert a.consumed(tweets) + b.consumed(tweets) < TWEETS / 2, "the stream is too short for a mid-stream join"

        # a third member joins mid-stream: a rebalance moves partitions and their state to it
        c = start("c")
        consumers.append(c)
        wait_for(lambda: not all(x.alive for x in consumers) or c.consumed(tweets) >= 2_000, 120,
                 "the third consumer to take a share of the stream")
        assert all(x.alive for x in consumers), f"a consumer exited early\n{logs()}"
        wait_for(lambda: a.consumed(tweets) > 0 and b.consumed(tweets) > 0 and last_assignment(a, tweets)
                 and last_assignment(b, tweets), 30, "a and b to have partitions after the third joined")

        # one of the first two dies while its partitions still have input to give
        victims_partitions = last_assignment(a, tweets)
        a.kill()
        progress = settled_group_progress(bootstrap, topics)
        left = {p: progress[(tweets, p)] for p in victims_partitions}
        print(f"killed a after {elapsed(started)} with partitions {sorted(victims_partitions)} at "
              f"(committed, end) {left}; b has {sorted(last_assignment(b, tweets))}, "
              f"c has {sorted(last_assignment(c, tweets))}")
        assert any(committed < end for committed, end in left.values()), \
            f"the killed consumer had finished its partitions: not mid-stream\n{logs()}"

        # the survivors take over its partitions after its session times out, finish and exit when idle
        for x in (b, c):
            code = x.wait(300)
            assert code == 0, f"{x.name} exited {code}\n{logs()}"
        print(f"survivors done after {elapsed(started)}")
    finally:
        for x in consumers:
            x.kill()

    unfinished = {tp: pe for tp, pe in settled_group_progress(bootstrap, topics).items() if pe[0] < pe[1]}
    assert not unfinished, f"input left unprocessed (committed, end): {unfinished}\n{logs()}"
    taken_over = [x.name for x in (b, c) if victims_partitions & last_assignment(x, tweets)]
    assert taken_over, f"no survivor was assigned the killed consumer's partitions\n{logs()}"
    return consumers


def test_scale_out_with_learning_matches_a_single_consumer(kafka_bootstrap, tmp_path, records):
    started = time.monotonic()
    reference, scaled = topic_set("ref"), topic_set("scale")
    preload(kafka_bootstrap, records, reference, scaled)

    run_to_completion(botwatch_env(kafka_bootstrap, reference), tmp_path / "reference.log", *TICK)
    expected = action_sequences(kafka_bootstrap, reference["flags"])
    assert sum(len(s) for s in expected.values()) > 100, "too few flags for the comparison to mean anything"
    print(f"reference run done at {elapsed(started)}: {sum(map(len, expected.values()))} flags")

    consumers = scale_out_run(kafka_bootstrap, scaled, tmp_path)
    got = action_sequences(kafka_bootstrap, scaled["flags"])
    print(f"compared at {elapsed(started)}")
    assert got == expected, describe_differences(expected, got) + "\n" + "\n".join(x.tail() for x in consumers)
