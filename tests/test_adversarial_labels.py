"""Precision first: when reviewers call every flagged account human, blocking stops and flags are withdrawn."""

from __future__ import annotations

import heapq

from consumer.decode import decode_label, decode_tweets
from consumer.detector import Detector
from consumer.events import Label
from consumer.policy import Policy
from producers.generate import Generator


def test_human_verdicts_on_flagged_accounts_stop_blocks_and_clear_flags():
    records = list(Generator(accounts=1500, tweets=60_000, seed=4).events())
    switch_at = records[len(records) // 2].ts  # from here on, reviewers say "human" to every flag
    # confidence 0.5: the point estimate must reach the target, so blocking starts within this short stream
    detector = Detector(Policy(min_labels=20, target_precision=0.99, confidence=0.5), min_tweets=5)

    adversarial: list[tuple[float, str]] = []  # (label time, account) of the human verdicts to come
    blocks_after_precision_fell, human_said, cleared, precision_fell_at = [], set(), set(), None
    flags_before_switch = 0
    blocks_before_switch: list[dict] = []
    batch = []

    def run(events):
        nonlocal precision_fell_at, flags_before_switch
        result = detector.process(events)
        for flag in result.flags:
            if flag["action"] == "clear":
                cleared.add(flag["account_id"])
            elif flag["event_time"] >= switch_at:
                heapq.heappush(adversarial, (flag["event_time"] + 600.0, flag["account_id"]))
                if flag["action"] == "block" and precision_fell_at is not None:
                    blocks_after_precision_fell.append(flag)
            else:
                flags_before_switch += 1
                if flag["action"] == "block":
                    blocks_before_switch.append(flag)
        q = detector.quality
        if precision_fell_at is None and q.block_support and q.precision_at_block < 0.99 and events:
            precision_fell_at = events[-1].ts

    for record in records:
        ts = record.ts
        while adversarial and adversarial[0][0] <= ts:
            label_ts, account = heapq.heappop(adversarial)
            human_said.add(account)
            batch.append(Label(account, False, label_ts, "review"))
        if record.topic == "labels":
            if ts < switch_at:  # before the switch, reviewers tell the truth
                batch.append(decode_label(record.value))
        else:
            batch.extend(decode_tweets(record.value))
        if len(batch) >= 500:
            run(batch)
            batch = []
    run(batch)
    detector.flush()

    assert blocks_before_switch, "the model never blocked anyone: stopping blocks would prove nothing"
    assert precision_fell_at is not None, "the adversarial labels never pulled precision below the target"
    assert blocks_after_precision_fell == []
    assert not detector.blocking_enabled
    flagged_then_called_human = {a for a in human_said if a in detector.accounts}
    assert flagged_then_called_human and flagged_then_called_human <= cleared


def test_a_verdict_changes_the_changelog_only_where_it_changes_the_account():
    """Each verdict leaves the account's action as the policy says; only the accounts it changed are written to
    the changelog at the next checkpoint, and only a human verdict on one of our flags makes a clear flag."""
    from consumer import features as F
    from consumer.events import Tweet
    from consumer.policy import CLEAR, NONE, REVIEW

    detector = Detector(min_tweets=1)
    detector.process([Tweet(str(i), account, 1e9 + i, text="hi") for i, account in enumerate("abcdef")])
    detector.flush()
    for account, action in zip("abcdef", [NONE, REVIEW, CLEAR, NONE, REVIEW, CLEAR]):
        detector.accounts[account][F.ACTION] = action
    detector.drain_changed()
    verdicts = {"a": True, "b": True, "c": True, "d": False, "e": False, "f": False}
    result = detector.process([Label(a, is_bot, 1e9 + 100, "review") for a, is_bot in verdicts.items()])
    result.flags += detector.flush().flags
    after = {a: int(detector.accounts[a][F.ACTION]) for a in "abcdef"}
    assert after == {"a": NONE, "b": REVIEW, "c": NONE, "d": CLEAR, "e": CLEAR, "f": CLEAR}
    assert detector.drain_changed() == {"c", "d", "e"}
    assert [(f["account_id"], f["action"]) for f in result.flags] == [("e", "clear")]
