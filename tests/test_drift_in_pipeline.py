"""Drift through the real pipeline: bots that change behaviour halfway make the drift metrics fire."""

from __future__ import annotations

import numpy as np
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


def test_a_rescan_is_not_fed_to_the_drift_monitor():
    """When the model becomes ready it scores every account again; those rows are a snapshot of the whole
    population, quiet accounts included, not the traffic the feature windows watch (fed to the monitor, each
    rescan filled its windows with them: 448 false detections over the bench's stream)."""
    from consumer.events import Label, Tweet
    from consumer.policy import Policy

    t0 = 1.7e9
    d = Detector(Policy(min_labels=1), tick=5.0)
    crowd = [Tweet(f"t{i}", f"a{i}", t0 + i * 0.01, text="hi") for i in range(200)]
    d.process(crowd)
    labels = [Label("a0", True, t0 + 10.0, "review"), Label("a1", False, t0 + 10.0, "review")]
    d.process(labels)
    assert d.drift.rows_seen == len(crowd) and not d.rescans  # the labels passed the crowd's tick: scored
    late = d.process([Tweet("t-late", "a7", t0 + 20.0, text="hi")])  # passes the labels' tick: the model learns
    tail = d.flush()

    assert d.rescans, "the labels made the model ready: every account is scored again"
    # every account but a1 (a human's label cleared it), then a7 again for its new tweet
    assert late.scored + tail.scored == (len(crowd) - 1) + 1, "the rescan scored every account"
    assert d.drift.rows_seen == len(crowd) + 1, "only the account that tweeted is traffic"


def test_a_rescan_changes_only_the_accounts_it_flags():
    """A rescan scores the quiet accounts with a model that learned more and keeps nothing of it but the flags:
    their states (scores included) stay as their last tweets left them, so the changelog does not rewrite the
    whole population each time the model's examples double."""
    from consumer.events import Label, Tweet
    from consumer.policy import Policy

    class Alternating:  # scores the crowd 0.9, 0.1, 0.9, ... once it has learned: half of them are flagged
        kind, version, examples, examples_by_class = "alternating", "1", 0, {True: 0, False: 0}

        def score_then_learn(self, x, is_bot):
            self.examples += 1
            self.examples_by_class[is_bot] += 1
            return 0.5

        def score_with_contributions(self, rows, names):
            scores = np.where(np.arange(len(rows)) % 2 == 0, 0.9, 0.1) if self.examples else np.full(len(rows), 0.1)
            return scores, None

        def reasons_many(self, rows, names, contributions=None):
            return [[] for _ in rows]

    t0 = 1.7e9
    d = Detector(Policy(min_labels=1), model=Alternating(), tick=5.0)
    crowd = [Tweet(f"t{i}", f"a{i}", t0 + i * 0.01, text="hi") for i in range(200)]
    d.process(crowd + [Label("a0", True, t0 + 10.0, "review"), Label("a1", False, t0 + 10.0, "review")])
    d.drain_changed()
    before = {aid: bytes(state) for aid, state in d.accounts.items()}
    late = d.process([Tweet("t-late", "a7", t0 + 20.0, text="hi")])
    flags = late.flags + d.flush().flags

    assert d.rescans, "the labels made the model ready: every account is scored again"
    flagged = {f["account_id"] for f in flags if f["account_id"] != "a7"}
    assert len(flagged) > 50, flags  # the rescan flagged half the crowd for review
    traffic = {"a7", "a0", "a1"}  # a tweet and the two labels' verdicts
    assert d.drain_changed() == flagged | traffic
    from array import array

    from consumer import features as F
    for aid, state in d.accounts.items():
        if aid in flagged:  # only the action it was flagged with: no score kept
            was = array("d", before[aid])
            was[F.ACTION] = state[F.ACTION]
            assert bytes(state) == bytes(was), aid
        elif aid not in traffic:
            assert bytes(state) == before[aid], aid
