"""Learning one labelled example: River's Pipeline against consumer.model.LinearSteps (compiled).

The detector learns each example prequentially: the score the account had, then the learning step. Both sides
here start from the same model, trained on the generator's accounts, and learn
the same examples (those accounts' feature dicts, in order) from copies of it:

* River: ``pipeline.predict_proba_one`` and ``pipeline.learn_one`` with the Python definitions of ``symlog``
  and ``clip_z``, as a model ran before the compiled head;
* LinearSteps: ``Model.score_then_learn`` as the detector calls it (the head and the classifier compiled).

Before timing, both sides' weights are checked equal to the bit after the run. Each figure is the best of 5
runs (garbage collector off) over the examples. The whole run takes about 10 s.

Run::

    .venv/bin/python benchmarks/pipeline.py
"""

from __future__ import annotations

import copy
import gc
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer import features as F  # noqa: E402
from consumer import model as M  # noqa: E402
from consumer.decode import decode_tweets  # noqa: E402
from producers.generate import Generator  # noqa: E402


def examples() -> list[tuple[dict, bool]]:
    generator = Generator(accounts=1000, tweets=15_000, seed=4, format="v1")
    states = {}
    for tweet in (t for r in generator.events() if r.topic == "tweets" for t in decode_tweets(r.value)):
        F.update(states.setdefault(tweet.account_id, F.new_state()), tweet)
    return [(F.feature_dict(F.feature_row(state)), generator.truth[aid] == "bot") for aid, state in states.items()]


def river_model(trained: M.Model) -> M.Model:
    """A copy of ``trained`` whose pipeline River runs with the Python symlog and clip_z."""
    model = copy.deepcopy(trained)
    model.pipeline["symlog"].func, model.pipeline["clip_z"].func = M.symlog_python, M.clip_z_python
    model.__dict__["_linear_steps"] = (model.pipeline, model.pipeline)  # learned by the Pipeline itself
    return model


def predict_then_learn(model: M.Model, x: dict, is_bot: bool) -> None:
    model.predict_one(x)
    model.learn_one(x, is_bot)


def best_of(runs: int, trained: M.Model, make, learn, data) -> tuple[float, M.Model]:
    best, model = float("inf"), None
    for _ in range(runs):
        model = make(trained)
        gc.disable()
        start = time.perf_counter()
        for x, is_bot in data:
            learn(model, x, is_bot)
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best / len(data), model


def main() -> int:
    if not M.COMPILED:
        print("consumer._pipeline is not built: both sides would run Python", file=sys.stderr)
        return 1
    data = examples()
    trained = M.Model()
    for x, is_bot in data:
        trained.learn_one(x, is_bot)
    river_s, river = best_of(5, trained, river_model, predict_then_learn, data)
    ours_s, ours = best_of(5, trained, copy.deepcopy, M.Model.score_then_learn, data)
    lr, river_lr = ours.pipeline["LogisticRegression"], river.pipeline["LogisticRegression"]
    if lr.weights != river_lr.weights or lr.intercept != river_lr.intercept:
        print("the two sides learned different weights", file=sys.stderr)
        return 1
    print(f"python {platform.python_version()}, {len(data)} examples, {len(F.FEATURE_NAMES)} features")
    print(f"score, then learn one example:  River's Pipeline {1e6 * river_s:6.1f} us   "
          f"LinearSteps {1e6 * ours_s:6.1f} us   ({river_s / ours_s:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
