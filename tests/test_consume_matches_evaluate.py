"""The same single-partition input gives the same flags through Kafka as in-process."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from kafka_io import produce_all, read_topic
from producers.files import write_records
from producers.generate import Generator
from support import REPO, botwatch, botwatch_env
from test_evaluate import read_flags, without_wall_clock

pytestmark = pytest.mark.broker


def test_consume_through_kafka_equals_evaluate_in_process(kafka_bootstrap, topics, tmp_path):
    records = list(Generator(accounts=600, tweets=15_000, seed=21).events())
    stream = tmp_path / "stream.jsonl"
    write_records(str(stream), records)
    botwatch("evaluate", "--tweets", str(stream), "--out", str(tmp_path / "eval"), "--no-progress")
    expected = without_wall_clock(read_flags(tmp_path / "eval" / "flags.jsonl"))
    assert expected, "the evaluation flagged nobody: the comparison would prove nothing"

    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", "--partitions", "1", env=env)
    produce_all(kafka_bootstrap, records, topics)  # preloaded, so the consumer sees the whole log as a replay would

    consumer = subprocess.Popen([sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", "0",
                                 "--exit-when-idle", "5"], env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = consumer.communicate(timeout=300)
    assert consumer.returncode == 0, err[-3000:]
    got = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["flags"],
                                                      until=lambda msgs: len(msgs) >= len(expected))]
    assert without_wall_clock(got) == expected
