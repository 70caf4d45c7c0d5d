"""``botwatch broker start|stop|status`` on a real broker process of its own."""

from __future__ import annotations

import socket

import pytest

from support import botwatch
from consumer.kafka.broker import free_port

pytestmark = pytest.mark.broker


def test_start_is_idempotent_and_stop_stops(tmp_path):
    env = {"BOTWATCH_BROKER_DIR": str(tmp_path / "kafka"), "BOTWATCH_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    import os

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")}, **env}
    try:
        first = botwatch("broker", "start", env=env, timeout=180)
        assert "broker started" in first.stdout
        second = botwatch("broker", "start", env=env)
        assert "already running" in second.stdout
        status = botwatch("broker", "status", env=env)
        assert "running at " + env["BOTWATCH_BOOTSTRAP"] in status.stdout
    finally:
        stop = botwatch("broker", "stop", env=env)
    assert "broker stopped" in stop.stdout
    after = botwatch("broker", "status", env=env, check=False)
    assert after.returncode == 3 and "not running" in after.stdout


def test_port_taken_by_another_process_is_a_clear_error(tmp_path):
    import os

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")},
               "BOTWATCH_BROKER_DIR": str(tmp_path / "kafka"), "BOTWATCH_BOOTSTRAP": f"127.0.0.1:{port}"}
        result = botwatch("broker", "start", env=env, check=False)
    assert result.returncode != 0
    assert f"port 127.0.0.1:{port} is taken by another process" in result.stderr
