"""Poison input through the real broker: 100,000 good tweets in three formats with 10,000 hostile messages.

The consumer runs as a real process. Afterwards the dead-letter topic must hold
exactly the hostile messages (original key and bytes, headers naming the
error, the source topic, partition and offset, and the time), the consumer
must still be running, and every good tweet must have been counted once, its
duplicates included.
"""

from __future__ import annotations

import collections
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request

import orjson
import pytest
from confluent_kafka import Producer

from consumer.kafka.broker import free_port
from fixtures.formats import to_compact, to_v2
from kafka_io import read_topic
from producers.generate import Generator
from support import REPO, botwatch, botwatch_env, wait_for

pytestmark = pytest.mark.broker

GOOD, ACCOUNTS, DUPLICATES, HOSTILE = 100_000, 2_000, 1_000, 10_000
BIG = 5 * 1024 * 1024  # one message of 5 MB: the topic takes it, the consumer's 1 MiB limit does not

_SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$')


def scrape(port: int) -> dict[tuple[str, str], float] | None:
    """Every sample on /metrics as {(name, labels): value}; None while the server does not answer."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    samples = {}
    for line in body.splitlines():
        m = _SAMPLE.match(line)
        if m:
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples


def total(samples: dict, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def by_label(samples: dict, name: str, label: str) -> dict[str, float]:
    out = {}
    for (n, labels), v in samples.items():
        m = re.search(label + r'="([^"]*)"', labels)
        if n == name and m:
            out[m.group(1)] = v
    return out


# ------------------------------------------------------------------ the input

def good_messages(rng: random.Random) -> list[tuple[bytes, bytes, str, dict]]:
    """(key, value, tweet id, v1.1 object): the generator's v1.1 tweets, a third rewritten as v2 and a third as compact."""
    out = []
    records = (r for r in Generator(accounts=ACCOUNTS, tweets=GOOD, seed=13).events() if r.topic == "tweets")
    for i, record in enumerate(records):
        v11 = orjson.loads(record.value)
        value = record.value if i % 3 == 0 else orjson.dumps(to_v2(v11) if i % 3 == 1 else to_compact(v11))
        out.append((record.key, value, v11["id_str"], v11))
    return out


def hostile_message(i: int, rng: random.Random, sample: dict) -> tuple[bytes | None, str]:
    """The i-th hostile message and the reason it must be dead-lettered with."""
    v11 = dict(sample)
    v11["id_str"] = str(9_000_000_000 + i)  # unique bytes, so every dead letter is told apart
    raw = orjson.dumps(v11)
    kind = i % 20
    if kind == 0:  # invalid UTF-8 inside a string
        return raw.replace(b'"text":"', b'"text":"\xff\xfe\xfa', 1), "not_json"
    if kind == 1:  # truncated: a strict prefix of an object is never a whole one
        return raw[:rng.randrange(1, len(raw) - 1)], "not_json"
    if kind == 2:  # nested past the parser's depth limit
        depth = rng.choice((1100, 5000, 100_000))
        return b'{"id_str":"%d","x":' % i + b"[" * depth + b"]" * depth + b"}", "not_json"
    if kind == 3:  # a good tweet carrying a deep value
        return raw[:-1] + b',"entities":{"urls":' + b"[" * 2000 + b"]" * 2000 + b"}}", "not_json"
    if kind == 4:  # wrong types in required fields, one per format
        variant = i // 20 % 4
        if variant == 0:
            v11["user"] = [v11["user"]]
            return orjson.dumps(v11), "bad_type"
        if variant == 1:
            v2 = to_v2(v11)
            v2["data"]["author_id"] = 12.5
            return orjson.dumps(v2), "bad_type"
        if variant == 2:
            c = to_compact(v11)
            c["ts"] = True
            return orjson.dumps(c), "bad_type"
        c = to_compact(v11)
        c["urls"] = "https://not.a.list"
        return orjson.dumps(c), "bad_type"
    if kind == 5:  # missing author
        variant = i // 20 % 3
        if variant == 0:
            del v11["user"]
            return orjson.dumps(v11), "missing_field"
        if variant == 1:
            v2 = to_v2(v11)
            del v2["data"]["author_id"]
            return orjson.dumps(v2), "missing_field"
        c = to_compact(v11)
        del c["account_id"]
        return orjson.dumps(c), "missing_field"
    if kind == 6:  # far in the past
        if i // 20 % 2:
            v11["created_at"] = "Thu Jan 01 00:00:00 +0000 1970"
            return orjson.dumps(v11), "bad_time"
        c = to_compact(v11)
        c["ts"] = 86400.0 * rng.randint(1, 12000)
        return orjson.dumps(c), "bad_time"
    if kind == 7:  # far in the future
        if i // 20 % 2:
            v2 = to_v2(v11)
            v2["data"]["created_at"] = "2999-01-01T00:00:00.000Z"
            return orjson.dumps(v2), "bad_time"
        c = to_compact(v11)
        c["ts"] = time.time() + 86400.0 * rng.randint(2, 3650)
        return orjson.dumps(c), "bad_time"
    if kind == 8:
        return orjson.dumps([v11]), "not_object"
    if kind == 9:
        return orjson.dumps({"hello": "world", "n": i}), "unknown_format"
    if kind == 10:
        return None, "not_json"  # a tombstone
    if kind == 11:
        return b"", "not_json"
    if kind == 12:  # an id too long to be one
        v11["user"] = {**v11["user"], "id_str": "9" * 200}
        return orjson.dumps(v11), "bad_value"
    if kind == 13:
        v11["created_at"] = "Wed Oct 10 20:19:24 2018"
        return orjson.dumps(v11), "bad_time"
    if kind == 14:
        return orjson.dumps({"data": [], "includes": {"n": i}}), "missing_field"
    if kind == 15:  # random bytes
        return bytes([0x80 | rng.randrange(128)]) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))), "not_json"
    if kind == 16:
        c = to_compact(v11)
        c["mentions"] = "three"
        return orjson.dumps(c), "bad_type"
    if kind == 17:
        return b"NaN %d" % i, "not_json"
    if kind == 18:
        return raw + b"\n" + raw, "not_json"  # two objects in one message
    del v11["created_at"]
    return orjson.dumps(v11), "missing_field"


def build_stream(rng: random.Random):
    """Good tweets, their duplicates and the hostile messages, interleaved; and what each must become."""
    good = good_messages(rng)
    items = [(float(i), key, value, ("good", tid)) for i, (key, value, tid, _) in enumerate(good)]
    for _ in range(DUPLICATES):  # the same tweet again, in any format, soon or long after the original
        i = rng.randrange(GOOD)
        key, _, tid, v11 = good[i]
        value = rng.choice([orjson.dumps(v11), orjson.dumps(to_v2(v11)), orjson.dumps(to_compact(v11))])
        later = i + (rng.uniform(0.5, 50) if rng.random() < 0.5 else rng.uniform(0.5, GOOD - i))
        items.append((later, key, value, ("duplicate", tid)))
    expected = {}
    for i in range(HOSTILE):
        key = b"bad-%05d" % i
        if i == HOSTILE // 2:  # the one 5 MB message: valid JSON, only too large
            big = dict(good[0][3], id_str="8888", text="x" * BIG)
            value, reason = orjson.dumps(big), "too_large"
        else:
            value, reason = hostile_message(i, rng, good[rng.randrange(GOOD)][3])
        expected[key] = (value, reason)
        items.append((rng.uniform(0, GOOD), key, value, ("hostile", reason)))
    items.sort(key=lambda item: item[0])
    return [(key, value, kind) for _, key, value, kind in items], expected


# ------------------------------------------------------------------- the test

def test_hostile_messages_are_dead_lettered_and_good_ones_counted_once(kafka_bootstrap, topics, tmp_path):
    rng = random.Random(20240301)
    stream, expected = build_stream(rng)
    assert sum(1 for *_, kind in stream if kind[0] == "hostile") == HOSTILE
    assert max(len(v or b"") for v, _ in expected.values()) > BIG

    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", env=env)
    port = free_port()
    log = (tmp_path / "consumer.log").open("w")  # a file, not a pipe: 10,000 warnings would fill a pipe
    consumer = subprocess.Popen([sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", str(port)],
                                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        delivered: dict[bytes, tuple[int, int]] = {}
        failures = []

        def on_delivery(err, msg):
            if err is not None:
                failures.append(err)
            elif msg.key() in expected:
                delivered[msg.key()] = (msg.partition(), msg.offset())

        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 20 * 1024 * 1024,
                             "linger.ms": 20, "compression.type": "lz4", "enable.idempotence": True,
                             "queue.buffering.max.messages": 500_000, "queue.buffering.max.kbytes": 2_097_151})
        for key, value, _ in stream:
            producer.produce(topics["tweets"], value, key, on_delivery=on_delivery)
            producer.poll(0)
        assert producer.flush(120) == 0 and not failures, failures[:3]
        assert len(delivered) == HOSTILE

        messages = len(stream)
        consumed = f'{{topic="{topics["tweets"]}"}}'

        last: list[dict] = [{}]

        def alive_and(condition):
            def check():
                assert consumer.poll() is None, "the consumer died:\n" + (tmp_path / "consumer.log").read_text()[-3000:]
                samples = scrape(port)
                if samples:
                    last[0] = samples
                return samples if samples and condition(samples) else None
            return check

        try:
            wait_for(alive_and(lambda s: s.get(("botwatch_events_consumed_total", consumed)) == messages), 150,
                     f"the consumer to consume all {messages:,} messages")
            # the last batch's counters and its transaction land together: wait for both to settle
            samples = wait_for(alive_and(lambda s: total(s, "botwatch_events_invalid_total") == HOSTILE
                                         and s.get(("botwatch_tweets_total", "")) == GOOD), 30,
                               "the invalid and tweet counters to settle")
        except AssertionError as e:
            seen = {k: v for k, v in last[0].items() if k[0].endswith("_total")}
            raise AssertionError(f"{e}\nlast counters: {seen}") from None
        assert consumer.poll() is None, "the consumer died"

        # every good tweet counted once, its duplicates recognised as such
        assert samples[("botwatch_tweets_total", "")] == GOOD
        assert samples[("botwatch_events_duplicate_total", "")] == DUPLICATES
        # a counter per reason, summing to the hostile messages
        want = collections.Counter(reason for _, reason in expected.values())
        counted = by_label(samples, "botwatch_events_invalid_total", "reason")
        assert {r: n for r, n in counted.items() if n} == {r: float(n) for r, n in want.items()}

        # the dead-letter topic holds exactly the hostile messages, as they were sent
        dlq = read_topic(kafka_bootstrap, topics["dlq"], until=lambda msgs: len(msgs) >= HOSTILE, timeout=120)
        assert len(dlq) == HOSTILE
        assert collections.Counter((m.key(), m.value()) for m in dlq) == \
            collections.Counter((key, value) for key, (value, _) in expected.items())
        now_ms = time.time() * 1000
        for m in dlq:
            headers = {k: v.decode() for k, v in (m.headers() or [])}
            key = m.key()
            assert headers["error.class"] == expected[key][1], (key, headers)
            assert headers["error.message"].strip(), headers
            assert headers["source.topic"] == topics["tweets"]
            assert (int(headers["source.partition"]), int(headers["source.offset"])) == delivered[key]
            assert 0 < int(headers["source.timestamp"]) <= now_ms
            assert now_ms - 600_000 < int(headers["dead_lettered_at"]) <= now_ms
        too_large = [m for m in dlq if m.key() == b"bad-%05d" % (HOSTILE // 2)]
        assert len(too_large[0].value()) > BIG and "exceeds" in dict(too_large[0].headers())["error.message"].decode()

        assert consumer.poll() is None, "the consumer died"
    finally:
        consumer.send_signal(signal.SIGTERM)
        try:
            consumer.wait(60)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()
        log.close()
    assert consumer.returncode == 0, (tmp_path / "consumer.log").read_text()[-3000:]
