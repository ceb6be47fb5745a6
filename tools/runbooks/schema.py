"""Write the runbook JSON Schema (for editors and CI) from the pydantic models:
`python -m tools.runbooks.schema [OUT]` (default docs/runbook.schema.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tools.runbooks.model import Runbook

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "runbook.schema.json"


def runbook_schema() -> dict[str, Any]:
    schema = Runbook.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://opscopilot.dev/schemas/runbook.schema.json", **schema}


def schema_text() -> str:
    return json.dumps(runbook_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else SCHEMA_PATH
    tmp = out.with_suffix(".tmp")
    tmp.write_text(schema_text(), encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
