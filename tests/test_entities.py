"""Entity extraction: services, unknown services, metrics, time windows, keywords, log level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.answer import BadTimeWindow, EmptyQuestion, QuestionError, UnknownService
from bot.entities import (
    extract_entities,
    find_keywords,
    find_metrics,
)
from bot.timewindow import parse_time_window

SERVICES = ["frontend", "cart", "checkout", "payment", "currency", "shipping", "email",
            "catalog", "recommendation", "ad", "redis", "postgres"]
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def ents(text: str, now: datetime = NOW, services: list[str] | None = None, **kw):
    return extract_entities(text, now, SERVICES if services is None else services, **kw)


# ---- services -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("why is checkout slow", ["checkout"]),
    ("payments are failing", ["payment"]),
    ("cpu of checkoutservice", ["checkout"]),
    ("logs of checkout-service", ["checkout"]),
    ("cart svc error rate", ["cart"]),
    ("cartservice and paymentservice", ["cart", "payment"]),
    ("whats up with chekout", ["checkout"]),
    ("recomendation is slow", ["recommendation"]),
    ("paymnet errors", ["payment"]),
    ("shiping latency", ["shipping"]),
    ("is the db ok", ["postgres"]),
    ("database connections", ["postgres"]),
    ("pg disk usage", ["postgres"]),
    ("postgresql replication", ["postgres"]),
    ("cache hit rate", ["redis"]),
    ("recs are slow", ["recommendation"]),
    ("recommender cpu", ["recommendation"]),
    ("ads not loading", ["ad"]),
    ("the website is down", ["frontend"]),
    ("ui errors", ["frontend"]),
    ("storefront latency", ["frontend"]),
    ("checkout, cart and checkout again", ["checkout", "cart"]),
    ("redis then email then ad", ["redis", "email", "ad"]),
    ("CHECKOUT IS DOWN", ["checkout"]),
    ("catalog", ["catalog"]),
])
def test_services_are_found_in_order_of_mention(text: str, expected: list[str]) -> None:
    assert ents(text).services == expected


@pytest.mark.parametrize("text", [
    "i was shopping for a new card",
    "the current state of things",
    "show me the cards",
    "shipped it yesterday",
    "adding a new dashboard",
    "is everything ok",
    "carton of milk",
    "payload size",
])
def test_common_words_are_not_services(text: str) -> None:
    assert ents(text, check_services=False).services == []


def test_alias_applies_only_when_its_target_is_deployed() -> None:
    assert ents("is the db ok", services=["frontend", "api"]).services == []
    assert ents("is the site ok", services=["api", "frontend"]).services == ["frontend"]


def test_custom_aliases_and_service_names() -> None:
    services = ["api-gateway", "orders", "product-catalog"]
    aliases = {"gw": "api-gateway"}
    found = extract_entities("gw errors and product catalog latency for orders", NOW, services,
                             aliases)
    assert found.services == ["api-gateway", "product-catalog", "orders"]
    assert extract_entities("logs of api-gateway", NOW, services).services == ["api-gateway"]


def test_mentions_record_the_matched_text() -> None:
    found = ents("why are Payments and the DB slow")
    assert found.mentions == {"payment": "Payments", "postgres": "DB"}


# ---- unknown services -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "name"), [
    ("what's wrong with the billing service", "billing"),
    ("latency of svc-foo", "svc-foo"),
    ("is inventory healthy", "inventory"),
    ("errors from the auth service", "auth"),
    ("logs for service ledger", "ledger"),
    ("cpu of kafka", "kafka"),
    ("is the search service down", "search"),
    ("p99 for billing-api", "billing-api"),
    ("restart the notifications svc", "notifications"),
])
def test_unknown_service_is_refused(text: str, name: str) -> None:
    with pytest.raises(UnknownService) as info:
        ents(text)
    message = str(info.value)
    assert f"unknown service '{name}'" in message
    assert "known services: ad, cart, catalog" in message
    assert "\n" not in message


def test_unknown_service_suggests_a_close_name() -> None:
    with pytest.raises(UnknownService, match="did you mean 'checkout'"):
        ents("is the checkouts-v2 service up")
    with pytest.raises(UnknownService) as info:
        ents("what's wrong with the billing service")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("text", [
    "what's wrong with the site",
    "is anything broken",
    "what is wrong right now",
    "errors in the logs",
    "anything weird in prod",
    "latency for the last hour",
    "what happened in the last deploy",
    "spike in traffic since 14:00",
    "which service is slow",
    "is every service healthy",
    "show me the service map",
    "is the service ok",
    "errors on friday",
    "grep for timeout",
    "logs containing deadlock in checkout",
    "search for 'connection refused' in the logs",
    "who is on call for me",
    "increase in memory of cart",
    "is prod healthy",
    "is everything ok",
    "p99 of checkout in us-east-1",
    "help with a query",
    "what changed in the last 2 hours",
    "any alerts in staging",
    "errors for user 4412",
    "is it down",
])
def test_ordinary_questions_do_not_raise_unknown_service(text: str) -> None:
    ents(text)


def test_lenient_mode_ignores_unknown_services_and_bad_windows() -> None:
    found = ents("what's the weather in paris tomorrow", check_services=False, check_window=False)
    assert found.services == [] and found.window is None
    with pytest.raises(UnknownService):
        ents("what's the weather in paris")


# ---- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_question(text: str) -> None:
    with pytest.raises(EmptyQuestion):
        ents(text)


def test_error_tree() -> None:
    for error in (UnknownService, BadTimeWindow, EmptyQuestion):
        assert issubclass(error, QuestionError)
    assert issubclass(QuestionError, ValueError)


# ---- metrics, log level, keywords ------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("why is checkout slow", ["latency_p99"]),
    ("latency of cart", ["latency_p99"]),
    ("p50 of cart", ["latency_p50"]),
    ("p95 latency of cart", ["latency_p95"]),
    ("p50 and p95 latency", ["latency_p50", "latency_p95"]),
    ("cpu and memory of redis", ["cpu", "memory"]),
    ("error rate and rps", ["error_rate", "request_rate"]),
    ("how many requests per second", ["request_rate"]),
    ("db connections", ["connections"]),
    ("disk usage", ["disk"]),
    ("when does the tls cert expire", ["cert_expiry"]),
    ("5xx on frontend", ["error_rate"]),
    ("who is on call", []),
    ("mem usage cart", ["memory"]),
    ("OOM stuff", ["memory"]),
    ("gc pauses on cart", ["memory"]),
    ("frontend error % rn", ["error_rate"]),
    ("err rate checkout", ["error_rate"]),
])
def test_metrics(text: str, expected: list[str]) -> None:
    assert find_metrics(text) == expected


@pytest.mark.parametrize(("text", "level"), [
    ("show error logs for cart", "ERROR"),
    ("any exceptions in payment", "ERROR"),
    ("stack traces from checkout", "ERROR"),
    ("show warnings from email", "WARN"),
    ("warn logs for redis", "WARN"),
    ("error rate of cart", None),
    ("logs for cart", None),
])
def test_log_level(text: str, level: str | None) -> None:
    assert ents(text).log_level == level


@pytest.mark.parametrize(("text", "expected"), [
    ('search logs for "connection refused"', ["connection refused"]),
    ("grep for timeout in payment", ["timeout"]),
    ("grep 'tls handshake' in frontend", ["tls handshake"]),
    ("logs containing oom for shipping", ["oom"]),
    ("lines matching deadline_exceeded", ["deadline_exceeded"]),
    ("logs mentioning `pool exhausted` or matching retry", ["pool exhausted", "retry"]),
    ("show logs for cart", []),
])
def test_keywords(text: str, expected: list[str]) -> None:
    assert find_keywords(text) == expected


def test_keywords_are_not_read_as_services() -> None:
    found = ents("grep for inventory in checkout logs")
    assert found.services == ["checkout"]
    assert found.keywords == ["inventory"]


# ---- time windows ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "end"), [
    ("last 30m", NOW - timedelta(minutes=30), NOW),
    ("last 30 minutes", NOW - timedelta(minutes=30), NOW),
    ("past 2 hours", at(13), NOW),
    ("past hour", at(14), NOW),
    ("last day", at(15, day=19), NOW),
    ("in the last 45 mins", at(14, 15), NOW),
    ("over the last 2h", at(13), NOW),
    ("last 7 days", at(15, day=13), NOW),
    ("last week", at(15, day=13), NOW),
    ("past half an hour", at(14, 30), NOW),
    ("since 14:05", at(14, 5), NOW),
    ("since 2pm", at(14), NOW),
    ("since 9am yesterday", at(9, day=19), NOW),
    ("since yesterday", at(0, day=19), NOW),
    ("since midnight", at(0), NOW),
    ("yesterday", at(0, day=19), at(0)),
    ("today", at(0), NOW),
    ("this morning", at(6), at(12)),
    ("yesterday afternoon", at(12, day=19), at(18, day=19)),
    ("between 13:00 and 14:00", at(13), at(14)),
    ("between 1pm and 2:30pm", at(13), at(14, 30)),
    ("from 13:00 to 14:30", at(13), at(14, 30)),
    ("between 13:00 and 14:00 yesterday", at(13, day=19), at(14, day=19)),
    ("13:00-14:00", at(13), at(14)),
    ("at 14:05", at(13, 50), at(14, 20)),
    ("around 2pm", at(13, 45), at(14, 15)),
    ("2026-11-20T14:00Z", at(13, 45), at(14, 15)),
    ("since 2026-11-20T12:30:00Z", at(12, 30), NOW),
    ("on 2026-11-19", at(0, day=19), at(0)),
    ("20 minutes ago", at(14, 40), NOW),
])
def test_time_windows(text: str, start: datetime, end: datetime) -> None:
    window = parse_time_window(f"p99 of checkout {text}", NOW)
    assert window is not None
    assert (window.start, window.end) == (start, end)
    assert window.start.tzinfo is not None and window.end.tzinfo is not None


def test_window_text_is_the_phrase_that_asked() -> None:
    window = parse_time_window("cpu of cart Since 14:05 please", NOW)
    assert window is not None and window.text == "Since 14:05"


def test_since_a_clock_time_later_than_now_means_yesterday() -> None:
    now = at(13)
    window = parse_time_window("since 14:05", now)
    assert window is not None
    assert (window.start, window.end) == (at(14, 5, day=19), now)


def test_at_clock_time_near_now_is_clipped_to_now() -> None:
    window = parse_time_window("at 14:55", NOW)
    assert window is not None and window.end == NOW


def test_no_window() -> None:
    assert parse_time_window("why is checkout slow", NOW) is None
    assert ents("what changed in the last deploy").window is None


@pytest.mark.parametrize(("text", "hint"), [
    ("between 15:00 and 14:00", "ends before it starts"),
    ("next hour", "in the future"),
    ("in the next 30 minutes", "in the future"),
    ("tomorrow", "in the future"),
    ("since 2026-12-01T00:00Z", "in the future"),
    ("last 0 minutes", "empty"),
    ("between 14:00 and 14:00", "empty"),
    ("last 60 days", "longer than 31 days"),
    ("last 2 months", "longer than 31 days"),
    ("since 25:00", "not a time of day"),
    ("at 2026-13-40", "not a valid date"),
])
def test_impossible_windows(text: str, hint: str) -> None:
    with pytest.raises(BadTimeWindow, match=hint) as info:
        ents(f"latency of cart {text}")
    assert "\n" not in str(info.value)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_time_window("last hour", datetime(2026, 11, 20, 15, 0))


def test_no_shipped_example_question_is_refused() -> None:
    """Every ops example in the router's training data extracts cleanly: a broad negative set."""
    data = yaml.safe_load((Path(__file__).parents[1] / "bot/data/utterances.yaml").read_text())
    for intent, examples in data["intents"].items():
        if intent in ("help", "out_of_scope"):
            continue
        for text in examples:
            extract_entities(text, NOW, SERVICES, check_window=intent != "oncall")


def test_apostrophes_are_not_quotes() -> None:
    found = ents("what's wrong with checkout's db, it's slow")
    assert found.keywords == []
    assert found.services == ["checkout", "postgres"]


def test_at_sign_means_at() -> None:
    window = parse_time_window("errors @14:05", NOW)
    assert window is not None and window.start == at(13, 50)


@pytest.mark.parametrize("text", [
    "wat changed in teh last 2h",
    "errors in teh logs",
    "anything wierd with the chekout",  # "chekout" is a typo of checkout, found as it
    "latency for the lsat hour",
])
def test_typos_of_ordinary_words_are_not_unknown_services(text: str) -> None:
    ents(text)


def test_a_typo_of_a_service_name_still_finds_the_service() -> None:
    assert ents("anything wierd with the chekout").services == ["checkout"]


def test_a_real_unknown_service_is_still_refused_next_to_typos() -> None:
    with pytest.raises(UnknownService, match="'kafka'"):
        ents("cpu of kafka over teh last hour")


@pytest.mark.parametrize(("text", "offset", "label"), [
    ("compare error rate today vs yesterday", 86400, "the same time yesterday"),
    ("p99 of cart compared to last week", 7 * 86400, "the same time last week"),
    ("errors vs 3h ago", 3 * 3600, "3 hours ago"),
    ("cart latency now vs this morning", 6 * 3600, "this morning (09:00 UTC)"),
])
def test_comparisons_with_an_earlier_moment(text: str, offset: int, label: str) -> None:
    from bot.timewindow import find_comparison

    found = find_comparison(text, datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    assert found is not None and (found.offset_s, found.label) == (offset, label)


def test_no_comparison_in_a_plain_question() -> None:
    from bot.timewindow import find_comparison

    assert find_comparison("error rate of cart since yesterday",
                           datetime(2026, 11, 20, 15, 0, tzinfo=UTC)) is None
