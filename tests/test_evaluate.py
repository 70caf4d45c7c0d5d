"""``botwatch evaluate``: the in-process pipeline over files."""

from __future__ import annotations

import orjson

from producers.files import write_records
from producers.generate import Generator
from support import botwatch


def without_wall_clock(flags: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if k != "flagged_at"} for f in flags]


def read_flags(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_evaluate_writes_flags_summary_and_report_and_repeats_itself(tmp_path):
    gen = Generator(accounts=400, tweets=15_000, seed=5)
    stream = tmp_path / "stream.jsonl.gz"
    write_records(str(stream), gen.events())
    truth = tmp_path / "truth.csv"
    truth.write_text("account_id,label\n" + "".join(f"{a},{label}\n" for a, label in gen.truth.items()))

    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        botwatch("evaluate", "--tweets", str(stream), "--truth", str(truth), "--out", str(out), "--no-progress")
        runs.append(out)
    first, second = (read_flags(out / "flags.jsonl") for out in runs)
    assert first, "no flags"
    assert without_wall_clock(first) == without_wall_clock(second)
    summary = orjson.loads((runs[0] / "summary.json").read_bytes())
    assert summary["tweets"] == 15_000
    assert summary["unlabelled_accounts"]["accounts"] > 0
    report = (runs[0] / "report.md").read_text()
    for plot in ("precision_recall.png", "score_distribution.png", "quality_over_time.png", "time_to_detection.png"):
        assert plot in report and (runs[0] / plot).stat().st_size > 1000
