"""Event-time alignment: release order, watermark, and committable offsets."""

from __future__ import annotations

import random

import pytest

from consumer.align import Aligner


def test_release_is_in_event_time_order_whatever_the_fetch_order():
    rng = random.Random(2)
    partitions = {p: sorted(rng.uniform(0, 1000) for _ in range(200)) for p in range(4)}
    a = Aligner()
    a.assign(partitions)
    cursors = {p: 0 for p in partitions}
    released = []
    while any(cursors[p] < len(ts) for p, ts in partitions.items()):
        p = rng.choice([p for p in partitions if cursors[p] < len(partitions[p])])
        chunk = partitions[p][cursors[p]:cursors[p] + rng.randint(1, 50)]
        for i, ts in enumerate(chunk):
            a.add(p, cursors[p] + i, ts, ts)
        cursors[p] += len(chunk)
        if cursors[p] == len(partitions[p]):
            a.end_of_partition(p)
        released.extend(item for _, _, item in a.release())
    assert released == sorted(ts for ts_list in partitions.values() for ts in ts_list)
    assert a.committable == {p: 200 for p in partitions}


def test_unread_partition_holds_the_watermark_until_it_reports_its_end():
    a = Aligner()
    a.assign(["tweets-0", "labels-0"])
    a.add("tweets-0", 0, 5.0, "t")
    assert a.release() == []
    a.end_of_partition("labels-0")
    assert [item for _, _, item in a.release()] == ["t"]


def test_undecodable_items_keep_their_place_and_offsets_never_pass_unreleased():
    a = Aligner()
    a.assign(["p", "q"])
    a.add("p", 0, 1.0, "a")
    a.add("p", 1, None, "bad")
    a.add("p", 2, 9.0, "b")
    a.add("q", 0, 4.0, "c")
    assert [item for _, _, item in a.release()] == ["a", "bad", "c"]
    assert a.committable == {"p": 2, "q": 1}


def test_revoke_returns_what_was_not_released():
    a = Aligner()
    a.assign(["p", "q"])
    a.add("p", 0, 10.0, "x")
    assert a.revoke(["p"]) == [("p", 0, "x")]
    assert "p" not in a.committable and a.buffered("p") == 0


def interleaved_at_end() -> Aligner:
    """p at times 1, 3, 5 and q at 2, 4, both read to their end: they release as p0 q0 p1 q1 p2."""
    a = Aligner()
    a.assign(["p", "q"])
    for i, ts in enumerate([1.0, 3.0, 5.0]):
        a.add("p", i, ts, f"p{i}")
    for i, ts in enumerate([2.0, 4.0]):
        a.add("q", i, ts, f"q{i}")
    a.end_of_partition("p")
    a.end_of_partition("q")
    return a


def test_held_back_items_come_out_again_in_order_and_are_not_committable_until_then():
    a = interleaved_at_end()
    first = a.release()
    assert [item for _, _, item in first] == ["p0", "q0", "p1", "q1", "p2"]
    a.hold_back(2, first="p1-rest")  # the consumer took p0 and q0, and only part of p1
    assert a.committable == {"p": 1, "q": 1}
    assert a.floor == 3.0
    assert [item for _, _, item in a.release()] == ["p1-rest", "q1", "p2"]
    assert a.committable == {"p": 3, "q": 2}
    assert a.floor == float("inf")


def test_floor_is_the_earliest_time_still_to_come():
    a = Aligner()
    a.assign(["p", "q"])
    assert a.floor == float("-inf")  # nothing read from either yet
    a.add("p", 0, 10.0, "x")
    a.add("q", 0, 20.0, "y")
    a.release()
    assert a.floor == 10.0  # p may still give anything from 10 on; q's 20 is buffered
    a.end_of_partition("p")
    assert a.floor == 20.0


def test_a_limited_release_holds_the_rest_back_in_order():
    a = interleaved_at_end()
    assert [item for _, _, item in a.release(limit=2)] == ["p0", "q0"]
    assert a.committable == {"p": 1, "q": 1}  # what was held back is not committable
    assert [item for _, _, item in a.release(limit=2)] == ["p1", "q1"]
    assert [item for _, _, item in a.release(limit=2)] == ["p2"]
    assert a.committable == {"p": 3, "q": 2}
    assert a.release(limit=2) == []


@pytest.mark.parametrize("steps_back", [False, True], ids=["in-order", "steps-back"])
@pytest.mark.parametrize("seed", range(20))
def test_limited_releases_come_out_as_one_release_would(seed, steps_back):
    """Released ``limit`` at a time (merging only what is taken), the entries come out in the order, and with
    the offsets committable, of a release of everything at once; ties in time and partitions whose times step
    back included."""
    rng = random.Random(seed)
    whole, limited = Aligner(), Aligner()
    keys = [f"p{k}" for k in range(rng.randint(1, 5))]
    for a in (whole, limited):
        a.assign(keys)
    for key in keys:
        ts = 0.0
        for offset in range(rng.randint(6, 60)):
            back = steps_back and (rng.random() < 0.05 or offset == 5)
            ts = ts - 2.0 if back else ts + rng.choice([0.0, 0.5, 1.0, 3.0])
            for a in (whole, limited):
                a.add(key, offset * 2, ts, f"{key}@{offset}")  # gaps in the offsets, as control records make
    for a in (whole, limited):
        for key in keys:
            a.end_of_partition(key)
    assert whole.in_order != steps_back
    expected = whole.release()
    got = []
    while True:
        part = limited.release(limit=rng.randint(1, 12))
        if not part:
            break
        got += part
    assert got == expected
    assert limited.committable == whole.committable
