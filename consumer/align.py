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
from bisect import bisect_left, bisect_right
from itertools import islice
from operator import itemgetter
from typing import Any, Hashable

INF = float("inf")
_event_time = itemgetter(0)


class Aligner:
    """Per-partition buffers released in event-time order up to the watermark.

    A partition's buffer is a list of ``(key, offset, item)`` entries, the very
    tuples :meth:`release` hands out, beside a list of their event times: the
    per-event work is two appends, and a release cuts each buffer with a binary
    search and merges with one sort in C.
    """

    def __init__(self) -> None:
        self.buffers: dict[Hashable, list] = {}  # (key, offset, item) per partition, in partition order
        self.times: dict[Hashable, list[float]] = {}  # the event time of each buffered entry
        self.latest: dict[Hashable, float] = {}  # latest event time read, per partition
        self.at_end: dict[Hashable, bool] = {}
        self.committable: dict[Hashable, int] = {}  # next offset to consume, per partition, past all released
        self.in_order = True  # no partition has stepped back in time: each buffer's times are sorted
        self._last: tuple[list, list] = ([], [])  # the last release and its event times, for hold_back

    def assign(self, keys) -> None:
        for key in keys:
            self.buffers.setdefault(key, [])
            self.times.setdefault(key, [])
            self.latest.setdefault(key, -INF)
            self.at_end.setdefault(key, False)

    def revoke(self, keys) -> list[tuple[Hashable, int, Any]]:
        """Forget ``keys``; returns what was buffered for them and not released."""
        dropped = []
        for key in keys:
            dropped.extend(self.buffers.pop(key, ()))
            self.times.pop(key, None)
            self.latest.pop(key, None)
            self.at_end.pop(key, None)
            self.committable.pop(key, None)
        return dropped

    def add(self, key: Hashable, offset: int, ts: float | None, item: Any) -> None:
        times = self.times[key]
        if ts is None:
            ts = times[-1] if times else self.latest[key]
        elif ts >= self.latest[key]:
            self.latest[key] = ts
        else:
            self.in_order = False
        self.buffers[key].append((key, offset, item))
        times.append(ts)
        self.at_end[key] = False

    def extend(self, key: Hashable, entries: list, times: list[float]) -> None:
        """:meth:`add` of each of ``entries``, ``(key, offset, item)`` tuples of one partition whose event
        ``times`` are known and in order."""
        if times[0] < self.latest[key]:
            self.in_order = False
        if times[-1] > self.latest[key]:
            self.latest[key] = times[-1]
        self.buffers[key] += entries
        self.times[key] += times
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

    def release(self, limit: int | None = None) -> list[tuple[Hashable, int, Any]]:
        """Everything at or before the watermark, merged by event time; at most the first ``limit`` entries of
        it, the rest left in the buffers for the next release.

        Each partition keeps its own order (a partition whose times step back
        is not re-sorted), so a single partition comes out exactly as it was
        written, however it was fetched. Ties in time come out in partition
        order (the order of :meth:`assign`).
        """
        watermark = self.watermark
        cuts = {}  # partition -> how many of its first entries are at or before the watermark
        for key, buf in self.buffers.items():
            if buf:
                times = self.times[key]
                if self.in_order:  # sorted times: the released prefix ends at the first time past the watermark
                    cut = bisect_right(times, watermark)
                else:
                    cut = 0
                    for ts in times:
                        if ts > watermark:
                            break
                        cut += 1
                if cut:
                    cuts[key] = cut
        if limit is not None and sum(cuts.values()) > limit:
            return self._release_first(cuts, limit)
        return self._release_all(cuts)

    def _release_all(self, cuts: dict) -> list[tuple[Hashable, int, Any]]:
        """The first ``cuts[key]`` entries of each partition, taken out and merged by event time."""
        runs = []  # (times, entries) released per partition, in partition order
        for key, cut in cuts.items():
            buf, times = self.buffers[key], self.times[key]
            if cut == len(buf):
                runs.append((times, buf))
                self.buffers[key], self.times[key] = [], []
            else:
                runs.append((times[:cut], buf[:cut]))
                del times[:cut], buf[:cut]
            self.committable[key] = runs[-1][1][-1][1] + 1
        if len(runs) <= 1:
            self._last = (runs[0][1], runs[0][0]) if runs else ([], [])
            return self._last[0]
        all_times = [ts for times, _ in runs for ts in times]
        entries = [entry for _, buf in runs for entry in buf]
        if self.in_order:  # sorted runs: timsort merges them in C, stable, so ties keep partition order
            order = sorted(range(len(entries)), key=all_times.__getitem__)
        else:  # each run in its own order: a stable k-way merge of the runs as they are
            starts = [0]
            for times, _ in runs:
                starts.append(starts[-1] + len(times))
            order = [i for _, i in heapq.merge(*(zip(times, range(start, start + len(times)))
                                                 for (times, _), start in zip(runs, starts)), key=_event_time)]
        self._last = (list(map(entries.__getitem__, order)), list(map(all_times.__getitem__, order)))
        return self._last[0]

    def _release_first(self, cuts: dict, limit: int) -> list[tuple[Hashable, int, Any]]:
        """The first ``limit`` entries of what :meth:`_release_all` would release, and only those taken out of the
        buffers: a backlog (the bench's 31,095 labels after its last tweet) is merged ``limit`` at a time, not
        all of it each time."""
        if not self.in_order:  # runs in their own order: merged lazily, heapq.merge being stable across runs
            runs = (zip(islice(self.times[key], cut), islice(self.buffers[key], cut)) for key, cut in cuts.items())
            taken = dict.fromkeys(cuts, 0)  # in partition order, which _release_all's merge keeps for ties
            for _, (key, _, _) in islice(heapq.merge(*runs, key=_event_time), limit):
                taken[key] += 1
            return self._release_all({key: n for key, n in taken.items() if n})
        # sorted runs: the limit-th earliest time, over each run's first limit entries, is the last one taken;
        # everything before it is taken, and of the entries at it, those of the first partitions (a stable merge
        # puts ties in partition order)
        last = sorted(ts for key, cut in cuts.items() for ts in islice(self.times[key], min(cut, limit)))[limit - 1]
        taken = {key: bisect_left(self.times[key], last, 0, cut) for key, cut in cuts.items()}
        room = limit - sum(taken.values())
        for key, cut in cuts.items():
            tied = min(room, bisect_right(self.times[key], last, 0, cut) - taken[key])
            taken[key] += tied
            room -= tied
        return self._release_all({key: n for key, n in taken.items() if n})

    def hold_back(self, start: int, first: Any = None) -> None:
        """Return the entries of the last release from index ``start`` on to the front of their partitions'
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
        entries, times = self._last
        held = list(zip(entries[start:], times[start:]))
        if not held:
            return
        if first is not None:
            (key, offset, _), ts = held[0]
            held[0] = ((key, offset, first), ts)
        by_key: dict[Hashable, list] = {}
        for entry, ts in held:
            by_key.setdefault(entry[0], []).append((entry, ts))
        for key, back in by_key.items():
            if key in self.buffers:  # not revoked meanwhile
                self.buffers[key][:0] = [entry for entry, _ in back]
                self.times[key][:0] = [ts for _, ts in back]
                self.committable[key] = back[0][0][1]
        self._last = (entries[:start], times[:start])

    @property
    def floor(self) -> float:
        """No entry still to be released (buffered, or not read yet from a partition that is in order) is
        earlier than this; partitions at their end count only with what they have buffered."""
        heads = [self.times[key][0] if buf else self.latest[key]
                 for key, buf in self.buffers.items() if buf or not self.at_end[key]]
        return min(heads, default=INF)
