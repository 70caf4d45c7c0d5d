"""What the ``botwatch-state`` changelog holds, and how its records are encoded.

The changelog is compacted and partitioned like the tweets topic: partition
*p* holds what is needed to resume partition *p* of the input exactly where
the last checkpoint left it. Three kinds of record share it, told apart by key:

* ``<account id>`` — the account's state array as raw float64 bytes, plus the
  end of the tick at which it waits to be scored (float64; NaN if it does not
  wait), so a restored detector scores it where the uninterrupted run would
  have. A tombstone (no value) deletes an expired account.
* ``\\x00clock`` — the owner's stream time, how far in event time its model
  had learned and how many examples that was (2 × float64, int64).
* ``\\x00labels`` — the labels of this partition read but not yet applied
  (JSON), so a label is neither lost nor applied twice across a restart.

Example
-------
>>> from array import array
>>> from consumer.features import new_state
>>> state, tick_end = decode_account(encode_account(new_state(), 600.0))
>>> state.tobytes() == new_state().tobytes(), tick_end, decode_account(encode_account(new_state(), None))[1]
(True, 600.0, None)
"""

from __future__ import annotations

import math
import struct
from array import array
from dataclasses import dataclass, field

import orjson

from consumer.events import Label
from consumer.features import SLOTS

CLOCK_KEY = b"\x00clock"
LABELS_KEY = b"\x00labels"


_pack_tick_end = struct.Struct("<d").pack
_NOT_WAITING = _pack_tick_end(math.nan)


def encode_account(state: array, tick_end: float | None) -> bytes:
    return state.tobytes() + (_NOT_WAITING if tick_end is None else _pack_tick_end(tick_end))


def produce_changes_python(ids: list[str], start: int, accounts: dict, partition_of: dict, waiting: dict,
                           produce, topic: str, gone: list[str]) -> int:
    """The changelog records of the accounts ``ids[start:]``, the definition of :func:`produce_changes`.

    Each account with a partition gets ``produce(topic, record, key, partition)``: its state and the tick end
    it waits for (:func:`encode_account`), or None, a tombstone, for an account no longer in ``accounts`` (then
    appended to ``gone``, whose partition the caller forgets). Returns the index of the account at which
    ``produce`` raised BufferError (librdkafka's queue is full: the caller makes room and calls again from
    there), or ``len(ids)``."""
    if start < 0:
        raise ValueError(f"start must be an index from 0 on, not {start}")
    for i in range(start, len(ids)):
        account_id = ids[i]
        partition = partition_of.get(account_id)
        if partition is None:
            continue
        state = accounts.get(account_id)
        value = None if state is None else encode_account(state, waiting.get(account_id))
        try:
            produce(topic, value, account_id.encode(), partition)
        except BufferError:
            return i
        if state is None:
            gone.append(account_id)
    return len(ids)


try:  # a checkpoint writes about one record per tweet
    from consumer._changelog import produce_changes as _produce_changes
except ImportError:  # not built: the Python definition runs
    _produce_changes = None
#: Whether :func:`produce_changes` runs compiled (``consumer/_changelog.c``).
COMPILED: bool = _produce_changes is not None


def produce_changes(ids: list[str], start: int, accounts: dict, partition_of: dict, waiting: dict, produce,
                    topic: str, gone: list[str]) -> int:
    """:func:`produce_changes_python`, compiled where built."""
    run = produce_changes_python if _produce_changes is None else _produce_changes
    return run(ids, start, accounts, partition_of, waiting, produce, topic, gone)


class LayoutError(ValueError):
    """A changelog record written with another state layout than this botwatch's."""


def decode_account(value: bytes) -> tuple[array, float | None]:
    """The account's state and the tick end at which it waits to be scored (None: it does not wait)."""
    if len(value) != 8 * SLOTS + 8:
        raise LayoutError(f"account record of {len(value)} bytes; this botwatch's state is {8 * SLOTS + 8}")
    state = array("d")
    state.frombytes(value[:-8])
    (tick_end,) = struct.unpack("<d", value[-8:])
    return state, None if math.isnan(tick_end) else tick_end


def encode_clock(stream_time: float, learned_through: float, examples: int) -> bytes:
    """The partition owner's stream time, how far in event time its model had learned, and how many examples
    that was."""
    return struct.pack("<ddq", stream_time, learned_through, examples)


def decode_clock(value: bytes) -> tuple[float, float, int]:
    if len(value) == 8:  # written before the model's learning was recorded
        return struct.unpack("<d", value)[0], float("-inf"), 0
    return struct.unpack("<ddq", value)


def encode_labels(labels: list[tuple[float, Label]]) -> bytes:
    """Pending labels, each with the event time it applies at (a label waiting for its account's first
    tweet applies then, not at its own time)."""
    return orjson.dumps([[lb.account_id, lb.is_bot, lb.ts, lb.source, at] for at, lb in labels])


def decode_labels(value: bytes) -> list[tuple[float, Label]]:
    return [(entry[4] if len(entry) > 4 else entry[2], Label(*entry[:4])) for entry in orjson.loads(value)]


@dataclass
class PartitionState:
    """Everything one changelog partition restores."""

    accounts: dict[str, array] = field(default_factory=dict)
    dirty: dict[str, float] = field(default_factory=dict)  # account -> the tick end at which it waits to be scored
    stream_time: float = float("-inf")
    learned_through: float = float("-inf")  # of the owner's model, when it last checkpointed
    examples_learned: int = 0  # by that model
    pending_labels: list[tuple[float, Label]] = field(default_factory=list)  # (applies at, label)
    foreign_layout: int = 0  # account records of another state layout, skipped (the account starts afresh)

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Fold one changelog record in (later records win, as compaction would have it)."""
        if key == CLOCK_KEY:
            self.stream_time, self.learned_through, self.examples_learned = (
                decode_clock(value) if value else (float("-inf"), float("-inf"), 0))
        elif key == LABELS_KEY:
            self.pending_labels = decode_labels(value) if value else []
        else:
            account_id = key.decode()
            if value is None:
                self.accounts.pop(account_id, None)
                self.dirty.pop(account_id, None)
            else:
                try:
                    self.accounts[account_id], tick_end = decode_account(value)
                except LayoutError:
                    self.foreign_layout += 1
                    return
                if tick_end is None:
                    self.dirty.pop(account_id, None)
                else:
                    self.dirty[account_id] = tick_end
