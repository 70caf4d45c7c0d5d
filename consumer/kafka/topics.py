"""Creating botwatch's topics with their partition counts and settings."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

# dead letters keep the original bytes, so the DLQ must take what the input took and more
DLQ_MAX_MESSAGE_BYTES = str(16 * 1024 * 1024)


def topic_specs(settings) -> list[NewTopic]:
    p = settings.partitions
    return [
        # replays stamp messages with event time, possibly years old: time-based retention would delete them
        NewTopic(settings.tweets_topic, p, 1, config={"max.message.bytes": DLQ_MAX_MESSAGE_BYTES, "retention.ms": "-1"}),
        NewTopic(settings.labels_topic, p, 1, config={"retention.ms": "-1"}),
        NewTopic(settings.flags_topic, p, 1),
        NewTopic(settings.dlq_topic, p, 1, config={"max.message.bytes": DLQ_MAX_MESSAGE_BYTES}),
        # partition p of the state restores partition p of the input, so the counts must match
        NewTopic(settings.state_topic, p, 1, config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        # one partition: every replica learns the examples in the same order; kept for restores
        NewTopic(settings.training_topic, 1, 1, config={"retention.ms": "-1"}),
    ]


def create_topics(client_config: dict, specs: list[NewTopic], timeout: float = 30.0) -> dict[str, str]:
    """Create ``specs``; an existing topic is fine. Returns topic -> ``created`` or ``exists``."""
    admin = AdminClient(client_config)
    outcome = {}
    for name, future in admin.create_topics(specs, operation_timeout=timeout).items():
        try:
            future.result(timeout)
            outcome[name] = "created"
        except KafkaException as e:
            if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
            outcome[name] = "exists"
    return outcome
