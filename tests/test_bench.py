"""``botwatch bench`` end to end at a small size: it runs and reports every figure.

A smoke test only: the speed floors are proven by the benchmark's printed
figures on a quiet machine, never by timed tests.
"""

from __future__ import annotations

import json

import pytest

from support import botwatch, clean_env

pytestmark = pytest.mark.broker

KEYS = ("events_per_s", "baseline_events_per_s", "ratio", "p50_latency_ms", "p99_latency_ms",
        "bytes_per_account", "events", "accounts",
        # issue 5: exactly-once beside at-least-once, and the restore of the changelog
        "exactly_once_events_per_s", "at_least_once_events_per_s", "restore_seconds", "restore_accounts_per_s",
        # the window cut where the tweets end
        "tweet_phase_events_per_s", "tweet_phase_s")


def test_bench_reports_every_figure(kafka_bootstrap):
    env = clean_env()
    env["BOTWATCH_RESTORE_ACCOUNTS"] = "20000"  # the restore figure at smoke-test size
    result = botwatch("bench", "--events", "20000", "--accounts", "4000", "--rounds", "2", "--json",
                      "--no-progress", "--bootstrap", kafka_bootstrap, env=env, timeout=600)
    report = json.loads(result.stdout)
    for key in KEYS:
        assert isinstance(report[key], (int, float)) and report[key] > 0, f"{key}: {report.get(key)!r}"
    assert report["events"] == 20000
    assert isinstance(report["exactly_once_cost"], float)
    assert report["label_tail_s"] >= 0 and report["tweet_phase_s"] <= report["window_s"]
    assert set(report["floors_met"]) == {"events_per_s", "ratio", "p99_latency_ms", "bytes_per_account",
                                         "exactly_once_cost", "restore_seconds"}

    # two rounds: each figure is a round's (the lower middle), the ratio and the cost each round's own
    assert report["rounds"] == 2
    runs, naive = report["events_per_s_runs"], report["baseline_events_per_s_runs"]
    assert len(runs) == len(naive) == 2 and all(v > 0 for v in runs + naive)
    assert report["events_per_s"] == min(runs) and report["baseline_events_per_s"] == min(naive)
    assert report["ratio_runs"] == pytest.approx([b / n for b, n in zip(runs, naive)], abs=0.01)
    assert report["ratio"] == min(report["ratio_runs"])
    eos, alo = report["exactly_once_events_per_s_runs"], report["at_least_once_events_per_s_runs"]
    assert eos == runs and report["exactly_once_events_per_s"] == min(eos)
    assert report["exactly_once_cost_runs"] == pytest.approx([1 - e / a for e, a in zip(eos, alo)], abs=0.001)
    assert report["exactly_once_cost"] == max(report["exactly_once_cost_runs"])
