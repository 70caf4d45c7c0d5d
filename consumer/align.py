"""Event-time alignment of several partitions, so processing order follows event time.

Kafka hands a consumer whole chunks of one partition at a time. Were they
processed as fetched, one partition could run hours of event time ahead of
another, and labels would meet features from the wrong moment. The aligner
buffers what was fetched and releases, in event-time order, only what is no
later than the *watermark*: the smallest "latest event time read" over the
partitions that still have data to read. A partition that has reached its end
(EOF) does not hold the watermark back; one that has not been read at all
does, until it yields data or reports its end.

Items whose time is unknown (undecodable messages) keep their place in their
partition and are released with the item before them.

Example
-------
>>> a = Aligner()
>>> a.assign(["p0", "p1"])
>>> a.add("p0", 0, 10.0, "a"); a.add("p0", 1, 20.0, "b"); a.add("p1", 0, 15.0, "c")
>>> [item for _, _, item in a.release()]  # p1 has only reached 15
['a', 'c']
>>> a.end_of_partition("p1")
>>> [item for _, _, item in a.release()]
['b']
>>> a.committable
{'p0': 2, 'p1': 1}
"""

from __future__ import annotations

import heapq
from collections import deque
from operator import itemgetter
from typing import Any, Hashable

INF = float("inf")
_event_time = itemgetter(0)


class Aligner:
    """Per-partition buffers released in event-time order up to the watermark."""

    def __init__(self) -> None:
        self.buffers: dict[Hashable, deque] = {}
        self.latest: dict[Hashable, float] = {}  # latest event time read, per partition
        self.at_end: dict[Hashable, bool] = {}
        self.committable: dict[Hashable, int] = {}  # next offset to consume, per partition, past all released
        self.in_order = True  # no partition has stepped back in time: a stable sort merges them exactly
        self._last: list = []  # the last release, with event times, for hold_back

    def assign(self, keys) -> None:
        for key in keys:
            self.buffers.setdefault(key, deque())
            self.latest.setdefault(key, -INF)
            self.at_end.setdefault(key, False)

    def revoke(self, keys) -> list[tuple[Hashable, int, Any]]:
        """Forget ``keys``; returns what was buffered for them and not released."""
        dropped = []
        for key in keys:
            dropped.extend((key, off, item) for _, off, item in self.buffers.pop(key, ()))
            self.latest.pop(key, None)
            self.at_end.pop(key, None)
            self.committable.pop(key, None)
        return dropped

    def add(self, key: Hashable, offset: int, ts: float | None, item: Any) -> None:
        buf = self.buffers[key]
        if ts is None:
            ts = buf[-1][0] if buf else self.latest[key]
        elif ts >= self.latest[key]:
            self.latest[key] = ts
        else:
            self.in_order = False
        buf.append((ts, offset, item))
        self.at_end[key] = False

    def end_of_partition(self, key: Hashable) -> None:
        if key in self.at_end:
            self.at_end[key] = True

    @property
    def watermark(self) -> float:
        live = [self.latest[k] for k, end in self.at_end.items() if not end]
        return min(live) if live else INF

    def buffered(self, key: Hashable) -> int:
        return len(self.buffers.get(key, ()))

    def release(self) -> list[tuple[Hashable, int, Any]]:
        """Everything at or before the watermark, merged by event time.

        Each partition keeps its own order (a partition whose times step back
        is not re-sorted), so a single partition comes out exactly as it was
        written, however it was fetched.
        """
        watermark = self.watermark
        runs = []
        for key, buf in self.buffers.items():
            run = []
            while buf and buf[0][0] <= watermark:
                ts, offset, item = buf.popleft()
                run.append((ts, key, offset, item))
            if run:
                runs.append(run)
                self.committable[key] = run[-1][2] + 1
        if len(runs) <= 1:
            merged = runs[0] if runs else []
        elif self.in_order:  # sorted runs: timsort merges them in C, stable, so ties keep partition order
            merged = sorted([r for run in runs for r in run], key=_event_time)
        else:
            merged = list(heapq.merge(*runs, key=_event_time))
        self._last = merged
        return [(key, offset, item) for _, key, offset, item in merged]

    def hold_back(self, start: int, first: Any = None) -> None:
        """Return the items of the last release from index ``start`` on to the front of their partitions'
        buffers: the consumer could not take them yet. ``first``, if given, replaces the first one's item
        (what is left of it). They are released again, in the same order, and are not committable until then.

        >>> a = Aligner(); a.assign(["p"]); a.add("p", 0, 1.0, "x"); a.add("p", 1, 2.0, "y")
        >>> [item for _, _, item in a.release()]
        ['x', 'y']
        >>> a.hold_back(1); a.committable
        {'p': 1}
        >>> [item for _, _, item in a.release()]
        ['y']
        """
        held = self._last[start:]
        if not held:
            return
        if first is not None:
            ts, key, offset, _ = held[0]
            held[0] = (ts, key, offset, first)
        by_key: dict[Hashable, list] = {}
        for ts, key, offset, item in held:
            by_key.setdefault(key, []).append((ts, offset, item))
        for key, items in by_key.items():
            buf = self.buffers.get(key)
            if buf is not None:  # not revoked meanwhile
                buf.extendleft(reversed(items))
                self.committable[key] = items[0][1]
        self._last = self._last[:start]

    @property
    def floor(self) -> float:
        """No item still to be released (buffered, or not read yet from a partition that is in order) is
        earlier than this; partitions at their end count only with what they have buffered."""
        heads = [buf[0][0] if buf else self.latest[key]
                 for key, buf in self.buffers.items() if buf or not self.at_end[key]]
        return min(heads, default=INF)
