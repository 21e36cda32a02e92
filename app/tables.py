"""Plain-text tables for the command line and the benchmarks: one formatter for every table
bookrec prints (evaluation, online metrics, benchmark results)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        value = float(value)
        if value != value:  # NaN: not measured
            return "-"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    return str(value)


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: Sequence[str | None] | None = None,
    rule: bool = True,
) -> str:
    """Columns padded to their widest cell; the first left-aligned, the rest right-aligned.

    ``formats`` gives a format spec per column (e.g. ``".4f"``) for numbers; None (or no
    ``formats``) uses a default that keeps about three significant digits."""

    def fmt(i: int, value: Any) -> str:
        spec = formats[i] if formats is not None and i < len(formats) else None
        if spec and isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            return "-" if value != value else format(value, spec)
        return _cell(value)

    cells = [[fmt(i, v) for i, v in enumerate(row)] for row in rows]
    widths = [
        max([len(h), *(len(r[i]) for r in cells if i < len(r))]) for i, h in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            f"{v:<{w}}" if i == 0 else f"{v:>{w}}"
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers)]
    if rule:
        out.append(line(["-" * w for w in widths]))
    out += [line(r) for r in cells]
    return "\n".join(out)


METRIC_COLUMNS = (
    ("RMSE", "rmse"),
    ("MAE", "mae"),
    ("nDCG@10", "ndcg@10"),
    ("P@10", "p@10"),
    ("R@10", "r@10"),
    ("MAP@10", "map@10"),
)


def metrics_table(
    rows: Sequence[tuple[str, dict[str, Any]]], title: str = "", extra: Sequence[str] = ()
) -> str:
    """The evaluation table: one row per model, the protocol's metrics (4 decimals), then
    any `extra` keys (e.g. "fit s", "epochs") as they are."""
    headers = ["model", *(name for name, _ in METRIC_COLUMNS), *extra]
    keys = [key for _, key in METRIC_COLUMNS]
    body = [
        [name, *(m.get(key) for key in keys), *(m.get(key) for key in extra)] for name, m in rows
    ]
    formats = [None, *([".4f"] * len(keys)), *([".1f"] * len(extra))]
    table = text_table(headers, body, formats=formats, rule=False)
    return f"{title}\n{table}" if title else table


def training_runs_table(runs: Sequence[Any]) -> str:
    """`bookrec worker runs`: one line per training run (db.training_runs.Run), newest first."""
    headers = ["id", "trigger", "status", "mode", "started (UTC)", "seconds", "version", "detail"]
    body = [
        [
            run.id,
            run.trigger,
            run.status,
            run.mode or "",
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.duration_seconds,
            run.version or "",
            (run.error or run.gate_decision or "")[:90],
        ]
        for run in runs
    ]
    if not body:
        return "no training runs recorded"
    return text_table(headers, body, formats=[None, None, None, None, None, ".1f"])
