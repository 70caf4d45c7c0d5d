"""The same single-partition input gives the same flags through Kafka as in-process, and the same model
quality figures: the service's gauges against evaluate's summary."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from consumer.kafka.broker import free_port
from kafka_io import produce_all, read_topic
from producers.files import write_records
from producers.generate import Generator
from support import REPO, botwatch, botwatch_env, wait_for
from test_end_to_end import metric
from test_evaluate import read_flags, without_wall_clock

pytestmark = pytest.mark.broker


# the defaults; and a policy that blocks on this stream's few labels, at a threshold calibrated above its floor
POLICIES = {"defaults": [],
            "calibrated blocks": ["--block-threshold", "0.5", "--target-precision", "0.97", "--block-confidence", "0.5"]}


@pytest.mark.parametrize("policy", POLICIES)
def test_consume_through_kafka_equals_evaluate_in_process(kafka_bootstrap, topics, tmp_path, policy):
    options = POLICIES[policy]
    records = list(Generator(accounts=600, tweets=15_000, seed=21).events())
    stream = tmp_path / "stream.jsonl"
    write_records(str(stream), records)
    botwatch("evaluate", "--tweets", str(stream), "--out", str(tmp_path / "eval"), "--no-progress", *options)
    expected = without_wall_clock(read_flags(tmp_path / "eval" / "flags.jsonl"))
    assert expected, "the evaluation flagged nobody: the comparison would prove nothing"
    if options:
        assert any(flag["action"] == "block" for flag in expected), "the evaluation blocked nobody"

    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", "--partitions", "1", env=env)
    produce_all(kafka_bootstrap, records, topics)  # preloaded, so the consumer sees the whole log as a replay would

    port = free_port()
    log = tmp_path / "consume.log"
    with log.open("w") as err:
        consumer = subprocess.Popen([sys.executable, "-m", "consumer.cli", "consume", "--metrics-port", str(port),
                                     "--exit-when-idle", "10", *options], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=err)
    summary = orjson.loads((tmp_path / "eval" / "summary.json").read_bytes())
    try:
        # read while it idles before exiting, once it has learned every label evaluate learned: the service sets
        # the example counts after the other quality gauges
        gauges = wait_for(lambda: final_gauges(port, summary["labels_applied"]), 240,
                          f"the consumer to have learned {summary['labels_applied']} labels")
    finally:
        consumer.wait(timeout=300)
    assert consumer.returncode == 0, log.read_text()[-3000:]
    prequential = summary["prequential"]
    assert gauges == {"block_threshold": prequential["block_threshold"],
                      "precision_at_block": prequential["precision_at_block"],
                      "block_support": prequential["block_support"]}
    if options:  # calibrated: above the floor, so a gauge that showed the option would differ
        assert prequential["block_threshold"] > float(options[1])
    got = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["flags"],
                                                      until=lambda msgs: len(msgs) >= len(expected))]
    assert without_wall_clock(got) == expected


def final_gauges(port: int, examples: int) -> dict | None:
    """The block gauges of the consumer at ``port`` once its example counts add up to ``examples``, else None."""
    counts = [metric(port, "botwatch_model_examples", f'{{label="{label}"}}') for label in ("bot", "human")]
    if None in counts or sum(counts) != examples:
        return None
    return {"block_threshold": metric(port, "botwatch_block_threshold"),
            "precision_at_block": metric(port, "botwatch_model_precision_at_block"),
            "block_support": metric(port, "botwatch_model_block_support")}
