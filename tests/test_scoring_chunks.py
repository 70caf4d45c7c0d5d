"""Scoring a tick's accounts in chunks (bounded memory on a rescan) decides exactly as scoring them at once."""

from __future__ import annotations

from array import array

import pytest

from consumer import detector as D
from consumer import features as F
from consumer.decode import decode_label, decode_tweets
from consumer.detector import BatchResult, Detector
from consumer.detector import feature_rows
from consumer.feature_matrix import stack
from consumer.policy import CLEAR, Policy
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


@pytest.mark.parametrize("rescan", [False, True])
def test_a_chunk_of_ready_and_unready_accounts_decides_each_as_scored_alone(events, rescan):
    """The accounts a chunk leaves out (too few tweets, cleared by a human) sit between those it scores: each
    flag and each state written must be the scored account's own, as when every account is scored alone."""
    detector = Detector(Policy(min_labels=5), min_tweets=3)
    for start in range(0, len(events), 1000):
        detector.process(events[start:start + 1000])
    detector.flush()
    ids = list(detector.accounts)[:400]
    assert detector.model_ready
    for k, aid in enumerate(ids):  # reset: every account may be flagged again, some cleared by a human
        detector.accounts[aid][F.ACTION] = CLEAR if k % 7 == 3 else 0.0
    originals = {aid: detector.accounts[aid].tobytes() for aid in ids}
    unready = [aid for aid in ids if detector.accounts[aid][F.N] < 3 or detector.accounts[aid][F.ACTION] == CLEAR]
    assert 20 < len(unready) < len(ids) - 20

    def decide(chunks):
        for aid, raw in originals.items():
            detector.accounts[aid][:] = array("d", raw)
        flags = []
        for chunk in chunks:
            flags += detector._score_chunk(chunk, [detector.accounts[a] for a in chunk], BatchResult(), rescan)
        for flag in flags:
            del flag["flagged_at"]
        return flags, {aid: detector.accounts[aid].tobytes() for aid in ids}

    together = decide([ids])
    alone = decide([[aid] for aid in ids])
    assert len(together[0]) > 20, "too few flags to tell"
    assert together == alone
    assert not {f["account_id"] for f in together[0]} & set(unready)


def test_a_rescan_flags_each_account_with_its_own_score_and_reasons(events):
    """A rescan scores every account without its feature row and finds the rows of those it flags again: each
    flag must carry its own account's score, reasons and tweet count."""
    detector = Detector(Policy(min_labels=5), min_tweets=3)
    for start in range(0, len(events), 1000):
        detector.process(events[start:start + 1000])
    detector.flush()
    ids = list(detector.accounts)[:400]
    for aid in ids:  # reset: every account may be flagged again
        detector.accounts[aid][F.ACTION] = 0.0
    flags = detector._score_chunk(ids, [detector.accounts[a] for a in ids], BatchResult(), rescan=True)
    assert len(flags) > 20, "too few flags to tell"
    model = detector.model
    for flag in flags:
        state = detector.accounts[flag["account_id"]]
        row = feature_rows(stack([state]))
        assert flag["score"] == round(float(model.score_many(row, F.FEATURE_NAMES)[0]), 6)
        assert flag["reasons"] == model.reasons(row[0], F.FEATURE_NAMES)
        assert flag["tweets_seen"] == state[F.N] and flag["action"] in ("review", "block")
