"""Turn files into `Document`s: Markdown with YAML front matter, JSON/CSV incident-tool exports,
the public post-mortems list (danluu/post-mortems) and kube-prometheus alert runbooks.

`load_path(path, kind)` walks a file or folder and yields `(path, Document)` or
`(path, DocumentError)` so one bad file never stops an ingest.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from knowledge.documents import (
    Document,
    DocumentError,
    as_date,
    as_list,
    normalise_severity,
    slugify,
)

SUFFIXES = (".md", ".markdown", ".json", ".csv", ".yaml", ".yml")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_PUBLIC_ENTRY = re.compile(r"^\[([^\]]+)\]\((https?://[^)]+)\)\.?\s*(.*)$")
_CAMEL_ALERT = re.compile(r"^[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]*){1,}$")
_SKIP_SECTIONS = ("table of contents", "other lists", "analysis", "contributors")


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body); no front matter gives ({}, text); bad YAML raises DocumentError."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise DocumentError(f"bad front matter{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(meta, dict):
        raise DocumentError("bad front matter: expected key: value pairs")
    return {str(k).lower().replace(" ", "_").replace("-", "_"): v for k, v in meta.items()}, \
        text[match.end():]


def _first_heading(body: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*$", body, re.M)
    return match.group(1).strip() if match else ""


def _guess_kind(meta: dict[str, Any], body: str, path: Path) -> str:
    if str(meta.get("kind", "")).lower() in ("postmortem", "runbook"):
        return str(meta["kind"]).lower()
    if {"alerts", "symptoms", "name"} & meta.keys() or "runbook" in str(path).lower():
        return "runbook"
    if re.search(r"^##\s+(Mitigation|Diagnosis|Meaning)\b", body, re.M | re.I):
        return "runbook"
    return "postmortem"


def markdown_document(text: str, path: Path, kind: str = "auto") -> Document:
    """A Markdown postmortem or runbook; front matter fields override what the body implies."""
    meta, body = parse_front_matter(text)
    doc_kind = _guess_kind(meta, body, path) if kind == "auto" else kind
    heading = _first_heading(body)
    alerts = as_list(meta.get("alerts"))
    tags = as_list(meta.get("tags"))
    # kube-prometheus runbooks: Hugo front matter (title, weight) and '# AlertName' heading.
    # One file per alert, named after it ('# CPU Throttling High' in CPUThrottlingHigh.md).
    is_alert_runbook = (doc_kind == "runbook" and not meta.get("id") and not meta.get("name")
                        and (heading.replace(" ", "") == path.stem
                             or bool(_CAMEL_ALERT.match(heading))))
    if is_alert_runbook and re.fullmatch(r"[A-Za-z0-9]+", path.stem):
        heading = path.stem  # the file name is the alert; a copied heading can be stale
    if is_alert_runbook and not alerts:
        alerts = [heading]
        tags = tags or [path.parent.name]
    if meta.get("id"):
        doc_id = str(meta["id"])
    elif is_alert_runbook:
        doc_id = f"runbook-{heading}"
    elif meta.get("name"):
        doc_id = f"runbook-{slugify(str(meta['name']))}"
    else:
        doc_id = f"{doc_kind}-{slugify(path.stem)}"
    title = str(meta.get("title") or meta.get("name") or heading or path.stem)
    if is_alert_runbook:
        title = heading
    if not body.strip():
        raise DocumentError("empty document: no text after the front matter")
    return Document(
        id=doc_id, kind=doc_kind, title=title, body=body.strip(), source=str(path),  # type: ignore[arg-type]
        date=as_date(meta.get("date")), severity=normalise_severity(meta.get("severity")),
        services=[s.lower() for s in as_list(meta.get("services") or meta.get("service"))],
        alerts=alerts, symptoms=as_list(meta.get("symptoms")),
        root_cause=str(meta.get("root_cause") or "").strip(),
        resolution=str(meta.get("resolution") or "").strip(),
        action_items=as_list(meta.get("action_items")), tags=tags,
    )


def _pick(record: dict[str, Any], *names: str) -> Any:
    for name in names:
        if record.get(name) not in (None, ""):
            return record[name]
    return None


def record_document(record: dict[str, Any], source: str, kind: str = "postmortem") -> Document:
    """One incident from an incident tool's export (PagerDuty/incident.io/Jira-like fields)."""
    rec = {str(k).lower().replace(" ", "_").replace("-", "_"): v for k, v in record.items()}
    title = _pick(rec, "title", "name", "summary")
    if not title:
        raise DocumentError("incident record without a title")
    ident = _pick(rec, "id", "incident_id", "number", "key")
    summary = _pick(rec, "summary", "description", "details") or ""
    parts = [f"## Summary\n\n{summary}"] if summary and summary != title else []
    impact = _pick(rec, "impact", "customer_impact")
    if impact:
        parts.append(f"## Impact\n\n{impact}")
    timeline = _pick(rec, "timeline", "events")
    if timeline:
        if isinstance(timeline, list):
            lines = [f"- {e.get('time', '')} {e.get('text') or e.get('message', '')}".strip()
                     if isinstance(e, dict) else f"- {e}" for e in timeline]
            timeline = "\n".join(lines)
        parts.append(f"## Timeline\n\n{timeline}")
    root_cause = str(_pick(rec, "root_cause", "cause") or "")
    resolution = str(_pick(rec, "resolution", "fix", "remediation") or "")
    if root_cause:
        parts.append(f"## Root cause\n\n{root_cause}")
    if resolution:
        parts.append(f"## Resolution\n\n{resolution}")
    actions = as_list(_pick(rec, "action_items", "follow_ups", "followups"))
    if actions:
        parts.append("## Action items\n\n" + "\n".join(f"- {a}" for a in actions))
    return Document(
        id=str(ident) if ident else f"{kind}-{slugify(str(title))}", kind=kind,  # type: ignore[arg-type]
        title=str(title), body="\n\n".join(parts) or str(title), source=source,
        date=as_date(_pick(rec, "date", "created_at", "started_at", "opened_at")),
        severity=normalise_severity(_pick(rec, "severity", "priority", "sev")),
        services=[s.lower() for s in as_list(_pick(rec, "services", "service",
                                                    "impacted_services"))],
        root_cause=root_cause, resolution=resolution, action_items=actions,
        tags=as_list(rec.get("tags")),
    )


def export_documents(text: str, path: Path, kind: str = "postmortem") -> list[Document]:
    """Every incident of a JSON (a list, or {"incidents": [...]}) or CSV export."""
    if path.suffix.lower() == ".csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(text.splitlines()))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"bad JSON at line {exc.lineno}: {exc.msg}") from None
        if isinstance(data, dict):
            data = _pick(data, "incidents", "items", "data", "results") or [data]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise DocumentError("JSON export must be a list of incident objects")
        rows = data
    if not rows:
        raise DocumentError("export holds no incidents")
    doc_kind = "postmortem" if kind == "auto" else kind
    return [record_document(row, f"{path}#{i}", doc_kind) for i, row in enumerate(rows)]


def looks_like_public_list(text: str) -> bool:
    return sum(1 for line in text.splitlines()[:400] if _PUBLIC_ENTRY.match(line)) >= 10


def public_postmortems(text: str, source: str) -> list[Document]:
    """The danluu/post-mortems list: one document per `[Company](link). summary` paragraph."""
    docs: list[Document] = []
    seen: Counter[str] = Counter()
    category = ""
    for line in text.splitlines():
        if line.startswith("## "):
            category = line[3:].strip()
            continue
        match = _PUBLIC_ENTRY.match(line.strip())
        if not match or not category or category.lower().startswith(_SKIP_SECTIONS):
            continue
        company, link, summary = match.groups()
        if not summary.strip():
            continue
        seen[slugify(company)] += 1
        first = re.split(r"(?<=[.!?])\s", summary.strip(), maxsplit=1)[0]
        docs.append(Document(
            id=f"public-{slugify(company)}-{seen[slugify(company)]}", kind="postmortem",
            title=f"{company}: {first[:120]}", body=summary.strip(), source=link,
            tags=[category.lower()],
        ))
    return docs


def load_file(path: Path, kind: str = "auto") -> list[Document]:
    """The documents in one file; `DocumentError` for a file that cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DocumentError("not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return export_documents(text, path, kind)
    if suffix in (".md", ".markdown"):
        if not text.startswith("---") and looks_like_public_list(text):
            return public_postmortems(text, str(path))
        return [markdown_document(text, path, kind)]
    if suffix in (".yaml", ".yml"):
        return [executable_runbook_document(text, path)]
    raise DocumentError(f"unsupported file type {suffix or '(none)'}: use .md, .json, .csv "
                        "or an executable runbook .yaml")


def _step_line(step: Any) -> str:
    if not isinstance(step, dict):
        raise DocumentError("every step must be a mapping with a name and a kind")
    kind = step.get("kind", "")
    what = {"command": lambda: "`" + " ".join(str(a) for a in step.get("argv") or []) + "`",
            "http": lambda: f"`{step.get('method', 'GET')} {step.get('url', '')}`",
            "promql_check": lambda: f"check `{step.get('query', '')}` {step.get('op', '')} "
                                    f"{step.get('threshold', '')}",
            "notify": lambda: str(step.get("message", "")),
            "pause_for_approval": lambda: "wait for approval"}.get(kind, lambda: str(kind))()
    safe = " (read-only)" if step.get("read_only") else ""
    return f"- {step.get('name', kind)}: {what}{safe}"


def executable_runbook_document(text: str, path: Path) -> Document:
    """An executable runbook (YAML, see docs/runbooks.md) as a searchable document: what it is
    for, and every step exactly as written, so a hit shows what would run."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentError(f"not valid YAML{where}") from None
    if not isinstance(spec, dict) or not spec.get("name") or not isinstance(
            spec.get("steps"), list):
        raise DocumentError("not an executable runbook: expected a mapping with `name` and "
                            "a list of `steps`")
    when = spec.get("when") or {}
    if not isinstance(when, dict):
        raise DocumentError("`when` must be a mapping (fault_kinds, alerts, symptoms, ...)")
    name, risk = str(spec["name"]), str(spec.get("risk", ""))
    purpose = [f"{label}: {', '.join(str(v) for v in as_list(when.get(key)))}."
               for key, label in (("fault_kinds", "Faults"), ("alerts", "Alerts"),
                                  ("symptoms", "Symptoms"), ("keywords", "Keywords"))
               if as_list(when.get(key))]
    body = [str(spec.get("description", "")).strip(), "", "## When to use", "", *purpose, "",
            "## Steps", "", *(_step_line(s) for s in spec["steps"])]
    for section in ("verification", "rollback"):
        if spec.get(section):
            body += ["", f"## {section.capitalize()}", "",
                     *(_step_line(s) for s in spec[section])]
    body += ["", f"Risk: {risk}. Plan it with `opscopilot runbook plan {name}`; it runs only "
                 "once approved as policy says."]
    return Document(
        id=f"runbook-exec-{slugify(name)}", kind="runbook",
        title=str(spec.get("title") or name), body="\n".join(body).strip(), source=str(path),
        services=[str(s).lower() for s in as_list(when.get("services"))],
        alerts=[str(a) for a in as_list(when.get("alerts"))],
        symptoms=[str(v) for v in as_list(when.get("symptoms"))],
        tags=["executable", f"runbook:{name}", f"risk:{risk}",
              *(f"implements:{k}" for k in as_list(when.get("kb_ids"))),
              *(str(f) for f in as_list(when.get("fault_kinds")))],
    )


def iter_files(path: Path) -> Iterator[Path]:
    """The files to ingest under a path: Markdown/JSON/CSV, skipping Hugo `_index.md` pages."""
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        raise FileNotFoundError(2, "no such file or directory", str(path))
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix.lower() in SUFFIXES and file.name != "_index.md" \
                and not any(part.startswith(".") for part in file.relative_to(path).parts):
            yield file


def load_path(path: Path, kind: str = "auto") -> Iterator[tuple[Path, Document | DocumentError]]:
    """Every document under `path`; a bad file yields its `DocumentError` instead."""
    for file in iter_files(path):
        try:
            docs = load_file(file, kind)
        except DocumentError as exc:
            yield file, exc
        except OSError as exc:
            yield file, DocumentError(f"cannot read: {exc.strerror or exc}")
        else:
            for doc in docs:
                yield file, doc
