"""Time per event of Detector.process, with the compiled fold of common tweets and with the Python loop alone.

:meth:`consumer.detector.Detector.process` hands each run of common tweets (no tick end, expiry or label to
handle first) to ``consumer._fold.fold_tweets``; its Python body takes the rest, and everything where the
module is not built (``detector._fold_tweets`` set to None here). Both are timed in one run on the same
generated stream (v1.1 tweets and labels, decoded and sorted by event time as the aligner releases them), fed
in batches as the service feeds them, each round on a fresh detector, alternately, best of ``--repeat``
rounds of CPU time of this process. The garbage collector is tuned as the service tunes it.

Printed per event: the whole of process, and the same without the work at tick ends (``_pass_tick_ends``:
labels applied, examples learned, accounts scored), which is the same code either way; also the share of the
events the fold took (counted in the first round, through a wrapper called once a run). The first round also
checks that both leave the same accounts and flags.

Run::

    .venv/bin/python benchmarks/fold.py
    .venv/bin/python benchmarks/fold.py --accounts 50000 --tweets 500000 --batch 2000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer import detector as D  # noqa: E402
from consumer.decode import decode_label, decode_tweets  # noqa: E402
from consumer.detector import Detector  # noqa: E402
from consumer.service import tune_gc  # noqa: E402
from producers.generate import Generator  # noqa: E402


def stream(accounts: int, tweets: int, seed: int) -> list:
    events = []
    for record in Generator(accounts=accounts, tweets=tweets, seed=seed, format="v1").events():
        if record.topic == "labels":
            events.append(decode_label(record.value))
        else:
            events.extend(decode_tweets(record.value))
    events.sort(key=lambda e: e.ts)
    return events


def run(events: list, tick: float, batch: int, fold) -> tuple[float, float, Detector, list]:
    """CPU seconds of process over the stream, and of that in _pass_tick_ends; the detector and its flags."""
    saved, D._fold_tweets = D._fold_tweets, fold
    d = Detector(tick=tick)
    pass_tick_ends, ticking = d._pass_tick_ends, [0.0]

    def timed(ts, result):
        started = time.process_time()
        try:
            return pass_tick_ends(ts, result)
        finally:
            ticking[0] += time.process_time() - started

    d._pass_tick_ends = timed
    flags = []
    gc.collect()
    try:
        started = time.process_time()
        for start in range(0, len(events), batch):
            flags += d.process(events[start:start + batch]).flags
        total = time.process_time() - started
    finally:
        D._fold_tweets = saved
    return total, ticking[0], d, flags


def counting(fold, count: list):
    """``fold``, adding the events it takes to count[0]."""
    def counted(detector, events, start, result):
        end = fold(detector, events, start, result)
        count[0] += end - start
        return end

    return counted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--tweets", type=int, default=200_000)
    ap.add_argument("--tick", type=float, default=60.0)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    if not D.COMPILED:
        print(f"consumer._fold is not built ({D.NOT_COMPILED}): nothing to compare", file=sys.stderr)
        return 1

    started = time.perf_counter()
    events = stream(args.accounts, args.tweets, args.seed)
    n = len(events)
    print(f"{n:,} events ({args.tweets:,} tweets of {args.accounts:,} accounts, {n - args.tweets:,} labels), "
          f"{(events[-1].ts - events[0].ts) / 3600:.1f} h of event time, tick {args.tick:g} s, "
          f"batches of {args.batch:,}; generated in {time.perf_counter() - started:.1f} s")
    tune_gc()

    best = {"python": (float("inf"), 0.0), "compiled": (float("inf"), 0.0)}
    taken, ends = [0], {}
    for k in range(args.repeat):  # alternately, so that a change in the machine's speed falls on both
        for name, fold in (("python", None), ("compiled", D._fold_tweets)):
            if k == 0 and fold is not None:  # the first round counts what the fold takes (a call a run)
                fold = counting(fold, taken)
            total, ticking, d, flags = run(events, args.tick, args.batch, fold)
            if k == 0:  # both leave the same accounts and flags
                ends[name] = ({k: s.tobytes() for k, s in d.accounts.items()},
                              [{**f, "flagged_at": 0} for f in flags])
            if total < best[name][0]:
                best[name] = (total, ticking)
            del d, flags  # not alive beside the next round's detector
        if k == 0 and ends["python"] != ends["compiled"]:
            print("the fold and the Python loop disagree: no timing", file=sys.stderr)
            return 1
    print(f"the fold took {taken[0] / n:.1%} of the events; {len(ends['python'][1]):,} flags alike")
    print(f"{'':10}{'process us/event':>18}{'without tick ends':>19}")
    for name, (total, ticking) in best.items():
        print(f"{name:10}{total / n * 1e6:>18.2f}{(total - ticking) / n * 1e6:>19.2f}")
    (py, py_tick), (c, c_tick) = best["python"], best["compiled"]
    print(f"{'speed-up':10}{py / c:>17.2f}x{(py - py_tick) / (c - c_tick):>18.2f}x")
    print(f"finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
