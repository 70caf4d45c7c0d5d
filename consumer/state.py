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


def encode_clock(stream_time: float) -> bytes:
    return struct.pack("<d", stream_time)


def decode_clock(value: bytes) -> float:
    return struct.unpack("<d", value)[0]


def encode_labels(labels: list[Label]) -> bytes:
    return orjson.dumps([[lb.account_id, lb.is_bot, lb.ts, lb.source] for lb in labels])


def decode_labels(value: bytes) -> list[Label]:
    return [Label(account_id, is_bot, ts, source) for account_id, is_bot, ts, source in orjson.loads(value)]


@dataclass
class PartitionState:
    """Everything one changelog partition restores."""

    accounts: dict[str, array] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    stream_time: float = float("-inf")
    pending_labels: list[Label] = field(default_factory=list)
    foreign_layout: int = 0  # account records of another state layout, skipped (the account starts afresh)

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Fold one changelog record in (later records win, as compaction would have it)."""
        if key == CLOCK_KEY:
            self.stream_time = decode_clock(value) if value else float("-inf")
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
