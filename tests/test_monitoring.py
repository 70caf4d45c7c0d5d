"""The dashboard and the alert rules against a real Prometheus scraping a real
``botwatch consume`` on a real broker: every panel query and every alert
expression must parse, and must find the series it is about.

An alert expression is a condition, empty while all is well, so for alerts the
test asks that the full expression parses and that each vector selector in it
returns data; whether each alert fires when it should is promtool's job
(deploy/prometheus/alerts_test.yml). Prometheus also evaluates the rules itself
here (rule_files = alerts.yml), and every rule must come out healthy.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from confluent_kafka import Producer

from consumer.kafka.broker import free_port
from support import REPO, botwatch, botwatch_env, wait_for
from test_deploy_files import (ALERT_RULES, PROMETHEUS_CONFIG, concrete_query, dashboard_queries, load_dashboard,
                               require_tool, rule_exprs, vector_selectors)

pytestmark = pytest.mark.broker

TWEETS, ACCOUNTS = 8000, 500
SCRAPE_INTERVAL = "1s"


class Background:
    """A long-running process of the test, its stderr kept in a file for failure messages."""

    def __init__(self, name: str, args: list[str], log_file, **popen):
        self.name, self.log_file = name, log_file
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log_file.open("w"), **popen)

    def alive(self) -> bool:
        """True while running; a process that died is a failure, with its log."""
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")
        return True

    def log(self) -> str:
        return self.log_file.read_text()[-3000:]

    def stop(self, timeout: float) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM") from None
        return self.process.returncode


class Prometheus(Background):
    """A real Prometheus server on a loopback port, with its own data directory."""

    def __init__(self, config_file, data_dir, log_file):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__("prometheus", [
            require_tool("prometheus"), f"--config.file={config_file}", f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"], log_file)

    def get(self, path: str, **params) -> dict:
        """A JSON answer of the HTTP API; errors (a query that does not parse) come back as data too."""
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:  # 400/422: {"status": "error", "error": ...}
            return json.load(e)

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def has_data(self, expr: str) -> bool:
        answer = self.query(expr)
        return answer["status"] == "success" and bool(answer["data"]["result"])

    def ready(self) -> bool:
        self.alive()
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


def prometheus_config(metrics_port: int) -> dict:
    """deploy/prometheus/prometheus.yml, pointed at the test's consumer and made fast."""
    cfg = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    cfg["global"].update(scrape_interval=SCRAPE_INTERVAL, evaluation_interval=SCRAPE_INTERVAL, scrape_timeout=SCRAPE_INTERVAL)
    cfg["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in cfg["rule_files"]]
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "botwatch"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    return cfg


def produce_malformed_tweet(bootstrap: str, topic: str) -> None:
    """One message that is not JSON, so the dead-letter metrics have a series."""
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"{this is not json", b"malformed")
    assert producer.flush(30) == 0, "the malformed message was not delivered"


def rules_evaluated(prometheus: Prometheus) -> list[dict] | None:
    rules = [r for g in prometheus.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
    return rules if rules and all(r["health"] != "unknown" for r in rules) else None


def check_query(prometheus: Prometheus, where: str, expr: str, failures: list[str], need_data: bool = True) -> None:
    answer = prometheus.query(expr)
    if answer["status"] != "success":
        failures.append(f"{where}: does not parse: {answer.get('error')}\n    {expr}")
    elif need_data and not answer["data"]["result"]:
        failures.append(f"{where}: no data\n    {expr}")


def test_every_dashboard_query_and_alert_expression_finds_its_series(kafka_bootstrap, topics, tmp_path):
    require_tool("prometheus")
    env = botwatch_env(kafka_bootstrap, topics)
    botwatch("topics", "create", env=env)

    metrics_port = free_port()
    consumer = Background("botwatch consume", [sys.executable, "-m", "consumer.cli", "consume",
                                               "--metrics-port", str(metrics_port)],
                          tmp_path / "consume.log", env=env, cwd=REPO)
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(prometheus_config(metrics_port)))
    prometheus = Prometheus(config_file, tmp_path / "data", tmp_path / "prometheus.log")
    try:
        wait_for(prometheus.ready, 30, "Prometheus to start")
        wait_for(lambda: consumer.alive() and prometheus.has_data('up{job="botwatch"} == 1'), 30,
                 "Prometheus to scrape the consumer")

        produce_malformed_tweet(kafka_bootstrap, topics["tweets"])
        botwatch("generate", "--tweets", str(TWEETS), "--accounts", str(ACCOUNTS), "--label-fraction", "0.5",
                 "--label-delay", "600", "--drift-at", str(TWEETS // 2), "--seed", "3", env=env)
        consumed = f'sum(botwatch_events_consumed_total{{topic="{topics["tweets"]}"}}) >= {TWEETS + 1}'
        wait_for(lambda: consumer.alive() and prometheus.has_data(consumed), 60,
                 f"Prometheus to see all {TWEETS + 1} tweet messages consumed")
        # a rate needs two samples of a series, and a fast consumer can make a counter's series (created at its
        # first increment) and finish it between two scrapes
        counters = ("botwatch_events_consumed_total", "botwatch_flags_emitted_total", "botwatch_labels_total")
        wait_for(lambda: all(prometheus.has_data(f"min(count_over_time({c}[1m])) >= 2") for c in counters), 30,
                 "two samples of every series of the counters the rate panels read")
        failures: list[str] = []
        try:  # librdkafka reports lag in its statistics, every 5 s
            wait_for(lambda: prometheus.has_data("botwatch_consumer_lag_messages"), 20, "a consumer lag series")
        except AssertionError as e:  # go on: the report below names every query this breaks
            failures.append(f"{e} (librdkafka's consumer_lag stays -1 when offsets are committed through "
                            f"a transaction; its consumer_lag_stored is the lag behind what was consumed)")
        rules = wait_for(lambda: rules_evaluated(prometheus), 30, "Prometheus to evaluate every rule")

        instance = f"127.0.0.1:{metrics_port}"
        dashboard = load_dashboard()
        for where, expr in dashboard_queries(dashboard):
            query = concrete_query(expr, {"instance": instance})
            check_query(prometheus, f"panel {where}", query, failures, need_data=True)
        listed = prometheus.get("/api/v1/label/instance/values", **{"match[]": "botwatch_model_info"})["data"]
        if instance not in listed:
            failures.append(f"variable $instance would list {listed}, not {instance}")

        for name, expr in rule_exprs():
            check_query(prometheus, f"rule {name}", expr, failures, need_data=False)  # a quiet alert is empty
            for selector in sorted(vector_selectors(expr)):
                check_query(prometheus, f"rule {name} selector", selector, failures, need_data=True)
        for rule in rules:
            if rule["health"] != "ok":
                failures.append(f"Prometheus evaluates rule {rule['name']} as {rule['health']}: {rule.get('lastError')}")
        loaded = {r["name"] for r in rules}
        expected = {name for name, _ in rule_exprs()}
        if loaded != expected:
            failures.append(f"Prometheus loaded rules {sorted(loaded)} from {ALERT_RULES}, expected {sorted(expected)}")

        assert not failures, "\n".join(failures)
    finally:
        prometheus.stop(30)
        exit_code = consumer.stop(60)
    assert exit_code == 0, f"botwatch consume exited {exit_code} on SIGTERM:\n{consumer.log()}"
