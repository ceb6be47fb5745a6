"""Change events of a scenario: benign deploys and config changes through the day, plus the ones
faults bring (the bad deploy and its rollback, the certificate renewal).

Deterministic for the scenario's seed; benign changes keep clear of the hour before a fault so a
fault's cause is not drowned in coincidences.
"""

from __future__ import annotations

import numpy as np

from tools.sandbox.model import ChangeEvent
from tools.sandbox.scenario import Scenario
from tools.sandbox.topology import stable_fraction

AUTHORS = ("alice.martin", "bob.nguyen", "carla.rossi", "deepak.iyer", "emma.schulz",
           "farid.haddad", "grace.okafor", "hiro.tanaka")
CONFIG_CHANGES = (
    ("feature flag {flag}", ("10%", "25%", "50%", "100%")),
    ("log_level", ("info", "debug", "warn")),
    ("cache_ttl", ("30s", "60s", "120s", "300s")),
    ("replicas", ("2", "3", "4", "6")),
    ("http_timeout", ("2s", "3s", "5s")),
)
FLAGS = ("new-checkout-flow", "recs-v2", "fast-currency", "ads-lazy-load", "cart-merge")


def _version(service: str) -> tuple[int, int, int]:
    f = stable_fraction(service, "version")
    return 1 + int(3 * f), int(20 * stable_fraction(service, "minor")), int(10 * f)


def _fmt(v: tuple[int, int, int]) -> str:
    return f"v{v[0]}.{v[1]}.{v[2]}"


def change_events(scenario: Scenario) -> list[ChangeEvent]:
    rng = np.random.default_rng([scenario.seed, 7])
    names = scenario.topology.names()
    # (ts, service, what, author) with what in {"deploy", "config", "bad_deploy", "rollback",
    # "cert_renewal"}; versions are assigned in time order afterwards.
    planned: list[tuple[int, str, str, str]] = []
    for _ in range(int(rng.integers(8, 13))):
        ts = int(rng.integers(scenario.start + 1800, max(scenario.end - 1800,
                                                          scenario.start + 1801)))
        ts -= ts % 60
        if any(f.start - 3600 <= ts <= f.start + 900 for f in scenario.faults):
            continue
        what = "deploy" if rng.random() < 0.65 else "config"
        planned.append((ts, names[int(rng.integers(len(names)))], what,
                        AUTHORS[int(rng.integers(len(AUTHORS)))]))
    for f in scenario.faults:
        author = AUTHORS[int(stable_fraction(f.service, f.start) * len(AUTHORS))]
        if f.kind == "bad_deploy":
            planned.append((f.start, f.service, "bad_deploy", author))
            if f.end < scenario.end:
                planned.append((f.end, f.service, "rollback", author))
        elif f.kind == "certificate_expiry" and f.end < scenario.end:
            planned.append((f.end, f.service, "cert_renewal", "cert-manager"))
    planned.sort()

    versions = {s: _version(s) for s in names}
    previous: dict[str, tuple[int, int, int]] = {}
    events = []
    for ts, service, what, author in planned:
        v = versions[service]
        if what in ("deploy", "bad_deploy", "rollback"):
            if what == "rollback":
                new = previous.get(service, v)
                text = f"rollback {service} {_fmt(v)} -> {_fmt(new)}"
            else:
                new = (v[0], v[1] + 1, 0) if what == "bad_deploy" else (v[0], v[1], v[2] + 1)
                text = f"deploy {service} {_fmt(v)} -> {_fmt(new)}"
            previous[service], versions[service] = v, new
            events.append(ChangeEvent(ts, service, "deploy", text,
                                      "ci-bot" if what == "deploy" and rng.random() < 0.3
                                      else author, _fmt(new)))
        elif what == "cert_renewal":
            events.append(ChangeEvent(ts, service, "config_change",
                                      f"config {service}: TLS certificate renewed (valid 90 days)",
                                      author, _fmt(v)))
        else:
            key, choices = CONFIG_CHANGES[int(rng.integers(len(CONFIG_CHANGES)))]
            key = key.format(flag=FLAGS[int(rng.integers(len(FLAGS)))])
            a, b = rng.choice(len(choices), size=2, replace=False)
            events.append(ChangeEvent(ts, service, "config_change",
                                      f"config {service}: {key} {choices[a]} -> {choices[b]}",
                                      author, _fmt(v)))
    return events
