"""Scoring a batch of accounts: today's numpy path against the compiled kernel of consumer.scoring.

For batches of 1, 10, 100, 1,000 and 8,192 accounts (8,192 is the detector's
``SCORE_CHUNK``), from the states of accounts folded from the generator's v1.1
tweets and a logistic model trained on all of them, the time per call
and per account of:

* numpy: ``feature_matrix(states)`` and ``scoring.linear_scores_numpy``, the
  fallback where the kernel is not built;
* kernel: ``scoring.feature_rows(stack(states))`` and
  ``scoring.linear_scores`` with the model's ``linear_params``.

Both start from the list of state arrays, so both pay for stacking them. Then
a rescan's chunk of 8,192 accounts: the kernel path above against
``scoring.ready_scores`` (the scores alone, each state read in place), which a
rescan runs. Last the reasons of 10, 100 and 1,000 flags: numpy's argsort and a
Python dict per reason (``reasons_numpy``, what ``Model.reasons_many`` ran before
the kernel) against ``scoring.top_reasons``. Each figure is the best of 5 runs
(timeit, garbage collector off) of as many calls as take about 0.1 s. Before
timing, the kernel's scores are checked against numpy's, and its reasons
against ``reasons_numpy``'s. The whole run takes about 15 s.

Run::

    .venv/bin/python benchmarks/scoring.py
"""

from __future__ import annotations

import platform
import sys
import time
import timeit
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from consumer import features as F  # noqa: E402
from consumer import scoring  # noqa: E402
from consumer.decode import decode_tweets  # noqa: E402
from consumer.feature_matrix import feature_matrix, stack  # noqa: E402
from consumer.model import Model  # noqa: E402
from producers.generate import Generator  # noqa: E402

BATCHES = (1, 10, 100, 1_000, 8_192)
NAMES = F.FEATURE_NAMES


def accounts_and_model(accounts: int = 8_192, tweets: int = 100_000) -> tuple[list[array], Model]:
    """The states of the generator's accounts, and a model trained on all of them (the generator knows which
    are bots)."""
    generator = Generator(accounts=accounts, tweets=tweets, seed=1, format="v1")
    by_account = {}
    for tweet in (t for r in generator.events() if r.topic == "tweets" for t in decode_tweets(r.value)):
        F.update(by_account.setdefault(tweet.account_id, F.new_state()), tweet)
    truth, model = generator.truth, Model()
    for account_id, state in by_account.items():
        model.learn_one(F.feature_dict(F.feature_row(state)), truth[account_id] == "bot")
    found = list(by_account.values())
    # the generator leaves some accounts silent: copies of the others fill the largest batch
    return [array("d", found[i % len(found)]) for i in range(max(accounts, len(found)))], model


def numpy_path(model: Model, states: list[array]) -> np.ndarray:
    return scoring.linear_scores_numpy(feature_matrix(states), *model.linear_params(NAMES))[1]


def kernel_path(model: Model, states: list[array]) -> np.ndarray:
    rows = scoring.feature_rows(stack(states))
    return scoring.linear_scores(rows, *model.linear_params(NAMES))[1]


def reasons_numpy(rows: np.ndarray, contributions: np.ndarray, top: int = 3) -> list[list[dict]]:
    """The reasons as ``Model.reasons_many`` made them before ``scoring.top_reasons`` (ties aside)."""
    tops = np.argsort(-contributions, axis=1)[:, :top]
    values = np.take_along_axis(rows, tops, axis=1).tolist()
    contribs = np.take_along_axis(contributions, tops, axis=1).tolist()
    return [[{"feature": NAMES[j], "value": round(v, 6), "contribution": round(c, 6)}
             for j, v, c in zip(order, row, contrib) if c > 0]
            for order, row, contrib in zip(tops.tolist(), values, contribs)]


def best_seconds_per_call(call) -> float:
    timer = timeit.Timer(call)
    number = max(1, int(0.1 / max(timer.timeit(1), 1e-7)))
    return min(timer.repeat(repeat=5, number=number)) / number


def main() -> None:
    started = time.perf_counter()
    states, model = accounts_and_model()
    print(f"{len(states)} accounts, model {model.version}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, kernel compiled: {scoring.COMPILED} {scoring.NOT_COMPILED}".rstrip())
    for n in BATCHES:
        batch = states[:n]
        np.testing.assert_allclose(kernel_path(model, batch), numpy_path(model, batch), rtol=1e-9, atol=1e-12)
    print(f"{'accounts':>8}  {'numpy µs/call':>14} {'µs/account':>11}  {'kernel µs/call':>15} {'µs/account':>11}  "
          f"{'speed-up':>8}")
    for n in BATCHES:
        batch = states[:n]
        a = best_seconds_per_call(lambda: numpy_path(model, batch)) * 1e6
        b = best_seconds_per_call(lambda: kernel_path(model, batch)) * 1e6
        print(f"{n:>8,}  {a:>14,.1f} {a / n:>11.3f}  {b:>15,.1f} {b / n:>11.3f}  {a / b:>7.1f}x")
    batch = states[:BATCHES[-1]]
    params = model.linear_params(NAMES)
    np.testing.assert_array_equal(scoring.ready_scores(batch, 1.0, 3.0, *params)[1], kernel_path(model, batch))
    a = best_seconds_per_call(lambda: kernel_path(model, batch)) * 1e6
    b = best_seconds_per_call(lambda: scoring.ready_scores(batch, 1.0, 3.0, *params)) * 1e6
    print(f"a rescan's {len(batch):,} accounts: kernel {a:,.0f} µs, ready_scores {b:,.0f} µs ({a / b:.1f}x)")
    for n in (10, 100, 1_000):
        rows = scoring.feature_rows(stack(states[:n]))
        contributions = model.contributions(rows, NAMES)
        assert reasons_numpy(rows, contributions) == scoring.top_reasons(rows, contributions, NAMES)
        a = best_seconds_per_call(lambda: reasons_numpy(rows, contributions)) * 1e6
        b = best_seconds_per_call(lambda: scoring.top_reasons(rows, contributions, NAMES)) * 1e6
        print(f"the reasons of {n:,} flags: numpy and dicts {a / n:.2f} µs a flag, top_reasons {b / n:.2f} "
              f"({a / b:.1f}x)")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
