"""Cells, tables and verdicts that every report's text and Markdown share."""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def _fmt(value: float, signed: bool = False, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _fmt_gap(entry: dict | None) -> str:
    if entry is None:
        return "n/a"
    low, high = _fmt(entry["low"], signed=True), _fmt(entry["high"], signed=True)
    return (
        f"{_fmt(entry['difference'], signed=True)} [{low}, {high}] {entry['baseline']}"
    )


def _verdict(gaps) -> dict[str, list[str]]:
    """The names of ``(name, gap)`` pairs whose gap's interval lies above 0
    (``"ahead"``), holds 0 (``"within_noise"``) or lies below 0 (``"behind"``);
    a None gap is left out."""
    verdict: dict[str, list[str]] = {"ahead": [], "within_noise": [], "behind": []}
    for name, gap in gaps:
        if gap is None:
            continue
        side = (
            "ahead"
            if gap["low"] > 0
            else "behind"
            if gap["high"] < 0
            else "within_noise"
        )
        verdict[side].append(name)
    return verdict


def _verdict_parts(
    verdict: dict[str, list[str]],
    words: tuple[str, str, str] = ("ahead on", "within noise on", "behind on"),
) -> list[str]:
    """Each non-empty side of a :func:`_verdict` after its words:
    ``["ahead on a, b", "behind on c"]``."""
    return [
        f"{w} {', '.join(names)}" for w, names in zip(words, verdict.values()) if names
    ]


def _text_table(table: list[list[str]], left) -> list[str]:
    """The rows of ``table`` as lines of columns two spaces apart: the columns
    whose index is in ``left`` left-aligned, the others right-aligned."""
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    return [
        "  ".join(
            cell.ljust(w) if c in left else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in table
    ]


def _summary_text(summary: list[tuple[str, str, str]]) -> list[str]:
    """``(label, value, note)`` triples as aligned ``label  value  (note)`` lines."""
    return _text_table(
        [[label, value, f"({note})"] for label, value, note in summary], {0, 2}
    )


def _markdown_table(header: list[str], rows, n_left: int) -> list[str]:
    """A Markdown table: its first ``n_left`` columns left-aligned, the others
    right-aligned."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * n_left + "---:|" * (len(header) - n_left),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
