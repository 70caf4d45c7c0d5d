"""Prometheus metrics of the detection service, and the /metrics, /healthz, /readyz server.

Conventions: prefix ``botwatch_``, base units (seconds), ``_total`` on
counters, and never an account id in a label.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from prometheus_client.exposition import MetricsHandler

from consumer.decode import REASONS

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every metric the service exports, in one registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.events_consumed = Counter("botwatch_events_consumed_total", "Messages consumed, by topic", ["topic"], registry=r)
        self.events_invalid = Counter("botwatch_events_invalid_total", "Messages dead-lettered, by reason", ["reason"], registry=r)
        for reason in REASONS:  # every series exists from the start, so rate() sees the first one
            self.events_invalid.labels(reason)
        self.tweets = Counter("botwatch_tweets_total", "Distinct tweets folded into account features", registry=r)
        self.events_duplicate = Counter(
            "botwatch_events_duplicate_total",
            "Tweets ignored: same tweet id seen before, or older than the account's 8 newest tweets "
            "(which cannot be told from a duplicate)", registry=r)
        self.flags = Counter("botwatch_flags_emitted_total", "Flags emitted, by action", ["action"], registry=r)
        self.labels = Counter("botwatch_labels_total", "Review labels applied, by label", ["label"], registry=r)
        self.batch_seconds = Histogram("botwatch_batch_duration_seconds", "Time to process one batch", buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("botwatch_batch_size_messages", "Messages per batch", buckets=(1, 10, 100, 500, 1000, 5000), registry=r)
        self.flag_latency = Histogram(
            "botwatch_event_to_flag_latency_seconds",
            "From the fetch of the tweet that caused a flag to the flag's production",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.accounts = Gauge("botwatch_accounts_tracked", "Accounts held in memory", registry=r)
        self.lag = Gauge("botwatch_consumer_lag_messages", "Messages behind the partition's end", ["topic", "partition"], registry=r)
        self.model_examples = Gauge("botwatch_model_examples", "Labelled examples the model has learned, by label", ["label"], registry=r)
        self.precision = Gauge("botwatch_model_precision", "Rolling precision at the review threshold (prequential)", registry=r)
        self.recall = Gauge("botwatch_model_recall", "Rolling recall at the review threshold (prequential)", registry=r)
        self.roc_auc = Gauge("botwatch_model_roc_auc", "Rolling ROC AUC (prequential)", registry=r)
        self.precision_at_block = Gauge("botwatch_model_precision_at_block", "Rolling precision at the block threshold (prequential)", registry=r)
        self.block_support = Gauge("botwatch_model_block_support",
                                   "Labelled accounts in the quality window at or above the block threshold", registry=r)
        self.block_threshold = Gauge(
            "botwatch_block_threshold",
            "Score at and above which the model blocks: the lowest one whose precision over the quality window meets "
            "the target, never below the configured --block-threshold (which it reads until one does)", registry=r)
        self.target_precision = Gauge("botwatch_target_precision", "Configured precision target at the block threshold",
                                      registry=r)
        self.examples_late = Counter(
            "botwatch_examples_late_total",
            "Training examples that arrived after the model had learned past their event time (another instance's "
            "clock said it could); each is learned at the next tick end, out of the canonical order", registry=r)
        self.last_poll = Gauge("botwatch_last_poll_timestamp_seconds", "Wall-clock time the consume loop last polled Kafka",
                               registry=r)
        self.blocking_enabled = Gauge("botwatch_blocking_enabled", "1 while the model has earned the right to block", registry=r)
        self.model_info = Info("botwatch_model", "The model in use", registry=r)
        self.drift_detections = Counter(
            "botwatch_drift_detections_total", "Drift detections, by detector and feature (or 'error' / 'score')",
            ["detector", "feature"], registry=r)
        self.feature_psi = Gauge("botwatch_feature_psi", "Population stability index of a feature, live window against reference",
                                 ["feature"], registry=r)
        self.score_psi = Gauge("botwatch_score_psi", "Population stability index of the score distribution", registry=r)
        self.last_label_time = Gauge("botwatch_last_label_timestamp_seconds", "Wall-clock time the last label was applied", registry=r)
        self.commits = Counter("botwatch_checkpoints_total", "Transactions committed (flags, dead letters and offsets)", registry=r)
        self.commit_seconds = Histogram(
            "botwatch_checkpoint_commit_seconds",
            "From sending a checkpoint's offsets to its commit's return (the loop goes on meanwhile)",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.ready = False

    def declare_drift_series(self, features) -> None:
        """Create every drift series up front (counters at 0, PSI unknown until the first check), so
        dashboards and increase() see the first detection rather than a series appearing from nowhere."""
        self.drift_detections.labels("adwin", "error")
        self.drift_detections.labels("score_psi", "score")
        for name in features:
            self.drift_detections.labels("psi", name)
            self.drift_detections.labels("ks", name)
            self.feature_psi.labels(name).set(float("nan"))

    def on_stats(self, stats_json: str) -> None:
        """librdkafka statistics callback: consumer lag per partition."""
        stats = orjson.loads(stats_json)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                # consumer_lag counts from offsets committed outside transactions; ours go through them
                lag = p.get("consumer_lag_stored", -1)
                if partition != "-1" and lag >= 0:
                    self.lag.labels(topic, partition).set(lag)

    def serve(self, addr: str, port: int) -> ThreadingHTTPServer:
        """Serve /metrics, /healthz (alive) and /readyz (partitions assigned) on a daemon thread."""
        metrics = self

        class Handler(MetricsHandler):
            registry = metrics.registry

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/healthz":
                    self._plain(200, b"ok\n")
                elif self.path == "/readyz":
                    self._plain(200, b"ready\n") if metrics.ready else self._plain(503, b"not ready\n")
                else:
                    super().do_GET()

            def _plain(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer((addr, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return server
