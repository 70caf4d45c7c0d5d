"""Per-account features: memory per tracked account and update rate on one core, beside a naive baseline.

botwatch keeps each account's features in one flat ``array('d')``
(:mod:`consumer.features`). The baseline is what one would write first with
River: a ``river.stats`` object per statistic, sets for distinct domains and
clients, a deque of recent texts, a Counter of hours and a set of every tweet
id seen, per account. Both are fed the same realistic tweets (decoded from
the synthetic generator's v1.1 output) in the same run.

Measured:

* bytes per tracked account at ``--accounts`` accounts (default 1,000,000),
  counting the account's state, its dict entry and its key, a realistic
  19-digit account id: the Python objects' sizes (``sys.getsizeof`` of the
  dict, keys and flat states; ``tracemalloc`` for the baseline's object
  graphs) and the growth of the process's resident memory (what the OS
  gives, malloc's overhead included). The floor is 1 KiB per account;
* feature updates per second on one core (CPU time of this single-threaded
  process, so other load on the machine does not count), tweets spread
  uniformly over all accounts, in event-time order per account;
* decode rates on one core, per input format (the generator's tweets, and
  the full v1.1 payloads of ``tests/fixtures``), and the decode + update rate.

``--stream FILE`` measures instead, side by side in one run, the CPU time per
tweet of the compiled :func:`consumer.features.update`, of the Python one
(:func:`consumer.features.update_python`), of the frozen copy of it from
before it was tuned (``tests/features_reference.py``) and of the loop around
them alone, over the first ``--tweets`` tweets of a stream cached by
``botwatch bench`` (decoded first, one state per account as the detector keeps
them, the garbage collector tuned as the service tunes it). They run in turn, ``--repeat`` times each, on
fresh states; the best and the median run are printed, and the updates'
final states are checked to be byte for byte the same.

Run::

    .venv/bin/python benchmarks/features.py                 # 1,000,000 accounts, a table
    .venv/bin/python benchmarks/features.py --json
    .venv/bin/python benchmarks/features.py --accounts 100000 --baseline-accounts 20000
    .venv/bin/python benchmarks/features.py --stream /tmp/botwatch-bench/stream-500000-140000-seed1-v1-9c501616.bin
"""

from __future__ import annotations

import argparse
import collections
import gc
import operator
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from river import stats  # noqa: E402

from consumer import features as F  # noqa: E402
from consumer.decode import decode_tweets  # noqa: E402
from consumer.events import Tweet  # noqa: E402
from producers.generate import Generator  # noqa: E402

T0 = 1_709_251_200.0
KIB = 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def account_id(k: int) -> str:
    # a recent account's id: 19 digits, the longest (and so the costliest key) Twitter hands out
    return str(1_600_000_000_000_000_000 + k * 7919)


# ------------------------------------------------------------------- the input

def sample_messages(fmt: str, n: int) -> list[bytes]:
    """``n`` generated tweet messages in ``fmt`` (v1, v2 or compact)."""
    try:
        gen = Generator(accounts=max(100, n // 25), tweets=n, seed=1, format=fmt)
    except TypeError:  # a generator that writes v1.1 only
        if fmt != "v1":
            return []
        gen = Generator(accounts=max(100, n // 25), tweets=n, seed=1)
    return [r.value for r in gen.events() if r.topic == "tweets"]


class Feed:
    """Tweets with the content of real decoded ones, for any account, at increasing event times."""

    def __init__(self, pool: list[Tweet], seed: int = 1):
        self.pool = pool
        self.rng = random.Random(seed)
        self.seq = 0

    def tweet(self, account: str, ts: float) -> Tweet:
        p = self.pool[self.seq % len(self.pool)]
        self.seq += 1
        return Tweet(str(10**15 + self.seq), account, ts, p.text, p.urls, p.mentions, p.hashtags,
                     p.is_retweet, p.is_reply, p.is_quote, p.source, p.profile)


# --------------------------------------------------------------- the baseline

class NaiveAccount:
    """The same features, the obvious way: River statistics and Python containers per account."""

    def __init__(self) -> None:
        self.seen: set[str] = set()  # every tweet id: exact dedup, unbounded memory
        self.n = stats.Count()
        self.gap_mean, self.gap_var = stats.Mean(), stats.Var()
        self.len_mean, self.len_var = stats.Mean(), stats.Var()
        self.ratios = {k: stats.Mean() for k in ("url", "mention", "hashtag", "retweet", "reply", "quote", "dup", "near")}
        self.domains: set[str] = set()
        self.sources: set[str] = set()
        self.hours: collections.Counter = collections.Counter()
        self.texts: collections.deque = collections.deque(maxlen=4)
        self.near_texts: collections.deque = collections.deque(maxlen=4)
        self.first = self.last = None
        self.profile: dict = {}

    def update(self, t: Tweet) -> bool:
        if t.tweet_id in self.seen:
            return False
        self.seen.add(t.tweet_id)
        self.n.update()
        if self.last is not None and t.ts >= self.last:
            gap = t.ts - self.last
            self.gap_mean.update(gap)
            self.gap_var.update(gap)
        self.first = t.ts if self.first is None else min(self.first, t.ts)
        self.last = t.ts if self.last is None else max(self.last, t.ts)
        self.hours[int(t.ts // 3600) % 24] += 1
        r = self.ratios
        r["url"].update(bool(t.urls))
        r["mention"].update(t.mentions)
        r["hashtag"].update(t.hashtags)
        r["retweet"].update(t.is_retweet)
        r["reply"].update(t.is_reply)
        r["quote"].update(t.is_quote)
        for url in t.urls:
            self.domains.add(F._domain(url))
        if t.source:
            self.sources.add(t.source)
        if t.text:
            self.len_mean.update(len(t.text))
            self.len_var.update(len(t.text))
            near = " ".join(filter(str.isalpha, t.text.lower().split())) or t.text
            r["dup"].update(t.text in self.texts)
            r["near"].update(near in self.near_texts)
            self.texts.append(t.text)
            self.near_texts.append(near)
        if t.profile is not None:
            self.profile = {k: getattr(t.profile, k) for k in t.profile.__slots__}
        return True


# ---------------------------------------------------------------- measurements

def build(n: int, feed: Feed, new, update) -> dict:
    accounts = {}
    for k in range(n):
        key = account_id(k)
        state = accounts[key] = new()
        update(state, feed.tweet(key, T0 + k * 1e-3))
    return accounts


def resident_build(n: int, pool: list[Tweet], new, update) -> tuple[dict, float]:
    """``n`` fresh accounts, and the resident memory they added, per account."""
    gc.collect()
    before = rss_bytes()
    accounts = build(n, Feed(pool), new, update)
    return accounts, (rss_bytes() - before) / n


def traced_bytes(n: int, pool: list[Tweet], new, update) -> float:
    """Bytes Python allocates per account for ``n`` fresh accounts (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        accounts = build(n, Feed(pool), new, update)
        traced = (tracemalloc.get_traced_memory()[0] - base) / n
    finally:
        tracemalloc.stop()
    del accounts
    gc.collect()
    return traced


def update_rate(accounts: dict, n_updates: int, pool: list[Tweet], new, update) -> float:
    """Feature updates per CPU second, tweets spread uniformly over the accounts, a day after their first."""
    feed = Feed(pool, seed=2)
    keys = list(accounts)
    rng = random.Random(3)
    cpu = 0.0
    ts = T0 + 86400.0
    done = 0
    while done < n_updates:
        chunk = min(200_000, n_updates - done)
        batch = [feed.tweet(keys[rng.randrange(len(keys))], ts + i * 0.01) for i in range(chunk)]
        ts += chunk * 0.01
        get = accounts.get
        started = time.process_time()
        for t in batch:  # the detector's loop
            state = get(t.account_id)
            if state is None:
                state = accounts[t.account_id] = new()
            update(state, t)
        cpu += time.process_time() - started
        done += chunk
    return n_updates / cpu


def sizeof_bytes(accounts: dict) -> float:
    """Bytes per account of a dict of flat states: the dict's table, each key and each array, exactly."""
    total = sys.getsizeof(accounts)
    for key, state in accounts.items():
        total += sys.getsizeof(key) + sys.getsizeof(state)
    return total / len(accounts)


def measure(n: int, n_updates: int, pool: list[Tweet], new, update, flat: bool) -> tuple[float, float, float]:
    """(Python bytes per account, resident bytes per account, updates per CPU second).

    Python's bytes come from ``sys.getsizeof`` where the state is one flat object (``flat``: exact and
    quick at a million accounts), else from ``tracemalloc`` over a second build.
    """
    accounts, rss = resident_build(n, pool, new, update)
    python_bytes = sizeof_bytes(accounts) if flat else None
    rate = update_rate(accounts, n_updates, pool, new, update)
    del accounts
    gc.collect()
    if python_bytes is None:
        python_bytes = traced_bytes(n, pool, new, update)
    return python_bytes, rss, rate


def row_rate(n: int, pool: list[Tweet]) -> float:
    accounts = build(n, Feed(pool), F.new_state, F.update)
    states = list(accounts.values())
    started = time.process_time()
    for s in states:
        F.feature_row(s)
    return n / (time.process_time() - started)


def decode_rate(messages: list[bytes], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for m in messages:
            decode_tweets(m)
        best = min(best, time.process_time() - started)
    return len(messages) / best


def stream_tweets(path: Path, n: int) -> list[Tweet]:
    """The first ``n`` tweets of a stream cached by ``botwatch bench``, decoded."""
    from consumer.bench import read_stream

    tweets = []
    for record in read_stream(path):
        if record.topic == "tweets":
            tweets.append(decode_tweets(record.value)[0])
            if len(tweets) == n:
                break
    return tweets


def fold_in_turn(tweets: list[Tweet], updates: dict, chunk: int = 2000) -> tuple[dict, dict]:
    """Fold ``tweets`` into fresh per-account states the way the detector does, once with each update, taking
    turns every ``chunk`` tweets (so that a change in the machine's load weighs on both alike). The CPU seconds
    of each update on each chunk, and each update's states."""
    seconds: dict[str, list[float]] = {name: [] for name in updates}
    states: dict[str, dict] = {name: {} for name in updates}
    order = list(updates.items())
    for k, start in enumerate(range(0, len(tweets), chunk)):
        part = tweets[start:start + chunk]
        for name, update in order if k % 2 == 0 else order[::-1]:  # alternate who goes first
            accounts = states[name]
            get, new = accounts.get, F.new_state
            started = time.process_time()
            for t in part:
                state = get(t.account_id)
                if state is None:
                    state = accounts[t.account_id] = new()
                update(state, t)
            seconds[name].append(time.process_time() - started)
    return seconds, states


def compare_with_reference(path: Path, n: int, repeat: int, json_out: bool, gc_mode: str = "service") -> int:
    """``--stream``: microseconds per tweet of the compiled update, the Python update and their frozen reference,
    in turn on the same tweets, and of the detector's loop around them alone (``operator.is_`` for the update:
    a C call that does nothing, so what the loop costs by itself, cache misses on the accounts' dict included).

    The best figure sums each chunk's least CPU time over the runs (what the update costs with the least
    interference from the rest of the machine); the median is that of the runs' totals."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import features_reference

    from consumer.service import tune_gc

    tweets = stream_tweets(path, n)
    tune_gc()
    if gc_mode == "off":
        gc.disable()
    updates = {"reference": features_reference.update, "python": F.update_python}
    if F.COMPILED:
        updates["compiled"] = F.update
    updates["loop alone"] = operator.is_
    runs: dict[str, list[list[float]]] = {name: [] for name in updates}
    for _ in range(repeat):
        seconds, states = fold_in_turn(tweets, updates)
        for name in updates:
            runs[name].append(seconds[name])
        theirs = states["reference"]
        for name in ("python", "compiled"):
            ours = states.get(name, theirs)
            if ours.keys() != theirs.keys() or any(a.tobytes() != ours[key].tobytes() for key, a in theirs.items()):
                print(f"the {name} update's states differ from the reference's", file=sys.stderr)
                return 1
        del seconds, states, ours, theirs
    us = 1e6 / len(tweets)
    best = {name: sum(map(min, zip(*chunks))) * us for name, chunks in runs.items()}
    median = {name: statistics.median(map(sum, chunks)) * us for name, chunks in runs.items()}
    key = {name: name.replace(" ", "_") for name in updates}
    result = {"python": platform.python_version(), "stream": str(path), "tweets": len(tweets), "repeat": repeat,
              "gc": gc_mode, "compiled": F.COMPILED,
              **{f"{key[name]}_us_per_tweet_best": v for name, v in best.items()},
              **{f"{key[name]}_us_per_tweet_median": v for name, v in median.items()}}
    if json_out:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"features.update over the first {len(tweets):,} tweets of {path.name} "
          f"(Python {result['python']}, CPU time, {repeat} runs each, gc {gc_mode}, states identical)")
    if not F.COMPILED:
        print("consumer._features is not built: no compiled update to time (pip install -e .)")
    print(f"{'':24}{'best':>10}{'median':>10}  us/tweet, the loop's own cost included")
    for name in runs:
        print(f"{name:24}{best[name]:>10.2f}{median[name]:>10.2f}")
    for name in ("python", "compiled"):
        if name in best:
            print(f"{'speed-up of ' + name:24}{best['reference'] / best[name]:>10.2f}x"
                  f"  (update alone: {best[name] - best['loop alone']:.2f} us against "
                  f"{best['reference'] - best['loop alone']:.2f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accounts", type=int, default=1_000_000, help="accounts tracked by botwatch's state")
    p.add_argument("--baseline-accounts", type=int, default=50_000,
                   help="accounts tracked by the baseline (its memory does not allow a million on a small machine)")
    p.add_argument("--updates", type=int, default=1_000_000, help="feature updates timed for the rate")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--stream", type=Path, help="instead: time the update beside its frozen reference on this "
                   "stream cached by botwatch bench")
    p.add_argument("--tweets", type=int, default=100_000, help="with --stream: the first tweets taken")
    p.add_argument("--repeat", type=int, default=7, help="with --stream: runs of each update")
    p.add_argument("--gc", choices=("service", "off"), default="service",
                   help="with --stream: the collector tuned as the service tunes it, or off")
    args = p.parse_args(argv)
    if args.stream:
        return compare_with_reference(args.stream, args.tweets, args.repeat, args.json, args.gc)
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))

    log("generating and decoding sample tweets ...")
    messages = {fmt: sample_messages(fmt, 20_000) for fmt in ("v1", "v2", "compact")}
    pool = [t for m in messages["v1"] for t in decode_tweets(m)]

    result: dict = {"python": platform.python_version(), "accounts": args.accounts,
                    "baseline_accounts": args.baseline_accounts, "slots": F.SLOTS,
                    "state_array_bytes": sys.getsizeof(F.new_state())}
    log(f"memory and update rate: {args.accounts:,} accounts, {args.updates:,} updates ...")
    result["bytes_per_account"], result["rss_bytes_per_account"], result["updates_per_s"] = measure(
        args.accounts, args.updates, pool, F.new_state, F.update, flat=True)
    log(f"memory and update rate: baseline, {args.baseline_accounts:,} accounts, {args.updates // 4:,} updates ...")
    (result["baseline_bytes_per_account"], result["baseline_rss_bytes_per_account"],
     result["baseline_updates_per_s"]) = measure(args.baseline_accounts, args.updates // 4, pool,
                                                 NaiveAccount, NaiveAccount.update, flat=False)
    result["feature_rows_per_s"] = row_rate(100_000, pool)

    log("decode rates ...")
    # full v1.1 payloads as the API sends them (every user field): the fixtures, re-serialised compactly
    fixtures = sorted((Path(__file__).resolve().parents[1] / "tests" / "fixtures").glob("v11_*.json"))
    messages["v1-full"] = [orjson.dumps(orjson.loads(f.read_bytes())) for f in fixtures] * 2000
    for fmt, msgs in messages.items():
        if msgs:
            result[f"decode_{fmt}_per_s"] = decode_rate(msgs)
            result[f"decode_{fmt}_mean_bytes"] = sum(map(len, msgs)) / len(msgs)
    result["decode_v1_and_update_per_s"] = 1.0 / (1.0 / result["decode_v1_per_s"] + 1.0 / result["updates_per_s"])
    result["floor_bytes_per_account"] = KIB
    result["within_floor"] = max(result["bytes_per_account"], result["rss_bytes_per_account"]) <= KIB

    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0 if result["within_floor"] else 1
    r = result
    rows = [
        ("accounts tracked", f"{r['accounts']:,}", f"{r['baseline_accounts']:,}"),
        ("bytes per account (Python objects)", f"{r['bytes_per_account']:,.0f}", f"{r['baseline_bytes_per_account']:,.0f}"),
        ("bytes per account (resident)", f"{r['rss_bytes_per_account']:,.0f}", f"{r['baseline_rss_bytes_per_account']:,.0f}"),
        ("feature updates/s, one core", f"{r['updates_per_s']:,.0f}", f"{r['baseline_updates_per_s']:,.0f}"),
        ("feature rows/s, one core", f"{r['feature_rows_per_s']:,.0f}", ""),
    ]
    print(f"features benchmark (Python {r['python']}, state: {r['slots']} doubles = {r['state_array_bytes']} B per array)")
    print(f"{'':34}{'botwatch':>16}{'naive river.stats':>20}")
    for name, ours, naive in rows:
        print(f"{name:34}{ours:>16}{naive:>20}")
    print()
    for fmt in ("v1", "v1-full", "v2", "compact"):
        if f"decode_{fmt}_per_s" in r:
            label = f"decode {fmt} ({r[f'decode_{fmt}_mean_bytes']:,.0f} B/msg)"
            print(f"{label:38}{r[f'decode_{fmt}_per_s']:>12,.0f} msgs/s, one core")
    print(f"{'decode v1 + feature update':38}{r['decode_v1_and_update_per_s']:>12,.0f} events/s, one core")
    print()
    verdict = "within" if r["within_floor"] else "OVER"
    print(f"memory floor: at most {KIB} B per account: {verdict}")
    return 0 if r["within_floor"] else 1


if __name__ == "__main__":
    sys.exit(main())
