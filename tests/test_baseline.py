"""The bench's naive baseline does botwatch's work: the same 37 features, to the same values.

``botwatch bench`` divides botwatch's rate by the baseline's. That ratio measures the ways of doing the
work (batches, C, vectorised scoring) only if both do the same work; a baseline that computed fewer
features would make botwatch look slower than it is, one that computed others would compare nothing.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from consumer import features as F
from consumer.decode import decode_tweets
from fixtures.formats import load_bytes
from producers.generate import Generator

BASELINE = Path(__file__).resolve().parent.parent / "benchmarks" / "baseline.py"
#: botwatch counts distinct link domains and clients by linear counting on a 52-bit bitmap (a state is an array
#: of doubles); the naive loop keeps sets and counts them exactly. At the handful of domains and clients an
#: account has, the estimate is within 2% of the count for one item (52 ln(52/51) = 1.0097) and 5% where two
#: items share a bit.
ESTIMATED = {"distinct_url_domains": 0.06, "source_diversity": 0.06}
#: One account's tweets in the shapes the generator does not make: a truncated tweet with ``extended_tweet``,
#: display ranges, a quote, a retweet, escaped text. (Too few links for the distinct domains to be known.)
API_SHAPES = ("v11_classic.json", "v11_extended_compat.json", "v11_reply_extended_mode.json", "v11_quote.json",
              "v11_retweet.json")


@pytest.fixture(scope="module")
def baseline():
    spec = importlib.util.spec_from_file_location("naive_baseline", BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def both_ways(baseline):
    """(naive features, botwatch's features) of each account of a generated stream, every seventh tweet
    delivered twice (a redelivered tweet changes nothing, either way)."""
    naive, states = {}, {}
    tweets = [record.value for record in Generator(accounts=1500, tweets=30_000, seed=8).events()
              if record.topic == "tweets"]
    for value in [value for i, value in enumerate(tweets) for _ in range(1 + (i % 7 == 0))]:
        payload = json.loads(value)
        naive.setdefault(payload["user"]["id_str"], baseline.NaiveAccount()).update(payload)
        for tweet in decode_tweets(value):
            F.update(states.setdefault(tweet.account_id, F.new_state()), tweet)
    assert naive.keys() == states.keys()
    return {aid: (account.features(), F.feature_dict(F.feature_row(states[aid]))) for aid, account in naive.items()}


def test_the_baseline_computes_every_feature_botwatch_does(both_ways):
    seen = set()
    for naive, ours in both_ways.values():
        assert naive.keys() == ours.keys()  # known and unknown alike
        seen |= naive.keys()
    assert seen == set(F.FEATURE_NAMES)


def assert_alike(naive: dict, ours: dict, where) -> None:
    assert naive.keys() == ours.keys(), where
    for name, value in ours.items():
        assert math.isclose(naive[name], value, rel_tol=ESTIMATED.get(name, 1e-9)), (where, name, naive[name], value)


def test_the_baseline_features_equal_botwatch_features(both_ways):
    for aid, (naive, ours) in both_ways.items():
        assert_alike(naive, ours, aid)


def test_the_api_shapes_give_the_same_features(baseline):
    naive, state = baseline.NaiveAccount(), F.new_state()
    for name in API_SHAPES:
        value = load_bytes(name)
        naive.update(json.loads(value))
        for tweet in decode_tweets(value):
            F.update(state, tweet)
        assert_alike(naive.features(), F.feature_dict(F.feature_row(state)), name)
