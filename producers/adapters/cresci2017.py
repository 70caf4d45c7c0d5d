"""The Cresci-2017 release ("The paradigm-shift of social spambots", WWW 2017) as v1.1 tweets.

Layout
------
The release unpacks into one folder per group, named like the group with a
``.csv`` suffix, each holding ``users.csv`` and (for most groups) ``tweets.csv``::

    genuine_accounts.csv/          users.csv  tweets.csv     -> human
    social_spambots_1.csv/ ..._3   users.csv  tweets.csv     -> bot
    traditional_spambots_1.csv/    users.csv  tweets.csv     -> bot
    traditional_spambots_2.csv/ ..._4  users.csv (no tweets) -> bot
    fake_followers.csv/            users.csv  tweets.csv     -> bot

``genuine_accounts`` are humans; every other group is bots. Folders without
the ``.csv`` suffix are accepted too; other folders are ignored.

``users.csv`` columns used (the release's names): ``id``, ``name``,
``screen_name``, ``statuses_count``, ``followers_count``, ``friends_count``,
``favourites_count``, ``listed_count``, ``url``, ``lang``, ``time_zone``,
``location``, ``default_profile``, ``default_profile_image``,
``geo_enabled``, ``profile_image_url``, ``profile_use_background_image``,
``description``, ``created_at``, ``verified``, ``protected``.

``tweets.csv`` columns used: ``id``, ``text``, ``source``, ``user_id``,
``in_reply_to_status_id``, ``in_reply_to_user_id``,
``in_reply_to_screen_name``, ``retweeted_status_id``, ``retweet_count``,
``reply_count``, ``favorite_count``, ``possibly_sensitive``,
``num_hashtags``, ``num_urls``, ``num_mentions``, ``created_at``
(``Fri May 01 00:18:11 +0000 2015``) and, where ``created_at`` is empty or
malformed, ``timestamp`` (``2015-05-01 00:18:11``, taken as UTC).

Conversion
----------
Each tweet row becomes a v1.1 tweet object carrying its author's user object
from ``users.csv``. The CSV has counts of hashtags, URLs and mentions but not
the entities themselves: entities are taken from the text (``#tag``,
``http(s)://...``, ``@name``) and padded to the ``num_*`` counts where those
are larger. In the CSV, ``0`` or empty means "none" for the reply and retweet
ids; a retweet (``retweeted_status_id`` set) gets a ``retweeted_status``
holding the text after ``RT @name:``. Rows whose author is not in
``users.csv``, or whose time cannot be read, are skipped and counted.

Example
-------
>>> row = {"id": "5", "text": "RT @bob: win #prize http://t.co/x", "user_id": "7", "retweeted_status_id": "9",
...        "created_at": "Fri May 01 00:18:11 +0000 2015", "num_urls": "1", "num_hashtags": "1", "num_mentions": "1"}
>>> tweet = tweet_of(row, {"id": 7, "id_str": "7"}, 1430439491.0)
>>> tweet["retweeted_status"]["text"], [u["url"] for u in tweet["entities"]["urls"]]
('win #prize http://t.co/x', ['http://t.co/x'])
"""

from __future__ import annotations

import csv
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import orjson

from consumer.decode import DecodeError, parse_v11_time
from producers.adapters import ConvertError, Dataset, SortedLog
from producers.records import v11_time

GROUPS = ("genuine_accounts", "social_spambots", "traditional_spambots", "fake_followers")
_GROUP = re.compile(r"^(genuine_accounts|social_spambots_\d+|traditional_spambots_\d+|fake_followers)(\.csv)?$")
_URL = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@(\w+)")
_RT = re.compile(r"^RT @(\w+):\s*")
_COUNTS = ("statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count")
_FLAGS = ("default_profile", "default_profile_image", "geo_enabled", "profile_use_background_image", "verified",
          "protected")
_TEXTS = ("name", "screen_name", "url", "lang", "time_zone", "location", "profile_image_url", "description")

csv.field_size_limit(sys.maxsize)


def _id(value: str | None) -> str | None:
    """An id column as text: ``''``, ``0``, ``NULL`` mean none; ``123L`` and ``123.0`` are ``123``."""
    if value is None:
        return None
    value = value.strip().rstrip("L")
    if value.endswith(".0"):
        value = value[:-2]
    if not value or value in ("0", "NULL", "NaN") or not value.isdigit():
        return None
    return value


def _int(value: str | None) -> int:
    try:
        return int(float((value or "").strip().rstrip("L") or 0))
    except ValueError:
        return 0


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "t", "yes")


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "NULL") else value


def _time(row: dict) -> float | None:
    created = (row.get("created_at") or "").strip()
    if created:
        try:
            return parse_v11_time(created)
        except DecodeError:
            pass
    stamp = (row.get("timestamp") or "").strip()
    if stamp:
        try:
            return datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            pass
    return None


def user_of(row: dict) -> dict | None:
    """A ``users.csv`` row as a v1.1 user object; None without an id."""
    account = _id(row.get("id"))
    if account is None:
        return None
    user: dict = {"id": int(account), "id_str": account}
    for key in _TEXTS:
        user[key] = _text(row.get(key))
    for key in _COUNTS:
        user[key] = _int(row.get(key))
    for key in _FLAGS:
        user[key] = _flag(row.get(key))
    created = _time({"created_at": row.get("created_at"), "timestamp": row.get("timestamp")})
    user["created_at"] = v11_time(created) if created is not None else None
    return user


def _entities(text: str, row: dict) -> dict:
    urls = _URL.findall(text)
    hashtags = _HASHTAG.findall(text)
    mentions = _MENTION.findall(text)
    # pad to the CSV's counts: entities the text no longer shows (cut or expanded media) still count
    urls += ["https://t.co/"] * max(0, _int(row.get("num_urls")) - len(urls))
    hashtags += [""] * max(0, _int(row.get("num_hashtags")) - len(hashtags))
    mentions += [""] * max(0, _int(row.get("num_mentions")) - len(mentions))
    return {"urls": [{"url": u, "expanded_url": u} for u in urls],
            "hashtags": [{"text": h} for h in hashtags],
            "user_mentions": [{"screen_name": m} for m in mentions]}


def tweet_of(row: dict, user: dict, ts: float) -> dict:
    """A ``tweets.csv`` row as a v1.1 tweet object by ``user`` at ``ts``."""
    text = row.get("text") or ""
    tweet_id = _id(row.get("id")) or ""
    entities = _entities(text, row)
    tweet = {
        "created_at": v11_time(ts),
        "id": int(tweet_id) if tweet_id else None,
        "id_str": tweet_id,
        "text": text,
        "source": row.get("source") or "",
        "user": user,
        "entities": entities,
        "in_reply_to_status_id_str": _id(row.get("in_reply_to_status_id")),
        "in_reply_to_user_id_str": _id(row.get("in_reply_to_user_id")),
        "in_reply_to_screen_name": _text(row.get("in_reply_to_screen_name")),
        "retweet_count": _int(row.get("retweet_count")),
        "reply_count": _int(row.get("reply_count")),
        "favorite_count": _int(row.get("favorite_count")),
        "possibly_sensitive": _flag(row.get("possibly_sensitive")),
    }
    retweeted = _id(row.get("retweeted_status_id"))
    if retweeted is not None:
        match = _RT.match(text)
        original = text[match.end():] if match else text
        tweet["retweeted_status"] = {"id_str": retweeted, "text": original, "entities": _entities(original, {}),
                                     "user": {"screen_name": match.group(1) if match else None}}
    return tweet


def _rows(path: Path):
    """CSV rows as dicts; NUL bytes (present in the release) dropped, undecodable bytes replaced."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        yield from csv.DictReader(line.replace("\0", "") for line in f)


def group_folders(root: str) -> list[tuple[Path, str]]:
    """``(folder, class)`` of every group folder under ``root``, in name order."""
    folders = []
    for entry in sorted(Path(root).iterdir()):
        match = _GROUP.match(entry.name)
        if entry.is_dir() and match:
            folders.append((entry, "human" if match.group(1) == "genuine_accounts" else "bot"))
    if not folders:
        raise ConvertError(f"{root}: no Cresci-2017 group folders (genuine_accounts.csv/, social_spambots_1.csv/, "
                           "traditional_spambots_1.csv/, fake_followers.csv/, ...)")
    return folders


def read_dataset(root: str, tweets: SortedLog) -> Dataset:
    """Every group's users and tweets under ``root``."""
    if not os.path.isdir(root):
        raise ConvertError(f"{root}: the Cresci-2017 input is a directory of group folders")
    dataset = Dataset(tweets)
    for folder, cls in group_folders(root):
        users_csv = folder / "users.csv"
        if not users_csv.is_file():
            raise ConvertError(f"{folder}: users.csv is missing")
        users: dict[str, dict] = {}
        for row in _rows(users_csv):
            user = user_of(row)
            if user is None:
                dataset.skip("users without an id")
                continue
            users[user["id_str"]] = user
            dataset.classes[user["id_str"]] = cls
        tweets_csv = folder / "tweets.csv"
        if not tweets_csv.is_file():
            continue  # traditional_spambots_2..4 come without tweets
        dumps = orjson.dumps
        for row in _rows(tweets_csv):
            user = users.get(_id(row.get("user_id")) or "")
            if user is None:
                dataset.skip("tweets by accounts not in users.csv")
                continue
            if _id(row.get("id")) is None:
                dataset.skip("tweets without an id")
                continue
            ts = _time(row)
            if ts is None:
                dataset.skip("tweets without a readable time")
                continue
            dataset.add_tweet(user["id_str"], ts, dumps(tweet_of(row, user, ts)))
    return dataset
