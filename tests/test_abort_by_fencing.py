"""An abort the producer cannot do is done by fencing it (Service._abort), on a real broker.

After a commit failed while the broker was away, librdkafka once went on
failing to abort the transaction for minutes after the broker was back. The
service then replaces its producer: the new one's init_transactions, under the
same transactional id, aborts the open transaction on the broker and fences the
old producer. Here the old producer's abort fails by injection (a subclass of
the real Producer whose abort_transaction raises what a timed-out one raises);
everything else is the real client against the real broker.
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

import consumer.service as service_module
from consumer.config import resolve
from consumer.service import Abandoned, Service, TransactionWorker
from kafka_io import read_topic
from support import botwatch, botwatch_env, wait_for

pytestmark = pytest.mark.broker


class AbortTimesOut(Producer):
    """A real producer whose abort fails as one that timed out does."""

    def abort_transaction(self, *args):
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "injected: the abort timed out"))


def test_an_abort_that_fails_fences_the_producer_and_aborts_its_transaction(kafka_bootstrap, topics, monkeypatch):
    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", env=env)
    settings = resolve("consume", None, env)
    with monkeypatch.context() as patched:
        patched.setattr(service_module, "Producer", AbortTimesOut)  # only the first producer
        service = Service(settings)
    old = service.producer
    try:
        old.init_transactions(30)
        old.begin_transaction()
        old.produce(topics["flags"], b"in the transaction that fails to abort")
        old.flush(30)  # on the broker, in the open transaction

        aborting = threading.Thread(target=service._abort, daemon=True)  # retried on the same producer, it
        aborting.start()                                                  # would never end
        aborting.join(120)
        assert not aborting.is_alive(), "the abort that fails was retried on the same producer for 2 min"

        assert service.producer is not old and type(service.producer) is Producer
        assert [a.producer for a in service.abandoned] == [old]
        # the old producer is fenced: the new one's init_transactions bumped the epoch
        with pytest.raises(KafkaException) as fenced:
            Producer.commit_transaction(old, 30)
        assert fenced.value.args[0].fatal(), fenced.value.args[0]

        service.producer.begin_transaction()
        service.producer.produce(topics["flags"], b"committed after the fencing")
        service.producer.commit_transaction(30)
        values = [m.value() for m in read_topic(kafka_bootstrap, topics["flags"], until=lambda ms: len(ms) >= 1)]
        assert values == [b"committed after the fencing"]  # the open transaction was aborted, not committed

        # a replaced producer is let go once no call runs inside it: the fenced one's abort returned (it failed);
        # one whose call is still blocked (a real producer, its worker held in a call) stays until that returns
        release = threading.Event()
        blocked = TransactionWorker()
        blocked.submit(release.wait)
        try:
            service.abandoned.append(Abandoned(Producer({"bootstrap.servers": kafka_bootstrap}), blocked))
            service._release_abandoned()
            assert [a.worker for a in service.abandoned] == [blocked]
            release.set()
            wait_for(lambda: blocked.idle, 30, "the blocked call to return")
            service._release_abandoned()
            assert service.abandoned == []
        finally:
            release.set()  # the worker's thread must end, or the interpreter's exit would wait for it
            blocked.shutdown(wait=True)
    finally:
        service.consumer.close()
        service.training.close()
        service.txn_worker.shutdown(wait=True)
