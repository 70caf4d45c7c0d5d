"""A progress bar on stderr: share done, count, rate and ETA, redrawn a few times per second.

On a terminal the bar redraws in place (``\\r``). Anywhere else (a log file,
a test capturing stderr) it prints a plain line now and then instead, so the
log stays readable.

Example
-------
>>> import io
>>> out = io.StringIO()
>>> bar = ProgressBar("replay", total=1000, stream=out, interval=0.0, tty=False)
>>> bar.update(250, done=500)
>>> "50.0%" in out.getvalue() and "250 records" in out.getvalue() and "ETA" in out.getvalue()
True
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Progress of a long job, measured in some unit of ``total`` (e.g. bytes of input read).

    Parameters
    ----------
    what
        The job's name, shown first.
    total
        The amount of work in all (same unit as ``done``); 0 if unknown (no share, no ETA).
    stream
        Where to draw (default stderr).
    interval
        Least seconds between two redraws on a terminal; elsewhere, 20 times this.
    tty
        Whether ``stream`` is a terminal (default: ask it).
    """

    def __init__(self, what: str, total: float, stream=None, interval: float = 0.25, tty: bool | None = None,
                 width: int = 24):
        self.what, self.total, self.width = what, total, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if self.tty else interval * 20
        self.started = time.monotonic()
        self.last = float("-inf")

    def update(self, count: int, done: float, force: bool = False) -> None:
        """``count`` records so far, ``done`` of ``total`` work; redrawn only if ``interval`` passed."""
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        share = min(done / self.total, 1.0) if self.total else 0.0
        parts = [self.what]
        if self.total:
            filled = int(share * self.width)
            parts.append(f"[{'#' * filled}{'.' * (self.width - filled)}] {share * 100:5.1f}%")
        parts.append(f"{count:,} records  {count / elapsed:,.0f}/s")
        if self.total:
            eta = elapsed * (1 - share) / share if share > 0 else float("nan")
            parts.append(f"ETA {_clock(eta) if eta == eta else '?'}")
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, count: int, done: float) -> None:
        """The final state, and a new line on a terminal."""
        self.update(count, done, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
