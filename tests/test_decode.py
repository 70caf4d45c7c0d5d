"""Decoding the three tweet formats: realistic payloads, required versus optional fields, errors."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from consumer.decode import (DEFAULT_MAX_BYTES, EARLIEST_TS, MAX_ID_CHARS, REASONS, DecodeError, decode_label,
                             decode_tweets, parse_iso_time, parse_v11_time)
from consumer.events import Profile, Tweet
from fixtures.formats import load_bytes, load_json, to_compact, to_v2
from producers.generate import Generator

SCHEMA = Path(__file__).resolve().parents[1] / "consumer" / "schemas" / "compact-event.schema.json"


def one(raw: bytes | dict) -> Tweet:
    tweets = decode_tweets(raw if isinstance(raw, bytes) else orjson.dumps(raw))
    assert len(tweets) == 1
    return tweets[0]


def reason(raw: bytes | dict | list | None) -> str:
    if raw is not None and not isinstance(raw, bytes):
        raw = orjson.dumps(raw)
    with pytest.raises(DecodeError) as e:
        decode_tweets(raw)
    assert str(e.value), "a dead letter needs a readable message"
    return e.value.reason


ANNA = Profile(statuses=12043.0, followers=1311.0, friends=402.0, favourites=8846.0, listed=17.0,
               default_profile=0.0, background_image=1.0, verified=0.0, created_at=1386995755.0,
               screen_name="annasmith42", name="Anna Smith 2", description="Coffee, books & bad puns. Views my own.")


def test_the_c_walk_is_built():
    """Without consumer._decode, v1.1 tweets still decode, but in about twice the time."""
    from consumer import decode

    assert decode.COMPILED, (
        f"consumer._decode is not available ({decode.NOT_COMPILED}), so v1.1 tweets take the slow Python path. "
        "Build it with `.venv/bin/pip install -e '.[test]'` (or `make venv`), which needs a C compiler and "
        "the Python headers (apt-get install gcc python3-dev).")


# ------------------------------------------------------------------ v1.1 fixtures

def test_v11_classic_tweet():
    t = one(load_bytes("v11_classic.json"))
    assert t.tweet_id == "1050118621198921728"  # from id_str: the number is past 2**53
    assert t.account_id == "2244994945"
    assert t.ts == 1539202764.0  # Wed Oct 10 20:19:24 +0000 2018
    assert t.text == "Fish & chips with @benjones tonight, finally! #fridayfeeling https://t.co/AbCdEf1234"
    assert t.urls == ("https://www.bbc.co.uk/food/recipes/fish_and_chips",)
    assert (t.mentions, t.hashtags) == (1, 1)
    assert (t.is_retweet, t.is_reply, t.is_quote) == (False, False, False)
    assert t.source == "Twitter for iPhone"  # the text of v1.1's HTML anchor
    assert t.profile == ANNA


def test_v11_extended_tweet_in_compatibility_mode_uses_extended_tweet():
    raw = load_json("v11_extended_compat.json")
    t = one(raw)
    full = raw["extended_tweet"]["full_text"]
    assert raw["truncated"] and len(raw["text"]) <= 140 < len(full)
    assert t.text == full
    # entities of the full text, not of the truncated one (which only had the self-link)
    assert t.urls == ("https://github.com/example/build-farm-scripts",)
    assert t.hashtags == 2
    assert t.source == "Twitter Web App"


def test_v11_reply_in_extended_mode_cuts_text_to_display_text_range():
    t = one(load_bytes("v11_reply_extended_mode.json"))
    # no leading "@benjones ", no trailing media link; "&lt;" unescaped before the range applies
    assert t.text == "Same here. It took me three tries to get the sourdough right <3"
    assert t.is_reply and not t.is_retweet and not t.is_quote
    assert t.mentions == 1 and t.urls == ()  # media is not a link
    assert t.ts == 1539244862.0
    assert t.source == "Twitter for Android"


def test_v11_retweet_carries_the_original_content():
    raw = load_json("v11_retweet.json")
    t = one(raw)
    assert t.is_retweet and not t.is_quote and not t.is_reply
    assert t.tweet_id == "1050118621198921731" and t.account_id == "2244994945"  # the retweeter, not the author
    assert t.ts == 1539203400.0  # the retweet's time, not the original's
    assert t.text == raw["retweeted_status"]["extended_tweet"]["full_text"]
    assert t.urls == ("https://leedstech.example.org/meetups/24",)
    assert (t.mentions, t.hashtags) == (0, 1)
    assert t.profile == ANNA  # the retweeter's profile


def test_v11_retweet_without_original_entities_falls_back_to_its_own():
    raw = load_json("v11_classic.json")
    raw["retweeted_status"] = {"id_str": "1", "text": raw["text"]}
    t = one(raw)
    assert t.is_retweet and t.urls == ("https://www.bbc.co.uk/food/recipes/fish_and_chips",)


def test_v11_quote():
    t = one(load_bytes("v11_quote.json"))
    assert t.is_quote and not t.is_retweet and not t.is_reply
    assert t.text == "Finally open on Sundays! https://t.co/QuoteLink1"
    assert t.urls == ("https://twitter.com/leedslibraries/status/1050100000000000000",)


def test_v11_quote_whose_quoted_tweet_is_gone_is_still_a_quote():
    raw = load_json("v11_quote.json")
    del raw["quoted_status"]
    assert one(raw).is_quote


def test_v11_numeric_id_when_id_str_is_absent():
    raw = load_json("v11_classic.json")
    del raw["id_str"], raw["user"]["id_str"]
    t = one(raw)
    assert (t.tweet_id, t.account_id) == ("1050118621198921728", "2244994945")


def test_v11_created_at_with_a_zone_offset():
    raw = load_json("v11_classic.json")
    raw["created_at"] = "Wed Oct 10 22:19:24 +0200 2018"
    assert one(raw).ts == 1539202764.0


# -------------------------------------------------------------------- v2 fixtures

def test_v2_single_item_resolves_author_from_includes():
    t = one(load_bytes("v2_single.json"))
    assert (t.tweet_id, t.account_id) == ("1445880548472328192", "2244994945")
    assert t.ts == datetime(2021, 10, 6, 22, 34, 7, tzinfo=timezone.utc).timestamp()
    assert t.text == "@benjones Agreed & the new bus lane helps too https://t.co/Bus12345Ab #leeds"
    assert t.urls == ("https://www.leeds.gov.uk/transport/bus-lanes",)  # unwound beats expanded (bit.ly)
    assert (t.mentions, t.hashtags) == (1, 1)
    assert t.is_reply and not t.is_retweet and not t.is_quote
    assert t.source == "Twitter for iPhone"
    # v2's public_metrics; v2 has no theme fields, so those stay unknown
    assert t.profile == Profile(statuses=12043.0, followers=1311.0, friends=402.0, favourites=8846.0, listed=17.0,
                                default_profile=None, background_image=None, verified=0.0, created_at=1386995755.0,
                                screen_name="annasmith42", name="Anna Smith 2",
                                description="Coffee, books & bad puns. Views my own.")


def test_v2_list_response():
    raw = load_json("v2_list.json")
    rt, quote, long_post = decode_tweets(orjson.dumps(raw))
    assert [t.tweet_id for t in (rt, quote, long_post)] == [d["id"] for d in raw["data"]]
    # the retweet: the original's full text and entities, from includes.tweets
    assert rt.is_retweet and rt.account_id == "1600000000000000001"
    assert rt.text == raw["includes"]["tweets"][0]["text"]
    assert rt.urls == ("https://cheap-stuff.top/w/77",) and rt.hashtags == 1 and rt.mentions == 0
    assert rt.profile.friends == 4980.0 and rt.profile.screen_name == "dealz4u_8841"
    assert quote.is_quote and not quote.is_retweet and quote.source == ""
    assert quote.ts - rt.ts == 180.0
    # a long post: note_tweet holds the whole text
    assert long_post.text == raw["data"][2]["note_tweet"]["text"] and len(long_post.text) > 280
    assert long_post.account_id == "2244994945" and long_post.profile.followers == 1311.0
    assert long_post.ts == datetime(2024, 3, 1, 0, 6, tzinfo=timezone.utc).timestamp()


def test_v2_without_includes_has_no_profile():
    raw = load_json("v2_single.json")
    del raw["includes"]
    t = one(raw)
    assert t.profile is None and t.account_id == "2244994945"


def test_v2_retweet_without_expansion_keeps_its_own_text():
    raw = load_json("v2_list.json")
    del raw["includes"]["tweets"]
    rt = decode_tweets(orjson.dumps(raw))[0]
    assert rt.is_retweet and rt.text.startswith("RT @dealsource: ") and rt.urls == ()


def test_v2_without_entities_counts_none():
    raw = load_json("v2_single.json")
    del raw["data"]["entities"]
    t = one(raw)
    assert (t.urls, t.mentions, t.hashtags) == ((), 0, 0)


# ------------------------------------------------------------------------ compact

def test_compact_fixture():
    t = one(load_bytes("compact.json"))
    assert (t.tweet_id, t.account_id) == ("1763354008774246405", "10942361")
    assert t.ts == datetime(2024, 3, 1, 0, 2, 11, tzinfo=timezone.utc).timestamp()
    assert t.urls == ("https://deal-shop.biz/4f3a2",) and (t.mentions, t.hashtags) == (0, 1)
    assert t.source == "SpamPoster 2.1"
    assert t.profile.created_at == datetime(2024, 1, 9, 11, tzinfo=timezone.utc).timestamp()
    assert (t.profile.default_profile, t.profile.background_image, t.profile.friends) == (1.0, 0.0, 3400.0)


def test_compact_minimal_event():
    t = one({"id": 42, "account_id": 7, "ts": 1709251331.5})
    assert (t.tweet_id, t.account_id, t.ts) == ("42", "7", 1709251331.5)
    assert (t.text, t.urls, t.mentions, t.hashtags, t.source, t.profile) == ("", (), 0, 0, "", None)


def test_compact_nulls_mean_absent():
    t = one({"id": "1", "account_id": "2", "ts": 1709251331, "text": None, "urls": None, "mentions": None,
             "retweet": None, "source": None, "user": {"followers_count": None, "verified": None, "name": None}})
    assert (t.text, t.urls, t.mentions, t.is_retweet) == ("", (), 0, False)
    assert t.profile == Profile()


# ------------------------------------------------- one tweet, three formats, one event

def test_the_three_formats_decode_to_the_same_event():
    records = [r for r in Generator(accounts=30, tweets=300, seed=5).events() if r.topic == "tweets"]
    for record in records:
        v11 = orjson.loads(record.value)
        a = one(v11)
        for other in (one(to_v2(v11)), one(to_compact(v11))):
            for field in ("tweet_id", "account_id", "ts", "text", "urls", "mentions", "hashtags",
                          "is_retweet", "is_reply", "is_quote", "source"):
                assert getattr(other, field) == getattr(a, field), (field, v11)
            for field in ("statuses", "followers", "friends", "favourites", "listed", "verified", "created_at",
                          "screen_name", "name", "description"):
                assert getattr(other.profile, field) == getattr(a.profile, field), (field, v11)


# ------------------------------------------ required fields, optional fields, errors

def test_missing_optional_fields_make_features_missing_not_the_event_invalid():
    raw = load_json("v11_classic.json")
    for key in ("text", "entities", "source", "lang", "in_reply_to_status_id_str", "truncated"):
        raw.pop(key)
    raw["user"] = {"id_str": "2244994945"}
    t = one(raw)
    assert (t.text, t.urls, t.mentions, t.source) == ("", (), 0, "")
    assert t.profile == Profile()


def test_malformed_optional_fields_in_foreign_formats_are_ignored():
    raw = load_json("v11_classic.json")
    raw["entities"] = {"urls": "nope", "user_mentions": {"a": 1}, "hashtags": [1, None]}
    raw["source"] = 17
    raw["user"].update(followers_count="many", friends_count=-3, verified="yes", created_at="yesterday",
                       screen_name=["x"], statuses_count=True)
    t = one(raw)
    assert t.urls == () and t.mentions == 0 and t.hashtags == 2 and t.source == ""
    p = t.profile
    assert (p.followers, p.friends, p.verified, p.created_at, p.screen_name, p.statuses) == (None,) * 6


@pytest.mark.parametrize("raw, expected", [
    (None, "not_json"),  # a tombstone
    (b"", "not_json"),
    (b'{"id_str": "1", "text": "caf\xe9"}', "not_json"),  # Latin-1, not UTF-8
    (b'{"id_str": "1", "text": "\xed\xa0\x80"}', "not_json"),  # an encoded surrogate
    (b'{"id_str": "1", "text": "\\ud800"}', "not_json"),  # a lone surrogate escape
    (b'{"created_at": "Wed Oct 10 20:19:24 +0000 2018", "user": {"id_str": "1"', "not_json"),  # truncated
    (b"[" * 5000 + b"]" * 5000, "not_json"),  # nested past orjson's depth limit
    (b'{"a": 1} {"b": 2}', "not_json"),
    (b"NaN", "not_json"),
    (b"[1, 2]", "not_object"),
    (b'"a tweet"', "not_object"),
    (b"null", "not_object"),
    (b'{"hello": "world"}', "unknown_format"),
    (b"{}", "unknown_format"),
])
def test_undecodable_bytes(raw, expected):
    assert reason(raw) == expected


def test_too_large_is_refused_unread():
    raw = b'{"text": "' + b"x" * DEFAULT_MAX_BYTES + b'"}'
    assert reason(raw) == "too_large"
    with pytest.raises(DecodeError) as e:
        decode_tweets(load_bytes("v11_classic.json"), max_bytes=100)
    assert e.value.reason == "too_large" and "100" in str(e.value)


def _v11(**changes) -> dict:
    raw = load_json("v11_classic.json")
    for path, value in changes.items():
        obj, *keys = path.split("__")
        target = raw if obj == "tweet" else raw["user"]
        if value is KeyError:
            target.pop(keys[0], None)
        else:
            target[keys[0]] = value
    return raw


def _v2(**changes) -> dict:
    raw = load_json("v2_single.json")
    for key, value in changes.items():
        if value is KeyError:
            raw["data"].pop(key, None)
        else:
            raw["data"][key] = value
    return raw


COMPACT = {"id": "9", "account_id": "42", "ts": "2024-03-01T00:00:00Z"}


@pytest.mark.parametrize("raw, expected", [
    # v1.1: the author, the tweet id, the time
    (_v11(tweet__user=KeyError), "missing_field"),
    (_v11(tweet__user=None), "missing_field"),
    (_v11(tweet__user=["2244994945"]), "bad_type"),
    (_v11(user__id_str=KeyError, user__id=KeyError), "missing_field"),
    (_v11(user__id_str={"id": 1}), "bad_type"),
    (_v11(user__id_str=KeyError, user__id=-5), "bad_value"),
    (_v11(user__id_str=KeyError, user__id=12.5), "bad_type"),
    (_v11(user__id_str="7" * (MAX_ID_CHARS + 1)), "bad_value"),
    (_v11(tweet__id_str=KeyError, tweet__id=KeyError), "missing_field"),
    (_v11(tweet__id_str=True), "bad_type"),
    (_v11(tweet__created_at=KeyError), "missing_field"),
    (_v11(tweet__created_at=1539202764), "bad_type"),
    (_v11(tweet__created_at="2018-10-10T20:19:24Z"), "bad_time"),
    (_v11(tweet__created_at="Wed Oct 10 20:19:24 +0000 2018 "), "bad_time"),
    (_v11(tweet__created_at="Wed Feb 30 20:19:24 +0000 2018"), "bad_time"),
    (_v11(tweet__created_at="Wed Oct 10 24:19:24 +0000 2018"), "bad_time"),
    (_v11(tweet__created_at="Wed Oct 10 2x:19:24 +0000 2018"), "bad_time"),
    (_v11(tweet__created_at="Wed Oct 10 20:19:24 +0000 1999"), "bad_time"),  # before Twitter
    (_v11(tweet__created_at="Thu Jan 01 00:00:00 +0000 1970"), "bad_time"),
    (_v11(tweet__created_at="Wed Oct 10 20:19:24 +0000 2999"), "bad_time"),  # far future
    # v2
    (_v2(author_id=KeyError), "missing_field"),
    (_v2(author_id=""), "missing_field"),
    (_v2(author_id=1.5), "bad_type"),
    (_v2(id=KeyError), "missing_field"),
    (_v2(id=[]), "bad_type"),
    (_v2(created_at=KeyError), "missing_field"),
    (_v2(created_at=1633559647), "bad_type"),
    (_v2(created_at="2021-10-06T22:34:07"), "bad_time"),  # no zone
    (_v2(created_at="2021-13-06T22:34:07Z"), "bad_time"),
    (_v2(created_at="1990-01-01T00:00:00Z"), "bad_time"),
    (_v2(created_at="3021-10-06T22:34:07.000Z"), "bad_time"),
    ({"data": []}, "missing_field"),
    ({"data": None}, "bad_type"),
    ({"data": "1445880548472328192"}, "bad_type"),
    ({"data": [load_json("v2_single.json")["data"], 7]}, "bad_type"),
    # compact: strict, as its schema says
    ({**COMPACT, "account_id": None}, "missing_field"),
    ({k: v for k, v in COMPACT.items() if k != "account_id"}, "missing_field"),
    ({k: v for k, v in COMPACT.items() if k != "id"}, "missing_field"),
    ({k: v for k, v in COMPACT.items() if k != "ts"}, "missing_field"),
    ({**COMPACT, "ts": True}, "bad_type"),
    ({**COMPACT, "ts": "yesterday"}, "bad_time"),
    ({**COMPACT, "ts": 0}, "bad_time"),
    ({**COMPACT, "ts": 1709251331000}, "bad_time"),  # milliseconds, not seconds
    ({**COMPACT, "urls": "https://x.co"}, "bad_type"),
    ({**COMPACT, "urls": [1]}, "bad_type"),
    ({**COMPACT, "mentions": -1}, "bad_type"),
    ({**COMPACT, "mentions": "3"}, "bad_type"),
    ({**COMPACT, "hashtags": 1.5}, "bad_type"),
    ({**COMPACT, "retweet": "yes"}, "bad_type"),
    ({**COMPACT, "text": 5}, "bad_type"),
    ({**COMPACT, "user": "someone"}, "bad_type"),
    ({**COMPACT, "user": {"followers_count": "12"}}, "bad_type"),
    ({**COMPACT, "user": {"created_at": "Wed Oct 10 20:19:24 2018"}}, "bad_time"),
    ({**COMPACT, "id": "x" * (MAX_ID_CHARS + 1)}, "bad_value"),
])
def test_invalid_events(raw, expected):
    assert expected in REASONS
    assert reason(raw) == expected


def test_times_up_to_a_day_ahead_are_accepted_and_beyond_refused():
    now = time.time()
    assert one({**COMPACT, "ts": now + 3600}).ts == now + 3600
    assert reason({**COMPACT, "ts": now + 2 * 86400}) == "bad_time"
    assert one({**COMPACT, "ts": EARLIEST_TS}).ts == EARLIEST_TS


def test_errors_name_the_field():
    with pytest.raises(DecodeError, match="user.id"):
        decode_tweets(orjson.dumps(_v11(user__id_str=KeyError, user__id=KeyError)))
    with pytest.raises(DecodeError, match="data.author_id"):
        decode_tweets(orjson.dumps(_v2(author_id=KeyError)))


# ---------------------------------------------------------------------------- times

@pytest.mark.parametrize("text, expected", [
    ("Wed Oct 10 20:19:24 +0000 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=timezone.utc)),
    ("Thu Feb 29 23:59:59 +0000 2024", datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone.utc)),
    ("Mon Jan 01 00:30:00 +0130 2024", datetime(2023, 12, 31, 23, 0, tzinfo=timezone.utc)),
    ("Mon Jan 01 00:30:00 -0930 2024", datetime(2024, 1, 1, 10, 0, tzinfo=timezone.utc)),
])
def test_parse_v11_time(text, expected):
    assert parse_v11_time(text) == expected.timestamp()


@pytest.mark.parametrize("text", ["Thu Feb 29 23:59:59 +0000 2023", "Wed Oct 1 20:19:24 +0000 2018",
                                  "Wed Okt 10 20:19:24 +0000 2018", "Wed Oct 10 20:19:24 +00:00 2018",
                                  "Wed Oct 10 20:60:24 +0000 2018", "Wed Oct 10 20:19:24 +2500 2018",
                                  "Wed Oct 10 20:19:２4 +0000 2018", "Wed Oct 10 20:19:24 +0000 ２018", ""])
def test_parse_v11_time_refuses(text):
    with pytest.raises(DecodeError) as e:
        parse_v11_time(text)
    assert e.value.reason == "bad_time"


@pytest.mark.parametrize("text, expected", [
    ("2018-10-10T20:19:24.000Z", 1539202764.0),
    ("2018-10-10T20:19:24Z", 1539202764.0),
    ("2018-10-10T22:19:24+02:00", 1539202764.0),
    ("2018-10-10T20:19:24.5Z", 1539202764.5),
    ("2018-10-10T20:19:24.123456789Z", 1539202764.123456),
])
def test_parse_iso_time(text, expected):
    assert parse_iso_time(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("text", ["2018-10-10T20:19:24", "2018-10-10 20:19:24Z", "20181010T201924Z",
                                  "2018-10-10t20:19:24z", "2018-W41-3T20:19:24Z", "2018-10-10T20:19:24+0200",
                                  "2018-10-10T20:19:24Z\n", "x" * 500])
def test_parse_iso_time_refuses(text):
    with pytest.raises(DecodeError) as e:
        parse_iso_time(text)
    assert e.value.reason == "bad_time"


# --------------------------------------------------------------------------- labels

def test_decode_label():
    label = decode_label(b'{"account_id": "42", "label": "human", "ts": "2024-03-01T00:00:00Z", "source": "appeal"}')
    assert (label.account_id, label.is_bot, label.source) == ("42", False, "appeal")
    assert label.ts == datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("raw, expected", [
    (b'{"account_id": "42", "label": "spam", "ts": 1709251200}', "bad_value"),
    (b'{"account_id": "42", "label": "bot"}', "missing_field"),
    (b'{"label": "bot", "ts": 1709251200}', "missing_field"),
    (b'{"account_id": "42", "label": "bot", "ts": 5}', "bad_time"),
    (b'{"account_id": "42", "label": "bot", "ts": 1709251200', "not_json"),
    (b'["42", "bot"]', "not_object"),
])
def test_invalid_labels(raw, expected):
    with pytest.raises(DecodeError) as e:
        decode_label(raw)
    assert e.value.reason == expected


# ----------------------------------------------------------- the compact event schema

@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema", reason="the schema test needs jsonschema (test extra)")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _decodes(event) -> bool:
    try:
        decode_tweets(orjson.dumps(event))
        return True
    except DecodeError:
        return False


VALID_COMPACT = [
    load_json("compact.json"),
    COMPACT,
    {"id": 1, "account_id": 2, "ts": 1709251331},
    {"id": 1.0, "account_id": "2", "ts": 1709251331.25},  # JSON Schema's integer takes 1.0
    {**COMPACT, "ts": "2024-03-01T00:00:00.123+05:30"},
    {**COMPACT, "text": "", "urls": [], "mentions": 0, "hashtags": 3, "quote": True, "extra": {"any": "thing"}},
    {**COMPACT, "user": {}},
    {**COMPACT, "user": {"created_at": 1386995755, "screen_name": "x", "listed_count": 0}},
    {**COMPACT, "user": {"created_at": "2013-12-14T04:35:55.000Z"}},
    {**COMPACT, "user": None, "text": None, "urls": None},
    {**COMPACT, "id": "x" * MAX_ID_CHARS},
]
INVALID_COMPACT = [
    {k: v for k, v in COMPACT.items() if k != "id"},
    {**COMPACT, "account_id": ""},
    {**COMPACT, "account_id": -1},
    {**COMPACT, "account_id": False},
    {**COMPACT, "id": "x" * (MAX_ID_CHARS + 1)},
    {**COMPACT, "ts": None},
    {**COMPACT, "ts": 1000},
    {**COMPACT, "ts": "2024-03-01T00:00:00"},
    {**COMPACT, "ts": "2024-03-01 00:00:00Z"},
    {**COMPACT, "ts": [1709251331]},
    {**COMPACT, "text": 1},
    {**COMPACT, "urls": ["a", 2]},
    {**COMPACT, "mentions": 1.5},
    {**COMPACT, "hashtags": -2},
    {**COMPACT, "retweet": 1},
    {**COMPACT, "source": ["web"]},
    {**COMPACT, "user": []},
    {**COMPACT, "user": {"verified": "false"}},
    {**COMPACT, "user": {"friends_count": 2.5}},
    {**COMPACT, "user": {"created_at": "last year"}},
    {**COMPACT, "user": {"name": 7}},
]


@pytest.mark.parametrize("event", VALID_COMPACT)
def test_schema_and_decoder_accept_the_same_valid_events(validator, event):
    assert list(validator.iter_errors(event)) == []
    assert _decodes(event)


@pytest.mark.parametrize("event", INVALID_COMPACT)
def test_schema_and_decoder_refuse_the_same_invalid_events(validator, event):
    assert list(validator.iter_errors(event)) != []
    assert not _decodes(event)


def test_schema_examples_decode(validator):
    for example in validator.schema["examples"]:
        assert list(validator.iter_errors(example)) == [] and _decodes(example)

