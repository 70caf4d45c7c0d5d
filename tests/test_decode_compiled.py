"""The C walk of v1.1 tweets (consumer._decode) against the Python path it stands in for.

``tweet_v11(obj)`` must return exactly what ``decode._from_v11(obj)`` returns (every
field of the same type: ``1``, ``1.0`` and ``True`` are told apart here), or decline
with None, and decline only where the Python path takes a rarer branch. Both are
run on the same dict: the generator's v1.1 tweets, the fixtures with every value
swapped or deleted, hypothesis' tweets and mutations, and hostile objects.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import decode as D
from consumer.events import Profile, Tweet
from fixtures.formats import FIXTURES, load_bytes, load_json
from producers.generate import Generator
from test_decode_fuzz import _delete, _paths, _set, json_values

V11 = [name for name in FIXTURES if name.startswith("v11_")]
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def c_walk():
    """The compiled walk, with the clock bound fresh (a stale one makes it decline every tweet)."""
    if not D.COMPILED:  # test_decode.py's test_the_c_walk_is_built fails then
        pytest.skip("consumer._decode is not built")
    D._refresh_clock_bound()
    return D._tweet_v11


def exact(value):
    """A value with the type of every field, recursively: 1 == 1.0 == True, but not here; nor -0.0 and 0.0."""
    if type(value) in (Tweet, Profile):
        return (type(value).__name__,) + tuple(exact(getattr(value, f.name)) for f in dataclasses.fields(value))
    if type(value) is tuple:
        return ("tuple",) + tuple(exact(v) for v in value)
    return type(value).__name__, repr(value)


def python_path(obj) -> Tweet | None:
    try:
        return D._from_v11(obj)
    except Exception:  # DecodeError, or what decode_tweets turns into internal_error
        return None


def same_as_python(obj, walk=None) -> bool:
    """Check the C walk on ``obj`` against _from_v11; True where it took the tweet, False where it declined."""
    compiled = (walk or D._tweet_v11)(obj)
    expected = python_path(obj)
    if compiled is None:
        return False
    assert expected is not None, ("the C took a tweet that the Python path refuses", obj)
    assert exact(compiled) == exact(expected), obj
    return True


def outcome(raw: bytes):
    try:
        return [exact(t) for t in D.decode_tweets(raw)]
    except D.DecodeError as e:
        return e.reason, str(e)


def same_through_decode_tweets(raw: bytes) -> None:
    """decode_tweets gives what it gives with the Python path alone: the tweets, or the same error."""
    compiled = outcome(raw)
    with D._python_only():
        assert compiled == outcome(raw), raw[:300]


def generated(seed: int, tweets: int = 3000) -> list[bytes]:
    events = Generator(accounts=150, tweets=tweets, seed=seed, format="v1", drift_at=tweets // 2).events()
    return [r.value for r in events if r.topic == "tweets"]


# ------------------------------------------------------------ generated traffic

@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_generated_tweets_take_the_c_walk_and_match(seed):
    messages = generated(seed)
    taken = sum(same_as_python(orjson.loads(raw)) for raw in messages)
    assert len(messages) > 2000
    assert taken >= 0.99 * len(messages), f"the C declined {len(messages) - taken} of {len(messages)}"
    for raw in messages[:500]:
        same_through_decode_tweets(raw)


def test_generated_traffic_has_every_kind_of_tweet():
    """So that the test above covers retweets, quotes, replies, links, mentions and hashtags."""
    tweets = [D._tweet_v11(orjson.loads(raw)) for raw in generated(1)]
    assert all(t is not None for t in tweets)
    for kind in ("is_retweet", "is_quote", "is_reply"):
        assert any(getattr(t, kind) for t in tweets), kind
    assert any(t.urls for t in tweets) and any(t.mentions for t in tweets) and any(t.hashtags for t in tweets)


def test_decode_tweets_returns_the_c_messages_tweets(monkeypatch):
    returned = []

    def message(raw, max_bytes):
        returned.append(D._decode.message_v11(raw, max_bytes))
        return returned[-1]

    monkeypatch.setattr(D, "_message_v11", message)
    tweets = D.decode_tweets(load_bytes("v11_classic.json"))
    assert returned and tweets is returned[0] and exact(tweets[0]) == exact(D._tweet_v11(load_json("v11_classic.json")))


# ------------------------------------------------------------------ fixtures

@pytest.mark.parametrize("name", V11)
def test_fixtures_take_the_c_walk_and_match(name):
    """Entities to unescape, display_text_range, extended_tweet, retweets, quotes and replies."""
    assert same_as_python(load_json(name))
    same_through_decode_tweets(load_bytes(name))


ODD_VALUES = [
    None, True, False, 0, 1, -1, -0.0, 1.5, 7.0, 2**53 + 1, 2**63, 2**64 - 1, 2**64, -(2**64), 10**400, -(10**400),
    math.nan, math.inf, -math.inf, 1e308, "", "x", "7", "x" * 65, "&amp;", "a &lt;b&gt; &amp;amp; c", "&", "é" * 70,
    "\ud800", "😀 𝄞 text", "<a href=\"x\">Client &amp; Co</a>", "<a>no end", "Name</a>", "<a x>" + "y" * 600 + "</a>",
    "Wed Oct 10 20:19:24 +0000 2018", "Thu Feb 29 23:59:59 +0000 2023", "Wed Oct 10 20:19:2４ +0000 2018",
    "Mon Jan 01 00:30:00 -0930 2024", "Sat Jan 01 00:00:00 +0000 0000", "Wed Oct 10 24:19:24 +0000 2018",
    "Fri Mar 01 00:00:00 +0000 2024 ", "2024-03-01T00:00:00Z", "Thu Feb 29 00:00:00 +0000 1900",
    "Tue Feb 29 00:00:00 +0000 2000",
    [], [None], [1, 2], [2, 1], [0, 3, 5], [0, 10**30], [-1, 3], [True, 3], [0.0, 3], [3, 3], [500, 900], [5, 10**19],
    {}, {"id": "1"}, {"url": "https://a.b"}, {"expanded_url": "", "url": "https://t.co/x"}, [{"unwound_url": "u"}, 3],
    {"url": "https://t.co/x", "expanded_url": "https://bit.ly/x", "unwound_url": "https://final.example/x"},
]


def _variants(obj):
    """obj with one value swapped for each of ODD_VALUES, and deleted, at every path."""
    for path in list(_paths(obj)):
        for value in ODD_VALUES:
            yield _set(copy.deepcopy(obj), path, value)
        if path:
            yield _delete(copy.deepcopy(obj), path)


@pytest.mark.parametrize("name", V11)
def test_every_value_swapped_and_deleted(name):
    results = [same_as_python(obj) for obj in _variants(load_json(name))]
    assert results.count(True) > len(results) // 2  # most changes are to values the C reads leniently


def test_every_value_of_a_generated_retweet_quote_and_reply_swapped_and_deleted():
    tweets = [orjson.loads(raw) for raw in generated(3, 600)]
    for kind in ("retweeted_status", "quoted_status", "in_reply_to_user_id_str"):
        obj = next(t for t in tweets if kind in t)
        for variant in _variants(obj):
            same_as_python(variant)


def test_through_decode_tweets_on_swapped_values():
    """The same, from bytes, for the values JSON can carry: the Python path's errors come out unchanged."""
    for name in V11:
        for obj in _variants(load_json(name)):
            try:
                raw = orjson.dumps(obj)
            except TypeError:  # a value JSON has no text for (10**400, a lone surrogate)
                continue
            same_through_decode_tweets(raw)


# --------------------------------------------------------------- declines

CLASSIC = load_json("v11_classic.json")
CLASSIC_BYTES = load_bytes("v11_classic.json")


def changed(**paths):
    """The classic fixture with ``a__b=value`` set (``KeyError``: deleted)."""
    obj = copy.deepcopy(CLASSIC)
    for path, value in paths.items():
        keys = path.split("__")
        target = obj
        for key in keys[:-1]:
            target = target[key]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return obj


DECLINED = {
    "integer id": changed(id_str=KeyError),
    "empty id_str": changed(id_str=""),
    "long id": changed(id_str="9" * 65),
    "integer user id": changed(user__id_str=KeyError),
    "user id of another type": changed(user__id_str=7),
    "no user": changed(user=KeyError),
    "user not an object": changed(user=["x"]),
    "no created_at": changed(created_at=KeyError),
    "created_at a number": changed(created_at=1539202764),
    "created_at of another length": changed(created_at="Wed Oct 10 20:19:24 +0000 18"),
    "created_at misspelled": changed(created_at="Wed Okt 10 20:19:24 +0000 2018"),
    "created_at not a date": changed(created_at="Thu Feb 29 20:19:24 +0000 2023"),
    "created_at with a wide digit": changed(created_at="Wed Oct 10 20:19:2４ +0000 2018"),
    "before Twitter": changed(created_at="Mon Mar 20 23:59:59 +0000 2006"),
    "after tomorrow": changed(created_at="Wed Oct 10 20:19:24 +0000 2999"),
    "account created_at malformed": changed(user__created_at="Sat Dec 14 04:35:55 +0000 2O13"),
    "account created on Feb 29 of a common year": changed(user__created_at="Thu Feb 29 00:00:00 +0000 1900"),
    "a count past a float": changed(user__followers_count=10**400),
    "a display index past 63 bits": changed(display_text_range=[0, 2**63]),
    "a source too long to cache": changed(source="<a>" + "x" * 600 + "</a>"),
    "a compact event's key": changed(ts=1539202764),
    "a compact event's other key": changed(account_id="1"),
    "a v2 key": changed(data={}),
}


@pytest.mark.parametrize("why", sorted(DECLINED))
def test_declines(why, c_walk):
    obj = DECLINED[why]
    assert c_walk(obj) is None
    if why == "a count past a float":  # no JSON has it; float() of it raises in the Python path
        assert python_path(obj) is None
    else:
        same_through_decode_tweets(orjson.dumps(obj))


TAKEN = {
    "text with entities": changed(text="a &lt;b&gt; &amp;amp; c", display_text_range=[2, 9]),
    "a display range out of order": changed(display_text_range=[5, 2]),
    "a display range of bools": changed(display_text_range=[True, 3]),
    "a display range past the text": changed(display_text_range=[3, 10**9]),
    "a negative display index": changed(display_text_range=[-1, 3]),
    "non-ASCII text and ids": changed(text="héllo 😀 𝄞", id_str="ид", user__id_str="😀" * 64),
    "bools, text, NaN and negatives as counts": changed(user__followers_count=True, user__friends_count="3",
                                                        user__statuses_count=-0.0, user__listed_count=-4,
                                                        user__favourites_count=math.nan),
    "counts as floats": changed(user__followers_count=1.5, user__friends_count=1e308),
    "flags of other types": changed(user__verified=1, user__default_profile="true"),
    "no account created_at": changed(user__created_at=None),
    "an account created_at of year 0": changed(user__created_at="Sat Jan 01 00:00:00 +0000 0000"),
    "a reply by integer id": changed(in_reply_to_status_id=5),
    "a quote by flag": changed(is_quote_status=True),
    "a quote flag of another type": changed(is_quote_status=1),
    "no entities": changed(entities=KeyError),
    "links with empty targets": changed(entities__urls=[{"expanded_url": ""}, {"url": "u"}, 3, {"unwound_url": "w"}]),
    "a link unwound, expanded and short": changed(entities__urls=[{"url": "t", "expanded_url": "e", "unwound_url": "u"}]),
    "an account created on a leap day": changed(user__created_at="Tue Feb 29 00:00:00 +0000 2000"),
    "an odd source": changed(source="no anchor &amp; all"),
    "time zones": changed(created_at="Mon Jan 01 00:30:00 -0930 2024"),
}


@pytest.mark.parametrize("why", sorted(TAKEN))
def test_takes(why):
    assert same_as_python(TAKEN[why]), why
    raw = orjson.dumps(TAKEN[why])
    same_through_decode_tweets(raw)


def test_a_stale_clock_bound_declines_until_the_python_path_refreshes_it(c_walk):
    raw = load_bytes("v11_classic.json")
    D._clock_bound[0] = 0.0  # as at start-up
    assert c_walk(orjson.loads(raw)) is None
    D.decode_tweets(raw)  # the Python path looks at the clock
    assert c_walk(orjson.loads(raw)) is not None


def test_never_raises_on_hostile_objects(c_walk):
    class Text(str):
        pass

    class Collides:
        """A key with "user"'s hash whose comparison raises once armed: then looking up "user" raises."""
        armed = False

        def __hash__(self):
            return hash("user")

        def __eq__(self, other):
            if Collides.armed:
                raise RuntimeError("compared")
            return False

    hostile = {Collides(): 1, **CLASSIC}
    Collides.armed = True
    try:
        assert c_walk(hostile) is None
        assert python_path(hostile) is None  # the Python path raises there too
    finally:
        Collides.armed = False
    for obj in ([CLASSIC], None, 3, "x", {}, {**CLASSIC, "user": {**CLASSIC["user"], "id_str": Text("7")}},
                {**CLASSIC, "created_at": Text(CLASSIC["created_at"])}, {**CLASSIC, "text": Text("t")}):
        same_as_python(obj)


# -------------------------------------------------------------- hypothesis

def mostly(usual, odd):
    """Three draws in four from ``usual``: a tweet whose every required field is odd is always declined."""
    return st.sampled_from([usual, usual, usual, odd]).flatmap(lambda strategy: strategy)


texts = st.text(max_size=20) | st.sampled_from(["a &amp; b", "&lt;3&gt;", "&", "RT @x: hi", "é😀𝄞", ""])
numbers = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.sampled_from([10**400, "3"]))
anything = json_values | numbers | texts
times = mostly(st.sampled_from(["Wed Oct 10 20:19:24 +0000 2018", "Thu Feb 29 23:59:59 +0000 2024",
                                "Mon Jan 01 00:30:00 -0930 2024", "Sat Jan 01 00:00:00 +0000 0000"]),
               st.sampled_from(["Thu Feb 29 23:59:59 +0000 2023", "Wed Oct 10 20:60:24 +0000 2018",
                                "Wed Oct 10 20:19:24 +2500 2018", "2018-10-10T20:19:24Z"]) | anything)
ids = mostly(st.sampled_from(["1", "1050118621198921728", "x" * 64, "ид"]) | st.text(min_size=1, max_size=64),
             st.sampled_from(["", "x" * 65]) | anything)
ranges = st.lists(st.integers(-3, 40) | st.booleans() | st.sampled_from([2**64, 1.0]), max_size=3) | anything
entity = st.fixed_dictionaries({}, optional={"url": texts, "expanded_url": texts | anything, "unwound_url": texts})
entities = st.fixed_dictionaries({}, optional={
    "urls": st.lists(entity | anything, max_size=3) | anything,
    "user_mentions": st.lists(anything, max_size=3) | anything,
    "hashtags": st.lists(anything, max_size=3) | anything,
}) | anything
users = st.fixed_dictionaries({"id_str": ids}, optional={
    **{k: numbers for k in ("statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count")},
    **{k: anything for k in ("default_profile", "profile_use_background_image", "verified", "id")},
    **{k: texts | anything for k in ("screen_name", "name", "description")},
    "created_at": times,
})


def statuses(inner=None):
    fields = {
        "text": texts | anything, "full_text": texts | anything, "entities": entities,
        "display_text_range": ranges, "source": texts | st.sampled_from(["<a href='x'>Client &amp; Co</a>", "<a>x</a>"]),
        "in_reply_to_status_id_str": ids, "in_reply_to_status_id": anything, "is_quote_status": anything,
        "id": anything, "extended_tweet": st.fixed_dictionaries({}, optional={
            "full_text": texts | anything, "entities": entities, "display_text_range": ranges}) | anything,
    }
    if inner is not None:
        fields.update(retweeted_status=inner | anything, quoted_status=inner | anything)
    return st.fixed_dictionaries({"id_str": ids, "created_at": times, "user": mostly(users, anything)}, optional=fields)


v11_tweets = statuses(statuses())


@HYPOTHESIS
@given(obj=v11_tweets)
def test_hypothesis_tweets(obj):
    same_as_python(obj)


@HYPOTHESIS
@given(name=st.sampled_from(V11), data=st.data())
def test_hypothesis_mutations(name, data):
    obj = load_json(name)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(list(_paths(obj))))
        if path and data.draw(st.booleans()):
            obj = _delete(obj, path)
        else:
            # a copy: a later step may write into the value, and ODD_VALUES' lists and dicts must stay as they are
            obj = _set(obj, path, copy.deepcopy(data.draw(anything | st.sampled_from(ODD_VALUES))))
    same_as_python(obj)


def test_the_hypothesis_tweets_are_often_taken():
    """The strategies reach the C's accepting paths, not only its declines."""
    taken = []

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(obj=v11_tweets)
    def run(obj):
        taken.append(same_as_python(obj))

    run()
    assert taken.count(True) > 30, taken.count(True)


# ------------------------------------------------------------ the checks bite

def test_a_wrong_field_type_is_caught():
    """same_as_python tells True from 1 and 0.0 from -0.0 (plain == would not)."""
    obj = load_json("v11_classic.json")
    for change in ({"mentions": True}, {"ts": int(D._from_v11(obj).ts)}):
        with pytest.raises(AssertionError):
            same_as_python(obj, walk=lambda o: dataclasses.replace(D._tweet_v11(o), **change))
    profile = dataclasses.replace(D._from_v11(obj).profile, statuses=-0.0)
    with pytest.raises(AssertionError):
        same_as_python(changed(user__statuses_count=0.0),
                       walk=lambda o: dataclasses.replace(D._tweet_v11(o), profile=profile))


def test_bind_refuses_other_dataclasses():
    @dataclass(slots=True)
    class Fewer:
        tweet_id: str

    no_slots = dataclass(type("Tweet", (), {"__annotations__": dict(Tweet.__annotations__)}))  # same fields
    try:
        for bad in (Fewer, no_slots, int):
            with pytest.raises(TypeError):
                D._decode.bind(bad, Profile, D._client, D._unescape, D._clock_bound, D.EARLIEST_TS, D.MAX_ID_CHARS,
                               orjson.loads)
            assert D._decode.tweet_v11(CLASSIC) is None  # unbound: declines all
            assert D._decode.message_v11(CLASSIC_BYTES, 1 << 20) is None
    finally:
        D._decode.bind(Tweet, Profile, D._client, D._unescape, D._clock_bound, D.EARLIEST_TS, D.MAX_ID_CHARS,
                       orjson.loads)
    assert same_as_python(CLASSIC)


@pytest.mark.parametrize("raw, max_bytes", [
    (None, 1 << 20), (b"", 1 << 20), (b"{", 1 << 20), (b"\xff", 1 << 20), (b"[1]", 1 << 20), (b'"x"', 1 << 20),
    (b"{}", 1 << 20), (CLASSIC_BYTES, len(CLASSIC_BYTES) - 1), (bytearray(CLASSIC_BYTES), 1 << 20),
    (memoryview(CLASSIC_BYTES), 1 << 20), (b'{"data": {"id": "1"}}', 1 << 20), (b'{"account_id": "1"}', 1 << 20),
])
def test_the_c_message_declines_what_the_python_path_must_decide(raw, max_bytes):
    """Errors (the Python path names them), other formats and other buffer types: declined, never raised."""
    assert D._decode.message_v11(raw, max_bytes) is None
    assert D._decode.message_v11(CLASSIC_BYTES, len(CLASSIC_BYTES)) is not None  # at the limit: taken
