"""The naive baseline consumer that ``botwatch bench`` measures botwatch against.

It is the loop one writes first, and what issue 8 calls "straightforward":

* one ``poll()`` per message, no batching;
* the standard library's ``json.loads``;
* botwatch's 37 features (the same definitions, so the same work), from
  ``river.stats`` objects (inter-arrival and text length mean and variance,
  the URL / mention / hashtag / retweet / reply / quote and duplicate-text
  ratios) and Python containers (recent tweet ids and texts, sets of link
  domains and clients, an hour-of-day ``Counter``, the newest user object),
  each feature worked out again for every prediction;
* ``predict_proba_one`` of River's ``StandardScaler | LogisticRegression`` on
  every tweet, ``learn_one`` on every label of an account it has seen;
* a ``produce`` per flag (an account whose score goes above the threshold for
  the first time), no transactions, offsets auto-committed.

It exports ``botwatch_events_consumed_total{topic}`` on ``/metrics`` (one
increment per message) so the bench samples it exactly as it samples
botwatch, and logs ``metrics on http://ADDR:PORT/metrics`` as botwatch does.
It stops after ``--max-seconds`` or after ``--exit-when-idle`` seconds without
input.

Run (the bench does this, pinned to one core)::

    .venv/bin/python benchmarks/baseline.py --bootstrap 127.0.0.1:9092 --tweets-topic tweets \\
        --labels-topic labels --flags-topic bot-flags --group naive --max-seconds 20
"""

from __future__ import annotations

import argparse
import collections
import html
import json
import math
import re
import signal
import sys
import time
import urllib.parse

from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry, Counter, ProcessCollector, start_http_server
from river import linear_model, preprocessing, stats

from consumer.namelikelihood import screen_name_likelihood  # the feature's bigram model: data, not a method

SOURCE_NAME = re.compile(r">([^<]*)</a>")  # v1.1's source is an HTML anchor whose text is the client's name
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def v11_epoch(created_at: str) -> float:
    """Epoch seconds of a v1.1 ``created_at`` (``Wed Oct 10 20:19:24 +0000 2018``), the obvious way."""
    import calendar

    _, month, day, hms, _, year = created_at.split()
    h, m, s = hms.split(":")
    return float(calendar.timegm((int(year), _MONTHS[month], int(day), int(h), int(m), int(s))))


class NaiveAccount:
    """One account's features, botwatch's 37 (``consumer.features.FEATURES``), the way one writes them first:
    ``river.stats`` objects for the running statistics, Python containers for the rest (the recent tweet ids
    and texts, the sets of domains and clients, an hour-of-day ``Counter``, the newest user object), and
    every feature worked out again from them for each prediction (but the screen name's likelihood and the
    account's creation time, worked out when they change). The same work as botwatch's, so the bench's ratio
    compares ways of doing it, not amounts of it; ``tests/test_baseline.py`` holds the two alike."""

    def __init__(self) -> None:
        self.n = stats.Count()
        self.first: float | None = None
        self.last: float | None = None
        self.gap_mean, self.gap_var = stats.Mean(), stats.Var(ddof=0)
        self.len_mean, self.len_var = stats.Mean(), stats.Var(ddof=0)
        self.ratios = {k: stats.Mean() for k in ("url", "mention", "hashtag", "retweet", "reply", "quote")}
        self.duplicate, self.near_duplicate = stats.Mean(), stats.Mean()
        self.hours: collections.Counter = collections.Counter()
        self.recent_ids: collections.deque = collections.deque(maxlen=8)  # a tweet seen again changes nothing
        self.texts: collections.deque = collections.deque(maxlen=4)
        self.word_texts: collections.deque = collections.deque(maxlen=4)
        self.url_tweets = 0
        self.domains: set[str] = set()
        self.sources: set[str] = set()
        self.user: dict = {}
        self.user_ts = -math.inf
        self.created_at: str | None = None
        self.created: float | None = None
        self.screen_name: str | None = None
        self.screen_name_likelihood = math.nan
        self.flagged = False

    def update(self, tweet: dict) -> None:
        if tweet["id_str"] in self.recent_ids:
            return
        self.recent_ids.append(tweet["id_str"])
        ts = v11_epoch(tweet["created_at"])
        self.n.update()
        if self.first is None:
            self.first = self.last = ts
        elif ts >= self.last:
            gap = ts - self.last
            self.gap_mean.update(gap)
            self.gap_var.update(gap)
            self.last = ts
        elif ts < self.first:
            self.first = ts
        self.hours[int(ts // 3600) % 24] += 1

        retweeted = tweet.get("retweeted_status")
        status = retweeted or tweet  # a retweet's text and entities are the original's
        body = status.get("extended_tweet") or status
        text = html.unescape(body.get("full_text") or status.get("text") or "")
        shown = body.get("display_text_range")
        if shown:
            text = text[shown[0]:shown[1]]
        entities = body.get("entities") or status.get("entities") or tweet.get("entities") or {}
        if text:
            self.len_mean.update(len(text))
            self.len_var.update(len(text))
            words = " ".join(filter(str.isalpha, text.lower().split())) or text
            self.duplicate.update(text in self.texts)
            self.near_duplicate.update(text in self.texts or words in self.word_texts)
            self.texts.append(text)
            self.word_texts.append(words)
        urls = [u.get("unwound_url") or u.get("expanded_url") or u.get("url") for u in entities.get("urls") or ()]
        urls = [u for u in urls if u]
        if urls:
            self.url_tweets += 1
            for url in urls:
                host = urllib.parse.urlsplit(url if "//" in url else "//" + url).hostname or ""
                self.domains.add(host.removeprefix("www."))
        r = self.ratios
        r["url"].update(bool(urls))
        r["mention"].update(len(entities.get("user_mentions") or ()))
        r["hashtag"].update(len(entities.get("hashtags") or ()))
        r["retweet"].update(retweeted is not None)
        r["reply"].update(bool(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")))
        r["quote"].update(retweeted is None and bool(tweet.get("quoted_status") or tweet.get("is_quote_status")))
        source = tweet.get("source") or ""
        client = SOURCE_NAME.search(source)
        source = html.unescape(client.group(1) if client else source)
        if source:
            self.sources.add(source)
        user = tweet.get("user") or {}
        if ts >= self.user_ts:  # the newest user object
            self.user, self.user_ts = user, ts
            if user.get("created_at") != self.created_at:
                self.created_at = user.get("created_at")
                self.created = v11_epoch(self.created_at) if self.created_at else None
            if user.get("screen_name") != self.screen_name:
                self.screen_name = user.get("screen_name")
                self.screen_name_likelihood = screen_name_likelihood(self.screen_name or "")

    def features(self) -> dict[str, float]:
        """The account's features by botwatch's names; an unknown one is left out (River takes it as absent)."""
        u = self.user
        n = self.n.get()
        x: dict[str, float] = {}
        for name in ("statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count"):
            if u.get(name) is not None:
                x[name] = float(u[name])
        for name in ("default_profile", "profile_use_background_image", "verified"):
            if u.get(name) is not None:
                x[name] = float(bool(u[name]))
        if self.created is not None:
            age_days = max((self.user_ts - self.created) / 86400, 1.0)
            for name, count in (("tweet_freq", "statuses_count"), ("followers_growth_rate", "followers_count"),
                                ("friends_growth_rate", "friends_count"),
                                ("favourites_growth_rate", "favourites_count"),
                                ("listed_growth_rate", "listed_count")):
                if count in x:
                    x[name] = x[count] / age_days
        if "friends_count" in x and "followers_count" in x:
            x["followers_friends_ratio"] = x["followers_count"] / max(x["friends_count"], 1.0)
        screen_name, name, description = u.get("screen_name"), u.get("name"), u.get("description")
        if screen_name is not None:
            x["screen_name_length"] = float(len(screen_name))
            x["num_digits_in_screen_name"] = float(sum(map(str.isdigit, screen_name)))
            x["screen_name_likelihood"] = self.screen_name_likelihood
        if name is not None:
            x["name_length"] = float(len(name))
            x["num_digits_in_name"] = float(sum(map(str.isdigit, name)))
        if description is not None:
            x["description_length"] = float(len(description))

        span = self.last - self.first
        if span > 0:
            x["tweet_rate"] = (n - 1) / (span / 3600)
        gaps = self.gap_mean.n
        if gaps >= 1:
            x["interarrival_mean"] = mean = self.gap_mean.get()
            if gaps >= 2:
                sd = math.sqrt(self.gap_var.get())
                x["interarrival_cv"] = sd / mean if mean > 0 else 0.0
                x["burstiness"] = (sd - mean) / (sd + mean) if sd + mean > 0 else 0.0
        if span >= 86400:  # collision entropy of the hour of day (see consumer.features.FEATURES)
            collision = sum(c * (c - 1) for c in self.hours.values()) / (n * (n - 1))
            x["hour_entropy"] = math.log2(24) if collision <= 1 / 24 else -math.log2(collision)
        for name, stat in self.ratios.items():
            x[name + "_ratio"] = stat.get()
        if self.url_tweets >= 8:
            x["distinct_url_domains"] = float(len(self.domains))
        if self.len_mean.n:  # tweets with text
            x["duplicate_text_ratio"] = self.duplicate.get()
            x["near_duplicate_text_ratio"] = self.near_duplicate.get()
            x["text_length_mean"] = self.len_mean.get()
            x["text_length_var"] = self.len_var.get()
        if self.sources:
            x["source_diversity"] = float(len(self.sources))
        return x


class Baseline:
    """The naive consume loop."""

    def __init__(self, args, consumed: Counter):
        self.args = args
        self.consumed = consumed
        self.stopping = False
        self.consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                                  "auto.offset.reset": "earliest"})
        self.producer = Producer({"bootstrap.servers": args.bootstrap})
        self.model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
        self.accounts: dict[str, NaiveAccount] = {}
        self.flags = 0

    def run(self) -> int:
        a = self.args
        self.consumer.subscribe([a.tweets_topic, a.labels_topic])
        started = last_input = time.monotonic()
        try:
            while not self.stopping:
                now = time.monotonic()
                if now - started > a.max_seconds or now - last_input > a.exit_when_idle:
                    break
                msg = self.consumer.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                last_input = now
                if msg.topic() == a.labels_topic:
                    self.on_label(json.loads(msg.value()))
                else:
                    self.on_tweet(json.loads(msg.value()))
                self.consumed.labels(msg.topic()).inc()
        finally:
            self.consumer.close()
            self.producer.flush(10)
        print(f"baseline: {len(self.accounts)} accounts, {self.flags} flags", file=sys.stderr)
        return 0

    def on_tweet(self, tweet: dict) -> None:
        account_id = tweet["user"]["id_str"]
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = NaiveAccount()
        account.update(tweet)
        x = account.features()
        score = self.model.predict_proba_one(x).get(True, 0.0)
        if score > self.args.threshold and not account.flagged:
            account.flagged = True
            self.flags += 1
            flag = {"account_id": account_id, "action": "review", "score": score, "tweets_seen": account.n.get()}
            self.producer.produce(self.args.flags_topic, json.dumps(flag).encode(), account_id.encode())
        self.producer.poll(0)

    def on_label(self, label: dict) -> None:
        account = self.accounts.get(label["account_id"])
        if account is not None:
            self.model.learn_one(account.features(), label["label"] == "bot")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--tweets-topic", default="tweets")
    p.add_argument("--labels-topic", default="labels")
    p.add_argument("--flags-topic", default="bot-flags")
    p.add_argument("--group", default="naive-baseline")
    p.add_argument("--threshold", type=float, default=0.5, help="score above which an account is flagged")
    p.add_argument("--metrics-port", type=int, default=0, help="port of /metrics (0: any free port)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="stop after this long")
    p.add_argument("--exit-when-idle", type=float, default=3.0, help="stop after this long without input")
    args = p.parse_args(argv)

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, as botwatch exports it
    consumed = Counter("botwatch_events_consumed_total", "Messages consumed, by topic", ["topic"], registry=registry)
    server, _ = start_http_server(args.metrics_port, "127.0.0.1", registry=registry)
    print(f"metrics on http://127.0.0.1:{server.server_address[1]}/metrics", file=sys.stderr, flush=True)
    baseline = Baseline(args, consumed)
    signal.signal(signal.SIGTERM, lambda *_: setattr(baseline, "stopping", True))
    return baseline.run()


if __name__ == "__main__":
    sys.exit(main())
