"""The service's ingest of fetched messages, its common messages in C (``decode.tweet_run``: a run of one
partition's tweets decoded and handed to the aligner at once) against its Python loop alone.

Both ingest the same list of real ``confluent_kafka.Message`` objects: the generator's v1.1 tweets and labels
over three partitions, in fetch-like chunks, with what must end a run: end-of-partition events, a partition
that steps back in time, undecodable messages, a tombstone, messages too large, v2 and compact tweets and
integer ids (which the C declines). The aligner must hold the same entries afterwards.
"""

from __future__ import annotations

import random
import zlib

import orjson
import pytest
from confluent_kafka import KafkaError, Message

from consumer import config
from consumer import decode as D
from consumer.align import Aligner
from consumer.decode import DecodeError
from consumer.service import Service
from producers.generate import Generator

PARTITIONS = 3


@pytest.fixture(autouse=True)
def compiled():
    if not D.COMPILED:  # test_decode.py's test_the_c_walk_is_built fails then
        pytest.skip("consumer._decode is not built")
    D._refresh_clock_bound()


def fetched_messages(seed: int) -> list[Message]:
    """The generator's stream as a consumer fetches it: chunks of one partition at a time, with the odd
    message that no run may take mixed in."""
    rng = random.Random(seed)
    s = config.resolve("consume", environ={})
    per_partition = {(topic, p): [] for topic in (s.tweets_topic, s.labels_topic) for p in range(PARTITIONS)}
    for record in Generator(accounts=60, tweets=1500, seed=seed).events():
        topic = s.tweets_topic if record.topic == "tweets" else s.labels_topic
        value = record.value
        if topic == s.tweets_topic and rng.random() < 0.04:
            value = rng.choice(odd_messages(value))
        per_partition[(topic, zlib.crc32(record.key) % PARTITIONS)].append((value, record.key))
    # one partition steps back in time: two of its tweets swapped
    tweets = per_partition[(s.tweets_topic, 1)]
    tweets[40], tweets[41] = tweets[41], tweets[40]
    queues = {key: list(reversed(values)) for key, values in per_partition.items()}
    offsets = {key: 0 for key in queues}
    messages = []
    while any(queues.values()):
        key = rng.choice([k for k, q in queues.items() if q])
        for _ in range(rng.randint(1, 60)):
            if not queues[key]:
                eof = KafkaError(KafkaError._PARTITION_EOF)
                messages.append(Message(topic=key[0], partition=key[1], offset=offsets[key], error=eof))
                break
            value, account = queues[key].pop()
            messages.append(Message(topic=key[0], partition=key[1], offset=offsets[key], value=value, key=account))
            offsets[key] += 1
    return messages


def odd_messages(value: bytes) -> list[bytes | None]:
    tweet = orjson.loads(value)
    return [
        value[:-3],  # not JSON
        None,  # a tombstone
        value + b" " * 70_000,  # past max_message_bytes (64 KiB in the test's settings)
        orjson.dumps({**tweet, "id_str": None, "id": 12345}),  # an integer id: the Python path's
        orjson.dumps({"id": "9", "account_id": tweet["user"]["id_str"], "ts": "2024-03-01T12:00:00Z", "text": "hi"}),
        orjson.dumps({**tweet, "created_at": "yesterday"}),  # a DecodeError the Python path names
    ]


def ingested(messages: list[Message], python_only: bool) -> tuple[int, Aligner]:
    svc = object.__new__(Service)  # only what ingesting touches
    svc.s = config.resolve("consume", environ={"BOTWATCH_MAX_MESSAGE_BYTES": str(64 * 1024)})
    svc.aligner = Aligner()
    svc.aligner.assign((topic, p) for topic in (svc.s.tweets_topic, svc.s.labels_topic) for p in range(PARTITIONS))
    if python_only:
        with D._python_only():
            return svc._ingest(messages), svc.aligner
    return svc._ingest(messages), svc.aligner


def comparable(entry):
    """An aligner entry without what differs between two ingests: the fetch time, the message object."""
    key, offset, item = entry
    if type(item) is tuple and type(item[0]) is list:
        return key, offset, "tweets", item[0]
    if type(item) is tuple and isinstance(item[0], DecodeError):
        return key, offset, "error", item[0].reason, str(item[0]), item[1].offset()
    return key, offset, "label", item


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_c_ingest_fills_the_aligner_as_the_python_loop_does(seed):
    messages = fetched_messages(seed)
    n_c, c = ingested(messages, python_only=False)
    n_python, python = ingested(messages, python_only=True)

    assert n_c == n_python == sum(1 for m in messages if m.error() is None)
    assert c.buffers.keys() == python.buffers.keys()
    for key in python.buffers:
        assert [comparable(e) for e in c.buffers[key]] == [comparable(e) for e in python.buffers[key]], key
        assert c.times[key] == python.times[key], key
    assert (c.latest, c.at_end, c.in_order) == (python.latest, python.at_end, python.in_order)
    assert not c.in_order, "the swapped tweets step back in time"
    assert any(type(e[2][0]) is DecodeError for buf in c.buffers.values() for e in buf if type(e[2]) is tuple)


def test_a_run_is_one_partitions_tweets_in_time_order():
    s = config.resolve("consume", environ={})
    messages = fetched_messages(4)
    taken, runs, start = 0, 0, 0
    while start < len(messages):
        run = D.tweet_run(messages, start, s.tweets_topic, 1 << 20, 0.0)
        if run is None:
            start += 1
            continue
        end, key, entries, times = run
        assert end > start and len(entries) == len(times) == end - start
        assert {(m.topic(), m.partition()) for m in messages[start:end]} == {key}
        assert [e[1] for e in entries] == [m.offset() for m in messages[start:end]]
        assert times == sorted(times) and times == [e[2][0][0].ts for e in entries]
        taken, runs, start = taken + end - start, runs + 1, end
    tweets = sum(1 for m in messages if m.error() is None and m.topic() == s.tweets_topic)
    assert taken > 0.9 * tweets and runs < taken / 5, "the common tweets are taken in runs"


def test_a_run_declines_what_it_does_not_take():
    s = config.resolve("consume", environ={})
    eof = Message(topic=s.tweets_topic, partition=0, offset=3, error=KafkaError(KafkaError._PARTITION_EOF))
    label = Message(topic=s.labels_topic, partition=0, offset=0, value=b'{"account_id": "1"}')
    bad = Message(topic=s.tweets_topic, partition=0, offset=0, value=b"{")
    for messages in ([eof], [label], [bad], []):
        assert D.tweet_run(messages, 0, s.tweets_topic, 1 << 20, 0.0) is None
    with pytest.raises(TypeError):
        D.tweet_run((bad,), 0, s.tweets_topic, 1 << 20, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_extending_by_a_run_is_adding_each_of_its_entries(seed):
    """Runs in time order, some starting before what their partition has read already (the partition steps
    back at the run's start): the aligner ends as if each entry had been added alone."""
    rng = random.Random(seed)
    by_run, by_entry = Aligner(), Aligner()
    keys = ["p0", "p1", "p2"]
    for aligner in (by_run, by_entry):
        aligner.assign(keys)
    offsets = dict.fromkeys(keys, 0)
    for _ in range(40):
        key = rng.choice(keys)
        start = rng.uniform(0, 100)
        times = sorted(start + rng.uniform(0, 10) for _ in range(rng.randint(1, 6)))
        entries = [(key, offsets[key] + i, f"{key}@{offsets[key] + i}") for i in range(len(times))]
        offsets[key] += len(times)
        by_run.extend(key, entries, times)
        for entry, ts in zip(entries, times):
            by_entry.add(key, entry[1], ts, entry[2])
        if rng.random() < 0.2:
            for aligner in (by_run, by_entry):
                aligner.end_of_partition(key)
        assert (by_run.buffers, by_run.times, by_run.latest, by_run.at_end, by_run.in_order) == (
            by_entry.buffers, by_entry.times, by_entry.latest, by_entry.at_end, by_entry.in_order)
    assert not by_run.in_order


# ------------------------------------------------------------------ what the service notes of a release

def released_entries(seed: int) -> list:
    """What the aligner releases from the fetched messages: tweets (one a message, and a message of several
    tweets, and of none), labels, dead letters, interleaved across partitions."""
    _, aligner = ingested(fetched_messages(seed), python_only=False)
    released = aligner.release()
    rng = random.Random(seed)
    tweets = [i for i, (_, _, item) in enumerate(released) if type(item) is tuple and type(item[0]) is list]
    for copies, i in zip([0, 3, 2, 0, 3], rng.sample(tweets, 5)):  # v2 messages of several tweets, or of none
        key, offset, (decoded, fetched) = released[i]
        released[i] = (key, offset, (decoded * copies, fetched + i))
    return released


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noting_a_release_in_c_equals_the_definition(seed):
    released = released_entries(seed)
    kinds = {("tweets" if type(e[2]) is tuple and type(e[2][0]) is list and e[2][0] else
              "none" if type(e[2]) is tuple and type(e[2][0]) is list else
              "error" if type(e[2]) is tuple else "label") for e in released}
    assert kinds == {"tweets", "none", "error", "label"}, kinds
    partition_of, fetched_at = {"old": 9, "a": 5}, {}
    expected_partition_of, expected_fetched_at = dict(partition_of), {}
    noted, others = D._note_tweets(released, partition_of, fetched_at)
    expected = D.note_tweets_python(released, expected_partition_of, expected_fetched_at)
    assert (noted, others) == expected
    assert list(partition_of.items()) == list(expected_partition_of.items())  # the same order too
    assert list(fetched_at.items()) == list(expected_fetched_at.items())
    assert noted > 0 and all(type(e[2]) is not tuple or type(e[2][0]) is not list for e in others)
    with D._python_only():
        assert D.note_tweets(released, {}, {}) == expected


def test_noting_a_release_refuses_what_the_aligner_does_not_release():
    with pytest.raises(TypeError, match="not \\(\\(topic, partition\\), offset, item\\)"):
        D._note_tweets([("tweets", 0, ([], 1.0))], {}, {})
    with pytest.raises(TypeError, match="not \\(tweets, fetched\\)"):
        D._note_tweets([(("tweets", 0), 0, ([], 1.0, "x"))], {}, {})
    with pytest.raises(TypeError, match="note_tweets\\(released: list"):
        D._note_tweets((), {}, {})
    with pytest.raises(AttributeError):  # a tweet without an account: the error comes out
        D._note_tweets([(("tweets", 0), 0, ([object()], 1.0))], {}, {})
