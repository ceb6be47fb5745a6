"""The shipped corpora: the demo knowledge base (sandbox history + shop runbooks) and the
public data under `<repo>/../shared/data` when it is present.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from knowledge.converters import load_path
from knowledge.documents import Document, DocumentError
from knowledge.history import DEFAULT_SEED, generate_history

RUNBOOKS_DIR = Path(__file__).resolve().parent / "runbooks"
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PUBLIC_POSTMORTEMS = SHARED_DATA / "public-postmortems" / "post-mortems.md"
ALERT_RUNBOOKS = SHARED_DATA / "prometheus-operator-runbooks" / "content" / "runbooks"


def shop_runbooks() -> list[Document]:
    """The shop's prose runbooks shipped in `knowledge/runbooks/`."""
    docs = []
    for path, item in load_path(RUNBOOKS_DIR, "runbook"):
        if isinstance(item, DocumentError):  # a shipped file must parse: that is a bug
            raise ValueError(f"{path}: {item}")
        docs.append(item)
    return docs


def demo_documents(seed: int = DEFAULT_SEED, end: date | None = None) -> list[Document]:
    """What `kb seed` ingests: the sandbox incident history and the shop runbooks."""
    return generate_history(seed, end) + shop_runbooks()


def public_documents() -> list[Document]:
    """Public postmortems and kube-prometheus alert runbooks; empty when the data is absent."""
    docs: list[Document] = []
    if PUBLIC_POSTMORTEMS.is_file():
        docs += [d for _, d in load_path(PUBLIC_POSTMORTEMS, "postmortem")
                 if isinstance(d, Document)]
    if ALERT_RUNBOOKS.is_dir():
        docs += [d for _, d in load_path(ALERT_RUNBOOKS, "runbook") if isinstance(d, Document)]
    return docs
