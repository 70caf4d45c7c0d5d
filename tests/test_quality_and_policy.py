"""Prequential quality figures and the precision-first policy."""

from __future__ import annotations

import copy
import itertools
import math
import random

import numpy as np
import pytest

from consumer.policy import BLOCK, CLEAR, NONE, REVIEW, Policy
from consumer.quality import RollingQuality


def brute_force_auc(pairs):
    bots = [s for s, b in pairs if b]
    humans = [s for s, b in pairs if not b]
    wins = sum((b > h) + 0.5 * (b == h) for b in bots for h in humans)
    return wins / (len(bots) * len(humans))


def test_roc_auc_matches_pairwise_definition_with_ties():
    rng = random.Random(5)
    q = RollingQuality(window=300)
    for _ in range(500):
        is_bot = rng.random() < 0.4
        q.update(round(rng.random() * 0.6 + (0.3 if is_bot else 0), 1), is_bot)
    assert math.isclose(q.roc_auc, brute_force_auc(list(q.pairs)), rel_tol=1e-12)


def sorted_auc(pairs):
    """ROC AUC from the ranks of the sorted window, ties averaged: what RollingQuality computed before it kept
    its U as pairs come and go."""
    ranked = sorted(pairs)
    bots = sum(is_bot for _, is_bot in ranked)
    humans = len(ranked) - bots
    if not bots or not humans:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2.0 * sum(is_bot for _, is_bot in ranked[i:j])
        i = j
    return (rank_sum - bots * (bots + 1) / 2.0) / (bots * humans)


@pytest.mark.parametrize("seed", range(3))
def test_running_roc_auc_and_recall_equal_the_sorted_window_at_every_update(seed):
    rng = random.Random(seed)
    q = RollingQuality(window=rng.choice([1, 7, 60]), threshold=0.5)
    for step in range(600):
        is_bot = rng.random() < (0.9 if step < 100 else 0.4)  # a window of one class first: NaN
        score = round(rng.random(), 1) if rng.random() < 0.5 else rng.random()  # ties and distinct scores
        if 300 <= step < 310:
            score = math.nan  # no score: counted a bot in recall's denominator, ranked nowhere
        q.update(score, is_bot)
        pairs = list(q.pairs)
        bots = [s for s, b in pairs if b]
        ranked = [(s, b) for s, b in pairs if s == s]
        expected = sorted_auc(ranked)
        assert q.roc_auc == expected or (math.isnan(q.roc_auc) and math.isnan(expected))
        if bots:
            assert q.recall == sum(s >= 0.5 for s in bots) / len(bots)
        else:
            assert math.isnan(q.recall)


@pytest.mark.parametrize("missing", [("_bot_scores", "_human_scores", "_twice_u", "_bots"), ("_bots",)],
                         ids=["before the ranks", "before the bot count"])
def test_a_window_pickled_without_its_ranks_rebuilds_them(missing):
    rng = random.Random(8)
    q = RollingQuality(window=50)
    for _ in range(80):
        q.update(round(rng.random(), 2), rng.random() < 0.5)
    state = copy.deepcopy(q.__dict__)  # (as a pickled snapshot: nothing shared with q)
    for kept in missing:
        del state[kept]
    old = RollingQuality.__new__(RollingQuality)
    old.__setstate__(state)
    assert old.roc_auc == q.roc_auc and old.recall == q.recall
    old.update(0.5, True)
    q.update(0.5, True)
    assert old.roc_auc == q.roc_auc == sorted_auc(list(q.pairs))


def test_window_forgets_old_pairs():
    q = RollingQuality(window=3, threshold=0.5, block_threshold=0.9)
    for score, is_bot in [(0.95, False)] + [(0.95, True)] * 3:
        q.update(score, is_bot)
    assert q.precision_at_block == 1.0 and q.block_support == 3


def test_empty_window_has_no_figures():
    q = RollingQuality()
    assert math.isnan(q.precision) and math.isnan(q.recall) and math.isnan(q.roc_auc)


def test_policy_blocks_only_with_evidence_and_never_de_escalates_by_itself():
    p = Policy(review_threshold=0.5, block_threshold=0.9, min_labels=10, target_precision=0.99, confidence=0.95)
    warm = dict(labels_per_class=(10, 10), precision_at_block=1.0, block_support=300)
    assert p.decide(0.95, NONE, **warm) == BLOCK
    # a perfect window of 100 is not yet evidence of 99% precision at 95% confidence
    assert p.decide(0.95, NONE, labels_per_class=(10, 10), precision_at_block=1.0, block_support=100) == REVIEW
    assert p.decide(0.95, NONE, labels_per_class=(10, 10), precision_at_block=0.985, block_support=5000) == REVIEW
    assert p.decide(0.6, NONE, labels_per_class=(9, 100), precision_at_block=1.0, block_support=50) == NONE
    assert p.decide(0.3, REVIEW, **warm) == REVIEW  # between half the review threshold and it: no flapping
    assert p.decide(0.1, REVIEW, **warm) == NONE  # well below: the review is withdrawn
    assert p.decide(0.1, BLOCK, **warm) == BLOCK
    assert p.decide(0.99, CLEAR, **warm) == CLEAR
    assert p.decide(0.95, REVIEW, **warm) == BLOCK


# ------------------------------------------------------- the calibrated block threshold

def calibrating(window=1000, **policy) -> RollingQuality:
    defaults = dict(review_threshold=0.5, block_threshold=0.9, min_labels=20, target_precision=0.99, confidence=0.5)
    return RollingQuality(window, 0.5, policy=Policy(**{**defaults, **policy}))


def test_a_human_among_too_few_bots_above_the_lowest_threshold_stops_blocking():
    q = calibrating()
    for k in range(300):
        q.update(0.99 - k / 1000, True)  # bots from 0.99 down to 0.691: 91 of them at or above 0.9
    assert q.block_threshold_in_force == 0.9 and q.block_support == 91
    q.update(0.93, False)
    # clean from 0.931 up, but 60 bots are too few to show 0.99 apart from the human just below them
    assert q.block_evidence == (0.9, 91 / 92, 92)
    assert not q.policy.may_block(q.precision_at_block, q.block_support)


def test_calibration_climbs_over_humans_only_with_evidence_above_them():
    q = calibrating()
    for k in range(250):
        q.update(0.999 - k / 5000, True)  # bots from 0.999 down to 0.9492
    assert q.block_threshold_in_force == pytest.approx(0.9492) and q.block_support == 250
    q.update(0.96, False)
    q.update(0.96, False)  # two humans: 195 bots above them, 0.99 at 0.96 and below no longer holds
    threshold, precision, support = q.block_evidence
    assert threshold == pytest.approx(0.9602) and precision == 1.0 and support == 195
    for k in range(3):
        q.update(0.99 + k / 1000, False)  # humans at the very top: no threshold can step over them
    assert q.block_threshold_in_force == 0.9 and q.precision_at_block < 0.99
    assert not q.policy.may_block(q.precision_at_block, q.block_support)


def test_the_window_forgets_what_calibrated_it():
    q = calibrating(window=150)
    for _ in range(50):
        q.update(0.97, False)
    assert not q.policy.may_block(q.precision_at_block, q.block_support)
    for _ in range(150):
        q.update(0.95, True)
    assert (q.block_threshold_in_force, q.precision_at_block, q.block_support) == (0.95, 1.0, 150)


def test_at_95_percent_a_clean_window_needs_about_270_bots_above_the_threshold():
    q = calibrating(confidence=0.95)
    for _ in range(260):
        q.update(0.97, True)
    assert not q.policy.may_block(q.precision_at_block, q.block_support)
    for _ in range(15):
        q.update(0.97, True)
    assert q.policy.may_block(q.precision_at_block, q.block_support)


def test_without_a_policy_the_block_threshold_is_fixed():
    q = RollingQuality(window=10, threshold=0.5, block_threshold=0.9)
    for score, is_bot in [(0.95, True), (0.91, False), (0.99, True)]:
        q.update(score, is_bot)
    assert q.block_evidence == (0.9, 2 / 3, 3)


def test_a_block_needs_a_confirming_score_after_new_tweets_and_enough_tweets():
    p = Policy(review_threshold=0.5, block_threshold=0.9, min_labels=10, target_precision=0.99, confidence=0.95,
               min_block_tweets=5)
    warm = dict(labels_per_class=(10, 10), precision_at_block=1.0, block_support=300)
    assert p.decide(0.95, NONE, **warm, previous_score=float("nan"), tweets=9) == REVIEW  # first high score
    assert p.decide(0.95, REVIEW, **warm, previous_score=0.7, tweets=9) == REVIEW
    assert p.decide(0.95, REVIEW, **warm, previous_score=0.92, tweets=9) == BLOCK
    assert p.decide(0.95, REVIEW, **warm, previous_score=0.92, tweets=4) == REVIEW  # too few tweets
    assert p.decide(0.95, REVIEW, **warm, block_threshold=0.93, previous_score=0.92, tweets=9) == REVIEW


class HighScores:
    """A stand-in model that is ready and scores every account 0.995."""

    kind = "stub"
    version = "stub-1"
    examples_by_class = {True: 50, False: 50}

    def score_with_contributions(self, rows, names):
        return np.full(len(rows), 0.995), None

    def reasons_many(self, rows, names, contributions=None):
        return [[] for _ in rows]


def test_a_rescan_does_not_confirm_a_block_new_tweets_do():
    from consumer.detector import BatchResult, Detector
    from consumer.events import Tweet

    detector = Detector(Policy(min_labels=20, confidence=0.5, min_block_tweets=1), model=HighScores(), tick=60.0)
    for _ in range(150):
        detector.quality.update(0.99, True)
    actions = []

    def tweet(i):
        result = detector.process([Tweet(str(i), "7", 1e9 + 600 * i, text="hi")])
        actions.extend(f["action"] for f in result.flags + detector.flush().flags)

    tweet(0)
    assert actions == ["review"]  # one high score is not enough to block
    state = detector.accounts["7"]
    detector._score(["7"], [state], BatchResult(), rescan=True)  # scored again with nothing new: a rescan
    assert actions == ["review"]
    tweet(1)
    assert actions == ["review", "block"]



def test_deciding_many_at_once_is_deciding_each():
    """Every combination of scores on and around the thresholds, actions, previous scores and tweet counts,
    under evidence that does and does not allow blocking."""
    p = Policy(review_threshold=0.5, block_threshold=0.9, min_labels=20, min_block_tweets=5)
    levels = [0.0, 0.2, 0.25, 0.3, 0.5, 0.6, 0.9, 0.92, 0.93, 0.99, float("nan")]
    grid = list(itertools.product(levels, [NONE, REVIEW, BLOCK, CLEAR], levels, [4, 5, 9]))
    scores, current, previous, tweets = (np.array(column, dtype=float) for column in zip(*grid))
    for labels, precision, support, block_at in itertools.product(
            [(30, 30), (30, 5)], [1.0, 0.97, float("nan")], [300, 50], [0.9, 0.93]):
        many = p.decide_many(scores, current, labels, precision, support, block_at, previous, tweets)
        each = [p.decide(s, c, labels, precision, support, block_at, ps, t) for s, c, ps, t in grid]
        assert many.tolist() == each, (labels, precision, support, block_at)
