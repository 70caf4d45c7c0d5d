"""The drift checks' KS statistic: numpy's definition against the compiled merge of consumer._drift.

From the feature rows of the generator's traffic (every 100 tweets, the rows
of the accounts they touched, from an account's fifth tweet on; bots change
behaviour at tweet 30,000), numpy and compiled measured in the same run:

* µs per ``ks_statistic`` call: on two sorted samples of 5,000 values each,
  continuous (normal) and rounded to one decimal (heavy ties), the best of 5
  timeit runs of as many calls as take about 0.1 s; and on the columns the
  checks below compare (a feature's known values, reference against live),
  the mean over them of the best of 5 passes;
* ms per :class:`~consumer.drift.DriftMonitor` check with the 37 features and
  windows of 5,000 + 5,000 rows, the service's defaults: each
  ``observe_scores`` call of 5,000 rows stores them and runs one check, whose
  reference is the last check's live window (sorted already). The best of 6
  calls on each path, the two monitors taking turns; numpy's runs inside
  ``drift._ks_python_only()``. The two paths' detections and statistics are
  checked to be the same.

The whole run takes about 5 s.

Run::

    .venv/bin/python benchmarks/drift.py
"""

from __future__ import annotations

import platform
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from consumer import drift  # noqa: E402
from consumer import features as F  # noqa: E402
from consumer.decode import decode_tweets  # noqa: E402
from consumer.drift import DriftMonitor, ks_statistic  # noqa: E402
from producers.generate import Generator  # noqa: E402

SIZE = 5_000
CHECKS = 6


def traffic_rows(rows_wanted: int) -> np.ndarray:
    """Feature rows as the detector scores them, from the generator's v1.1 tweets."""
    generator = Generator(accounts=600, tweets=60_000, seed=1, drift_at=30_000, format="v1")
    states, dirty, rows, seen = {}, {}, [], 0
    for record in generator.events():
        if record.topic != "tweets":
            continue
        for tweet in decode_tweets(record.value):
            state = states.setdefault(tweet.account_id, F.new_state())
            if F.update(state, tweet):
                dirty[tweet.account_id] = state
        seen += 1
        if seen % 100 == 0:
            rows += [F.feature_row(s) for s in dirty.values() if s[F.N] >= 5]
            dirty.clear()
            if len(rows) >= rows_wanted:
                return np.array(rows[:rows_wanted])
    raise RuntimeError(f"the generator gave {len(rows)} rows, not {rows_wanted}")


def best_seconds_per_call(call) -> float:
    timer = timeit.Timer(call)
    number = max(1, int(0.1 / max(timer.timeit(1), 1e-7)))
    return min(timer.repeat(repeat=5, number=number)) / number


def per_call(columns: list[tuple[np.ndarray, np.ndarray]]) -> None:
    rng = np.random.default_rng(0)
    samples = {
        f"{SIZE:,} vs {SIZE:,} continuous": (np.sort(rng.normal(size=SIZE)), np.sort(rng.normal(0.05, size=SIZE))),
        f"{SIZE:,} vs {SIZE:,} heavy ties": (np.sort(np.round(rng.normal(size=SIZE), 1)),
                                             np.sort(np.round(rng.normal(0.05, size=SIZE), 1))),
    }
    print(f"ks_statistic µs a call{'':<27} {'numpy':>8} {'compiled':>9} {'speed-up':>9}")
    for name, (a, b) in samples.items():
        assert drift._ks_compiled(a, b) == ks_statistic(a, b)
        numpy_us = best_seconds_per_call(lambda: ks_statistic(a, b)) * 1e6
        compiled_us = best_seconds_per_call(lambda: drift._ks_compiled(a, b)) * 1e6
        print(f"  {name:<47} {numpy_us:>8.1f} {compiled_us:>9.1f} {numpy_us / compiled_us:>8.1f}x")

    def every_column(ks) -> None:
        for a, b in columns:
            ks(a, b)

    numpy_us, compiled_us = (min(timeit.repeat(lambda: every_column(ks), number=1, repeat=5)) / len(columns) * 1e6
                             for ks in (ks_statistic, drift._ks_compiled))
    sizes = sorted(len(a) for pair in columns for a in pair)
    name = f"a check's {len(columns)} columns ({sizes[0]:,} to {sizes[-1]:,} values)"
    print(f"  {name:<47} {numpy_us:>8.1f} {compiled_us:>9.1f} {numpy_us / compiled_us:>8.1f}x")


def per_check(rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Time the checks; return the columns the first timed check compared."""
    scores = np.nan_to_num(rows[:, F.FEATURE_NAMES.index("url_ratio")], nan=0.5)  # any score will do
    batches = [(rows[:2 * SIZE], scores[:2 * SIZE])]  # the first check sorts its reference as well: not timed
    batches += [(rows[k:k + SIZE], scores[k:k + SIZE]) for k in range(2 * SIZE, len(rows), SIZE)]
    monitors = {"numpy": DriftMonitor(F.FEATURE_NAMES), "compiled": DriftMonitor(F.FEATURE_NAMES)}
    seconds = {name: [] for name in monitors}
    found = {name: [] for name in monitors}
    columns = []
    for k, (batch_rows, batch_scores) in enumerate(batches):
        for name in (("numpy", "compiled") if k % 2 else ("compiled", "numpy")):
            monitor = monitors[name]
            checks = monitor.checks
            started = time.perf_counter()
            if name == "numpy":
                with drift._ks_python_only():
                    found[name] += monitor.observe_scores(batch_rows, batch_scores)
            else:
                found[name] += monitor.observe_scores(batch_rows, batch_scores)
            if k:
                seconds[name].append(time.perf_counter() - started)
            assert monitor.checks == checks + 1
        if k == 1:  # the columns of that check, from the monitor's own windows
            ref = monitors["compiled"]._reference
            live, known = monitors["compiled"]._last_live[1:]
            columns = [(ref.known[j], live[j, :known[j]]) for j in range(len(ref.known) - 1) if ref.continuous[j]]
    a, b = monitors.values()
    assert [d.as_dict() for d in found["numpy"]] == [d.as_dict() for d in found["compiled"]] and found["numpy"]
    assert str(a.feature_ks) == str(b.feature_ks) and a.feature_psi == b.feature_psi
    numpy_ms, compiled_ms = (min(seconds[name]) * 1e3 for name in ("numpy", "compiled"))
    print(f"DriftMonitor check, {len(F.FEATURE_NAMES)} features ({len(columns)} with KS), {SIZE:,} + {SIZE:,} rows, "
          f"best of {len(seconds['numpy'])}:")
    print(f"  numpy    {numpy_ms:6.2f} ms a check ({numpy_ms * 1e3 / SIZE:.2f} µs a scored row)")
    print(f"  compiled {compiled_ms:6.2f} ms a check ({compiled_ms * 1e3 / SIZE:.2f} µs a scored row), "
          f"{numpy_ms - compiled_ms:.2f} ms less ({1 - compiled_ms / numpy_ms:.0%})")
    return columns


def main() -> None:
    started = time.perf_counter()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"KS compiled: {drift.KS_COMPILED} {drift.KS_NOT_COMPILED}".rstrip())
    if not drift.KS_COMPILED:
        sys.exit("consumer._drift is not built: nothing to compare")
    rows = traffic_rows((2 + CHECKS) * SIZE)
    print(f"{len(rows):,} feature rows of generated traffic ({time.perf_counter() - started:.0f} s)")
    columns = per_check(rows)
    per_call(columns)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
