"""Prequential quality figures and the precision-first policy."""

from __future__ import annotations

import math
import random

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


def test_decide_many_is_decide_element_for_element():
    import numpy as np

    rng = random.Random(3)
    p = Policy(review_threshold=0.5, block_threshold=0.9, min_labels=20, target_precision=0.99)
    edges = [0.0, 0.25, math.nextafter(0.25, 0), 0.5, math.nextafter(0.5, 0), 0.9, math.nextafter(0.9, 0), 1.0]
    scores = np.array(edges * 4 + [rng.random() for _ in range(400)])
    current = np.array([float(rng.choice((NONE, REVIEW, BLOCK, CLEAR))) for _ in scores])
    for counts in ((0, 50), (19, 20), (20, 20), (500, 300)):
        for precision, support in ((1.0, 300), (1.0, 50), (0.9, 1000), (float("nan"), 0)):
            many = p.decide_many(scores, current, counts, precision, support)
            one = [p.decide(float(s), int(c), counts, precision, support) for s, c in zip(scores, current)]
            assert many.tolist() == [float(a) for a in one]
