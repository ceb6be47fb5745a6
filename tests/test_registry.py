"""The tool registry: schema validation, backend faults and any tool exception become results."""

from typing import ClassVar

import pytest
from pydantic import BaseModel

from tools.base import BackendTimeout, ToolRegistry, ToolResult, ToolStatus, UnknownTool


class EchoParams(BaseModel):
    service: str
    minutes: int = 30


class Echo:
    name: ClassVar[str] = "echo"
    description: ClassVar[str] = "says what it got"
    Params: ClassVar[type[BaseModel]] = EchoParams
    side_effects: ClassVar[bool] = False

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    def run(self, params: EchoParams) -> ToolResult:
        if self.fail:
            raise self.fail
        return ToolResult(self.name, ToolStatus.OK, f"{params.service} {params.minutes}")


def test_run_validates_and_times():
    reg = ToolRegistry()
    reg.register(Echo())
    r = reg.run("echo", {"service": "cart"})
    assert r.ok and r.summary == "cart 30" and r.duration_ms >= 0


def test_bad_arguments_are_a_result_naming_the_field():
    reg = ToolRegistry()
    reg.register(Echo())
    r = reg.run("echo", {"minutes": "soon"})
    assert r.status is ToolStatus.ERROR
    assert "service" in r.summary and "minutes" in r.summary


def test_backend_down_is_a_result():
    reg = ToolRegistry()
    reg.register(Echo(BackendTimeout("Prometheus at http://prom:9090 did not answer within 5 s")))
    r = reg.run("echo", {"service": "cart"})
    assert r.status is ToolStatus.ERROR and "did not answer within 5 s" in r.summary


class InternalError(Exception):
    """Stands for a library's own exception, e.g. chromadb's while another process writes."""


def test_any_tool_exception_is_one_line_and_logged(caplog: pytest.LogCaptureFixture):
    reg = ToolRegistry()
    reg.register(Echo(InternalError("Error finding id\n  deep inside\n")))
    r = reg.run("echo", {"service": "cart"})
    assert r.status is ToolStatus.ERROR
    assert r.summary == "echo failed: InternalError: Error finding id deep inside (logged)"
    assert "Traceback" in caplog.text  # the detail is kept for whoever reads the log


def test_unknown_and_duplicate_tools():
    reg = ToolRegistry()
    reg.register(Echo())
    with pytest.raises(UnknownTool):
        reg.run("nope", {})
    with pytest.raises(ValueError, match="twice"):
        reg.register(Echo())
    schema = reg.schemas()[0]
    assert schema["name"] == "echo" and "service" in schema["parameters"]["properties"]
