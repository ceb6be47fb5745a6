"""The form (a Slack modal) that asks for the parameters a runbook needs when the answer that
suggested it could not fill them (drain-node's `node`, say). Each value is checked exactly as
the CLI checks it (`tools.runbooks.params.check_value`, then the plan renders), and a bad value
is shown under its field; nothing runs from the form: it leads to the dry-run plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.slack.blocks import Block, escape, section

FORM = "runbook_params"
_BLOCK = "param:"
_METADATA_LIMIT = 3000  # Slack's private_metadata


@dataclass(frozen=True)
class FormState:
    """What the form carries between opening and submission (its private metadata)."""

    runbook: str
    params: dict[str, Any]  # the values the answer did fill
    missing: list[str]
    channel: str
    thread: str | None

    def dump(self) -> str:
        text = json.dumps({"runbook": self.runbook, "params": self.params,
                           "missing": self.missing, "channel": self.channel,
                           "thread": self.thread})
        if len(text) > _METADATA_LIMIT:
            raise ValueError("the form's state does not fit Slack's private_metadata")
        return text

    @classmethod
    def load(cls, text: str) -> FormState:
        """The state, or ValueError when it is not one this module wrote."""
        data = json.loads(text or "")
        ok = (isinstance(data, dict) and isinstance(data.get("runbook"), str)
              and isinstance(data.get("params"), dict)
              and isinstance(data.get("missing"), list)
              and all(isinstance(m, str) for m in data["missing"])
              and isinstance(data.get("channel"), str)
              and isinstance(data.get("thread"), str | None))
        if not ok:
            raise ValueError("the form's state is not one I wrote")
        return cls(data["runbook"], data["params"], data["missing"], data["channel"],
                   data["thread"])


def form_view(runbook: Any, state: FormState) -> dict[str, Any]:
    """The modal: one text field per missing parameter, its description as the hint."""
    blocks: list[Block] = [section(
        f"*{escape(runbook.title)}* (`{escape(runbook.name)}`, risk *{runbook.risk}*) needs "
        f"{', '.join(f'`{m}`' for m in state.missing)}. You will see the plan before anything "
        "can run.")]
    for name in state.missing:
        spec = runbook.parameters[name]
        hint = spec.description or {"int": "a whole number", "bool": "true or false"}.get(
            spec.type, "text")
        if spec.enum:
            hint += f" (one of {', '.join(str(e) for e in spec.enum)})"
        blocks.append({"type": "input", "block_id": _BLOCK + name,
                       "label": {"type": "plain_text", "text": name[:2000]},
                       "hint": {"type": "plain_text", "text": hint[:2000]},
                       "element": {"type": "plain_text_input", "action_id": "value",
                                   "max_length": min(spec.max_length, 3000)}})
    return {"type": "modal", "callback_id": FORM, "private_metadata": state.dump(),
            "title": {"type": "plain_text", "text": "Plan a runbook"},
            "submit": {"type": "plain_text", "text": "Show the plan"},
            "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}


def submitted(view: dict[str, Any], missing: list[str]) -> dict[str, str]:
    """The values typed into the form (an empty or absent field is an empty string)."""
    values = (view.get("state") or {}).get("values") or {}
    out = {}
    for name in missing:
        field = (values.get(_BLOCK + name) or {}).get("value") or {}
        value = field.get("value")
        out[name] = value.strip() if isinstance(value, str) else ""
    return out


def field_errors(runbook: Any, typed: dict[str, str]) -> dict[str, str]:
    """Block id -> the CLI's message, for each typed value that fails its parameter's checks."""
    from tools.runbooks.errors import ParameterError
    from tools.runbooks.params import check_value

    errors = {}
    for name, value in typed.items():
        try:
            check_value(name, runbook.parameters[name], value)
        except ParameterError as exc:
            errors[_BLOCK + name] = str(exc)[:150]
    return errors


def block_of(name: str) -> str:
    return _BLOCK + name
