"""The scoring kernel (consumer/_score.c) equals its definitions in consumer/scoring.py bit for bit; numpy, the
fallback, equals them within rounding; misused buffers raise."""

from __future__ import annotations

import math
import struct
from array import array
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from consumer import features as F
from consumer import scoring
from consumer.decode import decode_tweets
from consumer.feature_matrix import stack
from consumer.model import Model
from producers.generate import Generator

NF = scoring.NF
NAN, INF = math.nan, math.inf
DAY = F.HOUR_ENTROPY_MIN_SPAN
T0 = 1_709_251_200.0  # 2024-03-01T00:00:00Z


def assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal to the bit (so 0.0 is not -0.0), NaN where expected is NaN, whatever the NaN's bits."""
    assert got.shape == expected.shape and got.dtype == expected.dtype == np.float64
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(got), nan), np.argwhere(np.isnan(got) != nan)[:5]
    differ = got.view(np.int64) != expected.view(np.int64)
    differ &= ~nan
    assert not differ.any(), [(tuple(i), got[tuple(i)], expected[tuple(i)]) for i in np.argwhere(differ)[:5]]


def evaluable(state: array) -> bool:
    """Whether feature_row computes the state's row (it raises on states no update makes)."""
    try:
        F.feature_row(state)
    except (ValueError, ZeroDivisionError, OverflowError):
        return False
    return True


@pytest.fixture(scope="module")
def kernel():
    if not scoring.COMPILED:
        pytest.skip("consumer._score is not built: test_the_compiled_kernel_is_built says how to build it")
    return scoring._kernel


def test_the_compiled_kernel_is_built():
    """Without the kernel the bit-for-bit tests skip and the detector scores with numpy: fail instead."""
    assert scoring.COMPILED, (
        f"consumer._score is not in use ({scoring.NOT_COMPILED}): run `.venv/bin/pip install -e .` (or `make "
        "venv`), which needs gcc and Python's headers (python3-dev); if its LAYOUT differs from "
        "consumer/features.py's, change consumer/_score.c to match")


# ------------------------------------------------------------------ states and models from generated traffic

@lru_cache(maxsize=None)
def generated() -> tuple[dict[str, array], dict[str, str]]:
    """The states of the generator's accounts (folded from its v1.1 tweets), and which of them are bots."""
    generator = Generator(accounts=400, tweets=8_000, seed=5, format="v1")
    states = {}
    for tweet in (t for r in generator.events() if r.topic == "tweets" for t in decode_tweets(r.value)):
        F.update(states.setdefault(tweet.account_id, F.new_state()), tweet)
    return states, generator.truth


def generated_states() -> list[array]:
    return list(generated()[0].values())


@lru_cache(maxsize=None)
def trained_params() -> tuple:
    """The linear parameters (means, stds, weights, clip, intercept) of a model trained on the generated
    accounts, as the detector scores with them."""
    states, truth = generated()
    model = Model()
    for account_id, state in states.items():
        model.learn_one(F.feature_dict(F.feature_row(state)), truth[account_id] == "bot")
    assert model.examples_by_class[True] >= 50 and model.examples_by_class[False] >= 50
    return model._linear_params(F.FEATURE_NAMES)[1:]


def test_feature_rows_equal_feature_row_on_generated_accounts(kernel):
    S = stack(generated_states() + [F.new_state()])
    expected = scoring.feature_rows_python(S)
    assert_same_bits(scoring.feature_rows(S), expected)
    assert np.isnan(expected).any() and (~np.isnan(expected)).any()


def test_feature_rows_of_no_state_and_of_a_fresh_state(kernel):
    assert scoring.feature_rows(stack([])).shape == (0, NF)
    row = scoring.feature_rows(stack([F.new_state()]))
    assert row.shape == (1, NF) and np.isnan(row).all()


# ------------------------------------------------------------------ edge states

def edited(**slots: float) -> array:
    """A state of 3 tweets over 2 hours with a whole profile, the given slots replaced."""
    s = F.new_state()
    base = dict(N=3.0, FIRST_TS=T0, LAST_TS=T0 + 7200.0, N_DT=2.0, DT_MEAN=3600.0, DT_M2=50.0, N_TEXT=3.0,
                LEN_MEAN=40.0, LEN_M2=12.5, N_URL=2.0, N_MENTION=4.0, N_HASHTAG=1.0, N_RETWEET=1.0, N_REPLY=0.0,
                N_QUOTE=1.0, N_DUP=1.0, N_NEAR_DUP=2.0, DOMAIN_BITS=6.0, SOURCE_BITS=8.0, P_TS=T0 + 7200.0,
                P_STATUSES=1200.0, P_FOLLOWERS=80.0, P_FRIENDS=300.0, P_FAVOURITES=15.0, P_LISTED=2.0,
                P_DEFAULT=1.0, P_BACKGROUND=0.0, P_VERIFIED=0.0, P_CREATED=T0 - 400 * 86400.0, P_SN_LEN=11.0,
                P_SN_DIGITS=3.0, P_NAME_LEN=9.0, P_NAME_DIGITS=0.0, P_DESC_LEN=120.0, P_SN_LIKELIHOOD=-3.25)
    for name, value in {**base, **slots}.items():
        s[getattr(F, name)] = value
    s[F.HOURS] = 2.0 + 1.0 * F._HOUR_SHIFT  # two tweets at 00h, one at 01h
    return s


def hours(*packed: float, **slots: float) -> array:
    s = edited(**slots)
    s[F.HOURS:F.HOURS + len(packed)] = array("d", packed)
    return s


def counted(*counts: int, **slots: float) -> array:
    """A state whose hours 0, 1, 2, ... hold these tweet counts (two counters a slot)."""
    counts = list(counts) + [0] * (24 - len(counts))
    return hours(*(float(lo) + hi * F._HOUR_SHIFT for lo, hi in zip(counts[::2], counts[1::2])), **slots)


ALL_BITS = float((1 << F.BITMAP_BITS) - 1)
HOUR_MAX = F._HOUR_CAP + F._HOUR_CAP * F._HOUR_SHIFT  # both counters of a slot full
EDGE_STATES = {
    "typical": edited(),
    "n=0": edited(N=0.0), "n=-0": edited(N=-0.0), "n=1": edited(N=1.0, LAST_TS=T0, N_DT=0.0),
    "n=2": edited(N=2.0, N_DT=1.0), "n=NaN": edited(N=NAN),
    "n_dt=0": edited(N_DT=0.0), "n_dt=1": edited(N_DT=1.0), "n_dt=3": edited(N_DT=3.0),
    "dt_mean=0": edited(DT_MEAN=0.0), "dt_mean=dt_m2=0": edited(DT_MEAN=0.0, DT_M2=0.0),
    "dt_m2=0": edited(DT_M2=0.0), "dt_m2=-0": edited(DT_M2=-0.0), "dt_mean=inf": edited(DT_MEAN=INF),
    "dt_m2=inf": edited(DT_M2=INF),
    "span=0": edited(LAST_TS=T0), "span<0": edited(LAST_TS=T0 - 60.0), "span=huge": edited(LAST_TS=1e300),
    "span=inf": edited(LAST_TS=INF), "first=-inf": edited(FIRST_TS=-INF), "span=NaN": edited(LAST_TS=NAN),
    "span=day-ulp": edited(LAST_TS=math.nextafter(T0 + DAY, 0.0)), "span=day": edited(LAST_TS=T0 + DAY),
    "span=day+ulp": edited(LAST_TS=math.nextafter(T0 + DAY, INF)),
    "hours uniform": hours(*[1.0 + F._HOUR_SHIFT] * 12, LAST_TS=T0 + 2 * DAY, N=24.0),
    "hours one": hours(40.0, N=40.0, LAST_TS=T0 + 3 * DAY),
    "hours full": hours(HOUR_MAX, HOUR_MAX, N=4 * F._HOUR_CAP, LAST_TS=T0 + DAY),
    "hours past cap": hours(HOUR_MAX, 5.0, N=1e12, LAST_TS=T0 + DAY),
    "hours high half": hours(F._HOUR_SHIFT, 3 * F._HOUR_SHIFT, N=4.0, LAST_TS=T0 + DAY),
    "hours fractional": hours(0.5, 2.25 + F._HOUR_SHIFT, -3.0, N=7.0, LAST_TS=T0 + DAY),
    "hours NaN": hours(NAN, 4.0, N=9.0, LAST_TS=T0 + DAY), "hours inf": hours(INF, N=9.0, LAST_TS=T0 + DAY),
    "hours -0": hours(-0.0, 6.0, N=6.0, LAST_TS=T0 + DAY),
    # Python's // is not floor(v / w): -5e-324 // 2**26 is -1.0, floor(-5e-324 / 2**26) is -0.0
    "hours -subnormal": hours(-5e-324, 3.0, N=5.0, LAST_TS=T0 + DAY),
    "collision = 1/24": counted(2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, N=16.0, LAST_TS=T0 + DAY),  # 10 / (16 * 15)
    "collision < 1/24": counted(*[3] * 16, 1, N=49.0, LAST_TS=T0 + DAY),  # 96 / (49 * 48), above 1/25
    "collision > 1/24": counted(2, 2, 2, 2, 2, 2, 1, 1, 1, 1, N=16.0, LAST_TS=T0 + DAY),
    "n_text=0": edited(N_TEXT=0.0), "n_text=-0": edited(N_TEXT=-0.0), "n_text=NaN": edited(N_TEXT=NAN),
    "n_url=7": edited(N_URL=7.0, N=9.0), "n_url=8": edited(N_URL=8.0, N=9.0),
    "n_url=nextbelow(8)": edited(N_URL=math.nextafter(8.0, 0.0), N=9.0),
    "domains 0": edited(N_URL=8.0, DOMAIN_BITS=0.0), "domains all": edited(N_URL=8.0, DOMAIN_BITS=ALL_BITS),
    "domains 51": edited(N_URL=9.0, DOMAIN_BITS=ALL_BITS - 2.0 ** 30),
    "domains one": edited(N_URL=8.0, DOMAIN_BITS=2.0 ** 51), "domains -0": edited(N_URL=8.0, DOMAIN_BITS=-0.0),
    "domains fraction": edited(N_URL=8.0, DOMAIN_BITS=5.75), "domains negative": edited(N_URL=8.0, DOMAIN_BITS=-6.0),
    "domains 2**60": edited(N_URL=8.0, DOMAIN_BITS=2.0 ** 60), "domains 1e300": edited(N_URL=8.0, DOMAIN_BITS=1e300),
    "domains NaN, too few urls": edited(N_URL=7.0, DOMAIN_BITS=NAN),
    "sources 0": edited(SOURCE_BITS=0.0), "sources -0": edited(SOURCE_BITS=-0.0),
    "sources one": edited(SOURCE_BITS=1.0), "sources all": edited(SOURCE_BITS=ALL_BITS),
    "sources 0.5": edited(SOURCE_BITS=0.5),
    "profile unknown": edited(**{name: NAN for name in (
        "P_TS", "P_STATUSES", "P_FOLLOWERS", "P_FRIENDS", "P_FAVOURITES", "P_LISTED", "P_DEFAULT", "P_BACKGROUND",
        "P_VERIFIED", "P_CREATED", "P_SN_LEN", "P_SN_DIGITS", "P_NAME_LEN", "P_NAME_DIGITS", "P_DESC_LEN",
        "P_SN_LIKELIHOOD")}),
    "created NaN": edited(P_CREATED=NAN), "p_ts NaN": edited(P_TS=NAN),
    "age < 1 day": edited(P_CREATED=T0), "age = 1 day": edited(P_CREATED=T0 + 7200.0 - 86400.0),
    "age < 0": edited(P_CREATED=T0 + 86400.0), "age inf": edited(P_CREATED=-INF),
    "age inf-inf": edited(P_TS=INF, P_CREATED=INF),
    "friends 0": edited(P_FRIENDS=0.0), "friends 0.5": edited(P_FRIENDS=0.5), "friends -0": edited(P_FRIENDS=-0.0),
    "friends 1": edited(P_FRIENDS=1.0), "friends NaN": edited(P_FRIENDS=NAN), "friends inf": edited(P_FRIENDS=INF),
    "counts inf": edited(P_STATUSES=INF, P_FOLLOWERS=INF, P_LISTED=1e308, N_MENTION=INF, LEN_M2=INF),
}


@pytest.mark.parametrize("name", list(EDGE_STATES))
def test_feature_rows_equal_feature_row_on_edge_states(kernel, name):
    state = EDGE_STATES[name]
    assert evaluable(state), "an edge state here must be one feature_row computes"
    S = stack([state])
    assert_same_bits(scoring.feature_rows(S), scoring.feature_rows_python(S))


def test_the_edge_states_reach_their_branches():
    """The table above is about the branches it names: hold it to them (it does not test the kernel)."""
    row = {name: dict(zip(F.FEATURE_NAMES, F.feature_row(s))) for name, s in EDGE_STATES.items()}
    assert math.isnan(row["span=day-ulp"]["hour_entropy"]) and not math.isnan(row["span=day"]["hour_entropy"])
    assert math.isnan(row["n_url=7"]["distinct_url_domains"]) and row["n_url=8"]["distinct_url_domains"] > 0
    assert row["domains all"]["distinct_url_domains"] == 52 * math.log(52)
    assert math.copysign(1.0, row["domains 0"]["distinct_url_domains"]) == -1.0  # -52 * log(1) is -0.0
    assert row["hours uniform"]["hour_entropy"] == math.log2(24) > row["hours one"]["hour_entropy"]
    assert row["collision = 1/24"]["hour_entropy"] == math.log2(24) == row["collision < 1/24"]["hour_entropy"]
    assert row["collision > 1/24"]["hour_entropy"] < math.log2(24)
    assert row["hours -subnormal"]["hour_entropy"] < 0  # hi = -1, lo = 2**26: one "hour" of 2**26 tweets
    assert row["dt_mean=dt_m2=0"]["interarrival_cv"] == 0.0 == row["dt_mean=dt_m2=0"]["burstiness"]
    assert math.isnan(row["n_text=0"]["text_length_mean"]) and math.isnan(row["sources 0"]["source_diversity"])
    assert row["age < 1 day"]["tweet_freq"] == 1200.0 and math.isnan(row["created NaN"]["tweet_freq"])


# hypothesis: every feature-relevant slot from the values an update makes, their boundaries, and any double at all
ANY = st.floats()  # NaN, ±inf, ±0.0, subnormals, the largest doubles
COUNTS = st.one_of(st.sampled_from([0.0, -0.0, 1.0, 2.0, 3.0, 7.0, 8.0, 9.0]), st.integers(0, 1 << 40).map(float), ANY)
AMOUNTS = st.one_of(st.sampled_from([0.0, -0.0, 1.0]), st.floats(0, 1e9), ANY)
SPANS = st.one_of(st.sampled_from([0.0, -0.0, -1.0, 3600.0, DAY, 2 * DAY, 1e300, -1e300, INF, NAN]),
                  st.floats(-1e6, 1e8, allow_nan=False), ANY)
AGES = st.one_of(st.sampled_from([0.0, -86400.0, 43200.0, 86400.0, 1e9, INF, -INF, NAN]), st.floats(-1e9, 1e10))
BITMAPS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 0.5, ALL_BITS, ALL_BITS - 1.0, 2.0 ** 51, 2.0 ** 52, 2.0 ** 64, 1e300]),
    st.integers(0, (1 << 52) - 1).map(float), st.integers(-(1 << 62), 1 << 62).map(float), ANY)
HOUR_SLOTS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 5e-324, -5e-324, F._HOUR_SHIFT, HOUR_MAX]), st.integers(0, 30).map(float),
    st.builds(lambda lo, hi: lo + hi * F._HOUR_SHIFT, st.integers(0, (1 << 26) - 1), st.integers(0, (1 << 26) - 1)),
    st.builds(lambda lo, hi: float(lo + hi * F._HOUR_SHIFT), st.integers(0, 50), st.integers(0, 50)), ANY)
PROFILE = st.one_of(st.just(NAN), COUNTS, st.floats(-10.0, 0.0))


@st.composite
def states(draw) -> array:
    s = F.new_state()
    for slot in (F.N, F.N_DT, F.N_TEXT, F.N_URL, F.N_MENTION, F.N_HASHTAG, F.N_RETWEET, F.N_REPLY, F.N_QUOTE,
                 F.N_DUP, F.N_NEAR_DUP):
        s[slot] = draw(COUNTS)
    for slot in (F.DT_MEAN, F.DT_M2, F.LEN_MEAN, F.LEN_M2):
        s[slot] = draw(AMOUNTS)
    s[F.FIRST_TS] = first = draw(st.one_of(st.floats(1.1e9, 2e9), ANY))
    # the span's boundaries, and the doubles on either side of them
    last = first + draw(SPANS)
    s[F.LAST_TS] = draw(st.sampled_from([last, math.nextafter(last, -INF), math.nextafter(last, INF)]))
    s[F.DOMAIN_BITS], s[F.SOURCE_BITS] = draw(BITMAPS), draw(BITMAPS)
    for slot in range(F.P_STATUSES, F.P_SN_LIKELIHOOD + 1):
        s[slot] = draw(PROFILE)
    s[F.P_TS] = draw(st.one_of(st.floats(1.1e9, 2e9), st.just(NAN), ANY))
    s[F.P_CREATED] = s[F.P_TS] - draw(AGES)
    for slot in range(F.HOURS, F.HOURS + 12):
        s[slot] = draw(HOUR_SLOTS)
    assume(evaluable(s))
    return s


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(batch=st.lists(states(), max_size=2))
def test_feature_rows_equal_feature_row_on_hypothesis_states(kernel, batch):
    S = stack(batch)
    assert_same_bits(scoring.feature_rows(S), scoring.feature_rows_python(S))


def test_states_feature_row_rejects_get_a_row_all_the_same(kernel):
    """No update makes these and feature_row raises on them; the kernel neither raises nor crashes."""
    rejected = [edited(N_URL=8.0, DOMAIN_BITS=NAN), edited(SOURCE_BITS=INF), edited(SOURCE_BITS=2.0 ** 53 - 1),
                edited(DT_M2=-1.0), edited(N=1.0, LAST_TS=T0 + DAY)]
    assert not any(evaluable(s) for s in rejected)
    rows = scoring.feature_rows(stack(rejected))
    names = F.FEATURE_NAMES.index
    assert np.isnan(rows[0, names("distinct_url_domains")]) and np.isnan(rows[1:3, names("source_diversity")]).all()


# ------------------------------------------------------------------ the linear scores

def test_linear_scores_equal_the_definition_on_a_trained_model(kernel):
    rows = scoring.feature_rows_python(stack(generated_states() + [F.new_state()]))
    means, stds, weights, clip, intercept = trained_params()
    for clip in (clip, INF):  # the model's, and an old pipeline's without the clip
        expected = scoring.linear_scores_python(rows, means, stds, weights, clip, intercept)
        got = scoring.linear_scores(rows, means, stds, weights, clip, intercept)
        assert_same_bits(got[0], expected[0])
        assert_same_bits(got[1], expected[1])
    scores = expected[1]
    assert (scores > 0.5).any() and (scores < 0.5).any() and (expected[0] != 0).any()


EDGE_VALUES = [0.0, -0.0, 1.0, -1.0, NAN, INF, -INF, 1e308, -1e308, 5e-324, -5e-324, 3.5, -2.25, 1e-300]


def cycled(values: list[float], count: int, start: int = 0) -> np.ndarray:
    return np.array([values[(start + i) % len(values)] for i in range(count)], dtype=np.float64)


@pytest.mark.parametrize("clip, intercept", [(5.0, 0.25), (INF, -0.5), (0.0, 0.0), (5.0, 32.0), (5.0, -32.0),
                                             (INF, NAN), (5.0, INF)])
def test_linear_scores_equal_the_definition_on_edge_rows(kernel, clip, intercept):
    """Every edge value in every feature, against means, stds and weights that make each case: -0.0 (z and the
    contribution keep its sign), inf * 0 (NaN, so 0), z past the clip, logits past ±30, rows of NaN."""
    rows = np.array([cycled(EDGE_VALUES, NF, start) for start in range(len(EDGE_VALUES))] + [[NAN] * NF])
    means = cycled([0.0, 0.5, -0.5, INF, 1.0, -3.0], NF)
    stds = cycled([1.0, 0.25, 3.0, INF, 1e-300, -2.0, NAN], NF)
    weights = cycled([1.5, 0.0, -2.0, 0.0, 1e300, NAN, -0.0, 0.75], NF)
    expected = scoring.linear_scores_python(rows, means, stds, weights, clip, intercept)
    got = scoring.linear_scores(rows, means, stds, weights, clip, intercept)
    assert_same_bits(got[0], expected[0])
    assert_same_bits(got[1], expected[1])
    signs = np.signbit(expected[0][expected[0] == 0])
    assert signs.any() and not signs.all()  # -0.0 and 0.0 contributions both, told apart above


def test_linear_scores_equal_the_definition_on_whole_numbers(kernel):
    """The logarithms of small whole numbers come from a table made at import: each one, and the numbers around
    the table's end, as libm computes them."""
    values = [float(v) for v in range(-5, 4101)] + [-0.0, 4095.5, 0.5, 2.0 ** 31, -(2.0 ** 31), 1e15]
    rows = np.array(values + [0.0] * (-len(values) % NF)).reshape(-1, NF)
    means, stds, weights, clip, intercept = trained_params()
    expected = scoring.linear_scores_python(rows, means, stds, weights, INF, intercept)
    got = scoring.linear_scores(rows, means, stds, weights, INF, intercept)
    assert_same_bits(got[0], expected[0])
    assert_same_bits(got[1], expected[1])


VALUES = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, INF, -INF, NAN, 1e308, -1e308, 5e-324]), ANY)
PARAMS = hnp.arrays(np.float64, NF, elements=VALUES)


@settings(max_examples=250, deadline=None)
@given(rows=hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.just(NF)), elements=VALUES),
       means=PARAMS, stds=hnp.arrays(np.float64, NF, elements=VALUES.filter(bool)),
       weights=hnp.arrays(np.float64, NF, elements=st.one_of(st.just(0.0), VALUES)),
       clip=st.one_of(st.sampled_from([5.0, INF, 0.0, 1.5]), VALUES), intercept=VALUES)
def test_linear_scores_equal_the_definition_on_hypothesis_rows(kernel, rows, means, stds, weights, clip, intercept):
    expected = scoring.linear_scores_python(rows, means, stds, weights, clip, intercept)
    got = scoring.linear_scores(rows, means, stds, weights, clip, intercept)
    assert_same_bits(got[0], expected[0])
    assert_same_bits(got[1], expected[1])


# ------------------------------------------------------------------ numpy, the fallback

# states no update makes, where features_of reads what feature_row does not: a NaN count of texts (`n_text > 0`
# against `if n_text:`), bitmaps that are negative or past 2**64 (a cast to uint64 against int()), a negative
# hour counter (np.floor(v / w) against Python's //)
BEYOND_NUMPY = {"n_text=NaN", "domains negative", "domains 1e300", "hours -subnormal"}


def test_the_numpy_fallback_agrees_with_the_definitions_within_rounding():
    states = generated_states() + [s for name, s in EDGE_STATES.items() if name not in BEYOND_NUMPY]
    S = stack(states)
    rows = scoring.feature_rows_python(S)
    np.testing.assert_allclose(scoring.feature_rows_numpy(S), rows, rtol=1e-9, atol=0, equal_nan=True)
    finite = np.nan_to_num(rows, nan=NAN, posinf=1e300, neginf=-1e300)
    means, stds, weights, clip, intercept = trained_params()
    expected = scoring.linear_scores_python(finite, means, stds, weights, clip, intercept)
    got = scoring.linear_scores_numpy(finite, means, stds, weights, clip, intercept)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


def test_without_the_kernel_the_dispatch_runs_numpy(monkeypatch):
    monkeypatch.setattr(scoring, "_kernel", None)
    monkeypatch.setattr(scoring, "feature_rows_numpy", lambda *args: ("numpy", args))
    monkeypatch.setattr(scoring, "linear_scores_numpy", lambda *args: ("numpy", args))
    S, rows, params = stack([F.new_state()]), np.zeros((1, NF)), trained_params()
    ran, args = scoring.feature_rows(S)
    assert ran == "numpy" and args[0] is S
    ran, args = scoring.linear_scores(rows, *params)
    assert ran == "numpy" and args[0] is rows and args[1:] == params


@pytest.mark.parametrize("name, value", [("P_TS", F.P_TS + 1), ("SLOTS", F.SLOTS + 1), ("DOMAINS_MIN_URLS", 4.0),
                                         ("FEATURE_NAMES", F.FEATURE_NAMES[::-1])])
def test_a_kernel_built_for_another_layout_is_refused(kernel, monkeypatch, name, value):
    monkeypatch.setattr(F, name, value)
    refused, why = scoring._load_kernel()
    assert refused is None and name in why


# ------------------------------------------------------------------ misuse

def doubles(count: int) -> array:
    return array("d", [0.0] * count)


def still_resizable(*arrays: array) -> bool:
    """An array('d') whose buffer a call kept (not released) refuses to grow."""
    for a in arrays:
        a.append(0.0)
        a.pop()
    return True


@pytest.mark.parametrize("args, error, message", [
    ((doubles(2 * F.SLOTS), 2, doubles(2 * NF - 1)), ValueError, "out holds 73 doubles, not 74"),
    ((doubles(2 * F.SLOTS), 3, doubles(3 * NF)), ValueError, "S holds 152 doubles, not 228"),
    ((np.zeros((2, F.SLOTS), np.float32), 2, doubles(2 * NF)), TypeError, "S must hold float64"),
    ((doubles(2 * F.SLOTS), 2, np.zeros(2 * NF, np.int64)), TypeError, "out must hold float64"),
    ((doubles(2 * F.SLOTS), 2, bytes(16 * NF)), ValueError, "out is read-only"),
    ((np.zeros((2, F.SLOTS)), 2, np.zeros((2, NF)).T.copy().T), TypeError, "out must be a C-contiguous"),
    (([0.0] * F.SLOTS, 1, doubles(NF)), TypeError, "S must be a C-contiguous buffer of float64"),
    ((doubles(F.SLOTS), -1, doubles(NF)), ValueError, "n must be a row count"),
    ((doubles(F.SLOTS), 1 << 60, doubles(NF)), ValueError, "n must be a row count"),
    ((doubles(F.SLOTS), 1.0, doubles(NF)), TypeError, "integer"),
    ((doubles(F.SLOTS), 1), TypeError, "takes 3 arguments, not 2"),
])
def test_feature_rows_refuses_bad_buffers(kernel, args, error, message):
    with pytest.raises(error, match=message):
        kernel.feature_rows(*args)
    assert still_resizable(*(a for a in args if isinstance(a, array)))


def test_feature_rows_refuses_a_read_only_array_and_overlapping_buffers(kernel):
    S = np.zeros((1, F.SLOTS))
    out = np.zeros((1, NF))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        kernel.feature_rows(S, 1, out)
    with pytest.raises(ValueError, match="out overlaps S"):
        kernel.feature_rows(S, 1, S.reshape(-1)[:NF])


def linear_args(n: int = 2, **changed) -> dict:
    args = dict(rows=doubles(n * NF), n=n, means=doubles(NF), stds=array("d", [1.0] * NF), weights=doubles(NF),
                clip=5.0, intercept=0.0, contrib_out=doubles(n * NF), scores_out=doubles(n))
    return {**args, **changed}


@pytest.mark.parametrize("changed, error, message", [
    (dict(means=doubles(NF - 1)), ValueError, "means holds 36 doubles, not 37"),
    (dict(stds=doubles(NF + 1)), ValueError, "stds holds 38 doubles, not 37"),
    (dict(weights=np.zeros(NF, np.float32)), TypeError, "weights must hold float64"),
    (dict(rows=doubles(3 * NF)), ValueError, "rows holds 111 doubles, not 74"),
    (dict(contrib_out=doubles(NF)), ValueError, "contrib_out holds 37 doubles, not 74"),
    (dict(scores_out=doubles(3)), ValueError, "scores_out holds 3 doubles, not 2"),
    (dict(scores_out=bytes(16)), ValueError, "scores_out is read-only"),
    (dict(stds=array("d", [1.0] * 5 + [0.0] * 32)), ValueError, r"stds\[5\] \(default_profile\) is 0"),
    (dict(clip="5"), TypeError, "must be real number"),
    (dict(intercept=None), TypeError, "must be real number"),
    (dict(n=-2), ValueError, "n must be a row count"),
])
def test_linear_scores_refuses_bad_buffers(kernel, changed, error, message):
    args = linear_args(**changed)
    with pytest.raises(error, match=message):
        kernel.linear_scores(*args.values())
    assert still_resizable(*(a for a in args.values() if isinstance(a, array)))


def test_linear_scores_refuses_overlapping_outputs_and_a_read_only_one(kernel):
    rows = np.zeros((2, NF))
    with pytest.raises(ValueError, match="contrib_out overlaps rows"):
        kernel.linear_scores(*linear_args(rows=rows, contrib_out=rows).values())
    contrib = np.zeros((2, NF))
    with pytest.raises(ValueError, match="scores_out overlaps contrib_out"):
        kernel.linear_scores(*linear_args(contrib_out=contrib, scores_out=contrib[0, :2]).values())
    contrib.flags.writeable = False
    with pytest.raises(ValueError, match="contrib_out is read-only"):
        kernel.linear_scores(*linear_args(contrib_out=contrib).values())
    with pytest.raises(TypeError, match="takes 9 arguments, not 8"):
        kernel.linear_scores(*list(linear_args().values())[:8])


def test_array_d_buffers_are_accepted(kernel):
    state = EDGE_STATES["typical"]
    out = doubles(NF)
    kernel.feature_rows(array("d", state), 1, out)
    assert_same_bits(np.array(out).reshape(1, NF), scoring.feature_rows_python(stack([state])))
    args = linear_args(n=1, rows=out)
    kernel.linear_scores(*args.values())
    assert 0.0 < args["scores_out"][0] < 1.0


# ------------------------------------------------------------------ stacking states, storing scores

def test_stack_states_equals_stack(kernel):
    states = generated_states()
    assert_same_bits(scoring.stack_states(states), stack(states))
    assert scoring.stack_states([]).shape == (0, F.SLOTS)


def test_store_scores_equals_the_definition(kernel):
    states = [array("d", state) for state in generated_states()]
    expected = [array("d", state) for state in states]
    scores = np.linspace(0.0, 1.0, len(states))
    scores[3] = NAN
    scoring.store_scores(states, scores)
    scoring.store_scores_python(expected, scores.tolist())
    assert_same_bits(stack(states), stack(expected))
    assert states[5][F.SCORE] == scores[5] and states[5][F.SCORE_N] == states[5][F.N] > 0


def test_without_the_kernel_states_are_stacked_and_scores_stored_in_python(monkeypatch):
    monkeypatch.setattr(scoring, "_kernel", None)
    states = [array("d", state) for state in generated_states()[:20]]
    assert_same_bits(scoring.stack_states(states), stack(states))
    scoring.store_scores(states, np.full(len(states), 0.25))
    assert all(state[F.SCORE] == 0.25 and state[F.SCORE_N] == state[F.N] for state in states)


@pytest.mark.parametrize("call, args, error, message", [
    ("stack_states", lambda s: ([s], doubles(F.SLOTS - 1)), ValueError,
     f"out holds {F.SLOTS - 1} doubles, not {F.SLOTS}"),
    ("stack_states", lambda s: ((s,), doubles(F.SLOTS)), TypeError, "states must be a list"),
    ("stack_states", lambda s: ([doubles(3)], doubles(F.SLOTS)), ValueError, "a state holds 3 doubles"),
    ("stack_states", lambda s: ([s], bytes(8 * F.SLOTS)), ValueError, "out is read-only"),
    ("stack_states", lambda s: ([s], s), ValueError, r"out overlaps states\[0\]"),
    ("stack_states", lambda s: ([s],), TypeError, "takes 2 arguments, not 1"),
    ("store_scores", lambda s: ([s], doubles(2)), ValueError, "scores holds 2 doubles, not 1"),
    ("store_scores", lambda s: ([s, bytes(8 * F.SLOTS)], doubles(2)), ValueError, "a state is read-only"),
    ("store_scores", lambda s: ([s, 1.0], doubles(2)), TypeError, "a state must be a C-contiguous"),
    ("store_scores", lambda s: ([s], np.frombuffer(s)[F.SCORE:F.SCORE + 1]), ValueError,
     r"scores overlaps states\[0\]"),
])
def test_stack_states_and_store_scores_refuse_bad_input_and_write_nothing(kernel, call, args, error, message):
    state = array("d", range(F.SLOTS))
    args = args(state)
    with pytest.raises(error, match=message):
        getattr(kernel, call)(*args)
    assert state == array("d", range(F.SLOTS)), "a refused call wrote a state"
    arrays = [a for a in args if isinstance(a, array) and a is not state]
    del args  # (one case's scores is a numpy view of the state, which holds its buffer)
    assert still_resizable(state, *arrays)


# ------------------------------------------------------------------ a rescan's scores

def rescannable_states() -> list[array]:
    """Generated accounts and edge states, some too young to score, some cleared by a human, some scored since
    their last tweet and some not."""
    states = [array("d", state) for state in generated_states()] + [array("d", s) for s in EDGE_STATES.values()
                                                                      if evaluable(s)]
    for k, state in enumerate(states):
        state[F.ACTION] = [0.0, 1.0, 2.0, 3.0][k % 4] if k % 5 else NAN
        state[F.SCORE] = 0.25 + k / 10_000
        state[F.SCORE_N] = state[F.N] - (k % 3 == 0)
    return states


def test_ready_scores_equal_the_definition(kernel):
    states = rescannable_states()
    means, stds, weights, clip, intercept = trained_params()
    for min_tweets, excluded in ((3.0, 3.0), (1.0, 0.0), (1e9, 3.0), (-INF, NAN)):
        expected = scoring.ready_scores_python(states, min_tweets, excluded, means, stds, weights, clip, intercept)
        got = scoring.ready_scores(states, min_tweets, excluded, means, stds, weights, clip, intercept)
        assert np.array_equal(got[0], expected[0]) and got[0].dtype == expected[0].dtype
        for column, want in zip(got[1:], expected[1:]):
            assert_same_bits(np.ascontiguousarray(column), np.ascontiguousarray(want))
    ready = scoring.ready_scores_python(states, 3.0, 3.0, means, stds, weights, clip, intercept)
    assert 0 < len(ready[0]) < len(states) - 20  # some left out by each rule
    assert np.isnan(ready[4]).any() and (~np.isnan(ready[4])).any()
    assert (ready[1] > 0.5).any() and (ready[1] < 0.5).any()
    assert len(scoring.ready_scores([], 1.0, 3.0, means, stds, weights, clip, intercept)[0]) == 0


def test_without_the_kernel_ready_scores_run_numpy_and_agree_within_rounding(monkeypatch):
    states = rescannable_states()[:len(generated_states())]  # (the edge states are beyond numpy's rounding)
    means, stds, weights, clip, intercept = trained_params()
    compiled = scoring.ready_scores(states, 3.0, 3.0, means, stds, weights, clip, intercept)
    monkeypatch.setattr(scoring, "_kernel", None)
    fallback = scoring.ready_scores(states, 3.0, 3.0, means, stds, weights, clip, intercept)
    assert np.array_equal(fallback[0], compiled[0]) and len(compiled[0]) > 50
    for got, want in zip(fallback[1:], compiled[1:]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def ready_args(state: array, **changed) -> dict:
    args = dict(states=[state], min_tweets=1.0, excluded_action=3.0, means=doubles(NF),
                stds=array("d", [1.0] * NF), weights=doubles(NF), clip=5.0, intercept=0.0, out=doubles(5))
    return {**args, **changed}


@pytest.mark.parametrize("changed, error, message", [
    (lambda s: dict(states=(s,)), TypeError, "states must be a list"),
    (lambda s: dict(states=[s, doubles(3)], out=doubles(10)), ValueError, "a state holds 3 doubles"),
    (lambda s: dict(states=[s, 1.0], out=doubles(10)), TypeError, "a state must be a C-contiguous"),
    (lambda s: dict(out=doubles(4)), ValueError, "out holds 4 doubles, not 5"),
    (lambda s: dict(out=bytes(40)), ValueError, "out is read-only"),
    (lambda s: dict(out=np.frombuffer(s, dtype=np.float64)[:5]), ValueError, r"out overlaps states\[0\]"),
    (lambda s: dict(means=doubles(NF - 1)), ValueError, "means holds 36 doubles, not 37"),
    (lambda s: dict(stds=array("d", [1.0] * 5 + [0.0] * 32)), ValueError, r"stds\[5\] \(default_profile\) is 0"),
    (lambda s: dict(min_tweets="1"), TypeError, "must be real number"),
    (lambda s: dict(intercept=None), TypeError, "must be real number"),
])
def test_ready_scores_refuse_bad_input_and_write_no_state(kernel, changed, error, message):
    state = array("d", EDGE_STATES["typical"])
    before = state.tobytes()
    args = ready_args(state, **changed(state))
    with pytest.raises(error, match=message):
        kernel.ready_scores(*args.values())
    assert state.tobytes() == before
    with pytest.raises(TypeError, match="takes 9 arguments, not 8"):
        kernel.ready_scores(*list(ready_args(state).values())[:8])
    arrays = [a for a in args.values() if isinstance(a, array) and a is not state]
    del args  # (one case's out is a numpy view of the state, which holds its buffer)
    assert still_resizable(state, *arrays)


# ------------------------------------------------------------------ the expiry scan

def test_idle_accounts_equals_the_definition(kernel):
    states = [array("d", state) for state in generated_states()]
    accounts = {f"a{i}": state for i, state in enumerate(states)}
    times = sorted({state[F.LAST_TS] for state in states})
    assert len(times) > 3
    for horizon in (times[0], times[len(times) // 2], times[-1], times[-1] + 1.0, NAN, -math.inf, math.inf):
        expected = scoring.idle_accounts_python(accounts, horizon)
        assert kernel.idle_accounts(accounts, horizon) == expected
        assert scoring.idle_accounts(accounts, horizon) == expected
    assert scoring.idle_accounts_python(accounts, times[len(times) // 2])  # some are idle, not all
    assert len(scoring.idle_accounts_python(accounts, times[len(times) // 2])) < len(accounts)
    assert kernel.idle_accounts({}, 0.0) == []


@pytest.mark.parametrize("args, error, message", [
    (lambda s: ({"a": s},), TypeError, "takes 2 arguments, not 1"),
    (lambda s: ([s], 0.0), TypeError, "accounts must be a dict"),
    (lambda s: ({"a": s}, "x"), TypeError, "must be real number"),
    (lambda s: ({"a": s, "b": doubles(3)}, 0.0), ValueError, "a state holds 3 doubles"),
    (lambda s: ({"a": s, "b": 1.0}, 0.0), TypeError, "a state must be a C-contiguous"),
])
def test_idle_accounts_refuses_bad_input(kernel, args, error, message):
    state = array("d", range(F.SLOTS))
    with pytest.raises(error, match=message):
        kernel.idle_accounts(*args(state))
    assert still_resizable(state)


def test_without_the_kernel_the_expiry_scan_runs_in_python(monkeypatch):
    monkeypatch.setattr(scoring, "_kernel", None)
    states = {f"a{i}": array("d", state) for i, state in enumerate(generated_states()[:20])}
    horizon = sorted(state[F.LAST_TS] for state in states.values())[10]
    assert scoring.idle_accounts(states, horizon) == [a for a, s in states.items() if s[F.LAST_TS] < horizon]


# ------------------------------------------------------------------ a label's features

def assert_same_dict(got: dict, expected: dict) -> None:
    """The same keys in the same order (River sums a dot product in its input's order) and the same bits."""
    assert list(got) == list(expected)
    assert all(type(v) is float for v in got.values())
    assert_same_bits(np.array(list(got.values()), dtype=np.float64), np.array(list(expected.values()),
                                                                               dtype=np.float64))


def test_known_features_equal_the_definition(kernel):
    states = generated_states() + [s for s in EDGE_STATES.values()] + [array("d", F.new_state())]
    partial = 0
    for state in states:
        expected = F.feature_dict(F.feature_row(state))
        partial += 0 < len(expected) < len(F.FEATURE_NAMES)
        assert_same_dict(kernel.known_features(state), expected)
        assert_same_dict(scoring.known_features(state), expected)
    assert partial, "no state had some features unknown: the NaN branch went untested"
    assert kernel.known_features(array("d", F.new_state())) == {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(state=states())
def test_known_features_equal_the_definition_on_hypothesis_states(kernel, state):
    assert_same_dict(kernel.known_features(state), F.feature_dict(F.feature_row(state)))


def test_known_features_refuse_what_is_no_state(kernel):
    with pytest.raises(ValueError, match="a state holds 3 doubles"):
        kernel.known_features(doubles(3))
    with pytest.raises(TypeError, match="a state must be a C-contiguous"):
        kernel.known_features(1.0)


def test_without_the_kernel_a_label_s_features_come_from_python(monkeypatch):
    monkeypatch.setattr(scoring, "_kernel", None)
    state = generated_states()[0]
    assert_same_dict(scoring.known_features(state), F.feature_dict(F.feature_row(state)))


# ------------------------------------------------------------------ the reasons of a flag

def same_reasons(got: list, expected: list) -> bool:
    """Equal, with each figure to the bit (0.0 is not -0.0; NaN is NaN)."""
    def bits(reasons):
        return [[(r["feature"], *(struct.pack("<d", r[k]) if r[k] == r[k] else "nan" for k in ("value", "contribution")))
                 for r in row] for row in reasons]
    return bits(got) == bits(expected) and all(type(r) is dict and list(r) == ["feature", "value", "contribution"]
                                               for row in got for r in row)


def test_top_reasons_equal_the_definition_on_trained_rows(kernel):
    states = rescannable_states()
    rows = scoring.feature_rows(scoring.stack_states(states))
    contributions, _ = scoring.linear_scores(rows, *trained_params())
    for top in (0, 1, 3, 5, NF):
        expected = scoring.top_reasons_python(rows, contributions, F.FEATURE_NAMES, top)
        assert same_reasons(kernel.top_reasons(rows, contributions, len(rows), top), expected)
        assert same_reasons(scoring.top_reasons(rows, contributions, F.FEATURE_NAMES, top), expected)
    three = scoring.top_reasons_python(rows, contributions, F.FEATURE_NAMES, 3)
    assert {len(r) for r in three} >= {3} and len({r[0]["feature"] for r in three if r}) > 3


def test_top_reasons_rank_ties_in_feature_order_and_skip_what_does_not_push_up(kernel):
    rng = np.random.default_rng(8)
    rows = rng.normal(size=(400, NF)) * 10.0 ** rng.integers(-8, 10, size=(400, NF))
    contributions = rng.choice([0.5, 0.25, 0.0, -0.0, -1.0, NAN, INF, -INF, 1e-300, 5e-324], size=(400, NF))
    contributions[::3] = 0.5  # all tied
    contributions[1::7] = rng.normal(size=NF)
    for top in (1, 2, 3, 7, NF):
        expected = scoring.top_reasons_python(rows, contributions, F.FEATURE_NAMES, top)
        assert same_reasons(kernel.top_reasons(rows, contributions, len(rows), top), expected)
    tied = scoring.top_reasons_python(rows[:1], contributions[:1], F.FEATURE_NAMES, 3)[0]
    assert [r["feature"] for r in tied] == list(F.FEATURE_NAMES[:3])
    assert kernel.top_reasons(rows, np.zeros((400, NF)), 400, 3) == [[]] * 400


def rounding_cases() -> list[float]:
    """Doubles at every scale, and the ones round(x, 6) is hardest on: decimal and binary ties, their
    neighbours, where x * 1e6 stops having a fraction (2**52), zeros, subnormals, infinities and NaN."""
    rng = np.random.default_rng(21)
    cases = (rng.random(20_000) * 10.0 ** rng.integers(-12, 13, size=20_000)).tolist()
    cases += rng.normal(size=5_000).tolist() + rng.integers(-10**7, 10**7, size=5_000).tolist()
    ties = [float(f"{k}.{d}5") * 10.0 ** -e for k in range(0, 30) for d in ("", "0", "00", "4", "99999")
            for e in (0, 3, 6)] + [j / 128 for j in range(-300, 300)] + [j / 2**20 for j in range(0, 3000, 7)]
    ties += [float(f"0.{'0' * z}{k}5") for z in range(0, 8) for k in range(0, 100)]
    for x in ties:
        cases += [x, math.nextafter(x, INF), math.nextafter(x, -INF)]
    for x in (2.0**30, 2.0**50 / 1e6, 2.0**51 / 1e6, 2.0**52 / 1e6, 2.0**53 / 1e6, 1e300 / 1e6, 2.0**60):
        cases += [x, math.nextafter(x, INF), math.nextafter(x, -INF), x + 0.25e-6, x + 0.5e-6, x + 0.75e-6]
    cases += [0.0, 5e-324, 2.2250738585072014e-308, 1e-300, 4.9999999e-7, 5e-7, 5.0000001e-7, 1.7976931348623157e308,
              INF, NAN]
    return cases + [-x for x in cases]


def test_top_reasons_round_each_figure_as_python_does(kernel):
    cases = rounding_cases()
    n = len(cases)
    rows, contributions = np.zeros((n, NF)), np.zeros((n, NF))
    rows[:, 4] = cases
    contributions[:, 4] = [abs(x) if abs(x) > 0 else 1.0 for x in cases]  # (a reason only if it pushes up)
    got = kernel.top_reasons(rows, contributions, n, 1)
    for x, [reason] in zip(cases, got):
        want = round(x, 6)
        assert reason["feature"] == F.FEATURE_NAMES[4]
        assert (reason["value"] != reason["value"] and want != want) or struct.pack("<d", reason["value"]) == \
            struct.pack("<d", want), (x, reason["value"], want)
        c = abs(x) if abs(x) > 0 else 1.0
        assert c != c or struct.pack("<d", reason["contribution"]) == struct.pack("<d", round(c, 6)), x


@pytest.mark.parametrize("args, error, message", [
    ((doubles(NF), doubles(NF), 1), TypeError, "takes 4 arguments, not 3"),
    ((doubles(NF), doubles(NF), 1, -1), ValueError, "top must be from 0 to 37, not -1"),
    ((doubles(NF), doubles(NF), 1, NF + 1), ValueError, "top must be from 0 to 37, not 38"),
    ((doubles(NF), doubles(NF), -1, 3), ValueError, "n must be a row count from 0 on, not -1"),
    ((doubles(NF), doubles(NF - 1), 1, 3), ValueError, "contributions holds 36 doubles, not 37"),
    ((doubles(2 * NF), doubles(2 * NF), 1, 3), ValueError, "rows holds 74 doubles, not 37"),
    ((doubles(NF), [0.0] * NF, 1, 3), TypeError, "contributions must be a C-contiguous"),
    ((doubles(NF), doubles(NF), 1, "3"), TypeError, "cannot be interpreted as an integer"),
])
def test_top_reasons_refuse_bad_input(kernel, args, error, message):
    with pytest.raises(error, match=message):
        kernel.top_reasons(*args)
    assert still_resizable(*[a for a in args if isinstance(a, array)])


def test_top_reasons_of_other_features_or_without_the_kernel_come_from_python(monkeypatch):
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    contributions = np.array([[0.1, 0.3, 0.2], [-1.0, 0.0, 0.5]])
    names = ("a", "b", "c")
    assert scoring.top_reasons(rows, contributions, names, 2) == [
        [{"feature": "b", "value": 2.0, "contribution": 0.3}, {"feature": "c", "value": 3.0, "contribution": 0.2}],
        [{"feature": "c", "value": 6.0, "contribution": 0.5}]]
    full_rows, full_contributions = np.full((2, NF), 2.0), np.tile(np.linspace(-1.0, 1.0, NF), (2, 1))
    compiled = scoring.top_reasons(full_rows, full_contributions, F.FEATURE_NAMES, 3)
    monkeypatch.setattr(scoring, "_kernel", None)
    assert scoring.top_reasons(full_rows, full_contributions, F.FEATURE_NAMES, 3) == compiled
    assert [r["feature"] for r in compiled[0]] == list(F.FEATURE_NAMES[-1:-4:-1])
