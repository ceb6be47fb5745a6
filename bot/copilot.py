"""The transport-neutral core: `Copilot.answer(question) -> Answer`.

route (intent + entities) -> plan (tool calls) -> gather (registry runs the tools) -> compose.
Adapters (CLI, Slack, evals) build the `Question`, keep a `Conversation` per thread for
follow-ups, and render the `Answer`. A question that cannot be understood raises `QuestionError`
(from bot.entities) with a one-line message for the person who asked.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field, replace

from bot.answer import Answer, Question
from bot.composer import compose
from bot.focus import question_focus
from bot.intents import intent_spec
from bot.planner import enrichment_calls, incident_context, make_plan
from bot.router import Route, Router
from bot.timewindow import find_comparison
from infra import telemetry
from infra.settings import Settings
from infra.tracing import answer_span
from tools.backends import TopologySource
from tools.backends.health import one_answer
from tools.base import ToolRegistry

log = logging.getLogger(__name__)

# Words that make a question lean on the one before it ("and its logs?", "what about there?").
_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|that|those|them|they|there|same|also|again|this service|that service|"
    r"what about|how about|and)\b", re.IGNORECASE)


# A request to act, by the verbs of the executable runbooks (knowledge/runbooks/library: clear,
# drain, fail over, flush, raise, restart, roll back, rotate, scale, toggle) and their usual
# synonyms: "restart payment pls", "raise pool size payment", "is it safe to raise the pool?"
# ask for a runbook (its plan, risk and approval), not a reading.
_ACTION = re.compile(
    r"^\s*(?:(?:pls|please|can you|could you|can we|can i|let'?s|we should|should we|"
    r"should i|is it (?:safe|ok) to|ok to|go)\s+)*"
    r"(?:clear|drain|fail ?over|flush|raise|restart|roll ?back|rotate|scale(?: out| up)?|"
    r"toggle|revert|reboot|redeploy)\b", re.IGNORECASE)


@dataclass
class Conversation:
    """What a thread has been about, so a follow-up can leave the service unsaid."""

    services: list[str] = field(default_factory=list)
    window: tuple[int, int] | None = None
    turns: int = 0
    incident_query: str = ""  # the last investigation's findings in words, for "seen this before?"
    incident_services: list[str] = field(default_factory=list)  # its suspects, for the same
    incident_label: str = ""  # set when a declared incident gave them: "incident INC-..."


class Copilot:
    def __init__(self, router: Router, registry: ToolRegistry, topology: TopologySource,
                 settings: Settings) -> None:
        self.router = router
        self.registry = registry
        self.topology = topology
        self.settings = settings

    @one_answer  # a backend that fails is asked once per answer (tools/backends/health.py)
    @answer_span  # a trace per answer, a child span per tool call (infra/tracing.py)
    def answer(self, question: Question, conversation: Conversation | None = None) -> Answer:
        started = time.perf_counter()
        question = question.redacted()
        now = int(question.time.timestamp())
        route = self._settle(self.router.route(question.text, question.time), question.text)
        if route.intent == "investigate" and route.entities.metrics \
                and find_comparison(question.text, question.time) is not None:
            # "checkout errors vs an hour ago" compares a metric: a metrics question.
            route = replace(route, intent="metrics")
        elif route.intent == "metrics" and (hunch := question_focus(
                question.text, list(route.entities.services))) and hunch.kind == "hypothesis":
            # "is recommendation cpu bound?" asks for a verdict on a cause, not a reading.
            route = replace(route, intent="investigate")
        ents = route.entities
        services = list(ents.services)
        follow_up = False
        if (not services and conversation is not None and conversation.services
                and intent_spec(route.intent).follows_thread and _FOLLOW_UP.search(question.text)):
            services = list(conversation.services)
            follow_up = True
        elif (not services and conversation is not None and conversation.incident_services
              and route.intent in ("similar_incidents", "runbook")):
            # "Have we seen this before?" in a thread: past incidents of the incident's suspects
            # first (not of whatever the last question was about).
            services = list(conversation.incident_services)
            follow_up = True

        context_query = conversation.incident_query if conversation else ""
        about_now = ""
        default_start = now - 60 * self.settings.router.default_window_minutes
        unsure = route.confidence < self.settings.router.min_confidence and route.intent != "help"
        if not unsure and not services and not context_query \
                and route.intent in ("similar_incidents", "runbook", "traces"):
            # Outside a thread, "have we seen this before?", "what should I do?" and "top 5
            # slowest endpoints" mean the incident in front of you: what is abnormal right now,
            # and its suspects.
            context_query, services = self._current_incident(default_start, now)
            if route.intent == "traces":
                services = services[:1]  # traces through the top suspect
            if services:
                about_now = f"(about the current incident: {', '.join(services)})\n"
        elif not unsure and services and not context_query \
                and route.intent in ("similar_incidents", "runbook"):
            # "has payment done this before?" while payment is a suspect of the live incident:
            # match past incidents on the incident's symptoms too, not on the words alone.
            query, suspects = self._current_incident(default_start, now)
            if set(services) & set(suspects):
                context_query = query

        # "error rate vs yesterday": now against the same moment then, not yesterday's window.
        compared = find_comparison(question.text, question.time) \
            if route.intent == "metrics" else None
        if compared is not None:
            start, end = default_start, now
        elif ents.window is not None:
            start, end = int(ents.window.start.timestamp()), int(ents.window.end.timestamp())
            end = min(end, now)
        elif follow_up and conversation is not None and conversation.window is not None:
            start, end = conversation.window
        else:
            start, end = default_start, now

        focus = question_focus(question.text, services) if route.intent == "investigate" \
            else None
        if unsure:
            answer = self._unsure(question, route)
        else:
            # "Is it the db?" is answered by looking everywhere, then judging the db.
            scope = [] if focus and focus.kind == "hypothesis" else services
            plan = make_plan(
                route.intent, scope, list(ents.metrics), start, end,
                set(self.registry.names()), self.topology, window_given=ents.window is not None,
                log_level=ents.log_level, keywords=list(ents.keywords), question=question.text,
                context_query=context_query or None,
            )
            if compared is not None:
                for call in plan.calls:
                    if call.tool == "query_metrics":
                        call.args |= {"compare_offset": compared.offset_s,
                                      "compare_label": compared.label}
            results = [self.registry.run(c.tool, c.args) for c in plan.calls]
            if route.intent == "investigate":
                extra, incident_query = enrichment_calls(
                    [f for r in results for f in r.findings], self.topology,
                    set(self.registry.names()))
                plan.calls += extra
                results += [self.registry.run(c.tool, c.args) for c in extra]
                if conversation is not None and incident_query:
                    conversation.incident_query = incident_query
                    conversation.incident_services = next(
                        (list(c.args.get("services", [])) for c in extra
                         if c.tool == "search_incidents"), [])
            for call, result in zip(plan.calls, results, strict=True):
                log.info("tool %s %s -> %s (%.0f ms)", call.tool, call.args, result.status.value,
                         result.duration_ms)
            answer = compose(question.text, route.intent, route.confidence, plan, results,
                             self.topology, focus)
            if follow_up:
                source = (conversation.incident_label if conversation and services
                          == conversation.incident_services and conversation.incident_label
                          else "from earlier in this thread")
                answer.summary = f"(about {', '.join(services)}, {source})\n" + answer.summary
            elif about_now:
                answer.summary = about_now + answer.summary
        if conversation is not None:
            conversation.turns += 1
            if answer.services:
                conversation.services = list(answer.services)
            if answer.window:
                conversation.window = answer.window
        answer.latency_ms = (time.perf_counter() - started) * 1000
        telemetry.record_answer(answer.intent, answer.latency_ms / 1000,
                                [c.status for c in answer.tool_calls], unsure)
        return answer

    def _current_incident(self, start: int, now: int) -> tuple[str, list[str]]:
        """What is wrong right now in words, and its suspects; ("", []) when nothing is."""
        if "incident_context" not in self.registry.names():
            return "", []
        result = self.registry.run("incident_context", {"services": [], "start": start,
                                                        "end": now})
        if not result.ok:
            return "", []
        return incident_context(result.findings, self.topology)

    def _settle(self, route: Route, text: str) -> Route:
        """A fragment the classifier is unsure of ("frontend error % rn", "OOM stuff") is still
        about what it names: a metric is a metrics question, a service alone an investigation;
        a terse question about the incident ("start time?") an investigation; a request to act
        ("raise pool size payment") a runbook question."""
        ents = route.entities
        floor = self.settings.router.min_confidence
        if route.intent != "runbook" and _ACTION.search(text):
            return replace(route, intent="runbook", confidence=max(route.confidence, floor))
        if route.intent == "help" and (ents.services or question_focus(text, []) is not None):
            # "can you check redis", "recap pls": help about a named service, or a question
            # about the incident, is a look at it
            return replace(route, intent="investigate")
        unsure = route.confidence < floor
        vague = route.intent in ("help", "out_of_scope") and route.confidence < 0.5
        if not (unsure or vague):
            return route
        if question_focus(text, list(ents.services)) is not None:
            # "start time?", "blast radius": a question about the incident, however terse.
            return replace(route, intent="investigate", confidence=max(route.confidence, floor))
        if not (ents.metrics or ents.services):
            return route
        intent = "metrics" if ents.metrics else "investigate"
        return replace(route, intent=intent, confidence=max(route.confidence, floor))

    def _unsure(self, question: Question, route: Route) -> Answer:
        options = ", ".join(intent for intent, _ in route.alternatives)
        text = (f"I am not sure what you are asking (my best guesses: {options}). Try naming a "
                "service and what you want to know, e.g. 'what is wrong with checkout?' or "
                "'error logs of payment in the last hour'; 'help' lists more.")
        return Answer(question=question.text, intent=route.intent, summary=text,
                      confidence=route.confidence)
