"""The compiled KS statistic (consumer/_drift.c) equals its definition, consumer.drift.ks_statistic, bit for bit;
the drift checks run it and detect exactly what they detect with numpy; misused buffers raise."""

from __future__ import annotations

import math
from array import array
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import drift
from consumer import features as F
from consumer.detector import Detector, default_drift_monitor
from consumer.drift import DriftMonitor, ks_statistic
from consumer.evaluate import Evaluation
from producers.generate import Generator

NAN, INF = math.nan, math.inf
TINY = 5e-324  # the smallest subnormal
HUGE = 1.7976931348623157e308  # the largest double


@pytest.fixture(scope="module")
def compiled():
    if not drift.KS_COMPILED:
        pytest.skip("consumer._drift is not built: test_the_compiled_ks_is_built says how to build it")
    return drift._ks_compiled


def test_the_compiled_ks_is_built():
    """Without the kernel the bit-for-bit tests skip and the checks sort with numpy: fail instead."""
    assert drift.KS_COMPILED, (
        f"consumer._drift is not in use ({drift.KS_NOT_COMPILED}): run `.venv/bin/pip install -e .` (or `make "
        "venv`), which needs gcc and Python's headers (python3-dev)")


def assert_same(compiled, a, b) -> float:
    """The kernel's statistic of (a, b) is the definition's to the bit (NaN where it is NaN); returns it."""
    expected = ks_statistic(a, b)
    got = compiled(a, b)
    assert type(got) is float
    if math.isnan(expected):
        assert math.isnan(got), (got, len(a), len(b))
    else:
        assert got.hex() == expected.hex(), (got, expected, len(a), len(b), a[:8], b[:8])
    return got


def ordered(values) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.float64), kind="stable")


# ------------------------------------------------------------------ chosen samples

def random_pairs(seed: int = 0):
    """(kind, a, b), sorted: continuous, heavy ties, integer-valued, equal, disjoint, one element, very different
    sizes."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, m = rng.integers(1, 3000, size=2)
        yield "continuous", ordered(rng.normal(size=n)), ordered(rng.normal(rng.uniform(-0.5, 0.5), size=m))
        yield "heavy ties", ordered(rng.integers(0, 4, n)), ordered(rng.integers(0, 5, m))
        yield "rounded", ordered(np.round(rng.normal(size=n), 1)), ordered(np.round(rng.normal(0.1, size=m), 1))
        yield "integer-valued", ordered(rng.poisson(3.0, n)), ordered(rng.poisson(rng.uniform(2.0, 4.0), m))
        x = ordered(rng.lognormal(size=n))
        yield "equal samples", x, x.copy()
        yield "one array twice", x, x
        yield "disjoint, a below", x, x + x[-1] + 1.0
        yield "disjoint, b below", x + x[-1] + 1.0, x
        yield "a subsample", x, x[rng.random(n) < 0.5]
    for n in (1, 2, 3):
        yield "one element", ordered(rng.normal(size=n)), ordered(rng.normal(size=1))
        yield "one element, tied", np.zeros(n), np.zeros(1)
    for n, m in ((1, 5000), (5000, 1), (3, 4999), (4999, 7), (5000, 5000), (4999, 5000), (2, 3), (7, 3)):
        yield "very different sizes", ordered(rng.normal(size=n)), ordered(rng.normal(0.2, size=m))
        yield "very different sizes, ties", ordered(rng.integers(0, 3, n)), ordered(rng.integers(0, 3, m))


def edge_pairs():
    """Signed zeros, infinities, subnormals and the largest doubles, alone, tied across the samples and mixed."""
    yield "-0.0 against 0.0", np.array([-0.0]), np.array([0.0])
    yield "zeros of both signs", np.array([-0.0, 0.0, -0.0, 0.0]), np.array([0.0, -0.0])
    yield "zeros among values", np.array([-1.0, -0.0, -0.0, 2.0]), np.array([0.0, 0.0, 0.0, 1.0, 2.0])
    yield "zeros, the others' run", np.array([-0.0, -0.0, 0.0, 0.0, 0.0]), np.array([-0.0, 0.0, 0.0, 5.0])
    yield "infinities", np.array([-INF, 0.0, INF]), np.array([-INF, -INF, INF, INF])
    yield "only infinities", np.array([INF, INF]), np.array([-INF, INF])
    yield "all -inf", np.array([-INF] * 3), np.array([-INF] * 4)
    yield "subnormals", np.array([-TINY, 0.0, TINY, 2 * TINY, 1e-310]), np.array([-0.0, TINY, TINY, 1e-310, 1e-300])
    yield "subnormals and zeros", np.array([-TINY, -0.0, 0.0, TINY]), np.array([0.0, -0.0, TINY])
    yield "huge", np.array([-HUGE, -1e308, 1e308, HUGE]), np.array([-HUGE, HUGE, HUGE, INF])
    yield ("everything", np.array([-INF, -HUGE, -1.0, -TINY, -0.0, 0.0, TINY, 1.0, HUGE, INF]),
           np.array([-INF, -TINY, 0.0, 0.0, -0.0, TINY, TINY, HUGE, INF, INF, INF]))
    nudged = np.nextafter(1.0, 2.0)
    yield "neighbouring doubles", np.array([1.0, nudged, nudged]), np.array([np.nextafter(1.0, 0.0), 1.0, nudged])


def test_chosen_samples_give_the_definitions_statistic(compiled):
    kinds = {}
    for kind, a, b in [*random_pairs(), *edge_pairs()]:
        kinds.setdefault(kind, []).append(assert_same(compiled, a, b))
    assert set(kinds["equal samples"]) == set(kinds["one array twice"]) == {0.0}
    assert set(kinds["disjoint, a below"]) == set(kinds["disjoint, b below"]) == {1.0}
    assert {0.0, 1.0} < set(kinds["heavy ties"]) | {0.0, 1.0}  # something in between
    assert kinds["-0.0 against 0.0"] == [0.0] and kinds["all -inf"] == [0.0]


def test_empty_samples_give_nan(compiled):
    empty = np.empty(0)
    for a, b in ((empty, np.arange(3.0)), (np.arange(3.0), empty), (empty, empty), (array("d"), array("d", [1.0]))):
        assert math.isnan(compiled(a, b))
        assert math.isnan(ks_statistic(a, b))


def test_statistics_past_32_bit_gaps(compiled):
    """n * m and the largest gap past 2**31 (and 2**32): exact in int64, not in int32."""
    rng = np.random.default_rng(1)
    x = ordered(rng.normal(size=70_000))
    assert assert_same(compiled, x, x + 100.0) == 1.0  # the gap is n * m = 4.9e9
    assert_same(compiled, x, ordered(rng.normal(0.01, size=70_001)))
    assert_same(compiled, x[:50_000], ordered(rng.normal(size=50_000)))  # n * m = 2.5e9, a small gap
    assert_same(compiled, ordered(rng.integers(0, 20, 100_000)), ordered(rng.integers(0, 21, 90_000)))


def test_the_largest_exact_product_and_no_further(compiled):
    """n * m = 2**53 is exact; past it the kernel refuses (numpy's zeros are not touched before it refuses)."""
    a, b = np.zeros(1 << 27), np.zeros(1 << 26)
    assert compiled(a, b) == 0.0
    with pytest.raises(OverflowError, match="more than 2\\*\\*53 pairs"):
        compiled(np.zeros((1 << 27) + 1), b)


def test_contiguous_slices_are_read_within_their_bounds(compiled):
    """A slice of a longer array (as the checks pass) is read from its first value to its last and no further:
    the memory on either side holds copies of the end values, which would join their runs of ties if read."""
    rng = np.random.default_rng(2)
    for n, m, decimals in ((300, 200, 1), (1, 1, 0), (150, 37, 0), (40, 400, 2)):
        a, b = ordered(np.round(rng.normal(size=n), decimals)), ordered(np.round(rng.normal(size=m), decimals))
        a_in = np.concatenate((np.full(20, a[0]), a, np.full(20, a[-1])))[20:20 + n]
        b_in = np.concatenate((np.full(20, b[0]), b, np.full(20, b[-1])))[20:20 + m]
        assert a_in.base is not None and b_in.base is not None
        assert compiled(a_in, b_in) == ks_statistic(a, b)
        assert compiled(b_in, a_in) == ks_statistic(b, a)


# ------------------------------------------------------------------ hypothesis

POOL = [-INF, -HUGE, -1e308, -2.0, -1.0, -TINY, -0.0, 0.0, TINY, 1e-310, 0.5, 1.0, 2.0, 1e308, HUGE, INF]
FINITE_OR_INF = st.floats(allow_nan=False)
SAMPLES = st.lists(st.one_of(st.sampled_from(POOL), FINITE_OR_INF, st.integers(-3, 3).map(float)), max_size=80)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=SAMPLES, b=SAMPLES)
def test_hypothesis_samples_give_the_definitions_statistic(compiled, a, b):
    assert_same(compiled, np.array(sorted(a)), np.array(sorted(b)))
    assert_same(compiled, array("d", sorted(a)), array("d", sorted(b)))


@settings(max_examples=500, deadline=None)
@given(a=st.lists(st.floats(), max_size=40), b=st.lists(st.floats(), max_size=40))
def test_unsorted_samples_and_nan_give_some_number_and_no_crash(compiled, a, b):
    """Out of the promise (not sorted, NaN): a number in [0, 1] (NaN if one is empty), not a hang or a crash."""
    got = compiled(np.array(a), np.array(b))
    if a and b:
        assert 0.0 <= got <= 1.0
    else:
        assert math.isnan(got)


# ------------------------------------------------------------------ the checks

class Recorded:
    """A pipeline's drift monitor, and what it was fed and computed."""

    def __init__(self):
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, scores) of every observe_scores
        self.ks_calls: list[tuple[int, int]] = []  # the sizes of the samples of every KS a check computed
        self.monitor: DriftMonitor | None = None


@lru_cache(maxsize=None)
def pipeline(compiled) -> Recorded:
    """Generated traffic through the real pipeline (decode, features, the learning model: ``botwatch evaluate``)
    into the service's drift monitor with small windows, bots changing behaviour halfway.
    Every KS its checks compute is checked against the definition as it is computed; the batches it is fed are
    kept, with more unknown values than these accounts have once their histories are long (so that reference
    and live columns of one feature differ in length; an infinite value is unknown to the monitor)."""
    recorded = Recorded()
    monitor = default_drift_monitor(0.5, reference_size=2000, window_size=2000, check_every=1000, warmup=1000)
    observe = monitor.observe_scores

    def observe_scores(rows, scores, at=None):
        rows = np.array(rows)
        rows[::13, F.FEATURE_NAMES.index("followers_growth_rate")] = NAN
        rows[::7, F.FEATURE_NAMES.index("text_length_var")] = INF
        recorded.batches.append((rows, np.array(scores)))
        return observe(rows, scores, at)

    def both(a, b):
        recorded.ks_calls.append((len(a), len(b)))
        return assert_same(compiled, a, b)

    monitor.observe_scores = observe_scores
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drift, "_ks_compiled", both)
        Evaluation(Detector(drift=monitor)).feed(Generator(400, 30_000, seed=4, drift_at=15_000).events())
    recorded.monitor = monitor
    return recorded


def test_the_pipelines_checks_give_the_definitions_statistic(compiled):
    """Every KS the checks of the real pipeline compute, the kernel's against the definition's, on the checks'
    own columns (contiguous slices of the sorted windows)."""
    recorded = pipeline(compiled)
    assert recorded.monitor.checks >= 10 and len(recorded.ks_calls) >= 10 * 20  # some 25 continuous features a check
    assert any(n != m for n, m in recorded.ks_calls)  # unknown values make the columns' lengths differ


MONITORS = {
    "sliding, taken over": dict(reference_size=1500, window_size=1500, check_every=1500),
    "sliding, overlapping": dict(reference_size=2000, window_size=1000, check_every=500),
    "fixed": dict(reference="fixed", reference_size=2500, window_size=1200, check_every=700, warmup=300),
}


def replayed(batches: list[tuple[np.ndarray, np.ndarray]], **options) -> tuple[list, DriftMonitor]:
    monitor = DriftMonitor(F.FEATURE_NAMES, **options)
    return [d for rows, scores in batches for d in monitor.observe_scores(rows, scores)], monitor


@pytest.mark.parametrize("options", MONITORS.values(), ids=MONITORS.keys())
def test_the_checks_detect_what_they_detect_with_numpy(compiled, options):
    """The pipeline's batches into monitors of other windows: the same detections and statistics, to the bit,
    with the KS compiled and in numpy."""
    batches = pipeline(compiled).batches
    found, monitor = replayed(batches, **options)
    with drift._ks_python_only():
        assert drift._ks_compiled is None
        found_numpy, monitor_numpy = replayed(batches, **options)
    assert drift._ks_compiled is compiled
    assert [d.as_dict() for d in found] == [d.as_dict() for d in found_numpy]
    assert any(d.detector == "ks" for d in found) and monitor.checks >= 10
    ks, ks_numpy = (np.array(list(m.feature_ks.values())) for m in (monitor, monitor_numpy))
    assert ks.tobytes() == ks_numpy.tobytes() and not np.isnan(ks).all()
    assert monitor.feature_psi == monitor_numpy.feature_psi and monitor.drifted == monitor_numpy.drifted


def test_without_the_kernel_the_checks_run_the_definition(monkeypatch):
    calls = []
    monkeypatch.setattr(drift, "_ks_compiled", None)
    monkeypatch.setattr(drift, "ks_statistic", lambda a, b: calls.append((a, b)) or 0.0)
    rng = np.random.default_rng(3)
    replayed([(rng.normal(size=(3000, len(F.FEATURE_NAMES))), rng.uniform(size=3000))], reference_size=1000,
             window_size=1000, check_every=1000)
    assert len(calls) == 2 * len(F.FEATURE_NAMES)


# ------------------------------------------------------------------ misuse

def still_resizable(*arrays: array) -> bool:
    """An array('d') whose buffer a call kept (not released) refuses to grow."""
    for a in arrays:
        a.append(0.0)
        a.pop()
    return True


GOOD = np.arange(3.0)
WIDE = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize("args, error, message", [
    ((np.arange(3, dtype=np.float32), GOOD), TypeError, "a_sorted must hold float64 \\(format 'd'\\), not format 'f'"),
    ((GOOD, np.arange(3)), TypeError, "b_sorted must hold float64"),
    ((GOOD.astype(">f8"), GOOD), TypeError, "a_sorted must hold float64 \\(format 'd'\\), not format '>d'"),
    ((GOOD, b"\0" * 24), TypeError, "b_sorted must hold float64 \\(format 'd'\\), not format 'B'"),
    (([0.0, 1.0], GOOD), TypeError, "a_sorted must be a C-contiguous buffer of float64 \\(a numpy array"),
    ((GOOD, None), TypeError, "b_sorted must be a C-contiguous buffer of float64 .*, not NoneType"),
    ((np.arange(6.0)[::2], GOOD), TypeError, "a_sorted must be a C-contiguous buffer of float64: this numpy.ndarray "
                                             "is strided"),
    ((GOOD, WIDE[:, 0]), TypeError, "b_sorted must be a C-contiguous buffer of float64: this numpy.ndarray is "
                                    "strided"),
    ((WIDE, GOOD), ValueError, "a_sorted must be 1-D, not 2-D"),
    ((GOOD, np.array(1.0)), ValueError, "b_sorted must be 1-D, not 0-D"),
    ((GOOD,), TypeError, "takes 2 arguments, not 1"),
    ((GOOD, GOOD, GOOD), TypeError, "takes 2 arguments, not 3"),
])
def test_misuse_raises(compiled, args, error, message):
    with pytest.raises(error, match=message):
        compiled(*args)


def test_keywords_are_refused_and_any_float64_buffer_is_accepted(compiled):
    with pytest.raises(TypeError, match="keyword"):
        compiled(a_sorted=GOOD, b_sorted=GOOD)
    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    assert compiled(frozen, memoryview(array("d", [2.0, 3.0]))) == ks_statistic(frozen, np.array([2.0, 3.0]))
    assert compiled(WIDE[1], WIDE[2, 1:]) == ks_statistic(WIDE[1], WIDE[2, 1:])  # rows of a C array are contiguous


def test_refused_buffers_are_released(compiled):
    a, b = array("d", [1.0, 2.0]), array("d", [3.0])
    with pytest.raises(TypeError):
        compiled(a, np.arange(3))
    with pytest.raises(ValueError):
        compiled(a, WIDE)
    with pytest.raises(TypeError):
        compiled(np.arange(3), b)
    assert compiled(a, b) == 1.0
    assert still_resizable(a, b)
