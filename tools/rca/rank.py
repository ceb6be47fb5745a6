"""Rank root-cause candidates: robust change scores per series, explained away along the call
graph, with deploys, config changes and new log templates as extra evidence.

The rules, each one a named term so every candidate can say why it ranks where it does:

1. A service is anomalous when one of its series moved far (robust z, see `signals`).
2. Symptoms travel upstream: an anomalous service that calls (directly or not) another anomalous
   service that is broken in a way that explains it (`_explains`: it fails, or it slowed by a
   fair share of the caller's slowdown, or it serves less while the caller fails), whose
   trouble started no later, is probably a victim: its score is multiplied by
   `VICTIM_FACTOR`. A dependency whose only moves are drops in load (less traffic, less CPU)
   does not explain a caller whose own resources went bad: that drop is the caller's doing.
3. A service that explains many anomalous callers (the same test) is a better suspect
   (`COVER_BONUS`).
4. Its own resources (CPU, memory, disk, pool, certificate) going bad, a deploy or config
   change shortly before the first anomaly, and WARN/ERROR log templates the onset brought add
   to it: new ones, or ones whose rate rose beyond chance (`log_surges`). A latency fault on
   real formats logs more of a template it always had ("slow request <*> took <*>"), no new one.
5. When the strongest series moved less than `Z_CLEAR` deviations there is no clear root cause.
6. After the candidates, the full ranking lists (with a graph) the quiet callees of a caller
   that got slower or failed with no resource of its own moving and nothing anomalous below
   it: its trouble is in its calls (a network delay shows so), so they come before services
   that merely wobbled.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from tools.rca.graph import closure
from tools.rca.model import (
    Candidate,
    ChangeRecord,
    LogTemplateRecord,
    RcaInput,
    RcaResult,
    SignalScore,
)
from tools.rca.signals import (
    DEFAULT_GATES,
    Gates,
    bad_direction,
    min_abs_changes,
    sampling_step,
    score_matrix,
    signal_family,
    signal_kind,
)

Z_CLEAR = 10.0
# `clear` also needs the leader's combined strength (`combined_strength` plus the change and log
# bonuses) this high: on the real Nezha cases (evals.bench_rca_real) leaders above it were right
# 22 times in 23; the threshold chosen leaving one fault type out is right 22 in 26 (--cv).
CLEAR_STRENGTH = 5.3
# ...or, with a call graph, the leader is the only anomalous service that calls nothing
# anomalous and explains anomalous callers, in data fine enough (a step under `COARSE_STEP_S`)
# for "started no later" to mean something.
COARSE_STEP_S = 60
VICTIM_FACTOR = 0.35
COVER_BONUS = 0.6
RESOURCE_BONUS = 1.0
CHANGE_BONUS = 1.5
LOG_BONUS = 0.5
EARLY_BONUS = 0.5
FAMILY_WEIGHT = 0.3  # each of up to two further families of signals that moved
LONE_FACTOR = 0.6  # a service whose signals all sit in one family
COLLAPSE_SHARE = 0.4  # traffic down to this share of its baseline: the service is down
EXPLAIN_SHARE = 0.1  # a callee slower by this share of its caller's slowdown can explain it
NO_GRAPH_BONUS = 3.0
NEW_LOG_MIN = 3  # lines of a template never seen before for it to count
SURGE_ALPHA = 0.05  # family-wise, over the templates given (Bonferroni)
SURGE_FACTOR = 2.0  # ...and the rate at least doubled: at high counts a small rise is "real"
ONSET_TOLERANCE_S = 60  # "started no later" allows for the sampling step (at least one)
CHANGE_BEFORE_S = 30 * 60
CHANGE_AFTER_S = 2 * 60
MAX_SIGNALS_SHOWN = 3


def log_surges(logs: list[LogTemplateRecord]) -> list[LogTemplateRecord]:
    """The WARN/ERROR templates the onset brought: new ones (`NEW_LOG_MIN` lines or more, none
    before), and ones logged more often than chance allows. `count` and `count_before` come from
    two windows of the same length, so with no change in rate each of the `count + count_before`
    lines falls after the onset with probability 1/2: a one-sided binomial tail below
    `SURGE_ALPHA` shared over the templates given (Bonferroni), with the count at least
    `SURGE_FACTOR` times the one before, is a surge."""
    alpha = SURGE_ALPHA / max(1, len(logs))
    out = []
    for t in logs:
        if t.level not in ("ERROR", "WARN") or t.count < NEW_LOG_MIN:
            continue
        if t.count_before == 0 or (t.count >= SURGE_FACTOR * t.count_before and _upper_tail(
                t.count, t.count + t.count_before) < alpha):
            out.append(t)
    return out


def _upper_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), summed in log space (n may be large)."""
    log_half_n = -n * math.log(2)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + log_half_n
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in terms))


def _scores(inp: RcaInput, gates: Gates) -> tuple[list[SignalScore], dict[str, float]]:
    """The significant signals, strongest first, and each service's largest move in
    deviations whether significant or not (to order the services nothing clearly points at)."""
    keys = list(inp.signals)
    if not keys:
        return [], {}
    matrix = np.vstack([np.asarray(inp.signals[k], dtype=float) for k in keys])
    metrics = [m for _, m in keys]
    sm = score_matrix(inp.timestamps, matrix, inp.onset, [bad_direction(m) for m in metrics],
                      min_abs_changes(metrics), kinds=[signal_kind(m) for m in metrics],
                      gates=gates)
    out = []
    for i in np.flatnonzero(sm.z > 0):
        service, metric = keys[i]
        first = int(sm.first_ts[i])
        out.append(SignalScore(service, metric, signal_kind(metric), float(sm.z[i]),
                               float(sm.baseline[i]), float(sm.peak[i]),
                               "up" if sm.up[i] else "down", first if first >= 0 else None,
                               bool(sm.gradual[i]) if sm.gradual is not None else False))
    out.sort(key=lambda s: -s.z)
    weak: dict[str, float] = {}
    for (service, _), z in zip(keys, np.nan_to_num(sm.raw_z).tolist(), strict=True):
        weak[service] = max(weak.get(service, 0.0), z)
    return out, weak


def combined_strength(sigs: list[SignalScore], corroborated: bool = False) -> float:
    """A service's evidence from all its signals: its strongest move, plus a share of the
    strongest move in each other family (CPU, memory, latency, ...): a CPU hog that also slowed
    the service outranks one lone jump, while the several quantiles of one latency count once."""
    best: dict[str, float] = {}
    for s in sigs:
        fam = signal_family(s.metric)
        best[fam] = max(best.get(fam, 0.0), s.z)
    ranked = sorted(best.values(), reverse=True)
    strength = math.log1p(ranked[0]) + FAMILY_WEIGHT * sum(math.log1p(z) for z in ranked[1:3])
    # One family alone (a memory step, one latency) is what restarts, scrapes and spikes also
    # do; a fault of the service's own shows in two (its resource and its latency or errors).
    # Traffic it serves falling is the exception: a service that is down or refusing shows
    # nothing else, since it no longer reports latency or errors of its own.
    serving_less = any(s.kind == "traffic" and s.direction == "down" for s in sigs)
    # `corroborated`: another source (a deploy, new error logs) backs the one family.
    # So is a resource that kept growing (a leak) rather than stepping once (a restart).
    growing = any(s.gradual and s.kind == "resource" for s in sigs)
    if len(ranked) > 1 or serving_less or corroborated or growing:
        return strength
    return LONE_FACTOR * strength


def _families(sigs: list[SignalScore]) -> str:
    fams = sorted({signal_family(s.metric) for s in sigs})
    return f"{len(fams)} kind{'s' if len(fams) > 1 else ''} of signal: {', '.join(fams)}"


def _fails(s: SignalScore) -> bool:
    """More errors, or less success (a success rate or apdex that fell)."""
    return s.kind == "errors" and s.direction == bad_direction(s.metric)


def _latency_rise(sigs: list[SignalScore]) -> float:
    """A service's largest latency increase, in the series' own unit (peak minus baseline).
    Compared between services, so it assumes their latencies share a unit, as one exporter's
    (or one PromQL template's) do."""
    return max((s.peak - s.baseline for s in sigs if s.kind == "latency" and s.direction == "up"),
               default=0.0)


def _collapsed(s: SignalScore) -> bool:
    return (s.kind == "traffic" and s.direction == "down" and s.baseline > 0
            and s.peak <= COLLAPSE_SHARE * s.baseline)


def _explains(callee: list[SignalScore], caller: list[SignalScore]) -> bool:
    """Whether a callee's trouble can be what its caller suffers: it is broken, not busier or
    idler. It failed more; or it got slower by at least `EXPLAIN_SHARE` of the caller's own
    slowdown (a caller that waits on a callee cannot be seconds slower because the callee is
    milliseconds slower); or it serves less while the caller fails (it refuses or is down).
    A callee that only got busier (more requests, more CPU for them), whose memory stepped, or
    that serves fewer requests because its caller sends fewer, is not broken: that is load,
    often its caller's doing."""
    if any(_fails(s) for s in callee):
        return True
    rise = _latency_rise(callee)
    if rise > 0 and rise >= EXPLAIN_SHARE * _latency_rise(caller):
        return True
    caller_fails = any(_fails(s) for s in caller)
    return caller_fails and any(s.kind == "traffic" and s.direction == "down" for s in callee)


def _is_load_drop(s: SignalScore) -> bool:
    return s.direction == "down" and s.kind in ("traffic", "resource")


def _is_own_resource(s: SignalScore) -> bool:
    # A certificate running out goes down; every other resource goes bad by going up.
    return s.kind == "resource" and (s.direction == "up" or "cert" in s.metric)


def _no_graph_hint(svc: str, by_service: dict[str, list[SignalScore]]) -> str:
    """Without a call graph, a sign that a service is the source rather than a victim: its
    traffic collapsed while others' errors rose (it is down to its callers)."""
    others_err = any(_fails(x)
                     for other, xs in by_service.items() if other != svc for x in xs)
    for s in by_service[svc]:
        if _collapsed(s) and others_err:
            return f"its {s.metric} collapsed while its callers' errors rose"
    return ""


def _fmt(v: float) -> str:
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else (f"{v:.1f}" if a >= 10 else f"{v:.2f}")


def describe_signal(s: SignalScore) -> str:
    return (f"{s.metric} {s.direction} from {_fmt(s.baseline)} to {_fmt(s.peak)} "
            f"(robust z {s.z:.0f})")


def when_relative(ts: int, anchor: int) -> str:
    """'2 min before the first anomaly', 'at the first anomaly', '40 s after the first anomaly'."""
    gap = anchor - ts
    if abs(gap) < 30:
        return "at the time of the first anomaly"
    size = f"{abs(gap)} s" if abs(gap) < 90 else f"{round(abs(gap) / 60)} min"
    return f"{size} {'before' if gap > 0 else 'after'} the first anomaly"


def rank_causes(inp: RcaInput, limit: int = 5, gates: Gates = DEFAULT_GATES) -> RcaResult:
    """The ranked candidates for the incident whose onset hint is `inp.onset`; `gates` says
    when a series' move counts (the shipped defaults unless a benchmark varies them)."""
    scored, weak = _scores(inp, gates)
    by_service: dict[str, list[SignalScore]] = defaultdict(list)
    for s in scored:
        by_service[s.service].append(s)
    firsts = [s.first_ts for s in scored if s.first_ts is not None]
    first_anomaly = min(firsts) if firsts else None
    anchor = min(inp.onset, first_anomaly) if first_anomaly is not None else inp.onset
    near = sorted((c for c in inp.changes
                   if anchor - CHANGE_BEFORE_S <= c.ts <= anchor + CHANGE_AFTER_S),
                  key=lambda c: -c.ts)
    changes_by: dict[str, list[ChangeRecord]] = defaultdict(list)
    for c in near:
        changes_by[c.service].append(c)
    if not scored:
        return RcaResult([], False, inp.onset, None, near,
                         "no series moved beyond its normal band after the onset", scored,
                         ranking=sorted(weak, key=lambda s: (-weak[s], s)))

    onset_of = {svc: min((s.first_ts for s in ss if s.first_ts is not None), default=None)
                for svc, ss in by_service.items()}
    sick = set(by_service)
    graph = inp.graph
    new_logs = defaultdict(list)
    for t in log_surges(inp.logs):
        new_logs[t.service].append(t)

    collapsed = {} if graph is not None else {
        svc: hint for svc in by_service if (hint := _no_graph_hint(svc, by_service))}
    # At coarse resolution everything turns anomalous in the same row: "no later" then means
    # within a sample step, and the order in time tells little (the rules below lean on what
    # moved, not on when).
    tolerance = max(ONSET_TOLERANCE_S, sampling_step(inp.timestamps))
    candidates = []
    confirmed: set[str] = set()  # with a graph: calls nothing anomalous, explains callers
    for svc, sigs in by_service.items():
        top = sigs[0]
        raw = combined_strength(sigs)
        reasons = [f"{describe_signal(s)}" for s in sigs[:MAX_SIGNALS_SHOWN]]
        own_resource = [s for s in sigs if _is_own_resource(s)]
        if own_resource:
            raw += RESOURCE_BONUS
        position = "no call graph given"
        if graph is not None:
            first = onset_of[svc]
            deps = closure(graph, svc) & sick

            def started_first(d: str, first: int | None = first) -> bool:
                d_first = onset_of[d]
                return first is None or d_first is None or d_first <= first + tolerance

            symptomatic = any(x.kind in ("latency", "errors") for x in sigs)
            explaining = sorted(
                d for d in deps if symptomatic and started_first(d)
                and _explains(by_service[d], sigs)
                and not (own_resource and all(_is_load_drop(x) for x in by_service[d])))
            callers = sorted(u for u in sick if u != svc and svc in closure(graph, u)
                             and _explains(sigs, by_service[u]))
            if explaining:
                raw *= VICTIM_FACTOR
                position = (f"calls anomalous {', '.join(explaining)}, whose trouble started "
                            "no later: likely a symptom")
            else:
                position = "none of the services it calls is anomalous"
                if callers:
                    confirmed.add(svc)
                    raw += COVER_BONUS * math.log1p(len(callers))
                    position += f"; explains anomalous callers {', '.join(callers)}"
        else:
            hint = collapsed.get(svc, "")
            if hint:
                raw += NO_GRAPH_BONUS
                position = f"no call graph given; {hint}"
            elif collapsed and not own_resource and all(
                    x.kind in ("latency", "errors") for x in sigs):
                raw *= VICTIM_FACTOR
                position = (f"no call graph given; only latency/errors moved while "
                            f"{', '.join(sorted(collapsed))} went down: likely a symptom")
            if first_anomaly is not None and onset_of[svc] == first_anomaly:
                raw += EARLY_BONUS
        cand = Candidate(svc, (own_resource[0] if own_resource else top).metric, 0.0, raw,
                         sigs[:MAX_SIGNALS_SHOWN], position)
        for c in changes_by.get(svc, []):
            cand.changes.append(c)
        if cand.changes:
            raw += CHANGE_BONUS
            c = cand.changes[0]
            reasons.append(f"{c.description} {when_relative(c.ts, anchor)}")
        if new_logs.get(svc):
            raw += LOG_BONUS
            cand.log_templates = sorted(new_logs[svc],
                                        key=lambda t: (t.count_before > 0, -t.count))[:3]
            t = cand.log_templates[0]
            text = t.template if len(t.template) <= 90 else t.template[:87] + "..."
            reasons.append(f'new {t.level} log template "{text}" ({t.count} lines, none before)'
                           if not t.count_before else
                           f'{t.level} log template "{text}" up from {t.count_before} to '
                           f'{t.count} lines')
        reasons.append(position)
        cand.raw, cand.reasons = raw, reasons
        candidates.append(cand)

    # A change right before the onset is always reported, even on a service that looks fine.
    floor = min(cand.raw for cand in candidates)
    for svc, cs in changes_by.items():
        if svc not in by_service:
            ch = cs[0]
            candidates.append(Candidate(
                svc, None, 0.0, 0.5 * floor, [], "shows no anomaly of its own", [ch], [],
                [f"{ch.description} {when_relative(ch.ts, anchor)}",
                 "shows no anomaly of its own"]))
    candidates.sort(key=lambda cand: (-cand.raw, cand.service))
    total = sum(max(cand.raw, 0.0) for cand in candidates) or 1.0
    for cand in candidates:
        cand.score = max(cand.raw, 0.0) / total
    top_z = scored[0].z
    leader = candidates[0]
    other_sources = bool(leader.changes) + bool(leader.log_templates)
    confidence = (combined_strength(by_service[leader.service], other_sources > 0)
                  + CHANGE_BONUS * bool(leader.changes) + LOG_BONUS * bool(leader.log_templates)
                  if leader.signals else 0.0)
    others_confirmed = confirmed - {leader.service}
    by_graph = (leader.service in confirmed and not others_confirmed
                and sampling_step(inp.timestamps) < COARSE_STEP_S)
    # ...or nothing else moved and its own move is corroborated (not a lone step).
    lead_sigs = by_service[leader.service] if leader.signals else []
    alone = (len(by_service) == 1 and bool(lead_sigs)
             and combined_strength(lead_sigs) == combined_strength(lead_sigs, True))
    clear = top_z >= Z_CLEAR and (confidence >= CLEAR_STRENGTH or by_graph or alone)
    if top_z < Z_CLEAR:
        note = (f"no clear root cause: the strongest change ({scored[0].service} "
                f"{scored[0].metric}, robust z {top_z:.0f}) is below {Z_CLEAR:.0f}")
    elif not clear:
        note = (f"no clear root cause: {leader.service} leads, but its evidence (strength "
                f"{confidence:.1f}, {_families(by_service[leader.service])}) is below the "
                f"{CLEAR_STRENGTH:.1f} that is right 9 times in 10")
    else:
        note = ""
    ranking = [c.service for c in candidates]
    if graph is not None:
        # A caller slow for no reason of its own (only latency or errors moved, none of its
        # callees is anomalous): the trouble is in its calls; its quiet callees come next.
        for cand in candidates:
            sigs = by_service.get(cand.service, [])
            if sigs and all(x.kind in ("latency", "errors") for x in sigs) \
                    and not any(d in sick for d in closure(graph, cand.service)):
                quiet = sorted((d for d in graph.get(cand.service, []) if d not in ranking),
                               key=lambda d: (-weak.get(d, 0.0), d))
                ranking += quiet
    ranking += sorted(set(weak) - set(ranking), key=lambda s: (-weak[s], s))
    return RcaResult(candidates[:limit], clear, inp.onset, first_anomaly, near, note, scored,
                     confidence=confidence, ranking=ranking)
