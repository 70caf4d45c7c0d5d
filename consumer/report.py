"""The evaluation report: Markdown beside PNG plots (matplotlib, drawn off-screen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from consumer.features import FIRST_TS


def _pr_curve(scores: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores)
    hits = actual[order].astype(float)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / max(hits.sum(), 1.0)
    return recall, precision


def write_report(out: Path, evaluation, summary: dict, truth: dict[str, bool] | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    scores = evaluation.final_scores()
    if truth:
        unlabelled = [a for a in scores if a in truth and a not in evaluation.labelled]
        s = np.array([scores[a] for a in unlabelled])
        y = np.array([truth[a] for a in unlabelled], dtype=bool)
        if len(s) and y.any():
            recall, precision = _pr_curve(s, y)
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.plot(recall, precision)
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, never-labelled accounts", ylim=(0, 1.02))
            fig.tight_layout(); fig.savefig(out / "precision_recall.png"); plt.close(fig)
            plots.append(("Precision-recall curve", "precision_recall.png"))

            fig, ax = plt.subplots(figsize=(5, 4))
            bins = np.linspace(0, 1, 41)
            ax.hist(s[~y], bins=bins, alpha=0.6, label="human")
            ax.hist(s[y], bins=bins, alpha=0.6, label="bot")
            ax.set(xlabel="final score", ylabel="accounts", title="Score distribution by class", yscale="log")
            ax.legend(); fig.tight_layout(); fig.savefig(out / "score_distribution.png"); plt.close(fig)
            plots.append(("Score distribution by class", "score_distribution.png"))

    if evaluation.quality_over_time:
        t, p, r = map(np.array, zip(*evaluation.quality_over_time))
        hours = (t - t[0]) / 3600.0
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(hours, p, label="precision")
        ax.plot(hours, r, label="recall")
        ax.set(xlabel="event time (hours from first label)", ylabel="rolling value", ylim=(0, 1.02),
               title="Prequential precision and recall")
        ax.legend(); fig.tight_layout(); fig.savefig(out / "quality_over_time.png"); plt.close(fig)
        plots.append(("Prequential precision and recall over event time", "quality_over_time.png"))

    first_flag = {}
    for flag in evaluation.flags:
        if flag["action"] in ("review", "block"):
            first_flag.setdefault(flag["account_id"], flag["event_time"])
    delays = []
    for account_id, when in first_flag.items():
        state = evaluation.detector.accounts.get(account_id)
        if state is not None and (truth is None or truth.get(account_id)):
            delays.append((when - state[FIRST_TS]) / 3600.0)
    if delays:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.hist(delays, bins=30)
        ax.set(xlabel="hours from first tweet to first flag", ylabel="accounts",
               title="Time to detection" + (" (bots)" if truth else ""))
        fig.tight_layout(); fig.savefig(out / "time_to_detection.png"); plt.close(fig)
        plots.append(("Time to detection", "time_to_detection.png"))

    lines = ["# botwatch evaluation", "", "| figure | value |", "|---|---|"]
    for key in ("records", "tweets", "duplicates", "accounts", "labels_applied", "model_version"):
        lines.append(f"| {key} | {summary[key]} |")
    lines.append(f"| flags | {summary['flags']} |")
    lines.append(f"| dead letters | {summary['invalid']} |")
    for key, value in summary["prequential"].items():
        lines.append(f"| prequential {key} | {value:.4f} |" if isinstance(value, float) else f"| prequential {key} | {value} |")
    if "unlabelled_accounts" in summary:
        u = summary["unlabelled_accounts"]
        lines += ["", f"## Final actions on the {u['accounts']} never-labelled accounts ({u['bots']} bots)", "",
                  "| decision | precision | recall | F1 | MCC | TP | FP | FN |", "|---|---|---|---|---|---|---|---|"]
        for name in ("flagged", "blocked"):
            c = u[name]
            lines.append(f"| {name} (review or block) | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | "
                         f"{c['mcc']:.4f} | {c['tp']} | {c['fp']} | {c['fn']} |" if name == "flagged" else
                         f"| {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['mcc']:.4f} | "
                         f"{c['tp']} | {c['fp']} | {c['fn']} |")
    for title, file in plots:
        lines += ["", f"## {title}", "", f"![{title}]({file})"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
