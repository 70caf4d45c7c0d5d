"""What the ``botwatch-state`` changelog holds, and how its records are encoded.

The changelog is compacted and partitioned like the tweets topic: partition
*p* holds what is needed to resume partition *p* of the input exactly where
the last checkpoint left it. Three kinds of record share it, told apart by key:

* ``<account id>`` — the account's state array as raw float64 bytes, plus one
  trailing byte: 1 if the account changed in the open tick and still waits to
  be scored, else 0. A tombstone (no value) deletes an expired account.
* ``\\x00clock`` — the stream time reached (8 bytes, float64), so a restored
  detector closes its open tick where the uninterrupted run would have.
* ``\\x00labels`` — the labels of this partition read but not yet applied
  (JSON), so a label is neither lost nor applied twice across a restart.

Example
-------
>>> from array import array
>>> from consumer.features import new_state
>>> state, dirty = decode_account(encode_account(new_state(), True))
>>> state.tobytes() == new_state().tobytes(), dirty
(True, True)
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field

import orjson

from consumer.events import Label
from consumer.features import SLOTS

CLOCK_KEY = b"\x00clock"
LABELS_KEY = b"\x00labels"


def encode_account(state: array, dirty: bool) -> bytes:
    return state.tobytes() + (b"\x01" if dirty else b"\x00")


class LayoutError(ValueError):
    """A changelog record written with another state layout than this botwatch's."""


def decode_account(value: bytes) -> tuple[array, bool]:
    if len(value) != 8 * SLOTS + 1:
        raise LayoutError(f"account record of {len(value)} bytes; this botwatch's state is {8 * SLOTS + 1}")
    state = array("d")
    state.frombytes(value[:-1])
    return state, value[-1:] == b"\x01"


def encode_clock(stream_time: float, learned_through: float) -> bytes:
    """The partition owner's stream time and how far in event time its model had learned."""
    return struct.pack("<dd", stream_time, learned_through)


def decode_clock(value: bytes) -> tuple[float, float]:
    if len(value) == 8:  # written before the model's learning time was recorded
        return struct.unpack("<d", value)[0], float("-inf")
    return struct.unpack("<dd", value)


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
    dirty: set[str] = field(default_factory=set)
    stream_time: float = float("-inf")
    learned_through: float = float("-inf")  # of the owner's model, when it last checkpointed
    pending_labels: list[tuple[float, Label]] = field(default_factory=list)  # (applies at, label)
    foreign_layout: int = 0  # account records of another state layout, skipped (the account starts afresh)

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Fold one changelog record in (later records win, as compaction would have it)."""
        if key == CLOCK_KEY:
            self.stream_time, self.learned_through = decode_clock(value) if value else (float("-inf"), float("-inf"))
        elif key == LABELS_KEY:
            self.pending_labels = decode_labels(value) if value else []
        else:
            account_id = key.decode()
            if value is None:
                self.accounts.pop(account_id, None)
                self.dirty.discard(account_id)
            else:
                try:
                    self.accounts[account_id], dirty = decode_account(value)
                except LayoutError:
                    self.foreign_layout += 1
                    return
                if dirty:
                    self.dirty.add(account_id)
                else:
                    self.dirty.discard(account_id)
