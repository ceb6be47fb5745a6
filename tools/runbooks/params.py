"""Parameter values: checked against their declared type and a safety baseline before anything
is rendered. A value that fails is a `ParameterError` naming the parameter and the rule.

The baseline holds for every string and path whatever the runbook's own pattern says: printable
ASCII only (no unicode look-alikes, no control characters or newlines), no whitespace, no shell
metacharacters, no leading '-' (no option smuggling), no '..' (no path traversal), bounded length.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from tools.runbooks.errors import ParameterError
from tools.runbooks.model import Parameter, Runbook

_SAFE_CHARS = re.compile(r"^[A-Za-z0-9._:/@=+,-]*$")
_PATH_CHARS = re.compile(r"^/[A-Za-z0-9._/-]*$")


def _check_string(name: str, spec: Parameter, value: str) -> str:
    if len(value) > spec.max_length:
        raise ParameterError(f"parameter {name}: {len(value)} characters is longer than "
                             f"{spec.max_length}")
    if not value:
        raise ParameterError(f"parameter {name}: empty value")
    if not value.isascii() or not value.isprintable():
        raise ParameterError(f"parameter {name}: only printable ASCII is allowed "
                             "(no unicode look-alikes or control characters)")
    if value.startswith("-"):
        raise ParameterError(f"parameter {name}: may not start with '-' "
                             "(it would read as an option)")
    if ".." in value:
        raise ParameterError(f"parameter {name}: '..' is not allowed")
    chars = _PATH_CHARS if spec.type == "path" else _SAFE_CHARS
    if not chars.match(value):
        raise ParameterError(f"parameter {name}: {value[:40]!r} has characters outside "
                             f"{chars.pattern}")
    if spec.enum is not None and value not in [str(e) for e in spec.enum]:
        raise ParameterError(f"parameter {name}: {value!r} is not one of "
                             f"{', '.join(str(e) for e in spec.enum)}")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise ParameterError(f"parameter {name}: {value!r} does not match {spec.pattern}")
    if spec.type == "path":
        normal = posixpath.normpath(value)
        if normal != value.rstrip("/") or not any(
                normal == p.rstrip("/") or normal.startswith(p.rstrip("/") + "/")
                for p in spec.allowed_prefixes):
            raise ParameterError(f"parameter {name}: {value!r} is not under "
                                 f"{', '.join(spec.allowed_prefixes)}")
    return value


def _check_int(name: str, spec: Parameter, value: Any) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"parameter {name}: expected an integer, got a boolean")
    if isinstance(value, str):
        if not re.fullmatch(r"\d{1,9}", value):
            raise ParameterError(f"parameter {name}: {value[:40]!r} is not a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise ParameterError(f"parameter {name}: expected an integer")
    if spec.minimum is not None and value < spec.minimum:
        raise ParameterError(f"parameter {name}: {value} is below the minimum {spec.minimum}")
    if spec.maximum is not None and value > spec.maximum:
        raise ParameterError(f"parameter {name}: {value} is above the maximum {spec.maximum}")
    if spec.enum is not None and value not in spec.enum:
        raise ParameterError(f"parameter {name}: {value} is not one of "
                             f"{', '.join(str(e) for e in spec.enum)}")
    return value


def _check_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ParameterError(f"parameter {name}: expected true or false")


def check_value(name: str, spec: Parameter, value: Any) -> str | int | bool:
    if spec.type == "int":
        return _check_int(name, spec, value)
    if spec.type == "bool":
        return _check_bool(name, value)
    if not isinstance(value, str):
        raise ParameterError(f"parameter {name}: expected text")
    return _check_string(name, spec, value)


def resolve_params(runbook: Runbook, given: Mapping[str, Any]) -> dict[str, str | int | bool]:
    """Every declared parameter's checked value (given, else its default); unknown or missing
    parameters are errors."""
    unknown = sorted(set(given) - set(runbook.parameters))
    if unknown:
        raise ParameterError(f"runbook {runbook.name} has no parameter {', '.join(unknown)} "
                             f"(it takes: {', '.join(runbook.parameters) or 'none'})")
    out: dict[str, str | int | bool] = {}
    for name, spec in runbook.parameters.items():
        if name in given and given[name] is not None:
            value = given[name]
        elif spec.default is not None:
            value = spec.default
        else:
            raise ParameterError(f"parameter {name} of runbook {runbook.name} is required "
                                 f"({spec.description or spec.type})")
        out[name] = check_value(name, spec, value)
    return out
