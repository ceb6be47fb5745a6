"""The sandbox shop's incident history: ~40 past postmortems, deterministic for a seed.

`generate_history(seed, end)` words the facts in `knowledge.history_specs` as postmortems with
front matter and Summary / Impact / Timeline / Root cause / Resolution / Action items sections,
dated over the year before `end`. `write_history(folder)` writes them as Markdown files, the
format `kb ingest` reads; `python -m knowledge.history OUT_DIR` does the same from a shell.
"""

from __future__ import annotations

import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from knowledge.documents import Document
from knowledge.history_specs import SPECS, IncidentSpec

DEFAULT_SEED = 7

_DETECTED = (
    "{alert} paged the on-call engineer at {t}.",
    "The on-call engineer was paged by {alert} at {t}.",
    "{alert} fired at {t}; a customer report arrived a few minutes later.",
    "At {t} {alert} started firing and the incident channel was opened.",
)
_SUMMARY = (
    "On {day}, {symptom}. The cause: {cause}. We {fix}.",
    "For {minutes} minutes on {day}, {symptom}. It turned out that {cause}. "
    "The team {fix}.",
    "{Symptom} on {day}, for about {minutes} minutes. Root cause: {cause}. Mitigation: we {fix}.",
)
_IMPACT = (
    "About {pct}% of requests to {service} failed or timed out for {minutes} minutes; "
    "{orders} orders were affected.",
    "{service} was degraded for {minutes} minutes. Error rate peaked at {pct}% and roughly "
    "{orders} customer orders were delayed or lost.",
    "Customer-facing impact lasted {minutes} minutes: {pct}% of {service} requests were affected "
    "(about {orders} orders).",
)
_FAULT_WORDS = {
    "cpu_hog": ("CPU saturation", "checked CPU usage and throttling per pod"),
    "memory_leak": ("memory growth", "looked at the memory graph and container restarts"),
    "latency_injection": ("added latency", "compared p99 latency before and after the change"),
    "network_delay": ("network latency", "measured round-trip times between the services"),
    "disk_full": ("a full disk", "checked volume usage on the affected hosts"),
    "bad_deploy": ("a bad deploy", "lined the error spike up with the deploy history"),
    "dependency_down": ("an unavailable dependency", "checked the dependency's status page"),
    "connection_pool_exhaustion": ("connection pool exhaustion",
                                   "looked at pool usage and waiting threads"),
    "certificate_expiry": ("an expired certificate", "inspected the certificate dates with "
                           "openssl s_client"),
}
_GENERIC_ACTIONS = {
    "cpu_hog": "set CPU requests and limits from measured usage",
    "memory_leak": "capture a heap profile automatically before an OOM kill",
    "latency_injection": "add a p99 latency SLO alert per endpoint",
    "network_delay": "add per-dependency latency panels to the service dashboard",
    "disk_full": "alert on disk usage forecast (full within 24 h)",
    "bad_deploy": "canary every release at 5% for 15 minutes with automatic rollback",
    "dependency_down": "document the fallback in the service runbook",
    "connection_pool_exhaustion": "export pool in-use and wait-time metrics",
    "certificate_expiry": "inventory every certificate with its expiry date",
}
_RUNBOOK = {
    "cpu_hog": "runbook-cpu-saturation", "memory_leak": "runbook-memory-leak",
    "latency_injection": "runbook-high-latency", "network_delay": "runbook-high-latency",
    "disk_full": "runbook-clear-disk", "bad_deploy": "runbook-roll-back-a-deploy",
    "dependency_down": "runbook-dependency-down",
    "connection_pool_exhaustion": "runbook-raise-connection-pool",
    "certificate_expiry": "runbook-rotate-certificate",
}


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def _severity(rng: random.Random, spec: IncidentSpec) -> str:
    if spec.service in ("checkout", "payment", "frontend", "postgres") or spec.fault in (
            "bad_deploy", "certificate_expiry", "dependency_down"):
        return rng.choice(("sev1", "sev2", "sev2"))
    return rng.choice(("sev2", "sev3", "sev3"))


def _timeline(rng: random.Random, spec: IncidentSpec, start: datetime, minutes: int) -> str:
    def at(offset: int) -> str:
        return (start + timedelta(minutes=offset)).strftime("%H:%M")

    ack = rng.randint(2, 6)
    found = rng.randint(ack + 5, max(ack + 6, minutes // 2))
    what, how = _FAULT_WORDS[spec.fault]
    lines = [
        f"- {at(0)} {rng.choice(_DETECTED).format(alert=spec.alert, t=at(0))}",
        f"- {at(ack)} Incident acknowledged; {spec.service} dashboards opened.",
        f"- {at(ack + 2)} Responders {how}.",
        f"- {at(found)} Identified {what} in {spec.service} as the likely cause.",
        f"- {at(found + 3)} Mitigation started: {spec.fix.split(',')[0]}.",
        f"- {at(minutes)} Metrics back to normal; incident resolved.",
    ]
    return "\n".join(lines)


def _document(rng: random.Random, spec: IncidentSpec, day: date) -> Document:
    minutes = rng.randint(18, 150)
    start = datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59))
    values = {
        "day": day.strftime("%d %B %Y").lstrip("0"), "symptom": spec.symptom,
        "Symptom": spec.symptom[0].upper() + spec.symptom[1:], "cause": spec.cause,
        "fix": spec.fix, "minutes": minutes, "service": spec.service,
        "pct": rng.choice((3, 8, 12, 18, 25, 40, 65)), "orders": rng.randint(40, 4000),
    }
    actions = [spec.action, _GENERIC_ACTIONS[spec.fault]]
    if rng.random() < 0.5:
        actions.append(f"link the {_RUNBOOK[spec.fault].removeprefix('runbook-')} runbook "
                       f"from the {spec.alert} alert")
    body = "\n\n".join([
        "## Summary", rng.choice(_SUMMARY).format(**values),
        "## Impact", _sentence(rng.choice(_IMPACT).format(**values)),
        "## Timeline", _timeline(rng, spec, start, minutes),
        "## Root cause", spec.cause[0].upper() + spec.cause[1:] + ".",
        "## Resolution", "We " + spec.fix + ".",
        "## Action items", "\n".join(f"- [ ] {a}" for a in actions),
    ])
    return Document(
        id=spec.id, kind="postmortem", title=spec.title, body=body,
        source=f"sandbox-history/{spec.id}.md", date=day, severity=_severity(rng, spec),
        services=[spec.service, *spec.also], alerts=[spec.alert],
        root_cause=spec.cause[0].upper() + spec.cause[1:] + ".",
        resolution="We " + spec.fix + ".", action_items=actions,
        tags=[spec.fault, _RUNBOOK[spec.fault]],
    )


# The sandbox scenarios' day (tools/sandbox/scenario.py DEFAULT_START): the shop's history is the
# year before it, the same text on every machine and every day it is generated.
DEFAULT_END = date(2026, 11, 20)


def generate_history(seed: int = DEFAULT_SEED, end: date | None = None) -> list[Document]:
    """The shop's past postmortems, oldest first; the same seed and end give the same text."""
    rng = random.Random(seed)
    end = end or DEFAULT_END
    offsets = sorted(rng.sample(range(3, 365), len(SPECS)), reverse=True)
    order = list(SPECS)
    rng.shuffle(order)
    docs = [_document(rng, spec, end - timedelta(days=offset))
            for spec, offset in zip(order, offsets, strict=True)]
    return sorted(docs, key=lambda d: (d.date, d.id))


def to_markdown(doc: Document) -> str:
    """A postmortem as Markdown with YAML front matter, the format `kb ingest` reads."""
    meta = {
        "id": doc.id, "title": doc.title, "date": doc.date, "severity": doc.severity,
        "services": doc.services, "alerts": doc.alerts, "root_cause": doc.root_cause,
        "resolution": doc.resolution, "action_items": doc.action_items, "tags": doc.tags,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n\n# {doc.title}\n\n{doc.body}\n"


def write_history(folder: Path, seed: int = DEFAULT_SEED, end: date | None = None) -> list[Path]:
    """Write every postmortem as `<id>.md` under `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in generate_history(seed, end):
        path = folder / f"{doc.id}.md"
        path.write_text(to_markdown(doc), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "sandbox-history")
    print(f"wrote {len(write_history(out))} postmortems to {out}")
