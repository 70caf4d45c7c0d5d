"""Bytes to :class:`~consumer.events.Tweet` and :class:`~consumer.events.Label`.

Three tweet formats are accepted and told apart by their shape:

* Twitter API v1.1 tweet objects (``user`` and ``created_at`` at the top);
* Twitter API v2 items or responses (``data`` at the top, one tweet or a list,
  authors in ``includes.users``);
* botwatch's compact event (``account_id`` and ``ts`` at the top), whose JSON
  Schema is ``consumer/schemas/compact-event.schema.json``.

Only the fields that identify a tweet, its author and its time are required.
Everything else is optional: a missing field makes a feature missing, never the
event invalid. Anything that cannot be decoded raises :class:`DecodeError`
with a short machine-readable ``reason`` (a metric label and a DLQ header) and
a readable message.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from typing import Any

import orjson

from consumer.events import Label, Profile, Tweet

#: Twitter's first day; an event time before it is not a tweet's.
EARLIEST_TS = 1142899200.0  # 2006-03-21T00:00:00Z
#: How far ahead of this machine's clock an event time may be.
MAX_CLOCK_SKEW_S = 86400.0
DEFAULT_MAX_BYTES = 1 << 20

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


class DecodeError(Exception):
    """Input that is not a valid event; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


REASONS = ("too_large", "not_json", "not_object", "unknown_format", "missing_field", "bad_type", "bad_time")


def _require_str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise DecodeError("missing_field", f"{where}.{key} is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DecodeError("bad_type", f"{where}.{key} must be a string or integer, got {type(value).__name__}")
    return str(value)


def _check_time(ts: float, where: str) -> float:
    if ts != ts or ts < EARLIEST_TS or ts > time.time() + MAX_CLOCK_SKEW_S:
        raise DecodeError("bad_time", f"{where} {ts!r} is outside 2006-03-21 .. now+1d")
    return ts


def parse_v11_time(text: Any) -> float:
    """``Wed Oct 10 20:19:24 +0000 2018`` to epoch seconds."""
    if not isinstance(text, str):
        raise DecodeError("bad_type", f"created_at must be a string, got {type(text).__name__}")
    parts = text.split()
    try:
        _, mon, day, hms, offset, year = parts
        h, m, s = hms.split(":")
        sign = -1 if offset[0] == "-" else 1
        off = sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)
        return float(calendar.timegm((int(year), _MONTHS[mon], int(day), int(h), int(m), int(s), 0, 0, 0)) - off)
    except (ValueError, KeyError, IndexError, OverflowError):
        raise DecodeError("bad_time", f"created_at {text[:64]!r} is not like 'Wed Oct 10 20:19:24 +0000 2018'") from None


def parse_iso_time(text: Any) -> float:
    """ISO-8601 (``2018-10-10T20:19:24.000Z``) or epoch seconds to epoch seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        raise DecodeError("bad_type", f"time must be ISO-8601 text or epoch seconds, got {type(text).__name__}")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise DecodeError("bad_time", f"time {text[:64]!r} is not ISO-8601") from None
    if dt.tzinfo is None:
        raise DecodeError("bad_time", f"time {text[:64]!r} has no time zone")
    return dt.timestamp()


def _num(obj: dict, key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _text(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _list(obj: Any, key: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _profile_v11(user: dict) -> Profile:
    created = user.get("created_at")
    try:
        created_ts = parse_v11_time(created) if created is not None else None
    except DecodeError:
        created_ts = None
    return Profile(
        statuses=_num(user, "statuses_count"),
        followers=_num(user, "followers_count"),
        friends=_num(user, "friends_count"),
        favourites=_num(user, "favourites_count"),
        listed=_num(user, "listed_count"),
        default_profile=_num(user, "default_profile"),
        background_image=_num(user, "profile_use_background_image"),
        verified=_num(user, "verified"),
        created_at=created_ts,
        screen_name=_text(user, "screen_name"),
        name=_text(user, "name"),
        description=_text(user, "description"),
    )


def _url_of(entity: Any) -> str | None:
    if not isinstance(entity, dict):
        return None
    url = entity.get("expanded_url") or entity.get("unwound_url") or entity.get("url")
    return url if isinstance(url, str) else None


def _from_v11(obj: dict) -> Tweet:
    user = obj.get("user")
    if not isinstance(user, dict):
        raise DecodeError("missing_field" if user is None else "bad_type", "v1.1 tweet has no user object")
    tweet_id = _require_str(obj, "id_str", "tweet") if obj.get("id_str") else _require_str(obj, "id", "tweet")
    account_id = _require_str(user, "id_str", "user") if user.get("id_str") else _require_str(user, "id", "user")
    if "created_at" not in obj:
        raise DecodeError("missing_field", "tweet.created_at is missing")
    ts = _check_time(parse_v11_time(obj["created_at"]), "created_at")

    extended = obj.get("extended_tweet") if isinstance(obj.get("extended_tweet"), dict) else None
    body = extended or obj
    text = _text(body, "full_text") or _text(obj, "full_text") or _text(obj, "text") or ""
    entities = body.get("entities") if isinstance(body.get("entities"), dict) else {}
    urls = tuple(u for u in map(_url_of, _list(entities, "urls")) if u)
    source = _text(obj, "source") or ""
    if source.startswith("<a"):  # v1.1 sends an HTML anchor; the client is its text
        source = source.rpartition("</a>")[0].rpartition(">")[2]
    return Tweet(
        tweet_id=tweet_id,
        account_id=account_id,
        ts=ts,
        text=text,
        urls=urls,
        mentions=len(_list(entities, "user_mentions")),
        hashtags=len(_list(entities, "hashtags")),
        is_retweet=isinstance(obj.get("retweeted_status"), dict),
        is_reply=bool(obj.get("in_reply_to_status_id_str") or obj.get("in_reply_to_status_id")),
        is_quote=isinstance(obj.get("quoted_status"), dict) or bool(obj.get("is_quote_status")),
        source=source,
        profile=_profile_v11(user),
    )


def _profile_v2(user: dict) -> Profile:
    metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
    created = user.get("created_at")
    try:
        created_ts = parse_iso_time(created) if created is not None else None
    except DecodeError:
        created_ts = None
    return Profile(
        statuses=_num(metrics, "tweet_count"),
        followers=_num(metrics, "followers_count"),
        friends=_num(metrics, "following_count"),
        favourites=_num(metrics, "like_count"),
        listed=_num(metrics, "listed_count"),
        default_profile=None,
        background_image=None,
        verified=_num(user, "verified"),
        created_at=created_ts,
        screen_name=_text(user, "username"),
        name=_text(user, "name"),
        description=_text(user, "description"),
    )


def _from_v2_item(data: dict, users: dict[str, dict]) -> Tweet:
    tweet_id = _require_str(data, "id", "data")
    account_id = _require_str(data, "author_id", "data")
    if "created_at" not in data:
        raise DecodeError("missing_field", "data.created_at is missing")
    ts = _check_time(parse_iso_time(data["created_at"]), "data.created_at")
    entities = data.get("entities") if isinstance(data.get("entities"), dict) else {}
    refs = {r.get("type") for r in _list(data, "referenced_tweets") if isinstance(r, dict)}
    user = users.get(account_id)
    return Tweet(
        tweet_id=tweet_id,
        account_id=account_id,
        ts=ts,
        text=_text(data, "text") or "",
        urls=tuple(u for u in map(_url_of, _list(entities, "urls")) if u),
        mentions=len(_list(entities, "mentions")),
        hashtags=len(_list(entities, "hashtags")),
        is_retweet="retweeted" in refs,
        is_reply="replied_to" in refs,
        is_quote="quoted" in refs,
        source=_text(data, "source") or "",
        profile=_profile_v2(user) if user is not None else None,
    )


def _from_v2(obj: dict) -> list[Tweet]:
    includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
    users = {str(u.get("id")): u for u in _list(includes, "users") if isinstance(u, dict)}
    data = obj["data"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise DecodeError("missing_field", "v2 response has an empty data list")
    for item in items:
        if not isinstance(item, dict):
            raise DecodeError("bad_type", f"v2 data item must be an object, got {type(item).__name__}")
    return [_from_v2_item(item, users) for item in items]


def _from_compact(obj: dict) -> Tweet:
    user = obj.get("user")
    if user is not None and not isinstance(user, dict):
        raise DecodeError("bad_type", "compact event: user must be an object")
    urls = obj.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise DecodeError("bad_type", "compact event: urls must be a list of strings")
    counts = {}
    for key in ("mentions", "hashtags"):
        value = obj.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DecodeError("bad_type", f"compact event: {key} must be a non-negative integer")
        counts[key] = value
    return Tweet(
        tweet_id=_require_str(obj, "id", "event"),
        account_id=_require_str(obj, "account_id", "event"),
        ts=_check_time(parse_iso_time(obj["ts"]), "ts"),
        text=_text(obj, "text") or "",
        urls=tuple(urls),
        mentions=counts["mentions"],
        hashtags=counts["hashtags"],
        is_retweet=obj.get("retweet") is True,
        is_reply=obj.get("reply") is True,
        is_quote=obj.get("quote") is True,
        source=_text(obj, "source") or "",
        profile=_profile_v11(user) if user is not None else None,
    )


def _loads(raw: bytes, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise DecodeError("too_large", f"message of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise DecodeError("not_json", f"not valid UTF-8 JSON: {str(e)[:200]}") from None


def decode_tweets(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Tweet]:
    """Decode one message of the tweets topic into its tweets (a v2 response may hold several)."""
    if raw is None:
        raise DecodeError("not_json", "message has no value (tombstone)")
    obj = _loads(raw, max_bytes)
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"top level is a JSON {type(obj).__name__}, not an object")
    if "data" in obj:
        return _from_v2(obj)
    if "account_id" in obj and "ts" in obj:
        return [_from_compact(obj)]
    if "user" in obj or "created_at" in obj:
        return [_from_v11(obj)]
    raise DecodeError("unknown_format", "neither a v1.1 tweet, a v2 item nor a compact event")


def decode_label(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Label:
    """Decode one message of the labels topic."""
    if raw is None:
        raise DecodeError("not_json", "message has no value (tombstone)")
    obj = _loads(raw, max_bytes)
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"top level is a JSON {type(obj).__name__}, not an object")
    account_id = _require_str(obj, "account_id", "label")
    verdict = obj.get("label")
    if verdict not in ("bot", "human"):
        raise DecodeError("bad_type", f"label.label must be 'bot' or 'human', got {str(verdict)[:40]!r}")
    if "ts" not in obj:
        raise DecodeError("missing_field", "label.ts is missing")
    ts = _check_time(parse_iso_time(obj["ts"]), "label.ts")
    source = obj.get("source")
    return Label(account_id, verdict == "bot", ts, source if isinstance(source, str) else "review")
