"""Helpers for tests that run botwatch as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def botwatch_env(kafka_bootstrap: str, topics: dict) -> dict:
    """Environment that points every botwatch subcommand at the test's broker and topics."""
    env = clean_env()
    env.update({
        "BOTWATCH_BOOTSTRAP": kafka_bootstrap,
        "BOTWATCH_TWEETS_TOPIC": topics["tweets"],
        "BOTWATCH_LABELS_TOPIC": topics["labels"],
        "BOTWATCH_FLAGS_TOPIC": topics["flags"],
        "BOTWATCH_DLQ_TOPIC": topics["dlq"],
        "BOTWATCH_STATE_TOPIC": topics["state"],
        "BOTWATCH_TRAINING_TOPIC": topics["training"],
        "BOTWATCH_GROUP": topics["group"],
        "BOTWATCH_TRANSACTIONAL_ID": topics["group"] + "-0",
    })
    return env


def clean_env() -> dict:
    """This process's environment without any BOTWATCH_ setting a developer may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")}


def botwatch(*args: str, env: dict | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``botwatch`` command line as a real subprocess (``env`` None: :func:`clean_env`)."""
    env = clean_env() if env is None else env
    result = subprocess.run([sys.executable, "-m", "consumer.cli", *args], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"botwatch {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll ``condition`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
