"""The compiled head of the default pipeline (consumer/_pipeline.c) equals its definitions to the bit: symlog
and clip_z as consumer/model.py writes them, the scaler as River writes it, and the whole model learned through
LinearSteps as learned through River's own Pipeline."""

from __future__ import annotations

import math
import pickle
import random
import struct

import pytest

from consumer import features as F
from consumer import model as M
from consumer.decode import decode_tweets
from producers.generate import Generator

EDGES = [0.0, -0.0, 5e-324, -5e-324, 1e-300, 0.5, -3.7, 4.999999999999999, 5.0, 5.000000000000001, -5.0,
         -5.000000000000001, 1e308, -1e308, math.inf, -math.inf, math.nan, 123456.789, 2.0 ** 53]


def bits(x: dict) -> list:
    """The dict's keys in order, each with its value's bits (every NaN alike)."""
    return [(k, "nan" if v != v else struct.pack("<d", v)) for k, v in x.items()]


@pytest.fixture(scope="module")
def kernel():
    if M._pipeline is None:
        pytest.skip("consumer._pipeline is not built: test_the_compiled_head_is_built says how to build it")
    return M._pipeline


def test_the_compiled_head_is_built():
    """Without it every label costs twice as much to learn: fail rather than skip."""
    assert M._pipeline is not None, "consumer._pipeline is not built: run `.venv/bin/pip install -e .` (or `make venv`)"


def edge_dict(seed: int) -> dict:
    rng = random.Random(seed)
    values = EDGES + [rng.uniform(-50, 50) for _ in range(20)] + [rng.lognormvariate(0, 8) for _ in range(20)]
    rng.shuffle(values)
    return {f"f{i}": v for i, v in enumerate(values)}


@pytest.mark.parametrize("seed", range(5))
def test_symlog_and_clip_equal_their_definitions(kernel, seed):
    x = edge_dict(seed)
    assert bits(kernel.symlog(x)) == bits(M.symlog_python(x))
    assert bits(kernel.clip(x, M.Z_CLIP)) == bits(M.clip_z_python(x))
    assert bits(M.symlog(x)) == bits(M.symlog_python(x)) and bits(M.clip_z(x)) == bits(M.clip_z_python(x))


def test_values_that_are_not_floats_are_left_to_the_definitions(kernel):
    x = {"a": 2, "b": True, "c": -7.5}
    assert kernel.symlog(x) is None and kernel.clip(x, M.Z_CLIP) is None
    assert bits(M.symlog(x)) == bits(M.symlog_python(x))
    assert M.clip_z({"a": 9, "b": -1.0}) == {"a": 5.0, "b": -1.0}


def scaler_with(seed: int, learned: int = 30):
    rng = random.Random(seed)
    scaler = M.preprocessing.StandardScaler()
    for _ in range(learned):
        scaler.learn_one({f"f{i}": rng.gauss(0, 3) for i in range(10) if rng.random() < 0.8})
    return scaler


def stats(scaler) -> tuple:
    return list(scaler.counts.items()), bits(scaler.means), bits(scaler.vars)


@pytest.mark.parametrize("seed", range(5))
def test_the_scaler_learns_and_transforms_as_river(kernel, seed):
    ours, river = scaler_with(seed), scaler_with(seed)
    rng = random.Random(seed + 100)
    for _ in range(200):
        x = {f"f{i}": rng.choice([rng.gauss(1, 5), 0.0, -0.0, 1e-300, 7e15]) for i in range(12) if rng.random() < 0.9}
        assert bits(kernel.scaler_transform(ours.means, ours.vars, x)) == bits(river.transform_one(x))
        assert stats(ours) == stats(river)  # the defaults a transform inserts included
        assert kernel.scaler_learn(ours.counts, ours.means, ours.vars, x) is True
        river.learn_one(x)
        assert stats(ours) == stats(river)


def test_the_scaler_declines_what_it_does_not_make_and_changes_nothing(kernel):
    scaler = scaler_with(1)
    before = stats(scaler)
    count, var = scaler.counts["f2"], scaler.vars["f3"]
    assert kernel.scaler_learn(scaler.counts, scaler.means, scaler.vars, {"f0": 1.0, "f1": 3}) is None  # an int
    assert stats(scaler) == before
    scaler.counts["f2"] = 2.5  # a count that is no int
    assert kernel.scaler_learn(scaler.counts, scaler.means, scaler.vars, {"f0": 1.0, "f2": 1.0}) is None
    scaler.counts["f2"] = count
    assert stats(scaler) == before
    scaler.vars["f3"] = -1.0  # River's ** would make the result a complex number
    assert kernel.scaler_transform(scaler.means, scaler.vars, {"f3": 1.0}) is None
    scaler.vars["f3"] = var
    M.scaler_learn(scaler, {"f0": 1.0, "f1": 3})  # the wrapper has River's learn_one learn it instead
    assert scaler.counts["f1"] == dict(before[0])["f1"] + 1


# ------------------------------------------------------------------ the whole model

def river_pipeline():
    """The default pipeline with the Python definitions of symlog and clip_z, learned by River's Pipeline."""
    pipeline = M.build_pipeline("logreg")
    pipeline["symlog"].func, pipeline["clip_z"].func = M.symlog_python, M.clip_z_python
    return pipeline


def generated_examples() -> list[tuple[dict, bool]]:
    generator = Generator(accounts=300, tweets=6_000, seed=9, format="v1")
    states = {}
    for tweet in (t for r in generator.events() if r.topic == "tweets" for t in decode_tweets(r.value)):
        F.update(states.setdefault(tweet.account_id, F.new_state()), tweet)
    return [(F.feature_dict(F.feature_row(state)), generator.truth[aid] == "bot") for aid, state in states.items()]


def test_a_model_learns_through_linear_steps_exactly_as_through_rivers_pipeline(kernel):
    model, reference = M.Model(), river_pipeline()
    assert isinstance(model._steps, M.LinearSteps)
    examples = generated_examples() * 4
    assert len({len(x) for x, _ in examples}) > 1, "every example has the same features: no key is ever new"
    for n, (x, is_bot) in enumerate(examples):
        expected = struct.pack("<d", reference.predict_proba_one(x)[True])
        if n % 2:  # the detector's way: scored and learned in one call
            assert struct.pack("<d", model.score_then_learn(x, is_bot)) == expected
        else:
            assert struct.pack("<d", model.predict_one(x)) == expected
            model.learn_one(x, is_bot)
        reference.learn_one(x, is_bot)
        if n % 97 == 0 or n == len(examples) - 1:
            ours, river = model.pipeline["StandardScaler"], reference["StandardScaler"]
            assert stats(ours) == stats(river)
            lr, river_lr = model.pipeline["LogisticRegression"], reference["LogisticRegression"]
            assert bits(lr.weights) == bits(river_lr.weights) and lr.intercept == river_lr.intercept
            assert lr.optimizer.n_iterations == river_lr.optimizer.n_iterations == n + 1
    assert model.examples == len(examples)


def test_what_the_one_call_declines_is_learned_step_by_step_as_river_learns_it(kernel):
    """A count that is no int (a scaler from elsewhere), a value that is no float: the one call declines,
    learns nothing, and the steps (or River) learn the label; the model stays River's to the bit."""
    model, reference = M.Model(), river_pipeline()
    examples = generated_examples()[:60]
    steps = model._steps
    scaler, clf = steps.scaler, steps.classifier

    def one_call(x, y):
        return kernel.score_then_learn(scaler.counts, scaler.means, scaler.vars, clf._weights, x, y, clf.intercept,
                                       M.Z_CLIP, *steps._sgd)

    def learn(x, y):
        expected = struct.pack("<d", reference.predict_proba_one(x)[True])
        assert struct.pack("<d", model.score_then_learn(x, y)) == expected
        reference.learn_one(x, y)

    for x, y in examples[:30]:
        learn(x, y)
    x, y = examples[30]
    key = next(iter(x))
    for s in (scaler, reference["StandardScaler"]):
        s.counts[key] = float(s.counts[key])
    n_iterations, weights = clf.optimizer.n_iterations, bits(clf.weights)
    assert one_call(x, y) is None
    assert (clf.optimizer.n_iterations, bits(clf.weights)) == (n_iterations, weights), "a declined call learned"
    for x, y in examples[30:45]:
        learn(x, y)
    x, y = examples[45]
    odd = {**x, key: 3}  # an int
    assert one_call(odd, y) is None
    learn(odd, y)
    for x, y in examples[46:]:
        learn(x, y)
    assert stats(scaler) == stats(reference["StandardScaler"])
    river_lr = reference["LogisticRegression"]
    assert bits(clf.weights) == bits(river_lr.weights) and clf.intercept == river_lr.intercept
    assert clf.optimizer.n_iterations == river_lr.optimizer.n_iterations == len(examples)


def classifier():
    return M.build_pipeline("logreg")["LogisticRegression"]


def classifier_state(clf) -> tuple:
    return bits(clf.weights), struct.pack("<d", clf.intercept), clf.optimizer.n_iterations


@pytest.mark.parametrize("seed", range(4))
def test_the_classifier_scores_and_learns_as_river(kernel, seed):
    """Every branch of the log loss's gradient and of the sigmoid (|raw| past 18 and 30), new keys, missing
    weights, zeros of both signs; one classifier through LinearSteps, one through River's own methods."""
    rng = random.Random(seed)
    ours, river = classifier(), classifier()
    steps = M.LinearSteps(M.preprocessing.StandardScaler(), ours)
    assert steps._sgd is not None
    branches = set()
    for step in range(400):
        scale = rng.choice([1.0, 1.0, 10.0, 60.0])  # large: the raw score passes 18 and 30 either way
        keys = [f"f{i}" for i in range(15) if rng.random() < 0.8] + ([f"new{step}"] if rng.random() < 0.1 else [])
        rng.shuffle(keys)
        z = {k: rng.choice([rng.gauss(0, 1) * scale, 0.0, -0.0, 5.0, -5.0, 1e-310]) for k in keys}
        y = rng.random() < 0.4
        raw = river._raw_dot_one(z)
        branches.add((y, raw > 30, raw < -30, abs(raw) > 18))
        p = steps._probability(z)
        assert type(p) is float and struct.pack("<d", p) == struct.pack("<d", float(river.predict_proba_one(z)[True]))
        steps._learn(z, y)
        river.learn_one(z, y)
        assert classifier_state(ours) == classifier_state(river)
    assert abs(ours.intercept) > 0 and len(ours.weights) > 15
    for y in (True, False):  # the sigmoid's and the gradient's branches, for either label
        assert {(y, True, False, True), (y, False, True, True), (y, False, False, True), (y, False, False, False)} \
            <= branches, branches


def test_the_compiled_classifier_declines_what_it_does_not_make_and_changes_nothing(kernel):
    args = (0.0, 0.2, 0.01, 1e-4, 1e12, 1.0, 1.0)
    weights = {"a": 1}  # a weight that is no float (River's VectorDict holds only floats)
    assert kernel.logistic_learn(weights, {"a": 1.0}, True, *args) is None and weights == {"a": 1}
    assert kernel.logistic_probability(weights, {"a": 1.0}, 0.0) is None
    weights = {"a": 1.0}
    assert kernel.logistic_learn(weights, {"a": 1}, True, *args) is None and weights == {"a": 1.0}  # an int value
    assert kernel.logistic_probability(weights, {"a": 1}, 0.0) is None
    weights = {}
    assert kernel.logistic_learn(weights, {"a": 1.0}, True, *args) == 0.005 and weights == {"a": 0.1}


def test_a_classifier_of_other_settings_is_left_to_river(kernel):
    clf = M.linear_model.LogisticRegression(optimizer=M.optim.Adam(0.1))
    steps = M.LinearSteps(M.preprocessing.StandardScaler(), clf)
    assert steps._sgd is None
    river = M.linear_model.LogisticRegression(optimizer=M.optim.Adam(0.1))
    for k in range(20):
        z = {"a": k / 7, "b": -k / 3}
        assert steps._probability(z) == river.predict_proba_one(z)[True]
        steps._learn(z, k % 3 == 0)
        river.learn_one(z, k % 3 == 0)
    assert classifier_state(clf) == classifier_state(river)
    for other in (M.linear_model.LogisticRegression(l2=0.0, l1=0.1),
                  M.linear_model.LogisticRegression(loss=M.optim.losses.Hinge()),
                  M.linear_model.LogisticRegression(intercept_lr=M.optim.schedulers.InverseScaling(0.1))):
        assert M.LinearSteps(M.preprocessing.StandardScaler(), other)._sgd is None


def test_other_pipelines_are_learned_by_river_and_a_pickled_model_keeps_its_steps():
    assert M.LinearSteps.of(M.build_pipeline("hat")) is None
    without_clip = M.build_pipeline("logreg")
    del without_clip.steps["clip_z"]
    assert M.LinearSteps.of(without_clip) is None
    model = M.Model()
    model.learn_one({"a": 1.0}, True)
    payload = pickle.dumps(model)
    assert b"LinearSteps" not in payload, "a snapshot names LinearSteps: a botwatch without it could not load it"
    copy = pickle.loads(payload)
    assert "_linear_steps" not in copy.__dict__  # as a model pickled before LinearSteps, too
    assert isinstance(copy._steps, M.LinearSteps) and copy._steps.scaler is copy.pipeline["StandardScaler"]
    assert isinstance(model._steps, M.LinearSteps), "pickling took the model's own steps away"
