"""The internal event every input format normalises to, and the label record.

Decoders (:mod:`consumer.decode`) build these; the features
(:mod:`consumer.features`) read them. Nothing here knows about Kafka or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Profile:
    """The author's profile as carried in the tweet; any field may be unknown (``None``).

    Counts are as of the tweet's time. ``default_profile``, ``background_image``
    and ``verified`` are 0.0 or 1.0. ``created_at`` is the account's creation
    time in epoch seconds.
    """

    statuses: float | None = None
    followers: float | None = None
    friends: float | None = None
    favourites: float | None = None
    listed: float | None = None
    default_profile: float | None = None
    background_image: float | None = None
    verified: float | None = None
    created_at: float | None = None  # epoch seconds
    screen_name: str | None = None
    name: str | None = None
    description: str | None = None


@dataclass(slots=True)
class Tweet:
    """One tweet, whatever format it arrived in.

    ``ts`` is the event time in epoch seconds, taken from the payload, never
    from the clock. ``text`` is the tweet's own displayed text, HTML-unescaped
    (for a retweet: the retweeted tweet's full text); ``""`` means no text is
    known, and text features then skip the tweet. ``urls`` are the expanded
    link targets. ``source`` is the client's name (``""``: unknown).
    ``profile`` is ``None`` when the payload carries no user object.
    """

    tweet_id: str
    account_id: str
    ts: float
    text: str = ""
    urls: tuple[str, ...] = ()
    mentions: int = 0
    hashtags: int = 0
    is_retweet: bool = False
    is_reply: bool = False
    is_quote: bool = False
    source: str = ""
    profile: Profile | None = None


@dataclass(slots=True)
class Label:
    """A human review verdict: ``is_bot`` for account ``account_id`` at time ``ts``."""

    account_id: str
    is_bot: bool
    ts: float
    source: str = "review"
