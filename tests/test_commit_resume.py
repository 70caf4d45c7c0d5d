"""A commit that timed out while the broker was away is resumed before anything else is asked of the producer.

librdkafka goes on committing a transaction whose commit_transaction() timed out, and refuses every other
transactional call until commit_transaction() is called again; an abort_transaction() gets _CONFLICT. The
service aborts after a lost group session (the broker away longer than the session timeout), often with a
commit in flight: before it resumed the commit, the abort was refused for as long as it was retried, and the
consumer never recovered from the outage (tests/test_broker_outage.py caught it now and then).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from consumer import service
from consumer.service import CommitFailed, CommitInFlight, Service, send_offsets_and_commit

pytestmark = pytest.mark.broker

TOPIC = "committed-after-the-outage"


def read_committed(bootstrap: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    # from the beginning, not from the group's committed offset: that lookup asks the group coordinator, which
    # a broker just restarted may not have loaded yet (NOT_COORDINATOR came back as a message once)
    consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    values = []
    try:
        while True:
            msg = consumer.poll(30)
            assert msg is not None, "no end of partition within 30 s"
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                return values
            values.append(msg.value())
    finally:
        consumer.close()


def test_a_commit_that_timed_out_is_resumed_and_the_abort_after_it_is_accepted(own_broker, monkeypatch, caplog):
    admin = AdminClient({"bootstrap.servers": own_broker.bootstrap})
    [created] = admin.create_topics([NewTopic(TOPIC, 1, 1)]).values()
    created.result(30)
    producer = Producer({"bootstrap.servers": own_broker.bootstrap, "transactional.id": "resume-test",
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(TOPIC, b"flag")
    worker = ThreadPoolExecutor(1)
    svc = object.__new__(Service)  # only what settling a commit touches
    svc.producer, svc.txn_worker = producer, worker
    monkeypatch.setattr(service, "TXN_TIMEOUT", 2.0)

    own_broker.stop()
    commit = CommitInFlight(worker.submit(send_offsets_and_commit, producer, [], None), service.TXN_DEADLINE)
    with pytest.raises(CommitFailed) as timed_out:
        commit.future.result(60)
    assert timed_out.value.args[0].code() == KafkaError._TIMED_OUT and timed_out.value.args[0].retriable()
    with pytest.raises(KafkaException) as refused:  # the premise: nothing else is taken meanwhile
        producer.abort_transaction(1)
    assert refused.value.args[0].code() == KafkaError._CONFLICT

    restart = threading.Thread(target=own_broker.start)
    restart.start()
    svc.committing = commit
    with caplog.at_level(logging.WARNING, logger="botwatch.consume"):
        svc._settle_commit()  # retries the commit until the broker is back
    restart.join()

    assert svc.committing is None
    assert "its work is redone" not in caplog.text, caplog.text
    producer.abort_transaction(30)  # the transaction the settled commit left open: the abort after a lost session
    assert read_committed(own_broker.bootstrap) == [b"flag"], "the resumed commit did not commit what it held"
    worker.shutdown(wait=True)
