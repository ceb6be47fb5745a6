"""The MCP prompts: the common on-call questions, each a user message that asks the assistant to
investigate with opscopilot's tools and to stay within its safety rules."""

from __future__ import annotations

from dataclasses import dataclass


class PromptError(ValueError):
    """An unknown prompt or a missing required argument; one line."""


@dataclass(frozen=True)
class PromptArg:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    question: str  # with {argument} placeholders
    args: tuple[PromptArg, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()


_SERVICE = PromptArg("service", "the service, e.g. checkout")

PROMPTS = (
    PromptSpec("whats_wrong", "Is anything broken right now, or with one service?",
               "what is wrong with {service}?", (_SERVICE,), (("service", "our systems"),)),
    PromptSpec("what_changed", "Deploys and config changes in a time window.",
               "what changed in the {window}?",
               (PromptArg("window", "e.g. last 3 hours (the default)"),),
               (("window", "last 3 hours"),)),
    PromptSpec("firing_alerts", "The alerts firing now, grouped by service.",
               "which alerts are firing?"),
    PromptSpec("error_logs", "The error logs of a service and their new templates.",
               "show me the error logs of {service}",
               (PromptArg("service", "the service, e.g. checkout", required=True),)),
    PromptSpec("seen_before", "Past incidents like the current one, with their resolutions.",
               "have we seen {symptom} before?",
               (PromptArg("symptom", "what is happening, e.g. checkout errors after a deploy"),),
               (("symptom", "this"),)),
    PromptSpec("capacity", "Which resources will run out soon.",
               "will {service} run out of capacity soon?", (_SERVICE,),
               (("service", "anything"),)),
)

SCENARIO = PromptArg("scenario", "sandbox scenario to investigate (default: the server's)")


def arguments(spec: PromptSpec) -> tuple[PromptArg, ...]:
    return (*spec.args, SCENARIO)


_GUIDE = ("Use the opscopilot `investigate` tool with the question {question!r}{scenario}. "
          "Report what it found, the most likely root causes with the evidence and the exact "
          "queries behind each number, and say what is unknown. Do not make up numbers. "
          "Nothing may be changed: if a runbook would help, name it; call `request_runbook` "
          "only when asked to, and say that the request waits for approval.")


def render(name: str, args: dict[str, str]) -> tuple[PromptSpec, str]:
    spec = next((p for p in PROMPTS if p.name == name), None)
    if spec is None:
        raise PromptError(f"no prompt named {name!r} (known: "
                          f"{', '.join(p.name for p in PROMPTS)})")
    known = {a.name for a in arguments(spec)}
    if extra := sorted(set(args) - known):
        raise PromptError(f"prompt {name}: unknown argument {', '.join(extra)}")
    values = dict(spec.defaults) | {k: v.strip() for k, v in args.items() if v.strip()}
    for arg in spec.args:
        if arg.required and arg.name not in values:
            raise PromptError(f"prompt {name} needs the argument {arg.name!r} "
                              f"({arg.description})")
    question = spec.question.format(**{a.name: values.get(a.name, "") for a in spec.args})
    scenario = values.get("scenario")
    return spec, _GUIDE.format(question=question,
                               scenario=f" and scenario {scenario!r}" if scenario else "")
