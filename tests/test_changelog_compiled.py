"""A checkpoint's account records produced by consumer/_changelog.c equal those of state.produce_changes_python:
the same calls of produce, record for record and byte for byte, the same tombstones, and the same stop where
librdkafka's queue is full."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from consumer import features as F
from consumer import state as S


class Recorder:
    """A producer's produce: records each call; raises BufferError on the calls numbered in ``full``."""

    def __init__(self, full=()):
        self.calls, self.full, self.n = [], set(full), 0

    def __call__(self, topic, value, key, partition):
        self.n += 1
        if self.n in self.full:
            raise BufferError("Local: Queue full")
        self.calls.append((topic, value, key, partition))


@pytest.fixture(scope="module")
def kernel():
    if S._produce_changes is None:
        pytest.skip("consumer._changelog is not built: test_the_compiled_changelog_is_built says how to build it")
    return S._produce_changes


def test_the_compiled_changelog_is_built():
    assert S.COMPILED, "consumer._changelog is not built: run `.venv/bin/pip install -e .` (or `make venv`)"


def checkpoint(seed: int):
    """Changed ids, accounts, partitions and waits as a detector and the service hold them: some accounts gone
    (tombstones), some without a partition (another instance's), some waiting for a tick end."""
    rng = random.Random(seed)
    ids = [str(10**18 + rng.randrange(10**6)) for _ in range(300)] + ["ä-ü", "x"]
    accounts = {aid: array("d", [rng.uniform(-1e6, 1e6) for _ in range(F.SLOTS)]) for aid in ids
                if rng.random() < 0.8}
    partition_of = {aid: rng.randrange(6) for aid in ids if rng.random() < 0.9}
    waiting = {aid: rng.choice([600.0, 1.7e9 + 5.0, -0.0, math.inf, 5]) for aid in ids if rng.random() < 0.3}
    return ids, accounts, partition_of, waiting


def run(produce_changes, ids, accounts, partition_of, waiting, full=()):
    """The service's loop: call again from where the queue was full until every account is done."""
    produce, gone, done, stops = Recorder(full), [], 0, []
    while done < len(ids):
        done = produce_changes(ids, done, accounts, partition_of, waiting, produce, "state", gone)
        stops.append(done)
    return produce.calls, gone, stops


@pytest.mark.parametrize("seed", range(6))
def test_the_records_equal_the_definitions(kernel, seed):
    ids, accounts, partition_of, waiting = checkpoint(seed)
    full = random.Random(seed).sample(range(1, 200), 8)
    got = run(kernel, ids, accounts, partition_of, waiting, full)
    expected = run(S.produce_changes_python, ids, accounts, partition_of, waiting, full)
    assert got == expected
    calls, gone, stops = got
    assert len(stops) == 9 and gone and any(value is None for _, value, _, _ in calls)
    for _, value, key, _ in calls:
        if value is not None:
            aid = key.decode()
            assert S.decode_account(value)[1] == waiting.get(aid)


def test_a_state_that_is_no_buffer_and_bad_arguments_raise(kernel):
    with pytest.raises(TypeError):
        kernel(["a"], 0, {"a": [0.0]}, {"a": 0}, {}, Recorder(), "state", [])
    with pytest.raises(TypeError, match="8 arguments"):
        kernel(["a"], 0, {}, {}, {}, Recorder(), "state")
    with pytest.raises(ValueError, match="start must be"):
        kernel(["a"], -1, {}, {}, {}, Recorder(), "state", [])


def test_an_error_of_produce_other_than_a_full_queue_leaves_the_loop(kernel):
    def produce(topic, value, key, partition):
        raise KeyError("no such topic")

    gone = []
    with pytest.raises(KeyError):
        kernel(["a", "b"], 0, {}, {"a": 0, "b": 1}, {}, produce, "state", gone)
    assert gone == []
