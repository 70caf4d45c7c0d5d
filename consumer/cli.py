"""``botwatch``: the one entry point, with a subcommand per job."""

from __future__ import annotations

import argparse
import sys

from consumer import config


def _broker(settings, args) -> int:
    from consumer.kafka.broker import BrokerError, LocalBroker

    broker = LocalBroker.from_bootstrap(settings.broker_dir, settings.bootstrap)
    try:
        if args.action == "start":
            if broker.start():
                print(f"broker started: {broker.status()}")
            else:
                print(f"broker already running: {broker.status()}")
        elif args.action == "stop":
            print("broker stopped" if broker.stop() else f"broker was not running ({broker.dir})")
        else:
            print(f"broker {broker.status()}")
            return 0 if broker.running_pid() else 3
    except BrokerError as e:
        print(f"botwatch broker {args.action}: {e}", file=sys.stderr)
        return 1
    return 0


def _topics(settings, args) -> int:
    from consumer.kafka.topics import create_topics, topic_specs

    for name, outcome in create_topics(settings.client_config(), topic_specs(settings)).items():
        print(f"{name}: {outcome}")
    return 0


def _consume(settings, args) -> int:
    from consumer import service

    return service.run(settings)


def _generate(settings, args) -> int:
    from producers import generate

    return generate.run(settings)


def _replay(settings, args) -> int:
    from producers import replay

    return replay.run(settings, args.files)


def _evaluate(settings, args) -> int:
    from consumer import evaluate

    return evaluate.run(settings)


def _bench(settings, args) -> int:
    from consumer import bench

    return bench.run(settings)


def _convert(settings, args) -> int:
    from producers import adapters

    return adapters.run(settings, args.kind, args.input)


COMMANDS = {
    "broker": (_broker, "run a local single-node Apache Kafka broker (KRaft) on loopback"),
    "topics": (_topics, "create botwatch's topics"),
    "consume": (_consume, "run the detection service"),
    "generate": (_generate, "send synthetic tweets and delayed labels to Kafka or to a file"),
    "replay": (_replay, "replay JSONL(.gz) tweets and labels into Kafka, merged by event time"),
    "evaluate": (_evaluate, "run the detection pipeline in-process over files, with a report"),
    "bench": (_bench, "end-to-end benchmark beside a naive baseline"),
    "convert": (_convert, "convert a public bot dataset into tweet and label JSONL"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="botwatch", description="Streaming spam-bot detection on Kafka.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == "broker":
            sp.add_argument("action", choices=("start", "stop", "status"))
        if name == "topics":
            sp.add_argument("action", choices=("create",))
        if name == "replay":
            sp.add_argument("files", nargs="+", metavar="FILE", help="JSONL or JSONL.gz of tweets and labels")
        if name == "convert":
            sp.add_argument("kind", choices=("cresci2017", "twitter-v2"), help="the dataset's layout")
            sp.add_argument("input", help="the dataset's directory or file")
        config.add_arguments(sp, name)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = config.resolve(args.command, args)
    except config.ConfigError as e:
        print(f"botwatch {args.command}: configuration error: {e}", file=sys.stderr)
        return 2
    from confluent_kafka import KafkaException

    try:
        return COMMANDS[args.command][0](settings, args)
    except KafkaException as e:
        if not refused_setting(e):
            raise
        print(f"botwatch {args.command}: configuration error: librdkafka refused a client setting: "
              f"{e.args[0].str()}. Check the Kafka pass-through settings ([kafka], BOTWATCH_KAFKA_*).", file=sys.stderr)
        return 2


def refused_setting(e) -> bool:
    """Whether ``e`` is librdkafka refusing a configuration property or its value, as it does when a client is
    made: the settings botwatch sets are valid, so a refused one came through the Kafka pass-through."""
    from confluent_kafka import KafkaError

    err = e.args[0] if e.args else None
    return (isinstance(err, KafkaError) and err.code() == KafkaError._INVALID_ARG
            and "configuration property" in err.str())


if __name__ == "__main__":
    sys.exit(main())
