"""A student's score from their task statuses: the default rule and lecturer-given weights.

Why a rule this plain: the score goes into Moodle as a grade, so a student must be able to
recompute it from their report. Each task's best status over the student's captures earns points
(pass 1, partial 0.5, fail 0, absent 0), tasks weigh equally unless ``--weights`` says otherwise,
and the weighted mean is scaled to 100. Similarity flags never change a score: they are evidence
for the lecturer to review, not a verdict (docs/grading.md "Score").
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from reporter.options import UsageError

POINTS = {"pass": 1.0, "partial": 0.5, "fail": 0.0, "absent": 0.0}
SCALE = 100.0


def parse_weights(text: str | None, tasks: Sequence[str], assignment: str) -> dict[str, float]:
    """``T1=20,T2=30,...`` -> weights, checked against the assignment's tasks (every task named once).

    Weights are relative: T1=1,T2=1 is the same as T1=50,T2=50. A task may weigh 0. None gives
    equal weights."""
    if not text:
        return {t: 1.0 for t in tasks}
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        tid, sep, value = part.partition("=")
        tid = tid.strip().upper()
        if not sep or tid not in tasks:
            raise UsageError(f"progjar batch: --weights: {part.strip()!r} is not TASK=NUMBER with TASK one of "
                             f"{', '.join(tasks)} ({assignment})")
        try:
            w = float(value.strip().replace(",", "."))
        except ValueError:
            raise UsageError(f"progjar batch: --weights: {part.strip()!r}: the weight must be a number") from None
        if not w >= 0 or w == float("inf"):
            raise UsageError(f"progjar batch: --weights: {part.strip()!r}: a weight cannot be negative")
        if tid in out:
            raise UsageError(f"progjar batch: --weights names {tid} twice")
        out[tid] = w
    missing = [t for t in tasks if t not in out]
    if missing:
        raise UsageError(f"progjar batch: --weights must give every task of {assignment} ({', '.join(tasks)}); "
                         f"missing {', '.join(missing)} (give 0 to leave one out)")
    if sum(out.values()) <= 0:
        raise UsageError("progjar batch: --weights: at least one weight must be above 0")
    return out


def score(statuses: Mapping[str, str], weights: Mapping[str, float]) -> float:
    """The score out of 100, rounded to two decimals (what the gradebook and Moodle get)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    got = sum(w * POINTS.get(statuses.get(t, "absent"), 0.0) for t, w in weights.items())
    return round(SCALE * got / total, 2)


def plain(x: float) -> str:
    """A score as Moodle reads it whatever its language: a dot, no thousands separator, no ".0"."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text or "0"
