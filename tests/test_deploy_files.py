"""Static checks of deploy/: promtool on the rules and the Prometheus config, the
Grafana dashboard's shape, every metric name against consumer/metrics.py, and
the cross-references of compose, Dockerfile and Kubernetes files.

Helpers used by test_monitoring.py (which runs the same queries against a real
Prometheus) live here too: the queries of the dashboard and the rules, and the
metric names and selectors inside a PromQL expression.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from consumer import cli, config
from consumer.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
PROVISIONING = DEPLOY / "grafana" / "provisioning"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"

#: Series Prometheus makes itself rather than reading them from /metrics.
PROMETHEUS_SERIES = {"up"}

#: Grafana's built-in variables, with the values the live test substitutes.
GRAFANA_MACROS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
_PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
                    "group_left", "group_right", "inf", "nan", "atan2"}


# ----------------------------------------------------------------- helpers


def require_tool(name: str) -> str:
    """The path of a Prometheus tool; a missing one is a failure, not a skip: CI installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH. Install Debian's `prometheus` package "
                    f"(apt-get install prometheus), which provides prometheus and promtool.", pytrace=False)
    return path


def exposed_metric_names() -> set[str]:
    """Every series name `botwatch consume` can expose, from the registry of consumer/metrics.py."""
    names = set()
    for family in Metrics().registry.collect():
        if family.type not in _SAMPLE_SUFFIXES:
            raise AssertionError(f"metric {family.name} has type {family.type}: teach this test its suffixes")
        names.update(family.name + suffix for suffix in _SAMPLE_SUFFIXES[family.type])
    return names


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or label names)."""
    text = _without_strings(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.:$])[a-zA-Z_:][\w:]*", text):
        word = match.group()
        if text[match.end():].lstrip().startswith("(") or word.lower() in _PROMQL_KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names


def vector_selectors(expr: str) -> set[str]:
    """The vector selectors of a PromQL expression, with their label matchers: ``up{job="x"}``."""
    selectors = set()
    for name in metric_names(expr):
        pattern = rf'(?<![\w:]){re.escape(name)}\s*(\{{(?:[^}}"]|"(?:[^"\\]|\\.)*")*\}})?'
        selectors.update(name + (m.group(1) or "") for m in re.finditer(pattern, expr))
    return selectors


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_exprs() -> list[tuple[str, str]]:
    """(rule name, expression) of every alerting and recording rule."""
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included."""
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title / refId, expression) of every query of every panel."""
    return [(f"{panel['title']} / {target['refId']}", target["expr"])
            for panel in dashboard_panels(dashboard) if panel["type"] != "row"
            for target in panel.get("targets", [])]


def concrete_query(expr: str, variables: dict[str, str]) -> str:
    """A dashboard query with Grafana's macros and the given template variables filled in."""
    values = {**GRAFANA_MACROS, **variables}

    def substitute(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", substitute, expr)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _k8s_documents() -> dict[str, dict]:
    documents = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and doc["kind"] != "Kustomization":
                documents[doc["kind"]] = doc
    return documents


def _resolve_consume(environ: dict[str, str]) -> config.Settings:
    return config.resolve("consume", environ=environ)


# ----------------------------------------------------------- Prometheus


def _promtool(*args: str) -> None:
    result = subprocess.run([require_tool("promtool"), *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def test_alert_rules_pass_promtool_check():
    _promtool("check", "rules", str(ALERT_RULES))


def test_alert_rules_pass_their_unit_tests():
    _promtool("test", "rules", str(ALERT_TESTS))


def test_prometheus_config_passes_promtool_check():
    _promtool("check", "config", str(PROMETHEUS_CONFIG))


def test_prometheus_scrapes_the_consumers_default_metrics_port_and_loads_the_alerts():
    prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert [PROMETHEUS_CONFIG.parent / f for f in prometheus["rule_files"]] == [ALERT_RULES]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert "botwatch" in jobs, "the alerts select up{job=\"botwatch\"}"
    targets = [t for sc in jobs["botwatch"]["static_configs"] for t in sc["targets"]]
    default_port = next(o.default for o in config.OPTIONS if o.name == "metrics-port")
    assert targets == [f"127.0.0.1:{default_port}"]


def test_every_alert_tells_on_call_how_bad_it_is_what_it_means_and_what_to_do():
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        for annotation in ("summary", "description", "runbook"):
            assert rule["annotations"].get(annotation, "").strip(), f"{rule['alert']} has no {annotation}"


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_quiet():
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in alert_rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case.get("exp_alerts") for case in mine), f"no case where {rule['alert']} fires"
        assert any(not case.get("exp_alerts") for case in mine), f"no case where {rule['alert']} stays quiet"


def test_every_metric_in_the_rules_is_one_botwatch_exposes():
    known = exposed_metric_names() | PROMETHEUS_SERIES
    for name, expr in rule_exprs():
        unknown = metric_names(expr) - known
        assert not unknown, f"rule {name} uses {sorted(unknown)}, which consumer/metrics.py does not expose"


# -------------------------------------------------------------- Grafana


def test_dashboard_is_a_grafana_dashboard_on_a_prometheus_datasource_variable():
    dashboard = load_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_has_queries_on_the_prometheus_datasource():
    for panel in dashboard_panels(load_dashboard()):
        if panel["type"] == "row":
            continue
        targets = panel.get("targets", [])
        assert targets, f"panel {panel['title']!r} has no targets"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"panel {panel['title']!r} repeats a refId"
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty query"
            uid = target.get("datasource", panel.get("datasource", {})).get("uid")
            assert uid in ("${DS_PROMETHEUS}", "prometheus"), f"panel {panel['title']!r} queries datasource {uid}"


def test_panels_fit_the_grid_without_overlapping():
    cells = {}
    for panel in dashboard_panels(load_dashboard()):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_every_query_uses_only_defined_variables_and_exposed_metrics():
    dashboard = load_dashboard()
    variables = {v["name"]: "x" for v in dashboard["templating"]["list"]}
    known = exposed_metric_names() | PROMETHEUS_SERIES
    for where, expr in dashboard_queries(dashboard):
        concrete = concrete_query(expr, variables)
        assert "$" not in concrete, f"{where}: {concrete}"
        unknown = metric_names(expr) - known
        assert not unknown, f"{where} uses {sorted(unknown)}, which consumer/metrics.py does not expose"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            metric = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["definition"]).group(1)
            assert metric in known, f"variable {variable['name']} lists the values of unknown {metric}"


def test_dashboard_shows_what_on_call_needs():
    exprs = [expr for _, expr in dashboard_queries(load_dashboard())]
    used = set().union(*(metric_names(e) for e in exprs))
    required = {
        "botwatch_events_consumed_total", "botwatch_consumer_lag_messages", "botwatch_flags_emitted_total",
        "botwatch_model_precision", "botwatch_model_recall", "botwatch_model_roc_auc",
        "botwatch_model_precision_at_block", "botwatch_drift_detections_total", "botwatch_feature_psi",
        "botwatch_events_invalid_total", "botwatch_accounts_tracked",
    }
    assert required <= used, f"no panel shows {sorted(required - used)}"
    for histogram in ("botwatch_batch_duration_seconds", "botwatch_event_to_flag_latency_seconds"):
        for q in ("0.5", "0.99"):
            assert any(f"histogram_quantile({q}," in e and f"{histogram}_bucket" in e for e in exprs), \
                f"no p{q} of {histogram}"


def test_grafana_provisioning_matches_compose():
    compose = _compose()
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "--config.file=/etc/prometheus/prometheus.yml" in compose["services"]["prometheus"]["command"]
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "botwatch.yaml").read_text())["providers"][0]
    mounts = dict(_bind_mounts(compose["services"]["grafana"]))
    assert mounts["/etc/grafana/provisioning"] == PROVISIONING
    dashboard_target = next(t for t, src in mounts.items() if src == DASHBOARD)
    assert Path(dashboard_target).parent == Path(provider["options"]["path"])


# -------------------------------------------------------------- compose


def _bind_mounts(service: dict) -> list[tuple[str, Path]]:
    """(container path, host path) of a compose service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((target, (DEPLOY / source).resolve()))
    return mounts


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_has_the_whole_stack():
    services = _compose()["services"]
    assert {"kafka", "topics", "generate", "consume", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    env = _environment(services["kafka"])
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16, "CLUSTER_ID must be a base64 UUID"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1", "one broker: transactions need RF 1"


def test_compose_files_and_builds_exist():
    for name, service in _compose()["services"].items():
        for _, source in _bind_mounts(service):
            assert source.exists(), f"{name} mounts {source}, which does not exist"
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE, name


def test_compose_prometheus_reaches_the_consumer_and_loads_the_rules():
    services = _compose()["services"]
    prometheus, consume = services["prometheus"], services["consume"]
    mounts = dict(_bind_mounts(prometheus))
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_CONFIG
    rule_files = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["rule_files"]
    for rule_file in rule_files:
        assert mounts[f"/etc/prometheus/{rule_file}"] == ALERT_RULES
    # the scrape config's 127.0.0.1 target is the consumer only inside a shared network namespace
    assert consume["network_mode"] == "service:prometheus"
    scraped_port = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"][0]["static_configs"][0]["targets"][0]
    settings = _resolve_consume(_environment(consume))
    assert scraped_port == f"127.0.0.1:{settings.metrics_port}"
    assert settings.metrics_addr in ("0.0.0.0", "127.0.0.1")
    published = [p.rsplit(":", 1)[1] for p in prometheus["ports"]]
    assert str(settings.metrics_port) in published and "9090" in published


def test_compose_botwatch_commands_and_settings_are_valid():
    services = _compose()["services"]
    kafka_env = _environment(services["kafka"])
    advertised = {listener.split("://")[1] for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for name in ("topics", "generate", "consume"):
        service = services[name]
        args = cli.parser().parse_args(service["command"])  # unknown options exit here
        env = _environment(service)
        unknown = [k for k in env if k.startswith("BOTWATCH_") and not k.startswith("BOTWATCH_KAFKA_")
                   and k not in {o.env for o in config.options_for(args.command)} | {"BOTWATCH_CONFIG"}]
        assert not unknown, f"{name} sets {unknown}, which `botwatch {args.command}` does not read"
        settings = config.resolve(args.command, args, environ=env)
        assert settings.bootstrap in advertised, f"{name} connects to {settings.bootstrap}, not a Kafka listener"
    health = " ".join(services["consume"]["healthcheck"]["test"])
    assert "/readyz" in health and ":9108/" in health


def test_dockerfile_builds_the_package_from_files_that_exist():
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())  # continuation lines joined
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert [line for line in lines if line.startswith("FROM ")] == ["FROM python:3.11-slim AS build",
                                                                      "FROM python:3.11-slim"]
    copied = set()
    for line in lines:
        if line.startswith("COPY ") and not line.startswith("COPY --from="):
            for source in shlex.split(line)[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
                copied.add(source)
    # the compiled per-event code: its build script, and a compiler in the build stage
    assert "setup.py" in copied and "consumer" in copied
    assert any(line.startswith("RUN apt-get") and "gcc" in line for line in lines)
    assert "assert all(compiled_parts().values())" in text, "the image must refuse to be built without the C"
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT")).split(None, 1)[1])
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[0] in scripts


# ----------------------------------------------------------- Kubernetes


def test_kustomization_lists_files_that_exist():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource


def test_k8s_configmap_is_a_botwatch_config_that_consume_accepts(tmp_path):
    docs = _k8s_documents()
    toml_text = docs["ConfigMap"]["data"]["botwatch.toml"]
    config_file = tmp_path / "botwatch.toml"
    config_file.write_text(toml_text)
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container["env"] if "value" in e}
    assert env["BOTWATCH_CONFIG"] == "/etc/botwatch/botwatch.toml"
    env["BOTWATCH_CONFIG"] = str(config_file)
    settings = _resolve_consume(env)  # raises ConfigError on an unknown or bad option
    assert settings.metrics_addr == "0.0.0.0"
    assert settings.kafka, "Kafka pass-through settings belong in the [kafka] table"
    assert settings.target_precision == 0.99, "alerts.yml's BotwatchBlockPrecisionBelowTarget assumes 0.99"
    names = {o.env for o in config.options_for("consume")} | {"BOTWATCH_CONFIG"}
    for variable in container["env"]:
        assert variable["name"] in names or variable["name"].startswith("BOTWATCH_KAFKA_"), variable["name"]


def test_k8s_probes_annotations_and_service_point_at_the_metrics_port(tmp_path):
    docs = _k8s_documents()
    deployment, service, monitor = docs["Deployment"], docs["Service"], docs["ServiceMonitor"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    config_file = tmp_path / "botwatch.toml"
    config_file.write_text(docs["ConfigMap"]["data"]["botwatch.toml"])
    port = _resolve_consume({"BOTWATCH_CONFIG": str(config_file)}).metrics_port
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == port
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert service["metadata"]["name"] == "botwatch", "the ServiceMonitor's job label is the Service name"
