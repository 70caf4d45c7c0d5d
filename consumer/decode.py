"""Bytes to :class:`~consumer.events.Tweet` and :class:`~consumer.events.Label`.

Three tweet formats are accepted and told apart by their shape:

* botwatch's compact event (``account_id`` or ``ts`` at the top), whose JSON Schema is
  ``consumer/schemas/compact-event.schema.json``;
* Twitter API v2 items or responses (``data`` at the top, one tweet or a list,
  authors in ``includes.users``);
* Twitter API v1.1 tweet objects (``user``, ``created_at`` or ``id_str`` at the
  top), classic or extended (``extended_tweet``, ``full_text``,
  ``display_text_range``), retweets, quotes and replies.

Only the fields that identify a tweet, its author and its time are required.
In the v1.1 and v2 payloads every other field is read leniently: a missing or
malformed optional field makes its feature missing, never the event invalid,
because those formats are someone else's and carry hundreds of fields we do
not use. The compact event is botwatch's own contract, so it is validated
strictly against its schema: a producer bug shows up in the dead-letter topic
instead of silently skewing features.

The common v1.1 tweet is decoded by a C walk of the orjson dict,
``consumer._decode.tweet_v11`` (``consumer/_decode.c``), built by ``pip install
-e .``; it halves decode_tweets' time for such a tweet (``benchmarks/decode.py``
times both). The Python path (:func:`_from_v11`) is the definition: the C
returns exactly the tweet the Python path returns, or declines (None), and then
the Python path decodes the message as if the C were not there, tweet or
:class:`DecodeError` alike. It declines anything that takes one of the Python
path's rarer branches:

* the compact and v2 shapes, and objects without a ``user`` object;
* ids that are not ``id_str`` text of 1..MAX_ID_CHARS characters (integer ids);
* a ``created_at`` that is not a valid 30-character v1.1 time, or outside
  EARLIEST_TS .. the clock bound last read (which only the Python path
  refreshes, so the first tweet after start-up is always declined); a user's
  ``created_at`` of 30 characters that is not a valid time;
* counts that are integers past a float's range, a ``display_text_range``
  index outside a signed 64-bit integer, a ``source`` longer than 512
  characters (past the client-name cache).

Before the walk, a message's bytes go to a scanner, ``consumer._decode.scan_v11``,
which makes the same tweet without orjson's dict: it checks the whole document
on orjson's terms or stricter and reads only the values the walk reads (1.7
to 1.8 against 3.5 to 4.3 µs a bench tweet, ``benchmarks/decode.py``). It declines, and the
walk of orjson's dict takes the message, wherever it would have to reason about
a rarer case: a number with an exponent or of more than 40 characters, a key the
walk reads repeated or escaped in one object, an escaped ``created_at`` or
``id_str``, a count or a ``display_text_range`` index that is a float or of more
than 18 digits, nesting deeper than 64, an unusually large number of objects or
links. ``tests/test_decode_scan.py`` holds it to orjson and the Python path on
the same bytes.

Text with ``&`` is unescaped by :func:`_unescape` and the client name comes from
:func:`_client`, both called from the C. The service hands it whole runs of
fetched messages (:func:`tweet_run`), so the common message costs no Python
at all on its way into the aligner. Where the module is not built,
:data:`COMPILED` is False and the Python path decodes everything.

Anything that cannot be decoded raises :class:`DecodeError` with a short
machine-readable ``reason`` (one of :data:`REASONS`: a metric label and a DLQ
header) and a readable message. No other exception leaves :func:`decode_tweets`
or :func:`decode_label`.

Example
-------
>>> raw = b'{"id": "7", "account_id": "42", "ts": "2024-03-01T12:00:00Z", "text": "hi &amp; bye"}'
>>> [(t.tweet_id, t.account_id, t.ts, t.text) for t in decode_tweets(raw)]
[('7', '42', 1709294400.0, 'hi &amp; bye')]
>>> try:
...     decode_tweets(b'{"id": "7", "account_id": "42"}')
... except DecodeError as e:
...     print(e.reason, "-", e)
missing_field - event.ts is missing
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from consumer.events import Label, Profile, Tweet

#: Twitter's first day; an event time before it is not a tweet's.
EARLIEST_TS = 1142899200.0  # 2006-03-21T00:00:00Z
#: How far ahead of this machine's clock an event time may be.
MAX_CLOCK_SKEW_S = 86400.0
DEFAULT_MAX_BYTES = 1 << 20
#: Longest tweet or account id accepted. Ids become dict keys and Kafka keys
#: that live as long as the account, so a hostile 1 MB "id" must not get in.
MAX_ID_CHARS = 64
#: Largest integer id (Twitter ids are unsigned 64-bit).
MAX_INT_ID = (1 << 64) - 1

#: Every ``DecodeError.reason``; ``internal_error`` means a bug in this module.
REASONS = ("too_large", "not_json", "not_object", "unknown_format", "missing_field", "bad_type", "bad_value",
           "bad_time", "internal_error")


class DecodeError(Exception):
    """Input that is not a valid event; ``reason`` is one of :data:`REASONS`.

    Parameters
    ----------
    reason
        Machine-readable class of the error (a metric label, a DLQ header).
    message
        What is wrong, for a human reading the dead-letter topic.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


_EMPTY: dict = {}

# ------------------------------------------------------------------- times

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
#: Twitter v1.1's ``created_at``; also in the compact event's JSON Schema.
V11_TIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                      r"([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2}) ([0-9]{4})\Z")
#: RFC 3339 date-time with a zone: what v2 sends; also in the compact event's JSON Schema.
ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})\Z")
_V11_LEN = len("Wed Oct 10 20:19:24 +0000 2018")
_ISO_MAX_LEN = len("2018-10-10T20:19:24.123456789+00:00")


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _month_days(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


@lru_cache(maxsize=4096)  # days x zones: a small set, and tweets of one day share it
def _v11_midnight(text: str) -> float:
    """Epoch seconds of ``text``, a v1.1 time whose clock reads 00:00:00, checked in full."""
    m = V11_TIME.match(text)
    if m is None:
        raise DecodeError("bad_time", f"created_at {text[:64]!r} is not like 'Wed Oct 10 20:19:24 +0000 2018'")
    mon, day, _, _, _, sign, oh, om, year = m.groups()
    y, mo, d = int(year), _MONTHS[mon], int(day)
    if not (1 <= d <= _month_days(y, mo) and int(oh) < 24 and int(om) < 60):
        raise DecodeError("bad_time", f"created_at {text[:64]!r} is not a valid date")
    offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
    return float(_days_from_civil(y, mo, d) * 86400 - offset)


# "00".."23", "00".."59" to seconds: a lookup both parses and range-checks a clock field
_HOUR_S = {f"{i:02d}": i * 3600 for i in range(24)}
_MINUTE_S = {f"{i:02d}": i * 60 for i in range(60)}
_SECOND_S = {f"{i:02d}": i for i in range(60)}


def _v11_seconds(text: str) -> float:
    # the date part comes from a cache; only the clock is parsed per tweet
    midnight = _v11_midnight(text[:11] + "00:00:00" + text[19:])
    h, m, s = _HOUR_S.get(text[11:13]), _MINUTE_S.get(text[14:16]), _SECOND_S.get(text[17:19])
    if h is None or m is None or s is None or text[13] != ":" or text[16] != ":":
        raise DecodeError("bad_time", f"created_at {text!r} has no valid clock time")
    return midnight + (h + m + s)


def parse_v11_time(text: Any) -> float:
    """Twitter v1.1's ``created_at`` (``Wed Oct 10 20:19:24 +0000 2018``) to epoch seconds.

    >>> parse_v11_time("Wed Oct 10 20:19:24 +0000 2018")
    1539202764.0
    >>> parse_v11_time("Wed Oct 10 22:19:24 +0200 2018")
    1539202764.0
    """
    if type(text) is not str:
        raise DecodeError("bad_type", f"created_at must be a string, got {type(text).__name__}")
    if len(text) != _V11_LEN:  # also keeps hostile long strings out of the cache
        raise DecodeError("bad_time", f"created_at {text[:64]!r} is not like 'Wed Oct 10 20:19:24 +0000 2018'")
    return _v11_seconds(text)


@lru_cache(maxsize=4096)
def _iso_seconds(text: str) -> float:
    if ISO_TIME.match(text) is None:
        raise DecodeError("bad_time", f"time {text[:64]!r} is not ISO-8601 like '2018-10-10T20:19:24.000Z'")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as e:  # the shape is right, a field is out of range (month 13, Feb 30)
        raise DecodeError("bad_time", f"time {text!r} is not a valid date and time: {e}") from None


def parse_iso_time(text: Any) -> float:
    """An RFC 3339 time with a zone (``2018-10-10T20:19:24.000Z``) or epoch seconds, to epoch seconds.

    >>> parse_iso_time("2018-10-10T20:19:24.000Z"), parse_iso_time(1539202764)
    (1539202764.0, 1539202764.0)
    """
    t = type(text)
    if t is float or t is int:
        return float(text)
    if t is not str:
        raise DecodeError("bad_type", f"time must be ISO-8601 text or epoch seconds, got {t.__name__}")
    if len(text) > _ISO_MAX_LEN:
        raise DecodeError("bad_time", f"time {text[:64]!r}... is not ISO-8601")
    return _iso_seconds(text)


_clock_bound = [0.0]  # the latest event time accepted, as of the last look at the clock


def _refresh_clock_bound() -> float:
    """The latest event time accepted now. A bound read earlier is lower (the clock moves on), so a time
    within it is within the current one: only a time beyond it needs a fresh look at the clock."""
    _clock_bound[0] = bound = time.time() + MAX_CLOCK_SKEW_S
    return bound


def _check_time(ts: float, where: str) -> float:
    if not EARLIEST_TS <= ts <= time.time() + MAX_CLOCK_SKEW_S:
        raise DecodeError("bad_time", f"{where} {ts!r} is outside 2006-03-21 .. now+1d")
    return ts


# ---------------------------------------------------------- required fields

def _ident(value: Any, where: str) -> str:
    """A tweet or account id: a non-empty string of at most MAX_ID_CHARS, or a non-negative integer."""
    t = type(value)
    if t is str:
        if 0 < len(value) <= MAX_ID_CHARS:
            return value
        if not value:
            raise DecodeError("missing_field", f"{where} is empty")
        raise DecodeError("bad_value", f"{where} is longer than {MAX_ID_CHARS} characters")
    if t is int or (t is float and value.is_integer()):  # JSON Schema's "integer" takes 7.0 too
        if 0 <= value <= MAX_INT_ID:
            return str(int(value))
        raise DecodeError("bad_value", f"{where} {value!r} is not an unsigned 64-bit integer")
    if value is None:
        raise DecodeError("missing_field", f"{where} is missing")
    raise DecodeError("bad_type", f"{where} must be a string or an integer, got {t.__name__}")


def _ident_of(obj: dict, key_str: str, key_int: str, where: str) -> str:
    """v1.1 ids: ``id_str`` where present (JavaScript loses ``id``'s precision), else ``id``."""
    value = obj.get(key_str)
    if value is None or value == "":
        return _ident(obj.get(key_int), f"{where}.{key_int}")
    return _ident(value, f"{where}.{key_str}")


# ------------------------------------------------- lenient optional fields

def _count(value: Any) -> float | None:
    """A non-negative number, else unknown (bool is not a count)."""
    t = type(value)
    if (t is int or t is float) and value >= 0:
        return float(value)
    return None


def _flag(value: Any) -> float | None:
    return (1.0 if value else 0.0) if type(value) is bool else None


def _string(value: Any) -> str | None:
    return value if type(value) is str else None


def _list(value: Any) -> list:
    return value if type(value) is list else []


def _unescape(text: str) -> str:
    # the API HTML-escapes exactly these three in tweet text and source
    if "&" in text:
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


def _display(text: Any, text_range: Any) -> str:
    """The tweet's own text: unescaped, then cut to ``display_text_range`` where given.

    The range leaves out the leading @mentions of a reply and a trailing media
    link; its indices count code points of the unescaped text.
    """
    if type(text) is not str:
        return ""
    text = _unescape(text)
    if type(text_range) is list and len(text_range) == 2:
        start, end = text_range
        if type(start) is int and type(end) is int and 0 <= start <= end:
            return text[start:end]
    return text


def _url_of(entity: Any) -> str | None:
    # the unwound (final) destination tells a spam domain behind a shortener; t.co is the last resort
    if type(entity) is not dict:
        return None
    url = entity.get("unwound_url")
    if type(url) is str and url:
        return url
    url = entity.get("expanded_url")
    if type(url) is str and url:
        return url
    url = entity.get("url")
    return url if type(url) is str and url else None


def _urls(entities: dict) -> tuple[str, ...]:
    items = entities.get("urls")
    if type(items) is not list or not items:
        return ()
    return tuple(u for u in map(_url_of, items) if u)


@lru_cache(maxsize=1024)  # a few hundred clients post nearly all tweets
def _client(anchor: str) -> str:
    if anchor.startswith("<a"):
        anchor = anchor.rpartition("</a>")[0].rpartition(">")[2]
    return _unescape(anchor)


def _source(value: Any) -> str:
    """The client's name; v1.1 sends an HTML anchor whose text is the name."""
    if type(value) is not str:
        return ""
    return _client(value) if len(value) <= 512 else _client.__wrapped__(value)


# ------------------------------------------------------------------- v1.1

def _content_v11(status: dict, fallback: Any = None) -> tuple[str, dict]:
    """Text and entities of a v1.1 status, from ``extended_tweet`` when the top level is truncated.

    ``fallback`` stands in for entities the status lacks (a trimmed retweeted_status).
    """
    ext = status.get("extended_tweet")
    if type(ext) is dict:  # streaming compatibility mode: the 140-character text is truncated
        body, text = ext, ext.get("full_text")
    else:  # classic, or REST extended mode (``full_text`` at the top)
        body, text = status, status.get("full_text")
        if type(text) is not str:
            text = status.get("text")
    entities = body.get("entities")
    if type(entities) is not dict:
        entities = status.get("entities")
        if type(entities) is not dict:
            entities = fallback if type(fallback) is dict else _EMPTY
    return _display(text, body.get("display_text_range")), entities


_created_cache: dict[str, float | None] = {}
_tweet_seconds: dict[str, float] = {}  # tweets come in time order: the seconds just seen come again


def _account_created(text: str) -> float | None:
    # an account's created_at comes again with each of its tweets: a bounded dict, emptied when full (cheaper
    # per lookup than an LRU, and a miss costs no more than parsing)
    ts = _created_cache.get(text, _EMPTY)
    if ts is _EMPTY:
        try:
            ts = _v11_seconds(text)
        except DecodeError:
            ts = None
        if len(_created_cache) >= 1 << 16:
            _created_cache.clear()
        _created_cache[text] = ts
    return ts


def _profile_v11(user: dict) -> Profile:
    # _count, _flag and _string written out: this runs for every v1.1 tweet
    get = user.get
    v = get("statuses_count")
    statuses = float(v) if ((t := type(v)) is int or t is float) and v >= 0 else None
    v = get("followers_count")
    followers = float(v) if ((t := type(v)) is int or t is float) and v >= 0 else None
    v = get("friends_count")
    friends = float(v) if ((t := type(v)) is int or t is float) and v >= 0 else None
    v = get("favourites_count")
    favourites = float(v) if ((t := type(v)) is int or t is float) and v >= 0 else None
    v = get("listed_count")
    listed = float(v) if ((t := type(v)) is int or t is float) and v >= 0 else None
    v = get("default_profile")
    default_profile = (1.0 if v else 0.0) if type(v) is bool else None
    v = get("profile_use_background_image")
    background = (1.0 if v else 0.0) if type(v) is bool else None
    v = get("verified")
    verified = (1.0 if v else 0.0) if type(v) is bool else None
    v = get("created_at")
    created = _account_created(v) if type(v) is str and len(v) == _V11_LEN else None
    v = get("screen_name")
    screen_name = v if type(v) is str else None
    v = get("name")
    name = v if type(v) is str else None
    v = get("description")
    return Profile(statuses, followers, friends, favourites, listed, default_profile, background, verified, created,
                   screen_name, name, v if type(v) is str else None)


def _from_v11(obj: dict) -> Tweet:
    user = obj.get("user")
    if type(user) is not dict:
        if user is None:
            raise DecodeError("missing_field", "tweet.user is missing")
        raise DecodeError("bad_type", f"tweet.user must be an object, got {type(user).__name__}")
    # the common case of _ident_of written out; anything else takes _ident_of's path
    tweet_id = obj.get("id_str")
    if type(tweet_id) is not str or not 0 < len(tweet_id) <= MAX_ID_CHARS:
        tweet_id = _ident_of(obj, "id_str", "id", "tweet")
    account_id = user.get("id_str")
    if type(account_id) is not str or not 0 < len(account_id) <= MAX_ID_CHARS:
        account_id = _ident_of(user, "id_str", "id", "user")
    created = obj.get("created_at")
    if created is None:
        raise DecodeError("missing_field", "tweet.created_at is missing")
    if type(created) is str and len(created) == _V11_LEN:
        ts = _tweet_seconds.get(created)
        if ts is None:
            ts = _v11_seconds(created)
            if len(_tweet_seconds) >= 4096:
                _tweet_seconds.clear()
            _tweet_seconds[created] = ts
    else:
        ts = parse_v11_time(created)  # raises the error the value deserves
    if not EARLIEST_TS <= ts <= _clock_bound[0] and not EARLIEST_TS <= ts <= _refresh_clock_bound():
        raise DecodeError("bad_time", f"tweet.created_at {ts!r} is outside 2006-03-21 .. now+1d")

    retweeted = obj.get("retweeted_status")
    is_retweet = type(retweeted) is dict
    # a retweet's own text is "RT @author: " and a 140-character cut; what it spreads is the original
    text, entities = _content_v11(retweeted, obj.get("entities")) if is_retweet else _content_v11(obj)
    items = entities.get("urls")
    if type(items) is not list or not items:
        urls = ()
    elif len(items) == 1:
        urls = (url,) if (url := _url_of(items[0])) else ()
    else:
        urls = tuple([u for u in map(_url_of, items) if u])
    items = entities.get("user_mentions")
    mentions = len(items) if type(items) is list else 0
    items = entities.get("hashtags")
    hashtags = len(items) if type(items) is list else 0
    source = obj.get("source")
    if type(source) is str:
        source = _client(source) if len(source) <= 512 else _client.__wrapped__(source)
    else:
        source = ""
    return Tweet(
        tweet_id, account_id, ts, text, urls, mentions, hashtags, is_retweet,
        bool(obj.get("in_reply_to_status_id_str") or obj.get("in_reply_to_status_id")),
        not is_retweet and (type(obj.get("quoted_status")) is dict or obj.get("is_quote_status") is True),
        source, _profile_v11(user),
    )


# --------------------------------------------------------------------- v2

def _content_v2(item: dict) -> tuple[str, dict]:
    """Text and entities of a v2 tweet, from ``note_tweet`` for posts longer than 280 characters."""
    note = item.get("note_tweet")
    if type(note) is dict and type(note.get("text")) is str:
        entities = note.get("entities")
        if type(entities) is not dict:
            entities = item.get("entities")
        return _unescape(note["text"]), entities if type(entities) is dict else _EMPTY
    entities = item.get("entities")
    return _display(item.get("text"), item.get("display_text_range")), entities if type(entities) is dict else _EMPTY


def _iso_created(value: Any) -> float | None:
    try:
        return parse_iso_time(value) if value is not None else None
    except DecodeError:
        return None


def _profile_v2(user: dict) -> Profile:
    metrics = user.get("public_metrics")
    get = metrics.get if type(metrics) is dict else _EMPTY.get
    return Profile(
        _count(get("tweet_count")), _count(get("followers_count")), _count(get("following_count")),
        _count(get("like_count")), _count(get("listed_count")),
        None, None,  # v2 has no profile theme fields
        _flag(user.get("verified")),
        _iso_created(user.get("created_at")),
        _string(user.get("username")), _string(user.get("name")), _string(user.get("description")),
    )


def _by_id(objects: Any) -> dict[str, dict]:
    out = {}
    for obj in _list(objects):
        if type(obj) is dict:
            oid = obj.get("id")
            if type(oid) is str or type(oid) is int:
                out[str(oid)] = obj
    return out


def _from_v2_item(item: dict, users: dict[str, dict], originals: dict[str, dict]) -> Tweet:
    tweet_id = _ident(item.get("id"), "data.id")
    account_id = _ident(item.get("author_id"), "data.author_id")
    created = item.get("created_at")
    if created is None:
        raise DecodeError("missing_field", "data.created_at is missing")
    if type(created) is not str:
        raise DecodeError("bad_type", f"data.created_at must be an ISO-8601 string, got {type(created).__name__}")
    ts = _check_time(parse_iso_time(created), "data.created_at")

    kinds = {}
    for ref in _list(item.get("referenced_tweets")):
        if type(ref) is dict and type(ref.get("type")) is str:
            kinds[ref["type"]] = ref.get("id")
    is_retweet = "retweeted" in kinds
    content = item
    if is_retweet and originals:  # the full original, where the response expanded it
        content = originals.get(str(kinds["retweeted"]), item)
    text, entities = _content_v2(content)
    user = users.get(account_id)
    return Tweet(
        tweet_id, account_id, ts, text, _urls(entities),
        len(_list(entities.get("mentions"))), len(_list(entities.get("hashtags"))),
        is_retweet, "replied_to" in kinds, "quoted" in kinds and not is_retweet,
        _source(item.get("source")),
        _profile_v2(user) if user is not None else None,
    )


def _from_v2(obj: dict) -> list[Tweet]:
    data = obj["data"]
    if type(data) is dict:
        items = (data,)
    elif type(data) is list:
        if not data:
            raise DecodeError("missing_field", "v2 response has an empty data list")
        items = data
    else:
        raise DecodeError("bad_type", f"v2 data must be an object or a list, got {type(data).__name__}")
    includes = obj.get("includes")
    if type(includes) is not dict:
        includes = _EMPTY
    users = _by_id(includes.get("users"))
    originals = _by_id(includes["tweets"]) if "tweets" in includes else _EMPTY  # once: a list may hold many
    out = []
    for item in items:
        if type(item) is not dict:
            raise DecodeError("bad_type", f"v2 data item must be an object, got {type(item).__name__}")
        out.append(_from_v2_item(item, users, originals))
    return out


# ---------------------------------------------------------------- compact
# Strict: every check here has its twin in consumer/schemas/compact-event.schema.json.

def _c_count(obj: dict, key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    t = type(value)
    if (t is int or (t is float and value.is_integer())) and value >= 0:
        return float(value)
    raise DecodeError("bad_type", f"{where}.{key} must be a non-negative integer, got {value!r:.40}")


def _c_bool(obj: dict, key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    raise DecodeError("bad_type", f"{where}.{key} must be true or false, got {type(value).__name__}")


def _c_str(obj: dict, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise DecodeError("bad_type", f"{where}.{key} must be a string, got {type(value).__name__}")


def _c_time(value: Any, where: str) -> float:
    t = type(value)
    if t is int or t is float:
        return float(value)
    if t is str:
        return parse_iso_time(value)
    raise DecodeError("bad_type", f"{where} must be epoch seconds or an ISO-8601 string, got {t.__name__}")


def _profile_compact(user: dict) -> Profile:
    w = "event.user"
    created = user.get("created_at")
    if created is not None:
        if type(created) is str and len(created) == _V11_LEN and created[3] == " ":
            created = parse_v11_time(created)
        else:
            created = _c_time(created, w + ".created_at")
    flags = [_c_bool(user, k, w) for k in ("default_profile", "profile_use_background_image", "verified")]
    return Profile(
        _c_count(user, "statuses_count", w), _c_count(user, "followers_count", w), _c_count(user, "friends_count", w),
        _c_count(user, "favourites_count", w), _c_count(user, "listed_count", w),
        *(None if f is None else float(f) for f in flags),
        created,
        _c_str(user, "screen_name", w), _c_str(user, "name", w), _c_str(user, "description", w),
    )


def _from_compact(obj: dict) -> Tweet:
    tweet_id = _ident(obj.get("id"), "event.id")
    account_id = _ident(obj.get("account_id"), "event.account_id")
    if obj.get("ts") is None:
        raise DecodeError("missing_field", "event.ts is missing")
    ts = _check_time(_c_time(obj["ts"], "event.ts"), "event.ts")
    urls = obj.get("urls")
    if urls is None:
        urls = ()
    elif type(urls) is list and all(type(u) is str for u in urls):
        urls = tuple(urls)
    else:
        raise DecodeError("bad_type", "event.urls must be a list of strings")
    user = obj.get("user")
    if user is not None and type(user) is not dict:
        raise DecodeError("bad_type", f"event.user must be an object, got {type(user).__name__}")
    return Tweet(
        tweet_id, account_id, ts,
        _c_str(obj, "text", "event") or "",
        urls,
        int(_c_count(obj, "mentions", "event") or 0), int(_c_count(obj, "hashtags", "event") or 0),
        bool(_c_bool(obj, "retweet", "event")), bool(_c_bool(obj, "reply", "event")),
        bool(_c_bool(obj, "quote", "event")),
        _c_str(obj, "source", "event") or "",
        _profile_compact(user) if user is not None else None,
    )


# ------------------------------------------------------- the compiled v1.1 walk

try:
    from consumer import _decode

    _decode.bind(Tweet, Profile, _client, _unescape, _clock_bound, EARLIEST_TS, MAX_ID_CHARS, orjson.loads)
except (ImportError, TypeError) as e:  # not built (no compiler where it was installed), or for other dataclasses
    _tweet_v11 = _message_v11 = _tweet_run = _note_tweets = None
    NOT_COMPILED = f"{type(e).__name__}: {e}"
else:
    _tweet_v11, _message_v11, _tweet_run = _decode.tweet_v11, _decode.message_v11, _decode.tweet_run
    _note_tweets = _decode.note_tweets
    NOT_COMPILED = ""
#: Whether v1.1 tweets take the C walk of ``consumer._decode``; if not, the Python path alone decodes them
#: (the same tweets, about twice the time), and :data:`NOT_COMPILED` says why.
COMPILED = _tweet_v11 is not None


@contextmanager
def _python_only() -> Iterator[None]:
    """Decode with the Python path alone, as where consumer._decode is not built (for tests and benchmarks)."""
    global _tweet_v11, _message_v11, _tweet_run, _note_tweets
    saved = _tweet_v11, _message_v11, _tweet_run, _note_tweets
    _tweet_v11 = _message_v11 = _tweet_run = _note_tweets = None
    try:
        yield
    finally:
        _tweet_v11, _message_v11, _tweet_run, _note_tweets = saved


def tweet_run(msgs: list, start: int, topic: str, max_bytes: int, fetched: float) -> tuple | None:
    """A consumer's messages from ``msgs[start]`` on, decoded for the aligner as far as they are a run of one
    partition of ``topic`` whose messages each hold one common v1.1 tweet in event-time order (in C: the Python
    per message was about a tenth of the service's time while tweets flow): ``(end, (topic, partition), entries, times)``, where
    ``msgs[start:end]`` made ``entries``, each ``((topic, partition), offset, ([tweet], fetched))``, and
    ``times`` are their tweets' event times. None where ``msgs[start]`` begins no run (an error, a label, a
    message the C declines) or the C is not built: the caller decodes that message itself, with
    :func:`decode_tweets`, which names any error."""
    return None if _tweet_run is None else _tweet_run(msgs, start, topic, max_bytes, fetched)


def note_tweets_python(released: list, partition_of: dict, fetched_at: dict) -> tuple[int, list]:
    """What the service notes of the entries the aligner released, ``((topic, partition), offset, item)``: the
    input partition of each tweet's account, and when the last tweet of each entry was fetched. Returns how many
    entries held tweets, and the other entries (labels, dead letters) in order."""
    noted, others = 0, []
    for entry in released:
        (_, partition), _, item = entry
        if type(item) is not tuple or type(item[0]) is not list:
            others.append(entry)
            continue
        tweets, fetched = item
        for tweet in tweets:
            partition_of[tweet.account_id] = partition
        if tweets:
            noted += 1
            fetched_at[tweets[-1].account_id] = fetched
    return noted, others


def note_tweets(released: list, partition_of: dict, fetched_at: dict) -> tuple[int, list]:
    """:func:`note_tweets_python`, in C where built (a dict store per tweet, a fifth of the service's own Python
    per batch while tweets flow)."""
    if _note_tweets is None:
        return note_tweets_python(released, partition_of, fetched_at)
    return _note_tweets(released, partition_of, fetched_at)


# -------------------------------------------------------------- the entry

def _loads(raw: Any, max_bytes: int) -> dict:
    if raw is None:
        raise DecodeError("not_json", "message has no value (tombstone)")
    if len(raw) > max_bytes:
        raise DecodeError("too_large", f"message of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:  # invalid UTF-8, truncated, nested deeper than 1024, ...
        raise DecodeError("not_json", f"not valid UTF-8 JSON: {str(e)[:200]}") from None
    if type(obj) is not dict:
        raise DecodeError("not_object", f"top level is a JSON {type(obj).__name__}, not an object")
    return obj


def _decode_tweets(raw: Any, max_bytes: int) -> list[Tweet]:
    obj = _loads(raw, max_bytes)
    if _tweet_v11 is not None and (tweet := _tweet_v11(obj)) is not None:  # the common v1.1 tweet, in C
        return [tweet]
    if "account_id" in obj or "ts" in obj:  # neither v1.1 nor v2 has these at the top
        return [_from_compact(obj)]
    if "data" in obj:
        return _from_v2(obj)
    if "user" in obj or "created_at" in obj or "id_str" in obj:
        return [_from_v11(obj)]
    raise DecodeError("unknown_format", "neither a v1.1 tweet, a v2 item nor a compact event")


def decode_tweets(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Tweet]:
    """Decode one message of the tweets topic into its tweets (a v2 response may hold several).

    Parameters
    ----------
    raw
        The message value; ``None`` for a tombstone.
    max_bytes
        Larger messages are refused unread (reason ``too_large``).

    Raises
    ------
    DecodeError
        The only exception raised, whatever the input.
    """
    if _message_v11 is not None and (tweets := _message_v11(raw, max_bytes)) is not None:  # the common case, in C
        return tweets
    try:
        return _decode_tweets(raw, max_bytes)
    except DecodeError:
        raise
    except Exception as e:  # a bug here must cost one message, never the consumer
        raise DecodeError("internal_error", f"decoder failed: {type(e).__name__}: {str(e)[:200]}") from e


def decode_label(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Label:
    """Decode one message of the labels topic.

    >>> decode_label(b'{"account_id": "42", "label": "bot", "ts": 1709294400}')
    Label(account_id='42', is_bot=True, ts=1709294400.0, source='review')
    """
    try:
        obj = _loads(raw, max_bytes)
        account_id = _ident(obj.get("account_id"), "label.account_id")
        verdict = obj.get("label")
        if verdict not in ("bot", "human"):
            raise DecodeError("bad_value", f"label.label must be 'bot' or 'human', got {str(verdict)[:40]!r}")
        if obj.get("ts") is None:
            raise DecodeError("missing_field", "label.ts is missing")
        ts = _check_time(_c_time(obj["ts"], "label.ts"), "label.ts")
        source = obj.get("source")
        return Label(account_id, verdict == "bot", ts, source if type(source) is str else "review")
    except DecodeError:
        raise
    except Exception as e:
        raise DecodeError("internal_error", f"decoder failed: {type(e).__name__}: {str(e)[:200]}") from e
