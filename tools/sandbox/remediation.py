"""Remediation: end a running fault at a given time, as the right fix would.

`end_faults(sandbox, service, kinds, at)` returns a new `Sandbox` in which every fault of one of
`kinds` on `service` that is active at `at` ends at `at` (and the faults it ended), so metrics,
logs, alerts and events after `at` are healthy and those before it are unchanged: the noise is
drawn from the seed independently of the faults. The cached sandboxes are never modified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tools.sandbox.scenario import Fault
from tools.sandbox.simulator import Sandbox, simulate


def end_faults(sandbox: Sandbox, service: str, kinds: Iterable[str], at: int
               ) -> tuple[Sandbox, list[Fault]]:
    kinds = set(kinds)
    ended: list[Fault] = []
    faults: list[Fault] = []
    for fault in sandbox.scenario.faults:
        if fault.service == service and fault.kind in kinds and fault.start <= at < fault.end:
            ended.append(fault)
            faults.append(replace(fault, end=max(int(at), fault.start + 1)))
        else:
            faults.append(fault)
    if not ended:
        return sandbox, []
    return simulate(replace(sandbox.scenario, faults=tuple(faults))), ended


def active_faults(sandbox: Sandbox, at: int) -> list[Fault]:
    """The faults still going on at `at`."""
    return [f for f in sandbox.scenario.faults if f.start <= at < f.end]
