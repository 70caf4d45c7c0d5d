"""Hostile input: whatever the bytes, decoding returns well-formed tweets or raises DecodeError, nothing else.

"Decoded or dead-lettered" is exactly that contract: the service dead-letters
on DecodeError. A decoded tweet must also be safe downstream: features accept
it, and its account id is valid text for a Kafka key and a JSON flag.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consumer import features as F
from consumer.decode import (EARLIEST_TS, MAX_CLOCK_SKEW_S, MAX_ID_CHARS, REASONS, DecodeError, decode_label,
                             decode_tweets)
from consumer.events import Profile, Tweet
from fixtures.formats import FIXTURES, load_bytes, load_json

SCHEMA = Path(__file__).resolve().parents[1] / "consumer" / "schemas" / "compact-event.schema.json"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_tweet(t: Tweet) -> None:
    assert type(t) is Tweet
    for ident in (t.tweet_id, t.account_id):
        assert type(ident) is str and 0 < len(ident) <= MAX_ID_CHARS
    orjson.dumps({"account_id": t.account_id, "id": t.tweet_id})  # valid UTF-8: a flag can carry it
    t.account_id.encode()  # and a Kafka key
    assert type(t.ts) is float and EARLIEST_TS <= t.ts <= time.time() + MAX_CLOCK_SKEW_S
    assert type(t.text) is str and type(t.source) is str
    assert type(t.urls) is tuple and all(type(u) is str for u in t.urls)
    assert type(t.mentions) is int and t.mentions >= 0 and type(t.hashtags) is int and t.hashtags >= 0
    assert all(type(b) is bool for b in (t.is_retweet, t.is_reply, t.is_quote))
    p = t.profile
    if p is not None:
        assert type(p) is Profile
        for v in (p.statuses, p.followers, p.friends, p.favourites, p.listed, p.default_profile,
                  p.background_image, p.verified, p.created_at):
            assert v is None or (type(v) is float and math.isfinite(v))
        for v in (p.screen_name, p.name, p.description):
            assert v is None or type(v) is str


def decoded_or_dead_lettered(raw) -> str:
    """Decode ``raw``; check the contract; return ``"ok"`` or the reason."""
    try:
        tweets = decode_tweets(raw)
    except DecodeError as e:
        assert e.reason in REASONS and e.reason != "internal_error", (e.reason, str(e), raw[:300] if raw else raw)
        assert str(e)
        return e.reason
    assert type(tweets) is list and tweets
    state = F.new_state()
    for t in tweets:
        check_tweet(t)
        F.update(state, t)  # features take whatever decoding lets through
    row = F.feature_row(state)
    assert len(row) == len(F.FEATURES) and all(type(v) is float for v in row)
    return "ok"


# ---------------------------------------------------------------- hypothesis

json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=40) | st.sampled_from(["", "0", "1763354008774246405", "Wed Oct 10 20:19:24 +0000 2018",
                                                         "2024-03-01T00:00:00Z", "x" * 65]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)
KEYS = ["id", "id_str", "account_id", "ts", "created_at", "user", "data", "includes", "text", "full_text",
        "extended_tweet", "entities", "urls", "retweeted_status", "quoted_status", "author_id", "users",
        "display_text_range", "source", "mentions", "hashtags", "note_tweet", "referenced_tweets", "public_metrics"]
tweetish = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=25)


@FUZZ
@given(raw=st.binary(max_size=400))
@example(raw=b"\xff\xfe")
@example(raw=b"")
def test_random_bytes(raw):
    decoded_or_dead_lettered(raw)


@FUZZ
@given(value=json_values)
def test_random_json(value):
    decoded_or_dead_lettered(orjson.dumps(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.dictionaries(st.sampled_from(KEYS), tweetish, max_size=8))
def test_random_tweet_shaped_json(value):
    decoded_or_dead_lettered(orjson.dumps(value))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    if not path:
        return value
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


def _delete(obj, path):
    target = obj
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return obj


@FUZZ
@given(name=st.sampled_from(FIXTURES), data=st.data())
def test_mutated_fixtures(name, data):
    obj = load_json(name)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = list(_paths(obj))
        path = data.draw(st.sampled_from(paths))
        if path and data.draw(st.booleans()):
            obj = _delete(obj, path)
        else:
            obj = _set(obj, path, data.draw(json_values))
    decoded_or_dead_lettered(orjson.dumps(obj))


@settings(max_examples=100, deadline=None)
@given(label=st.dictionaries(st.sampled_from(["account_id", "label", "ts", "source"]), json_values, max_size=4))
def test_random_labels(label):
    try:
        decode_label(orjson.dumps(label))
    except DecodeError as e:
        assert e.reason in REASONS and e.reason != "internal_error"


# ------------------------------------------------------ compact schema agreement

@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema", reason="the schema test needs jsonschema (test extra)")
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


# Values on both sides of every rule the schema states; none falls in the gaps the schema cannot state
# (calendar-invalid dates, times a day past the clock).
IDS = ["9", "x" * MAX_ID_CHARS, "x" * (MAX_ID_CHARS + 1), "", 0, 7, 7.0, -1, 2**64 - 1, 1.5, True, None, [], {}]
TIMES = [1709251331, 1709251331.5, 1000, "2024-03-01T00:00:00Z", "2024-03-01T00:00:00.5+01:00",
         "2024-03-01T00:00:00", "2024-03-01 00:00:00Z", "Fri Mar 01 00:00:00 +0000 2024", True, None, [], {}]
COUNTS = [0, 3, 3.0, -1, 1.5, "3", True, None, []]
BOOLS = [True, False, None, 0, 1, "true"]
STRINGS = ["", "text", None, 5, ["a"]]
URLS = [[], ["https://a.b/c"], None, "https://a.b/c", [1], [None]]
CREATED = [1386995755, "2013-12-14T04:35:55.000Z", "Sat Dec 14 04:35:55 +0000 2013", "2013-12-14", "Dec 14 2013",
           None, True, []]
USER_FIELDS = {
    **{k: COUNTS for k in ("statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count")},
    **{k: BOOLS for k in ("default_profile", "profile_use_background_image", "verified")},
    **{k: STRINGS for k in ("screen_name", "name", "description")},
    "created_at": CREATED,
}
users = st.one_of(st.sampled_from([None, "x", [], 3]),
                  st.dictionaries(st.sampled_from(sorted(USER_FIELDS)), st.just(None), max_size=5).flatmap(
                      lambda d: st.fixed_dictionaries({k: st.sampled_from(USER_FIELDS[k]) for k in d})))
MISSING = object()
compact_events = st.fixed_dictionaries({
    "id": st.sampled_from(IDS + [MISSING]),
    "account_id": st.sampled_from(IDS + [MISSING]),
    "ts": st.sampled_from(TIMES + [MISSING]),
    "text": st.sampled_from(STRINGS + [MISSING]),
    "urls": st.sampled_from(URLS + [MISSING]),
    "mentions": st.sampled_from(COUNTS + [MISSING]),
    "hashtags": st.sampled_from(COUNTS + [MISSING]),
    "retweet": st.sampled_from(BOOLS + [MISSING]),
    "reply": st.sampled_from(BOOLS + [MISSING]),
    "source": st.sampled_from(STRINGS + [MISSING]),
    "user": st.one_of(st.just(MISSING), users),
    "other": st.sampled_from([MISSING, 1, {"x": [1]}]),
}).map(lambda d: {k: v for k, v in d.items() if v is not MISSING})


@settings(max_examples=400, deadline=None)
@given(event=compact_events)
def test_schema_and_decoder_agree_on_compact_events(validator, event):
    schema_ok = not list(validator.iter_errors(event))
    raw = orjson.dumps(event)
    if "account_id" not in event and "ts" not in event:
        assert not schema_ok  # the decoder takes it for another format, and refuses it there or as unknown
    outcome = decoded_or_dead_lettered(raw)
    assert (outcome == "ok") == schema_ok, (event, outcome)


# ------------------------------------------------------------- the seeded fuzz loop

def _type_swaps():
    return [None, True, 0, -1, 1.5, 2**64 - 1, 1.8e19, "", "x", "x" * 100, [], [None], {}, {"id": "1"}]


def test_seeded_fuzz_loop():
    """Deterministic corpus: truncations, byte flips, type swaps at every path, deep nesting, random bytes."""
    rng = random.Random(20240301)
    outcomes: dict[str, int] = {}

    def run(raw):
        outcome = decoded_or_dead_lettered(raw)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    for name in FIXTURES:
        raw = load_bytes(name)
        compact_raw = orjson.dumps(orjson.loads(raw))
        for cut in range(0, len(compact_raw), 11):  # every 11th prefix: a truncated message
            run(compact_raw[:cut])
        for _ in range(200):  # byte flips, inserts and deletes
            b = bytearray(compact_raw)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                op = rng.random()
                if op < 0.5:
                    b[i] = rng.randrange(256)
                elif op < 0.75:
                    b.insert(i, rng.randrange(256))
                else:
                    del b[i]
            run(bytes(b))
        obj = load_json(name)
        for path in list(_paths(obj)):  # every value at every path swapped for every type, and deleted
            for value in _type_swaps():
                run(orjson.dumps(_set(copy.deepcopy(obj), path, value)))
            if path:
                run(orjson.dumps(_delete(copy.deepcopy(obj), path)))
    for depth in (10, 500, 1023, 1024, 1025, 5000, 200_000):
        run(b"[" * depth + b"]" * depth)
        run(b'{"a":' * depth + b"1" + b"}" * depth)
        run(b'{"user":' * depth + b"{}" + b"}" * depth)
        d = min(depth, 1030)  # a good tweet carrying a deep value where a list of links belongs
        run(b'{"id_str": "1", "created_at": "Wed Oct 10 20:19:24 +0000 2018", "user": {"id_str": "2"}, '
            b'"entities": {"urls": ' + b"[" * d + b'"x"' + b"]" * d + b"}}")
    for _ in range(2000):
        run(bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))
    for _ in range(300):  # JSON-looking noise
        run(bytes(rng.choice(b'{}[]":,0123456789.-eE truefalsnul\\u') for _ in range(rng.randint(1, 120))))
    run(None)
    run(b'{"data": [' + b",".join([b'{"id": "1", "author_id": "2", "created_at": "2024-03-01T00:00:00Z"}'] * 5000) + b"]}")
    big_urls = {"id": "1", "account_id": "2", "ts": 1709251331, "urls": ["https://a.b/%d" % i for i in range(20000)]}
    run(orjson.dumps(big_urls))
    # every outcome class is exercised, and the corpus is not all one kind
    assert outcomes["ok"] > 100 and sum(outcomes.values()) > 15_000
    for reason in ("not_json", "not_object", "unknown_format", "missing_field", "bad_type", "bad_time"):
        assert outcomes.get(reason, 0) > 0, (reason, outcomes)
