"""``botwatch evaluate``: the detection pipeline in-process over files, with a report.

Source and sink are swapped, nothing else: the same decoders and the same
:class:`~consumer.detector.Detector` that ``botwatch consume`` runs. The output
directory receives:

* ``flags.jsonl`` — exactly what ``consume`` would write to bot-flags, in order.
  ``flagged_at`` is the only wall-clock field; everything else is reproducible.
* ``dead_letters.jsonl`` — input lines that could not be decoded, with the reason.
* ``summary.json`` — counts, the prequential quality figures, and, given
  ``--truth`` (CSV ``account_id,label``), precision, recall, F1 and MCC of each
  account's final action, over the accounts that were never labelled.
* ``report.md`` with PNG plots: precision-recall curve, score distribution by
  class, prequential precision and recall over event time, and time to detection.
"""

from __future__ import annotations

import csv
import math
import sys
from collections import Counter
from pathlib import Path

import orjson

from consumer import features as F
from consumer.feature_matrix import stack
from consumer.decode import DecodeError, decode_label, decode_tweets
from consumer.detector import BatchResult, Detector, build_detector
from consumer.scoring import feature_rows

BATCH = 1000


def confusion(predicted: list[bool], actual: list[bool]) -> dict[str, float]:
    """Precision, recall, F1 and Matthews correlation of boolean predictions.

    >>> confusion([True, True, False, False], [True, False, False, True])["precision"]
    0.5
    """
    tp = sum(p and a for p, a in zip(predicted, actual))
    fp = sum(p and not a for p, a in zip(predicted, actual))
    fn = sum(a and not p for p, a in zip(predicted, actual))
    tn = len(actual) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / denominator if denominator else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall, "f1": f1, "mcc": mcc}


class Evaluation:
    """Runs a :class:`Detector` over records and keeps what the report needs."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.flags: list[dict] = []
        self.invalid: Counter = Counter()
        self.dead_letters: list[dict] = []
        self.labelled: set[str] = set()
        self.tweets = self.duplicates = self.records = 0
        self.quality_over_time: list[tuple[float, float, float]] = []  # (event time, precision, recall)
        self.drift: list[dict] = []

    def feed(self, records) -> None:
        events = []
        for record in records:
            self.records += 1
            try:
                if record.topic == "labels":
                    label = decode_label(record.value)
                    self.labelled.add(label.account_id)
                    events.append(label)
                else:
                    events.extend(decode_tweets(record.value))
            except DecodeError as e:
                self.invalid[e.reason] += 1
                self.dead_letters.append({"reason": e.reason, "error": str(e), "key": record.key.decode(errors="replace"),
                                          "value": record.value.decode(errors="replace")[:2000]})
            if len(events) >= BATCH:
                self._take(self.detector.process(events))
                events = []
        self._take(self.detector.process(events))
        self._take(self.detector.flush())

    def _take(self, result: BatchResult) -> None:
        self.flags.extend(result.flags)
        self.drift.extend(d.as_dict() for d in result.drift)
        self.tweets += result.tweets
        self.duplicates += result.duplicates
        if result.learned:
            q = self.detector.quality
            self.quality_over_time.append((self.detector.learned_through, q.precision, q.recall))

    def final_scores(self) -> dict[str, float]:
        """Every tracked account scored by the final model."""
        ids = list(self.detector.accounts)
        if not ids:
            return {}
        rows = feature_rows(stack([self.detector.accounts[a] for a in ids]))
        return dict(zip(ids, self.detector.model.score_many(rows, F.FEATURE_NAMES).tolist()))

    def summary(self, truth: dict[str, bool] | None) -> dict:
        d = self.detector
        final_action = {}
        for flag in self.flags:
            final_action[flag["account_id"]] = flag["action"]
        out = {
            "records": self.records,
            "tweets": self.tweets,
            "duplicates": self.duplicates,
            "invalid": dict(self.invalid),
            "accounts": len(d.accounts),
            "labels_applied": d.model.examples,
            "labels_by_class": {"bot": d.model.examples_by_class[True], "human": d.model.examples_by_class[False]},
            "flags": dict(Counter(f["action"] for f in self.flags)),
            "drift_detections": self.drift,
            "model_version": d.model.version,
            "prequential": {"precision": d.quality.precision, "recall": d.quality.recall, "roc_auc": d.quality.roc_auc,
                            "precision_at_block": d.quality.precision_at_block, "block_support": d.quality.block_support,
                            "block_threshold": d.quality.block_threshold_in_force},
        }
        if truth is not None:
            unlabelled = [a for a in truth if a not in self.labelled]
            actual = [truth[a] for a in unlabelled]
            flagged = [final_action.get(a) in ("review", "block") for a in unlabelled]
            blocked = [final_action.get(a) == "block" for a in unlabelled]
            out["unlabelled_accounts"] = {
                "accounts": len(unlabelled),
                "bots": sum(actual),
                "flagged": confusion(flagged, actual),
                "blocked": confusion(blocked, actual),
            }
        return out


def read_truth(path: str) -> dict[str, bool]:
    with open(path, newline="") as f:
        return {row["account_id"]: row["label"].strip().lower() == "bot" for row in csv.DictReader(f)}


def run(settings) -> int:
    from producers.files import RecordReader  # files only: the evaluation needs no broker
    from producers.progress import ProgressBar

    if not settings.tweets or not settings.out:
        print("botwatch evaluate: --tweets FILE and --out DIR are required", file=sys.stderr)
        return 2
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [settings.tweets] + ([settings.labels] if settings.labels else [])
    evaluation = Evaluation(build_detector(settings))
    try:
        reader = RecordReader(paths)
        bar = ProgressBar("evaluate", reader.bytes_total) if settings.progress else None

        def counted(records):
            for i, record in enumerate(records, 1):
                if bar is not None and i % 5000 == 0:
                    bar.update(i, reader.bytes_read)
                yield record

        evaluation.feed(counted(reader))
    except (OSError, ValueError) as e:
        print(f"\nbotwatch evaluate: {e}", file=sys.stderr)
        return 1
    if bar is not None:
        bar.close(evaluation.records, reader.bytes_read)

    with open(out / "flags.jsonl", "wb") as f:
        for flag in evaluation.flags:
            f.write(orjson.dumps(flag) + b"\n")
    with open(out / "dead_letters.jsonl", "wb") as f:
        for letter in evaluation.dead_letters:
            f.write(orjson.dumps(letter) + b"\n")
    truth = read_truth(settings.truth) if settings.truth else None
    summary = evaluation.summary(truth)
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    from consumer.report import write_report

    write_report(out, evaluation, summary, truth)
    print(f"{len(evaluation.flags)} flags from {evaluation.tweets} tweets; see {out / 'report.md'}", file=sys.stderr)
    return 0
