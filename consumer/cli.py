"""``botwatch``: the one entry point, with a subcommand per job."""

from __future__ import annotations

import argparse
import signal
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
    from producers.generate import Generator
    from producers.kafka_sink import send

    gen = Generator(settings.accounts, settings.tweets, settings.bot_fraction, settings.label_fraction,
                    settings.label_delay, settings.seed)
    if settings.truth_out:
        with open(settings.truth_out, "w") as f:
            f.write("account_id,label\n")
            f.writelines(f"{aid},{label}\n" for aid, label in gen.truth.items())
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    counts = send(gen.events(), settings.client_config(),
                  {"tweets": settings.tweets_topic, "labels": settings.labels_topic},
                  rate=settings.rate, stop=lambda: bool(stopping))
    print(f"sent {counts['tweets']} tweets and {counts['labels']} labels", file=sys.stderr)
    return 0


COMMANDS = {
    "broker": (_broker, "run a local single-node Apache Kafka broker (KRaft) on loopback"),
    "topics": (_topics, "create botwatch's topics"),
    "consume": (_consume, "run the detection service"),
    "generate": (_generate, "send synthetic tweets and delayed labels to Kafka"),
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
        config.add_arguments(sp, name)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = config.resolve(args.command, args)
    except config.ConfigError as e:
        print(f"botwatch {args.command}: configuration error: {e}", file=sys.stderr)
        return 2
    return COMMANDS[args.command][0](settings, args)


if __name__ == "__main__":
    sys.exit(main())
