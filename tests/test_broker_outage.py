"""Broker outage: the broker stopped for 20 seconds mid-stream; the consumer rides it out and loses nothing.

The test runs its own broker (the session's is shared with other tests and
must not go away): a reference run over one preloaded copy of the stream,
then a run over a second copy during which the broker is stopped once a third
of the input is consumed, kept down for 20 seconds and started again on the
same data directory and port. The consumer must stay up throughout, finish
the input after the restart, stop cleanly on SIGTERM, and the per-account
action sequences must equal the reference's.
"""

from __future__ import annotations

import signal
import time

import pytest

from producers.generate import Generator
from runs import (ConsumerProcess, action_sequences, describe_differences, elapsed, group_progress, preload,
                  run_to_completion, topic_set)
from support import botwatch_env

pytestmark = pytest.mark.broker

TWEETS, ACCOUNTS = 30_000, 1_500
OUTAGE = 20.0  # seconds the broker stays down
# small batches, one transaction each: the run lasts long enough for the outage to fall mid-stream
PACE = ("--batch-size", "20", "--checkpoint-interval", "0")


@pytest.fixture(scope="module")
def records():
    return list(Generator(accounts=ACCOUNTS, tweets=TWEETS, seed=23).events())


def input_left(bootstrap: str, topics: dict) -> dict[tuple[str, int], int] | None:
    """(topic, partition) -> input messages the group has not committed yet (only those with any)."""
    progress = group_progress(bootstrap, topics)
    return None if progress is None else {tp: end - done for tp, (done, end) in progress.items() if done < end}


def test_broker_stopped_for_20s_mid_stream_changes_nothing(own_broker, tmp_path, records):
    started = time.monotonic()
    reference, outage = topic_set("ref"), topic_set("outage")
    preload(own_broker.bootstrap, records, reference, outage)
    print(f"broker up and {TWEETS} tweets preloaded twice after {elapsed(started)}")

    run_to_completion(botwatch_env(own_broker.bootstrap, reference), tmp_path / "reference.log")
    expected = action_sequences(own_broker.bootstrap, reference["flags"])
    assert sum(len(s) for s in expected.values()) > 100, "too few flags for the comparison to mean anything"
    print(f"reference run done after {elapsed(started)}: {sum(map(len, expected.values()))} flags")

    env = botwatch_env(own_broker.bootstrap, outage)
    tweets = outage["tweets"]
    consumer = ConsumerProcess(env, tmp_path / "outage.log", *PACE)
    try:
        consumer.wait_for(lambda: consumer.metric("botwatch_checkpoints_total") >= 1
                          and consumer.consumed(tweets) >= TWEETS / 3, 120, "the consumer to consume a third of the input")
        left = input_left(own_broker.bootstrap, outage)
        assert left, "the consumer committed the whole input before the outage: not mid-stream"

        own_broker.stop()
        stopped = time.monotonic()
        print(f"broker stopped after {elapsed(started)}: {consumer.consumed(tweets):.0f} tweets consumed, "
              f"{sum(left.values())} messages not committed yet")
        # the fault itself, not synchronisation: the broker stays down for OUTAGE seconds while
        # the consumer must keep running (checked every second)
        while time.monotonic() - stopped < OUTAGE:
            assert consumer.alive, f"the consumer exited during the outage\n{consumer.tail()}"
            time.sleep(1.0)
        own_broker.start()
        print(f"broker restarted after {elapsed(started)} (down {time.monotonic() - stopped:.1f}s)")
        assert consumer.alive, f"the consumer exited during the outage\n{consumer.tail()}"

        # it resumes and finishes the input
        consumer.wait_for(lambda: input_left(own_broker.bootstrap, outage) == {}, 120, "the consumer to commit the whole input")
        print(f"input committed after {elapsed(started)}")

        consumer.proc.send_signal(signal.SIGTERM)
        code = consumer.wait(60)
        assert code == 0, f"the consumer exited {code} on SIGTERM\n{consumer.tail()}"
    finally:
        consumer.kill()

    # whatever the stopped consumer left to decide at the end of the input (its last open tick: the
    # state says which accounts wait) is decided by a run over the committed state
    run_to_completion(env, tmp_path / "drain.log")
    got = action_sequences(own_broker.bootstrap, outage["flags"])
    print(f"compared after {elapsed(started)}")
    assert got == expected, describe_differences(expected, got) + "\n" + consumer.tail(60)
