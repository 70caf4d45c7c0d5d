"""Which Kafka errors mean "the broker is away or moving things; ask again" rather than "give up".

librdkafka marks some errors retriable itself; errors raised by calls such as
``get_watermark_offsets`` or ``committed`` carry only a code. Both count.

Example
-------
>>> from confluent_kafka import KafkaError
>>> is_transient(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)), is_transient(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
(True, False)
"""

from __future__ import annotations

from confluent_kafka import KafkaError

#: Codes a broker restart or a leader/coordinator move produces for a while.
TRANSIENT_CODES = frozenset({
    KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError._WAIT_COORD,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION, KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
})


def is_transient(err: KafkaError) -> bool:
    return not err.fatal() and (err.retriable() or err.code() in TRANSIENT_CODES)
