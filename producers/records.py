"""What producers send: a :class:`Record`, and how a JSON object becomes one.

A record is one message for the ``tweets`` or ``labels`` topic: its key (the
account id), its value (the JSON bytes, unchanged) and its event time. The
event time comes from the payload, never from the wall clock, so the same file
always gives the same stream.

:func:`classify` tells a tweet from a label by its shape, the same way
:mod:`consumer.decode` does, and finds the account and the event time:

* a label is an object with ``account_id`` and ``label`` and no ``id``;
* a compact event has ``account_id`` (and ``ts``) at the top;
* a Twitter API v2 item or response has ``data`` at the top;
* a Twitter API v1.1 tweet has ``user``, ``created_at`` or ``id_str`` at the top.

Example
-------
>>> classify({"account_id": "42", "label": "bot", "ts": 1709251200, "source": "review"})
('labels', b'42', 1709251200.0)
>>> classify({"id": "1", "account_id": "42", "ts": 1709251200.5})
('tweets', b'42', 1709251200.5)
>>> classify({"id_str": "1", "created_at": "Fri Mar 01 00:00:00 +0000 2024", "user": {"id_str": "42"}})
('tweets', b'42', 1709251200.0)
>>> classify({"data": {"id": "1", "author_id": "42", "created_at": "2024-03-01T00:00:00.000Z"}})
('tweets', b'42', 1709251200.0)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import NamedTuple

from consumer.decode import DecodeError, parse_iso_time, parse_v11_time


class Record(NamedTuple):
    """One message to send: topic kind (``tweets`` or ``labels``), key, value and event time.

    A named tuple rather than a dataclass: a replay builds a million of them,
    and a tuple is the cheapest object Python makes.

    Parameters
    ----------
    topic
        ``tweets`` or ``labels``; the sink maps it to a topic name.
    key
        The account id, as bytes: Kafka partitions by it.
    value
        The JSON payload, as bytes.
    ts
        Event time in epoch seconds; the Kafka timestamp is this, in milliseconds.
    """

    topic: str
    key: bytes
    value: bytes
    ts: float


class UnknownShape(ValueError):
    """A JSON object that is neither a tweet (v1.1, v2, compact) nor a label."""


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def v11_time(ts: float) -> str:
    """Epoch seconds as Twitter API v1.1's ``created_at`` (``Fri Mar 01 00:00:00 +0000 2024``).

    Formatted by hand: the generator calls it for every tweet, and strftime is
    several times slower (and would follow the C locale's day names).

    >>> v11_time(1709251200.9)
    'Fri Mar 01 00:00:00 +0000 2024'
    """
    t = time.gmtime(ts)
    return (f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon]} {t.tm_mday:02d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000 {t.tm_year}")


def iso_time(ts: float) -> str:
    """Epoch seconds as Twitter API v2's ``created_at`` (``2024-03-01T00:00:00.000Z``)."""
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_MINUTES: dict[str, float] = {}


def fast_v11_time(text) -> float:
    """:func:`consumer.decode.parse_v11_time`, with the start of each minute cached.

    A replay parses a million ``created_at`` values that share a few thousand
    minutes; only the seconds differ. Anything unusual goes to the full parser.

    >>> fast_v11_time("Fri Mar 01 13:14:15 +0000 2024") == parse_v11_time("Fri Mar 01 13:14:15 +0000 2024")
    True
    """
    if isinstance(text, str) and len(text) == 30:
        key = text[:16] + text[19:]
        minute = _MINUTES.get(key)
        seconds = text[17:19]
        if minute is not None and seconds.isascii() and seconds.isdigit():
            return minute + int(seconds)
        value = parse_v11_time(text)
        if len(_MINUTES) > 100_000:
            _MINUTES.clear()
        _MINUTES[key] = value - value % 60
        return value
    return parse_v11_time(text)


def _id(obj: dict, *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def classify(obj) -> tuple[str, bytes, float]:
    """``(topic kind, key, event time)`` of a decoded JSON line; raises :class:`UnknownShape`.

    A v2 response whose ``data`` is a list is keyed and timed by its first
    item; :func:`split_v2` cuts such a response into one item per tweet.
    """
    if not isinstance(obj, dict):
        raise UnknownShape(f"a JSON {type(obj).__name__}, not an object")
    try:
        if "account_id" in obj:
            account = _id(obj, "account_id")
            if account is None:
                raise UnknownShape("account_id is empty or not a string or integer")
            if "ts" not in obj:
                raise UnknownShape("compact event or label without ts")
            return ("labels" if "label" in obj and "id" not in obj else "tweets"), account.encode(), parse_iso_time(obj["ts"])
        if "data" in obj:
            data = obj["data"]
            item = data[0] if isinstance(data, list) and data else data
            if not isinstance(item, dict):
                raise UnknownShape("v2 'data' holds no tweet object")
            account = _id(item, "author_id")
            if account is None:
                raise UnknownShape("v2 tweet without author_id")
            if "created_at" not in item:
                raise UnknownShape("v2 tweet without created_at")
            return "tweets", account.encode(), parse_iso_time(item["created_at"])
        if "user" in obj or "created_at" in obj or "id_str" in obj:
            user = obj.get("user")
            account = _id(user, "id_str", "id") if isinstance(user, dict) else None
            if account is None:
                raise UnknownShape("v1.1 tweet without user.id_str")
            if "created_at" not in obj:
                raise UnknownShape("v1.1 tweet without created_at")
            return "tweets", account.encode(), fast_v11_time(obj["created_at"])
    except DecodeError as e:
        raise UnknownShape(str(e)) from None
    raise UnknownShape("neither a tweet (v1.1, v2, compact) nor a label")


def split_v2(obj: dict) -> list[dict]:
    """A v2 response with a list of tweets as one ``{"data": item, "includes": {"users": [author]}}`` per tweet.

    One message per tweet keeps the contract "key = account id, timestamp =
    event time", which a page of many authors' tweets cannot keep.

    >>> page = {"data": [{"id": "1", "author_id": "7"}, {"id": "2", "author_id": "8"}],
    ...         "includes": {"users": [{"id": "7", "username": "ann"}]}}
    >>> [(x["data"]["id"], x["includes"]["users"]) for x in split_v2(page)]
    [('1', [{'id': '7', 'username': 'ann'}]), ('2', [])]
    """
    data = obj.get("data")
    if not isinstance(data, list):
        return [obj]
    includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
    users = {str(u.get("id")): u for u in includes.get("users", []) or [] if isinstance(u, dict)}
    out = []
    for item in data:
        author = users.get(str(item.get("author_id"))) if isinstance(item, dict) else None
        out.append({"data": item, "includes": {"users": [author] if author else []}})
    return out
