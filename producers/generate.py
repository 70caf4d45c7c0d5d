"""Synthetic tweet traffic: humans and spam bots, with delayed review labels.

Humans tweet irregularly (exponential gaps, more by day than by night), from
one or two phone or web clients, with organic text, few URLs, replies and
mentions. Spam bots tweet often and regularly (a fixed period with a little
jitter), from automation clients, with templated advertising text and a URL in
almost every tweet; their profiles follow many and are followed by few.

A ``label_fraction`` of accounts receive a review label ``label_delay``
seconds of event time after their first tweet. Everything is drawn from one
seeded generator, so the same options give the same stream.

Example
-------
>>> stream = Generator(accounts=10, tweets=50, seed=1)
>>> events = list(stream.events())
>>> sum(1 for e in events if e.topic == "tweets")
50
>>> events == list(Generator(accounts=10, tweets=50, seed=1).events())
True
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import orjson

START_TS = 1709251200.0  # 2024-03-01T00:00:00Z
TWITTER_EPOCH_MS = 1288834974657

_WORDS = (
    "morning coffee game tonight great love this weekend family friends work music new song watching "
    "movie really think about today happy birthday thanks everyone dinner pizza weather rain sunny "
    "school kids dog walk park running gym tired lunch meeting project finally done reading book "
    "news crazy season team win lost match vote city traffic train late early sleep dream trip beach"
).split()
_PRODUCTS = ("crypto signals", "followers", "designer watches", "diet pills", "phone cases", "VPN deals", "casino bonus")
_TEMPLATES = (
    "Get {p} now at {n}% off!!! Limited offer {u}",
    "BEST {p} deal of the year, {n}% discount -> {u}",
    "Want {p}? Click here {u} only today {n}% off",
    "{n}% OFF {p} - free shipping worldwide {u}",
)
_HUMAN_CLIENTS = ("Twitter for iPhone", "Twitter for Android", "Twitter Web App", "Twitter for iPad")
_BOT_CLIENTS = ("dlvr.it", "SpamPoster 2.1", "IFTTT", "Buffer")
_SPAM_DOMAINS = ("bit.ly", "deal-shop.biz", "cheap-stuff.top", "promo-now.xyz")
_NEWS_DOMAINS = ("nytimes.com", "bbc.co.uk", "youtube.com", "instagram.com", "github.com")
_FIRST = ("anna", "ben", "carla", "dave", "emma", "frank", "grace", "henry", "ivy", "jack", "kate", "liam", "mia", "noah")
_LAST = ("smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green", "hall")


def v11_time(ts: float) -> str:
    """Epoch seconds as Twitter API v1.1's ``created_at``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%a %b %d %H:%M:%S +0000 %Y")


@dataclass(frozen=True)
class Record:
    """One message to send: its topic kind (``tweets`` or ``labels``), key, value and event time."""

    topic: str
    key: bytes
    value: bytes
    ts: float


@dataclass
class _Account:
    id: str
    is_bot: bool
    user: dict
    rate_per_s: float
    clients: tuple[str, ...]
    template: int


class Generator:
    """A seeded stream of v1.1 tweets and review labels, in event-time order.

    Parameters
    ----------
    accounts
        How many accounts tweet.
    tweets
        How many tweets to emit in all.
    bot_fraction
        Share of accounts that are spam bots.
    label_fraction
        Share of accounts that get a review label.
    label_delay
        Seconds of event time from an account's first tweet to its label.
    seed
        Seed of everything random.
    """

    def __init__(self, accounts: int = 500, tweets: int = 20000, bot_fraction: float = 0.2,
                 label_fraction: float = 0.3, label_delay: float = 6 * 3600.0, seed: int = 7):
        self.n_accounts = accounts
        self.n_tweets = tweets
        self.bot_fraction = bot_fraction
        self.label_fraction = label_fraction
        self.label_delay = label_delay
        self.seed = seed
        self.rng = random.Random(seed)
        self.accounts = [self._account(i) for i in range(accounts)]
        self._is_bot = {a.id: a.is_bot for a in self.accounts}

    @property
    def truth(self) -> dict[str, str]:
        """account id -> ``bot`` or ``human`` for every simulated account."""
        return {a.id: "bot" if a.is_bot else "human" for a in self.accounts}

    def _account(self, i: int) -> _Account:
        rng = self.rng
        is_bot = rng.random() < self.bot_fraction
        account_id = str(10_000_000 + i * 7919)
        age_days = rng.uniform(5, 120) if is_bot else rng.uniform(200, 4000)
        if is_bot:
            screen = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(8, 15)))
            name = screen.upper()[:6] + str(rng.randint(10, 999))
            followers, friends = rng.randint(0, 60), rng.randint(500, 5000)
            description = "" if rng.random() < 0.6 else "Best deals online"
            rate_per_day = rng.uniform(30, 80)
        else:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            screen = first + rng.choice(("", "_", ".")).replace(".", "") + last + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")
            name = f"{first.title()} {last.title()}"
            followers = int(rng.lognormvariate(5, 1.5))
            friends = int(rng.lognormvariate(5, 1.0))
            description = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 20)))
            rate_per_day = rng.lognormvariate(math.log(8), 0.6)
        created = START_TS - age_days * 86400
        user = {
            "id": int(account_id),
            "id_str": account_id,
            "name": name,
            "screen_name": screen,
            "description": description,
            "created_at": v11_time(created),
            "followers_count": followers,
            "friends_count": friends,
            "statuses_count": int(rate_per_day * age_days * rng.uniform(0.5, 1.5)),
            "favourites_count": int((0.5 if is_bot else rng.uniform(1, 20)) * age_days),
            "listed_count": 0 if is_bot else int(rng.lognormvariate(1, 1)),
            "verified": (not is_bot) and rng.random() < 0.02,
            "default_profile": is_bot and rng.random() < 0.8 or (not is_bot and rng.random() < 0.2),
            "profile_use_background_image": not is_bot or rng.random() < 0.3,
        }
        clients = (rng.choice(_BOT_CLIENTS),) if is_bot else tuple(rng.sample(_HUMAN_CLIENTS, rng.randint(1, 2)))
        return _Account(account_id, is_bot, user, rate_per_day / 86400.0, clients, rng.randrange(len(_TEMPLATES)))

    def _gap(self, a: _Account) -> float:
        rng = self.rng
        if a.is_bot:  # regular: a fixed period with 5% jitter
            return (1.0 / a.rate_per_s) * rng.uniform(0.95, 1.05)
        return rng.expovariate(a.rate_per_s)

    def _tweet(self, a: _Account, ts: float, seq: int) -> dict:
        rng = self.rng
        urls, mentions, hashtags = [], [], []
        reply = retweet = False
        if a.is_bot:
            domain = rng.choice(_SPAM_DOMAINS)
            url = f"https://{domain}/{rng.randrange(10**6):x}"
            text = _TEMPLATES[a.template].format(p=rng.choice(_PRODUCTS), n=rng.choice((30, 50, 70, 90)), u=url)
            if rng.random() < 0.95:
                urls.append({"url": url, "expanded_url": url})
            if rng.random() < 0.3:
                hashtags.append({"text": "deal"})
        else:
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 25)))
            if rng.random() < 0.1:
                url = f"https://{rng.choice(_NEWS_DOMAINS)}/{rng.randrange(10**6):x}"
                urls.append({"url": url, "expanded_url": url})
                text += " " + url
            if rng.random() < 0.3:
                mentions.append({"screen_name": rng.choice(_FIRST), "id_str": str(rng.randrange(10**8))})
            if rng.random() < 0.15:
                hashtags.append({"text": rng.choice(_WORDS)})
            reply = rng.random() < 0.2
            retweet = not reply and rng.random() < 0.15
        tweet_id = ((int(ts * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF)
        user = dict(a.user)
        user["statuses_count"] += seq
        tweet = {
            "created_at": v11_time(ts),
            "id": tweet_id,
            "id_str": str(tweet_id),
            "text": text,
            "source": f'<a href="https://example.invalid" rel="nofollow">{rng.choice(a.clients)}</a>',
            "user": user,
            "entities": {"hashtags": hashtags, "urls": urls, "user_mentions": mentions},
            "in_reply_to_status_id_str": str(tweet_id - 12345) if reply else None,
            "lang": "en",
        }
        if retweet:
            tweet["retweeted_status"] = {"id_str": str(tweet_id - 999), "text": text}
        return tweet

    def events(self) -> Iterator[Record]:
        """Tweets and labels, merged by event time."""
        rng = self.rng
        total_rate = sum(a.rate_per_s for a in self.accounts)
        span = self.n_tweets / total_rate
        heap = [(START_TS + rng.uniform(0, min(span, 1.0 / a.rate_per_s)), i) for i, a in enumerate(self.accounts)]
        heapq.heapify(heap)
        labelled = {a.id for a in self.accounts if rng.random() < self.label_fraction}
        labels: list[tuple[float, str]] = []
        seen: set[str] = set()
        emitted = 0
        while emitted < self.n_tweets:
            ts, i = heapq.heappop(heap)
            while labels and labels[0][0] <= ts:
                yield self._label(*heapq.heappop(labels))
            a = self.accounts[i]
            if a.id not in seen:
                seen.add(a.id)
                if a.id in labelled:
                    heapq.heappush(labels, (ts + self.label_delay, a.id))
            yield Record("tweets", a.id.encode(), orjson.dumps(self._tweet(a, ts, emitted)), ts)
            emitted += 1
            heapq.heappush(heap, (ts + self._gap(a), i))
        last = ts
        while labels and labels[0][0] <= last + self.label_delay:
            yield self._label(*heapq.heappop(labels))

    def _label(self, ts: float, account_id: str) -> Record:
        verdict = "bot" if self._is_bot[account_id] else "human"
        value = {"account_id": account_id, "label": verdict, "ts": ts, "source": "review"}
        return Record("labels", account_id.encode(), orjson.dumps(value), ts)


def run(settings) -> int:
    """``botwatch generate``: the stream to Kafka, paced by ``--rate``; Ctrl-C stops it cleanly."""
    import signal
    import sys

    from producers.kafka_sink import send

    gen = Generator(settings.accounts, settings.tweets, settings.bot_fraction, settings.label_fraction,
                    settings.label_delay, settings.seed)
    if settings.truth_out:
        with open(settings.truth_out, "w") as f:
            f.write("account_id,label\n")
            f.writelines(f"{aid},{label}\n" for aid, label in gen.truth.items())
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    counts = send(gen.events(), settings.client_config(),
                  {"tweets": settings.tweets_topic, "labels": settings.labels_topic},
                  rate=settings.rate, stop=lambda: bool(stopping))
    print(f"sent {counts['tweets']} tweets and {counts['labels']} labels", file=sys.stderr)
    return 0
