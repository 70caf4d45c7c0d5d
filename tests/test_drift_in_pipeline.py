"""Drift through the real pipeline: bots that change behaviour halfway make the drift metrics fire."""

from __future__ import annotations

import pytest

from consumer.detector import Detector
from consumer.evaluate import Evaluation
from producers.generate import Generator

TWEETS, CHANGE_AT = 60_000, 30_000
#: Detections must come within this many tweets after the change: one reference plus one live window of
#: 5,000 scored rows, and the check that follows.
BOUND = 12_000


def detections(drift_at: int):
    records = list(Generator(600, TWEETS, 0.2, 0.3, 6 * 3600.0, 7, drift_at=drift_at).events())
    position, n = {}, 0
    for r in records:
        if r.topic == "tweets":
            n += 1
            position.setdefault(r.ts, n)
    evaluation = Evaluation(Detector())
    evaluation.feed(records)
    return [(d["detector"], d["feature"], position[d["at"]]) for d in evaluation.drift]


@pytest.mark.parametrize("drift_at", [CHANGE_AT, -1], ids=["bots-change", "no-change"])
def test_drift_fires_within_the_bound_after_a_change_and_never_without(drift_at):
    found = detections(drift_at)
    if drift_at < 0:
        assert found == []
    else:
        assert found, "no drift detected"
        assert all(at > CHANGE_AT for _, _, at in found), f"detections before the change: {found}"
        first = min(at for _, _, at in found)
        assert first - CHANGE_AT <= BOUND, f"first detection {first - CHANGE_AT} tweets after the change"
        assert {"url_ratio", "interarrival_cv"} & {feature for _, feature, _ in found}
