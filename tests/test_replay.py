"""Reading event logs and replaying them into a real broker: merge order, bad lines, resume, keys, timestamps."""

from __future__ import annotations

import gzip
import time
from collections import Counter

import orjson
import pytest

from consumer.decode import decode_label, decode_tweets
from kafka_io import read_topic
from producers.files import BadLine, RecordReader, read_records, write_records
from producers.generate import Generator
from producers.records import Record
from producers.replay import replay
from support import botwatch, botwatch_env


def _lines(path, objects, gz=False):
    data = b"".join((o if isinstance(o, bytes) else orjson.dumps(o)) + b"\n" for o in objects)
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def tweet(account: str, ts: int, tweet_id: str) -> dict:
    return {"id": tweet_id, "account_id": account, "ts": ts, "text": "hello"}


def label(account: str, ts: int) -> dict:
    return {"account_id": account, "label": "bot", "ts": ts, "source": "review"}


# ---------------------------------------------------------------- files only


def test_a_line_that_is_not_json_stops_with_file_and_line(tmp_path):
    path = _lines(tmp_path / "t.jsonl.gz", [tweet("1", 1709251200, "a"), tweet("1", 1709251201, "b"), b"{oops"], gz=True)
    records = []
    with pytest.raises(BadLine) as error:
        for r in read_records([path]):
            records.append(r)
    assert str(error.value).startswith(f"{path}:3: not JSON")
    assert (error.value.path, error.value.line, error.value.reason) == (path, 3, "not_json")
    assert len(records) == 2


def test_a_json_line_that_is_no_tweet_nor_label_is_bad_too(tmp_path):
    path = _lines(tmp_path / "t.jsonl", [tweet("1", 1709251200, "a"), [1, 2], {"hello": "world"}])
    with pytest.raises(BadLine, match=r"t\.jsonl:2: not a tweet or a label"):
        list(read_records([path]))
    reader = RecordReader([path], skip_bad=True)
    assert len(list(reader)) == 1
    assert reader.bad_lines == Counter({"not_object": 1, "unknown_shape": 1})
    assert reader.first_bad.endswith("t.jsonl:2: not a tweet or a label: a JSON list, not an object")


def test_skip_bad_skips_and_counts(tmp_path):
    path = _lines(tmp_path / "t.jsonl", [b"garbage", tweet("1", 1709251200, "a"), b"", b"{", tweet("2", 1709251201, "b")])
    reader = RecordReader([path], skip_bad=True)
    assert [r.key for r in reader] == [b"1", b"2"]
    assert reader.bad_lines == Counter({"not_json": 2})  # the blank line is not counted


def test_files_merge_by_event_time_keyed_by_account(tmp_path):
    a = _lines(tmp_path / "a.jsonl", [tweet("1", 1709251200, "a1"), tweet("1", 1709251210, "a2"), tweet("1", 1709251220, "a3")])
    b = _lines(tmp_path / "b.jsonl.gz", [tweet("2", 1709251205, "b1"), tweet("2", 1709251210, "b2")], gz=True)
    labels = _lines(tmp_path / "labels.jsonl", [label("1", 1709251201), label("2", 1709251215)])
    records = list(read_records([a, b, labels]))
    assert [(r.topic, r.key, r.ts) for r in records] == [
        ("tweets", b"1", 1709251200.0), ("labels", b"1", 1709251201.0), ("tweets", b"2", 1709251205.0),
        ("tweets", b"1", 1709251210.0), ("tweets", b"2", 1709251210.0),  # a tie keeps the files' order
        ("labels", b"2", 1709251215.0), ("tweets", b"1", 1709251220.0)]
    assert records[0].value == orjson.dumps(tweet("1", 1709251200, "a1"))  # the line's bytes, unchanged


def test_out_of_order_lines_are_counted(tmp_path):
    path = _lines(tmp_path / "t.jsonl", [tweet("1", 1709251210, "a"), tweet("1", 1709251200, "b")])
    reader = RecordReader([path])
    assert len(list(reader)) == 2 and reader.out_of_order == 1


def test_every_format_and_v2_pages_are_read(tmp_path):
    gen_records = {fmt: [r for r in Generator(20, 40, 0.5, 0.0, 0.0, 3, format=fmt).events()] for fmt in ("v1", "v2", "compact")}
    for fmt, records in gen_records.items():
        path = str(tmp_path / f"{fmt}.jsonl")
        write_records(path, records)
        assert list(read_records([path])) == records, fmt
    items = [orjson.loads(r.value) for r in gen_records["v2"][:3]]
    page = {"data": [i["data"] for i in items], "includes": {"users": [u for i in items for u in i["includes"]["users"]]},
            "meta": {"result_count": 3}}
    path = _lines(tmp_path / "page.jsonl", [page])
    split = list(read_records([path]))
    assert [(r.key, r.ts) for r in split] == [(r.key, r.ts) for r in gen_records["v2"][:3]]
    assert [decode_tweets(r.value)[0].profile.screen_name for r in split] == \
           [decode_tweets(r.value)[0].profile.screen_name for r in gen_records["v2"][:3]]


def test_replay_resumes_from_a_position_and_paces_to_event_time():
    records = [Record("tweets", b"1", b"{}", 1709251200.0 + t) for t in range(0, 10, 2)]
    sent: list[Record] = []
    result = replay(records, sent.append, start_at=3)
    assert sent == records[3:] and result.position == 5 and result.sent == {"tweets": 2, "labels": 0}

    sent.clear()
    started = time.monotonic()
    replay(records, sent.append, speed=40.0)  # 8 s of event time at 40x: at least 0.2 s of wall-clock time
    assert time.monotonic() - started >= 0.19 and sent == records


# ---------------------------------------------------------------- real broker


@pytest.fixture
def env(kafka_bootstrap, topics):
    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", "--partitions", "3", env=env)
    return env


@pytest.mark.broker
def test_replay_sends_merged_files_with_account_keys_and_event_time_stamps(kafka_bootstrap, topics, env, tmp_path):
    v1 = str(tmp_path / "v1.jsonl.gz")
    v2 = str(tmp_path / "v2.jsonl")
    write_records(v1, Generator(50, 1500, 0.3, 0.5, 600.0, 1).events())
    write_records(v2, (r for r in Generator(30, 500, 0.3, 0.0, 0.0, 2, format="v2").events() if r.topic == "tweets"))
    expected = list(read_records([v1, v2]))
    result = botwatch("replay", v1, v2, env=env)
    assert "replayed" in result.stderr and "ETA" in result.stderr and "records/s" in result.stderr

    n_tweets = sum(r.topic == "tweets" for r in expected)
    n_labels = len(expected) - n_tweets
    tweets = read_topic(kafka_bootstrap, topics["tweets"], until=lambda m: len(m) >= n_tweets)
    labels = read_topic(kafka_bootstrap, topics["labels"], until=lambda m: len(m) >= n_labels)
    assert (len(tweets), len(labels)) == (n_tweets, n_labels) and n_labels > 0
    for m in tweets:
        (t,) = decode_tweets(m.value())
        assert m.key() == t.account_id.encode()
        assert m.timestamp()[1] == int(t.ts * 1000)
    for m in labels:
        lab = decode_label(m.value())
        assert m.key() == lab.account_id.encode() and m.timestamp()[1] == int(lab.ts * 1000)
    # event-time order holds within each partition, as the merged input had it
    by_partition: dict[int, list[int]] = {}
    for m in tweets:
        by_partition.setdefault(m.partition(), []).append(m.timestamp()[1])
    assert len(by_partition) > 1
    for stamps in by_partition.values():
        assert stamps == sorted(stamps)
    assert sorted(m.value() for m in tweets) == sorted(r.value for r in expected if r.topic == "tweets")


@pytest.mark.broker
def test_replay_stops_at_a_bad_line_then_skips_it_when_told(kafka_bootstrap, topics, env, tmp_path):
    path = _lines(tmp_path / "bad.jsonl", [tweet("1", 1709251200, "a"), tweet("2", 1709251201, "b"), b"not json",
                                           tweet("3", 1709251202, "c")])
    failed = botwatch("replay", path, env=env, check=False)
    assert failed.returncode == 1
    assert f"{path}:3: not JSON" in failed.stderr and "--start-at 2" in failed.stderr
    assert len(read_topic(kafka_bootstrap, topics["tweets"], until=lambda m: len(m) >= 2)) == 2  # all before it sent

    skipped = botwatch("replay", "--skip-bad", "--start-at", "2", path, env=env)
    assert "skipped 1 bad lines (not_json: 1)" in skipped.stderr
    keys = [m.key() for m in read_topic(kafka_bootstrap, topics["tweets"], until=lambda m: len(m) >= 3)]
    assert sorted(keys) == [b"1", b"2", b"3"]  # resumed after the last record sent: nothing twice


@pytest.mark.broker
def test_replay_resumes_at_a_position(kafka_bootstrap, topics, env, tmp_path):
    path = str(tmp_path / "s.jsonl")
    write_records(path, Generator(20, 300, 0.3, 0.0, 0.0, 4, format="compact").events())
    records = list(read_records([path]))
    botwatch("replay", "--start-at", "250", "--no-progress", path, env=env)
    got = read_topic(kafka_bootstrap, topics["tweets"], until=lambda m: len(m) >= 50)
    assert sorted(m.value() for m in got) == sorted(r.value for r in records[250:])


@pytest.mark.broker
def test_replay_refuses_missing_topics_and_files(kafka_bootstrap, topics, tmp_path):
    env = botwatch_env(kafka_bootstrap, topics)  # topics not created
    path = _lines(tmp_path / "t.jsonl", [tweet("1", 1709251200, "a")])
    missing_topics = botwatch("replay", path, env=env, check=False)
    assert missing_topics.returncode == 1 and "do not exist" in missing_topics.stderr
    missing_file = botwatch("replay", str(tmp_path / "nope.jsonl"), env=env, check=False)
    assert missing_file.returncode == 2 and "nope.jsonl: no such file" in missing_file.stderr
