"""The latency run's input: the cached stream's tweets, without its labels."""

from __future__ import annotations

from consumer.bench import _FRAME, _KINDS, first_tweets


def write_stream(path, records):
    with open(path, "wb") as f:
        for topic, key, value, ts in records:
            f.write(_FRAME.pack(_KINDS.index(topic), len(key), len(value), ts))
            f.write(key)
            f.write(value)


STREAM = [("tweets", b"a", b"t1", 1.0), ("labels", b"a", b"l1", 1.5), ("tweets", b"b", b"t2", 2.0),
          ("tweets", b"a", b"t3", 3.0), ("labels", b"b", b"l2", 4.0), ("labels", b"a", b"l3", 5.0)]


def test_the_first_tweets_come_in_stream_order_and_leave_the_labels_out(tmp_path):
    path = tmp_path / "stream.bin"
    write_stream(path, STREAM)
    assert first_tweets(path, 2) == [(b"t1", b"a"), (b"t2", b"b")]


def test_asking_for_more_tweets_than_the_stream_holds_gives_them_all_and_no_label(tmp_path):
    path = tmp_path / "stream.bin"
    write_stream(path, STREAM)
    assert first_tweets(path, 10) == [(b"t1", b"a"), (b"t2", b"b"), (b"t3", b"a")]
