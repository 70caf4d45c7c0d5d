"""The naive baseline consumer that ``botwatch bench`` measures botwatch against.

It is the loop one writes first, and what issue 8 calls "straightforward":

* one ``poll()`` per message, no batching;
* the standard library's ``json.loads``;
* features from ``river.stats`` objects, several per account (inter-arrival
  mean and variance, text length mean and variance, URL / mention / hashtag /
  retweet / reply ratios), an hour-of-day ``Counter`` and the profile counts;
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
import json
import math
import signal
import sys
import time

from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry, Counter, ProcessCollector, start_http_server
from river import linear_model, preprocessing, stats

_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def v11_epoch(created_at: str) -> float:
    """Epoch seconds of a v1.1 ``created_at`` (``Wed Oct 10 20:19:24 +0000 2018``), the obvious way."""
    import calendar

    _, month, day, hms, _, year = created_at.split()
    h, m, s = hms.split(":")
    return float(calendar.timegm((int(year), _MONTHS[month], int(day), int(h), int(m), int(s))))


class NaiveAccount:
    """One account's features as River statistics and Python containers."""

    def __init__(self) -> None:
        self.n = stats.Count()
        self.gap_mean, self.gap_var = stats.Mean(), stats.Var()
        self.len_mean, self.len_var = stats.Mean(), stats.Var()
        self.ratios = {k: stats.Mean() for k in ("url", "mention", "hashtag", "retweet", "reply")}
        self.hours: collections.Counter = collections.Counter()
        self.last: float | None = None
        self.user: dict = {}
        self.flagged = False

    def update(self, tweet: dict) -> None:
        ts = v11_epoch(tweet["created_at"])
        self.n.update()
        if self.last is not None and ts >= self.last:
            gap = ts - self.last
            self.gap_mean.update(gap)
            self.gap_var.update(gap)
        self.last = ts
        self.hours[int(ts // 3600) % 24] += 1
        entities = tweet.get("entities") or {}
        text = tweet.get("full_text") or tweet.get("text") or ""
        self.len_mean.update(len(text))
        self.len_var.update(len(text))
        r = self.ratios
        r["url"].update(bool(entities.get("urls")))
        r["mention"].update(len(entities.get("user_mentions") or ()))
        r["hashtag"].update(len(entities.get("hashtags") or ()))
        r["retweet"].update("retweeted_status" in tweet)
        r["reply"].update(tweet.get("in_reply_to_status_id_str") is not None)
        self.user = tweet.get("user") or {}

    def features(self) -> dict[str, float]:
        u = self.user
        n = sum(self.hours.values())
        entropy = -sum(c / n * math.log2(c / n) for c in self.hours.values()) if n else 0.0
        x = {
            "tweets": self.n.get(),
            "gap_mean": self.gap_mean.get(),
            "gap_var": self.gap_var.get(),
            "len_mean": self.len_mean.get(),
            "len_var": self.len_var.get(),
            "hour_entropy": entropy,
            "followers": float(u.get("followers_count") or 0),
            "friends": float(u.get("friends_count") or 0),
            "statuses": float(u.get("statuses_count") or 0),
            "favourites": float(u.get("favourites_count") or 0),
            "listed": float(u.get("listed_count") or 0),
            "verified": float(bool(u.get("verified"))),
            "default_profile": float(bool(u.get("default_profile"))),
            "screen_name_length": float(len(u.get("screen_name") or "")),
        }
        x["followers_friends_ratio"] = x["followers"] / max(x["friends"], 1.0)
        for name, stat in self.ratios.items():
            x[name + "_ratio"] = stat.get()
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
