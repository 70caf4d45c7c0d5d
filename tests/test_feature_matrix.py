"""The vectorised features equal feature_row, account by account."""

from __future__ import annotations

import numpy as np

from consumer import features as F
from consumer.decode import decode_tweets
from consumer.feature_matrix import feature_matrix
from producers.generate import Generator


def test_feature_matrix_equals_feature_row_on_generated_accounts():
    states = {}
    for record in Generator(accounts=300, tweets=6_000, seed=3, format="v1").events():
        if record.topic != "tweets":
            continue
        for tweet in decode_tweets(record.value):
            F.update(states.setdefault(tweet.account_id, F.new_state()), tweet)
    accounts = list(states.values()) + [F.new_state()]  # an account with nothing seen yet, too
    expected = np.array([F.feature_row(s) for s in accounts])
    got = feature_matrix(accounts)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isnan(expected).any() and (~np.isnan(expected)).any()
