"""Per-account features: duplicates, event-time order, the definitions in FEATURES, and the memory bound."""

from __future__ import annotations

import math
import random
import statistics
import sys
import tracemalloc
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import features as F
from consumer.decode import decode_tweets
from consumer.events import Profile, Tweet
from fixtures.formats import load_bytes, load_json, to_compact, to_v2

import orjson

T0 = 1_709_251_200.0  # 2024-03-01T00:00:00Z


def tw(i: int, ts: float, account: str = "42", **kw) -> Tweet:
    return Tweet(str(1_000_000 + i), account, ts, **kw)


def feats(state) -> dict[str, float]:
    return dict(zip(F.FEATURE_NAMES, F.feature_row(state)))


def fold(tweets) -> tuple[array, list[bool]]:
    state = F.new_state()
    return state, [F.update(state, t) for t in tweets]


# ---------------------------------------------------------------- the table

def test_the_table_documents_every_feature_once():
    assert len(F.FEATURES) == len(set(F.FEATURE_NAMES)) >= 20 + 15
    for name, unit, definition in F.FEATURES:
        assert name.isidentifier() and unit and len(definition) > 10
    assert len(F.feature_row(F.new_state())) == len(F.FEATURES)
    state, _ = fold([tw(0, T0, text="hello world", urls=("https://a.com/x",))])
    assert len(F.feature_row(state)) == len(F.FEATURES)


def test_botometer_lite_profile_features_come_first():
    assert F.FEATURE_NAMES[:20] == (
        "statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count",
        "default_profile", "profile_use_background_image", "verified", "tweet_freq", "followers_growth_rate",
        "friends_growth_rate", "favourites_growth_rate", "listed_growth_rate", "followers_friends_ratio",
        "screen_name_length", "num_digits_in_screen_name", "name_length", "num_digits_in_name",
        "description_length", "screen_name_likelihood")


def test_feature_table_renders_every_feature():
    table = F.feature_table()
    for name, unit, _ in F.FEATURES:
        assert f"`{name}` | {unit} |" in table


def test_readme_carries_the_feature_table():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    assert F.feature_table() in readme.read_text(), "README's feature table is stale: python -m consumer.features"


# -------------------------------------------------------------- duplicates

def test_a_redelivered_tweet_changes_nothing():
    state, accepted = fold([tw(1, T0, text="a"), tw(2, T0 + 60, text="b")])
    before = state.tobytes()
    assert not F.update(state, tw(1, T0, text="a"))
    assert not F.update(state, tw(2, T0 + 60, text="b"))
    assert state.tobytes() == before and accepted == [True, True]


def test_the_same_tweet_in_three_formats_counts_once():
    v11 = load_json("v11_classic.json")
    state = F.new_state()
    results = [F.update(state, decode_tweets(orjson.dumps(p))[0]) for p in (v11, to_v2(v11), to_compact(v11))]
    assert results == [True, False, False] and state[F.N] == 1


def test_out_of_order_arrivals_within_the_window_all_count_and_their_duplicates_do_not():
    order = [5, 3, 4, 1, 2, 7, 6]
    state, accepted = fold([tw(i, T0 + 60 * i) for i in order])
    assert all(accepted) and state[F.N] == 7
    assert state[F.FIRST_TS] == T0 + 60 and state[F.LAST_TS] == T0 + 420
    assert not any(F.update(state, tw(i, T0 + 60 * i)) for i in order)
    assert state[F.N] == 7


def test_a_duplicate_is_caught_however_late():
    state, accepted = fold([tw(i, T0 + 60 * i) for i in range(200)])
    assert all(accepted)
    before = state.tobytes()
    for i in (0, 1, 100, 190, 191, 199):  # long gone from the window of 8, or still in it
        assert not F.update(state, tw(i, T0 + 60 * i))
    assert state.tobytes() == before


def test_a_new_tweet_older_than_the_window_is_ignored_too():
    # the price of bounded memory: it cannot be told from a duplicate of a forgotten tweet
    state, _ = fold([tw(i, T0 + 60 * i) for i in range(20)])
    assert not F.update(state, tw(999, T0 + 60 * 5 + 1))
    # but one newer than all the forgotten ones still counts, even if it arrives late
    assert F.update(state, tw(998, T0 + 60 * 12 + 1))
    assert state[F.N] == 21


def test_up_to_nine_tweets_with_the_very_same_time_count():
    state, accepted = fold([tw(i, T0) for i in range(12)])
    assert accepted == [True] * (F.ID_RING_SIZE + 1) + [False] * (12 - F.ID_RING_SIZE - 1)


def test_non_numeric_and_odd_ids_are_told_apart():
    ids = ["a", "b", "uuid-1", "uuid-2", "²", "١٢٣", "123", "0123", "9" * 64, "9" * 63]
    state = F.new_state()
    assert all(F.update(state, Tweet(i, "42", T0 + k)) for k, i in enumerate(ids[:8]))
    state = F.new_state()
    assert all(F.update(state, Tweet(i, "42", T0 + k)) for k, i in enumerate(ids[-8:]))
    assert not F.update(state, Tweet(ids[-1], "42", T0 + 7))


tweet_st = st.builds(
    lambda i, dt, text, url, src: (i, dt, text, url, src),
    st.integers(0, 40), st.floats(0, 3 * 86400, allow_nan=False), st.sampled_from(["", "buy now", "hello there", "x"]),
    st.booleans(), st.sampled_from(["", "web", "bot"]))


def _mk(spec) -> Tweet:
    i, dt, text, url, src = spec
    return Tweet(str(i), "42", T0 + dt, text=text, urls=("https://s.co/a",) if url else (), source=src)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(tweet_st, min_size=1, max_size=40, unique_by=lambda s: s[0]), data=st.data())
def test_duplicates_anywhere_leave_the_state_as_without_them(specs, data):
    """Any order of arrival; a duplicate (same id, same content) inserted anywhere after its original."""
    plain = [_mk(s) for s in specs]
    with_dups = list(plain)
    for _ in range(data.draw(st.integers(0, 30))):
        original = data.draw(st.integers(0, len(plain) - 1))
        where = data.draw(st.integers(with_dups.index(plain[original]) + 1, len(with_dups)))
        with_dups.insert(where, _mk(specs[original]))
    a, _ = fold(plain)
    b, _ = fold(with_dups)
    assert a.tobytes() == b.tobytes()


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.floats(1, 86400, allow_nan=False), min_size=1, max_size=60))
def test_in_order_tweets_with_distinct_times_are_all_counted(gaps):
    times = [T0 + sum(gaps[:k]) for k in range(len(gaps))]
    state, accepted = fold([tw(k, t) for k, t in enumerate(times)])
    assert all(accepted) and state[F.N] == len(times)


# ------------------------------------------------------ stream statistics

@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.floats(0, 86400, allow_nan=False), min_size=2, max_size=50),
       lengths=st.lists(st.integers(0, 280), min_size=51, max_size=51))
def test_incremental_statistics_equal_the_batch_ones(gaps, lengths):
    times = [T0]
    for g in gaps:
        times.append(times[-1] + g)
    tweets = [tw(k, t, text="x" * lengths[k]) for k, t in enumerate(times)]
    state, accepted = fold(tweets)
    assume_all = all(accepted)  # equal times beyond 9 in a row are dropped; gaps of 0 are rare
    if not assume_all:
        return
    f = feats(state)
    real_gaps = [b - a for a, b in zip(times, times[1:])]
    assert f["interarrival_mean"] == pytest.approx(statistics.fmean(real_gaps), rel=1e-9, abs=1e-6)
    sd = statistics.pstdev(real_gaps)
    mean = statistics.fmean(real_gaps)
    if len(real_gaps) >= 2 and mean > 0:
        assert f["interarrival_cv"] == pytest.approx(sd / mean, rel=1e-6, abs=1e-6)
        assert f["burstiness"] == pytest.approx((sd - mean) / (sd + mean), rel=1e-6, abs=1e-6)
    texts = [n for n in lengths[:len(times)] if n]
    if texts:
        assert f["text_length_mean"] == pytest.approx(statistics.fmean(texts))
        assert f["text_length_var"] == pytest.approx(statistics.pvariance(texts), rel=1e-9, abs=1e-6)
    else:
        assert math.isnan(f["text_length_mean"])
    span_h = (times[-1] - times[0]) / 3600
    if span_h > 0:
        assert f["tweet_rate"] == pytest.approx((len(times) - 1) / span_h)


def test_a_regular_bot_has_no_variation():
    state, _ = fold([tw(k, T0 + 600 * k, text="same") for k in range(30)])
    f = feats(state)
    assert f["interarrival_mean"] == 600 and f["interarrival_cv"] == 0 and f["burstiness"] == -1
    assert f["tweet_rate"] == pytest.approx(6.0)
    assert f["duplicate_text_ratio"] == pytest.approx(29 / 30)


def test_a_late_tweet_splits_no_gap():
    on_time = [tw(k, T0 + 600 * k) for k in range(10)]
    state, _ = fold(on_time)
    gaps_before = (state[F.N_DT], state[F.DT_MEAN], state[F.DT_M2])
    assert F.update(state, tw(99, T0 + 600 * 8 + 5))  # within the window, late
    assert (state[F.N_DT], state[F.DT_MEAN], state[F.DT_M2]) == gaps_before
    assert state[F.N] == 11


def test_one_tweet_has_no_rate_and_no_gaps():
    state, _ = fold([tw(0, T0, text="hi")])
    f = feats(state)
    for name in ("tweet_rate", "interarrival_mean", "interarrival_cv", "burstiness"):
        assert math.isnan(f[name])
    assert math.isnan(f["hour_entropy"]) and f["text_length_mean"] == 2


def test_two_tweets_have_a_mean_gap_but_no_variation():
    f = feats(fold([tw(0, T0), tw(1, T0 + 30)])[0])
    assert f["interarrival_mean"] == 30 and math.isnan(f["interarrival_cv"])


def test_hour_of_day_entropy_and_packed_counters():
    # h + 1 tweets in hour h, spread over two days (the hour of day is what counts)
    times = sorted(T0 + 86400 * (k % 2) + 3600 * h + k for h in range(24) for k in range(h + 1))
    state, _ = fold([tw(i, ts) for i, ts in enumerate(times)])
    assert F.hour_counts(state) == [float(h + 1) for h in range(24)]
    counts = [h + 1 for h in range(24)]
    total = sum(counts)
    collision = sum(c * (c - 1) for c in counts) / (total * (total - 1))
    assert feats(state)["hour_entropy"] == pytest.approx(-math.log2(collision))
    uniform, _ = fold([tw(h, T0 + 3600 * h) for h in range(48)])
    assert feats(uniform)["hour_entropy"] == pytest.approx(math.log2(24))
    one_hour, _ = fold([tw(d, T0 + 86400 * d) for d in range(5)])
    assert feats(one_hour)["hour_entropy"] == 0


def test_hour_entropy_is_missing_until_the_tweets_span_a_day():
    state, _ = fold([tw(k, T0 + 3000 * k) for k in range(28)])  # 22.5 hours
    assert math.isnan(feats(state)["hour_entropy"])
    F.update(state, tw(99, T0 + 86400))
    assert 0 < feats(state)["hour_entropy"] <= math.log2(24)


def test_hour_entropy_does_not_grow_with_the_tweets_seen():
    """Shannon's plug-in entropy of n tweets falls short by about 23 / (2 n ln 2) bits: an account would look
    more and more evenly spread over the day just by tweeting more. The collision entropy does not."""
    rng = random.Random(1)
    weights = [1 + 0.7 * math.cos(2 * math.pi * (h - 17) / 24) for h in range(24)]  # the daily rhythm of a human

    def mean_entropy(n):
        values = []
        for _ in range(300):
            hours = rng.choices(range(24), weights, k=n)
            times = sorted(T0 + 86400 * (k * 5 // n) + 3600 * h + k for k, h in enumerate(hours))  # over 5 days
            state, _ = fold([tw(k, ts) for k, ts in enumerate(times)])
            values.append(feats(state)["hour_entropy"])
        return statistics.fmean(values)

    true_entropy = -math.log2(sum((w / sum(weights)) ** 2 for w in weights))
    assert abs(mean_entropy(30) - true_entropy) < 0.05 and abs(mean_entropy(300) - true_entropy) < 0.02


def test_ratios():
    tweets = [
        tw(0, T0, text="a", urls=("https://a.com/1",), mentions=2, hashtags=1, is_reply=True),
        tw(1, T0 + 1, text="b", is_retweet=True),
        tw(2, T0 + 2, text="c", is_quote=True, mentions=1),
        tw(3, T0 + 3, text="d", urls=("https://b.com/1", "https://c.com/2")),
    ]
    f = feats(fold(tweets)[0])
    assert f["url_ratio"] == 0.5 and f["mention_ratio"] == 0.75 and f["hashtag_ratio"] == 0.25
    assert (f["retweet_ratio"], f["reply_ratio"], f["quote_ratio"]) == (0.25, 0.25, 0.25)
    assert math.isnan(f["distinct_url_domains"])  # too few links to say


def test_distinct_url_domains_once_enough_links_are_seen():
    links = [(f"https://a.com/{k}",) if k % 3 == 0 else (f"https://b.com/{k}", f"https://c.com/{k}") for k in range(8)]
    state, _ = fold([tw(k, T0 + k, urls=urls) for k, urls in enumerate(links[:7])])
    assert math.isnan(feats(state)["distinct_url_domains"])
    F.update(state, tw(7, T0 + 7, urls=links[7]))
    assert 2.5 < feats(state)["distinct_url_domains"] < 3.5


@pytest.mark.parametrize("url, domain", [
    ("https://www.Example.com/a?b", "example.com"),
    ("http://user:pw@example.com:8080/x", "example.com"),
    ("https://bit.ly/3xYz", "bit.ly"),
    ("bit.ly/3xYz", "bit.ly"),
    ("https://example.com?q=1", "example.com"),
    ("https://example.com#frag", "example.com"),
    ("", ""),
])
def test_url_domain(url, domain):
    assert F._domain(url) == domain


def test_one_domain_many_links_is_one_domain():
    tweets = [tw(k, T0 + k, urls=(f"https://www.deal-shop.biz/{k}", f"http://deal-shop.biz/x{k}")) for k in range(20)]
    assert feats(fold(tweets)[0])["distinct_url_domains"] == pytest.approx(1.0, abs=0.05)


def test_near_duplicates_see_through_templates():
    texts = [f"Get {p} now at {n}% off!!! Limited offer https://x.co/{n} @user{n}"
             for p, n in (("watches", 30), ("watches", 50), ("watches", 70))]
    f = feats(fold([tw(k, T0 + k, text=t) for k, t in enumerate(texts)])[0])
    assert f["duplicate_text_ratio"] == 0 and f["near_duplicate_text_ratio"] == pytest.approx(2 / 3)


def test_text_without_words_compares_exactly():
    # links only, or a language written without spaces: no false near-duplicates
    texts = ["https://a.co/1", "https://a.co/2", "今日はいい天気ですね!", "明日も晴れるといいな!"]
    f = feats(fold([tw(k, T0 + k, text=t) for k, t in enumerate(texts)])[0])
    assert f["near_duplicate_text_ratio"] == 0


def test_missing_text_and_source_make_their_features_missing():
    state, _ = fold([tw(k, T0 + 60 * k) for k in range(5)])
    f = feats(state)
    for name in ("duplicate_text_ratio", "near_duplicate_text_ratio", "text_length_mean", "text_length_var",
                 "source_diversity"):
        assert math.isnan(f[name]), name
    assert f["url_ratio"] == 0 and "source_diversity" not in F.feature_dict(F.feature_row(state))


def test_source_diversity():
    f = feats(fold([tw(k, T0 + k, source=s) for k, s in enumerate(["web", "iPhone", "web", "Android"])])[0])
    assert f["source_diversity"] == pytest.approx(3.0, abs=0.3)


# ---------------------------------------------------------- profile features

def test_profile_features_from_a_real_payload():
    t = decode_tweets(load_bytes("v11_classic.json"))[0]
    state, _ = fold([t])
    f = feats(state)
    age_days = (t.ts - t.profile.created_at) / 86400
    assert f["statuses_count"] == 12043 and f["followers_count"] == 1311 and f["friends_count"] == 402
    assert f["tweet_freq"] == pytest.approx(12043 / age_days)
    assert f["followers_growth_rate"] == pytest.approx(1311 / age_days)
    assert f["favourites_growth_rate"] == pytest.approx(8846 / age_days)
    assert f["followers_friends_ratio"] == pytest.approx(1311 / 402)
    assert (f["screen_name_length"], f["num_digits_in_screen_name"]) == (11, 2)  # annasmith42
    assert (f["name_length"], f["num_digits_in_name"], f["description_length"]) == (12, 1, 39)
    assert (f["default_profile"], f["profile_use_background_image"], f["verified"]) == (0, 1, 0)
    assert f["screen_name_likelihood"] < 0


def test_the_newest_user_object_wins_and_a_missing_field_keeps_its_last_value():
    old = Profile(followers=10.0, friends=5.0, created_at=T0 - 86400 * 10, screen_name="bob")
    new = Profile(followers=20.0, created_at=T0 - 86400 * 10)
    stale = Profile(followers=99.0, friends=99.0)
    state, _ = fold([tw(0, T0, profile=old), tw(2, T0 + 100, profile=new), tw(1, T0 + 50, profile=stale)])
    f = feats(state)
    assert f["followers_count"] == 20 and f["friends_count"] == 5 and f["screen_name_length"] == 3


def test_no_profile_means_unknown_profile_features():
    f = feats(fold([tw(0, T0)])[0])
    for name in F.FEATURE_NAMES[:20]:
        assert math.isnan(f[name]), name


def test_young_accounts_count_as_a_day_old():
    p = Profile(statuses=50.0, created_at=T0 - 3600)
    assert feats(fold([tw(0, T0, profile=p)])[0])["tweet_freq"] == 50


def test_screen_name_likelihood_prefers_names():
    a = feats(fold([tw(0, T0, profile=Profile(screen_name="annasmith"))])[0])["screen_name_likelihood"]
    b = feats(fold([tw(0, T0, profile=Profile(screen_name="xq7zk2vw9"))])[0])["screen_name_likelihood"]
    assert a > b


def test_a_huge_screen_name_is_handled_without_caching():
    p = Profile(screen_name="a" * 100_000, name="n" * 100_000)
    f = feats(fold([tw(0, T0, profile=p)])[0])
    assert f["screen_name_length"] == 100_000 and F._screen_name_stats.cache_info().currsize < 1 << 16


# ----------------------------------------------------------------- the state

def test_state_round_trips_through_bytes():
    state, _ = fold([tw(k, T0 + 97 * k, text=f"t{k % 3}", urls=("https://a.b/c",), source="web") for k in range(50)])
    copy = array("d")
    copy.frombytes(state.tobytes())
    assert copy.tobytes() == state.tobytes() and len(copy) == F.SLOTS
    assert not F.update(copy, tw(49, T0 + 97 * 49))


def test_state_size_is_fixed():
    state, _ = fold([tw(k, T0 + k) for k in range(1000)])
    assert len(state) == F.SLOTS and sys.getsizeof(state) == sys.getsizeof(F.new_state())


def test_memory_per_account_is_under_a_kibibyte():
    """State, dict entry and a realistic 19-digit account id, measured over 20,000 accounts."""
    proto = decode_tweets(load_bytes("v11_classic.json"))[0]
    tweets = [Tweet(str(k), str(1_600_000_000_000_000_000 + k * 7919), proto.ts, proto.text, proto.urls,
                    proto.mentions, proto.hashtags, False, False, False, proto.source, proto.profile)
              for k in range(20_000)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        accounts = {}
        for t in tweets:
            state = accounts[t.account_id] = F.new_state()
            F.update(state, t)
        per_account = (tracemalloc.get_traced_memory()[0] - base) / len(accounts)
    finally:
        tracemalloc.stop()
    # the account id strings belong to the tweets here; the dict keeps them alive in production, so add them
    per_account += sys.getsizeof(tweets[0].account_id)
    assert per_account <= 1024, per_account


# ------------------------------------------------- the tuned updates, against their frozen reference
# features_reference.py holds update() as it was before it was tuned for speed; the tuned ones, the Python
# update_python and the compiled update (consumer/_features.c), must leave every state byte for byte as it
# does, and return the same, whatever the input.

import features_reference as reference  # noqa: E402
from producers.generate import Generator  # noqa: E402


def test_the_compiled_update_is_built():
    """Without the extension every test here would pass on update_python alone, and the service would run
    several times slower: fail instead."""
    try:
        from consumer import _features
    except ImportError as e:
        pytest.fail(f"consumer._features is not built ({e}): run `.venv/bin/pip install -e .` (or `make venv`), "
                    "which needs gcc, Python's headers (python3-dev) and zlib's (zlib1g-dev)")
    assert F.COMPILED and F.update is _features.update, (
        "consumer._features was built for another state layout than consumer/features.py's: rebuild it "
        "(`.venv/bin/pip install -e .`), and if its LAYOUT still differs, change consumer/_features.c to match")


UPDATES = {"compiled": F.update, "python": F.update_python}  # each held to the reference


def _outcome(update, state, tweet):
    try:
        return update(state, tweet)
    except Exception as e:  # a hostile value may raise: then it must raise alike, with the same state left
        return type(e)


def assert_same_as_reference(tweets, reference_update=reference.update, updates=UPDATES) -> int:
    """Fold ``tweets`` into per-account states with each update and the reference; compare after every tweet.
    The updates taken."""
    ours: dict[str, dict[str, array]] = {name: {} for name in updates}
    theirs: dict[str, array] = {}
    taken = 0
    for k, t in enumerate(tweets):
        b = theirs.setdefault(t.account_id, F.new_state())
        want = _outcome(reference_update, b, t)
        for name, update in updates.items():
            a = ours[name].setdefault(t.account_id, F.new_state())
            got = _outcome(update, a, t)
            assert got == want and a.tobytes() == b.tobytes(), f"{name} update, tweet {k}: {t!r}"
        taken += want is True
    return taken


@pytest.mark.parametrize("fmt, seed", [("v1", 1), ("v1", 2), ("v2", 3), ("compact", 4)])
def test_the_update_equals_the_reference_on_a_generated_stream(fmt, seed):
    gen = Generator(accounts=300, tweets=20000, seed=seed, format=fmt)
    tweets = [t for r in gen.events() if r.topic == "tweets" for t in decode_tweets(r.value)]
    assert len(tweets) >= 20000
    assert assert_same_as_reference(tweets) == len({t.tweet_id for t in tweets})
    # each tweet again, shuffled: duplicates and late, out-of-order arrivals, some beyond the window
    rng = random.Random(seed)
    again = tweets[:5000] + [t for t in tweets[:5000] if rng.random() < 0.5]
    rng.shuffle(again)
    assert_same_as_reference(again)


ODD_URLS = (
    "https://www.Example.com/a?b", "http://user:pw@example.com:8080/x", "HTTPS://WWW.X.com/", "https://WWW.x.com/",
    "bit.ly/3xYz", "bit.ly", "", "https://", "http://", "http:///x", "https:///", "https://a@b@c.com/x",
    "https://x.com?q=/y", "https://x.com#/frag", "https://x.com:443", "https://x.com", "http://x.com/",
    "ftp://h.org/x", "mailto:a@b.org", "//cdn.net/x", "abcdefgh://host/x", "https:x.com/a", "www.x.com/a",
    "https://пример.рф/путь", "https://xn--e1afmkfd.xn--p1ai/", "https://host\ud800.com/x", "https://\udfff",
    "https://" + "a" * 10_000 + ".com/x", "https://a.com/" + "b" * 10_000, " https://x.com/ ", "https://x.com\n/y",
)
ODD_TEXTS = (
    "", " ", "\t\n", "x", "X", "hello world", "Hello  World ", " hello world", "hello\x1cworld", "hello\x1fworld",
    "hello\u2003world\u3000again", "héllo wörld", "ΣΊΣΥΦΟΣ σίσυφος", "İstanbul ǅemal ß", "今日はいい天気ですね!",
    "buy now!!! https://x.co/1 @bob #deal 50% off", "123 456", "abc123 def", "a\ud800b c", "\udfff", "\ud83d\ude00 ok",
    "x" * 100_000, "word " * 20_000, "w\u0301 e\u0308", "١٢٣ abc", "a\x00b c", "tab\tsep\x0bvt\x0cff\rcr",
)
ODD_IDS = ("0", "00", "0123", "123", "9" * 20, "9" * 21, "١٢٣", "abc", "", "\ud800", "1" * 200, "-1", "+1", " 1")


def test_the_update_equals_the_reference_on_hostile_and_odd_tweets():
    rng = random.Random(5)
    profiles = [
        None, Profile(), Profile(statuses=1.0, screen_name="bob42"), Profile(name="Bob 42", description=""),
        Profile(1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 0.0, 1.0, T0 - 86400, "annasmith42", "Anna Smith 4²", "hi"),
        Profile(1.0, 2.0, 3.0, 4.0, 5.0, None, None, 0.0, T0 - 86400, "x" * 100, "n" * 1000, "d" * 5000),
        Profile(float("nan"), float("inf"), 0.0, -0.0, 1e300, 1.0, 1.0, 1.0, float("nan"), "\ud800", "\udfff", "\x00"),
        Profile(1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 0.0, 1.0, T0, "a1", "", None),
        Profile(1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 0.0, 1.0, T0, None, "Bob", "x"),
        Profile(7.0, 7.0, 7.0, 7.0, 7.0, 0.0, 0.0, 0.0, T0, "b", "١٢٣٤", "y"),
    ]
    tweets = []
    for k in range(3000):
        account = str(k % 7)
        ts = T0 + rng.choice((k * 60.0, k * 60.0 - rng.uniform(0, 3600), T0 % 997, k * 60.0 + 0.5))
        tweet_id = str(10**18 + rng.randrange(2000)) if rng.random() < 0.8 else rng.choice(ODD_IDS)
        tweets.append(Tweet(
            tweet_id, account, ts, text=rng.choice(ODD_TEXTS),
            urls=tuple(rng.choice(ODD_URLS) for _ in range(rng.choice((0, 1, 1, 2, 30)))),
            mentions=rng.choice((0, 0, 1, 3)), hashtags=rng.choice((0, 0, 2)), is_retweet=rng.random() < 0.2,
            is_reply=rng.random() < 0.2, is_quote=rng.random() < 0.1, source=rng.choice(("", "web", "bot\ud800", "x" * 600)),
            profile=rng.choice(profiles)))
    assert assert_same_as_reference(tweets) > 100
    # odd times: the reference raises on some (int() of NaN and infinities), part way through
    odd = [Tweet(str(k), "t", ts, text="a b", urls=("https://a.com",), source="web", profile=profiles[4])
           for k, ts in enumerate((T0, float("nan"), float("inf"), float("-inf"), -0.0, 0.0, -1e18, 1e18, T0 + 1))]
    assert_same_as_reference(odd)


_odd_text = st.text(st.characters(blacklist_categories=()), max_size=40) | st.sampled_from(ODD_TEXTS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.floats(-1e5, 1e5, allow_nan=False), _odd_text,
                          st.lists(st.text(max_size=30) | st.sampled_from(ODD_URLS), max_size=4),
                          st.text(max_size=5), st.text(max_size=20)), max_size=30))
def test_the_update_equals_the_reference_on_any_text_and_links(specs):
    assert_same_as_reference([
        Tweet(str(i), "42", T0 + dt, text=text, urls=tuple(urls), source=source,
              profile=Profile(1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 1.0, 0.0, T0, name, name + "1", name))
        for i, dt, text, urls, source, name in specs])


def test_the_caches_stay_bounded_and_change_nothing():
    """A stream of names, clients and hosts never seen again fills no cache beyond its bound."""
    tweets = [Tweet(str(k), str(k % 3), T0 + k, text=f"t{k}", urls=(f"https://h{k}.com/x", f"h{k}.org"),
                    source=f"client {k}", profile=Profile(name=f"name {k}", screen_name=f"sn{k}"))
              for k in range(3 * F._CACHE_MAX)]
    assert_same_as_reference(tweets)
    for cache in (F._source_bits, F._site_bits):
        assert len(cache) <= F._CACHE_MAX


_tweet_st = st.builds(
    Tweet,
    st.one_of(st.integers(0, 10**22).map(str), st.sampled_from(ODD_IDS), st.text(max_size=6)),
    st.sampled_from(("a", "b")),
    st.one_of(st.floats(-1e5, 1e6).map(lambda d: T0 + d), st.integers(int(T0), int(T0) + 10**6),
              st.sampled_from((float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e300))),
    text=st.text(st.sampled_from("aZq_@[`{1 \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2003é!#/.\ud800"), max_size=30)
    | _odd_text,
    urls=st.lists(st.text("htps:/@w.:?#Ex\u0456", max_size=20) | st.sampled_from(ODD_URLS), max_size=3).map(tuple),
    mentions=st.integers(0, 3) | st.floats(0, 3) | st.booleans() | st.just(10**400),
    hashtags=st.integers(0, 3),
    is_retweet=st.booleans(), is_reply=st.booleans() | st.integers(0, 1), is_quote=st.booleans(),
    source=st.sampled_from(("", "web", "bot\ud800")) | st.text(max_size=4),
    profile=st.none() | st.builds(
        Profile, *[st.none() | st.floats() | st.integers(0, 10**6)] * 9,
        *[st.none() | st.text(max_size=12) | st.text("abXY09_^$-", max_size=70)] * 3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_tweet_st, max_size=25))
def test_every_update_equals_the_reference_on_any_tweet(tweets):
    """Any field of any type a Tweet is built with: NaN, infinite or integer times, odd ids, text with every
    kind of space and lone surrogates, odd links, counts that are floats, bools or too large for a double,
    partial profiles with integer counts and names that are long or not ASCII.

    A tweet with a NaN time raises in every update, but only after it has entered the account's window; the
    reference then finds no window slot to replace (``array.index`` of NaN), where update_python takes the
    first least time, as ``tuple.index`` finds a NaN by identity. There the compiled update is held to
    update_python."""
    if any(t.ts != t.ts for t in tweets):
        assert_same_as_reference(tweets, F.update_python, {"compiled": F.update})
    else:
        assert_same_as_reference(tweets)


# ---------------------------------------- what the compiled update computes, and what it hands to Python
# consumer/_features.c computes what it can exactly and hands any other tweet, untouched, to update_python.
# Each case below says which it takes, counted by a spy bound in update_python's place, so that every branch
# of the C runs here, and is held to update_python's (and, where the input lets it be, the reference's) bytes.

@pytest.fixture
def handed_over():
    """The tweets the compiled update hands to update_python while the test runs."""
    if not F.COMPILED:
        pytest.skip("consumer._features is not built: test_the_compiled_update_is_built says how to build it")
    tweets = []

    def spy(state, tweet):
        tweets.append(tweet)
        return F.update_python(state, tweet)

    F._bind_compiled(spy)
    yield tweets
    F._bind_compiled()


WHOLE = Profile(1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 0.0, 1.0, T0 - 86400, "annasmith42", "Anna Smith 4", "hi")


def _history() -> list[Tweet]:
    """Tweets that put every part of a state to use: both rings, both bitmaps, the sums, the profile."""
    return [Tweet(str(10**18 + k), "h", T0 + 600 * k, text=f"buy now {k % 3}", urls=(f"https://s{k % 2}.co/",),
                  source="web", profile=WHOLE) for k in range(10)]


def _t(**kw) -> Tweet:
    fields = dict(text="hello world", urls=("https://a.com/x",), mentions=1, source="web", profile=WHOLE) | kw
    return Tweet(fields.pop("tweet_id", "2000000000000000000"), "h", fields.pop("ts", T0 + 86400), **fields)


def _set(slot, value):
    def prepare(state):
        state[slot] = value
        return state
    return prepare


class Duck:  # a tweet or profile that is not the dataclass: Python reads its attributes all the same
    def __init__(self, of):
        for name in type(of).__slots__:
            setattr(self, name, getattr(of, name))


class Floats(array):  # an array('d') of another type
    pass


class Seconds(float):  # a float of another type (numpy's float64 is one)
    pass


NAN = float("nan")
COMPILED_CASES = {  # computed by the C
    "ASCII tweet": _t(),
    "ASCII separators \\x1c-\\x1f and \\v \\f": _t(text="Hello\x1cworld\x1dA\x1eb\x1fc\x0bd\x0ce\r\nf"),
    "no alphabetic word": _t(text="123 4x !!! https://x.co/1"),
    "ASCII next to the letters": _t(text="a@b Y[ `c {d} snake_case z Zz AZ az"),
    "text not ASCII": _t(text="héllo WÖRLD İstanbul ΣΊΣΥΦΟΣ ǅemal"),
    "Unicode spaces": _t(text="hello\u2003world\x85again\xa0now\u3000ok"),
    "lone surrogates in text": _t(text="a\ud800b c \udfff d"),
    "emoji": _t(text="\U0001F600 ok \U0001F600ok"),
    "id with a leading zero": _t(tweet_id="0123"),
    "id 0": _t(tweet_id="0"),
    "id of 20 digits": _t(tweet_id="9" * 20),
    "id of 21 digits": _t(tweet_id="9" * 21),
    "empty id": _t(tweet_id=""),
    "id of other digits": _t(tweet_id="١٢٣"),
    "id with a surrogate": _t(tweet_id="\ud800x"),
    "two URLs": _t(urls=("https://a.com/x", "http://b.org")),
    "thirty URLs": _t(urls=tuple(f"https://h{k}.net/p" for k in range(30))),
    "URLs not http": _t(urls=("ftp://h.org/x", "mailto:a@b.org", "//cdn.net/x", "bit.ly/3x", "https:x.com/a")),
    "schemes, or hosts with a port": _t(urls=("bit.ly:8080/x", "a+b.c-d:x/y", "1a:b/c", "x_y:z/w", "?q@h/x")),
    "userinfo, port, www": _t(urls=("http://user:pw@www.Example.com:8080/x", "https://a@b@c.com/x")),
    "one URL, upper case, www": _t(urls=("HTTPS://WWW.X.com/",)),
    "one URL without a path": _t(urls=("https://x.com?q=/y",)),
    "empty URL": _t(urls=("",)),
    "URL not ASCII": _t(urls=("https://пример.рф/путь",)),
    "URL with a surrogate": _t(urls=("https://host\ud800.com/x",)),
    "source not ASCII": _t(source="Twitter für iPhone \ud800"),
    "float, NaN and negative counts": _t(mentions=2.5, hashtags=NAN),
    "huge ASCII screen name": _t(profile=Profile(screen_name="A_b^$9" * 200, name="n" * 1000)),
    "screen name not ASCII": _t(profile=Profile(screen_name="ñandú_42")),
    "screen name with surrogate": _t(profile=Profile(screen_name="x\ud800")),
    "name of other digits": _t(profile=Profile(name="١٢٣٤ Bob", description="")),
    "alphabetic name": _t(profile=Profile(name="Bob")),
    "partial profile": _t(profile=Profile(followers=9.0, default_profile=None, screen_name="bob")),
    "profile without theme flags": _t(profile=Profile(1.0, 2.0, 3.0, 4.0, 5.0, None, None, 1.0, T0, "a", "b", "c")),
    "NaN, infinite and negative zero counts": _t(profile=Profile(NAN, float("inf"), -0.0, 0.0, 1e300)),
    "empty profile": _t(profile=Profile()),
    "stale profile, not even a Profile": _t(ts=T0 + 30, profile="not read"),
    "NaN P_TS": (_t(), _set(F.P_TS, NAN)),
    "duplicate": _t(tweet_id=str(10**18 + 9), ts=T0 + 5400),
    "older than the window": _t(tweet_id="5", ts=T0 - 1),
    "NaN time of a duplicate": _t(tweet_id=str(10**18 + 9), ts=NAN),
    "window time NaN": (_t(), _set(F.ID_TS + 3, NAN)),
    "bitmaps of -0.0": (_t(urls=("https://x.com",), source="web"), lambda s: _set(F.SOURCE_BITS, -0.0)(
        _set(F.DOMAIN_BITS, -0.0)(s))),
}
PYTHON_CASES = {  # handed to update_python
    "integer time": _t(ts=int(T0) + 86400),
    "time a float subclass": _t(ts=Seconds(T0 + 86400)),
    "NaN time": _t(ts=NAN),
    "infinite time": _t(ts=float("inf")),
    "id not a str": _t(tweet_id=12345),
    "text None": _t(text=None),
    "URLs in a list": _t(urls=["https://a.com/x"]),
    "URL not a str": _t(urls=("https://a.com/x", None)),
    "bool count": _t(mentions=True),
    "count too large for a double": _t(hashtags=10**400),
    "int flag": _t(is_retweet=1),
    "source None": _t(source=None),
    "integer profile count": _t(profile=Profile(statuses=7, followers=1.0)),
    "long screen name not ASCII": _t(profile=Profile(screen_name="é" * 65)),
    "profile not a Profile": _t(profile=Duck(WHOLE)),
    "tweet not a Tweet": Duck(_t()),
    "tweet with an unset field": object.__new__(Tweet),
    "state of another array type": (_t(), lambda s: Floats("d", s)),
    "state too short": (_t(), lambda s: s[:F.ID_HORIZON]),
    "ring position not whole": (_t(), _set(F.RING_POS, 2.5)),
    "ring position NaN": (_t(), _set(F.RING_POS, NAN)),
    "URL bitmap NaN": (_t(), _set(F.DOMAIN_BITS, NAN)),
    "URL bitmap beyond 2**53": (_t(), _set(F.DOMAIN_BITS, 2.0**60)),
    "client bitmap negative": (_t(), _set(F.SOURCE_BITS, -1.0)),
}
NOT_THE_REFERENCE = {  # inputs on which update_python already raised otherwise than the reference
    "URL not a str",  # AttributeError (url.startswith) against TypeError (the regex's match)
}


def _fold_case(update, case):
    tweet, prepare = case if isinstance(case, tuple) else (case, None)
    state = F.new_state()
    for t in _history():
        update(state, t)
    if prepare:
        state = prepare(state)
    return _outcome(update, state, tweet), state.tobytes()


@pytest.mark.parametrize("name", [*COMPILED_CASES, *PYTHON_CASES])
def test_each_path_of_the_compiled_update(name, handed_over):
    case = COMPILED_CASES.get(name) or PYTHON_CASES[name]
    got = _fold_case(F.update, case)
    assert len(handed_over) == (name in PYTHON_CASES), "handed to update_python" if handed_over else "computed in C"
    assert got == _fold_case(F.update_python, case)
    if name not in NOT_THE_REFERENCE:
        assert got == _fold_case(reference.update, case)
