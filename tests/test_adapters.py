"""Dataset adapters on small fixtures in the datasets' own layouts, and their output through ``botwatch evaluate``."""

from __future__ import annotations

import csv
import gzip
import os
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from consumer.decode import decode_label, decode_tweets
from producers.files import read_records
from support import botwatch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CRESCI = FIXTURES / "cresci2017"
V2_DUMP = FIXTURES / "twitter_v2_dump"



def plain_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")}


def convert(kind: str, source: Path, out: Path, *options: str, check: bool = True):
    return botwatch("convert", kind, str(source), "--out", str(out), *options, env=plain_env(), check=check)


def outputs(out: Path):
    records = list(read_records([str(out / "tweets.jsonl.gz")]))
    labels = [decode_label(line) for line in (out / "labels.jsonl").read_bytes().splitlines()]
    truth = {row["account_id"]: row["label"] for row in csv.DictReader((out / "truth.csv").open())}
    return records, labels, truth


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cresci2017_becomes_ordered_v11_tweets_labels_and_truth(tmp_path):
    result = convert("cresci2017", CRESCI, tmp_path)
    records, labels, truth = outputs(tmp_path)

    groups = {d.name: d for d in CRESCI.iterdir()}
    users = {g: csv_rows(d / "users.csv") for g, d in groups.items()}
    expected_truth = {u["id"]: "human" if g.startswith("genuine") else "bot" for g, rows in users.items() for u in rows}
    assert truth == expected_truth and Counter(truth.values()) == {"bot": 22, "human": 14}

    known = set(expected_truth)
    rows = [r for g, d in groups.items() if (d / "tweets.csv").exists() for r in csv_rows(d / "tweets.csv")]
    kept = [r for r in rows if r["user_id"] in known]
    assert len(rows) - len(kept) == 4  # one orphan tweet per group with tweets
    assert "4 tweets by accounts not in users.csv" in result.stderr
    assert len(records) == len(kept) == 366
    assert [r.ts for r in records] == sorted(r.ts for r in records)  # the CSVs are not in time order; the output is

    tweets = [decode_tweets(r.value)[0] for r in records]
    assert all(r.key.decode() == t.account_id and r.ts == t.ts for r, t in zip(records, tweets))
    assert {t.account_id for t in tweets} <= known
    assert {t.tweet_id for t in tweets} == {r["id"].rstrip("L") for r in kept}  # "123L" ids are read as 123
    by_id = {t.tweet_id: t for t in tweets}
    for row in kept:
        t = by_id[row["id"].rstrip("L")]
        assert t.is_retweet == (row["retweeted_status_id"] != "0")
        assert t.is_reply == (row["in_reply_to_status_id"] != "0")
        assert len(t.urls) == int(row["num_urls"])
        assert t.profile is not None and t.profile.followers is not None
    spam = [t for t in tweets if truth[t.account_id] == "bot" and "bit.ly" in t.text]
    assert spam and all(t.urls for t in spam) and all(t.source == "twitterfeed" for t in spam)

    # default --labelled-fraction 0.3 per class of the accounts that tweet, --review-delay 6 h after the first tweet
    first = {}
    for r in records:
        first.setdefault(r.key.decode(), r.ts)
    assert Counter("bot" if lab.is_bot else "human" for lab in labels) == {"human": round(0.3 * 14), "bot": round(0.3 * 19)}
    for lab in labels:
        assert lab.ts == first[lab.account_id] + 6 * 3600
        assert truth[lab.account_id] == ("bot" if lab.is_bot else "human")


def test_cresci2017_labelled_fraction_and_review_delay_are_options(tmp_path):
    convert("cresci2017", CRESCI, tmp_path, "--labelled-fraction", "1", "--review-delay", "60")
    records, labels, _ = outputs(tmp_path)
    first = {}
    for r in records:
        first.setdefault(r.key.decode(), r.ts)
    assert {lab.account_id for lab in labels} == set(first)
    assert all(lab.ts == first[lab.account_id] + 60 for lab in labels)
    assert [lab.ts for lab in labels] == sorted(lab.ts for lab in labels)


def test_cresci2017_refuses_what_is_not_its_layout(tmp_path):
    (tmp_path / "in").mkdir()
    result = convert("cresci2017", tmp_path / "in", tmp_path / "out", check=False)
    assert result.returncode == 1 and "no Cresci-2017 group folders" in result.stderr
    shutil.copytree(CRESCI / "fake_followers.csv", tmp_path / "in" / "fake_followers.csv")
    (tmp_path / "in" / "fake_followers.csv" / "users.csv").unlink()
    result = convert("cresci2017", tmp_path / "in", tmp_path / "out", check=False)
    assert result.returncode == 1 and "users.csv is missing" in result.stderr


def test_twitter_v2_dump_becomes_one_item_per_tweet_with_its_author(tmp_path):
    convert("twitter-v2", V2_DUMP, tmp_path)
    records, labels, truth = outputs(tmp_path)

    pages = [orjson.loads(line) for line in (V2_DUMP / "search.jsonl").read_bytes().splitlines()]
    flat = [orjson.loads(line) for line in gzip.open(V2_DUMP / "timeline.jsonl.gz").read().splitlines()]
    source_ids = {t["id"] for p in pages for t in p["data"]} | {t["id"] for t in flat}
    assert len(records) == len(source_ids) == 200
    assert [r.ts for r in records] == sorted(r.ts for r in records)
    for r in records:
        item = orjson.loads(r.value)
        assert isinstance(item["data"], dict)
        (tweet,) = decode_tweets(r.value)
        assert r.key.decode() == tweet.account_id == item["includes"]["users"][0]["id"]
        assert tweet.profile is not None and tweet.profile.screen_name
    assert {orjson.loads(r.value)["data"]["id"] for r in records} == source_ids
    annotated = dict(line.split("\t") for line in (V2_DUMP / "labels.tsv").read_text().splitlines())
    assert truth == annotated and Counter(truth.values()) == {"bot": 10, "human": 10}
    assert Counter("bot" if lab.is_bot else "human" for lab in labels) == {"bot": 3, "human": 3}


def test_twitter_v2_dump_reports_a_bad_line_and_reads_a_headed_csv(tmp_path):
    dump = tmp_path / "dump"
    shutil.copytree(V2_DUMP, dump)
    (dump / "labels.tsv").unlink()
    with open(dump / "labels.csv", "w") as f:
        f.write("user_id,label\n")
        f.writelines(f"{line.split()[0]},{1 if line.split()[1] == 'bot' else 0}\n"
                     for line in (V2_DUMP / "labels.tsv").read_text().splitlines())
    convert("twitter-v2", dump, tmp_path / "ok")
    assert Counter(outputs(tmp_path / "ok")[2].values()) == {"bot": 10, "human": 10}

    with open(dump / "search.jsonl", "ab") as f:
        f.write(b'{"data": [\n')
    result = convert("twitter-v2", dump, tmp_path / "bad", check=False)
    assert result.returncode == 1
    assert f"{dump / 'search.jsonl'}:{len(open(dump / 'search.jsonl').readlines())}: not JSON" in result.stderr


@pytest.mark.parametrize("kind,source", [("cresci2017", CRESCI), ("twitter-v2", V2_DUMP)])
def test_adapter_output_through_evaluate_produces_flags(tmp_path, kind, source):
    data = tmp_path / "data"
    convert(kind, source, data, "--labelled-fraction", "0.5", "--review-delay", "3600")
    # a small fixture: a handful of labels must do for the model to start, and a few tweets for an account
    botwatch("evaluate", "--tweets", str(data / "tweets.jsonl.gz"), "--labels", str(data / "labels.jsonl"),
             "--truth", str(data / "truth.csv"), "--out", str(tmp_path / "eval"), "--min-labels", "2",
             "--min-tweets", "3", "--no-progress", env=plain_env())
    flags = [orjson.loads(line) for line in (tmp_path / "eval" / "flags.jsonl").read_bytes().splitlines()]
    truth = {row["account_id"]: row["label"] for row in csv.DictReader((data / "truth.csv").open())}
    flagged = {f["account_id"] for f in flags if f["action"] in ("review", "block")}
    assert flagged, f"no account flagged; flags: {flags}"
    assert any(truth.get(a) == "bot" for a in flagged)
