"""`opscopilot eval report`: one self-contained HTML page (no scripts, no external files) with
the latest run's per-capability scores, the trend of the main scores over the stored runs, the
worst cases with why they failed, and what produced each run."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from bot.evaluation.runner import SCORES, CaseResult, summarize_by_tag

TREND = ("passed", "routing", "fact_recall", "groundedness", "rca_ac1", "runbook_hit3")
_CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}.bad{background:#fde2e2}.ok{background:#e5f6e5}.mid{background:#fff4d6}
code{font-size:12px}svg{vertical-align:middle}"""


def _cell(v: float | None) -> str:
    if v is None:
        return "<td>-</td>"
    cls = "ok" if v >= 0.95 else "mid" if v >= 0.8 else "bad"
    return f'<td class="{cls}">{v:.2f}</td>'


def sparkline(values: Sequence[float | None], width: int = 160, height: int = 28) -> str:
    """An inline SVG polyline of values in [0, 1] (gaps for None)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return ""
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{i * width / n:.1f},{height - 2 - v * (height - 4):.1f}" for i, v in pts)
    dots = "".join(f'<circle cx="{i * width / n:.1f}" cy="{height - 2 - v * (height - 4):.1f}" '
                   f'r="2"/>' for i, v in pts[-1:])
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<polyline fill="none" stroke="#36c" stroke-width="1.5" points="{coords}"/>'
            f"{dots}</svg>")


def render_report(runs: Sequence[dict[str, Any]], worst: int = 15) -> str:
    """HTML for the stored runs, oldest first; the last one is described in detail."""
    if not runs:
        raise ValueError("no runs to report on: run `opscopilot eval run` first")
    latest = runs[-1]
    summary = latest["summary"]
    caps = summary["capabilities"]
    head = "".join(f"<th>{escape(s)}</th>" for s in SCORES)
    overall = "".join(_cell(summary["overall"].get(s)) for s in SCORES)
    rows = [f'<tr><th class="l">overall</th>{overall}'
            f'<td>{int(summary["overall"]["cases"])}</td></tr>']
    rows += [f'<tr><td class="l">{escape(c)}</td>{"".join(_cell(v.get(s)) for s in SCORES)}'
             f'<td>{int(v["cases"])}</td></tr>' for c, v in caps.items()]
    trend = "".join(
        f'<tr><td class="l">{escape(s)}</td><td>'
        f'{sparkline([r["summary"]["overall"].get(s) for r in runs])}</td>'
        f'{_cell(latest["summary"]["overall"].get(s))}</tr>' for s in TREND)
    failed = sorted((r for r in latest["results"] if r["failures"]),
                    key=lambda r: (sum(v or 0 for v in r["scores"].values())
                                   / max(len(r["scores"]), 1), r["id"]))[:worst]
    worst_rows = "".join(
        f'<tr><td class="l"><code>{escape(r["id"])}</code></td><td class="l">'
        f'{escape(r["question"])}</td><td class="l">{escape(r["intent"])}</td>'
        f'<td class="l">{"<br>".join(escape(f) for f in r["failures"])}</td></tr>'
        for r in failed)
    history = "".join(
        f'<tr><td class="l">{escape(r["id"])}</td><td class="l"><code>'
        f'{escape(r["git_commit"][:12])}</code></td>'
        f'<td class="l"><code>{escape(r["config_hash"])}</code></td>'
        f'<td class="l">{escape(str(r["config"].get("name")))}</td>'
        f'<td>{int(r["summary"]["overall"]["cases"])}</td>{_cell(r["summary"]["overall"].get("passed"))}'
        f'<td>{r["summary"]["overall"].get("p50_ms", 0):.0f}</td></tr>' for r in reversed(runs))
    n_failing = sum(1 for r in latest["results"] if r["failures"])
    versions = ", ".join(f"{escape(k)}: <code>{escape(str(v))}</code>"
                         for k, v in latest["versions"].items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>opscopilot eval report</title><style>{_CSS}</style></head><body>
<h1>opscopilot eval report</h1>
<p>Latest run <b>{escape(latest["id"])}</b> at {escape(latest["created"])}, commit
<code>{escape(latest["git_commit"])}</code>, config <code>{escape(latest["config_hash"])}</code>
({escape(str(latest["config"].get("name")))}), mode {escape(latest["mode"])}; {versions}.
Latency p50 {summary["overall"]["p50_ms"]:.0f} ms, p95 {summary["overall"]["p95_ms"]:.0f} ms.</p>
<h2>Scores per capability</h2>
<table><tr><th class="l">capability</th>{head}<th>cases</th></tr>{"".join(rows)}</table>
<h2>Trends over {len(runs)} runs</h2>
<table><tr><th class="l">score</th><th>trend (oldest to latest)</th><th>latest</th></tr>
{trend}</table>
<h2>Worst cases ({len(failed)} shown of {n_failing} failing)</h2>
<table><tr><th class="l">case</th><th class="l">question</th><th class="l">intent</th>
<th class="l">why it failed</th></tr>{worst_rows}</table>
<h2>Runs</h2>
<table><tr><th class="l">run</th><th class="l">commit</th><th class="l">config hash</th>
<th class="l">config</th><th>cases</th><th>passed</th><th>p50 ms</th></tr>{history}</table>
</body></html>
"""


def markdown_table(run: dict[str, Any], by: str = "capability") -> str:
    """The run's scores as a Markdown table (for the README), with its provenance underneath:
    per capability, or (`by` another word, e.g. "split" or "class") per tag `<by>:...`."""
    cols = ("passed", "routing", "tools", "fact_recall", "fact_precision", "groundedness",
            "rca_ac1", "rca_ac3", "incident_recall3", "runbook_hit3", "refusal", "no_problem")
    summary = run["summary"]
    if by == "capability":
        groups = summary["capabilities"]
    else:
        groups = summarize_by_tag([CaseResult.from_dict(r) for r in run["results"]], f"{by}:")
    lines = [f"| {by} | cases | " + " | ".join(cols) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |"]
    for scope, row in [("**overall**", summary["overall"]), *groups.items()]:
        cells = ["-" if row.get(c) is None else f"{row[c]:.2f}" for c in cols]
        lines.append(f"| {scope} | {int(row['cases'])} | " + " | ".join(cells) + " |")
    o = summary["overall"]
    lines.append("")
    lines.append(f"Run `{run['id']}`, commit `{run['git_commit'][:12]}`, config "
                 f"`{run['config_hash']}`; answer latency p50 {o['p50_ms']:.0f} ms, "
                 f"p95 {o['p95_ms']:.0f} ms.")
    return "\n".join(lines)
