"""``botwatch replay FILE...``: JSONL(.gz) tweets and labels into Kafka, merged by event time.

Records come from :class:`producers.files.RecordReader` (each file in
event-time order; the files merged), go to the tweets or labels topic by
their shape, keyed by account id, with the event time as the Kafka timestamp,
through one idempotent producer (:class:`producers.kafka_sink.KafkaSink`).

* ``--speed 0`` (default) sends as fast as possible; ``--speed S`` keeps real
  time: a record ``dt`` seconds of event time after the first one sent is
  sent ``dt / S`` seconds of wall-clock time after it (``1``: real time,
  ``60``: an hour a minute).
* ``--start-at N`` skips the first ``N`` records of the merged input: after an
  interruption or a bad line, the last line printed says which ``N`` resumes
  exactly where the replay stopped.
* A line that is not a tweet or a label stops the replay with ``FILE:LINE``
  and exit code 1, after everything before it was delivered; ``--skip-bad``
  skips such lines and reports how many at the end.
* A progress bar (share of the input read, records, rate, ETA) is drawn on
  stderr unless ``--no-progress``.

Example (needs a broker, so not run here)::

    botwatch replay --speed 0 stream.jsonl.gz labels.jsonl
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from producers.files import BadLine, RecordReader
from producers.progress import ProgressBar
from producers.records import Record


@dataclass
class ReplayResult:
    """What a replay did: records read (``position``, the next ``--start-at``), records sent per kind."""

    position: int = 0
    sent: dict[str, int] = field(default_factory=lambda: {"tweets": 0, "labels": 0})
    seconds: float = 0.0
    stopped: bool = False  # interrupted before the end


def replay(records: Iterable[Record], send: Callable[[Record], None], speed: float = 0.0, start_at: int = 0,
           on_progress: Callable[[int], None] | None = None, stop: Callable[[], bool] = lambda: False,
           idle: Callable[[float], None] = time.sleep, result: ReplayResult | None = None) -> ReplayResult:
    """Send ``records`` from position ``start_at`` on, paced to ``speed`` times real time (0: no pacing).

    ``idle(seconds)`` is how the pacing waits (the sink's poll, so delivery
    reports are served meanwhile). ``result`` is filled in as the replay goes,
    so a caller that catches an exception still knows the position reached.

    Example
    -------
    >>> sent = []
    >>> recs = [Record("tweets", b"1", b"{}", float(t)) for t in range(5)]
    >>> r = replay(recs, sent.append, start_at=2)
    >>> [x.ts for x in sent], r.position, r.sent["tweets"]
    ([2.0, 3.0, 4.0], 5, 3)
    """
    result = result if result is not None else ReplayResult()
    started = time.monotonic()
    first_ts = first_wall = None
    position = result.position
    for record in records:
        if position < start_at:
            position += 1
            result.position = position
            continue
        if position & 255 == 0:
            if stop():
                result.stopped = True
                break
            if on_progress is not None:
                on_progress(position)
        if speed > 0:
            if first_ts is None:
                first_ts, first_wall = record.ts, time.monotonic()
            while True:  # pacing to event time, not synchronisation
                delay = first_wall + (record.ts - first_ts) / speed - time.monotonic()
                if delay <= 0:
                    break
                if stop():
                    result.stopped = True
                    break
                idle(min(delay, 0.2))
            if result.stopped:
                break
        send(record)
        result.sent[record.topic] += 1
        position += 1
        result.position = position
    result.seconds = time.monotonic() - started
    return result


def _summary(result: ReplayResult, reader: RecordReader) -> str:
    sent = sum(result.sent.values())
    rate = sent / result.seconds if result.seconds > 0 else 0.0
    lines = [f"replayed {sent:,} records ({result.sent['tweets']:,} tweets, {result.sent['labels']:,} labels) "
             f"in {result.seconds:.1f} s, {rate:,.0f} records/s"]
    if reader.bad_lines:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(reader.bad_lines.items()))
        lines.append(f"skipped {sum(reader.bad_lines.values()):,} bad lines ({kinds}); the first: {reader.first_bad}")
    if reader.out_of_order:
        lines.append(f"warning: {reader.out_of_order:,} records were earlier than the record before them in their "
                     "file; each file should be in event-time order")
    return "\n".join(lines)


def run(settings, files: list[str]) -> int:
    """``botwatch replay``: returns 0 when all was sent, 1 on a bad line or a delivery failure, 2 on bad input
    paths, 130 when interrupted (the message says how to resume)."""
    return replay_files(settings, files)[0]


def replay_files(settings, files: list[str]) -> tuple[int, ReplayResult]:
    """What :func:`run` does, returning the exit code and the :class:`ReplayResult` (for benchmarks)."""
    from producers.kafka_sink import DeliveryError, KafkaSink

    result = ReplayResult()
    try:
        reader = RecordReader(files, skip_bad=settings.skip_bad)
    except FileNotFoundError as e:
        print(f"botwatch replay: {e}", file=sys.stderr)
        return 2, result
    sink = KafkaSink(settings.client_config(), {"tweets": settings.tweets_topic, "labels": settings.labels_topic})
    try:
        missing = sink.missing_topics()
    except Exception as e:  # KafkaException: no broker answered
        print(f"botwatch replay: cannot reach Kafka at {settings.bootstrap}: {e}", file=sys.stderr)
        return 1, result
    if missing:
        print(f"botwatch replay: topic(s) {', '.join(missing)} do not exist; create them with "
              "`botwatch topics create` (same --tweets-topic/--labels-topic)", file=sys.stderr)
        return 1, result
    bar = ProgressBar("replay", reader.bytes_total) if settings.progress else None
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    progress = (lambda position: bar.update(position, reader.bytes_read)) if bar else None
    code = 0
    started = time.monotonic()
    try:
        replay(reader, sink.send, settings.speed, settings.start_at, progress, lambda: bool(stopping) or sink.failed > 0,
               idle=sink.poll, result=result)
    except BadLine as e:
        code = 1
        failure = f"botwatch replay: {e}\n(fix or remove the line, or pass --skip-bad; everything before it was sent: " \
                  f"resume with --start-at {result.position})"
    except OSError as e:  # e.g. a truncated .gz
        code = 1
        failure = f"botwatch replay: reading the input failed: {e} (resume with --start-at {result.position})"
    try:
        sink.flush()
    except DeliveryError as e:
        print(f"\nbotwatch replay: {e}", file=sys.stderr)
        return 1, result
    if bar:
        bar.close(result.position, reader.bytes_read)
    if code:
        print(failure, file=sys.stderr)
        return code, result
    result.seconds = time.monotonic() - started  # including the final flush: everything delivered
    print(_summary(result, reader), file=sys.stderr)
    if result.stopped:
        print(f"stopped before the end: resume with --start-at {result.position}", file=sys.stderr)
        return 130, result
    return 0, result
