"""Model snapshots: versioned, restorable, and refused when corrupted or tampered with."""

from __future__ import annotations

import pytest

from consumer.model import Model
from consumer.quality import RollingQuality
from consumer.snapshot import SnapshotError, latest_snapshot, read_snapshot, snapshot_path, write_snapshot
from support import botwatch


def trained_model() -> Model:
    model = Model()
    for i in range(40):
        model.learn_one({"url_ratio": (i % 2) * 0.9, "interarrival_cv": 1.0 - (i % 2) * 0.9}, bool(i % 2))
    return model


def test_round_trip_keeps_the_model_and_its_offset(tmp_path):
    model = trained_model()
    path = snapshot_path(tmp_path, 41)
    write_snapshot(path, (model, RollingQuality()), model_version=model.version, kind="logreg", training_offset=41, key=b"k")
    (restored, _), header = read_snapshot(path, key=b"k")
    x = {"url_ratio": 0.9, "interarrival_cv": 0.1}
    assert restored.predict_one(x) == model.predict_one(x)
    assert header["training_offset"] == 41 and header["model_version"] == "logreg-40"
    assert latest_snapshot(tmp_path) == path


@pytest.mark.parametrize("key", [b"secret", None])
def test_a_flipped_payload_byte_is_refused_naming_file_and_check(tmp_path, key):
    path = tmp_path / "model-000000000001.snapshot"
    write_snapshot(path, trained_model(), model_version="logreg-40", kind="logreg", training_offset=1, key=key)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(SnapshotError) as err:
        read_snapshot(path, key=key)
    assert str(path) in str(err.value)
    assert ("hmac-sha256 check failed" if key else "sha256 check failed") in str(err.value)


def test_a_forged_snapshot_without_the_key_is_refused(tmp_path):
    path = tmp_path / "model-000000000001.snapshot"
    write_snapshot(path, trained_model(), model_version="logreg-40", kind="logreg", training_offset=1, key=None)
    with pytest.raises(SnapshotError, match="signed with 'sha256' but hmac-sha256 was expected"):
        read_snapshot(path, key=b"secret")
    write_snapshot(path, trained_model(), model_version="logreg-40", kind="logreg", training_offset=1, key=b"other")
    with pytest.raises(SnapshotError, match="hmac-sha256 check failed"):
        read_snapshot(path, key=b"secret")


def test_consume_refuses_to_start_from_a_tampered_snapshot(tmp_path):
    path = snapshot_path(tmp_path, 7)
    write_snapshot(path, (trained_model(), RollingQuality()), model_version="logreg-40", kind="logreg",
                   training_offset=7, key=b"secret")
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    result = botwatch("consume", "--bootstrap", "127.0.0.1:1", "--snapshot-dir", str(tmp_path),
                      "--snapshot-key", "secret", "--metrics-port", "0", check=False, timeout=60)
    assert result.returncode == 3
    assert f"refusing to start: model snapshot {path}: hmac-sha256 check failed" in result.stderr
