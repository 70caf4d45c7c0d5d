"""Event logs on disk: JSONL or JSONL.gz files of tweets and labels. No Kafka here.

One line is one JSON object: a tweet in any of the three formats (v1.1, v2,
compact) or a label (``{"account_id", "label", "ts", "source"}``); tweets and
labels may share a file and are told apart by their shape
(:func:`producers.records.classify`). A name ending in ``.gz`` is gzip.

Reading (:class:`RecordReader`, :func:`read_records`) yields
:class:`~producers.records.Record` objects keyed by account id and stamped
with the payload's event time, merged by event time across files. **Each file
must be in event-time order** (what ``botwatch generate --out`` and
``botwatch convert`` write): the merge is a streaming k-way merge in constant
memory, so a record that steps back in time within its file is passed on in
file order and counted in :attr:`RecordReader.out_of_order`. Ties keep the
order of the files as given, then of the lines.

A v2 response whose ``data`` holds several tweets becomes one record per
tweet (see :func:`producers.records.split_v2`).

A line that is not JSON, not an object, or neither a tweet nor a label raises
:class:`BadLine` naming the file and line; with ``skip_bad`` it is skipped
and counted in :attr:`RecordReader.bad_lines`. Blank lines are ignored.

Writing (:func:`write_records`): one file holding tweets and labels in the
order given (the generator's event-time order), gzip when the name ends in
``.gz``.

Example
-------
>>> import os, tempfile
>>> from producers.generate import Generator
>>> path = os.path.join(tempfile.mkdtemp(), "stream.jsonl.gz")
>>> write_records(path, Generator(accounts=10, tweets=30, seed=1).events())["tweets"]
30
>>> records = list(read_records([path]))
>>> records == list(Generator(accounts=10, tweets=30, seed=1).events())
True
"""

from __future__ import annotations

import gzip
import heapq
import os
from collections import Counter
from typing import Iterable, Iterator

import orjson

from producers.records import Record, UnknownShape, classify, split_v2

#: gzip level of written files: 4 compresses JSON about 8x at several times the speed of the default 9.
GZIP_LEVEL = 4
_READ_BUFFER = 1 << 20


class BadLine(ValueError):
    """A line that is not a tweet or a label; the message names the file and line.

    Attributes ``path``, ``line`` (1-based) and ``reason`` (``not_json``,
    ``not_object``, ``unknown_shape``) say where and what.
    """

    def __init__(self, path: str, line: int, reason: str, detail: str):
        super().__init__(f"{path}:{line}: {detail}")
        self.path, self.line, self.reason = path, line, reason


def _open_binary(path: str):
    """(line source, raw file): the raw file's position tells how much of the file was read."""
    raw = open(path, "rb", buffering=_READ_BUFFER)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


class RecordReader:
    """Records from JSONL(.gz) files, merged by event time, with counters for a progress bar.

    Parameters
    ----------
    paths
        Files of tweets and/or labels, each in event-time order.
    skip_bad
        Skip lines that are not tweets or labels (counted) instead of raising :class:`BadLine`.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "a.jsonl"), "w") as f:
    ...     _ = f.write('{"account_id": "1", "label": "bot", "ts": 20}\\nnot json\\n')
    >>> reader = RecordReader([os.path.join(d, "a.jsonl")], skip_bad=True)
    >>> [(r.topic, r.key, r.ts) for r in reader], dict(reader.bad_lines)
    ([('labels', b'1', 20.0)], {'not_json': 1})
    """

    def __init__(self, paths: Iterable[str], skip_bad: bool = False):
        self.paths = [os.fspath(p) for p in paths]
        self.skip_bad = skip_bad
        for path in self.paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such file")
        self.bytes_total = sum(os.path.getsize(p) for p in self.paths)
        self.bad_lines: Counter = Counter()
        self.first_bad: str | None = None  # where the first skipped line was, for the summary
        self.out_of_order = 0
        self._raws: list = []
        self._final: dict[str, int] = {}  # a file's position when it was closed

    @property
    def bytes_read(self) -> int:
        """Bytes of the files (compressed, as on disk) read so far."""
        return sum(raw.tell() if not raw.closed else self._final[path] for path, raw in self._raws)

    def __iter__(self) -> Iterator[Record]:
        streams = [self._file(p) for p in self.paths]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_ts)

    def _file(self, path: str) -> Iterator[Record]:
        lines, raw = _open_binary(path)
        self._raws.append((path, raw))
        try:
            yield from self._records(path, lines)
        finally:
            self._final[path] = raw.tell()
            lines.close()
            raw.close()

    def _records(self, path: str, lines) -> Iterator[Record]:
        loads, last_ts = orjson.loads, float("-inf")
        for number, line in enumerate(lines, 1):
            try:
                obj = loads(line)
            except orjson.JSONDecodeError as e:
                if not line.strip():
                    continue
                self._bad(path, number, "not_json", f"not JSON ({e})")
                continue
            try:
                topic, key, ts = classify(obj)
            except UnknownShape as e:
                reason = "not_object" if not isinstance(obj, dict) else "unknown_shape"
                self._bad(path, number, reason, f"not a tweet or a label: {e}")
                continue
            if ts < last_ts:
                self.out_of_order += 1
            last_ts = ts
            if topic == "tweets" and isinstance(obj.get("data"), list) and len(obj["data"]) > 1:
                for item in split_v2(obj):
                    try:
                        _, item_key, item_ts = classify(item)
                    except UnknownShape as e:
                        self._bad(path, number, "unknown_shape", f"not a tweet or a label: {e}")
                        continue
                    yield Record(topic, item_key, orjson.dumps(item), item_ts)
                continue
            yield Record(topic, key, line.rstrip(b"\r\n"), ts)

    def _bad(self, path: str, number: int, reason: str, detail: str) -> None:
        error = BadLine(path, number, reason, detail)
        if not self.skip_bad:
            raise error
        self.bad_lines[reason] += 1
        if self.first_bad is None:
            self.first_bad = str(error)


def _ts(record: Record) -> float:
    return record.ts


def read_records(paths: Iterable[str], skip_bad: bool = False) -> Iterator[Record]:
    """Records from JSONL(.gz) files of tweets and labels, merged by event time (see :class:`RecordReader`)."""
    return iter(RecordReader(paths, skip_bad))


def open_writer(path: str):
    """A binary file for JSONL output; gzip when ``path`` ends in ``.gz``."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if path.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=GZIP_LEVEL)
    return open(path, "wb", buffering=_READ_BUFFER)


def write_records(path: str, records: Iterable[Record], stop=lambda: False) -> dict[str, int]:
    """Write ``records`` as JSONL to ``path`` (tweets and labels in one file); returns counts per topic kind."""
    counts = {"tweets": 0, "labels": 0}
    with open_writer(path) as f:
        write = f.write
        for n, record in enumerate(records):
            if n & 1023 == 0 and stop():
                break
            write(record.value + b"\n")
            counts[record.topic] += 1
    return counts
