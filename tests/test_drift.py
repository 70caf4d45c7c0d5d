"""Drift detection (consumer.drift): statistics, the monitor on synthetic streams, and the real pipeline.

Fast and pure: no broker. Three groups, as issue 6 asks:

1. synthetic feature rows: a stationary stream never fires; a shifted one
   fires within ``window_size + check_every`` rows of the shift;
2. ADWIN on the prequential error: a jump from 5% to 40% is found within
   200 labels; a stationary error (or a falling one) is not reported;
3. end to end: ``producers.generate.Generator`` -> ``consumer.decode`` ->
   ``consumer.features`` -> ``consumer.model`` (prequential: score first,
   learn after) -> :class:`DriftMonitor`, once with bots that change
   behaviour halfway (``drift_at``; by hand if the generator lacks it) and
   once without: the change fires within 5,000 tweets, the stream without it
   never fires. The bots' profiles still give them away after the change, so
   the model's error does not rise and ADWIN rightly stays quiet there.
"""

from __future__ import annotations

import inspect
import random

import numpy as np
import orjson
import pytest

from consumer import features as F
from consumer.decode import decode_label, decode_tweets
from consumer.drift import DriftMonitor, bin_shares, ks_statistic, psi, quantile_edges
from consumer.model import Model
from producers.generate import Generator

# ------------------------------------------------------------------ statistics


def test_ks_statistic_is_exact_with_ties():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(100):
        a = np.sort(np.round(rng.normal(size=rng.integers(1, 400)), rng.integers(0, 3)))
        b = np.sort(np.round(rng.normal(rng.uniform(-1, 1), size=rng.integers(1, 400)), 1))
        assert ks_statistic(a, b) == pytest.approx(scipy_stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert np.isnan(ks_statistic(np.empty(0), np.arange(3.0)))


def test_quantile_edges_are_the_inverted_cdf_quantiles():
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 10, 999, 5000):
        x = np.sort(np.round(rng.lognormal(size=n), 1))
        expected = np.unique(np.quantile(x, np.arange(1, 10) / 10, method="inverted_cdf"))
        np.testing.assert_array_equal(quantile_edges(x, 10), expected)
    np.testing.assert_array_equal(quantile_edges(np.array([0.0] * 7 + [1.0] * 3)), [0.0, 1.0])


def test_bin_shares_and_psi():
    shares = bin_shares(np.array([1.0, 2.0, 2.0, 5.0]), 4, np.array([2.0, 4.0]), eps=0.0)
    np.testing.assert_allclose(shares, [3 / 8, 0.0, 1 / 8, 4 / 8])  # (-inf, 2], (2, 4], (4, inf), NaN
    smoothed = bin_shares(np.array([1.0, 2.0, 2.0, 5.0]), 4, np.array([2.0, 4.0]))
    assert smoothed.min() > 0 and smoothed.sum() == pytest.approx(1.0)
    assert psi(smoothed, smoothed) == 0.0
    even = np.full(4, 0.25)
    assert 0.0 < psi(even, np.array([0.3, 0.2, 0.25, 0.25])) < psi(even, np.array([0.7, 0.1, 0.1, 0.1]))


# ----------------------------------------------------- 1. synthetic feature rows

NAMES = ("gauss", "lognormal", "flag", "count", "ratio", "sparse")


def synthetic(rng: np.random.Generator, n: int, shifted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows of six features of different kinds, and scores; ``shifted`` moves gauss, flag and sparse."""
    rows = np.empty((n, len(NAMES)))
    rows[:, 0] = rng.normal(1.0 if shifted else 0.0, 1.0, n)  # mean moves by one sd
    rows[:, 1] = rng.lognormal(2.0, 1.0, n)
    rows[:, 2] = rng.random(n) < (0.6 if shifted else 0.3)  # a flag turns twice as common
    rows[:, 3] = rng.poisson(3.0, n)
    rows[:, 4] = rng.beta(2.0, 5.0, n)
    rows[:, 5] = rng.normal(0.0, 1.0, n)
    rows[rng.random(n) < (0.7 if shifted else 0.3), 5] = np.nan  # a feature goes missing more often
    scores = rng.beta(1.0, 4.0, n)
    return rows, scores


def feed(monitor: DriftMonitor, rows: np.ndarray, scores: np.ndarray, seed: int = 0, max_batch: int = 400) -> list:
    """Feed the rows in batches of random sizes; return every detection."""
    rng = random.Random(seed)
    found, i = [], 0
    while i < len(rows):
        j = min(len(rows), i + rng.randint(1, max_batch))
        found += monitor.observe_scores(rows[i:j], scores[i:j])
        i = j
    return found


SIZES = {"reference_size": 1000, "window_size": 1000, "check_every": 250}
BOUND_ROWS = SIZES["window_size"] + SIZES["check_every"]  # the live window full of shifted rows, plus one check


@pytest.mark.parametrize("reference", ["sliding", "fixed"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stationary_rows_never_fire(reference, seed):
    rows, scores = synthetic(np.random.default_rng(seed), 30_000)
    monitor = DriftMonitor(NAMES, reference=reference, **SIZES)
    assert feed(monitor, rows, scores, seed) == []
    assert monitor.checks >= 100
    assert max(monitor.feature_psi.values()) < 0.1 and monitor.score_psi < 0.1  # far from 0.25, not near it
    assert np.nanmax(list(monitor.feature_ks.values())) < 0.1


@pytest.mark.parametrize("reference", ["sliding", "fixed"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shifted_rows_fire_within_the_bound(reference, seed):
    rng = np.random.default_rng(seed)
    shift_at = 15_000
    before, after = synthetic(rng, shift_at), synthetic(rng, 15_000, shifted=True)
    rows, scores = np.vstack((before[0], after[0])), np.concatenate((before[1], after[1]))
    monitor = DriftMonitor(NAMES, reference=reference, **SIZES)
    found = feed(monitor, rows, scores, seed)
    fired = {(d.detector, d.feature): d for d in found}
    expected = {("psi", "gauss"), ("ks", "gauss"), ("psi", "flag"), ("psi", "sparse")}
    assert set(fired) == expected, found  # the shifted features, and no other
    for d in found:
        assert shift_at < d.at <= shift_at + BOUND_ROWS, d
        assert d.value > d.threshold
    assert len(found) == len(expected)  # each fires once, however long the drift lasts (fixed) ...
    if reference == "sliding":  # ... and with a sliding reference, re-arms once the reference caught up
        assert monitor.drifted == []


def test_score_shift_fires_and_ks_skips_flags():
    rng = np.random.default_rng(5)
    rows, scores = synthetic(rng, 12_000)
    scores[6000:] = rng.beta(4.0, 1.0, 6000)  # the model now calls most accounts bots
    monitor = DriftMonitor(NAMES, **SIZES)
    found = feed(monitor, rows, scores)
    assert [(d.detector, d.feature) for d in found] == [("score_psi", "score")]
    assert 6000 < found[0].at <= 6000 + BOUND_ROWS
    assert np.isnan(monitor.feature_ks["flag"]) and np.isnan(monitor.feature_ks["count"])  # PSI only
    assert not np.isnan(monitor.feature_ks["gauss"])


def test_a_drift_that_recovers_re_arms_and_fires_again():
    rng = np.random.default_rng(6)
    parts = [synthetic(rng, 5000, shifted=s) for s in (False, True, False, True)]
    rows, scores = np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    monitor = DriftMonitor(NAMES, reference="fixed", monitored=["gauss"], **SIZES)
    found = feed(monitor, rows, scores)
    psi_at = [d.at for d in found if d.detector == "psi"]
    assert len(psi_at) == 2, found  # out, back (re-armed, silent), out again
    assert 5000 < psi_at[0] <= 5000 + BOUND_ROWS and 15_000 < psi_at[1] <= 15_000 + BOUND_ROWS
    assert set(monitor.feature_psi) == {"gauss"}


def test_detections_do_not_depend_on_batch_boundaries():
    rng = np.random.default_rng(7)
    before, after = synthetic(rng, 6000), synthetic(rng, 6000, shifted=True)
    rows, scores = np.vstack((before[0], after[0])), np.concatenate((before[1], after[1]))
    runs = []
    for seed, max_batch in ((0, 1), (1, 37), (2, 5000), (3, 20_000)):
        monitor = DriftMonitor(NAMES, **SIZES)
        runs.append([(d.detector, d.feature, d.value, d.at) for d in feed(monitor, rows, scores, seed, max_batch)])
    assert runs[0] and all(run == runs[0] for run in runs)



@pytest.mark.parametrize("check_every", [1000, 250])
def test_the_reference_taken_over_from_the_last_live_window_is_the_reference_summarised_anew(check_every):
    """With windows of one size checked once a window, a check takes the last check's sorted live window as its
    reference instead of sorting it again: the same reference, to the bit, as one summarised from the ring."""
    rng = np.random.default_rng(11)
    rows, scores = np.vstack((synthetic(rng, 3500)[0], synthetic(rng, 3500, shifted=True)[0])), rng.uniform(size=7000)
    rows[::97, 5] = np.nan
    monitor = DriftMonitor(NAMES, reference_size=1000, window_size=1000, check_every=check_every)
    taken_over = 0
    for start in range(0, len(rows), 125):
        last = monitor._last_live
        checks = monitor.checks
        monitor.observe_scores(rows[start:start + 125], scores[start:start + 125])
        if monitor.checks == checks:
            continue
        ring, pos = monitor._ring, monitor._ring_pos
        anew = monitor._summarise(np.concatenate((ring[:, pos:], ring[:, :pos]), axis=1)[:, :1000])
        got = monitor._reference
        taken_over += last is not None and got.known[0].base is last[1]
        for field in ("edges", "shares", "known"):
            for a, b in zip(getattr(got, field), getattr(anew, field)):
                assert a.tobytes() == b.tobytes()
        assert got.continuous == anew.continuous
    assert taken_over == (5 if check_every == 1000 else 0)

def test_reset_reference_recollects_and_re_arms():
    rng = np.random.default_rng(8)
    before, after = synthetic(rng, 3000), synthetic(rng, 6000, shifted=True)
    monitor = DriftMonitor(NAMES, reference="fixed", **SIZES)
    assert feed(monitor, *before) == []
    first = feed(monitor, after[0][:3000], after[1][:3000])
    assert {d.feature for d in first} == {"gauss", "flag", "sparse"}
    monitor.reset_reference()
    assert monitor.drifted == [] and np.isnan(monitor.score_psi)
    assert feed(monitor, after[0][3000:], after[1][3000:]) == []  # the new reference is the shifted world


def test_sample_every_keeps_one_row_in_k():
    rng = np.random.default_rng(9)
    before, after = synthetic(rng, 20_000), synthetic(rng, 20_000, shifted=True)
    rows, scores = np.vstack((before[0], after[0])), np.concatenate((before[1], after[1]))
    monitor = DriftMonitor(NAMES, sample_every=10, monitored=["gauss"], **SIZES)
    found = feed(monitor, rows, scores)
    assert monitor.rows_seen == 40_000 and monitor.rows_kept == 4000
    assert [d.detector for d in found] == ["psi", "ks"]
    assert 20_000 < found[0].at <= 20_000 + 10 * BOUND_ROWS  # ``at`` counts rows passed in, not kept
    assert found[0].at % 10 == 1  # the row after the last kept one


def test_warmup_rows_are_ignored_and_infinities_count_as_unknown():
    rng = np.random.default_rng(10)
    junk = np.full((500, len(NAMES)), 1e9)
    rows, scores = synthetic(rng, 5000)
    rows[::50, 1] = np.inf
    monitor = DriftMonitor(NAMES, warmup=500, **SIZES)
    assert feed(monitor, np.vstack((junk, rows)), np.concatenate((np.zeros(500), scores))) == []
    assert monitor.checks > 0


def test_bad_input_is_refused():
    monitor = DriftMonitor(NAMES)
    with pytest.raises(ValueError):
        monitor.observe_scores(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError):
        monitor.observe_scores(np.zeros((3, len(NAMES))), np.zeros(4))
    with pytest.raises(ValueError):
        DriftMonitor(NAMES, monitored=["nope"])
    with pytest.raises(ValueError):
        DriftMonitor(NAMES, reference="rolling")
    assert monitor.observe_scores(np.zeros((0, len(NAMES))), np.zeros(0)) == []


# ------------------------------------------------ 2. ADWIN on the prequential error

BOUND_LABELS = 200


def error_stream(monitor: DriftMonitor, rates: list[tuple[int, float]], seed: int) -> list:
    """Feed (label count, error rate) segments as (score, is_bot) pairs; return the detections."""
    rng = random.Random(seed)
    found, i = [], 0
    for n, rate in rates:
        for _ in range(n):
            is_bot = rng.random() < 0.3
            wrong = rng.random() < rate
            score = rng.uniform(0.5, 1.0) if is_bot != wrong else rng.uniform(0.0, 0.5)
            found += monitor.observe_error(score, is_bot, at=i)
            i += 1
    return found


@pytest.mark.parametrize("seed", range(10))
def test_adwin_fires_within_bound_when_the_error_jumps(seed):
    monitor = DriftMonitor(NAMES)
    found = error_stream(monitor, [(3000, 0.05), (2000, 0.4)], seed)
    assert found, "no detection"
    first = found[0]
    assert (first.detector, first.feature) == ("adwin", "error")
    assert 3000 <= first.at < 3000 + BOUND_LABELS
    assert first.details["error_before"] < 0.1 and first.value > first.details["error_before"]
    assert monitor.error_rate == pytest.approx(0.4, abs=0.1)


@pytest.mark.parametrize("seed", range(5))
def test_adwin_is_quiet_on_a_stationary_error(seed):
    assert error_stream(DriftMonitor(NAMES), [(20_000, 0.05)], seed) == []
    assert error_stream(DriftMonitor(NAMES), [(20_000, 0.4)], seed) == []


def test_adwin_reports_a_falling_error_only_when_asked():
    segments = [(3000, 0.4), (3000, 0.05)]  # e.g. a cold model that learns
    assert error_stream(DriftMonitor(NAMES), segments, 1) == []
    both = error_stream(DriftMonitor(NAMES, error_direction="both"), segments, 1)
    assert both and both[0].value < both[0].details["error_before"]


def test_adwin_on_the_absolute_error():
    monitor = DriftMonitor(NAMES, error="absolute")
    found = error_stream(monitor, [(3000, 0.05), (2000, 0.4)], 2)
    assert found and 3000 <= found[0].at < 3000 + BOUND_LABELS and found[0].details["error_kind"] == "absolute"


# ------------------------------------------------------------- 3. end to end

ACCOUNTS, TWEETS, CHANGE = 200, 60_000, 30_000
BOUND_EVENTS = 5000  # tweets after the change by which a feature must have fired
BATCH = 200  # tweets per batch: each batch scores the accounts it touched, once
REVIEW = 0.02  # share of scored accounts a reviewer labels on the spot (prequential: score, then learn)
# Every simulated account starts at the beginning of the stream, so its history (hour-of-day histogram,
# ratios) matures over the first days: the warm-up skips that burn-in (about 8,000 scored rows, 17,000
# tweets), and the windows are first compared about 6,000 tweets before the change.
E2E_SIZES = {"reference_size": 1500, "window_size": 1500, "check_every": 500, "warmup": 8000}

_WORDS = "morning coffee game tonight great love this weekend family friends work music".split()


def _drifted_by_hand(value: bytes, rng: random.Random) -> bytes:
    """A bot's v1.1 tweet after it changed behaviour: no URLs or hashtags, chatty text, a phone client."""
    tweet = orjson.loads(value)
    tweet["entities"]["urls"] = []
    tweet["entities"]["hashtags"] = []
    tweet["text"] = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 25)))
    client = rng.choice(("Twitter for iPhone", "Twitter for Android"))
    tweet["source"] = f'<a href="https://example.invalid">{client}</a>'
    return orjson.dumps(tweet)


def run_pipeline(drift: bool, seed: int = 7) -> tuple[list, DriftMonitor, int]:
    """The stream through decode, features and a learning model into a monitor; detections ``at`` = tweets seen."""
    native = "drift_at" in inspect.signature(Generator).parameters
    if native:
        gen = Generator(accounts=ACCOUNTS, tweets=TWEETS, seed=seed, drift_at=CHANGE if drift else -1)
    else:  # a generator without ``drift_at``: change the bots' tweets ourselves
        gen = Generator(accounts=ACCOUNTS, tweets=TWEETS, seed=seed)
    truth = gen.truth
    mutate_rng, review_rng = random.Random(seed + 1), random.Random(seed + 2)
    model, states, dirty = Model(), {}, {}
    monitor = DriftMonitor(F.FEATURE_NAMES, **E2E_SIZES)
    found: list = []
    seen = checks_at_change = 0

    def score_batch() -> None:
        ready = [(aid, st) for aid, st in dirty.items() if st[F.N] >= 5]
        dirty.clear()
        if not ready:
            return
        rows = np.array([F.feature_row(st) for _, st in ready])
        scores = model.score_many(rows, F.FEATURE_NAMES)
        found.extend(monitor.observe_scores(rows, scores, at=seen))
        for (aid, _), row, score in zip(ready, rows, scores):
            if review_rng.random() < REVIEW:
                is_bot = truth[aid] == "bot"
                found.extend(monitor.observe_error(float(score), is_bot, at=seen))
                model.learn_one(F.feature_dict(row.tolist()), is_bot)

    for record in gen.events():
        if record.topic == "labels":  # the generator's own delayed labels: score first, learn after
            label = decode_label(record.value)
            state = states.get(label.account_id)
            if state is not None:
                x = F.feature_dict(F.feature_row(state))
                found.extend(monitor.observe_error(model.predict_one(x), label.is_bot, at=seen))
                model.learn_one(x, label.is_bot)
            continue
        value = record.value
        if drift and not native and seen >= CHANGE and truth[record.key.decode()] == "bot":
            value = _drifted_by_hand(value, mutate_rng)
        for tweet in decode_tweets(value):
            state = states.get(tweet.account_id)
            if state is None:
                state = states[tweet.account_id] = F.new_state()
            if F.update(state, tweet):
                dirty[tweet.account_id] = state
        seen += 1
        if seen == CHANGE:
            checks_at_change = monitor.checks
        if seen % BATCH == 0:
            score_batch()
    score_batch()
    return found, monitor, checks_at_change


def test_bots_changing_behaviour_fire_within_bound_and_the_unchanged_stream_does_not():
    quiet, monitor, checks_before = run_pipeline(drift=False)
    assert quiet == [], [d.as_dict() for d in quiet]
    assert checks_before >= 4 and monitor.checks >= 30  # windows were compared well before the change point
    assert monitor.labels_seen >= 200  # ADWIN had labels to be quiet about

    found, monitor, _ = run_pipeline(drift=True)
    assert all(d.at >= CHANGE for d in found), "a detection before the change"
    early = [d for d in found if d.at <= CHANGE + BOUND_EVENTS]
    assert early, f"nothing fired within {BOUND_EVENTS} tweets of the change: {[d.as_dict() for d in found]}"
    assert ("psi", "url_ratio") in {(d.detector, d.feature) for d in early}  # spam bots dropped most URLs
    assert all(d.value > d.threshold for d in found)
