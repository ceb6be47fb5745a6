"""Pull services, metrics, a time window, a log level and search keywords out of a question.

Pure functions over the question text: no embeddings, no I/O. The service list is passed in
(deployments name their services differently); the metric vocabulary is `tools.catalog.METRICS`.

Errors the user can fix by rephrasing form one tree; the CLI catches the base class, prints the
one-line message and exits with code 2::

    ValueError
    └── QuestionError           a question we cannot act on as asked
        ├── EmptyQuestion       nothing but whitespace
        ├── UnknownService      names a service that is not in the deployment
        └── BadTimeWindow       a window that is reversed, in the future, empty or too long
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import process
from rapidfuzz.distance import OSA
from rapidfuzz.fuzz import ratio

from bot.answer import BadTimeWindow, EmptyQuestion, TimeWindow, UnknownService
from bot.timewindow import parse_time_window
from tools.catalog import LATENCY_METRICS, METRICS


@dataclass
class Entities:
    services: list[str] = field(default_factory=list)  # canonical names, order of mention
    metrics: list[str] = field(default_factory=list)  # tools.catalog.METRICS names
    window: TimeWindow | None = None
    log_level: str | None = None  # "ERROR" or "WARN"
    keywords: list[str] = field(default_factory=list)
    mentions: dict[str, str] = field(default_factory=dict)  # service -> text that matched


# Alias -> canonical service; applied only when the canonical name is in the deployment.
BUILTIN_ALIASES: dict[str, str] = {
    "db": "postgres", "database": "postgres", "pg": "postgres", "postgresql": "postgres",
    "psql": "postgres", "cache": "redis", "recs": "recommendation",
    "recommendations": "recommendation", "recommender": "recommendation", "ads": "ad",
    "web": "frontend", "site": "frontend", "website": "frontend", "ui": "frontend",
    "storefront": "frontend",
}

# Words that, stuck to or after a service name, still mean that service.
_SERVICE_SUFFIXES = ("service", "svc", "srv", "server", "api", "app")
_SERVICE_NOUNS = {"service", "services", "svc", "microservice", "app", "api", "deployment",
                  "pod", "pods", "server", "cluster", "job", "worker", "backend"}

_TOKEN = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_MARKER = re.compile(r"\[redacted[a-z-]*\]")  # what infra.redact put in a secret's place

# Words that are never a service name: not fuzzy-matched to one, never reported as unknown.
# Everyday English plus the ops vocabulary on-call questions are made of. Add words here when
# a question is wrongly refused with "unknown service".
_COMMON_WORDS_TEXT = """
a about above across act action actually add after again against ago agent ahead alert alerts
alerting all almost alone along already also always am among amount an and another answer any
anybody anyone anything anywhere app apps are area around as ask asked at attention available
away back bad badly bar base based be because been before begin behind being below best better
between big bit blew blow body both bottom break breaking breaks broke broken bug bugs build
builds business but by call called calls came can cannot case cause caused causes causing
certain change changed changes check checked checks clear click close code come comes coming
command common complete completely config configuration context correct could couple course
current currently customer customers daily data date day days dead deal degraded degradation
deploy deployed deploying deployment deployments deploys detail details did different do does
doing done down during each earlier early easy else end ending enough entire entries entry
environment even evening event events ever every everybody everyone everything everywhere
exact example except fact fail failed fails fast few field figure file files find fine fire
firing first fix fixed fixing flag flaky flapping follow following for found free friday from
front full function further general get gets getting give given go goes going gone good got
graph graphs great group had half happen happened happening happens hard has have having he
health healthy hear heard help her here high higher his hit hold home host hosts hour hourly
hours how however huge i idea if image impact important in incident incidents info information
instance instances into is issue issues it item items its job jobs just keep kind know known
last late later latest least less let level levels like likely limit limits line lines link
list little live load local log logged logging logs long look looking looks lot lots low lower
made main make makes making many map may maybe me mean means member message messages metric
metrics middle might mine minute minutes mode moment monday month months more morning most much
must my name names near need needed needs network never new next nice night no nobody node nodes
none normal not nothing now number numbers of off often ok okay old on once one ones only open
or order other others our out outage outages over overall own page paged pages pager paging
part particular past people per percent period person place plan platform please point possible
post pretty prod production problem problems process project pull put question quick quickly
quite rather read ready real really reason recent recently region regions release released
releases report request requests rest result results right rollout root round run running runs
said same saturday saw say says second seconds see seeing seem seems seen send sent server
servers service services set setting settings several she should show shows side since single
situation size so some somebody someone something sometimes somewhere soon sort spike spikes
stack staging start started state status step still stop stopped stuff such sudden suddenly
sunday sure system systems take taking talk team teams tell than thank thanks that the their
them then there these they thing things think this those though thought through thursday time
times to today together tomorrow tonight too took top total traffic trend trends try trying
tuesday turn type under understand unit until up update updated updates upon us usage use used
user users using usual value values various version versions very view wait want wanted was
watch way ways we wednesday week weekend weeks weird well went were what whatever when where
whether which while who whole whom whose why will window with within without work worked working
works world worse worst would wrong year years yes yesterday yet you your yours zone zones
january february march april june july august september october november december
cluster clusters kubernetes k8s pod pods container containers namespace namespaces ingress
gateway proxy queue queues topic topics broker endpoint endpoints route routes region dns
grafana kibana datadog prometheus pagerduty opsgenie slack jira github gitlab jenkins argo argocd
helm terraform aws gcp azure sentry honeycomb jaeger tempo loki elastic splunk newrelic
statuspage confluence notion zoom dashboard dashboards panel panels query queries alertmanager
trace traces tracing span spans runbook runbooks playbook postmortem postmortems rollback
restart restarts scale scaling canary rollouts hotfix oncall rotation escalation shift
discovery mesh account accounts owner owners dependency dependencies upstream downstream
mobile desktop browser browsers android ios europe asia america shopping skipping slipping
shipped pavement stripping super extremely kinda totally shop store unhealthy word words
placing active similar spring summer autumn winter duty infra kubectl symptoms summary
timeout timeouts order orders basket purchase purchases signup login lately anymore anyway
general germany india japan france uk jvm gc vpn wifi laptop
general random weather joke jokes poem recipe football movie music bitcoin
itself myself yourself themselves ourselves sitrep tldr blast radius
exhaustion pressure injection leak leaks kill kills killed refused hog failover investigate
timeline chart charts replica replicas true false fan-out
"""
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _strip_forms(key: str) -> list[str]:
    """The keys a token might stand for: itself, without a service suffix, singular."""
    forms = [key]
    for suffix in _SERVICE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            forms.append(key[: -len(suffix)])
    for form in list(forms):
        if form.endswith("es") and len(form) > 4:
            forms.append(form[:-2])
        if form.endswith("s") and len(form) > 2:
            forms.append(form[:-1])
    return forms


def _fuzzy_service(key: str, service_keys: Mapping[str, str]) -> str | None:
    """A typo of a service name: same first letter, 1 edit (2 from 10 letters), not a word."""
    if len(key) < 5 or key in COMMON_WORDS or not key.isalpha():
        return None
    best: tuple[int, str] | None = None
    for form in _strip_forms(key):
        for skey, name in service_keys.items():
            if len(skey) < 5 or len(form) < 5 or skey[0] != form[0]:
                continue
            limit = 2 if len(skey) >= 10 else 1
            dist = OSA.distance(form, skey, score_cutoff=limit)
            if dist <= limit and (best is None or dist < best[0]):
                best = (dist, name)
    return best[1] if best else None


class _ServiceMatcher:
    """Finds canonical service names in text; built once per service list."""

    def __init__(self, services: Sequence[str], aliases: Mapping[str, str] | None) -> None:
        self.services = list(services)
        self.keys = {_key(s): s for s in services}
        merged = {**BUILTIN_ALIASES, **{k.lower(): v for k, v in (aliases or {}).items()}}
        self.aliases = {_key(a): t for a, t in merged.items() if t in self.services}
        self.alias_words = {_key(a) for a in merged}

    def lookup(self, token: str) -> str | None:
        key = _key(token)
        for form in _strip_forms(key):
            if form in self.keys:
                return self.keys[form]
            if form in self.aliases:
                return self.aliases[form]
        return None

    def find(self, text: str) -> list[tuple[str, str, int, int]]:
        """(service, matched text, start, end) for each mention, in order."""
        tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        found: list[tuple[str, str, int, int]] = []
        i = 0
        while i < len(tokens):
            word, start, end = tokens[i]
            # Two words that spell a hyphenated service: "product catalog" -> product-catalog.
            if i + 1 < len(tokens):
                pair = _key(word + tokens[i + 1][0])
                if pair in self.keys and pair not in (_key(word), _key(tokens[i + 1][0])):
                    found.append((self.keys[pair], text[start : tokens[i + 1][2]], start,
                                  tokens[i + 1][2]))
                    i += 2
                    continue
            name = self.lookup(word)
            if name is None and "-" not in word and "_" not in word:
                name = _fuzzy_service(_key(word), self.keys)
            if name is not None:
                found.append((name, text[start:end], start, end))
            i += 1
        return found


def find_services(
    text: str, services: Sequence[str], aliases: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """Canonical services in order of first mention, and the text that matched each."""
    ordered: list[str] = []
    mentions: dict[str, str] = {}
    for name, matched, _, _ in _ServiceMatcher(services, aliases).find(text.lower()):
        if name not in mentions:
            ordered.append(name)
            mentions[name] = matched
    return ordered, mentions


# ---- unknown services -------------------------------------------------------------------

_CANDIDATE = r"([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)"
# Patterns that clearly name a service; checked even when a known service was also found.
_STRONG_PATTERNS = (
    re.compile(rf"\b{_CANDIDATE}[ -](?:micro)?(?:service|svc)s?\b"),
    re.compile(rf"\b(?:service|svc)[ :]+{_CANDIDATE}\b"),
    re.compile(r"\b((?:svc|srv)-[a-z0-9-]+|[a-z0-9]+-(?:svc|srv|service|api))\b"),
    re.compile(rf"\bis (?:the )?{_CANDIDATE} (?:healthy|ok|okay|up|down|degraded|alive|"
               r"working|erroring|failing|broken|slow|flapping|happy)\b"),
)
_REGION = re.compile(r"^(?:us|eu|ap|sa|ca|me|af)-")
# Prepositional pattern; only used when no known service was found (see _unknown_candidates).
# The word must end the clause or be followed by a word that fits after a service name, so
# "for placing an order" and "in the spring" are not read as services.
_WEAK_PATTERN = re.compile(
    rf"\b(?:with|of|for|on|in) (?:the )?{_CANDIDATE}(?=\s*(?:$|[?!.,;:)]|\s(?:today|"
    r"yesterday|now|right|since|over|during|last|past|between|from|at|logs?|errors?|latency|"
    r"is|are|was|were|and|or|please|pls|this|tonight|service|svc)\b))"
)
# A last guess, only when discovery could not list the services and no other pattern found
# one: the first or last word of a terse question, beside a metric's words ("db connections
# payment", "checkout p99").
_BARE_WORD = re.compile(rf"\b{_CANDIDATE}\b")


def _is_common(word: str) -> bool:
    return word in COMMON_WORDS or (word.endswith("s") and word[:-1] in COMMON_WORDS)


def _is_common_typo(word: str) -> bool:
    """A slip of an everyday word ("teh", "chnaged", "lsat"): one edit, or for a 3-letter word
    two swapped letters, away from a common word. Only checked where a service would be a guess."""
    if len(word) < 3 or not word.isalpha():
        return False
    hit = process.extractOne(word, COMMON_WORDS, scorer=OSA.distance, score_cutoff=1)
    return hit is not None and (len(word) > 3 or sorted(hit[0]) == sorted(word))


def _metric_words() -> set[str]:
    words: set[str] = set()
    for info in METRICS.values():
        for syn in info.synonyms:
            words.update(_TOKEN.findall(syn))
    return words


def _unknown_candidates(text: str, original: str, matcher: _ServiceMatcher,
                        any_known: bool, bare: bool = False) -> list[str]:
    patterns = [(p, True) for p in _STRONG_PATTERNS]
    if not any_known:
        patterns.append((_WEAK_PATTERN, False))
    metric_words = _metric_words()
    if bare:
        patterns = [(_BARE_WORD, False)]
    out: list[str] = []
    for pattern, strong in patterns:
        for match in pattern.finditer(text):
            word = match.group(1)
            key = _key(word)
            if bare and not _beside_metric(text, match.start(1), match.end(1), metric_words):
                continue
            if (
                len(key) < 3
                or _is_common(word)
                or _is_common(key)
                or key in metric_words
                or key in matcher.alias_words
                or word in _SERVICE_NOUNS
                or (not strong and (any(ch.isdigit() for ch in key) or _REGION.match(word)
                                    or _is_common_typo(key)))
                or re.search(r"[a-z][A-Z]", original[match.start(1) : match.end(1)])
                or matcher.lookup(word) is not None
                or _fuzzy_service(key, matcher.keys) is not None
            ):
                continue
            # A service suffix glued on ("billing-service") is not part of the name.
            name = re.sub(r"[-_](?:service|svc|srv)$", "", word)
            if name not in out:
                out.append(name)
    return out


def _beside_metric(text: str, start: int, end: int, metric_words: set[str]) -> bool:
    before = _TOKEN.findall(text[:start])
    after = _TOKEN.findall(text[end:])
    return bool(not before and after and after[0] in metric_words
                or not after and before and before[-1] in metric_words)


def unknown_service_error(name: str, services: Sequence[str]) -> UnknownService:
    known = ", ".join(sorted(services))
    message = f"unknown service '{name}' (known services: {known})"
    best = process.extractOne(name, list(services), scorer=ratio, score_cutoff=75)
    if best is not None:
        message += f"; did you mean '{best[0]}'?"
    return UnknownService(message)


# ---- metrics, log level, keywords ---------------------------------------------------------

_GENERIC_LATENCY = {"latency", "slow", "slowness", "response time", "duration", "tail latency"}


def _phrase(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(phrase)}(?:s|es)?(?![a-z0-9])")


_METRIC_PHRASES = sorted(
    ((syn, name) for name, info in METRICS.items() for syn in info.synonyms),
    key=lambda pair: -len(pair[0]),
)
_METRIC_PATTERNS = [(_phrase(syn), syn, name) for syn, name in _METRIC_PHRASES]


def find_metrics(text: str) -> list[str]:
    """Catalog metric names in order of mention; a bare "latency" means p99 unless p50/p95."""
    text = text.lower()
    taken = [False] * len(text)
    hits: list[tuple[int, str, bool]] = []
    for pattern, syn, name in _METRIC_PATTERNS:
        for m in pattern.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            for i in range(m.start(), m.end()):
                taken[i] = True
            hits.append((m.start(), name, syn in _GENERIC_LATENCY))
    hits.sort()
    explicit_latency = any(n in LATENCY_METRICS and not generic for _, n, generic in hits)
    out: list[str] = []
    for _, name, generic in hits:
        if generic and explicit_latency:
            continue
        if name not in out:
            out.append(name)
    return out


_ERROR_LEVEL = re.compile(
    r"\b(?:errors?(?! (?:rate|ratio|budget))|exceptions?|stack ?traces?|tracebacks?|fatal|"
    r"panics?|crash(?:es|ed)?)\b"
)
_WARN_LEVEL = re.compile(r"\b(?:warn|warns|warning|warnings)\b")


def find_log_level(text: str) -> str | None:
    text = text.lower()
    if _ERROR_LEVEL.search(text):
        return "ERROR"
    if _WARN_LEVEL.search(text):
        return "WARN"
    return None


# A single quote only opens or closes at a word edge: the apostrophes in "what's wrong with
# checkout's db" are not quotes.
_QUOTED = re.compile(
    r"\"([^\"]+)\"|(?<![A-Za-z0-9])'([^']+)'(?![A-Za-z0-9])|`([^`]+)`|“([^”]+)”|‘([^’]+)’"
)
_KEYWORD_LEAD = re.compile(
    r"\b(?:containing|contains|matching|matches|mentioning|grep(?: for)?|search(?:ing)? for|"
    r"look(?:ing)? for|with the (?:text|string|message)|that says?)\s+([\w./:=-]+)"
)
_NOT_KEYWORDS = {"the", "a", "an", "any", "all", "some", "logs", "log", "it", "this", "that",
                 "me", "errors", "error", "lines", "entries"}


def _keyword_spans(text: str, is_service: Callable[[str], bool]) -> list[tuple[int, int, str]]:
    """(start, end, keyword) for quoted strings and the word after "containing", "grep for"..."""
    spans: list[tuple[int, int, str]] = []
    for m in _QUOTED.finditer(text):
        value = next(g for g in m.groups() if g is not None).strip()
        if value:
            spans.append((m.start(), m.end(), value))
    lowered = text.lower()
    for m in _KEYWORD_LEAD.finditer(lowered):
        if any(s <= m.start(1) < e for s, e, _ in spans):
            continue
        word = text[m.start(1) : m.end(1)].strip(".:")
        if word and word.lower() not in _NOT_KEYWORDS and not is_service(word):
            spans.append((m.start(), m.end(), word))
    return sorted(spans)


def find_keywords(text: str, is_service: Callable[[str], bool] = lambda _: False) -> list[str]:
    """Quoted strings and the word after "containing", "matching", "grep for" and the like."""
    out: list[str] = []
    for _, _, word in _keyword_spans(text, is_service):
        if word not in out:
            out.append(word)
    return out


def extract_entities(
    text: str,
    now: datetime,
    services: Sequence[str],
    aliases: Mapping[str, str] | None = None,
    *,
    check_services: bool = True,
    check_window: bool = True,
    services_incomplete: bool = False,
) -> Entities:
    """Everything the tools need from one question; raises a QuestionError the user can fix.

    With check_services=False an unknown service is ignored instead of raised, and with
    check_window=False an impossible window becomes None: chit-chat and off-topic questions
    are not about our systems, and "who is on call next week" may look ahead. With
    services_incomplete=True (discovery could not read a backend) a name in a service's place is
    taken as the service the question means instead of being refused as unknown.
    """
    if not text.strip():
        raise EmptyQuestion("the question is empty; ask something like 'why is checkout slow?'")
    lowered = text.lower()
    if len(lowered) != len(text):  # a few Unicode letters change length when lower-cased
        text = lowered
    matcher = _ServiceMatcher(services, aliases)
    spans = _keyword_spans(text, lambda word: matcher.lookup(word) is not None)
    # Searched-for words are blanked (keeping offsets) so they are not read as services.
    chars = list(lowered)
    for start, end in [(s, e) for s, e, _ in spans] + [m.span() for m in _MARKER.finditer(lowered)]:
        chars[start:end] = " " * (end - start)
    searchable = "".join(chars)
    ordered: list[str] = []
    mentions: dict[str, str] = {}
    for name, _, start, end in matcher.find(searchable):
        if name not in mentions:
            ordered.append(name)
            mentions[name] = text[start:end]
    if check_services:
        unknown = _unknown_candidates(searchable, text, matcher, any_known=bool(ordered))
        if services_incomplete and not unknown and not ordered:
            unknown = _unknown_candidates(searchable, text, matcher, any_known=False, bare=True)
        if unknown and services_incomplete:
            for name in unknown:
                if name not in mentions:
                    ordered.append(name)
                    mentions[name] = name
        elif unknown:
            raise unknown_service_error(unknown[0], services)
    try:
        window = parse_time_window(text, now)
    except BadTimeWindow:
        if check_window:
            raise
        window = None
    keywords: list[str] = []
    for _, _, word in spans:
        if word not in keywords:
            keywords.append(word)
    return Entities(
        services=ordered,
        metrics=find_metrics(searchable),
        window=window,
        log_level=find_log_level(searchable),
        keywords=keywords,
        mentions=mentions,
    )
