"""Option resolution: command line over environment over TOML file over default."""

from __future__ import annotations

import argparse
import os

import pytest

from consumer import config
from support import botwatch


def parse(command: str, *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    config.add_arguments(p, command)
    return p.parse_args(list(argv))


def test_precedence_command_line_then_environment_then_file_then_default(tmp_path):
    toml = tmp_path / "botwatch.toml"
    toml.write_text('batch_size = 300\nmin-tweets = 9\ngroup = "from-file"\n[kafka]\n"sasl.password" = "s3cret"\n')
    env = {"BOTWATCH_BATCH_SIZE": "200", "BOTWATCH_MIN_TWEETS": "7"}
    s = config.resolve("consume", parse("consume", "--config", str(toml), "--batch-size", "100"), env)
    assert s.batch_size == 100  # command line
    assert s.min_tweets == 7  # environment
    assert s.group == "from-file"  # file
    assert s.metrics_port == 9108  # default
    assert s.kafka == {"sasl.password": "s3cret"}


def test_kafka_pass_through_from_environment_and_never_in_redacted_view():
    s = config.resolve("consume", parse("consume"), {"BOTWATCH_KAFKA_SASL_PASSWORD": "hunter2",
                                                      "BOTWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert s.client_config()["sasl.password"] == "hunter2"
    assert s.client_config()["security.protocol"] == "SASL_SSL"
    assert "hunter2" not in repr(s.redacted())


def test_kafka_pass_through_may_not_set_what_the_guarantees_rest_on(tmp_path):
    toml = tmp_path / "botwatch.toml"
    toml.write_text('[kafka]\n"group.id" = "other"\n"client.id" = "botwatch"\n')
    with pytest.raises(config.ConfigError) as err:
        config.resolve("consume", parse("consume", "--config", str(toml)),
                       {"BOTWATCH_KAFKA_ISOLATION_LEVEL": "read_uncommitted"})
    message = str(err.value)
    assert "group.id (set --group)" in message and "isolation.level (botwatch reads committed" in message
    assert "client.id" not in message
    for setting in config.OWNED_KAFKA_SETTINGS:  # every one, from either source, in every command
        env = {"BOTWATCH_KAFKA_" + setting.upper().replace(".", "_"): "x"}
        with pytest.raises(config.ConfigError, match=setting.replace(".", r"\.")):
            config.resolve("generate", parse("generate"), env)


def test_kafka_pass_through_overrides_a_clients_tuning_but_not_what_it_sets_itself():
    s = config.resolve("consume", parse("consume"), {"BOTWATCH_KAFKA_COMPRESSION_TYPE": "zstd",
                                                      "BOTWATCH_KAFKA_CLIENT_ID": "bw"})
    conf = s.client_config({"compression.type": "lz4", "linger.ms": 5}, **{"transactional.id": "t"})
    assert conf == {"compression.type": "zstd", "linger.ms": 5, "bootstrap.servers": "127.0.0.1:9092",
                    "client.id": "bw", "transactional.id": "t"}


@pytest.mark.parametrize("command", ["consume", "generate"])
def test_a_setting_librdkafka_refuses_stops_the_command_with_a_configuration_error(command):
    # every client gets the pass-through settings; the first one made refuses the value, before any connection
    env = {**os.environ, "BOTWATCH_KAFKA_COMPRESSION_TYPE": "bogus", "BOTWATCH_BOOTSTRAP": "127.0.0.1:1"}
    options = ["--metrics-port", "0"] if command == "consume" else ["--tweets", "10"]
    done = botwatch(command, *options, env=env, check=False, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert (f'botwatch {command}: configuration error: librdkafka refused a client setting: Invalid value "bogus" '
            f'for configuration property "compression.codec"') in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--batch-size", "0"], {}, "--batch-size: 0 from the command line must be a positive integer"),
        ([], {"BOTWATCH_METRICS_PORT": "http"}, "--metrics-port: 'http' from $BOTWATCH_METRICS_PORT is not a port number"),
        (["--review-threshold", "0.95"], {}, "--review-threshold 0.95 is above --block-threshold 0.9"),
        (["--delivery", "maybe-once"], {}, "must be exactly-once or at-least-once"),
        (["--model", "svm"], {}, "must be one of logreg, arf, hat"),
        (["--tick", "0.1"], {}, "--tick: 0.1 from the command line must be seconds > 0, a whole multiple of 1/1024 s"),
    ],
)
def test_bad_values_fail_at_start_naming_option_origin_and_fix(argv, env, message):
    with pytest.raises(config.ConfigError) as err:
        config.resolve("consume", parse("consume", *argv), env)
    assert message in str(err.value)


def test_config_file_errors_are_clear(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.resolve("consume", parse("consume", "--config", str(tmp_path / "missing.toml")), {})
    bad = tmp_path / "bad.toml"
    bad.write_text("batch_size = = 3")
    with pytest.raises(config.ConfigError, match="is not valid TOML"):
        config.resolve("consume", parse("consume", "--config", str(bad)), {})
    typo = tmp_path / "typo.toml"
    typo.write_text("bach_size = 3")
    with pytest.raises(config.ConfigError, match="unknown option.*bach_size"):
        config.resolve("consume", parse("consume", "--config", str(typo)), {})


def test_booleans_from_flags_and_environment():
    assert config.resolve("consume", parse("consume", "--print-flags"), {}).print_flags is True
    assert config.resolve("consume", parse("consume"), {"BOTWATCH_PRINT_FLAGS": "yes"}).print_flags is True
    with pytest.raises(config.ConfigError, match="BOTWATCH_PRINT_FLAGS"):
        config.resolve("consume", parse("consume"), {"BOTWATCH_PRINT_FLAGS": "perhaps"})


def test_drift_options_reach_the_monitor():
    from consumer.detector import build_detector

    detector = build_detector(config.resolve("evaluate", parse("evaluate", "--drift-window", "700", "--drift-warmup",
                                                               "0", "--drift-reference", "fixed",
                                                               "--drift-psi-threshold", "0.4"), {}))
    drift = detector.drift
    assert (drift.window_size, drift.reference_size, drift.check_every) == (700, 700, 700)
    assert (drift.warmup, drift.reference, drift.psi_threshold) == (0, "fixed", 0.4)
    assert "hour_entropy" not in drift.monitored
