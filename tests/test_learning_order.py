"""Several instances learning from one another's examples decide exactly as one instance does.

In-process, no Kafka: each simulated instance owns some of the input
partitions and runs its own :class:`Detector`; the training log is a list
every instance reads, and each publishes its clock now and then, as the
service does at a checkpoint. The instances are advanced in random order by
random amounts, so examples reach each model at different moments; the flags
must still equal those of one detector over the whole stream, account by
account. Partitions also move between the instances mid-stream, with their
state, and are owned by nobody for a while in between, as in a rebalance.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict

import pytest

from consumer.decode import decode_label, decode_tweets
from consumer.detector import Detector
from consumer.events import Label, Tweet
from consumer.policy import Policy
from producers.generate import Generator

PARTITIONS = 4
INF = float("inf")


def partition_of(account_id: str) -> int:
    return zlib.crc32(account_id.encode()) % PARTITIONS


def detector() -> Detector:
    return Detector(Policy(min_labels=5), min_tweets=2, tick=600.0)


@pytest.fixture(scope="module")
def events():
    out = []
    for record in Generator(accounts=400, tweets=12_000, seed=31).events():
        if record.topic == "labels":
            out.append(decode_label(record.value))
        else:
            out.extend(decode_tweets(record.value))
    out.sort(key=lambda e: e.ts)  # the aligner's order
    return out


def actions(flags) -> dict[str, list[str]]:
    by_account = defaultdict(list)
    for flag in flags:
        by_account[flag["account_id"]].append((flag["action"], flag["event_time"], flag["model_version"]))
    return dict(by_account)


class Instance:
    """One simulated ``botwatch consume``: its partitions' input, its detector, its place in the shared log."""

    def __init__(self, name: str, partitions: set[int], events):
        self.name, self.partitions = name, set(partitions)
        self.detector = detector()
        self.input = [e for e in events if partition_of(e.account_id) in self.partitions]
        self.read = 0  # position in the shared training log

    def next_time(self) -> float:
        return self.input[0].ts if self.input else INF

    def clock(self) -> float:
        return min(self.detector.clock, self.next_time())

    def step(self, log: list, clocks: dict[int, float], n: int, flags: list) -> None:
        d = self.detector
        for origin, example in log[self.read:]:
            if origin != self.name:
                d.add_example(example["ts"], example["account_id"], example["label"] == "bot", example["features"])
        self.read = len(log)
        d.horizon = min((clocks[p] for p in range(PARTITIONS) if p not in self.partitions), default=INF)
        batch = self.input[:n]
        result = d.process(batch) if batch else d.flush()
        del self.input[:result.processed if batch else 0]
        flags.extend(result.flags)
        log.extend((self.name, x) for x in result.examples)

    @property
    def done(self) -> bool:
        return not self.input and not self.detector.has_open_tick

    def revoke(self, partition: int, clocks: dict[int, float]) -> dict:
        """Give up ``partition`` as a rebalance does: publish the clock, hand out its state and unread input."""
        d = self.detector
        for p in self.partitions:  # the checkpoint on revocation
            clocks[p] = self.clock()
        accounts = {a: s for a, s in d.accounts.items() if partition_of(a) == partition}
        moved = {"accounts": accounts, "waiting": {a: d.waits_until(a) for a in accounts if d.waits_until(a) is not None},
                 "stream_time": d.stream_time, "learned_through": d.learned_through,
                 "labels": [(at, lb) for at, lb in d.pending_labels() if partition_of(lb.account_id) == partition],
                 "input": [e for e in self.input if partition_of(e.account_id) == partition]}
        d.drop(list(accounts), lambda lb: partition_of(lb.account_id) == partition)
        self.input = [e for e in self.input if partition_of(e.account_id) != partition]
        self.partitions.discard(partition)
        return moved

    def assign(self, partition: int, moved: dict) -> None:
        """Take ``partition`` over from what its previous owner committed."""
        self.detector.install(moved["accounts"], moved["waiting"], moved["stream_time"], moved["labels"],
                              moved["learned_through"])
        self.input = sorted(self.input + moved["input"], key=lambda e: e.ts)
        self.partitions.add(partition)


def run_instances(events, seed: int, move_every: int | None = None) -> tuple[list[dict], list[Instance]]:
    """Two instances advanced at random; with ``move_every``, a partition leaves its owner every that many
    steps and, after a while owned by nobody, joins the other instance."""
    rng = random.Random(seed)
    instances = [Instance("a", {0, 1}, events), Instance("b", {2, 3}, events)]
    log: list = []
    flags: list = []  # as the flags topic would have them: an account's in the order they were made
    clocks = {p: -INF for p in range(PARTITIONS)}
    steps = moves = 0
    in_transit = None
    while not all(x.done for x in instances) or in_transit:
        steps += 1
        assert steps < 200_000, "the instances stopped making progress: they wait for each other"
        x = rng.choice(instances)
        x.step(log, clocks, rng.choice([1, 7, 50, 400]), flags)
        if rng.random() < 0.3:  # a checkpoint publishes the instance's clock for its partitions
            for p in x.partitions:
                clocks[p] = x.clock()
        if move_every and steps % move_every == 0:
            if in_transit:
                taker, partition, moved = in_transit
                taker.assign(partition, moved)
                in_transit = None
                moves += 1
            else:
                giver = max(instances, key=lambda i: len(i.partitions))
                partition = rng.choice(sorted(giver.partitions))
                in_transit = (instances[giver is instances[0]], partition, giver.revoke(partition, clocks))
    return flags, instances, moves


def test_one_detector_flags_and_learns(events):
    one = detector()
    flags = one.process(events).flags + one.flush().flags
    assert len(flags) > 50 and one.model.examples > 50, "too little happened for the comparisons to mean anything"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_instances_sharing_examples_decide_as_one(events, seed):
    one = detector()
    expected = actions(one.process(events).flags + one.flush().flags)
    flags, instances, _ = run_instances(events, seed)
    assert actions(flags) == expected
    assert all(x.detector.model.examples == one.model.examples for x in instances)
    assert all(x.detector.late_examples == 0 for x in instances)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_partitions_moving_mid_stream_change_no_decision(events, seed):
    one = detector()
    expected = actions(one.process(events).flags + one.flush().flags)
    flags, instances, moves = run_instances(events, seed, move_every=25)
    assert moves >= 20, "too few hand-overs happened mid-stream"
    assert actions(flags) == expected


def test_caught_up_the_model_does_not_learn_examples_ahead_of_the_stream():
    """An example later than the stream's tick (another instance's, or a log read ahead of a replay) waits for
    the stream, even when the consumer is caught up and decides at once: learned then, it would score the
    stream's next tweets with a model that has seen their future."""
    from consumer.events import Tweet

    d = detector()
    d.add_example(1e9 + 10_000, "9", True, {"tweet_rate": 1.0})
    d.process([Tweet("1", "7", 1e9, text="hi"), Tweet("2", "7", 1e9 + 60, text="hi")])
    d.flush()
    assert d.model.examples == 0 and d.learned_through < 1e9 + 10_000
    assert not d.has_open_tick, "nothing the stream has reached waits: the caught-up consumer has no work"
    assert "7" not in d._dirty, "the account waiting at the stream's tick was scored"
    d.process([Tweet("3", "7", 1e9 + 20_000, text="hi")])
    assert d.model.examples == 1


@pytest.mark.parametrize("tick", [0.25, 1.0 / 1024, 7.25])
def test_a_label_at_a_tick_end_is_passed_with_any_tick_allowed(tick):
    """A tick end is always later than the events of its tick. With a tick of 0.1 (refused now), the end of
    60.0's tick rounded onto 60.0 itself, and a label there was never before its tick end: passing it looped
    forever."""
    detector = Detector(Policy(min_labels=1), min_tweets=1, tick=tick)
    detector.process([Tweet("1", "a", 59.5, text="hi"), Label("a", True, 60.0), Tweet("2", "a", 60.0, text="ho"),
                      Tweet("3", "b", 61.0, text="hey")])
    assert detector.flush() is not None and detector.model.examples == 1
    with pytest.raises(ValueError, match="1/1024"):
        Detector(tick=0.1)
