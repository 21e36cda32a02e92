"""`bookrec report online` and `bookrec model experiment status`: the online metrics and
the experiment's comparison as text tables (app.tables), and the open rate over time as a
PNG chart (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.tables import text_table
from recommend import ExperimentReport, OnlineMetricsResult

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (UTC if it names no zone), or a span back from now: 30m, 24h, 7d."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: float(relative.group(1))})
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO time nor a span like 30m, 24h, 7d") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def metrics_text(metrics: OnlineMetricsResult) -> str:
    headers = [
        "model",
        "variant",
        "step",
        "lists",
        "shown",
        "opens",
        "open rate",
        "rated",
        "liked",
        "disliked",
        "coverage",
        "open pos",
    ]
    rows = [
        [
            g.model_version,
            g.variant,
            g.source or "all",
            g.lists,
            g.impressions,
            g.opens,
            g.open_rate,
            g.rate_after_shown,
            g.like_after_shown,
            g.dislike_after_shown,
            g.catalog_coverage,
            g.mean_opened_position,
        ]
        for g in metrics.groups
    ]
    formats = [None] * 6 + [".4f"] * 5 + [".2f"]
    title = (
        f"Online metrics of the lists served {metrics.since:%Y-%m-%d %H:%M} .. "
        f"{metrics.until:%Y-%m-%d %H:%M} UTC (rates per book shown; rated/liked/disliked: "
        "within the attribution window after the showing)"
    )
    if not rows:
        return f"{title}\n(no lists served in this window)"
    return f"{title}\n{text_table(headers, rows, formats=formats)}"


def experiment_text(report: ExperimentReport) -> str:
    e = report.experiment
    state = "running" if e.stopped_at is None else f"{e.outcome} at {e.stopped_at:%Y-%m-%d %H:%M}"
    head = (
        f"Experiment {e.id}: {e.version} to {e.share:.0%} of signed-in readers, "
        f"control {e.control_version or '(none)'}; started {e.started_at:%Y-%m-%d %H:%M} UTC, "
        f"{state}"
    )
    c = report.comparison
    rows = [
        [name, est.readers, est.impressions, est.opens, est.rate]
        for name, est in (("control", c.control), ("variant", c.variant))
    ]
    table = text_table(
        ["group", "readers", "shown", "opens", "open rate"], rows, formats=[None] * 4 + [".4f"]
    )
    if c.difference is None:
        verdict = "difference: not measurable yet (a group has no impressions)"
    elif c.low is None or c.high is None:
        verdict = f"difference (variant - control): {c.difference:+.4f}; interval needs 2+ readers"
    else:
        verdict = (
            f"difference (variant - control): {c.difference:+.4f}, 95% interval "
            f"[{c.low:+.4f}, {c.high:+.4f}] (Wald; variance by the delta method over readers, "
            "the randomised unit); "
            + ("excludes zero" if c.low > 0 or c.high < 0 else "includes zero: no difference shown")
        )
    return f"{head}\n{table}\n{verdict}"


def write_chart(metrics: OnlineMetricsResult, path: Path, bucket_minutes: int) -> None:
    """Open rate per variant per bucket of list time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    try:
        variants = sorted({p.variant for p in metrics.series})
        for variant in variants:
            points = [p for p in metrics.series if p.variant == variant]
            ax.plot(
                [p.start for p in points],  # type: ignore[arg-type]
                [p.open_rate for p in points],
                marker="o",
                label=f"{variant} ({sum(p.impressions for p in points)} shown)",
            )
        ax.set_title(f"Open rate (opens / books shown) per {bucket_minutes} min of list time")
        ax.set_xlabel("UTC")
        ax.set_ylabel("open rate")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if variants:
            ax.legend()
            width = timedelta(minutes=bucket_minutes)
            starts = [p.start for p in metrics.series]
            ax.set_xlim(min(starts) - width / 2, max(starts) + width * 1.5)  # type: ignore[arg-type]
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        else:
            ax.text(0.5, 0.5, "no lists served", ha="center", transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
