"""Versioned model snapshots that refuse to load when corrupted or tampered with.

A snapshot file is one header line of JSON, then the pickled model::

    {"format": "botwatch-model-snapshot", "version": 1, "model_version": "logreg-599",
     "kind": "logreg", "training_offset": 1234, "check": "hmac-sha256", "digest": "…"}
    <pickle bytes>

``training_offset`` is the offset of the last record of the training log the
model includes; restoring is loading the snapshot and replaying the log after
it. The digest covers the header's other fields and the payload. With a key
(``--snapshot-key``) it is an HMAC-SHA256, which also stops a forged
snapshot, and the payload is only unpickled after the check passes; without a
key it is a plain SHA-256 checksum, which catches corruption only.

Example
-------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "m.snapshot")
>>> write_snapshot(path, {"weights": [1, 2]}, model_version="logreg-2", kind="logreg", training_offset=7, key=b"k")
>>> read_snapshot(path, key=b"k")[1]["training_offset"]
7
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from pathlib import Path
from typing import Any

import orjson

FORMAT = "botwatch-model-snapshot"
VERSION = 2  # 2: the payload is the detector's model state and the instances' clocks


class SnapshotError(Exception):
    """A snapshot that must not be used; the message names the file and the failed check."""


def _digest(header: dict, payload: bytes, key: bytes | None) -> tuple[str, str]:
    covered = orjson.dumps({k: header[k] for k in sorted(header) if k not in ("check", "digest")}, option=orjson.OPT_SORT_KEYS)
    if key:
        return "hmac-sha256", hmac.new(key, covered + b"\n" + payload, hashlib.sha256).hexdigest()
    return "sha256", hashlib.sha256(covered + b"\n" + payload).hexdigest()


def write_snapshot(path: str | Path, model: Any, *, model_version: str, kind: str, training_offset: int,
                   key: bytes | None = None) -> None:
    """Write atomically: a crash mid-write leaves the previous snapshot, never half of one."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header = {"format": FORMAT, "version": VERSION, "model_version": model_version, "kind": kind,
              "training_offset": training_offset}
    header["check"], header["digest"] = _digest(header, payload, key)
    tmp = Path(f"{path}.tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(header) + b"\n" + payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_snapshot(path: str | Path, key: bytes | None = None) -> tuple[Any, dict]:
    """The model and the header; raises :class:`SnapshotError` unless every check passes."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise SnapshotError(f"model snapshot {path}: cannot be read: {e}") from None
    line, _, payload = raw.partition(b"\n")
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise SnapshotError(f"model snapshot {path}: the header is not JSON; the file is corrupted or not a snapshot") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(f"model snapshot {path}: not a botwatch model snapshot")
    if header.get("version") != VERSION:
        raise SnapshotError(f"model snapshot {path}: format version {header.get('version')!r}, this botwatch reads {VERSION}")
    expected_check = "hmac-sha256" if key else "sha256"
    if header.get("check") != expected_check:
        raise SnapshotError(
            f"model snapshot {path}: signed with {header.get('check')!r} but {expected_check} was expected "
            f"({'set' if not key else 'check'} --snapshot-key)")
    check, digest = _digest(header, payload, key)
    if not hmac.compare_digest(digest, str(header.get("digest", ""))):
        raise SnapshotError(
            f"model snapshot {path}: {check} check failed: the file was corrupted or modified"
            + (" (or --snapshot-key differs from the key that signed it)" if key else ""))
    try:
        model = pickle.loads(payload)  # only after the digest matched
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing
        raise SnapshotError(f"model snapshot {path}: the payload passed its check but does not load: {e}") from None
    return model, header


def latest_snapshot(directory: str | Path) -> Path | None:
    """The newest ``*.snapshot`` in ``directory`` by training offset in its name, or None."""
    files = sorted(Path(directory).glob("model-*.snapshot"), key=lambda p: int(p.stem.split("-")[1]))
    return files[-1] if files else None


def snapshot_path(directory: str | Path, training_offset: int) -> Path:
    return Path(directory) / f"model-{training_offset:012d}.snapshot"


def prune(directory: str | Path, keep: int = 3) -> None:
    files = sorted(Path(directory).glob("model-*.snapshot"), key=lambda p: int(p.stem.split("-")[1]))
    for old in files[:-keep]:
        old.unlink(missing_ok=True)
