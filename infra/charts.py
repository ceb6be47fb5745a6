"""PNG charts for Slack: an anomalous series (with its onset marked) and the weekly summary's
incidents per day. Drawn with matplotlib's object API on the Agg canvas (no pyplot state, so
lazy listeners in several threads can draw at once). Pure: data in, PNG bytes out.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime


def _figure(width: float = 7.0, height: float = 2.8):  # noqa: ANN202 - matplotlib Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:  # noqa: ANN001 - matplotlib Figure
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def series_png(timestamps: Sequence[int], values: Sequence[float], title: str, unit: str = "",
               onset: int | None = None) -> bytes:
    """A line chart of one series; a dashed line where the anomaly began."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    times = [datetime.fromtimestamp(int(t), UTC) for t in timestamps]
    ax.plot(times, list(values), color="#1f6feb", linewidth=1.4)
    if onset is not None:
        ax.axvline(datetime.fromtimestamp(onset, UTC), color="#d1242f", linestyle="--",
                   linewidth=1, label="onset")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    if unit:
        ax.set_ylabel(unit, fontsize=8)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    return _png(fig)


def stacked_bars_png(labels: Sequence[str], stacks: Mapping[str, Sequence[float]],
                     title: str) -> bytes:
    """Stacked bars (e.g. incidents per day, one stack per severity)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    bottom = [0.0] * len(labels)
    colours = ["#d1242f", "#fb8500", "#e3b341", "#8b949e", "#1f6feb"]
    for i, (name, heights) in enumerate(stacks.items()):
        ax.bar(list(labels), list(heights), bottom=bottom, label=name,
               color=colours[i % len(colours)])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(title, fontsize=10, loc="left")
    if stacks:
        ax.legend(fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
