"""Scoring a tick's accounts in chunks (bounded memory on a rescan) decides exactly as scoring them at once."""

from __future__ import annotations

import pytest

from consumer import detector as D
from consumer.decode import decode_label, decode_tweets
from consumer.detector import Detector
from consumer.detector import feature_rows
from consumer.policy import Policy
from producers.generate import Generator


@pytest.fixture(scope="module")
def events():
    out = []
    for record in Generator(accounts=600, tweets=15_000, seed=5).events():
        out.append(decode_label(record.value) if record.topic == "labels" else decode_tweets(record.value)[0])
    out.sort(key=lambda e: e.ts)
    return out


def run(events, monkeypatch, chunk: int):
    monkeypatch.setattr(D, "SCORE_CHUNK", chunk)
    sizes = []

    def spy(S):
        sizes.append(len(S))
        return feature_rows(S)

    monkeypatch.setattr(D, "feature_rows", spy)
    detector = Detector(Policy(min_labels=5), min_tweets=2)
    flags, drift = [], []
    for start in range(0, len(events), 1000):
        result = detector.process(events[start:start + 1000])
        flags += result.flags
        drift += [d.as_dict() for d in result.drift]
    tail = detector.flush()
    flags += tail.flags
    drift += [d.as_dict() for d in tail.drift]
    for flag in flags:
        del flag["flagged_at"]
    return flags, drift, sizes, detector


def test_chunked_scoring_gives_the_same_flags_scores_and_drift(events, monkeypatch):
    whole_flags, whole_drift, whole_sizes, whole = run(events, monkeypatch, 1 << 30)
    flags, drift, sizes, chunked = run(events, monkeypatch, 7)
    assert whole.rescans and max(whole_sizes) > 7, "no tick had more accounts than a chunk: nothing was cut"
    assert max(sizes) <= 7
    assert sum(sizes) == sum(whole_sizes)
    assert len(whole_flags) > 50
    assert flags == whole_flags
    assert drift == whole_drift
    assert {a: s.tobytes() for a, s in chunked.accounts.items()} == {a: s.tobytes() for a, s in whole.accounts.items()}
