"""`opscopilot kb ...`: ingest postmortems and runbooks, search them, show stats, seed the demo.

Mounted by `bot.cli` with `app.add_typer(kb_app, name="kb")`. chromadb and the embedding model
are imported inside commands. Input a person can fix (a missing path, a bad date, a store built
with another model) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import UsageError, err, escape, out, user_errors

if TYPE_CHECKING:
    from knowledge.kb import KnowledgeBase

kb_app = typer.Typer(no_args_is_help=True,
                     help="The knowledge base: past incidents and runbooks.")

UrlOpt = Annotated[str | None, typer.Option(
    "--chroma-url", help="Chroma server URL (default: $OPSCOPILOT_KB__CHROMA_URL, else the "
                         "embedded store under the data dir)")]


def _kb(url: str | None) -> KnowledgeBase:
    from infra.settings import load_settings
    from knowledge.kb import KnowledgeBase

    return KnowledgeBase.from_settings(load_settings(), url=url)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r}: expected a date like 2026-03-31") from None


def _ingest(kb: KnowledgeBase, docs: list, skipped: list[tuple[str, str]]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                  transient=True, disable=len(docs) < 50) as bar:
        task = bar.add_task("ingesting", total=len(docs))
        report = kb.ingest(docs, progress=lambda done, _: bar.update(task, completed=done))
    report.skipped = skipped + report.skipped
    for source, reason in report.skipped:
        err.print(f"[yellow]skipped[/yellow] {escape(f'{source}: {reason}')}")
    out.print(f"{report.summary()} ({kb.store.location})", markup=False)
    if report.skipped and not (report.written or report.unchanged):
        raise typer.Exit(2)


@kb_app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (.md, .json, .csv)")],
    kind: Annotated[str, typer.Option("--kind", help="postmortem, runbook or auto")] = "auto",
    chroma_url: UrlOpt = None,
) -> None:
    """Add or update postmortems and runbooks; unchanged documents are left alone."""
    from knowledge.ingest import collect

    with user_errors():
        if kind not in ("postmortem", "runbook", "auto"):
            raise UsageError(f"--kind {kind!r}: use postmortem, runbook or auto")
        docs, skipped = collect(paths, kind)
        _ingest(_kb(chroma_url), docs, skipped)


@kb_app.command()
def seed(
    history_seed: Annotated[int, typer.Option("--seed", help="seed of the sandbox history")] = 7,
    chroma_url: UrlOpt = None,
) -> None:
    """Build the demo knowledge base: the sandbox incident history and the shop runbooks."""
    from knowledge.corpus import demo_documents

    with user_errors():
        _ingest(_kb(chroma_url), demo_documents(history_seed), [])


@kb_app.command()
def search(
    query: Annotated[str, typer.Argument(help="symptoms, an error message or a question")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="how many documents")] = 5,
    service: Annotated[list[str] | None, typer.Option(
        "--service", help="only documents about this service (repeatable)")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="postmortem or runbook")] = None,
    severity: Annotated[list[str] | None, typer.Option(
        "--severity", help="sev1..sev4 (repeatable)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="from this date (YYYY-MM-DD)")]
    = None,
    until: Annotated[str | None, typer.Option("--until", help="up to this date (YYYY-MM-DD)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    chroma_url: UrlOpt = None,
) -> None:
    """Hybrid (vector + keyword) search, one hit per document with its best passage."""
    from knowledge.documents import KINDS
    from knowledge.search import SearchFilter

    with user_errors():
        if kind is not None and kind not in KINDS:
            raise UsageError(f"--kind {kind!r}: use postmortem or runbook")
        if not query.strip():
            raise UsageError("the query is empty")
        filt = SearchFilter(
            services=tuple(s.lower() for s in service or ()), kinds=(kind,) if kind else (),
            severities=tuple(s.lower() for s in severity or ()),
            date_from=_date(since, "--since"), date_to=_date(until, "--until"))
        kb = _kb(chroma_url)
        hits = kb.search(query, k, filt)
        empty = not hits and kb.is_empty()
    if as_json:
        print(json.dumps([{key: h.to_dict()[key] for key in
                           ("id", "title", "kind", "score", "passage", "source")}
                          for h in hits], indent=2))
        return
    if empty:
        err.print("the knowledge base is empty: run `opscopilot kb seed` or `kb ingest PATH`")
        return
    if not hits:
        out.print("no matching documents")
        return
    for i, hit in enumerate(hits, 1):
        when = f" {hit.metadata['date']}" if hit.metadata.get("date") else ""
        out.print(f"[bold]{i}. {escape(hit.id)}[/bold] [dim]{escape(hit.kind + when)} score "
                  f"{hit.score:.2f}[/dim]  {escape(hit.title)}")
        out.print(f"   [dim]{escape(hit.section)}:[/dim] "
                  f"{escape(' '.join(hit.passage.split())[:300])}")


@kb_app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    chroma_url: UrlOpt = None,
) -> None:
    """What the knowledge base holds."""
    with user_errors():
        info = _kb(chroma_url).store.stats()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    kinds = ", ".join(f"{n} {k}s" for k, n in info["by_kind"].items()) or "nothing"
    out.print(f"{info['location']}: {info['documents']} documents ({kinds}), "
              f"{info['chunks']} chunks, model {info['model']}", markup=False)
    if info["first_date"]:
        out.print(f"incidents from {info['first_date']} to {info['last_date']}", markup=False)
    if info["services"]:
        out.print("services: " + ", ".join(f"{s} ({n})" for s, n in info["services"].items()),
                  markup=False)
