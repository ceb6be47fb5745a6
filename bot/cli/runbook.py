"""`opscopilot runbook ...` and `opscopilot audit ...`: the runbook workflow without Slack.

list | show | plan | propose | request | approve | deny | run | rollback | cancel | status, and
audit verify | show. The acting person is `--as` (default: $USER). Runbooks run against the
sandbox unless OPSCOPILOT_RUNBOOKS__TARGET=production; approvals follow the policy file in
OPSCOPILOT_RUNBOOKS__POLICY_FILE (default: deny everything).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import UsageError, out, user_errors

if TYPE_CHECKING:
    from tools.runbooks.plan import Plan
    from tools.runbooks.service import RunbookService
    from tools.runbooks.views import RequestView, RunResult

runbook_app = typer.Typer(no_args_is_help=True, help="Runbooks: propose, approve, run, audit.")
audit_app = typer.Typer(no_args_is_help=True, help="The append-only audit log.")

ActorOpt = Annotated[str, typer.Option("--as", help="who is acting (default: $USER)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", "-p", help="a parameter as NAME=VALUE (repeat)")]
ScenarioOpt = Annotated[str | None, typer.Option(
    "--scenario", "-s", help="sandbox scenario the runbook acts on (default: settings)")]
_USER = os.environ.get("USER") or "cli"


def mount(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
    app.add_typer(audit_app, name="audit")


@contextmanager
def _errors() -> Iterator[None]:
    from tools.runbooks.errors import RunbookError

    with user_errors():
        try:
            yield
        except RunbookError as exc:
            raise UsageError(str(exc)) from None


def _service(scenario: str | None = None) -> RunbookService:
    from infra.settings import load_settings
    from tools.runbooks.build import build_service

    return build_service(load_settings(), scenario=scenario)


def _params(pairs: list[str] | None) -> dict[str, str]:
    params = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: write NAME=VALUE")
        params[name.strip()] = value
    return params


def _line(text: str) -> None:
    out.print(text, markup=False)


def _lines(texts: list[str]) -> None:
    for text in texts:
        _line(text)


def _show_plan(plan: Plan, needs: str) -> None:
    _line(f"{plan.runbook} v{plan.version}: {plan.title}")
    _line(f"risk: {plan.risk}    target: {plan.target}    approvals: {needs}")
    _line(f"plan hash: {plan.hash}")
    _line("parameters: " + ", ".join(f"{k}={v}" for k, v in plan.params.items()))
    for section in ("steps", "verification", "rollback"):
        steps = plan.section(section)
        if steps:
            _line(f"{section}:")
            for s in steps:
                flag = "" if s.read_only else "  [changes]"
                _line(f"  {s.index + 1}. {s.name}{flag}\n       {s.display()}")


def _show_request(view: RequestView) -> None:
    _line(f"request {view.id}: {view.runbook} ({view.risk}) requested by {view.requester}")
    _line(f"status: {view.status}    approvals: {view.approvals_valid} valid, "
          f"{view.approvals_needed} needed (allowed approvers: "
          f"{', '.join(view.approvers_allowed) or 'none'})")
    for a in view.approvals:
        stage = f" stage {a.stage}" if a.stage else ""
        _line(f"  {a.decision} by {a.approver}{stage}{'' if a.valid else ' (no longer valid)'}")
    _show_plan(view.plan, f"{view.approvals_needed} needed")
    if view.steps:
        _line("results:")
        for o in view.steps:
            _line(f"  {o.section}[{o.index}] {o.name}: {o.status}")


def _show_run(result: RunResult) -> None:
    _line(f"request {result.request_id}: {result.status} ({result.message})")
    for o in result.outcomes:
        _line(f"  [{o.status}] {o.detail}")
        if o.output and o.status != "dry_run":
            _line("      " + o.output.strip().replace("\n", "\n      ")[:1500])


def _emit(data: Any, as_json: bool, show: Any) -> None:
    if as_json:
        _line(json.dumps(data() if callable(data) else data, indent=2, default=str))
    else:
        show()


@runbook_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The runbook library."""
    with _errors():
        from tools.runbooks.loader import RunbookLibrary

        lib = RunbookLibrary.load()
        rows = [{"name": r.name, "risk": r.risk, "title": r.title,
                 "fault_kinds": r.when.fault_kinds, "alerts": r.when.alerts} for r in lib]
        _emit(rows, as_json, lambda: _lines([f"{r['name']:22} {r['risk']:9} {r['title']}"
                                             for r in rows]))


@runbook_app.command()
def show(name: str, as_json: JsonOpt = False) -> None:
    """One runbook: what it is for, its parameters and steps as written."""
    with _errors():
        from tools.runbooks.loader import RunbookLibrary

        rb = RunbookLibrary.load().get(name)
        data = rb.model_dump(mode="json", by_alias=True)
        _emit(data, as_json, lambda: _line(json.dumps(data, indent=2)))


@runbook_app.command()
def plan(name: str, param: ParamOpt = None, scenario: ScenarioOpt = None,
         as_json: JsonOpt = False) -> None:
    """The dry-run plan: every command and request exactly as it would run."""
    with _errors():
        svc = _service(scenario)
        p = svc.plan(name, _params(param))
        needs = svc.policy.requirement(p.runbook, p.risk).describe()
        _emit(lambda: {**p.to_dict(), "approvals": needs}, as_json, lambda: _show_plan(p, needs))


@runbook_app.command()
def propose(question: Annotated[str, typer.Argument()] = "what is wrong right now?",
            scenario: ScenarioOpt = None, k: int = 3, as_json: JsonOpt = False) -> None:
    """Ask the copilot, then rank runbooks for what it found and show their plans."""
    with _errors():
        from bot.answer import Question
        from bot.app import build_runtime
        from infra.settings import load_settings
        from tools.runbooks.propose import IncidentContext
        from tools.runbooks.propose import propose as rank
        from tools.runbooks.sandbox_target import SandboxWorld

        settings = load_settings()
        runtime = build_runtime(settings, scenario)
        answer = runtime.copilot.answer(Question(question, runtime.default_now()))
        facts = SandboxWorld(runtime.sandbox).facts if runtime.sandbox else None
        svc = _service(scenario)
        proposals = rank(svc.library, IncidentContext.from_answer(answer, facts),
                         svc.target.name, k)

        def show_all() -> None:
            _line(answer.summary.splitlines()[0] if answer.summary else "")
            for i, p in enumerate(proposals, 1):
                _line(f"\n{i}. {p.runbook} (score {p.score:.2f}): {'; '.join(p.reasons)}")
                if p.plan is None:
                    _line(f"   needs parameters: {', '.join(p.missing)}")
                else:
                    _show_plan(p.plan, svc.policy.requirement(p.runbook, p.risk).describe())

        _emit(lambda: [{"runbook": p.runbook, "score": p.score, "reasons": p.reasons,
                        "params": p.params, "missing": p.missing,
                        "plan": p.plan.to_dict() if p.plan else None} for p in proposals],
              as_json, show_all)


@runbook_app.command()
def request(name: str, param: ParamOpt = None, actor: ActorOpt = _USER,
            reason: str = "", incident: str | None = None, as_json: JsonOpt = False) -> None:
    """Ask for a runbook to run; prints the request id and the plan to approve."""
    with _errors():
        view = _service().request(actor, name, _params(param), reason, incident)
        _emit(view.to_dict, as_json, lambda: _show_request(view))


@runbook_app.command()
def approve(request_id: str, actor: ActorOpt = _USER,
            plan_hash: Annotated[str | None, typer.Option(
                help="the plan hash you reviewed (refused if the plan changed)")] = None,
            stage: Annotated[int, typer.Option(help="0: the plan; N: go on after pause N")] = 0,
            comment: str = "", as_json: JsonOpt = False) -> None:
    """Approve a request (bound to its plan hash)."""
    with _errors():
        view = _service().approve(actor, request_id, plan_hash, stage, comment)
        _emit(view.to_dict, as_json, lambda: _show_request(view))


@runbook_app.command()
def deny(request_id: str, actor: ActorOpt = _USER, reason: str = "",
         as_json: JsonOpt = False) -> None:
    """Deny a request; it can then never run."""
    with _errors():
        view = _service().deny(actor, request_id, reason)
        _emit(view.to_dict, as_json, lambda: _show_request(view))


@runbook_app.command()
def run(request_id: str, actor: ActorOpt = _USER,
        key: Annotated[str | None, typer.Option(
            help="idempotency key: the same key never runs twice (default: a new one)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
        scenario: ScenarioOpt = None, as_json: JsonOpt = False) -> None:
    """Run an approved request (or show what would run with --dry-run)."""
    with _errors():
        result = _service(scenario).run(actor, request_id, key or uuid.uuid4().hex, dry_run)
        _emit(result.to_dict, as_json, lambda: _show_run(result))
        if result.status in ("failed", "rollback_failed", "cancelled"):
            raise typer.Exit(1)


@runbook_app.command()
def rollback(request_id: str, actor: ActorOpt = _USER, key: str | None = None,
             scenario: ScenarioOpt = None, as_json: JsonOpt = False) -> None:
    """Run a finished request's rollback steps."""
    with _errors():
        result = _service(scenario).rollback(actor, request_id, key or uuid.uuid4().hex)
        _emit(result.to_dict, as_json, lambda: _show_run(result))


@runbook_app.command()
def cancel(request_id: str, actor: ActorOpt = _USER) -> None:
    """Cancel a request (a running one stops before its next step)."""
    with _errors():
        _show_request(_service().cancel(actor, request_id))


@runbook_app.command()
def status(request_id: Annotated[str | None, typer.Argument()] = None, limit: int = 20,
           as_json: JsonOpt = False) -> None:
    """One request in full, or the latest requests."""
    with _errors():
        svc = _service()
        if request_id:
            view = svc.status(request_id)
            _emit(view.to_dict, as_json, lambda: _show_request(view))
            return
        views = svc.list_requests(limit)
        _emit(lambda: [v.to_dict() for v in views], as_json, lambda: _lines([
            f"{v.id}  {v.status:10} {v.runbook:22} {v.risk:9} by {v.requester}  "
            f"approvals {v.approvals_valid} valid, {v.approvals_needed} needed" for v in views]))


@audit_app.command()
def verify() -> None:
    """Check the keyed chain and its signed checkpoints; exit 1 naming the first bad entry."""
    with _errors():
        from infra.audit import AuditLog
        from infra.settings import load_settings

        result = AuditLog.from_settings(load_settings()).verify()
        if result.ok:
            kind = "unkeyed" if result.unkeyed == result.entries and result.entries else \
                "chain intact"
            _line(f"audit log OK: {result.entries} entries, {kind}, "
                  f"{result.checkpoints} signed checkpoints match")
            for note in result.notes:
                _line(f"note: {note}")
            return
        if result.first_bad is not None:
            _line(f"FAIL first bad entry: {result.first_bad}")
        for problem in result.problems[:20]:
            _line(f"FAIL {problem}")
        if len(result.problems) > 20:
            _line(f"FAIL ... and {len(result.problems) - 20} more problems")
        raise typer.Exit(1)


@audit_app.command("show")
def show_audit(subject: str | None = None, limit: int = 50, as_json: JsonOpt = False) -> None:
    """The latest audit entries (optionally of one subject, e.g. request:ID)."""
    with _errors():
        from dataclasses import asdict

        from infra.audit import AuditLog
        from infra.settings import load_settings

        entries = AuditLog.from_settings(load_settings()).entries(subject, limit)
        _emit([asdict(e) for e in entries], as_json, lambda: _lines([
            f"{e.seq:5} {e.ts[:19]} {e.actor:12} {e.action:18} {e.subject}  "
            f"{json.dumps(e.details, sort_keys=True)[:120]}" for e in entries]))
