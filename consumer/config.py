"""Options of every ``botwatch`` subcommand, from one table.

Each option is resolved, highest precedence first, from the command line, the
environment variable ``BOTWATCH_<NAME>`` (upper case, ``-`` as ``_``), the TOML
file given by ``--config`` and the default below. A value that cannot be used
fails at start with a :class:`ConfigError` naming the option, where it came
from, and what would be accepted.

Kafka client settings that botwatch does not model (TLS, SASL, ...) pass
through from a ``[kafka]`` table in the TOML file or from environment
variables ``BOTWATCH_KAFKA_<SETTING>`` (``.`` as ``_``, e.g.
``BOTWATCH_KAFKA_SASL_PASSWORD`` for ``sasl.password``). They are never logged.
They also override the tuning botwatch's clients choose (``compression.type``,
``linger.ms``, ``fetch.wait.max.ms``, ...); the settings its delivery
guarantees rest on (:data:`OWNED_KAFKA_SETTINGS`) are botwatch's alone, and a
pass-through value for one fails at start.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable


class ConfigError(Exception):
    """A configuration value that botwatch cannot start with."""


#: librdkafka settings botwatch sets itself, for what its guarantees rest on (each client's group, commits through
#: transactions only, read_committed input, the co-partitioned assignment, end-of-partition events, idempotent or
#: transactional output), each with what to do instead of passing it through. Any other pass-through setting
#: overrides the clients' tuning.
OWNED_KAFKA_SETTINGS: dict[str, str] = {
    "bootstrap.servers": "set --bootstrap",
    "group.id": "set --group",
    "group.instance.id": "it is the consumer's transactional id: set --transactional-id",
    "transactional.id": "set --transactional-id",
    "auto.offset.reset": "set --offset-reset",
    "enable.auto.commit": "offsets are committed in the output's transactions",
    "enable.auto.offset.store": "offsets are committed in the output's transactions",
    "isolation.level": "botwatch reads committed records only",
    "partition.assignment.strategy": "tweets and labels of one partition number must go to one consumer",
    "enable.partition.eof": "the event-time alignment needs end-of-partition events",
    "enable.idempotence": "output is idempotent or transactional (--delivery)",
    "acks": "idempotent output is acknowledged by all in-sync replicas",
}


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str
    commands: tuple[str, ...] = ()
    check: Callable[[Any], bool] | None = None
    expect: str = ""

    @property
    def env(self) -> str:
        return "BOTWATCH_" + self.name.upper().replace("-", "_")


def _positive(v: float) -> bool:
    return v > 0


def _whole_ticks(v: float) -> bool:
    from consumer.detector import valid_tick

    return valid_tick(v)


def _non_negative(v: float) -> bool:
    return v >= 0


def _probability(v: float) -> bool:
    return 0.0 <= v <= 1.0


def _bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


ALL = ("broker", "topics", "consume", "generate", "replay", "evaluate", "bench", "convert")
KAFKA = ("topics", "consume", "generate", "replay", "bench")
DETECT = ("consume", "evaluate", "bench")

OPTIONS: tuple[Option, ...] = (
    Option("bootstrap", "127.0.0.1:9092", "Kafka bootstrap servers (host:port,...)", commands=ALL),
    Option("broker-dir", ".botwatch/kafka", "where the local broker keeps its data, jars and logs", commands=("broker",)),
    Option("tweets-topic", "tweets", "input topic of tweet events", commands=KAFKA + ("bench",)),
    Option("labels-topic", "labels", "input topic of review labels", commands=KAFKA),
    Option("flags-topic", "bot-flags", "output topic of bot flags", commands=KAFKA),
    Option("dlq-topic", "tweets.dlq", "dead-letter topic for undecodable input", commands=KAFKA),
    Option("partitions", 6, "partitions of tweets, labels and bot-flags", int, ("topics",), _positive, "a positive integer"),
    Option("group", "botwatch", "consumer group id", commands=("consume",)),
    Option("transactional-id", "", "transactional id prefix (default: the group id and a process-unique suffix)", commands=("consume",)),
    Option("metrics-port", 9108, "port of /metrics", int, ("consume",), lambda p: 0 <= p < 65536, "a port number 0-65535"),
    Option("metrics-addr", "127.0.0.1", "address /metrics binds to", commands=("consume",)),
    Option("batch-size", 1000, "messages per consume() call", int, ("consume",), _positive, "a positive integer"),
    Option("poll-timeout", 0.2, "seconds one consume() call may wait", float, ("consume",), _positive, "a positive number of seconds"),
    Option("checkpoint-interval", 1.0, "seconds between transaction commits (at least: the next starts once the "
           "previous has returned); flags become readable when committed, so a shorter interval gives sooner flags at "
           "a lower full-load rate (README, Latency)", float, ("consume",), _non_negative, "seconds >= 0"),
    Option("delivery", "exactly-once", "exactly-once (transactions) or at-least-once", commands=("consume", "bench"),
           check=lambda v: v in ("exactly-once", "at-least-once"), expect="exactly-once or at-least-once"),
    Option("offset-reset", "earliest", "where to start when the group has no committed offset or the broker no longer "
           "retains it: earliest (reprocess what is retained) or latest (skip to new input)", commands=("consume",),
           check=lambda v: v in ("earliest", "latest"), expect="earliest or latest"),
    Option("state-topic", "botwatch-state", "compacted changelog of account state", commands=KAFKA),
    Option("training-topic", "botwatch-training", "single-partition log of training examples", commands=KAFKA),
    Option("snapshot-dir", "", "directory of model snapshots (empty: no snapshots)", commands=("consume", "evaluate")),
    Option("snapshot-key", "", "key that signs model snapshots (HMAC-SHA256); empty: SHA-256 checksum only", commands=("consume", "evaluate")),
    Option("max-message-bytes", 1 << 20, "largest tweet message decoded; larger ones are dead-lettered", int, ("consume", "evaluate"), _positive, "a positive integer"),
    Option("model", "logreg", "model kind: logreg, arf (adaptive random forest) or hat (Hoeffding adaptive tree)", commands=DETECT,
           check=lambda v: v in ("logreg", "arf", "hat"), expect="one of logreg, arf, hat"),
    Option("review-threshold", 0.5, "score at or above which an account goes to review", float, DETECT, _probability, "a probability in [0, 1]"),
    Option("block-threshold", 0.9, "lowest score from which an account may be blocked; the threshold in force is the lowest "
           "score from there up at which the labelled window shows the target precision", float, DETECT, _probability,
           "a probability in [0, 1]"),
    Option("target-precision", 0.99, "precision at the block threshold the labelled window must show before blocking", float, DETECT, _probability, "a probability in [0, 1]"),
    Option("block-confidence", 0.95, "one-sided confidence of the lower bound on precision at the block threshold", float, DETECT,
           lambda v: 0.5 <= v < 1.0, "a probability in [0.5, 1)"),
    Option("tick", 5.0, "seconds of event time between scorings of changed accounts (at once only when every input partition is drained)", float, DETECT, _whole_ticks, "seconds > 0, a whole multiple of 1/1024 s (60, 5, 1, 0.25)"),
    Option("min-tweets", 1, "tweets an account needs before it is scored", int, DETECT, _positive, "a positive integer"),
    Option("min-block-tweets", 5, "tweets an account needs before it may be blocked (review needs --min-tweets)", int,
           DETECT, _positive, "a positive integer"),
    Option("min-labels", 20, "labels of each class the model needs before it may flag", int, DETECT, _non_negative, "an integer >= 0"),
    Option("quality-window", 5000, "labels the rolling quality figures and the block decision cover", int, DETECT, _positive, "a positive integer"),
    Option("account-ttl", 30 * 86400.0, "seconds of event time after which an idle account is dropped", float, DETECT, _positive, "seconds > 0"),
    Option("label-ttl", 7 * 86400.0, "seconds of event time a label for a never-seen account is kept", float, DETECT, _positive, "seconds > 0"),
    Option("drift-reference", "sliding", "drift reference window: sliding (the rows just before the live window) or "
           "fixed (the first rows after the warm-up)", commands=DETECT,
           check=lambda v: v in ("sliding", "fixed"), expect="sliding or fixed"),
    Option("drift-window", 5000, "scored rows in the drift reference and live windows, and between checks", int,
           DETECT, _positive, "a positive integer"),
    Option("drift-warmup", 10_000, "scored rows before drift is first checked", int, DETECT, _non_negative,
           "an integer >= 0"),
    Option("drift-psi-threshold", 0.25, "population stability index above which a feature or the score drifted",
           float, DETECT, _positive, "a positive number"),
    Option("drift-ks-threshold", 0.2, "Kolmogorov-Smirnov statistic above which a feature drifted", float, DETECT,
           lambda v: 0 < v <= 1, "a number in (0, 1]"),
    Option("print-flags", False, "print each flag to stdout as it is emitted", _bool, ("consume",)),
    Option("exit-when-idle", 0.0, "exit after this many seconds without input, counted from the end of the last work (0: run until stopped)", float, ("consume",), _non_negative, "seconds >= 0"),
    # evaluate reads files where generate counts: same option name, another command
    Option("tweets", "", "JSONL(.gz) file of tweets (required)", commands=("evaluate",)),
    Option("labels", "", "JSONL(.gz) file of labels", commands=("evaluate",)),
    Option("truth", "", "CSV of account_id,label for scoring the final actions", commands=("evaluate",)),
    Option("out", "", "output: a directory (evaluate, convert) or a JSONL(.gz) file instead of Kafka (generate)", commands=("generate", "evaluate", "convert")),
    Option("format", "v1", "tweet format written: v1 (API v1.1), v2 (API v2) or compact", commands=("generate",),
           check=lambda v: v in ("v1", "v2", "compact"), expect="one of v1, v2, compact"),
    Option("drift-at", -1, "tweet index from which bots change behaviour (-1: never)", int, ("generate",)),
    Option("speed", 0.0, "replay pace as a multiple of real time (0: as fast as possible)", float, ("replay",), _non_negative, "a factor >= 0"),
    Option("start-at", 0, "skip this many records of the merged input (resume)", int, ("replay",), _non_negative, "an integer >= 0"),
    Option("skip-bad", False, "skip input lines that are not JSON (counted) instead of stopping", _bool, ("replay",)),
    Option("progress", True, "show a progress bar on stderr", _bool, ("replay", "evaluate", "bench")),
    Option("labelled-fraction", 0.3, "fraction of accounts given a review label", float, ("convert",), _probability, "a fraction in [0, 1]"),
    Option("review-delay", 6 * 3600.0, "seconds between an account's first tweet and its review label", float, ("convert",), _non_negative, "seconds >= 0"),
    Option("events", 500_000, "tweets the benchmark preloads", int, ("bench",), _positive, "a positive integer"),
    Option("json", False, "print one JSON object instead of a table", _bool, ("bench",)),
    Option("accounts", 500, "accounts to simulate", int, ("generate",), _positive, "a positive integer"),
    Option("accounts", 140_000, "simulated population of the benchmark (140,000: about 104,000 of them tweet in "
           "500,000 tweets)", int, ("bench",), _positive, "a positive integer"),
    Option("restore-accounts", 1_000_000, "accounts the benchmark writes to a changelog and restores", int, ("bench",),
           _positive, "a positive integer"),
    Option("rounds", 3, "throughput runs of each consumer, in turn; their figures are the medians", int, ("bench",),
           _positive, "a positive integer"),
    Option("broker-dir", "", "where the bench's own broker keeps its logs, when it starts one (empty: in memory, "
           "/dev/shm, where 4 GiB are free; else the temporary directory)", commands=("bench",)),
    Option("bot-fraction", 0.2, "fraction of simulated accounts that are bots (any family)", float, ("generate",), _probability, "a fraction in [0, 1]"),
    Option("families", "", "share of bots per bot family, e.g. spam=0.5,amplifier=0.15,hashtag=0.15,fake_follower=0.1,"
           "social=0.1 (empty: this default)", commands=("generate",)),
    Option("family-rates", "", "mean tweets per account per day, per family, e.g. human=10,spam=55,amplifier=80,"
           "hashtag=40,fake_follower=0.5,social=15 (empty: these defaults)", commands=("generate",)),
    Option("tweets", 20000, "tweets to generate", int, ("generate",), _positive, "a positive integer"),
    Option("label-fraction", 0.3, "fraction of accounts that get a review label", float, ("generate",), _probability, "a fraction in [0, 1]"),
    Option("label-delay", 6 * 3600.0, "seconds between an account's first tweet and its review label", float, ("generate",), _non_negative, "seconds >= 0"),
    Option("seed", 7, "random seed", int, ("generate",)),
    Option("rate", 0.0, "tweets per second to send (0: as fast as possible)", float, ("generate",), _non_negative, "a rate >= 0"),
    Option("truth-out", "", "write account_id,label of every simulated account to this CSV", commands=("generate",)),
)


SECRET_OPTIONS = frozenset({"snapshot-key"})


@dataclass
class Settings:
    """Resolved options, reachable as attributes (``settings.batch_size``)."""

    values: dict[str, Any]
    kafka: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        try:
            return self.values[item.replace("_", "-")]
        except KeyError:
            raise AttributeError(item) from None

    def client_config(self, tuning: dict[str, Any] | None = None, **owned: Any) -> dict[str, Any]:
        """librdkafka settings: a client's ``tuning``, then bootstrap and the pass-through settings (which override
        the tuning), then what the client sets itself (``owned``: settings the pass-through may not hold)."""
        return {**(tuning or {}), "bootstrap.servers": self.values["bootstrap"], **self.kafka, **owned}

    def redacted(self) -> dict[str, Any]:
        """What may be logged: options, secrets masked, and the *names* of pass-through settings."""
        masked = {k: ("***" if k in SECRET_OPTIONS and v else v) for k, v in self.values.items()}
        return {**masked, "kafka": sorted(self.kafka)}


def options_for(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Declare ``command``'s options; defaults stay None so resolve() sees what was given."""
    parser.add_argument("--config", help="TOML file with option values and a [kafka] table")
    for o in options_for(command):
        extra = {"action": argparse.BooleanOptionalAction} if o.type is _bool else {}
        parser.add_argument(
            "--" + o.name,
            dest=o.name.replace("-", "_"),
            default=None,
            help=f"{o.help} (env {o.env}, default {o.default!r})",
            **extra,
        )


def _convert(o: Option, raw: Any, origin: str) -> Any:
    try:
        value = raw if (type(raw) is type(o.default) and not isinstance(raw, str)) else o.type(raw)
        if isinstance(o.default, float) and isinstance(value, int):
            value = float(value)
    except (TypeError, ValueError):
        kind = o.expect or getattr(o.type, "__name__", "value")
        raise ConfigError(f"--{o.name}: {raw!r} from {origin} is not {kind}") from None
    if o.check is not None and not o.check(value):
        raise ConfigError(f"--{o.name}: {value!r} from {origin} must be {o.expect}")
    return value


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config: file {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--config: {path!r} is not valid TOML: {e}") from None


def resolve(command: str, args: argparse.Namespace | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Resolve ``command``'s options: command line, environment, TOML file, default."""
    environ = dict(os.environ if environ is None else environ)
    given = vars(args) if args is not None else {}
    config_path = given.get("config") or environ.get("BOTWATCH_CONFIG")
    toml = _read_toml(config_path) if config_path else {}
    known = {o.name for o in options_for(command)} | {"kafka"}
    unknown = [k for k in toml if k not in known and k.replace("_", "-") not in known and k not in {o.name for o in OPTIONS}]
    if unknown:
        raise ConfigError(f"--config {config_path}: unknown option(s) {', '.join(sorted(unknown))}")

    values: dict[str, Any] = {}
    for o in options_for(command):
        cli = given.get(o.name.replace("-", "_"))
        if cli is not None:
            values[o.name] = _convert(o, cli, "the command line")
        elif o.env in environ:
            values[o.name] = _convert(o, environ[o.env], f"${o.env}")
        elif o.name in toml or o.name.replace("-", "_") in toml:
            raw = toml.get(o.name, toml.get(o.name.replace("-", "_")))
            values[o.name] = _convert(o, raw, f"{config_path}")
        else:
            values[o.name] = o.default

    kafka = {str(k): str(v) for k, v in dict(toml.get("kafka", {})).items()}
    for key, value in environ.items():
        if key.startswith("BOTWATCH_KAFKA_"):
            kafka[key[len("BOTWATCH_KAFKA_"):].lower().replace("_", ".")] = value
    owned = sorted(set(kafka) & set(OWNED_KAFKA_SETTINGS))
    if owned:
        raise ConfigError("Kafka pass-through settings ([kafka], BOTWATCH_KAFKA_*) that botwatch sets itself: "
                          + "; ".join(f"{k} ({OWNED_KAFKA_SETTINGS[k]})" for k in owned) + ". Remove them.")
    if "review-threshold" in values and values["review-threshold"] > values["block-threshold"]:
        raise ConfigError(
            f"--review-threshold {values['review-threshold']} is above --block-threshold "
            f"{values['block-threshold']}: review must start at or below block"
        )
    return Settings(values, kafka)
