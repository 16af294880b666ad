"""The simple baselines beside the encoder, and the comparison with the best.

:func:`score_baselines` trains and scores every baseline of each task's kind;
:func:`_against_best_baseline` pairs the final encoder's per-row scores with
the best baseline's over the test users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .baselines import baselines_for
from .metrics import paired_difference

__all__ = ["score_baselines"]


def score_baselines(
    tasks, metrics: list[str], say: Callable[[str], None] = lambda _: None
) -> tuple[dict, dict]:
    """Every applicable baseline trained on each task's training split and
    scored on its test split, in the task's metric.

    Returns the scores (baseline name to one score per task, NaN where
    it does not apply) and each baseline's per-row scores by task index.
    """
    scores: dict[str, np.ndarray] = {}
    rows: dict[str, dict[int, np.ndarray]] = {}
    for j, task in enumerate(tasks):
        kind = str(getattr(task, "kind", "")) or (
            "next_item" if task.train[1] is None else "profile"
        )
        for name, baseline in baselines_for(kind).items():
            baseline.fit(*task.train)
            task_rows = baseline.score_rows(*task.test, metric=metrics[j])
            rows.setdefault(name, {})[j] = task_rows
            row = scores.setdefault(name, np.full(len(tasks), np.nan))
            row[j] = float(np.mean(task_rows))
        say(
            f"[baselines] {task.name}: "
            + ", ".join(f"{n}={s[j]:.4f}" for n, s in scores.items() if s[j] == s[j])
        )
    return scores, rows


def _against_best_baseline(
    rows, baseline_scores, baseline_rows, j: int, task
) -> dict | None:
    """The final encoder against task ``j``'s best-scoring baseline, paired over
    its test users (one user per row unless the task says whose rows they
    are); None when no baseline applies."""
    applicable = [name for name, by_task in baseline_rows.items() if j in by_task]
    if not applicable:
        return None
    best = max(applicable, key=lambda name: baseline_scores[name][j])
    users = getattr(task, "users", None)
    groups = users.get("test") if isinstance(users, Mapping) else None
    difference = paired_difference(rows, baseline_rows[best][j], groups)
    return {"baseline": best, **difference._asdict()}
