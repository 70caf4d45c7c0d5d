"""The synthetic generator: reproducible, the configured mix and rates, drift, three formats, labels."""

from __future__ import annotations

import csv
import os
import statistics
from collections import Counter, defaultdict

import orjson
import pytest

from consumer.decode import decode_label, decode_tweets
from producers.files import read_records
from producers.generate import (BOT_FAMILIES, DAY, DEFAULT_MIX, DEFAULT_RATES, FAMILIES, START_TS, Generator,
                                parse_mix, parse_rates)
from support import botwatch


def tweets_of(gen: Generator):
    return [r for r in gen.events() if r.topic == "tweets"]


def test_same_seed_same_stream_and_another_seed_another():
    a = list(Generator(200, 3000, seed=5).events())
    b = list(Generator(200, 3000, seed=5).events())
    c = list(Generator(200, 3000, seed=6).events())
    assert a == b
    assert Generator(200, 3000, seed=5).families == Generator(200, 3000, seed=5).families
    assert [r.value for r in a] != [r.value for r in c]


def test_positional_arguments_and_default_mix_keep_bot_fraction():
    gen = Generator(1000, 10, 0.2, 0.3, 3600.0, 3)
    counts = Counter(gen.families.values())
    assert sum(counts[f] for f in BOT_FAMILIES) == 200  # --bot-fraction: the share of bots overall
    assert counts["human"] == 800
    for family, share in DEFAULT_MIX.items():
        assert counts[family] == round(200 * share)
    assert set(gen.truth.values()) == {"bot", "human"}
    assert all((gen.truth[a] == "bot") == (f != "human") for a, f in gen.families.items())


# The per-family rate test: 10 days of event time. Each family's count must be
# large enough that counting noise stays well inside the 5% tolerance: the
# sparsest (fake followers, 0.5 tweets/day) get 800 accounts, so ~4,000
# tweets (Poisson noise 1.6%); the burstiest (amplifiers, gap CV ~2.3) get
# 40 accounts, ~32,000 tweets (noise ~1.3%). About 90,000 tweets in all, a few seconds.
RATE_DAYS = 10
RATE_POPULATION = {"human": 200, "spam": 20, "amplifier": 40, "hashtag": 20, "fake_follower": 800, "social": 40}


@pytest.mark.parametrize("seed", [1, 2])
def test_per_family_rates_match_the_configured_rates_within_5_percent(seed):
    accounts = sum(RATE_POPULATION.values())
    bots = accounts - RATE_POPULATION["human"]
    mix = {f: n / bots for f, n in RATE_POPULATION.items() if f != "human"}
    rates = {**DEFAULT_RATES, "hashtag": 30.0}  # a configured rate, not only the defaults
    per_day = sum(RATE_POPULATION[f] * rates[f] for f in FAMILIES)
    gen = Generator(accounts, int(per_day * (RATE_DAYS + 0.5)), bots / accounts, 0.0, 0.0, seed, mix=mix, rates=rates)
    families = gen.families
    assert Counter(families.values()) == Counter(RATE_POPULATION)

    end = START_TS + RATE_DAYS * DAY  # whole days: the daily rhythm averages out exactly
    counts: Counter = Counter()
    last = 0.0
    for record in gen.events():
        last = record.ts
        if record.ts < end:
            counts[families[record.key.decode()]] += 1
    assert last >= end, "the run must cover the whole measuring window"
    for family in FAMILIES:
        measured = counts[family] / (RATE_POPULATION[family] * RATE_DAYS)
        assert measured == pytest.approx(rates[family], rel=0.05), f"{family}: {measured:.2f}/day vs {rates[family]}"


def _url_ratio(records) -> float:
    tweets = [t for r in records for t in decode_tweets(r.value)]
    return sum(bool(t.urls) for t in tweets) / len(tweets)


def _gap_cv(records) -> float:
    by_account = defaultdict(list)
    for r in records:
        by_account[r.key].append(r.ts)
    cvs = []
    for times in by_account.values():
        gaps = [b - a for a, b in zip(times, times[1:])]
        if len(gaps) >= 10:
            cvs.append(statistics.pstdev(gaps) / statistics.mean(gaps))
    return statistics.median(cvs)


def test_drift_changes_bot_behaviour_from_tweet_n_on():
    n, at = 40_000, 20_000
    drifted = tweets_of(Generator(400, n, 0.5, 0.0, 0.0, 4, mix={"spam": 1.0}, drift_at=at))
    steady = tweets_of(Generator(400, n, 0.5, 0.0, 0.0, 4, mix={"spam": 1.0}))
    fam = Generator(400, 1, 0.5, 0.0, 0.0, 4, mix={"spam": 1.0}).families
    is_bot = lambda r: fam[r.key.decode()] != "human"  # noqa: E731

    before = [r for r in drifted[:at] if is_bot(r)]
    after = [r for r in drifted[at:] if is_bot(r)]
    assert drifted[:at] == steady[:at]  # nothing changes before tweet N
    assert _url_ratio(before) > 0.9
    assert _url_ratio(after) < 0.4  # lower URL ratio
    assert _url_ratio([r for r in steady[at:] if is_bot(r)]) > 0.9  # ... because of the drift, not of time
    assert _gap_cv(before) < 0.1 < 0.8 < _gap_cv(after)  # regular, then irregular timing
    texts_before = {decode_tweets(r.value)[0].text.split()[0] for r in before}
    texts_after = {decode_tweets(r.value)[0].text.split()[0] for r in after}
    assert not texts_before & texts_after  # new templates
    humans_before = [r for r in drifted[:at] if not is_bot(r)]
    humans_after = [r for r in drifted[at:] if not is_bot(r)]
    assert _url_ratio(humans_after) == pytest.approx(_url_ratio(humans_before), abs=0.03)  # humans do not drift


def test_every_family_looks_like_its_description():
    gen = Generator(2000, 60_000, 0.5, 0.0, 0.0, 8)
    fam = gen.families
    by_family = defaultdict(list)
    for r in tweets_of(gen):
        by_family[fam[r.key.decode()]].extend(decode_tweets(r.value))
    share = lambda f, pred: sum(map(pred, by_family[f])) / len(by_family[f])  # noqa: E731
    assert share("spam", lambda t: bool(t.urls)) > 0.9
    assert share("human", lambda t: bool(t.urls)) < 0.2
    assert share("amplifier", lambda t: t.is_retweet) > 0.8
    assert statistics.mean(t.hashtags for t in by_family["hashtag"]) >= 3
    followers_friends = [t.profile.followers / max(t.profile.friends, 1) for t in by_family["fake_follower"]]
    assert max(followers_friends) < 0.05
    # social spambots: campaign posts repeat across accounts
    texts = Counter(t.text for t in by_family["social"])
    repeated = [text for text, n in texts.items() if n > 1]
    authors = {t.account_id for t in by_family["social"] if t.text in repeated}
    assert len(authors) > 1
    clients = {t.source for t in by_family["social"]}
    assert clients <= {"Twitter for iPhone", "Twitter for Android", "Twitter Web App", "Twitter for iPad"}


@pytest.mark.parametrize("fmt", ["v1", "v2", "compact"])
def test_every_format_decodes_to_the_same_tweets(fmt):
    reference = [decode_tweets(r.value)[0] for r in tweets_of(Generator(300, 3000, 0.5, 0.0, 0.0, 9, format="v1"))]
    records = tweets_of(Generator(300, 3000, 0.5, 0.0, 0.0, 9, format=fmt))
    decoded = [decode_tweets(r.value) for r in records]
    assert all(len(d) == 1 for d in decoded)
    for ref, (tweet,), record in zip(reference, decoded, records):
        assert record.key.decode() == tweet.account_id and record.ts == tweet.ts
        for field in ("tweet_id", "account_id", "ts", "text", "urls", "mentions", "hashtags", "is_retweet", "is_reply",
                      "is_quote", "source"):
            assert getattr(tweet, field) == getattr(ref, field), field
        for field in ("statuses", "followers", "friends", "created_at", "screen_name", "name", "description"):
            assert getattr(tweet.profile, field) == getattr(ref.profile, field), field
    if fmt == "v2":
        assert set(orjson.loads(records[0].value)) == {"data", "includes"}


def test_labels_come_late_for_the_configured_fraction_and_tell_the_truth():
    gen = Generator(1000, 20_000, 0.3, 0.4, 7200.0, 12)
    events = list(gen.events())
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    first_tweet = {}
    for e in events:
        if e.topic == "tweets":
            first_tweet.setdefault(e.key, e.ts)
    labels = [e for e in events if e.topic == "labels"]
    assert 0.35 < len(labels) / len(first_tweet) < 0.45
    for e in labels:
        label = decode_label(e.value)
        assert label.ts == e.ts == int(first_tweet[e.key] + 7200.0)
        assert gen.truth[label.account_id] == ("bot" if label.is_bot else "human")


def test_mix_and_rate_options_are_parsed_or_refused():
    assert parse_mix("spam=1,social=1") == {"spam": 0.5, "amplifier": 0.0, "hashtag": 0.0, "fake_follower": 0.0,
                                            "social": 0.5}
    assert parse_rates("fake-follower=2")["fake_follower"] == 2.0
    for bad in ("robots=1", "spam", "spam=x", "spam=-1", "human=1", "spam=0"):
        with pytest.raises(ValueError):
            parse_mix(bad)
    with pytest.raises(ValueError):
        parse_rates("spam=0")


def test_generate_command_writes_a_file_that_reads_back(tmp_path):
    out, truth = tmp_path / "stream.jsonl.gz", tmp_path / "truth.csv"
    botwatch("generate", "--tweets", "2000", "--accounts", "100", "--format", "compact", "--drift-at", "1000",
             "--out", str(out), "--truth-out", str(truth),
             env={k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")})
    records = list(read_records([str(out)]))
    assert Counter(r.topic for r in records)["tweets"] == 2000
    assert [r.ts for r in records] == sorted(r.ts for r in records)
    rows = list(csv.DictReader(truth.open()))
    assert len(rows) == 100 and {row["label"] for row in rows} == {"bot", "human"}
    assert all("account_id" in orjson.loads(r.value) for r in records)
