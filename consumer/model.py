"""The model of record: a River pipeline that scores accounts and learns from labels.

The default pipeline is ``symlog | StandardScaler | clip | LogisticRegression``.
The symmetric log tames count features (followers run into the millions) before
scaling; the clip bounds each standardised feature to ±:data:`Z_CLIP`, so one
account far out on a feature the model has seen little spread of (a growth
rate that is 0 for most accounts) can neither swing a weight with one SGD step
nor decide a score on its own. Because that pipeline is linear after the transform, a whole batch of
accounts is scored in one call of :func:`consumer.scoring.linear_scores` (compiled) from the pipeline's own
parameters, and each feature's contribution to the logit is the reason given
for a flag. Other pipelines (``--model arf`` or ``hat``) are scored one account
at a time through ``predict_proba_one`` and give no contributions. Each label
is scored, then learned, in one call of :meth:`Model.score_then_learn`, through
:class:`LinearSteps`: the default pipeline's steps run one by one, compiled in
``consumer/_pipeline.c`` (the head: symlog, the scaler, the clip; and the logistic
regression's score and SGD step on River's own weights), the model equal to the bit
to River's own.

Example
-------
>>> import numpy as np
>>> m = Model()
>>> m.learn_one({"url_ratio": 0.9, "interarrival_cv": 0.05}, True)
>>> m.learn_one({"url_ratio": 0.1, "interarrival_cv": 1.2}, False)
>>> m.examples
2
>>> scores = m.score_many(np.array([[0.9, 0.05], [0.1, 1.2]]), ("url_ratio", "interarrival_cv"))
>>> bool(scores[0] > scores[1])
True
"""

from __future__ import annotations

import math

import numpy as np
from river import compose, forest, linear_model, optim, preprocessing, tree
from river.utils import VectorDict

from consumer.scoring import linear_scores, top_reasons

MODEL_KINDS = ("logreg", "arf", "hat")


try:  # the pipeline compiled (consumer/_pipeline.c): each function below says what it computes
    from consumer import _pipeline
except ImportError:  # not built: the Python definitions run
    _pipeline = None
#: Whether the default pipeline (symlog, the scaler, clip_z, the logistic regression's SGD) runs compiled.
COMPILED: bool = _pipeline is not None


def symlog_python(x: dict) -> dict:
    """sign(v) * log1p(|v|) of every feature: the definition of :func:`symlog`."""
    return {k: math.copysign(math.log1p(abs(v)), v) for k, v in x.items()}


def symlog(x: dict) -> dict:
    """sign(v) * log1p(|v|) of every feature (:func:`symlog_python`, compiled where built)."""
    out = None if _pipeline is None else _pipeline.symlog(x)
    return symlog_python(x) if out is None else out


#: Standard deviations beyond which a standardised feature counts no further (linear model).
Z_CLIP = 5.0


def clip_z_python(x: dict) -> dict:
    """Every standardised feature bounded to [-Z_CLIP, Z_CLIP]: the definition of :func:`clip_z`."""
    return {k: Z_CLIP if v > Z_CLIP else (-Z_CLIP if v < -Z_CLIP else v) for k, v in x.items()}


def clip_z(x: dict) -> dict:
    """Every standardised feature bounded to [-Z_CLIP, Z_CLIP] (:func:`clip_z_python`, compiled where built)."""
    out = None if _pipeline is None else _pipeline.clip(x, Z_CLIP)
    return clip_z_python(x) if out is None else out


def scaler_learn(scaler: preprocessing.StandardScaler, x: dict) -> None:
    """``scaler.learn_one(x)``, compiled where built (a scaler with a window or without ``with_std`` is
    River's alone)."""
    if _pipeline is None or _pipeline.scaler_learn(scaler.counts, scaler.means, scaler.vars, x) is None:
        scaler.learn_one(x)


def scaler_transform(scaler: preprocessing.StandardScaler, x: dict) -> dict:
    """``scaler.transform_one(x)``, compiled where built."""
    out = None if _pipeline is None else _pipeline.scaler_transform(scaler.means, scaler.vars, x)
    return scaler.transform_one(x) if out is None else out


class LinearSteps:
    """The default linear pipeline, ``symlog | StandardScaler | clip_z | LogisticRegression``, run step by step
    with the compiled head and classifier: what River's ``Pipeline.learn_one`` and ``predict_proba_one`` do for
    it, bit for bit (the scaler learns an example before transforming it; the two functions learn nothing),
    without the pipeline's dispatch (``tests/test_pipeline_compiled.py`` holds the two equal).

    Parameters
    ----------
    scaler
        The pipeline's StandardScaler (``with_std``, no window).
    classifier
        The pipeline's LogisticRegression.
    """

    def __init__(self, scaler: preprocessing.StandardScaler, classifier: linear_model.LogisticRegression):
        self.scaler = scaler
        self.classifier = classifier
        self._sgd = _plain_sgd(classifier)  # (lr, intercept_lr, l2, clip_gradient, weight_pos, weight_neg)

    @classmethod
    def of(cls, pipeline) -> LinearSteps | None:
        """The steps of ``pipeline`` if it is the default linear one, else None."""
        steps = list(pipeline.steps.values())
        if len(steps) != 4 or getattr(pipeline, "_LEARN_UNSUPERVISED_DURING_PREDICT", False):
            return None
        head, scaler, clip, classifier = steps
        if (type(head) is compose.FuncTransformer and head.func is symlog
                and type(scaler) is preprocessing.StandardScaler and scaler.with_std and scaler.window_size is None
                and type(clip) is compose.FuncTransformer and clip.func is clip_z
                and type(classifier) is linear_model.LogisticRegression):
            return cls(scaler, classifier)
        return None

    def learn_one(self, x: dict, y: bool) -> None:
        x = symlog(x)
        scaler_learn(self.scaler, x)
        self._learn(clip_z(scaler_transform(self.scaler, x)), y)

    def predict_proba_one(self, x: dict) -> dict:
        p = self._probability(clip_z(scaler_transform(self.scaler, symlog(x))))
        return {False: 1.0 - p, True: p}

    def score_then_learn(self, x: dict, y: bool) -> float:
        """``predict_proba_one(x)[True]``, then ``learn_one(x, y)``: a label learned prequentially, in one call
        of ``consumer._pipeline.score_then_learn`` where it takes it, else step by step with the symlog taken
        once."""
        if self._sgd is not None:
            scaler, clf = self.scaler, self.classifier
            done = _pipeline.score_then_learn(scaler.counts, scaler.means, scaler.vars, clf._weights, x, y,
                                              clf.intercept, Z_CLIP, *self._sgd)
            if done is not None:
                p, clf.intercept = done
                clf.optimizer.n_iterations += 1
                return p
        x = symlog(x)
        p = self._probability(clip_z(scaler_transform(self.scaler, x)))
        scaler_learn(self.scaler, x)
        self._learn(clip_z(scaler_transform(self.scaler, x)), y)
        return p

    def _probability(self, z: dict) -> float:
        clf = self.classifier
        if self._sgd is not None:
            p = _pipeline.logistic_probability(clf._weights, z, clf.intercept)
            if p is not None:
                return p
        return float(clf.predict_proba_one(z).get(True, 0.0))

    def _learn(self, z: dict, y: bool) -> None:
        clf = self.classifier
        if self._sgd is not None:
            intercept = _pipeline.logistic_learn(clf._weights, z, y, clf.intercept, *self._sgd)
            if intercept is not None:
                clf.intercept = intercept
                clf.optimizer.n_iterations += 1
                return
        clf.learn_one(z, y)


def _plain_sgd(classifier: linear_model.LogisticRegression) -> tuple | None:
    """The constants of ``classifier``'s learning step where ``consumer._pipeline.logistic_learn`` computes it
    as River does (plain SGD at a constant rate, a constant intercept rate, no L1, the log loss, weights that
    start at zero, in River's VectorDict), else None: River's own methods then run."""
    optimizer, intercept_lr, loss = classifier.optimizer, classifier.intercept_lr, classifier.loss
    if (_pipeline is None or type(optimizer) is not optim.SGD or type(optimizer.lr) is not optim.schedulers.Constant
            or type(intercept_lr) is not optim.schedulers.Constant or classifier.l1 != 0
            or type(loss) is not optim.losses.Log or type(classifier.initializer) is not optim.initializers.Zeros
            or type(classifier._weights) is not VectorDict):
        return None
    constants = (optimizer.lr.learning_rate, intercept_lr.learning_rate, classifier.l2, classifier.clip_gradient,
                 loss.weight_pos, loss.weight_neg)
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in constants):
        return None
    return tuple(float(c) for c in constants)


def build_pipeline(kind: str = "logreg", seed: int = 42):
    """A fresh River pipeline of the given kind."""
    head = compose.FuncTransformer(symlog) | preprocessing.StandardScaler()
    if kind == "logreg":
        return (head | compose.FuncTransformer(clip_z)
                | linear_model.LogisticRegression(optimizer=optim.SGD(0.2), l2=1e-4))
    if kind == "arf":
        return head | forest.ARFClassifier(n_models=10, seed=seed)
    if kind == "hat":
        return head | tree.HoeffdingAdaptiveTreeClassifier(seed=seed)
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")


class Model:
    """A River pipeline plus the bookkeeping the service needs around it.

    Parameters
    ----------
    kind
        ``logreg`` (default), ``arf`` (adaptive random forest) or ``hat``
        (Hoeffding adaptive tree).
    seed
        Seed of the randomised models.
    """

    def __init__(self, kind: str = "logreg", seed: int = 42):
        self.kind = kind
        self.pipeline = build_pipeline(kind, seed)
        self.examples = 0
        self.examples_by_class = {True: 0, False: 0}
        self._linear: tuple | None = None  # cached (names, means, scales, weights, intercept)

    @property
    def version(self) -> str:
        """Names the exact model: its kind and how many examples it has learned."""
        return f"{self.kind}-{self.examples}"

    def __getstate__(self) -> dict:
        """What a snapshot pickles: everything but the derived :class:`LinearSteps`, so that a botwatch without
        it (a rollback) still loads the snapshot."""
        state = self.__dict__.copy()
        state.pop("_linear_steps", None)
        return state

    @property
    def _steps(self):
        """The pipeline itself, or its :class:`LinearSteps` where it is the default linear one."""
        steps = self.__dict__.get("_linear_steps")  # (a model pickled before LinearSteps has none)
        if steps is None or steps[0] is not self.pipeline:
            steps = self._linear_steps = (self.pipeline, LinearSteps.of(self.pipeline) or self.pipeline)
        return steps[1]

    def learn_one(self, x: dict[str, float], is_bot: bool) -> None:
        self._steps.learn_one(x, is_bot)
        self._learned(is_bot)

    def predict_one(self, x: dict[str, float]) -> float:
        return float(self._steps.predict_proba_one(x).get(True, 0.0))

    def score_then_learn(self, x: dict[str, float], is_bot: bool) -> float:
        """:meth:`predict_one`, then :meth:`learn_one`: a label learned prequentially. Returns the score."""
        steps = self._steps
        if type(steps) is LinearSteps:
            score = steps.score_then_learn(x, is_bot)
        else:
            score = float(steps.predict_proba_one(x).get(True, 0.0))
            steps.learn_one(x, is_bot)
        self._learned(is_bot)
        return score

    def _learned(self, is_bot: bool) -> None:
        self.examples += 1
        self.examples_by_class[is_bot] += 1
        self._linear = None

    # ----------------------------------------------------------- batch scoring

    def _linear_params(self, names: tuple[str, ...]):
        if self._linear is None or self._linear[0] is not names:
            scaler = self.pipeline["StandardScaler"]
            lr = self.pipeline["LogisticRegression"]
            means = np.array([scaler.means.get(n, 0.0) for n in names])
            stds = np.sqrt(np.array([scaler.vars.get(n, 0.0) for n in names]))
            weights = np.array([lr.weights.get(n, 0.0) for n in names])
            # River's scaler maps a zero-variance feature to 0: a zero weight does the same here
            weights = np.where(stds > 0, weights, 0.0)
            stds = np.where(stds > 0, stds, 1.0)
            clip = Z_CLIP if "clip_z" in self.pipeline.steps else np.inf  # a pipeline from before the clip
            self._linear = (names, means, stds, weights, clip, float(lr.intercept))
        return self._linear

    def linear_params(self, names: tuple[str, ...]) -> tuple:
        """The linear model's ``(means, stds, weights, clip, intercept)`` over the features ``names``, as
        :func:`consumer.scoring.linear_scores` takes them (a kernel that scores without rows, as a rescan does,
        needs them bare)."""
        return self._linear_params(names)[1:]

    def contributions(self, rows: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """Each feature's additive contribution to the logit, per row (linear model only)."""
        return self.score_with_contributions(rows, names)[1]

    def score_many(self, rows: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """P(bot) for each row of ``rows`` (columns in ``names`` order, NaN for unknown)."""
        return self.score_with_contributions(rows, names)[0]

    def score_with_contributions(self, rows: np.ndarray,
                                 names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`score_many` of ``rows`` and, for the linear model, their :meth:`contributions` (else None).

        The linear model is scored by :func:`consumer.scoring.linear_scores` (compiled where built) from the
        pipeline's own parameters; the others one row at a time through ``predict_proba_one``."""
        if self.kind == "logreg":
            _, means, stds, weights, clip, intercept = self._linear_params(names)
            contributions, scores = linear_scores(np.ascontiguousarray(rows, dtype=np.float64), means, stds, weights,
                                                  clip, intercept)
            return scores, contributions
        out = np.empty(len(rows))
        for i, row in enumerate(rows):
            out[i] = self.predict_one({n: float(v) for n, v in zip(names, row) if v == v})
        return out, None

    def reasons(self, row: np.ndarray, names: tuple[str, ...], top: int = 3) -> list[dict]:
        """The ``top`` features that pushed this row's score up the most, highest first (ties in ``names``
        order), with their values and contributions (:func:`~consumer.scoring.top_reasons`)."""
        return self.reasons_many(row[None, :], names, top=top)[0]

    def reasons_many(self, rows: np.ndarray, names: tuple[str, ...], contributions: np.ndarray | None = None,
                     top: int = 3) -> list[list[dict]]:
        """:meth:`reasons` of each row (``contributions``: the rows', if known); empty for a model that is
        not linear."""
        if self.kind != "logreg":
            return [[] for _ in rows]
        if contributions is None:
            contributions = self.contributions(rows, names)
        return top_reasons(rows, contributions, names, top)
