"""The latency run's input: the cached stream's tweets, without its labels."""

from __future__ import annotations

from consumer.bench import first_tweets, write_record
from producers.records import Record

STREAM = [Record("tweets", b"a", b"t1", 1.0), Record("labels", b"a", b"l1", 1.5), Record("tweets", b"b", b"t2", 2.0),
          Record("tweets", b"a", b"t3", 3.0), Record("labels", b"b", b"l2", 4.0), Record("labels", b"a", b"l3", 5.0)]


def cache(path):
    with open(path, "wb") as f:
        for record in STREAM:
            write_record(f, record)
    return path


def test_the_first_tweets_come_in_stream_order_and_leave_the_labels_out(tmp_path):
    assert first_tweets(cache(tmp_path / "stream.bin"), 2) == [(b"t1", b"a"), (b"t2", b"b")]


def test_asking_for_more_tweets_than_the_stream_holds_gives_them_all_and_no_label(tmp_path):
    assert first_tweets(cache(tmp_path / "stream.bin"), 10) == [(b"t1", b"a"), (b"t2", b"b"), (b"t3", b"a")]
