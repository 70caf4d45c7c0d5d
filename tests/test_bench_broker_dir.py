"""Where the bench's own broker keeps its logs: in memory where there is room, else where it is told."""

from __future__ import annotations

import pytest

from consumer import bench
from consumer.bench import BenchError, Say, bench_broker, broker_parent


def test_the_directory_asked_for_wins(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "MEMORY_DIR", tmp_path)
    monkeypatch.setattr(bench, "MEMORY_ROOM", 1)
    assert broker_parent("/var/tmp/kafka") == "/var/tmp/kafka"


def test_memory_is_used_where_it_has_room(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "MEMORY_DIR", tmp_path)
    monkeypatch.setattr(bench, "MEMORY_ROOM", 1)
    assert broker_parent() == str(tmp_path)


def test_without_room_in_memory_or_without_it_the_temporary_directory_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "MEMORY_DIR", tmp_path)
    monkeypatch.setattr(bench, "MEMORY_ROOM", 2**70)
    assert broker_parent() is None
    monkeypatch.setattr(bench, "MEMORY_DIR", tmp_path / "absent")
    monkeypatch.setattr(bench, "MEMORY_ROOM", 1)
    assert broker_parent() is None


def test_a_broker_dir_that_does_not_exist_is_refused_before_a_broker_starts(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(BenchError, match=f"--broker-dir {missing}: no such directory"):
        with bench_broker({"bootstrap.servers": "127.0.0.1:1"}, Say(False), str(missing)):
            pass
    assert not missing.exists()
