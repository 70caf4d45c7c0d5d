"""``botwatch convert KIND INPUT --out DIR``: public bot datasets as botwatch event logs.

Every adapter writes the same three files into ``DIR``:

* ``tweets.jsonl.gz`` — the tweets, one JSON object a line, in event-time
  order (sorted in bounded memory: sorted runs spilled to disk, then merged);
* ``labels.jsonl`` — review labels ``{"account_id", "label", "ts", "source"}``
  for a ``--labelled-fraction`` of the annotated accounts that tweet, chosen
  per class (seeded, so the same input gives the same sample), each
  ``--review-delay`` seconds after the account's first tweet;
* ``truth.csv`` — ``account_id,label`` of every annotated account.

``botwatch replay DIR/tweets.jsonl.gz DIR/labels.jsonl`` sends them to Kafka;
``botwatch evaluate --tweets DIR/tweets.jsonl.gz --labels DIR/labels.jsonl
--truth DIR/truth.csv`` runs them in-process.

Kinds: ``cresci2017`` (:mod:`producers.adapters.cresci2017`) and
``twitter-v2`` (:mod:`producers.adapters.twitter_v2`).
"""

from __future__ import annotations

import csv
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from producers.files import BadLine, open_writer, read_records, write_records
from producers.records import Record

KINDS = ("cresci2017", "twitter-v2")
#: Tweets held in memory before a sorted run is spilled to disk.
RUN_SIZE = 200_000


class ConvertError(Exception):
    """An input the adapter cannot convert; the message says what and where."""


class SortedLog:
    """Records collected in any order, written out in event-time order in bounded memory.

    Parameters
    ----------
    workdir
        Where sorted runs are spilled.
    run_size
        Records per run (memory bound).

    Example
    -------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> log = SortedLog(d, run_size=2)
    >>> for t in (3, 1, 2):
    ...     log.add(Record("tweets", b"1", orjson.dumps({"id": str(t), "account_id": "1", "ts": 1709251200 + t}), 1709251200.0 + t))
    >>> log.write(os.path.join(d, "out.jsonl"))
    3
    >>> [r.ts - 1709251200 for r in read_records([os.path.join(d, "out.jsonl")])]
    [1.0, 2.0, 3.0]
    """

    def __init__(self, workdir: str, run_size: int = RUN_SIZE):
        self.workdir, self.run_size = workdir, run_size
        self.buffer: list[Record] = []
        self.runs: list[str] = []
        self.count = 0

    def add(self, record: Record) -> None:
        self.buffer.append(record)
        self.count += 1
        if len(self.buffer) >= self.run_size:
            self._spill()

    def _spill(self) -> None:
        self.buffer.sort(key=lambda r: r.ts)  # stable: ties keep the input order
        path = os.path.join(self.workdir, f"run-{len(self.runs):05d}.jsonl.gz")
        write_records(path, self.buffer)
        self.runs.append(path)
        self.buffer = []

    def write(self, path: str) -> int:
        """Write every record to ``path`` in event-time order; returns how many."""
        if not self.runs:
            self.buffer.sort(key=lambda r: r.ts)
            write_records(path, self.buffer)
            return self.count
        self._spill()
        write_records(path, read_records(self.runs))
        return self.count


@dataclass
class Dataset:
    """What an adapter found: tweets (in a :class:`SortedLog`), each account's class and first tweet."""

    tweets: SortedLog
    classes: dict[str, str] = field(default_factory=dict)  # account id -> "bot" | "human"
    first_ts: dict[str, float] = field(default_factory=dict)  # account id -> its first tweet's time
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows or lines skipped

    def add_tweet(self, account_id: str, ts: float, value: bytes) -> None:
        self.tweets.add(Record("tweets", account_id.encode(), value, ts))
        first = self.first_ts.get(account_id)
        if first is None or ts < first:
            self.first_ts[account_id] = ts

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def choose_labelled(classes: dict[str, str], candidates, fraction: float, seed: str) -> set[str]:
    """``fraction`` of the ``candidates`` of each class, drawn with a fixed seed (same input, same sample).

    >>> sorted(choose_labelled({"1": "bot", "2": "bot", "3": "human", "4": "human"}, ["1", "2", "3", "4"], 0.5, "x"))
    ['2', '4']
    """
    rng = random.Random(seed)
    chosen: set[str] = set()
    for cls in ("bot", "human"):
        members = sorted(a for a in candidates if classes.get(a) == cls)
        chosen.update(rng.sample(members, round(fraction * len(members))))
    return chosen


def write_outputs(dataset: Dataset, out: Path, fraction: float, delay: float, seed: str) -> dict[str, int]:
    """``tweets.jsonl.gz``, ``labels.jsonl`` and ``truth.csv`` into ``out``; returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    n_tweets = dataset.tweets.write(str(out / "tweets.jsonl.gz"))
    labelled = choose_labelled(dataset.classes, dataset.first_ts, fraction, seed)
    labels = sorted((dataset.first_ts[a] + delay, a) for a in labelled)
    with open_writer(str(out / "labels.jsonl")) as f:
        for ts, account in labels:
            f.write(orjson.dumps({"account_id": account, "label": dataset.classes[account], "ts": ts,
                                  "source": "review"}) + b"\n")
    with open(out / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "label"])
        writer.writerows(sorted(dataset.classes.items()))
    return {"tweets": n_tweets, "labels": len(labels), "accounts": len(dataset.classes),
            "bots": sum(c == "bot" for c in dataset.classes.values()), "tweeting": len(dataset.first_ts)}


def run(settings, kind: str, input: str) -> int:
    """``botwatch convert``: 0 on success, 1 if the input cannot be converted, 2 on a usage error."""
    if not settings.out:
        print("botwatch convert: --out DIR is required", file=sys.stderr)
        return 2
    if not os.path.exists(input):
        print(f"botwatch convert: {input}: no such file or directory", file=sys.stderr)
        return 2
    if kind == "cresci2017":
        from producers.adapters.cresci2017 import read_dataset
    elif kind == "twitter-v2":
        from producers.adapters.twitter_v2 import read_dataset
    else:
        print(f"botwatch convert: unknown kind {kind!r}; one of {', '.join(KINDS)}", file=sys.stderr)
        return 2
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=out) as work:
        try:
            dataset = read_dataset(input, SortedLog(work))
            counts = write_outputs(dataset, out, settings.labelled_fraction, settings.review_delay, kind)
        except (ConvertError, BadLine, OSError) as e:
            print(f"botwatch convert: {e}", file=sys.stderr)
            return 1
    print(f"wrote {counts['tweets']:,} tweets of {counts['tweeting']:,} accounts and {counts['labels']:,} labels to {out}; "
          f"truth.csv: {counts['accounts']:,} accounts, {counts['bots']:,} bots", file=sys.stderr)
    if dataset.skipped:
        print("skipped: " + ", ".join(f"{n:,} {reason}" for reason, n in sorted(dataset.skipped.items())), file=sys.stderr)
    return 0


__all__ = ["run", "KINDS", "ConvertError", "SortedLog", "Dataset", "choose_labelled", "write_outputs"]
