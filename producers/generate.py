"""Synthetic tweet traffic: humans and five bot families, with delayed review labels.

Families
--------
Every account belongs to one family. ``bot_fraction`` of the accounts are bots,
split between the bot families by ``mix``; the rest are humans. Each family's
``rates`` entry is the mean tweets per account per day; accounts vary around
it, and the family's accounts are scaled so that their mean is exactly the
configured rate.

``human`` (10 tweets/day)
    Irregular timing: a Poisson process whose intensity follows the hour of
    the day in the account's own time zone (peak 17:00, trough 05:00). One or
    two phone or web clients. Organic text, a few news URLs, replies,
    mentions, retweets and the occasional trending hashtag. Profiles are old,
    with realistic follower and friend counts.
``spam`` (55 tweets/day) — spam bots
    High and regular rate (a fixed period, 5% jitter), one automation client,
    templated advertising text with a URL to a spam domain in 95% of tweets.
    Young accounts with random screen names, following many, followed by few.
``amplifier`` (80 tweets/day) — retweet / amplification bots
    Bursty: 70% of gaps are 2-30 s, the rest long pauses. 90% of tweets are
    retweets of a handful of promoted accounts, with the mention a retweet
    carries and often their URL. Thin profiles.
``hashtag`` (40 tweets/day) — hashtag hijackers
    Regular rate (10% jitter). Advertising text unrelated to the 3-6 trending
    hashtags it is stuffed with (the same tags humans use that day), a URL in
    70% of tweets.
``fake_follower`` (0.5 tweets/day) — fake followers
    Sparse activity (Poisson, no daily rhythm). Mostly retweets of celebrities
    or one-word texts, no URLs. Profiles skewed: following 800-5,000, followed
    by 0-30, default profile, no description, digits in the screen name.
``social`` (15 tweets/day) — social spambots
    Human-like: diurnal Poisson timing, human clients, names and profiles like
    humans'. Coordinated content: accounts come in campaigns of eight that
    post near-identical promotional messages with the campaign's hashtag and
    URL (35% of tweets) and retweet each other (15%); the rest is organic text.

Drift (``drift_at``)
--------------------
From tweet ``drift_at`` on (index in the tweet stream, 0-based), every bot
family changes behaviour while keeping its mean rate: spam bots put a URL in
30% of tweets instead of 95%, switch to new templates and tweet irregularly
(log-normal gaps, coefficient of variation 1.3); hashtag hijackers likewise
(URL 70% -> 20%, 1-2 hashtags, new templates, irregular gaps); amplifiers
turn half their retweets into quote tweets with a comment; social spambots
cut the URL from 80% to 30% of campaign posts and use new templates; fake
followers write more and retweet less. Humans do not change.

Command line
------------
``botwatch generate`` sends the stream to Kafka (``--rate`` tweets/s, 0: as
fast as possible; Kafka timestamp = event time, key = account id) or, with
``--out FILE``, writes tweets and labels into one JSONL file (gzip if the name
ends in ``.gz``) that ``botwatch replay`` and ``botwatch evaluate`` read.
``--format v1|v2|compact``, ``--drift-at N``, ``--truth-out CSV``,
``--families spam=0.5,social=0.5`` (the mix) and
``--family-rates human=12,spam=100`` (tweets per account per day).

Labels
------
A ``label_fraction`` of accounts receive a review label ``label_delay``
seconds of event time after their first tweet. Event times are whole seconds
(what a v1.1 ``created_at`` can carry), so every format gives the same times.
Everything is drawn from one seeded generator: the same options give the same
stream, byte for byte.

Example
-------
>>> stream = Generator(accounts=10, tweets=50, seed=1)
>>> events = list(stream.events())
>>> sum(1 for e in events if e.topic == "tweets")
50
>>> events == list(Generator(accounts=10, tweets=50, seed=1).events()) == list(stream.events())
True
>>> sorted(set(Generator(accounts=100, tweets=10, bot_fraction=0.5).families.values()))
['amplifier', 'fake_follower', 'hashtag', 'human', 'social', 'spam']
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Iterator

import orjson

from consumer.decode import parse_v11_time
from producers.records import Record, iso_time, v11_time

__all__ = ["Generator", "Record", "FAMILIES", "BOT_FAMILIES", "DEFAULT_MIX", "DEFAULT_RATES", "parse_mix",
           "parse_rates", "run", "v11_time"]

START_TS = 1709251200.0  # 2024-03-01T00:00:00Z
TWITTER_EPOCH_MS = 1288834974657
DAY = 86400.0

FAMILIES = ("human", "spam", "amplifier", "hashtag", "fake_follower", "social")
BOT_FAMILIES = FAMILIES[1:]
#: How bots split between the families unless told otherwise. Spam bots lead:
#: they are the first target, and the end-to-end test is tuned on them.
DEFAULT_MIX = {"spam": 0.5, "amplifier": 0.15, "hashtag": 0.15, "fake_follower": 0.1, "social": 0.1}
#: Mean tweets per account per day, per family.
DEFAULT_RATES = {"human": 10.0, "spam": 55.0, "amplifier": 80.0, "hashtag": 40.0, "fake_follower": 0.5, "social": 15.0}

_WORDS = (
    "morning coffee game tonight great love this weekend family friends work music new song watching "
    "movie really think about today happy birthday thanks everyone dinner pizza weather rain sunny "
    "school kids dog walk park running gym tired lunch meeting project finally done reading book "
    "news crazy season team win lost match vote city traffic train late early sleep dream trip beach"
).split()
_TRENDING = ("WorldCup", "Oscars", "Election2024", "MondayMotivation", "NBAFinals", "Eurovision", "BlackFriday",
             "TBT", "SuperBowl", "Wimbledon", "MetGala", "ClimateAction")
_PRODUCTS = ("crypto signals", "followers", "designer watches", "diet pills", "phone cases", "VPN deals", "casino bonus")
_TEMPLATES = (
    "Get {p} now at {n}% off!!! Limited offer {u}",
    "BEST {p} deal of the year, {n}% discount -> {u}",
    "Want {p}? Click here {u} only today {n}% off",
    "{n}% OFF {p} - free shipping worldwide {u}",
)
# after the drift: softer wording, the URL is optional (appended only when present)
_DRIFT_TEMPLATES = (
    "honestly these {p} changed my week, {n} percent cheaper than anywhere",
    "anyone else tried {p}? got mine for {n} less lol",
    "not an ad but {p} are worth it, dm me for the {n}% code",
    "friends keep asking where I get {p} - ask me, {n}% off this week",
)
_SOCIAL_TEMPLATES = (
    "Honestly loving {p}, everyone should try it {h}",
    "Can't believe how good {p} is, thank me later {h}",
    "{p} is the real deal, just saying {h}",
)
_SOCIAL_DRIFT_TEMPLATES = (
    "so my sister got me into {p} and wow {h}",
    "weekend plans: {p} and nothing else {h}",
    "ok {p} might be my new favourite thing {h}",
)
_AMP_COMMENTS = ("must see", "so true", "this!!", "wow", "check this out", "100%", "exactly")
_HUMAN_CLIENTS = ("Twitter for iPhone", "Twitter for Android", "Twitter Web App", "Twitter for iPad")
_BOT_CLIENTS = ("dlvr.it", "SpamPoster 2.1", "IFTTT", "Buffer")
_AMP_CLIENTS = ("RTBot", "Hootsuite", "TweetDeck")
_FAKE_CLIENTS = ("Twitter Web Client", "Mobile Web (M2)")
_SPAM_DOMAINS = ("bit.ly", "deal-shop.biz", "cheap-stuff.top", "promo-now.xyz")
_NEWS_DOMAINS = ("nytimes.com", "bbc.co.uk", "youtube.com", "instagram.com", "github.com")
_CAMPAIGN_DOMAINS = ("shop-smart.co", "goodvibes.store", "trendy-picks.net", "daily-finds.io")
_FIRST = ("anna", "ben", "carla", "dave", "emma", "frank", "grace", "henry", "ivy", "jack", "kate", "liam", "mia", "noah")
_LAST = ("smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green", "hall")
_CELEBS = ("katyperry", "justinbieber", "rihanna", "taylorswift13", "cristiano", "ladygaga", "elonmusk")
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# time-zone offsets (hours) of human-like accounts: most in the Americas and Europe
_TZ = (-8, -7, -6, -5, -5, -3, 0, 0, 1, 1, 2, 3, 5.5, 8, 9)


# ------------------------------------------------------------------ accounts


@dataclass
class _Draft:
    """A tweet's content before it is rendered in one of the three formats."""

    text: str
    client: str
    urls: list = field(default_factory=list)
    mentions: list = field(default_factory=list)  # (screen_name, id_str)
    hashtags: list = field(default_factory=list)
    kind: str | None = None  # None, "reply", "retweet" or "quote"
    ref: tuple | None = None  # (tweet id_str, user id_str, screen_name) of the replied/retweeted/quoted tweet
    # A retweet's text and entities are the original's, what it spreads: the v1.1 and v2 renderings put them
    # in the original (retweeted_status, includes.tweets) and prefix "RT @author: " to the retweet's own text.


@dataclass
class _Account:
    id: str
    family: "_Family"
    user: dict
    rate: float  # mean tweets per second
    clients: tuple[str, ...]
    tz: float = 0.0
    group: int = 0  # campaign (social) or target set (amplifier)
    template: int = 0
    tweets: int = 0  # tweets emitted so far
    v2_user: dict | None = None

    @property
    def is_bot(self) -> bool:
        return self.family.name != "human"


def _diurnal_next(rng: random.Random, t: float, rate: float, tz: float, amplitude: float) -> float:
    """Next event of a Poisson process whose intensity is ``rate * (1 + a cos(2pi (h - 17) / 24))``
    at local hour ``h``: exact by thinning, and the intensity averages ``rate`` over a day."""
    peak = rate * (1.0 + amplitude)
    while True:
        t += rng.expovariate(peak)
        hour = (t / 3600.0 + tz) % 24.0
        if rng.random() * (1.0 + amplitude) < 1.0 + amplitude * math.cos(2 * math.pi * (hour - 17.0) / 24.0):
            return t


def _irregular_gap(rng: random.Random, rate: float) -> float:
    """A log-normal gap with mean ``1 / rate`` and coefficient of variation 1.3 (drifted bots)."""
    return rng.lognormvariate(-0.5, 1.0) / rate


def _human_text(rng: random.Random) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(3, 25)))


def _trending(ts: float) -> tuple[str, ...]:
    """The five hashtags trending on ``ts``'s day (they rotate daily)."""
    day = int(ts // DAY)
    return tuple(_TRENDING[(day * 3 + k) % len(_TRENDING)] for k in range(5))


def _random_screen(rng: random.Random) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(rng.randint(8, 15)))


def _human_name(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    screen = first + rng.choice(("", "_")) + last + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")
    return screen, f"{first.title()} {last.title()}"


class _Family:
    """One kind of account: its profile, its timing and its content (see the module docstring)."""

    name = ""

    def rate_spread(self, rng: random.Random) -> float:
        """An account's rate relative to its family's (the family's accounts are rescaled to mean 1)."""
        return 1.0

    def profile(self, rng: random.Random, rate_per_day: float) -> tuple[dict, tuple[str, ...]]:
        raise NotImplementedError

    def first(self, rng: random.Random, a: _Account, start: float) -> float:
        """The first tweet's time: the process's stationary start, so the rate holds from ``start``."""
        return start + rng.uniform(0.0, 1.0 / a.rate)

    def next(self, rng: random.Random, a: _Account, t: float, drifted: bool) -> float:
        raise NotImplementedError

    def draft(self, gen: "Generator", a: _Account, ts: float, drifted: bool) -> _Draft:
        raise NotImplementedError


def _user(rng, screen, name, description, age_days, followers, friends, rate_per_day, favourites_per_day,
          listed, verified, default_profile, background) -> dict:
    return {
        "name": name,
        "screen_name": screen,
        "description": description,
        "created_at": v11_time(START_TS - age_days * DAY),
        "followers_count": followers,
        "friends_count": friends,
        "statuses_count": int(rate_per_day * age_days * rng.uniform(0.5, 1.5)),
        "favourites_count": int(favourites_per_day * age_days),
        "listed_count": listed,
        "verified": verified,
        "default_profile": default_profile,
        "profile_use_background_image": background,
    }


class _Human(_Family):
    name = "human"

    def rate_spread(self, rng):
        return rng.lognormvariate(0.0, 0.6)

    def profile(self, rng, rate_per_day):
        age = rng.uniform(200, 4000)
        screen, name = _human_name(rng)
        user = _user(rng, screen, name, " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 20))), age,
                     int(rng.lognormvariate(5, 1.5)), int(rng.lognormvariate(5, 1.0)), rate_per_day,
                     rng.uniform(1, 20), int(rng.lognormvariate(1, 1)), rng.random() < 0.02, rng.random() < 0.2, True)
        return user, tuple(rng.sample(_HUMAN_CLIENTS, rng.randint(1, 2)))

    def first(self, rng, a, start):
        return self.next(rng, a, start, False)  # Poisson: memoryless, stationary from the start

    def next(self, rng, a, t, drifted):
        return _diurnal_next(rng, t, a.rate, a.tz, 0.7)

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        d = _Draft(_human_text(rng), rng.choice(a.clients))
        if rng.random() < 0.1:
            url = f"https://{rng.choice(_NEWS_DOMAINS)}/{rng.randrange(10**6):x}"
            d.urls.append(url)
            d.text += " " + url
        if rng.random() < 0.3:
            d.mentions.append((rng.choice(_FIRST), str(rng.randrange(10**8))))
        if rng.random() < 0.15:
            d.hashtags.append(rng.choice(_trending(ts)) if rng.random() < 0.3 else rng.choice(_WORDS))
        if rng.random() < 0.2:
            d.kind, d.ref = "reply", (None, str(rng.randrange(10**8)), rng.choice(_FIRST))
        elif rng.random() < 0.15:
            d.kind, d.ref = "retweet", (None, str(rng.randrange(10**8)), rng.choice(_FIRST))
        return d


class _Spam(_Family):
    name = "spam"

    def rate_spread(self, rng):
        return rng.uniform(30, 80)  # the original generator's spread of 30-80 tweets/day

    def profile(self, rng, rate_per_day):
        screen = _random_screen(rng)
        user = _user(rng, screen, screen.upper()[:6] + str(rng.randint(10, 999)),
                     "" if rng.random() < 0.6 else "Best deals online", rng.uniform(5, 120),
                     rng.randint(0, 60), rng.randint(500, 5000), rate_per_day, 0.5, 0, False, rng.random() < 0.8,
                     rng.random() < 0.3)
        return user, (rng.choice(_BOT_CLIENTS),)

    def next(self, rng, a, t, drifted):
        if drifted:
            return t + _irregular_gap(rng, a.rate)
        return t + rng.uniform(0.95, 1.05) / a.rate  # regular: a fixed period with 5% jitter

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        url = f"https://{rng.choice(_SPAM_DOMAINS)}/{rng.randrange(10**6):x}"
        product, pct = rng.choice(_PRODUCTS), rng.choice((30, 50, 70, 90))
        if drifted:
            with_url = rng.random() < 0.3
            text = _DRIFT_TEMPLATES[a.template].format(p=product, n=pct) + (" " + url if with_url else "")
            d = _Draft(text, rng.choice(a.clients), [url] if with_url else [])
        else:
            text = _TEMPLATES[a.template].format(p=product, n=pct, u=url)
            d = _Draft(text, rng.choice(a.clients), [url] if rng.random() < 0.95 else [])
        if rng.random() < 0.3:
            d.hashtags.append("deal")
        return d


class _Amplifier(_Family):
    name = "amplifier"
    SHORT_SHARE, SHORT_LOW, SHORT_HIGH = 0.7, 2.0, 30.0

    def rate_spread(self, rng):
        return rng.uniform(0.6, 1.4)

    def profile(self, rng, rate_per_day):
        screen = rng.choice(("news", "daily", "best", "top", "viral")) + "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        user = _user(rng, screen, screen.title(), "" if rng.random() < 0.5 else "RT = endorsement",
                     rng.uniform(30, 400), rng.randint(10, 300), rng.randint(300, 2000), rate_per_day, 2.0, 0, False,
                     rng.random() < 0.6, rng.random() < 0.4)
        return user, (rng.choice(_AMP_CLIENTS),)

    def next(self, rng, a, t, drifted):
        # bursts: most gaps short, the rest long, with the mean gap still 1 / rate
        short_mean = (self.SHORT_LOW + self.SHORT_HIGH) / 2
        long_mean = (1.0 / a.rate - self.SHORT_SHARE * short_mean) / (1 - self.SHORT_SHARE)
        if long_mean <= 0:  # a rate too high for bursts: plain regular gaps
            return t + 1.0 / a.rate
        if rng.random() < self.SHORT_SHARE:
            return t + rng.uniform(self.SHORT_LOW, self.SHORT_HIGH)
        return t + rng.expovariate(1.0 / long_mean)

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        target_id, target = gen.promoted[(a.group + rng.randrange(3)) % len(gen.promoted)]
        url = f"https://{rng.choice(_SPAM_DOMAINS)}/{rng.randrange(10**6):x}"
        promo = _TEMPLATES[rng.randrange(len(_TEMPLATES))].format(p=rng.choice(_PRODUCTS), n=rng.choice((30, 50, 70)), u=url)
        ref = (str(rng.randrange(10**12)), target_id, target)
        if rng.random() >= 0.9:  # now and then a line of its own
            return _Draft(f"{rng.choice(_AMP_COMMENTS)} @{target}", rng.choice(a.clients), mentions=[(target, target_id)])
        if drifted and rng.random() < 0.5:
            return _Draft(f"{rng.choice(_AMP_COMMENTS)} {promo}", rng.choice(a.clients), [url] if rng.random() < 0.4 else [],
                          kind="quote", ref=ref)
        return _Draft(promo, rng.choice(a.clients), [url] if rng.random() < 0.6 else [], kind="retweet", ref=ref)


class _Hashtag(_Family):
    name = "hashtag"

    def rate_spread(self, rng):
        return rng.uniform(0.7, 1.3)

    def profile(self, rng, rate_per_day):
        screen = _random_screen(rng)
        user = _user(rng, screen, screen[:8].title(), "" if rng.random() < 0.5 else "Trending now",
                     rng.uniform(10, 300), rng.randint(20, 500), rng.randint(200, 3000), rate_per_day, 1.0, 0, False,
                     rng.random() < 0.7, rng.random() < 0.3)
        return user, (rng.choice(_BOT_CLIENTS),)

    def next(self, rng, a, t, drifted):
        if drifted:
            return t + _irregular_gap(rng, a.rate)
        return t + rng.uniform(0.9, 1.1) / a.rate

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        url = f"https://{rng.choice(_SPAM_DOMAINS)}/{rng.randrange(10**6):x}"
        product, pct = rng.choice(_PRODUCTS), rng.choice((20, 40, 60))
        trending = _trending(ts)
        if drifted:
            tags = rng.sample(trending, rng.randint(1, 2))
            with_url = rng.random() < 0.2
            text = _DRIFT_TEMPLATES[a.template].format(p=product, n=pct)
        else:
            tags = rng.sample(trending, rng.randint(3, 5)) + (["deal"] if rng.random() < 0.5 else [])
            with_url = rng.random() < 0.7
            text = _TEMPLATES[a.template].format(p=product, n=pct, u="").rstrip()
        text += (" " + url if with_url else "") + " " + " ".join("#" + t for t in tags)
        return _Draft(text, rng.choice(a.clients), [url] if with_url else [], hashtags=tags)


class _FakeFollower(_Family):
    name = "fake_follower"

    def rate_spread(self, rng):
        return rng.lognormvariate(0.0, 0.5)

    def profile(self, rng, rate_per_day):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        screen = first + last + "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 8)))
        user = _user(rng, screen, f"{first.title()} {last.title()}", "" if rng.random() < 0.9 else "hi",
                     rng.uniform(30, 900), rng.randint(0, 30), rng.randint(800, 5000), rate_per_day, 0.2, 0, False,
                     rng.random() < 0.9, rng.random() < 0.1)
        return user, (rng.choice(_FAKE_CLIENTS),)

    def first(self, rng, a, start):
        return self.next(rng, a, start, False)

    def next(self, rng, a, t, drifted):
        return t + rng.expovariate(a.rate)  # sparse and memoryless; drift keeps the timing

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        if rng.random() < (0.2 if drifted else 0.6):
            celeb = rng.choice(_CELEBS)
            return _Draft(" ".join(rng.choices(_WORDS, k=rng.randint(3, 10))), rng.choice(a.clients), kind="retweet",
                          ref=(None, str(rng.randrange(10**8)), celeb))
        return _Draft(" ".join(rng.choices(_WORDS, k=rng.randint(1, 3))), rng.choice(a.clients))


class _Social(_Family):
    name = "social"
    CAMPAIGN_SIZE = 8

    def rate_spread(self, rng):
        return rng.lognormvariate(0.0, 0.4)

    def profile(self, rng, rate_per_day):
        screen, name = _human_name(rng)
        user = _user(rng, screen, name, " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 15))),
                     rng.uniform(100, 1500), int(rng.lognormvariate(4.5, 1.2)), int(rng.lognormvariate(5.5, 0.8)),
                     rate_per_day, rng.uniform(1, 10), int(rng.lognormvariate(0.5, 1)), False, rng.random() < 0.3, True)
        return user, tuple(rng.sample(_HUMAN_CLIENTS, rng.randint(1, 2)))

    def first(self, rng, a, start):
        return self.next(rng, a, start, False)

    def next(self, rng, a, t, drifted):
        return _diurnal_next(rng, t, a.rate, a.tz, 0.5)

    def draft(self, gen, a, ts, drifted):
        rng = gen.rng
        product, tag, domain, members = gen.campaigns[a.group]
        u = rng.random()
        if u < 0.35:  # the campaign's message, near-identical across its accounts
            templates = _SOCIAL_DRIFT_TEMPLATES if drifted else _SOCIAL_TEMPLATES
            text = templates[rng.randrange(len(templates))].format(p=product, h="#" + tag)
            urls = []
            if rng.random() < (0.3 if drifted else 0.8):
                urls.append(f"https://{domain}/{product.replace(' ', '-')}")
                text += " " + urls[0]
            return _Draft(text, rng.choice(a.clients), urls, hashtags=[tag])
        if u < 0.5 and len(members) > 1:  # retweet a fellow campaign account
            mate = gen.accounts[rng.choice(members)]
            if mate.id != a.id:
                sn = mate.user["screen_name"]
                return _Draft(f"{product} #{tag}", rng.choice(a.clients), hashtags=[tag], kind="retweet",
                              ref=(None, mate.id, sn))
        d = _Draft(_human_text(rng), rng.choice(a.clients))
        if rng.random() < 0.3:
            d.mentions.append((rng.choice(_FIRST), str(rng.randrange(10**8))))
        return d


_FAMILY_OBJECTS: dict[str, _Family] = {f.name: f for f in (_Human(), _Spam(), _Amplifier(), _Hashtag(), _FakeFollower(), _Social())}


# ------------------------------------------------------------------ options


def _parse_pairs(text: str, what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in FAMILIES:
            raise ValueError(f"{what}: {part!r} is not family=number with a family among {', '.join(FAMILIES)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{what}: {value!r} in {part!r} is not a number") from None
        if out[name] < 0:
            raise ValueError(f"{what}: {part!r} is negative")
    return out


def parse_mix(text: str) -> dict[str, float]:
    """``spam=0.5,social=0.5`` as a normalised share of bots per bot family (unnamed families get none).

    >>> parse_mix("spam=3,social=1")
    {'spam': 0.75, 'amplifier': 0.0, 'hashtag': 0.0, 'fake_follower': 0.0, 'social': 0.25}
    >>> parse_mix("") == DEFAULT_MIX
    True
    """
    if not text.strip():
        return dict(DEFAULT_MIX)
    return normalise_mix(_parse_pairs(text, "families"))


def normalise_mix(shares: dict[str, float]) -> dict[str, float]:
    """Shares of bots per bot family, scaled to add up to 1; unknown families, humans or negatives refused."""
    unknown = set(shares) - set(BOT_FAMILIES)
    if unknown:
        raise ValueError(f"families: {', '.join(sorted(unknown))} not among the bot families {', '.join(BOT_FAMILIES)}"
                         + (" (humans are set by the bot fraction)" if "human" in unknown else ""))
    if any(v < 0 for v in shares.values()):
        raise ValueError("families: a share is negative")
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("families: the shares add up to 0")
    return {f: shares.get(f, 0.0) / total for f in BOT_FAMILIES}


def parse_rates(text: str) -> dict[str, float]:
    """``human=12,spam=100`` as tweets per account per day, over :data:`DEFAULT_RATES`.

    >>> parse_rates("spam=100")["spam"], parse_rates("spam=100")["human"]
    (100.0, 10.0)
    """
    rates = dict(DEFAULT_RATES)
    for name, value in _parse_pairs(text, "family-rates").items():
        if value <= 0:
            raise ValueError(f"family-rates: {name}={value} must be > 0")
        rates[name] = value
    return rates


def _apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` into integers (largest remainder), so the mix is exact."""
    raw = {k: total * v for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (counts[k] - raw[k], list(shares).index(k)))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


# ---------------------------------------------------------------- generator


class Generator:
    """A seeded stream of tweets and review labels, in event-time order.

    Parameters
    ----------
    accounts
        How many accounts tweet.
    tweets
        How many tweets to emit in all.
    bot_fraction
        Share of accounts that are bots (of any family).
    label_fraction
        Share of accounts that get a review label.
    label_delay
        Seconds of event time from an account's first tweet to its label.
    seed
        Seed of everything random.
    mix
        Share of the bots in each bot family (default :data:`DEFAULT_MIX`); normalised.
    rates
        Mean tweets per account per day for any family (default :data:`DEFAULT_RATES`).
    drift_at
        Index of the tweet from which bots change behaviour; -1: never.
    format
        ``v1`` (Twitter API v1.1), ``v2`` (Twitter API v2) or ``compact``.

    Example
    -------
    >>> g = Generator(accounts=20, tweets=5, bot_fraction=0.5, mix={"spam": 1.0}, format="compact", seed=3)
    >>> sorted(g.truth.values()).count("bot")
    10
    >>> first = next(g.events())
    >>> first.topic, sorted(orjson.loads(first.value))[:3]
    ('tweets', ['account_id', 'hashtags', 'id'])
    """

    def __init__(self, accounts: int = 500, tweets: int = 20000, bot_fraction: float = 0.2,
                 label_fraction: float = 0.3, label_delay: float = 6 * 3600.0, seed: int = 7, *,
                 mix: dict[str, float] | None = None, rates: dict[str, float] | None = None,
                 drift_at: int = -1, format: str = "v1"):
        if format not in ("v1", "v2", "compact"):
            raise ValueError(f"format {format!r}: expected v1, v2 or compact")
        self.n_accounts = accounts
        self.n_tweets = tweets
        self.bot_fraction = bot_fraction
        self.label_fraction = label_fraction
        self.label_delay = label_delay
        self.seed = seed
        self.mix = normalise_mix(mix) if mix else dict(DEFAULT_MIX)
        self.rates = {**DEFAULT_RATES, **(rates or {})}
        self.drift_at = drift_at
        self.format = format
        self.rng = random.Random(seed)
        rng = self.rng

        n_bots = int(accounts * bot_fraction + 0.5)
        counts = {"human": accounts - n_bots, **_apportion(n_bots, self.mix)}
        names = [f for f in FAMILIES for _ in range(counts[f])]
        rng.shuffle(names)
        spreads = [_FAMILY_OBJECTS[f].rate_spread(rng) for f in names]
        mean_spread = {f: sum(s for n, s in zip(names, spreads) if n == f) / counts[f] for f in FAMILIES if counts[f]}
        # amplifiers promote a fixed set of outside accounts; social spambots form campaigns of eight
        self.promoted = [(str(90_000_000 + k), f"promo_{w}") for k, w in enumerate(("deals", "crypto", "shop", "win", "vip", "gold"))]
        n_campaigns = max(1, math.ceil(counts["social"] / _Social.CAMPAIGN_SIZE))
        self.campaigns = [[rng.choice(_PRODUCTS), rng.choice(("LiveBetter", "GlowUp", "SmartMoney", "TryItNow")) + str(k),
                           rng.choice(_CAMPAIGN_DOMAINS), []] for k in range(n_campaigns)]
        self.accounts: list[_Account] = []
        social_seen = 0
        for i, (fam_name, spread) in enumerate(zip(names, spreads)):
            family = _FAMILY_OBJECTS[fam_name]
            rate_per_day = self.rates[fam_name] * spread / mean_spread[fam_name]
            user, clients = family.profile(rng, rate_per_day)
            account_id = str(10_000_000 + i * 7919)
            user = {"id": int(account_id), "id_str": account_id, **user}
            a = _Account(account_id, family, user, rate_per_day / DAY, clients, tz=rng.choice(_TZ),
                         group=rng.randrange(len(self.promoted)), template=rng.randrange(len(_TEMPLATES)))
            if fam_name == "social":
                a.group = social_seen // _Social.CAMPAIGN_SIZE
                self.campaigns[a.group][3].append(i)
                social_seen += 1
            self.accounts.append(a)
        self._render = {"v1": self._v1, "v2": self._v2, "compact": self._compact}[format]
        self._stream_state = rng.getstate()  # events() starts here every time: the stream is repeatable

    @property
    def truth(self) -> dict[str, str]:
        """account id -> ``bot`` or ``human`` for every simulated account."""
        return {a.id: "bot" if a.is_bot else "human" for a in self.accounts}

    @property
    def families(self) -> dict[str, str]:
        """account id -> family name (see the module docstring) for every simulated account."""
        return {a.id: a.family.name for a in self.accounts}

    # ------------------------------------------------------------ rendering

    def _v1(self, a: _Account, ts: int, tweet_id: int, d: _Draft) -> dict:
        user = dict(a.user)
        user["statuses_count"] += a.tweets
        entities = {
            "hashtags": [{"text": h} for h in d.hashtags],
            "urls": [{"url": u, "expanded_url": u} for u in d.urls],
            "user_mentions": [{"screen_name": s, "id_str": i} for s, i in d.mentions],
        }
        tweet = {
            "created_at": v11_time(ts),
            "id": tweet_id,
            "id_str": str(tweet_id),
            "text": d.text,
            "source": f'<a href="https://example.invalid" rel="nofollow">{d.client}</a>',
            "user": user,
            "entities": entities,
            "in_reply_to_status_id_str": None,
            "lang": "en",
        }
        if d.kind is not None:
            ref_id = d.ref[0] or str(tweet_id - 12345)
            ref_user = {"id_str": d.ref[1], "screen_name": d.ref[2]}
            if d.kind == "reply":
                tweet["in_reply_to_status_id_str"] = ref_id
                tweet["in_reply_to_user_id_str"] = d.ref[1]
                tweet["in_reply_to_screen_name"] = d.ref[2]
            elif d.kind == "retweet":
                tweet["text"] = f"RT @{d.ref[2]}: {d.text}"
                tweet["entities"] = {**entities, "user_mentions": [ref_user, *entities["user_mentions"]]}
                tweet["retweeted_status"] = {"id_str": ref_id, "text": d.text, "user": ref_user, "entities": entities}
            else:
                tweet["quoted_status"] = {"id_str": ref_id, "user": ref_user}
                tweet["is_quote_status"] = True
        return tweet

    def _v2(self, a: _Account, ts: int, tweet_id: int, d: _Draft) -> dict:
        if a.v2_user is None:
            u = a.user
            a.v2_user = {
                "id": a.id, "name": u["name"], "username": u["screen_name"], "description": u["description"],
                "created_at": iso_time(parse_v11_time(u["created_at"])),
                "verified": u["verified"], "protected": False,
                "public_metrics": {"followers_count": u["followers_count"], "following_count": u["friends_count"],
                                   "tweet_count": u["statuses_count"], "listed_count": u["listed_count"],
                                   "like_count": u["favourites_count"]},
            }
        user = dict(a.v2_user)
        user["public_metrics"] = {**user["public_metrics"], "tweet_count": a.user["statuses_count"] + a.tweets}
        entities = {}
        if d.urls:
            entities["urls"] = [{"url": x, "expanded_url": x} for x in d.urls]
        if d.hashtags:
            entities["hashtags"] = [{"tag": h} for h in d.hashtags]
        if d.mentions:
            entities["mentions"] = [{"username": s, "id": i} for s, i in d.mentions]
        text, original = d.text, None
        if d.kind == "retweet":
            original = {"id": d.ref[0] or str(tweet_id - 12345), "text": d.text, "author_id": d.ref[1]}
            if entities:
                original["entities"] = entities
            text = f"RT @{d.ref[2]}: {d.text}"
            entities = {**entities, "mentions": [{"username": d.ref[2], "id": d.ref[1]}, *entities.get("mentions", [])]}
        data = {"id": str(tweet_id), "text": text, "author_id": a.id, "created_at": iso_time(ts),
                "source": d.client, "lang": "en", "conversation_id": str(tweet_id),
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}}
        if entities:
            data["entities"] = entities
        if d.kind is not None:
            kind = {"reply": "replied_to", "retweet": "retweeted", "quote": "quoted"}[d.kind]
            data["referenced_tweets"] = [{"type": kind, "id": d.ref[0] or str(tweet_id - 12345)}]
            if d.kind == "reply":
                data["in_reply_to_user_id"] = d.ref[1]
        includes = {"users": [user]}
        if original is not None:
            includes["tweets"] = [original]
        return {"data": data, "includes": includes}

    def _compact(self, a: _Account, ts: int, tweet_id: int, d: _Draft) -> dict:
        user = {k: v for k, v in a.user.items() if k not in ("id", "id_str")}  # the account id is at the top
        user["statuses_count"] += a.tweets
        return {"id": str(tweet_id), "account_id": a.id, "ts": ts, "text": d.text, "urls": d.urls,
                "mentions": len(d.mentions), "hashtags": len(d.hashtags), "retweet": d.kind == "retweet",
                "reply": d.kind == "reply", "quote": d.kind == "quote", "source": d.client, "user": user}

    # ---------------------------------------------------------------- stream

    def events(self) -> Iterator[Record]:
        """Tweets and labels, merged by event time (whole seconds); the same stream on every call."""
        rng = self.rng
        rng.setstate(self._stream_state)
        accounts = self.accounts
        for a in accounts:
            a.tweets = 0
        heap = [(a.family.first(rng, a, START_TS), i) for i, a in enumerate(accounts)]
        heapq.heapify(heap)
        labelled = {a.id for a in accounts if rng.random() < self.label_fraction}
        labels: list[tuple[int, str]] = []
        seen: set[str] = set()
        render, dumps = self._render, orjson.dumps
        drift_at = self.drift_at if self.drift_at >= 0 else self.n_tweets
        emitted = 0
        while emitted < self.n_tweets and heap:
            t, i = heapq.heappop(heap)
            ts = int(t)  # what v1.1's created_at can carry; every format says the same time
            while labels and labels[0][0] <= ts:
                yield self._label(*heapq.heappop(labels))
            a = accounts[i]
            if a.id not in seen:
                seen.add(a.id)
                if a.id in labelled:
                    heapq.heappush(labels, (int(t + self.label_delay), a.id))
            drifted = emitted >= drift_at
            draft = a.family.draft(self, a, t, drifted)
            tweet_id = ((ts * 1000 - TWITTER_EPOCH_MS) << 22) | (emitted & 0x3FFFFF)
            yield Record("tweets", a.id.encode(), dumps(render(a, ts, tweet_id, draft)), float(ts))
            a.tweets += 1
            emitted += 1
            heapq.heappush(heap, (a.family.next(rng, a, t, drifted), i))
        while labels:
            yield self._label(*heapq.heappop(labels))

    def _label(self, ts: int, account_id: str) -> Record:
        verdict = "bot" if self._is_bot(account_id) else "human"
        value = {"account_id": account_id, "label": verdict, "ts": ts, "source": "review"}
        return Record("labels", account_id.encode(), orjson.dumps(value), float(ts))

    def _is_bot(self, account_id: str) -> bool:
        return self.accounts[(int(account_id) - 10_000_000) // 7919].is_bot


# ---------------------------------------------------------------- command


def generator_from(settings) -> Generator:
    """The :class:`Generator` that ``botwatch generate``'s options describe."""
    return Generator(settings.accounts, settings.tweets, settings.bot_fraction, settings.label_fraction,
                     settings.label_delay, settings.seed,
                     mix=parse_mix(settings.families),
                     rates=parse_rates(settings.family_rates),
                     drift_at=settings.drift_at, format=settings.format)


def run(settings) -> int:
    """``botwatch generate``: the stream to Kafka (paced by ``--rate``) or to ``--out FILE``; Ctrl-C stops it cleanly."""
    import signal
    import sys

    try:
        gen = generator_from(settings)
    except ValueError as e:
        print(f"botwatch generate: configuration error: {e}", file=sys.stderr)
        return 2
    if settings.truth_out:
        with open(settings.truth_out, "w") as f:
            f.write("account_id,label\n")
            f.writelines(f"{aid},{label}\n" for aid, label in gen.truth.items())
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    if settings.out:
        from producers.files import write_records

        counts = write_records(settings.out, gen.events(), stop=lambda: bool(stopping))
        where = settings.out
    else:
        from producers.kafka_sink import send

        counts = send(gen.events(), settings.client_config(),
                      {"tweets": settings.tweets_topic, "labels": settings.labels_topic},
                      rate=settings.rate, stop=lambda: bool(stopping))
        where = f"{settings.tweets_topic} and {settings.labels_topic}"
    print(f"sent {counts['tweets']} tweets and {counts['labels']} labels to {where}", file=sys.stderr)
    return 0
