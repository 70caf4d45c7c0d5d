"""The scanner of v1.1 tweets (consumer._decode.scan_v11) against orjson and the Python path.

``scan_v11(raw)`` makes the Tweet straight from the message's bytes. Wherever it
takes a message, orjson must accept the bytes and the Python path must return
exactly that Tweet from orjson's dict (every field of the same type); anything
else it must decline with None, and message_v11 then takes orjson's dict and the
walk (tests/test_decode_compiled.py). The same bytes are checked both ways: the
generator's traffic, the fixtures with every value swapped or deleted, written
three ways (orjson's, ASCII-escaped, indented), hypothesis' tweets, byte-level
mutations, and JSON that orjson refuses.
"""

from __future__ import annotations

import dataclasses
import json
import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer import decode as D
from fixtures.formats import load_bytes, load_json
from test_decode_compiled import (CLASSIC, HYPOTHESIS, V11, _variants, exact, generated, python_path,
                                  v11_tweets)


@pytest.fixture(autouse=True)
def fresh_clock_bound():
    if not D.COMPILED:  # test_decode.py's test_the_c_walk_is_built fails then
        pytest.skip("consumer._decode is not built")
    D._refresh_clock_bound()


def same_scan(raw: bytes, scan=None) -> bool:
    """Check the scanner on ``raw``; True where it took the message, False where it declined."""
    scanned = (scan or D._decode.scan_v11)(raw)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assert scanned is None, ("the scanner took what orjson refuses", raw[:300])
        return False
    if scanned is None:
        return False
    expected = python_path(obj) if type(obj) is dict else None
    assert expected is not None, ("the scanner took a tweet the Python path refuses", raw[:300])
    assert exact(scanned) == exact(expected), raw[:300]
    return True


def writings(obj) -> list[bytes]:
    """``obj`` as orjson writes it, ASCII-escaped (non-ASCII text as \\u escapes, pairs for astral
    characters) and indented; [] where JSON has no text for a value of it."""
    try:
        return [orjson.dumps(obj), json.dumps(obj, allow_nan=False).encode(),
                json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False).encode()]
    except (TypeError, ValueError, UnicodeEncodeError):  # 10**400 for orjson, NaN, a lone surrogate
        return []


# ------------------------------------------------------------ generated traffic

@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_generated_tweets_are_scanned_and_match(seed):
    messages = generated(seed)
    taken = sum(same_scan(raw) for raw in messages)
    assert taken == len(messages), f"the scanner declined {len(messages) - taken} of {len(messages)}"


def test_message_v11_takes_the_scanned_tweet():
    """The service's decoding (message_v11) gives the scanner's tweet, and the walk's where the scanner declines."""
    raw = load_bytes("v11_classic.json")
    assert exact(D._decode.message_v11(raw, 1 << 20)[0]) == exact(D._decode.scan_v11(raw))
    repeated = raw.rstrip()[:-1] + b', "source": "<a href=\\"x\\">Other</a>"}'  # a key read twice: declined
    assert D._decode.scan_v11(repeated) is None
    assert exact(D._decode.message_v11(repeated, 1 << 20)[0]) == exact(python_path(orjson.loads(repeated)))
    assert D._decode.message_v11(repeated, 1 << 20)[0].source == "Other"


# ------------------------------------------------------------------ fixtures

@pytest.mark.parametrize("name", V11)
def test_fixtures_are_scanned_in_every_writing(name):
    """Entities to unescape, display_text_range, extended_tweet, retweets, quotes and replies."""
    assert same_scan(load_bytes(name))
    for raw in writings(load_json(name)):
        assert same_scan(raw), raw[:200]


@pytest.mark.parametrize("name", V11)
def test_every_value_swapped_and_deleted(name):
    results = [same_scan(raw) for obj in _variants(load_json(name)) for raw in writings(obj)]
    assert results.count(True) > len(results) // 2


# --------------------------------------------------------------- JSON itself

def classic_with(fragment: bytes) -> bytes:
    """The classic fixture with ``"extra": <fragment>`` as its first member: a value the walk does not read."""
    raw = orjson.dumps(CLASSIC)
    return b'{"extra":' + fragment + b"," + raw[1:]


REFUSED = [  # values orjson refuses: the whole message must be declined though the walk never reads them
    b'"\x01"', b'"\\x"', b'"\\ud800"', b'"\\udc00x"', b'"\\ud800\\u0041"', b'"\xed\xa0\x80"', b'"\xc0\xaf"',
    b'"\xf4\x90\x80\x80"', b'"\xe2\x82"', b'"\xff"', b'01', b'1.', b'-', b'.5', b'1e400', b'[1,]', b'{"a":1,}',
    b'{"a" 1}', b'{a:1}', b'[1 2]', b'tru', b'nul', b'NaN', b'Infinity', b'"unterminated',
]
ACCEPTED = [  # values orjson takes: taken, with the tweet unchanged
    b'"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t"', b'"\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac\x7f"',
    b'-0', b'0.5', b'-12.25', b'18446744073709551615', b'123456789012345678901234567890', b'[]', b'{}',
    b'[[[[{"a":[1,{"b":null}]}]]]]', b'{"text":"not the tweet\'s","user":7}', b'true', b'false', b'null',
    b' [ 1 , "x" , { "k" : [ ] } ] ',
]


@pytest.mark.parametrize("fragment", REFUSED)
def test_what_orjson_refuses_anywhere_is_declined(fragment):
    raw = classic_with(fragment)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert D._decode.scan_v11(raw) is None


@pytest.mark.parametrize("fragment", ACCEPTED)
def test_values_the_walk_does_not_read_change_nothing(fragment):
    assert same_scan(classic_with(fragment))


@pytest.mark.parametrize("raw", [
    b"", b" ", b"{", b"[]", b'"x"', b"{}", b"\xef\xbb\xbf" + orjson.dumps(CLASSIC), orjson.dumps(CLASSIC) + b" x",
    orjson.dumps(CLASSIC) + b"{}", b"[" * 100 + orjson.dumps(CLASSIC) + b"]" * 100, orjson.dumps([CLASSIC]),
    b'{"extra":' + b"[" * 70 + b"]" * 70 + b"," + orjson.dumps(CLASSIC)[1:],  # deeper than the scanner goes
])
def test_documents_it_declines(raw):
    assert D._decode.scan_v11(raw) is None
    same_scan(raw)


def test_whitespace_around_the_document_is_taken():
    raw = orjson.dumps(CLASSIC)
    assert same_scan(b" \t\r\n" + raw + b"\n ")


@pytest.mark.parametrize("change", [
    {"text": "a\u2028b &amp; \"c\"\n"}, {"text": "é" * 300}, {"text": "x" * 5000},
    {"source": '<a href="x">Cl\u00efent &amp; Co</a>'}, {"display_text_range": [-0, 3]},
    {"display_text_range": [2, 5]}, {"display_text_range": [5, 2]}, {"display_text_range": [0, 10**18]},
    {"display_text_range": [0, 10**19]}, {"display_text_range": [0, 2**64]}, {"display_text_range": [0.0, 3]},
    {"in_reply_to_status_id_str": "", "in_reply_to_status_id": 0.0},
    {"in_reply_to_status_id_str": None, "in_reply_to_status_id": 0.5},
    {"in_reply_to_status_id_str": 0, "in_reply_to_status_id": [0]}, {"in_reply_to_status_id_str": {}},
    {"in_reply_to_status_id": 10**30}, {"is_quote_status": True}, {"quoted_status": []},
    {"entities": {"urls": [{"urls": [{"url": "inner"}]}, {"url": "outer"}, 3, {"expanded_url": ""}]}},
    {"user": {**CLASSIC["user"], "followers_count": -0, "friends_count": -3, "listed_count": 10**18,
              "statuses_count": 10**19, "verified": 1}},
    {"user": {**CLASSIC["user"], "favourites_count": 1.5}},
    {"user": {**CLASSIC["user"], "created_at": "Sat Dec 14 04:35:55 +0000 2013 "}},
    {"user": {**CLASSIC["user"], "created_at": "Sat Dec 14 04:35:55 +0000 201é"}},
    {"user": {**CLASSIC["user"], "id_str": "идентиф"}}, {"id_str": "9" * 64}, {"id_str": "9" * 65},
])
def test_the_walks_rules_on_the_values_it_reads(change):
    for raw in writings({**CLASSIC, **change}):
        same_scan(raw)


def test_client_names_through_the_cache_of_sources():
    """More distinct sources than the scanner keeps (256 slots), twice over, and some too long to keep: every
    client name is the Python path's, whichever source last held a slot."""
    for _ in range(2):
        for i in range(700):
            anchor = f'<a href="https://c{i}.example" rel="nofollow">Client {i} &amp; Co</a>'
            for source in (anchor, anchor.replace("example", "example/" + "x" * 200), f"plain {i}"):
                assert same_scan(orjson.dumps({**CLASSIC, "source": source}))


def test_a_repeated_key_the_walk_reads_is_declined_and_an_escaped_one_too():
    raw = orjson.dumps(CLASSIC)
    for doubled in (b'{"text":"first",' + raw[1:], b'{"us\\u0065r":{},' + raw[1:]):
        assert D._decode.scan_v11(doubled) is None
        orjson.loads(doubled)  # valid JSON: the walk decides it
    assert same_scan(b'{"lang":"x","lang":"y",' + raw[1:])  # a key it does not read may repeat


def test_a_stale_clock_bound_declines():
    raw = load_bytes("v11_classic.json")
    D._clock_bound[0] = 0.0  # as at start-up
    assert D._decode.scan_v11(raw) is None
    D.decode_tweets(raw)  # the Python path looks at the clock
    assert D._decode.scan_v11(raw) is not None


def test_the_check_bites():
    """same_scan fails on a scanner that takes what orjson refuses, or gets a field's value or type wrong."""
    raw = orjson.dumps(CLASSIC)
    tweet = D._decode.scan_v11(raw)
    with pytest.raises(AssertionError):
        same_scan(classic_with(b"01"), scan=lambda _: tweet)
    for change in ({"mentions": True}, {"text": tweet.text + " "}):
        with pytest.raises(AssertionError):
            same_scan(raw, scan=lambda r: dataclasses.replace(D._decode.scan_v11(r), **change))


# -------------------------------------------------------------- hypothesis

@HYPOTHESIS
@given(obj=v11_tweets)
def test_hypothesis_tweets(obj):
    for raw in writings(obj):
        same_scan(raw)


@HYPOTHESIS
@given(name=st.sampled_from(V11), data=st.data())
def test_byte_mutations(name, data):
    raw = bytearray(load_bytes(name))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.sampled_from(b'"\\{}[],:0123456789-.eE \x00\x1f\x7f\x80\xbf\xc3\xed\xf0\xffatnu'))
        if action == "set":
            raw[at] = byte
        elif action == "insert":
            raw.insert(at, byte)
        elif len(raw) > 1:
            del raw[at]
    same_scan(bytes(raw))


def test_seeded_byte_mutations_of_generated_traffic():
    """Many more mutations than hypothesis runs, on the generator's retweets, quotes and replies."""
    rng = random.Random(11)
    messages = generated(5, 400)
    alphabet = b'"\\{}[],:0123456789-.eE \x00\x1f\x7f\x80\xbf\xc3\xed\xf0\xffatnu'
    taken = 0
    for _ in range(20_000):
        raw = bytearray(rng.choice(messages))
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.5:
                raw[at] = rng.choice(alphabet)
            else:
                raw.insert(at, rng.choice(alphabet))
        taken += same_scan(bytes(raw))
    assert taken > 1000  # many mutations fall in text and keep the tweet valid: the accepting paths are reached
