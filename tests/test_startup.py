"""What the service says at start about how its per-event code runs."""

import logging

from consumer import decode, detector, drift, features, model, scoring, state
from consumer.service import log_compiled_parts


def test_the_log_says_when_the_per_event_code_is_compiled(caplog, monkeypatch):
    monkeypatch.setattr(features, "COMPILED", True)
    monkeypatch.setattr(decode, "COMPILED", True)
    monkeypatch.setattr(scoring, "COMPILED", True)
    monkeypatch.setattr(detector, "COMPILED", True)
    monkeypatch.setattr(drift, "KS_COMPILED", True)
    monkeypatch.setattr(model, "COMPILED", True)
    monkeypatch.setattr(state, "COMPILED", True)
    with caplog.at_level(logging.INFO, logger="botwatch.consume"):
        log_compiled_parts()
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "compiled" in caplog.text


def test_the_log_warns_and_names_what_is_not_built(caplog, monkeypatch):
    monkeypatch.setattr(features, "COMPILED", False)
    monkeypatch.setattr(decode, "COMPILED", True)
    monkeypatch.setattr(scoring, "COMPILED", True)
    monkeypatch.setattr(detector, "COMPILED", True)
    monkeypatch.setattr(drift, "KS_COMPILED", True)
    monkeypatch.setattr(model, "COMPILED", True)
    monkeypatch.setattr(state, "COMPILED", True)
    with caplog.at_level(logging.INFO, logger="botwatch.consume"):
        log_compiled_parts()
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "consumer._features not built" in record.getMessage()
    assert "consumer._decode" not in record.getMessage()
    assert "pip install -e" in record.getMessage()
