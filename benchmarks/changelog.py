"""A checkpoint's account records: state.produce_changes_python against consumer/_changelog.c.

Both write the records of 100,000 changed accounts (about what a rescan makes the next checkpoint write) into
a real librdkafka producer that has no broker to send to, so the figure is the loop, the encoding and
librdkafka's produce() call, not the network. Each side runs 5 times, alternating, into a fresh producer;
the best run counts. The whole run takes about 10 s.

Run::

    .venv/bin/python benchmarks/changelog.py
"""

from __future__ import annotations

import gc
import platform
import random
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer  # noqa: E402

from consumer import features as F  # noqa: E402
from consumer import state as S  # noqa: E402

ACCOUNTS = 100_000


def producer() -> Producer:
    return Producer({"bootstrap.servers": "127.0.0.1:1", "log_level": 0, "linger.ms": 60_000,
                     "queue.buffering.max.messages": 2 * ACCOUNTS, "queue.buffering.max.kbytes": 1 << 20})


def timed(produce_changes, ids, accounts, partition_of, waiting) -> float:
    p = producer()
    gone, done = [], 0
    gc.disable()
    start = time.perf_counter()
    while done < len(ids):
        done = produce_changes(ids, done, accounts, partition_of, waiting, p.produce, "state", gone)
    elapsed = time.perf_counter() - start
    gc.enable()
    p.purge()
    return elapsed / len(ids)


def main() -> int:
    if not S.COMPILED:
        print("consumer._changelog is not built: nothing to compare", file=sys.stderr)
        return 1
    rng = random.Random(1)
    ids = [str(10**18 + i) for i in range(ACCOUNTS)]
    accounts = {aid: array("d", [rng.random() for _ in range(F.SLOTS)]) for aid in ids}
    partition_of = {aid: i % 6 for i, aid in enumerate(ids)}
    waiting = {aid: 1.7e9 for aid in ids[::10]}
    python = compiled = float("inf")
    for _ in range(5):
        python = min(python, timed(S.produce_changes_python, ids, accounts, partition_of, waiting))
        compiled = min(compiled, timed(S._produce_changes, ids, accounts, partition_of, waiting))
    print(f"python {platform.python_version()}, {ACCOUNTS:,} records of {8 * F.SLOTS + 8} bytes")
    print(f"per record: Python {1e6 * python:.2f} us   compiled {1e6 * compiled:.2f} us   "
          f"({python / compiled:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
