"""Drift detection: the prequential error, the feature distributions and the score distribution.

Three kinds of detector watch the stream, all behind one :class:`DriftMonitor`:

* ``adwin`` — ADWIN (Bifet & Gavaldà 2007) on the prequential error of the
  label stream: each applied label contributes the 0/1 error of the score the
  account had just before the model learned from it (score first, learn
  after). A detection means the model's error rate has risen.
* ``psi`` and ``ks`` — per feature, the live window (the last ``window_size``
  scored rows) against a reference window (by default the rows just before
  it; or a fixed one): the population stability index over reference-quantile
  bins (NaN, i.e. unknown, is a bin of its own), and on continuous features
  the two-sample Kolmogorov-Smirnov statistic.
* ``score_psi`` — PSI of the model's scores, over fixed bands of [0, 1].

The monitor is called once per batch, never per event, and is pure: numpy,
River and the compiled KS below only, nothing random, no clock. The same
sequence of rows, scores and labels gives the same detections, however it is
cut into batches.

:func:`ks_statistic` is the definition of the KS statistic, in numpy (a sort
of both samples together, 0.1 to 0.3 ms for 5,000 + 5,000 values). A check
runs it compiled (``consumer._drift``, ``consumer/_drift.c``, built by ``pip
install -e .``): one linear merge, the same value to the bit, in about 30
microseconds. :data:`KS_COMPILED` says whether it is built, and
:data:`KS_NOT_COMPILED` why not.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> monitor = DriftMonitor(("url_ratio",), reference_size=500, window_size=500, check_every=100)
>>> found = []
>>> for batch in range(40):
...     shift = 0.0 if batch < 20 else 0.3  # bots drop their URLs from row 1000 on
...     rows = np.clip(rng.normal(0.8 - shift, 0.1, size=(50, 1)), 0, 1)
...     scores = rng.uniform(0.0, 1.0, size=50)  # the model's scores do not move
...     found += monitor.observe_scores(rows, scores)
>>> [(d.detector, d.feature, d.at) for d in found]
[('psi', 'url_ratio', 1100), ('ks', 'url_ratio', 1100)]
>>> round(monitor.feature_psi["url_ratio"], 3), monitor.drifted  # the reference has caught up: re-armed
(0.086, [])

"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np
from river import drift

__all__ = ["DETECTORS", "Detection", "DriftMonitor", "bin_shares", "ks_statistic", "psi", "quantile_edges"]

NAN = float("nan")
#: The values of :attr:`Detection.detector` (a metric label).
DETECTORS = ("adwin", "psi", "ks", "score_psi")


@dataclass(frozen=True)
class Detection:
    """One drift detection.

    ``detector`` is ``adwin``, ``psi``, ``ks`` or ``score_psi``; ``feature`` is
    the feature's name, ``error`` (adwin) or ``score`` (score_psi). ``value``
    is the statistic that crossed ``threshold``: the PSI, the KS statistic, or
    for ADWIN the error rate over the window ADWIN kept after the cut (which
    may still hold some labels from before the change; ``details`` has the
    error rate of the part it dropped as ``error_before``) with ADWIN's
    confidence ``delta`` as the threshold. ``at`` is the ``at`` the caller
    passed with the batch or label (e.g. the event-time watermark), else the
    monitor's own count: rows passed in up to the check (psi, ks, score_psi)
    or labels observed (adwin). ``details`` holds the rest for the log line.
    """

    detector: str
    feature: str
    value: float
    threshold: float
    at: float
    details: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """Everything, flat, for a structured log line."""
        return {"detector": self.detector, "feature": self.feature, "value": self.value,
                "threshold": self.threshold, "at": self.at, **self.details}


# ---------------------------------------------------------------- statistics
#
# Every statistic works on one column's known (non-NaN) values, sorted: a check
# sorts each window once (NaN sorts last) and then needs only binary searches.

def quantile_edges(known_sorted: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the ``1/bins ... (bins-1)/bins`` quantiles of sorted known values.

    Each edge is a value of the sample (the inverted empirical CDF), and equal
    edges merge, so a binary feature gets two edges (three bins, one empty).

    >>> quantile_edges(np.arange(100.0), bins=4)
    array([24., 49., 74.])
    >>> quantile_edges(np.array([0.0, 0.0, 1.0, 1.0]), bins=10)
    array([0., 1.])
    """
    n = len(known_sorted)
    if not n:
        return np.empty(0)
    q = np.arange(1, bins) / bins
    idx = np.clip(np.ceil(q * n - 1e-9).astype(np.intp) - 1, 0, n - 1)
    return np.unique(known_sorted[idx])


def bin_shares(known_sorted: np.ndarray, missing: int, edges: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Share of a sample in each bin ``(-inf, e0], (e0, e1], ..., (ek, inf)``, then the NaN bin.

    ``eps`` is added to every share before they are normalised again, so no
    bin is empty and PSI never takes the log of 0.

    >>> bin_shares(np.array([1.0, 2.0, 3.0]), 1, np.array([2.0]), eps=0.0)
    array([0.5 , 0.25, 0.25])
    """
    n = len(known_sorted)
    bounds = np.empty(len(edges) + 2)
    bounds[0], bounds[-1] = 0.0, n
    bounds[1:-1] = np.searchsorted(known_sorted, edges, side="right")  # values <= each edge
    shares = np.empty(len(edges) + 2)
    shares[:-1] = bounds[1:] - bounds[:-1]
    shares[-1] = missing
    shares = shares / max(n + missing, 1) + eps
    return shares / shares.sum()


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index, ``sum((a - e) * ln(a / e))``, of two sets of (smoothed) bin shares.

    >>> round(psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])), 3)
    0.879
    """
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_statistic(a_sorted: np.ndarray, b_sorted: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of two sorted samples without NaN (NaN if one is empty).

    The largest distance between the two empirical CDFs, exact with ties
    (the same value as ``scipy.stats.ks_2samp(a, b).statistic``), by one
    merge of the two sorted runs.

    >>> ks_statistic(np.arange(10.0), np.arange(5.0, 15.0))
    0.5
    >>> ks_statistic(np.array([0.0, 1.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    0.25
    """
    n, m = len(a_sorted), len(b_sorted)
    if not n or not m:
        return NAN
    merged = np.concatenate((a_sorted, b_sorted))
    order = np.argsort(merged, kind="stable")  # timsort: two sorted runs merge in linear time
    gap = np.cumsum(np.where(order < n, m, -n))  # n * m * (F_a - F_b), in exact integers
    values = merged[order]
    ends = np.append(values[1:] != values[:-1], True)  # compare the CDFs after each run of ties only
    return float(np.max(np.abs(gap[ends]))) / (n * m)


try:
    from consumer._drift import ks_statistic as _ks_compiled
except ImportError as e:  # not built (no compiler where it was installed)
    _ks_compiled = None
    KS_NOT_COMPILED = f"ImportError: {e}"
else:
    KS_NOT_COMPILED = ""
#: Whether the checks run :func:`ks_statistic` compiled (``consumer._drift.ks_statistic``, the same value to the
#: bit; it raises OverflowError past n * m = 2**53, some 190 million values, windows no monitor holds); if not,
#: numpy runs it and :data:`KS_NOT_COMPILED` says why.
KS_COMPILED: bool = _ks_compiled is not None


@contextmanager
def _ks_python_only() -> Iterator[None]:
    """Checks run :func:`ks_statistic` in numpy, as where ``consumer._drift`` is not built (tests, benchmarks)."""
    global _ks_compiled
    saved, _ks_compiled = _ks_compiled, None
    try:
        yield
    finally:
        _ks_compiled = saved


def _sorted(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``columns`` sorted (NaN last), and how many of its values are not NaN."""
    return np.sort(columns, axis=1), columns.shape[1] - np.isnan(columns).sum(axis=1)


class _Reference:
    """What a check needs of one reference window: per column, its bin edges, shares and sorted values."""

    __slots__ = ("edges", "shares", "known", "continuous")

    def __init__(self, ordered: np.ndarray, n_known: np.ndarray, bins: int, eps: float, ks_min_distinct: int,
                 n_features: int):
        """``ordered``: the window sorted (NaN last), one row per monitored feature and the score last, one column
        per window row; ``n_known``: the values that are not NaN in each row."""
        size = ordered.shape[1]
        self.edges, self.shares, self.known, self.continuous = [], [], [], []
        score_edges = np.arange(1, bins) / bins  # scores live in [0, 1]: fixed bands, not quantiles
        for j in range(len(ordered)):
            known = ordered[j, :n_known[j]]
            edges = quantile_edges(known, bins) if j < n_features else score_edges
            self.edges.append(edges)
            self.shares.append(bin_shares(known, size - len(known), edges, eps))
            self.known.append(known)
            distinct = int(np.count_nonzero(known[1:] != known[:-1])) + 1 if len(known) else 0
            self.continuous.append(j < n_features and distinct >= ks_min_distinct)


# ------------------------------------------------------------------- monitor

class DriftMonitor:
    """Drift detectors on the prequential error, every feature and the score, fed once per batch.

    **Error drift** (``adwin``). :meth:`observe_error` takes each applied
    label with the score the account had before the model learned from it.
    ADWIN watches the 0/1 error at ``error_threshold`` (the review
    threshold): the quantity the policy acts on, a Bernoulli whose rate reads
    as "share of labelled accounts misjudged", bounded in [0, 1] as ADWIN's
    Hoeffding bound needs, and insensitive to a model merely growing more or
    less confident. ``error="absolute"`` watches ``|score - label|`` instead:
    it also moves when scores lose confidence without crossing the threshold,
    so it reacts earlier and to more noise. Only a *rise* of the error is
    reported by default: the error falling (a cold model learning, a model
    recovering after a drift) needs no alert.

    **Feature and score drift** (``psi``, ``ks``, ``score_psi``). Scored rows
    go into windows of rows; every ``check_every`` rows the live window (the
    last ``window_size`` rows) is compared with a reference window of
    ``reference_size`` rows:

    * ``reference="sliding"`` (default): the reference is the
      ``reference_size`` rows just before the live window. It follows slow
      change, so it reports a *change of behaviour* and then settles once
      the reference has caught up (the detection re-arms on its own).
      Per-account features mature as accounts accumulate history (ratios
      narrow, hour-of-day entropy grows, growth rates fall as accounts age),
      which a frozen reference reports as drift for days after a start with
      empty state; two adjacent windows barely see it. The price: a drift
      slower than the windows' span goes unseen here (ADWIN still sees it
      if it costs accuracy; ``fixed`` sees it regardless).
    * ``reference="fixed"``: the first ``reference_size`` rows after
      ``warmup`` stay the reference until :meth:`reset_reference` (call it
      after a model swap, or once a drift has been understood). It measures
      the distance from a known-good baseline, slow drift included, and a
      lasting drift stays on the PSI gauges; it is not reset by a detection.

    Windows count rows (scored accounts), so the time they span is
    ``window_size * sample_every`` divided by the rate of scored rows; raise
    ``sample_every`` (keep one row in *k*) to make the same buffers cover a
    longer stretch of a fast stream at the same cost.

    Per check, for each monitored feature:

    * PSI over ``bins`` bins cut at the reference's quantiles (ties merge
      bins), with unknown (NaN, or infinite) as one more bin, so a feature
      going missing is drift too; shares are smoothed by ``eps``. Above
      ``psi_threshold`` (0.25, the usual "significant shift"; below 0.1 is
      "stable") the feature has drifted.
    * KS, the two-sample Kolmogorov-Smirnov statistic of the known values, on
      continuous features: those with at least ``ks_min_distinct`` distinct
      values in the reference (flags and small counts get PSI alone). The
      threshold is on the statistic, an effect size, not on a p-value: a
      window holds many rows of the same accounts, far from independent, and
      with thousands of rows every p-value is tiny.
    * Score PSI: the same PSI on the scores, over ``bins`` fixed bands of
      [0, 1] rather than quantiles, so a model growing surer of itself
      (0.995 becoming 0.999) is not drift but bots sliding from 0.9 to 0.4 is.

    **No alert storms.** A (detector, feature) pair fires when it enters drift
    and then stays quiet until its statistic falls below ``rearm *
    threshold`` (hysteresis: a value hovering at the threshold fires once) or
    :meth:`reset_reference` is called. ADWIN drops the part of its window
    before a change it detects, so it re-arms by itself.

    **Cost and determinism.** Observing a batch copies it into a ring buffer
    (about 0.1 ms for 500 rows). A check sorts the live window once per
    column (the reference is the last check's live window, or sorted once),
    then needs only binary searches and one merge per column, compiled: about
    6 ms of CPU for 37 features and 5,000 + 5,000 rows (9 with the KS in
    numpy; ``benchmarks/drift.py``), so about 1 microsecond per scored row at
    the default ``check_every``; ``sample_every`` divides that.
    An ADWIN update is a few microseconds per label. Nothing is random and
    no clock is read; checks fall on exact multiples of ``check_every`` rows
    whatever the batch sizes, so the detections depend only on the sequence
    of rows and labels.

    Parameters
    ----------
    feature_names
        The columns of the rows passed to :meth:`observe_scores`, in order.
    reference
        ``sliding`` (default) or ``fixed``: see above.
    reference_size
        Rows in the reference window.
    window_size
        Rows in the live window.
    check_every
        Rows between two comparisons of the live window with the reference.
    warmup
        Rows ignored at the start (a cold model's scores, the first short
        account histories) before the windows fill.
    bins
        Quantile bins of a feature's known values (NaN gets one more); fixed
        bands of the score.
    psi_threshold
        Feature PSI above which a feature has drifted.
    ks_threshold
        KS statistic above which a continuous feature has drifted.
    score_psi_threshold
        Score PSI above which the score distribution has drifted.
    rearm
        A drifted statistic re-arms below ``rearm * threshold``.
    eps
        Smoothing added to every bin share before normalising.
    ks_min_distinct
        Distinct reference values a feature needs to be tested with KS.
    monitored
        Names of the features to watch (default: all of ``feature_names``).
    adwin_delta
        ADWIN's confidence: lower means fewer false alarms and later
        detections. Stricter than River's 0.002: every detection is an alert.
    adwin_clock
        ADWIN tests for a change every ``adwin_clock`` labels.
    error
        ``zero_one`` (default) or ``absolute``: what ADWIN watches.
    error_threshold
        Score from which an account counts as called a bot, for the 0/1 error.
    error_direction
        ``up`` (default): report only rises of the error; ``both``: any change.
    sample_every
        Keep one scored row in this many (rows 0, k, 2k, ... of the whole
        sequence); every size above counts kept rows.

    References
    ----------
    Bifet, A. and Gavaldà, R. (2007). Learning from time-changing data with
    adaptive windowing. SIAM International Conference on Data Mining, 443-448.

    Yurdakul, B. (2018). Statistical properties of population stability index.
    Dissertation, Western Michigan University. (The 0.1 and 0.25 PSI lines are
    industry practice in credit scoring.)

    Massey, F. J. (1951). The Kolmogorov-Smirnov test for goodness of fit.
    Journal of the American Statistical Association 46(253), 68-78.

    Examples
    --------
    The error rate of the labelled accounts jumps from 5% to 40% at label 2000:

    >>> import random
    >>> rng = random.Random(1)
    >>> monitor = DriftMonitor(("url_ratio",))
    >>> found = []
    >>> for i in range(4000):
    ...     wrong = rng.random() < (0.05 if i < 2000 else 0.4)
    ...     is_bot = rng.random() < 0.3
    ...     score = 0.9 if is_bot != wrong else 0.1
    ...     found += monitor.observe_error(score, is_bot)
    >>> [(d.detector, d.feature, d.at) for d in found]
    [('adwin', 'error', 2112)]
    >>> round(found[0].details["error_before"], 3), round(found[0].value, 3)  # dropped part, kept window
    (0.051, 0.125)
    >>> round(monitor.error_rate, 2)  # ADWIN's window has since filled with the new regime
    0.4

    """

    def __init__(self, feature_names: Sequence[str], *, reference: str = "sliding", reference_size: int = 5000,
                 window_size: int = 5000, check_every: int = 5000, warmup: int = 0, bins: int = 10,
                 psi_threshold: float = 0.25, ks_threshold: float = 0.2, score_psi_threshold: float = 0.25,
                 rearm: float = 0.8, eps: float = 1e-4, ks_min_distinct: int = 20,
                 monitored: Iterable[str] | None = None, adwin_delta: float = 0.0005, adwin_clock: int = 32,
                 error: str = "zero_one", error_threshold: float = 0.5, error_direction: str = "up",
                 sample_every: int = 1):
        if reference not in ("sliding", "fixed"):
            raise ValueError(f"reference must be 'sliding' or 'fixed', not {reference!r}")
        if min(reference_size, window_size, check_every, bins, sample_every) < 1 or warmup < 0:
            raise ValueError("reference_size, window_size, check_every, bins and sample_every must be >= 1, "
                             "warmup >= 0")
        if error not in ("zero_one", "absolute"):
            raise ValueError(f"error must be 'zero_one' or 'absolute', not {error!r}")
        if error_direction not in ("up", "both"):
            raise ValueError(f"error_direction must be 'up' or 'both', not {error_direction!r}")
        if not 0.0 < rearm <= 1.0:
            raise ValueError("rearm must be in (0, 1]")
        self.feature_names = tuple(feature_names)
        wanted = None if monitored is None else set(monitored)
        if wanted is not None and wanted - set(self.feature_names):
            raise ValueError(f"unknown monitored features: {', '.join(sorted(wanted - set(self.feature_names)))}")
        self.monitored = tuple(n for n in self.feature_names if wanted is None or n in wanted)
        d = len(self.feature_names)
        # the columns a check looks at: the monitored features, then the score (stored last)
        self._cols = np.array([self.feature_names.index(n) for n in self.monitored] + [d], dtype=np.intp)
        self.reference = reference
        self.reference_size = reference_size
        self.window_size = window_size
        self.check_every = check_every
        self.sample_every = sample_every
        self.warmup = warmup
        self.bins = bins
        self.psi_threshold = psi_threshold
        self.ks_threshold = ks_threshold
        self.score_psi_threshold = score_psi_threshold
        self.rearm = rearm
        self.eps = eps
        self.ks_min_distinct = ks_min_distinct
        self.adwin_delta = adwin_delta
        self.adwin_clock = adwin_clock
        self.error = error
        self.error_threshold = error_threshold
        self.error_direction = error_direction

        sliding = reference == "sliding"
        # fixed: the reference, filled once, and a ring of the live window;
        # sliding: one ring of the reference window followed by the live window
        # stored column-wise (one row per feature, the score last): a check sorts contiguous memory
        self._fixed = np.empty((d + 1, 0 if sliding else reference_size))
        self._ring = np.empty((d + 1, (reference_size if sliding else 0) + window_size))
        self.rows_seen = 0  # every row passed in
        self.rows_kept = 0  # the rows kept (every ``sample_every``-th), warm-up included
        self.labels_seen = 0
        self.checks = 0
        self._adwin = drift.ADWIN(delta=adwin_delta, clock=adwin_clock)
        self.reset_reference()

    # ------------------------------------------------------------ state

    def reset_reference(self) -> None:
        """Forget the reference and live windows and collect them again from the rows that follow.

        Every feature and the score re-arm; the latest PSI and KS values read
        NaN until the next check. ADWIN is not affected.
        """
        self._fixed_fill = 0
        self._ring_pos = 0
        self._ring_count = 0  # rows put into the ring since it was last emptied
        self._reference: _Reference | None = None
        # (rows put into the ring by then, sorted columns, known per column) of the last check's live window: with
        # windows of one size checked every window, it is the next check's reference, and need not be sorted again
        self._last_live: tuple[int, np.ndarray, np.ndarray] | None = None
        self._drifted: set[tuple[str, str]] = set()
        self.feature_psi: dict[str, float] = dict.fromkeys(self.monitored, NAN)
        """Latest PSI of each monitored feature (NaN before the first check)."""
        self.feature_ks: dict[str, float] = dict.fromkeys(self.monitored, NAN)
        """Latest KS statistic of each monitored feature (NaN before the first check and if not continuous)."""
        self.score_psi: float = NAN
        """Latest PSI of the score distribution (NaN before the first check)."""

    @property
    def error_rate(self) -> float:
        """ADWIN's current estimate of the prequential error (over the window it keeps)."""
        return float(self._adwin.estimation) if self.labels_seen else NAN

    @property
    def drifted(self) -> list[tuple[str, str]]:
        """The (detector, feature) pairs currently in drift: fired, and not re-armed yet."""
        return sorted(self._drifted)

    # ------------------------------------------------------------ labels

    def observe_error(self, score: float, is_bot: bool, at: float | None = None) -> list[Detection]:
        """One applied label: the score the account had before the model learned from it, and the verdict.

        Returns the detection (at most one) this label completed.
        """
        if score != score:  # no score, no error
            return []
        self.labels_seen += 1
        if self.error == "zero_one":
            x = float((score >= self.error_threshold) != bool(is_bot))
        else:
            x = abs(float(score) - float(bool(is_bot)))
        adwin = self._adwin
        width, total = adwin.width, adwin.estimation * adwin.width
        adwin.update(x)
        if not adwin.drift_detected:
            return []
        after, kept = float(adwin.estimation), adwin.width
        dropped = width + 1 - kept
        before = (total + x - after * kept) / dropped if dropped > 0 else NAN
        if self.error_direction == "up" and not after > before:
            return []
        return [Detection("adwin", "error", after, self.adwin_delta, self.labels_seen if at is None else at,
                          {"error_before": before, "error_after": after, "window": int(kept),
                           "dropped": int(dropped), "labels": self.labels_seen, "error_kind": self.error})]

    # ------------------------------------------------------------ rows

    def observe_scores(self, rows: np.ndarray, scores: np.ndarray, at: float | None = None) -> list[Detection]:
        """One batch of scored accounts: ``rows`` (n x features, NaN unknown) and their ``scores``.

        Returns the detections of the checks this batch completed, if any.
        """
        rows = np.asarray(rows, dtype=float)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        d = len(self.feature_names)
        if rows.ndim != 2 or rows.shape[1] != d or len(rows) != len(scores):
            raise ValueError(f"expected rows of shape (n, {d}) and n scores, got {rows.shape} and {scores.shape}")
        k = self.sample_every
        if k > 1:  # keep rows number 0, k, 2k, ... of the whole sequence
            first = -self.rows_seen % k
            self.rows_seen += len(rows)
            rows, scores = rows[first::k], scores[first::k]
        else:
            self.rows_seen += len(rows)
        found: list[Detection] = []
        i, n = 0, len(rows)
        while i < n:  # in chunks that end exactly where the warm-up, the fixed reference or a check ends
            if self.rows_kept < self.warmup:
                take = min(n - i, self.warmup - self.rows_kept)
            elif self._fixed_fill < self._fixed.shape[1]:
                take = min(n - i, self._fixed.shape[1] - self._fixed_fill)
                self._store(self._fixed, self._fixed_fill, rows[i:i + take], scores[i:i + take])
                self._fixed_fill += take
                if self._fixed_fill == self._fixed.shape[1]:
                    self._reference = self._summarise(self._fixed)
            else:
                done = self._ring_count - self._ring.shape[1]
                take = min(n - i, -done if done < 0 else self.check_every - done % self.check_every)
                self._push(rows[i:i + take], scores[i:i + take])
            i += take
            self.rows_kept += take
            done = self._ring_count - self._ring.shape[1]
            if take and self._ring_count and done >= 0 and done % self.check_every == 0:
                # ``at`` by default: rows passed in up to and including the last row kept
                found.extend(self._check((self.rows_kept - 1) * k + 1 if at is None else at))
        return found

    @staticmethod
    def _store(buffer: np.ndarray, pos: int, rows: np.ndarray, scores: np.ndarray) -> None:
        block = buffer[:, pos:pos + len(rows)]
        block[:-1] = rows.T
        block[-1] = scores
        block[np.isinf(block)] = NAN  # an infinite value is as good as unknown

    def _push(self, rows: np.ndarray, scores: np.ndarray) -> None:
        ring = self._ring
        size, pos = ring.shape[1], self._ring_pos
        self._ring_count += len(rows)
        if len(rows) > size:
            rows, scores = rows[-size:], scores[-size:]
        first = min(len(rows), size - pos)
        self._store(ring, pos, rows[:first], scores[:first])
        self._store(ring, 0, rows[first:], scores[first:])
        self._ring_pos = (pos + len(rows)) % size

    def _summarise(self, window: np.ndarray) -> _Reference:
        return self._reference_of(*_sorted(window if len(self._cols) == len(window) else window[self._cols]))

    def _reference_of(self, ordered: np.ndarray, n_known: np.ndarray) -> _Reference:
        return _Reference(ordered, n_known, self.bins, self.eps, self.ks_min_distinct, len(self.monitored))

    def _check(self, at: float) -> list[Detection]:
        self.checks += 1
        ring, pos = self._ring, self._ring_pos
        if self.reference == "sliding":  # from the oldest row on: the reference window, then the live window
            split = (pos + self.reference_size) % ring.shape[1]
            last = self._last_live
            if last is not None and self._ring_count - last[0] == self.window_size == self.reference_size:
                self._reference = self._reference_of(*last[1:])  # the last check's live window, sorted already
            elif split > pos:
                self._reference = self._summarise(ring[:, pos:split])
            else:
                self._reference = self._summarise(np.concatenate((ring[:, pos:], ring[:, :split]), axis=1))
            live = np.concatenate((ring[:, split:], ring[:, :pos]), axis=1) if split > pos else ring[:, split:pos]
        else:
            live = ring
        rows = live.shape[1]
        live_sorted, live_known = _sorted(live if len(self._cols) == len(live) else live[self._cols])
        self._last_live = (self._ring_count, live_sorted, live_known)
        ref = self._reference
        details = {"reference": self.reference, "reference_rows": self.reference_size,
                   "window_rows": rows, "rows_kept": self.rows_kept}
        found: list[Detection] = []
        ks_of = _ks_compiled or ks_statistic

        def live_psi(j: int) -> tuple[float, np.ndarray]:
            known = live_sorted[j, :live_known[j]]
            return psi(ref.shares[j], bin_shares(known, rows - len(known), ref.edges[j], self.eps)), known

        for j, name in enumerate(self.monitored):
            value, known = live_psi(j)
            self.feature_psi[name] = value
            found += self._transition("psi", name, value, self.psi_threshold, at, details)
            ks = ks_of(ref.known[j], known) if ref.continuous[j] else NAN
            self.feature_ks[name] = ks
            if ref.continuous[j]:
                found += self._transition("ks", name, ks, self.ks_threshold, at, details)
        self.score_psi = live_psi(len(self.monitored))[0]
        found += self._transition("score_psi", "score", self.score_psi, self.score_psi_threshold, at, details)
        return found

    def _transition(self, detector: str, feature: str, value: float, threshold: float, at: float,
                    details: dict) -> list[Detection]:
        """Fire on entering drift only; re-arm once the statistic is back below ``rearm * threshold``."""
        key = (detector, feature)
        if key in self._drifted:
            if value < self.rearm * threshold:  # NaN never re-arms
                self._drifted.discard(key)
            return []
        if value > threshold:
            self._drifted.add(key)
            return [Detection(detector, feature, value, threshold, at, dict(details))]
        return []
