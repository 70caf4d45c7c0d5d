"""The vectorised batch scoring must equal River's own predict_proba_one."""

from __future__ import annotations

import random

import numpy as np

from consumer.model import Model

NAMES = ("a", "b", "c", "d")


def trained(seed: int = 3) -> Model:
    rng = random.Random(seed)
    model = Model()
    for i in range(400):
        is_bot = rng.random() < 0.3
        x = {"a": rng.gauss(4 if is_bot else 0, 1), "b": rng.lognormvariate(3, 2), "c": 1.0, "d": -rng.random()}
        if i % 5 == 0:
            del x["b"]  # missing features are left out, as in the service
        model.learn_one(x, is_bot)
    return model


def test_batch_scores_equal_river_predict_proba_one():
    model = trained()
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(50, 4)) * [2, 100, 0, 1]
    rows[::7, 1] = np.nan
    batch = model.score_many(rows, NAMES)
    one_by_one = [model.predict_one({n: v for n, v in zip(NAMES, row) if v == v}) for row in rows.tolist()]
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-9, atol=1e-12)


def test_contributions_add_up_to_the_logit_and_reasons_are_the_largest():
    model = trained()
    row = np.array([5.0, 20.0, 1.0, -0.5])
    p = model.score_many(row[None, :], NAMES)[0]
    logit = model.contributions(row[None, :], NAMES).sum() + model.pipeline["LogisticRegression"].intercept
    assert abs(p - 1 / (1 + np.exp(-logit))) < 1e-12
    reasons = model.reasons(row, NAMES)
    assert reasons[0]["feature"] == "a"
    assert all(r["contribution"] > 0 for r in reasons)
    assert [r["contribution"] for r in reasons] == sorted((r["contribution"] for r in reasons), reverse=True)


def test_cache_follows_learning():
    model = trained()
    row = np.array([[1.0, 1.0, 1.0, 1.0]])
    before = model.score_many(row, NAMES)[0]
    model.learn_one({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, True)
    after = model.score_many(row, NAMES)[0]
    assert after != before
    assert after == model.predict_one({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})


def test_other_model_kinds_score_too():
    for kind in ("arf", "hat"):
        model = Model(kind)
        for i in range(50):
            model.learn_one({"a": float(i % 2) * 5, "b": 1.0}, bool(i % 2))
        scores = model.score_many(np.array([[5.0, 1.0], [0.0, 1.0]]), ("a", "b"))
        assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_reasons_of_many_rows_are_the_reasons_of_each():
    model = trained()
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(40, 4)) * [3, 50, 1, 2]
    rows[::5, 0] = np.nan
    many = model.reasons_many(rows, NAMES)
    contributions = model.contributions(rows, NAMES)
    each = []
    for row, contrib in zip(rows, contributions):  # one row at a time, the largest positive contributions first
        top = sorted((j for j in range(len(NAMES)) if contrib[j] > 0), key=lambda j: -contrib[j])[:3]
        each.append([{"feature": NAMES[j], "value": round(float(row[j]), 6), "contribution": round(float(contrib[j]), 6)}
                     for j in top])
    assert many == each
    assert many[:5] == [model.reasons(row, NAMES) for row in rows[:5]]
    assert many == model.reasons_many(rows, NAMES, model.contributions(rows, NAMES))
    assert any(len(r) == 3 for r in many) and any(len(r) < 3 for r in many)
    assert Model("hat").reasons_many(rows, NAMES) == [[]] * len(rows)
