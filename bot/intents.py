"""The intents the copilot answers, in one list: what each may call and how questions of that
kind are treated. The router's labels (bot/data/utterances.yaml must use these names), the
planner, the copilot, the answer log and LLM mode all read this list; adding an intent starts
here. How each intent plans and composes is `bot.planner.make_plan` and `bot.composer.compose`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intent:
    name: str
    tools: tuple[str, ...] = ()  # what it calls; the first is the one it cannot do without
    missing: str = ""  # said when that first tool is not configured
    about_systems: bool = True  # False: an unknown service or an odd window is not an error
    may_look_ahead: bool = False  # "who is on call next week": a future window is fine
    follows_thread: bool = False  # a follow-up ("and its logs?") reuses the thread's services


INTENTS: tuple[Intent, ...] = (
    Intent("investigate", ("detect_metric_anomalies", "search_logs", "recent_changes",
                           "firing_alerts"), follows_thread=True),
    Intent("metrics", ("query_metrics",), follows_thread=True),
    Intent("logs", ("search_logs",), follows_thread=True),
    Intent("traces", ("search_traces",), "No trace backend is configured, so I cannot look at "
           "traces yet.", follows_thread=True),
    Intent("changes", ("recent_changes",), follows_thread=True),
    Intent("alerts", ("firing_alerts",), follows_thread=True),
    Intent("kubernetes", ("kubernetes_diagnose",), "No Kubernetes cluster is configured "
           "(OPSCOPILOT_KUBERNETES__ENABLED, docs/kubernetes.md), so I cannot look at pods yet.",
           follows_thread=True),
    Intent("similar_incidents", ("search_incidents",), "No knowledge base of past incidents is "
           "configured yet, so I cannot search for similar incidents."),
    Intent("runbook", ("suggest_runbooks",), "No runbook library is configured yet, so I cannot "
           "suggest runbooks."),
    Intent("oncall", ("oncall",), "No on-call schedule is configured yet, so I cannot tell who "
           "is on call.", may_look_ahead=True),
    Intent("help", about_systems=False, may_look_ahead=True),
    Intent("out_of_scope", about_systems=False, may_look_ahead=True),
)
BY_NAME: dict[str, Intent] = {i.name: i for i in INTENTS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def intent_spec(name: str) -> Intent:
    """The intent called `name`; an unknown name is an intent with no tools (nothing to run)."""
    return BY_NAME.get(name) or Intent(name)
