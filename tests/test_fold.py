"""The compiled fold (consumer/_fold.c) leaves the detector exactly as Detector.process's Python body does.

Two detectors are fed the same events, one with the fold and one with the Python loop alone; after every batch
their accounts (state bytes), the accounts waiting to be scored, the open ticks, the changelog set, the clocks,
the labels and every BatchResult must be the same. The fold must also stop exactly before each event it is
not meant to take, having touched nothing for it.
"""

from __future__ import annotations

import math
import random
import struct
from contextlib import contextmanager

import pytest
from hypothesis import given, settings, strategies as st

from consumer import detector as D
from consumer import features as F
from consumer.decode import decode_label, decode_tweets
from consumer.detector import BatchResult, Detector
from consumer.events import Label, Tweet
from consumer.policy import Policy
from producers.generate import Generator

INF = float("inf")


def test_the_compiled_fold_is_built():
    """Without the extension every equivalence test here would compare the Python loop with itself, and the
    service would pay ~3 us of interpreter a tweet: fail instead."""
    try:
        from consumer import _fold
    except ImportError as e:
        pytest.fail(f"consumer._fold is not built ({e}): run `.venv/bin/pip install -e .` (or `make venv`), "
                    "which needs gcc and Python's headers (python3-dev)")
    assert D.COMPILED and D._fold_tweets is _fold.fold_tweets, f"consumer._fold did not bind: {D.NOT_COMPILED}"
    d = Detector()
    d.process([Tweet("1", "7", 1e9, text="hi")])  # the first event runs the expiry scan: Python's
    result = BatchResult()
    assert _fold.fold_tweets(d, [Tweet("2", "8", 1e9 + 1, text="hi")], 0, result) == 1, (
        "the fold declined a plain tweet: the detector's attributes are not what it expects")
    assert result.tweets == 1 and "8" in d.accounts


def _require_fold():
    if not D.COMPILED:
        pytest.skip("consumer._fold is not built: test_the_compiled_fold_is_built says how to build it")


@contextmanager
def python_loop():
    """Detector.process without the fold: the Python body takes every event."""
    saved, D._fold_tweets = D._fold_tweets, None
    try:
        yield
    finally:
        D._fold_tweets = saved


@contextmanager
def counting_fold(counts: dict):
    """The fold, counting the events it takes."""
    fold = D._fold_tweets

    def spy(detector, events, start, result):
        end = fold(detector, events, start, result)
        counts["taken"] = counts.get("taken", 0) + end - start
        return end

    D._fold_tweets = spy
    try:
        yield
    finally:
        D._fold_tweets = fold


# ------------------------------------------------------------------ what is compared

def _f(x):
    """A number, exactly: its bits for a float (-0.0 is not 0.0), else its repr with its type. NaNs are all alike:
    which NaN's payload an operation passes on is the compiler's choice, in CPython's build and in ours."""
    if type(x) is not float:
        return type(x).__name__, repr(x)
    return "nan" if x != x else struct.pack("<d", x).hex()


def snapshot(d: Detector) -> dict:
    return {
        "accounts": [(a, s.tobytes()) for a, s in d.accounts.items()],  # insertion order too
        "dirty": [(a, _f(end)) for a, end in d._dirty.items()],
        "ticks": [(_f(end), [(a, s.tobytes(), s is d.accounts.get(a)) for a, s in members.items()])
                  for end, members in d._ticks.items()],
        "changed": sorted(map(repr, d.changed)),
        "stream_time": _f(d.stream_time),
        "open_until": _f(d._open_until),
        "next_expiry": _f(d._next_expiry),
        "unseen_labels": list(d.unseen_labels.items()),
        "pending": sorted(d._pending, key=repr),
        "label_seq": d._label_seq,
        "unlearned": sorted(repr(u) for u in d._unlearned),
        "learned_through": _f(d.learned_through),
        "rescans": list(d.rescans),
        "examples": d.model.examples,
        "expired": (d.accounts_expired, d.labels_dropped),
    }


def outcome(r: BatchResult) -> dict:
    flags = [{k: v for k, v in flag.items() if k != "flagged_at"} for flag in r.flags]
    return {"flags": flags, "tweets": r.tweets, "duplicates": r.duplicates, "processed": r.processed,
            "labels": r.labels_applied, "examples": r.examples, "drift": [x.as_dict() for x in r.drift],
            "scored": r.scored, "learned": r.learned}


def make_detector(**options) -> Detector:
    return Detector(Policy(min_labels=5), **{"min_tweets": 2, "tick": 60.0, **options})


def drive(events, cuts, horizons=None, **options):
    """Feed ``events`` in batches of the sizes ``cuts`` (cycled), the horizon of batch k ``horizons(k, batch)``;
    what the horizon holds back is offered again in the next batch. Returns the detector and what was seen
    after every call."""
    d = make_detector(**options)
    seen = []
    pos = k = 0
    while pos < len(events):
        batch = events[pos:pos + cuts[k % len(cuts)]]
        d.horizon = horizons(k, batch) if horizons else INF
        r = d.process(batch)
        pos += r.processed
        seen.append((outcome(r) | {"offered": len(batch)}, snapshot(d)))
        k += 1
        assert k < 10 * len(events), "no progress"
    d.horizon = INF
    seen.append((outcome(d.flush()), snapshot(d)))
    return d, seen


def assert_same_runs(events, cuts, horizons=None, min_taken=0.5, **options):
    """The fold and the Python loop alone, after every call alike; the fold took at least ``min_taken`` of the
    events (else the comparison says little)."""
    _require_fold()
    counts = {}
    with counting_fold(counts):
        folded, with_fold = drive(events, cuts, horizons, **options)
    with python_loop():
        _, without = drive(events, cuts, horizons, **options)
    assert len(with_fold) == len(without)
    for k, (a, b) in enumerate(zip(with_fold, without)):
        assert a == b, f"call {k} differs"
    assert counts.get("taken", 0) >= min_taken * len(events), counts
    return folded, with_fold


# ------------------------------------------------------------------ streams

def decoded(accounts: int, tweets: int, seed: int, label_fraction: float = 0.4) -> list:
    out = []
    for record in Generator(accounts=accounts, tweets=tweets, seed=seed, label_fraction=label_fraction,
                            format="v1").events():
        if record.topic == "labels":
            out.append(decode_label(record.value))
        else:
            out.extend(decode_tweets(record.value))
    out.sort(key=lambda e: e.ts)
    return out


@pytest.fixture(scope="module")
def stream():
    return decoded(300, 6000, seed=11)


def with_trouble(events, seed: int) -> list:
    """``events`` with duplicates (adjacent and late), labels that come before their account's first tweet
    (they wait in unseen_labels) and labels of accounts never seen."""
    rng = random.Random(seed)
    out = list(events)
    tweets = [e for e in events if type(e) is Tweet]
    first = {}
    for t in tweets:
        first.setdefault(t.account_id, t.ts)
    late = sorted(first, key=first.get)[len(first) // 2:]
    for aid in rng.sample(late, 15):  # a label ahead of the account: it waits for its first tweet
        out.append(Label(aid, rng.random() < 0.5, first[aid] - rng.uniform(60, 20_000)))
    for n in range(5):  # never seen: dropped after label_ttl
        out.append(Label(f"ghost{n}", True, tweets[rng.randrange(len(tweets))].ts))
    out.sort(key=lambda e: e.ts)
    for _ in range(300):  # redelivered at once
        i = rng.randrange(len(out))
        out.insert(i + 1, out[i])
    for _ in range(100):  # redelivered a little later (the aligner's slack lets a little disorder through)
        i = rng.randrange(len(out) - 60)
        if type(out[i]) is Tweet:
            out.insert(i + rng.randrange(1, 60), out[i])
    return out


# ------------------------------------------------------------------ equivalence

@pytest.mark.parametrize("cuts", [[1000], [1, 7, 50, 333], [6400]])
def test_generated_stream_alike(stream, cuts):
    d, seen = assert_same_runs(stream, cuts, min_taken=0.6)
    assert d.model.examples > 20 and len(d.accounts) > 250, "too little happened for the comparison to mean much"
    assert sum(len(out["flags"]) for out, _ in seen) > 0


def test_dense_stream_alike():
    """Many accounts, so a tick holds tens of tweets: long runs."""
    d, _ = assert_same_runs(decoded(3000, 15_000, seed=12), [1000, 64], min_taken=0.85)
    assert d._ticks or d.rescans


def test_labels_duplicates_and_expiry_alike(stream):
    events = with_trouble(stream, seed=3)
    d, seen = assert_same_runs(events, [5, 200, 1000], account_ttl=4 * 3600.0, label_ttl=6 * 3600.0, tick=7.0,
                               min_taken=0.15)  # a tick end before nearly every other tweet
    assert d.accounts_expired > 0 and d.labels_dropped > 0
    assert sum(out["duplicates"] for out, _ in seen) > 300
    assert any(snap["unseen_labels"] for _, snap in seen)


@pytest.mark.parametrize("seed", [1, 2])
def test_horizon_stops_alike(stream, seed):
    def horizon(k, batch):  # now and then another instance is behind: stop at a tick end within the batch
        return batch[random.Random(seed * 100_000 + k).randrange(len(batch))].ts if k % 3 == 1 else INF

    _, seen = assert_same_runs(with_trouble(stream, seed), [300, 41], horizon, min_taken=0.6)
    assert sum(out["processed"] < out.get("offered", 0) for out, _ in seen) > 10, "too few horizon stops"


def test_python_update_alike(stream, monkeypatch):
    """The fold calls whatever features.update is: here the Python definition."""
    monkeypatch.setattr(F, "update", F.update_python)
    assert_same_runs(stream[:2500], [250], min_taken=0.5)


class OtherTweet(Tweet):
    __slots__ = ()


class Name(str):
    pass


def odd_times(tick: float) -> list:
    """Tweets of a few accounts at negative, zero, tiny and huge times, with some the fold must decline."""
    times = [-1e300, -3e17, -86400.5, -61.0, -60.0, -59.99, -1.5, -5e-324, -0.0, 0.0, 5e-324, 0.5, 59.9, 60.0,
             60.0, 61.0, 1e9, 1e9 + 0.25, 1e15 + 1.0, 3e17, 4.5e17, 1e300, 1.7e308]
    events = []
    for n, ts in enumerate(times):
        for a in range(3):
            events.append(Tweet(f"{n}-{a}", f"acct{(n + a) % 5}", ts, text=f"tweet {n} of {a}"))
    events[7] = OtherTweet(*[getattr(events[7], f) for f in Tweet.__slots__])  # a subclass: the Python body
    events[20] = Tweet("int-ts", "acct1", int(events[20].ts) if events[20].ts > -1e18 else 0)  # an int time
    events[33] = Tweet("odd-id", Name("acct2"), events[33].ts)  # a str subclass as account id
    events.insert(40, Label("acct3", True, events[40].ts))
    events += events[::9]  # late redeliveries (and one more run of the labels and odd ones)
    return events


@pytest.mark.parametrize("tick", [60.0, 7.25, 0.25, 1e10])
@pytest.mark.parametrize("ttl", [30 * 86400.0, 1e300])
def test_extreme_times_alike(tick, ttl):
    assert_same_runs(odd_times(tick), [1, 4, 100], tick=tick, account_ttl=ttl, min_taken=0.2)


def test_int_tick_alike(stream):
    """An int tick, as float floor division converts it."""
    assert_same_runs(stream[:2000], [500], tick=45, min_taken=0.5)


def test_an_error_in_the_update_leaves_the_same_state(stream, monkeypatch):
    """The update's exception comes out of process, after what came before it was done (and written back)."""
    _require_fold()
    events = [e for e in stream[:800] if type(e) is Tweet]
    update = F.update

    def states(python: bool):
        calls = []

        def failing(state, tweet):
            calls.append(tweet)
            if len(calls) == 300:
                raise ValueError("boom")
            return update(state, tweet)

        d = make_detector()
        monkeypatch.setattr(F, "update", failing)
        try:
            if python:
                with python_loop():
                    d.process(events)
            else:
                d.process(events)
        except ValueError as e:
            assert str(e) == "boom"
        else:
            pytest.fail("the update's error was swallowed")
        finally:
            monkeypatch.undo()
        return snapshot(d)

    with_fold, without = states(False), states(True)
    assert with_fold == without
    assert with_fold["stream_time"] == _f(events[299].ts)


# ------------------------------------------------------------------ where it stops

T0 = 1_599_999_980.0  # 20 s into a minute


def fresh() -> Detector:
    """A detector that has run its first expiry scan (the first event of all runs it: Python's)."""
    d = make_detector()
    d._expire(T0 - 100)
    return d


def tw(n, account, ts, cls=Tweet):
    return cls(str(n), account, ts, text=f"text {n}")


def assert_stops_at(setup, events, k):
    """The fold, on a detector ``setup`` made, takes events[:k] and returns k; its detector is then exactly the
    one the Python body leaves after events[:k] (so nothing was done for events[k]), with the same counts."""
    _require_fold()
    d = setup()
    result = BatchResult()
    assert D._fold_tweets(d, events, 0, result) == k
    reference = setup()
    with python_loop():
        expected = reference.process(events[:k])
    assert snapshot(d) == snapshot(reference)
    assert (result.tweets, result.duplicates) == (expected.tweets, expected.duplicates)
    return d


def test_stops_at_a_label():
    assert_stops_at(fresh, [tw(1, "a", T0), tw(2, "b", T0 + 1), Label("a", True, T0 + 2), tw(3, "a", T0 + 3)], 2)


def test_stops_at_a_tweet_subclass_or_odd_fields():
    events = [tw(1, "a", T0), tw(2, "a", T0 + 1)]
    assert_stops_at(fresh, events + [tw(3, "a", T0 + 2, cls=OtherTweet)], 2)
    assert_stops_at(fresh, events + [Tweet("3", "a", 1_600_000_022)], 2)  # an int time
    assert_stops_at(fresh, events + [Tweet("3", Name("a"), T0 + 2)], 2)  # a str subclass
    assert_stops_at(fresh, events + [Tweet("3", 7, T0 + 2)], 2)  # not a str
    odd = Tweet.__new__(Tweet)  # a slot never set: Python raises AttributeError there, not the fold
    assert_stops_at(fresh, events + [odd], 2)


def test_stops_at_the_tick_end():
    end = (T0 // 60.0 + 1.0) * 60.0
    # the first tweet sets _open_until to the end of its tick; a tweet just before it is taken, one at it is not
    assert_stops_at(fresh, [tw(1, "a", T0), tw(2, "b", math.nextafter(end, -INF)), tw(3, "c", end)], 2)
    d = assert_stops_at(fresh, [tw(1, "a", T0), tw(2, "b", end), tw(3, "c", end + 1)], 1)
    assert d._open_until == end, "the run kept _open_until in a local and did not write it back"


def test_stops_at_the_tick_end_an_earlier_tweet_of_the_run_opened():
    """Out of order by a little: a tweet of an earlier tick lowers _open_until within the run."""
    later = T0 + 300
    assert_stops_at(fresh, [tw(1, "a", later), tw(2, "b", T0), tw(3, "c", T0 + 60), tw(4, "d", later)], 2)


def test_stops_at_the_open_until_the_detector_has():
    def setup():
        d = fresh()
        d._open_until = T0 + 5
        return d

    assert_stops_at(setup, [tw(1, "a", T0), tw(2, "a", T0 + 4.5), tw(3, "b", T0 + 5)], 2)


def test_stops_at_the_expiry_scan():
    def setup():
        d = fresh()
        d._next_expiry = T0 + 10
        return d

    assert_stops_at(setup, [tw(1, "a", T0), tw(2, "b", math.nextafter(T0 + 10, -INF)), tw(3, "a", T0 + 10)], 2)


def test_stops_at_a_pending_label():
    def setup():
        d = fresh()
        d.process([tw(0, "a", T0 - 1)])
        d._push_label(T0 + 1, Label("a", True, T0 + 1))  # applied by the first event after T0 + 1
        return d

    assert_stops_at(setup, [tw(1, "a", T0), tw(2, "b", T0 + 1), tw(3, "b", math.nextafter(T0 + 1, INF))], 2)


def test_stops_at_a_new_account_whose_label_waited():
    def setup():
        d = fresh()
        d.unseen_labels["w"] = Label("w", True, T0 - 100)
        d.process([tw(0, "k", T0 - 1)])
        d.unseen_labels["k"] = Label("k", False, T0 - 100)  # known already: its tweets are folded
        return d

    assert_stops_at(setup, [tw(1, "k", T0), tw(2, "new", T0 + 1), tw(3, "w", T0 + 2), tw(4, "k", T0 + 3)], 2)


@pytest.mark.parametrize("attribute, value", [
    ("stream_time", 0), ("_open_until", 10**20), ("_next_expiry", 10**20), ("tick", 0.0), ("tick", 10**400),
    ("accounts", type("Accounts", (dict,), {})()), ("changed", frozenset()), ("_pending", [("x", 0, None)]),
], ids=["int stream_time", "int _open_until", "int _next_expiry", "zero tick", "tick past a float", "dict subclass",
        "frozenset", "odd label heap"])
def test_declines_a_detector_it_does_not_know(attribute, value):
    _require_fold()
    d = fresh()
    setattr(d, attribute, value)
    result = BatchResult()
    assert D._fold_tweets(d, [tw(1, "a", T0)], 0, result) == 0
    assert result.tweets == 0 and getattr(d, attribute) is value


def test_starts_where_it_is_told_and_stops_at_the_end():
    _require_fold()
    d = fresh()
    events = [Label("z", True, T0 - 5), tw(1, "a", T0), tw(2, "b", T0 + 1)]
    result = BatchResult()
    assert D._fold_tweets(d, events, 1, result) == 3 and result.tweets == 2
    assert D._fold_tweets(d, events, 3, result) == 3
    with pytest.raises(IndexError):
        D._fold_tweets(d, events, 4, result)
    assert D._fold_tweets(d, iter(events), 1, result) == 1  # not a list or tuple: the Python body takes it


def test_counts_new_tweets_and_duplicates():
    d = assert_stops_at(fresh, [tw(1, "a", T0), tw(1, "a", T0), tw(2, "a", T0 + 1), tw(1, "a", T0)], 4)
    assert d.changed == {"a"}


# ------------------------------------------------------------------ the tick end

SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 0.5, -0.5, 1.0, -1.0, 59.9, 60.0, -60.0, 1e9, 1e300, -1e300, 1.7976931348623157e308,
           -1.7976931348623157e308, INF, -INF, math.nan]


def _python_end(ts, tick):
    return (ts // tick + 1.0) * tick


@pytest.mark.parametrize("tick", [60.0, -60.0, 7.3, 0.1, 1e-300, 5e-324, 1e300, -1e300, INF, -INF, math.nan])
def test_the_tick_end_is_pythons(tick):
    _require_fold()
    from consumer import _fold

    for ts in SPECIAL + [x * tick for x in (-3.0, -1.0, 1.0, 2.0, 2.5)]:
        assert _f(_fold.end_of_tick(ts, tick)) == _f(_python_end(ts, tick)), (ts, tick)


def test_the_tick_end_by_zero_raises_as_python():
    _require_fold()
    from consumer import _fold

    for ts in (1.0, 0.0, -0.0):
        with pytest.raises(ZeroDivisionError):
            _fold.end_of_tick(ts, 0.0)
        with pytest.raises(ZeroDivisionError):
            _fold.end_of_tick(ts, -0.0)


@settings(max_examples=3000, deadline=None)
@given(st.floats(), st.floats().filter(lambda t: t != 0.0))
def test_the_tick_end_is_pythons_anywhere(ts, tick):
    _require_fold()
    from consumer import _fold

    assert _f(_fold.end_of_tick(ts, tick)) == _f(_python_end(ts, tick))
