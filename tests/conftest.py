"""Shared fixtures. Caches and state go to a temporary folder, never the user's home."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import pytest

# Fixtures shared by several test modules: the Slack Web API stand-in and harness.
pytest_plugins = ("tests.slack_support",)

_TMP = tempfile.mkdtemp(prefix="opscopilot-tests-")
os.environ["OPSCOPILOT_CACHE_DIR"] = os.path.join(_TMP, "cache")
os.environ["OPSCOPILOT_DATA_DIR"] = os.path.join(_TMP, "data")


@pytest.fixture(autouse=True)
def _no_remembered_service_graph():
    """Discovery remembers the last service graph per backend URL in the cache; tests reuse fake
    URLs, so each starts without another test's graph."""
    import shutil

    shutil.rmtree(os.path.join(_TMP, "cache", "topology"), ignore_errors=True)


class GraphTopology:
    """A topology given as a dict: the TopologySource protocol, for planner and ranking tests."""

    def __init__(self, calls: dict[str, list[str]]) -> None:
        self.calls = calls

    def services(self) -> list[str]:
        return list(self.calls)

    def dependencies(self, service: str) -> list[str]:
        return list(self.calls[service])

    def callers(self, service: str) -> list[str]:
        return [s for s, deps in self.calls.items() if service in deps]


SHOP = GraphTopology({
    "frontend": ["checkout", "cart"],
    "checkout": ["payment", "cart"],
    "cart": ["redis"],
    "payment": ["postgres"],
    "redis": [],
    "postgres": [],
})


@pytest.fixture(scope="session")
def settings():
    from infra.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def runtime_for(settings) -> Callable:
    """runtime_for(scenario) -> Runtime; one trained router shared by every scenario."""
    from bot.app import build_runtime

    built: dict[str, object] = {}
    shared: dict[str, object] = {}

    def get(scenario: str):
        if scenario not in built:
            runtime = build_runtime(settings, scenario, router=shared.get("router"))
            shared["router"] = runtime.copilot.router
            built[scenario] = runtime
        return built[scenario]

    return get
