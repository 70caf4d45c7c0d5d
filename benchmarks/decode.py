"""Time per decode_tweets, with the C walk of v1.1 tweets and with the Python path alone, side by side.

:func:`consumer.decode.decode_tweets` hands a message to
``consumer._decode.message_v11`` first (the size check, then the scanner,
``scan_v11``, which makes the Tweet from the bytes; where it declines,
``orjson.loads`` and the walk of the dict, ``tweet_v11``); the Python path
decodes what those decline (and everything under ``decode._python_only()``, as
where the module is not built). Both are timed on the same messages in one run,
alternately, best of ``--repeat`` rounds of CPU time of this process (so that
other load on the machine counts little), beside ``orjson.loads`` alone and
``orjson.loads`` with the walk (the C path before the scanner):

* v1.1: the first ``--tweets`` tweets of a stream cached by ``botwatch bench``
  (``--stream``), or the generator's v1.1 output where there is none;
* compact and v2: the generator's output in those formats (``--other`` messages
  each), which the C looks at and declines: they must not get slower.

Before timing it checks that both give the same tweets on every message, and
counts the v1.1 tweets the walk and the scanner declined.

Run::

    .venv/bin/python benchmarks/decode.py
    .venv/bin/python benchmarks/decode.py --stream /tmp/botwatch-bench/stream-500000-140000-seed1-v1-9c501616.bin
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from consumer import decode as D  # noqa: E402
from consumer.bench import read_stream  # noqa: E402
from producers.generate import Generator  # noqa: E402

STREAM = Path("/tmp/botwatch-bench/stream-500000-140000-seed1-v1-9c501616.bin")


def generated(fmt: str, n: int) -> list[bytes]:
    events = Generator(accounts=max(50, n // 20), tweets=n, seed=1, format=fmt).events()
    return [r.value for r in events if r.topic == "tweets"]


def streamed(path: Path, n: int) -> list[bytes]:
    return [r.value for r in itertools.islice((r for r in read_stream(path) if r.topic == "tweets"), n)]


def decode_python(raw: bytes):
    with D._python_only():
        return D.decode_tweets(raw)


def seconds_per_message(decode, messages: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()  # the collector's pauses are the decoders' cost too, but not a previous round's garbage
        started = time.process_time()
        for m in messages:
            decode(m)
        best = min(best, time.process_time() - started)
    return best / len(messages)


def declined(messages: list[bytes]) -> tuple[int, int]:
    """How many the walk of orjson's dict declines, and how many the scanner declines."""
    D._refresh_clock_bound()
    return (sum(D._tweet_v11(obj) is None for obj in map(orjson.loads, messages)),
            sum(D._decode.scan_v11(m) is None for m in messages))


def walk(raw: bytes):
    """The C path before the scanner: orjson's dict, then the walk."""
    return D._tweet_v11(orjson.loads(raw))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream", type=Path, default=STREAM, help="a cached bench stream (v1.1 tweets)")
    ap.add_argument("--tweets", type=int, default=100_000, help="v1.1 tweets from the stream")
    ap.add_argument("--other", type=int, default=5_000, help="compact and v2 messages each")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if not D.COMPILED:
        print(f"consumer._decode is not built ({D.NOT_COMPILED}): nothing to compare", file=sys.stderr)
        return 1

    v11 = streamed(args.stream, args.tweets) if args.stream.exists() else generated("v1", args.tweets)
    sets = {f"v1.1 ({'stream' if args.stream.exists() else 'generated'})": v11,
            "compact": generated("compact", args.other), "v2": generated("v2", args.other)}
    walk_declined, scan_declined = declined(v11)
    print(f"of {len(v11):,} v1.1 tweets the walk declined {walk_declined:,}, the scanner {scan_declined:,}")
    print(f"{'format':20}{'messages':>10}{'bytes/msg':>11}{'orjson us':>11}{'python us':>11}{'walk us':>9}"
          f"{'compiled us':>13}{'speed-up':>10}")
    for name, messages in sets.items():
        for m in messages:  # the same tweets, and the caches warm for both
            assert D.decode_tweets(m) == decode_python(m), m[:200]
        loads = python = walked = compiled = float("inf")
        for _ in range(2):  # alternately, so that a change in the machine's speed falls on each
            loads = min(loads, seconds_per_message(orjson.loads, messages, args.repeat))
            walked = min(walked, seconds_per_message(walk, messages, args.repeat))
            with D._python_only():
                python = min(python, seconds_per_message(D.decode_tweets, messages, args.repeat))
            compiled = min(compiled, seconds_per_message(D.decode_tweets, messages, args.repeat))
        size = sum(map(len, messages)) / len(messages)
        print(f"{name:20}{len(messages):>10,}{size:>11,.0f}{loads * 1e6:>11.2f}{python * 1e6:>11.2f}"
              f"{walked * 1e6:>9.2f}{compiled * 1e6:>13.2f}{python / compiled:>9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
