"""Write the answer from tool results, deterministically: every number and name in the text is
copied from a finding or an evidence item, never computed here or made up."""

from __future__ import annotations

from bot.answer import Answer, ChartSpec, RootCause, RunbookSuggestion, SimilarIncident
from bot.focus import Focus, lead_lines
from bot.planner import Plan
from tools.backends import TopologySource
from tools.base import Finding, ToolResult, ToolStatus
from tools.formatting import fmt_window
from tools.rootcause import rank_root_causes

MAX_FINDINGS_IN_TEXT = 5
CHART_HISTORY_S = 3600

HELP_TEXT = (
    "I am an operations copilot. Ask me in plain words, for example:\n"
    "- what is wrong with checkout? / is anything broken right now?\n"
    "- p99 latency of cart over the last hour\n"
    "- show error logs of payment since 14:05\n"
    "- what changed in the last 6 hours? / which alerts are firing?\n"
    "I answer from metrics, logs, change events and alerts, and show the query behind every "
    "number."
)
OUT_OF_SCOPE_TEXT = (
    "That is outside what I do: I answer questions about the health of your services (metrics, "
    "logs, changes, alerts) and help during incidents. Type 'help' for examples."
)


def _bullets(findings: list[Finding], limit: int = MAX_FINDINGS_IN_TEXT) -> list[str]:
    lines = [f"- {f.text}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"- and {len(findings) - limit} more (see findings)")
    return lines


KB_EMPTY_NOTE = ("Note: the knowledge base is empty, so past incidents and runbooks are left out; "
                 "run `opscopilot kb seed` (or `opscopilot kb ingest <folder>`) to fill it.")


def _kb_note(results: list[ToolResult], lines: list[str]) -> list[str]:
    """One line when a knowledge tool found the knowledge base empty (and nothing said so)."""
    said = any("kb seed" in line for line in lines)
    return [KB_EMPTY_NOTE] if not said and any(r.data.get("kb_empty") for r in results) else []


def _problems(results: list[ToolResult]) -> list[str]:
    """One line per tool that failed (the metric scan's failure is said where it matters)."""
    return [f"Could not use {r.tool}: {r.summary}" for r in results
            if r.status is ToolStatus.ERROR and _metrics_failure(r) != r.summary
            or r.status is ToolStatus.ERROR and r.tool not in ("incident_context",
                                                                "detect_metric_anomalies")]


def _not_checked(context: ToolResult | None) -> list[str]:
    """The sources the one-call investigation could not use besides the metrics (whose failure
    is said where it matters), one line each, whatever the metrics showed."""
    if context is None:
        return []
    return [f"Not checked ({tool}): {why}." for tool, why in context.data.get("failed", {}).items()
            if tool != "detect_metric_anomalies"]


def _metrics_failure(scan: ToolResult | None) -> str | None:
    """Why the metric scan failed (alone, or inside the incident context tool), else None."""
    if scan is None:
        return None
    failed = scan.data.get("failed", {})
    if "detect_metric_anomalies" in failed:
        return str(failed["detect_metric_anomalies"])
    return scan.summary if scan.status is ToolStatus.ERROR else None


def _investigate(answer: Answer, plan: Plan, results: list[ToolResult],
                 topology: TopologySource, focus: Focus | None = None) -> list[str]:
    by_tool = {r.tool: r for r in results}
    findings = [f for r in results for f in r.findings]
    anomalies = [f for f in findings if f.kind == "metric_anomaly"]
    log_findings = [f for f in findings if f.kind == "log_errors" and f.score >= 0.5]
    changes = [f for f in findings if f.kind == "change"]
    alerts = [f for f in findings if f.kind == "alert"]
    window = fmt_window(plan.start, plan.end)
    named = plan.services
    scope = ", ".join(named) if named else "all services"
    lines: list[str] = []

    scan = by_tool.get("detect_metric_anomalies") or by_tool.get("incident_context")
    failure = _metrics_failure(scan)
    if failure and not anomalies:
        # Never "nothing abnormal" when the metrics could not be read; say what else is known.
        lines.append(f"I could not read the metrics of {scope} over {window}, so I cannot tell "
                     f"whether they are normal: {failure}")
        for title, items, limit in (("Recent changes:", changes, 3),
                                    ("Logs:", log_findings, 3), ("Alerts firing:", alerts, 4)):
            if items:
                lines.append(title)
                lines += _bullets(items, limit)
        lines += _not_checked(by_tool.get("incident_context"))
        answer.findings = log_findings + changes + alerts
        return lines

    if not anomalies and not log_findings:
        scanned = f" ({scan.summary})" if scan is not None and scan.ok else ""
        if scan is not None and scan.status is ToolStatus.NO_DATA:
            lines.append(f"I found no metric data for {scope} in {window}: {scan.summary}.")
        else:
            deps = " and its dependencies" if named and len(plan.scope) > len(named) else ""
            lines.append(f"Nothing abnormal in {scope}{deps} over {window}: every metric is "
                         f"within its normal range{scanned}.")
        if alerts:
            lines.append("Alerts firing nonetheless:")
            lines += _bullets(alerts)
        lines += _not_checked(by_tool.get("incident_context"))
        answer.findings = alerts + [f for f in findings if f.kind == "log_errors"]
        return lead_lines(focus, anomalies, changes, [], topology, plan.start) + lines

    context = by_tool.get("incident_context")
    if context is not None:
        answer.root_causes = _ranked_causes(findings)
    else:
        answer.root_causes = [
            RootCause(c.service, c.metric, c.score, "; ".join(c.reasons), c.evidence)
            for c in rank_root_causes(findings, topology)
        ]
    lines += lead_lines(focus, anomalies, changes, answer.root_causes, topology,
                        plan.start)
    sick = sorted({f.service for f in anomalies})
    if named and not any(s in sick for s in named):
        head = (f"{scope} itself looks normal over {window}, but services it depends on do not "
                f"({', '.join(sick)}):")
    elif named:
        head = f"{scope} is not healthy over {window}:"
    else:
        head = f"{len(sick)} services show anomalies over {window} ({', '.join(sick)}):"
    lines.append(head)
    lines += _bullets(sorted(anomalies, key=lambda f: -f.score))
    if answer.root_causes:
        top = answer.root_causes[0]
        lines.append(f"Most likely cause: {top.service}"
                     + (f" ({top.metric.replace('_', ' ')})" if top.metric else "")
                     + f", because {top.reason or 'its anomalies are strongest'}.")
        if len(answer.root_causes) > 1:
            lines.append("Other candidates: " + "; ".join(
                f"{c.service}" + (f" ({c.metric.replace('_', ' ')})" if c.metric else "")
                for c in answer.root_causes[1:]) + ".")
    elif context is not None and context.data.get("note"):
        lines.append(f"No clear root cause stands out ({context.data['note']}).")
    lines += _not_checked(context)
    if context is not None and context.data.get("ranked_without_logs") and answer.root_causes:
        lines.append("The ranking used metrics, changes and alerts only (no log templates).")
    if changes:
        lines.append("Recent changes:")
        lines += _bullets(changes, 3)
    if log_findings:
        lines.append("Logs:")
        lines += _bullets(log_findings, 3)
    if alerts:
        lines.append("Alerts firing:")
        lines += _bullets(alerts, 4)
    knowledge = [f for f in findings if f.kind in ("similar_incident", "runbook")]
    for kind, title in (("similar_incident", "Similar past incidents:"),
                        ("runbook", "Runbooks that may fit:")):
        hits = sorted((f for f in knowledge if f.kind == kind), key=lambda f: -f.score)
        # Only the close ones in the text; the rest stay in the findings.
        close = [f for f in hits if f.score >= 0.6 * hits[0].score] if hits else []
        if close:
            lines.append(title)
            lines += [f"- {f.text}" for f in close[:2]]
    answer.findings = (sorted(anomalies, key=lambda f: -f.score) + log_findings + changes
                       + alerts + knowledge)
    answer.charts = [
        ChartSpec(f"{f.service} {f.metric}", f.service, f.metric or "",
                  plan.start - CHART_HISTORY_S, plan.end, f.evidence[0])
        for f in sorted(anomalies, key=lambda f: -f.score)[:3]
    ]
    return lines


def _ranked_causes(findings: list[Finding]) -> list[RootCause]:
    """The incident context tool's ranking, best first, as the answer's root causes."""
    return [RootCause(f.service, f.metric, f.score, f.detail, f.evidence, f.change)
            for f in findings if f.kind == "root_cause"]


def _changes(answer: Answer, results: list[ToolResult]) -> list[str]:
    """The changes in the window, then which of them line up with trouble happening now."""
    context = next((r for r in results if r.tool == "incident_context"), None)
    listed = [r for r in results if r is not context]
    lines = _listing(answer, listed, "Nothing found.")
    # A changes source that could not be read is said first: the rest cannot mean "nothing".
    unread = [r for r in listed if r.status is ToolStatus.ERROR]
    lines = [f"Could not use {r.tool}: {r.summary}" for r in unread] + lines
    if context is None:
        return lines
    if failure := _metrics_failure(context):
        lines.append(f"I could not check which changes line up with anomalies: {failure}")
    if not context.ok:
        return lines
    causes = _ranked_causes(context.findings)
    answer.root_causes = causes
    answer.findings += [f for f in context.findings if f.kind == "root_cause"]
    linked = [c for c in causes if c.change]
    if linked:
        lines.append("Changes that line up with the current anomalies:")
        lines += [f"- {c.service}: {c.reason}" for c in linked[:3]]
    elif causes and unread:
        lines.append(f"Most likely cause of the current anomalies: {causes[0].service} "
                     f"({causes[0].reason}).")
    elif causes:
        lines.append(f"None of them lines up with the current anomalies; most likely cause: "
                     f"{causes[0].service} ({causes[0].reason}).")
    return lines


def _listing(answer: Answer, results: list[ToolResult], empty: str) -> list[str]:
    findings = [f for r in results for f in r.findings]
    findings.sort(key=lambda f: -f.score)
    answer.findings = findings
    if not findings:
        said = [r.summary for r in results if r.status is not ToolStatus.ERROR]
        if said or not results:
            return said or [empty]
        return []  # every tool failed: "nothing found" would claim a look; the failures speak
    head = [r.summary[0].upper() + r.summary[1:] + ":" for r in results if r.ok]
    return head + _bullets(findings, 8)


def _alerts(answer: Answer, results: list[ToolResult]) -> list[str]:
    """Firing alerts by group of related alerts (largest first), each with why it was joined."""
    lines = _listing(answer, results, "No alerts firing.")
    groups = [ev for r in results for ev in r.evidence if ev.id.startswith("alert-group:")]
    if len(groups) < 2 and not any(len(ev.values.get("joined because", [])) for ev in groups):
        return lines
    findings = [f for r in results for f in r.findings]
    answer.findings = findings
    lines = [r.summary[0].upper() + r.summary[1:] + ":" for r in results if r.ok]
    for n, ev in enumerate(groups[:4], 1):
        members = [f for f in findings if ev.id in f.evidence]
        lines.append(f"Group {n}: {ev.summary}")
        lines += [f"  - {f.text}" for f in members[:4]]
        if len(members) > 4:  # names only: every alert stays visible without a made-up count
            alert = {e.id: e.values for e in answer.evidence}
            lines.append("  - also: " + ", ".join(
                f"{alert[f.evidence[0]]['name']} on {f.service}" for f in members[4:]))
        why = ev.values.get("joined because", [])
        if why:
            shown = next((w for w in why if " call" in w), why[0])  # across services first
            lines.append(f"  joined because: {shown}" + ("; …" if len(why) > 1 else ""))
    if len(groups) > 4:
        lines.append(f"- and {len(groups) - 4} more groups (see findings)")
    return lines


def _logs(answer: Answer, results: list[ToolResult]) -> list[str]:
    lines = _listing(answer, results, "No matching log lines.")
    for r in results:
        for ev in r.evidence:
            v = ev.values
            if "top1_template" in v and not any(f.kind == "log_errors" and ev.id in f.evidence
                                                for f in answer.findings):
                lines.append(f"- {ev.summary}; most common: \"{v['top1_template']}\" "
                             f"({v['top1_count']} times, last at {v['top1_last']})")
    return lines


def _runbooks(answer: Answer, results: list[ToolResult]) -> list[str]:
    """The written runbooks that fit, then the executable ones: each with its dry-run plan and
    how to request it (it runs only once approved)."""
    proposed = next((r for r in results if r.tool == "propose_runbooks"), None)
    changes = next((r for r in results if r.tool == "recent_changes"), None)
    lines = _listing(answer, [r for r in results if r not in (proposed, changes)],
                     "No runbook found.")
    if changes is not None:
        lines += _rollback_target(answer, changes)
    if proposed is None or proposed.status is not ToolStatus.NEEDS_APPROVAL:
        return lines
    answer.findings += proposed.findings
    plans = {e.id: e for e in proposed.evidence}
    lines.append("Executable runbooks (they run only after approval):")
    for f, p in zip(proposed.findings, proposed.data["proposals"], strict=True):
        ev = plans[f.evidence[0]]
        lines.append(f"- {f.text}; needs {ev.values['approvals']}")
        lines += [f"    {step}" for step in ev.summary.splitlines()[:4]]
        if p["missing"]:
            continue
        pairs = [f"{k}={v}" for k, v in p["params"].items()]
        slack = " ".join(["/ops runbook run", p["runbook"], *pairs])
        cli = " ".join(["opscopilot runbook request", p["runbook"],
                        *(f"--param {pair}" for pair in pairs)])
        lines.append(f"  request it: `{slack}` in Slack, or `{cli}`")
    return lines


def _rollback_target(answer: Answer, changes: ToolResult) -> list[str]:
    """ "Roll back to which version?": per service, its last deploy and the version before it."""
    lines, seen = [], set()
    evidence = {e.id: e.values for e in changes.evidence}
    for f in changes.findings:  # newest first
        v = evidence.get(f.evidence[0], {}) if f.evidence else {}
        if v.get("kind") != "deploy" or not v.get("previous_version") or f.service in seen:
            continue
        seen.add(f.service)
        answer.findings.append(f)
        lines.append(f"Rolling back {f.service} returns it to {v['previous_version']}, the "
                     f"version before its last {f.text}.")
    return lines


def _knowledge_lists(answer: Answer) -> None:
    """Fill similar_incidents and runbooks from the knowledge tools' findings and evidence."""
    evidence = {e.id: e for e in answer.evidence}
    for f in answer.findings:
        ev = evidence.get(f.evidence[0]) if f.evidence else None
        if ev is None:
            continue
        if f.kind == "similar_incident":
            answer.similar_incidents.append(SimilarIncident(
                str(ev.values.get("id", "")), str(ev.values.get("title", "")), f.score,
                ev.link, ev.summary))
        elif f.kind == "runbook":
            answer.runbooks.append(RunbookSuggestion(
                str(ev.values.get("id", "")), f.score, str(ev.values.get("title", "")),
                str(ev.values["runbook"]) if ev.values.get("runbook") else None))


def compose(question_text: str, intent: str, route_confidence: float, plan: Plan,
            results: list[ToolResult], topology: TopologySource,
            focus: Focus | None = None) -> Answer:
    answer = Answer(question=question_text, intent=intent, summary="",
                    services=plan.services, window=(plan.start, plan.end))
    for call, result in zip(plan.calls, results, strict=True):
        answer.add_result(call.args, result)

    if intent == "help":
        lines = [HELP_TEXT]
    elif intent == "out_of_scope":
        lines = [OUT_OF_SCOPE_TEXT]
    elif plan.note and not plan.calls:
        lines = [plan.note]
    elif intent == "investigate":
        lines = _investigate(answer, plan, results, topology, focus)
    elif intent == "logs":
        lines = _logs(answer, results)
    elif intent == "changes":
        lines = _changes(answer, results)
    elif intent == "alerts":
        lines = _alerts(answer, results)
    elif intent == "metrics":
        lines = _listing(answer, results, "No metric data for that window.")
        answer.charts = [
            ChartSpec(f"{f.service} {f.metric}", f.service, f.metric or "",
                      plan.start - CHART_HISTORY_S, plan.end, f.evidence[0])
            for f in answer.findings[:3] if f.metric and f.evidence
        ]
    elif intent == "runbook":
        lines = _runbooks(answer, results)
    else:
        lines = _listing(answer, results, "Nothing found.")
    lines += [p for p in _problems(results) if p not in lines]  # a composer may lead with one
    lines += _kb_note(results, lines)
    _knowledge_lists(answer)
    answer.summary = "\n".join(lines)

    strength = max((c.score for c in answer.root_causes), default=0.6)
    ok_share = (sum(r.status is not ToolStatus.ERROR for r in results) / len(results)
                if results else 1.0)
    answer.confidence = route_confidence * (0.5 + 0.5 * strength) * ok_share
    return answer
