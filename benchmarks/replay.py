"""Replay throughput: 1,000,000 generated tweets from a JSONL.gz file into a real local broker, as fast as possible.

The input is generated once (``botwatch generate``'s default population
scaled to 20,000 accounts, v1.1 format, review labels for 30% of accounts)
and cached in the system's temporary directory, so later runs measure the
replay alone. A fresh single-node broker (``botwatch broker``'s) is started in
a temporary directory, the topics are created, ``botwatch replay`` runs
in-process with its progress bar on stderr, and the broker is stopped.

Run::

    .venv/bin/python benchmarks/replay.py                # 1,000,000 tweets
    .venv/bin/python benchmarks/replay.py --tweets 200000
    .venv/bin/python benchmarks/replay.py --bootstrap 127.0.0.1:9092   # an existing broker

It prints one line: ``replay: N tweets + M labels in S s = R tweets/s``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer import config  # noqa: E402
from consumer.kafka.broker import LocalBroker, free_port  # noqa: E402
from consumer.kafka.topics import create_topics, topic_specs  # noqa: E402
from producers import replay  # noqa: E402
from producers.files import write_records  # noqa: E402
from producers.generate import Generator  # noqa: E402


def input_file(tweets: int) -> Path:
    """The cached input, generated on first use (written to a temporary name, then renamed)."""
    path = Path(tempfile.gettempdir()) / "botwatch-bench" / f"replay-{tweets}-v1.jsonl.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        print(f"generating {tweets:,} tweets into {path} (once) ...", file=sys.stderr)
        partial = path.parent / f".{os.getpid()}-{path.name}"  # still ends in .gz: written compressed
        write_records(str(partial), Generator(accounts=max(500, tweets // 50), tweets=tweets, seed=1).events())
        partial.rename(path)
        print(f"generated in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tweets", type=int, default=1_000_000)
    p.add_argument("--bootstrap", default="", help="an existing broker (default: start a fresh local one)")
    args = p.parse_args(argv)
    path = input_file(args.tweets)

    broker = None
    with tempfile.TemporaryDirectory(prefix="botwatch-bench-kafka-") as tmp:
        if not args.bootstrap:
            broker = LocalBroker(Path(tmp), "127.0.0.1", free_port())
            broker.start()
        bootstrap = args.bootstrap or broker.bootstrap
        try:
            suffix = uuid.uuid4().hex[:8]
            environ = {"BOTWATCH_BOOTSTRAP": bootstrap, "BOTWATCH_TWEETS_TOPIC": f"bench-tweets-{suffix}",
                       "BOTWATCH_LABELS_TOPIC": f"bench-labels-{suffix}"}
            topics = config.resolve("topics", environ=environ)
            create_topics(topics.client_config(), [s for s in topic_specs(topics)
                                                   if s.topic in (topics.tweets_topic, topics.labels_topic)])
            settings = config.resolve("replay", environ=environ)
            started = time.monotonic()
            code, result = replay.replay_files(settings, [str(path)])
            seconds = time.monotonic() - started
            if code != 0:
                print(f"replay failed with exit code {code}", file=sys.stderr)
                return code
            sent = result.sent
            print(f"replay: {sent['tweets']:,} tweets + {sent['labels']:,} labels in {seconds:.1f} s "
                  f"= {sent['tweets'] / seconds:,.0f} tweets/s ({sum(sent.values()) / seconds:,.0f} records/s), "
                  f"input {path.stat().st_size / 1e6:.0f} MB gzip, delivered (flushed) included")
        finally:
            if broker is not None:
                broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
