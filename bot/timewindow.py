"""The time grammar of on-call questions: "last 30m", "since 2pm", "between 13:00 and 14:00".

`parse_time_window(text, now)` finds the first time expression in a question and turns it into a
`TimeWindow` of tz-aware UTC datetimes, or returns None when the question names no time. Windows
that cannot be queried raise `BadTimeWindow` with one line saying what to change. All clock times
are UTC; a clock time later than `now` means that time yesterday.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.answer import BadTimeWindow, TimeWindow

MAX_WINDOW = timedelta(days=31)
AT_HALF_WIDTH = timedelta(minutes=15)  # "at 14:05" means 13:50-14:20

_UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
}
_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90, "couple": 2, "couple of": 2,
    "few": 3, "zero": 0, "half an": 0.5, "half a": 0.5,
}

_UNIT = "(" + "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True)) + r")\b"
_NUM = (r"(\d+(?:\.\d+)?|" + "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len,
                                              reverse=True)) + r")")
_CLOCK = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)|\d{1,2}:\d{2}(?:\s?(?:utc|z)\b)?|noon|midnight)"
_ISO = (r"\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
        r"(?:z|\s?utc|[+-]\d{2}:?\d{2})?")
_POINT = rf"(?:{_ISO}|{_CLOCK})"
_DAY = r"(yesterday|today)"
_PART_HOURS = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}

_FUTURE = re.compile(
    rf"\b(?:next|coming|upcoming)\s+(?:{_NUM}\s*)?{_UNIT}|\btomorrow\b|\blater today\b"
)
_BETWEEN = re.compile(
    rf"\b(?:between|from)\s+(?:{_DAY}\s+)?(?:at\s+)?({_POINT})\s*(?:and|to|until|till|-|–)\s*"
    rf"({_POINT})(?:\s+{_DAY})?"
)
_RANGE = re.compile(rf"\b({_CLOCK})\s*(?:-|–|to)\s*({_CLOCK})(?:\s+{_DAY})?")
_AGO = re.compile(rf"\b(?:since\s+|from\s+)?{_NUM}\s*{_UNIT}\s+ago\b")
_SINCE = re.compile(
    rf"\b(?:since|after|from)\s+(?:{_DAY}\s+)?(?:at\s+)?({_POINT})(?:\s+{_DAY})?"
)
_SINCE_DAY = re.compile(r"\bsince\s+(yesterday|this morning|midnight|last night)\b")
_RELATIVE = re.compile(
    rf"\b(?:(?:in|over|for|during|within)\s+)?(?:the\s+)?(?:last|past|previous|prev)\s+"
    rf"(?:{_NUM}\s*)?{_UNIT}"
)
_AT = re.compile(rf"(?:\b(?:at|around|about)|@)\s*({_POINT})(?:\s+{_DAY})?")
_DAY_AT = re.compile(rf"\b{_DAY}\s+(?:at|around)\s+({_POINT})")
_BARE_ISO = re.compile(rf"\b({_ISO})")
_PART_OF_DAY = re.compile(r"\b(this|yesterday)\s+(morning|afternoon|evening)\b")
_NIGHT = re.compile(r"\b(?:last night|overnight)\b")
_WHOLE_DAY = re.compile(r"\b(yesterday|today|this week)\b")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _parse_clock(clock: str) -> tuple[int, int]:
    clock = clock.strip().removesuffix("utc").removesuffix("z").strip()
    if clock == "noon":
        return 12, 0
    if clock == "midnight":
        return 0, 0
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s?(am|pm)?", clock)
    if m is None:
        raise BadTimeWindow(f"'{clock}' is not a time of day; write it as 14:05 or 2pm")
    hour, minute, ampm = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if ampm:
        if not 1 <= hour <= 12:
            raise BadTimeWindow(f"'{clock}' is not a time of day; write it as 14:05 or 2pm")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise BadTimeWindow(f"'{clock}' is not a time of day; write it as 14:05 or 2pm")
    return hour, minute


def _parse_iso(value: str) -> tuple[datetime, bool]:
    """The datetime and whether only a date was given."""
    value = value.strip().upper().replace("UTC", "Z").replace(" Z", "Z")
    date_only = len(value) == 10
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), date_only


def _point(value: str, day: str | None, now: datetime) -> datetime:
    """A clock time or ISO timestamp as a UTC datetime; a bare clock after `now` is yesterday."""
    if re.match(r"\d{4}-", value):
        return _parse_iso(value)[0]
    hour, minute = _parse_clock(value)
    today = now.date()
    when = _midnight(today) + timedelta(hours=hour, minutes=minute)
    if day == "yesterday" or (day is None and when > now):
        when -= timedelta(days=1)
    return when


def _amount(number: str | None, unit: str) -> timedelta:
    if number is None:
        count: float = 1
    elif number in _WORD_NUMBERS:
        count = _WORD_NUMBERS[number]
    else:
        count = float(number)
    return timedelta(seconds=count * _UNIT_SECONDS[unit])


def _checked(start: datetime, end: datetime, text: str, now: datetime) -> TimeWindow:
    if end < start:
        raise BadTimeWindow(
            f"the window '{text}' ends before it starts; put the earlier time first "
            "(e.g. 'between 14:00 and 15:00')"
        )
    future = BadTimeWindow(
        f"the window '{text}' is in the future; ask about the past (e.g. 'last hour')"
    )
    if start > now:
        raise future
    if end == start:
        raise BadTimeWindow(
            f"the window '{text}' is empty; ask for at least a minute (e.g. 'last 30 minutes')"
        )
    if start == now:
        raise future
    end = min(end, now)
    if end - start > MAX_WINDOW:
        raise BadTimeWindow(
            f"the window '{text}' is longer than 31 days; ask about a shorter window "
            "(e.g. 'last 7 days')"
        )
    return TimeWindow(start=start, end=end, text=text)


def _between(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    day = m.group(1) or m.group(4)
    start = _point(m.group(2), day, now)
    end = _point(m.group(3), day, now)
    if not re.match(r"\d{4}-", m.group(3)):  # a bare end clock is on the start's day
        end = _midnight(start.date()) + (end - _midnight(end.date()))
    return start, end


def _range(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    start = _point(m.group(1), m.group(3), now)
    end = _midnight(start.date()) + (_point(m.group(2), "today", now) - _midnight(now.date()))
    return start, end


def _since(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    start = _point(m.group(2), m.group(1) or m.group(3), now)
    return start, max(start, now)  # a start after now is reported as "in the future"


def _since_day(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    today = _midnight(now.date())
    starts = {"yesterday": today - timedelta(days=1), "this morning": today + timedelta(hours=6),
              "midnight": today, "last night": today - timedelta(hours=6)}
    return starts[m.group(1)], now


def _ago(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    return now - _amount(m.group(1), m.group(2)), now


def _relative(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    return now - _amount(m.group(1), m.group(2)), now


def _at(value: str, day: str | None, now: datetime) -> tuple[datetime, datetime]:
    if re.match(r"\d{4}-", value):
        when, date_only = _parse_iso(value)
        if date_only:
            return when, when + timedelta(days=1)
    else:
        when = _point(value, day, now)
    return when - AT_HALF_WIDTH, when + AT_HALF_WIDTH


def _part_of_day(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    day = _midnight(now.date()) - timedelta(days=1 if m.group(1) == "yesterday" else 0)
    first, last = _PART_HOURS[m.group(2)]
    return day + timedelta(hours=first), day + timedelta(hours=last)


def _night(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    today = _midnight(now.date())
    return today - timedelta(hours=6), today + timedelta(hours=6)


def _whole_day(m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    today = _midnight(now.date())
    if m.group(1) == "yesterday":
        return today - timedelta(days=1), today
    if m.group(1) == "this week":
        return today - timedelta(days=now.weekday()), now
    return today, now


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], datetime], tuple[datetime, datetime]]]
# Most specific first: "between 9am yesterday and ..." must not be read as plain "yesterday".
_RULES: list[_Rule] = [
    (_BETWEEN, _between),
    (_RANGE, _range),
    (_AGO, _ago),
    (_SINCE_DAY, _since_day),
    (_SINCE, _since),
    (_RELATIVE, _relative),
    (_DAY_AT, lambda m, now: _at(m.group(2), m.group(1), now)),
    (_AT, lambda m, now: _at(m.group(1), m.group(2), now)),
    (_BARE_ISO, lambda m, now: _at(m.group(1), None, now)),
    (_PART_OF_DAY, _part_of_day),
    (_NIGHT, _night),
    (_WHOLE_DAY, _whole_day),
]


def parse_time_window(text: str, now: datetime) -> TimeWindow | None:
    """The window the question asks about, None when it names no time; raises BadTimeWindow."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    now = now.astimezone(UTC)
    lowered = text.lower()
    original = text if len(text) == len(lowered) else lowered
    future = _FUTURE.search(lowered)
    if future is not None:
        raise BadTimeWindow(
            f"'{original[future.start():future.end()]}' is in the future; "
            "ask about the past (e.g. 'last hour')"
        )
    for pattern, build in _RULES:
        m = pattern.search(lowered)
        if m is None:
            continue
        phrase = original[m.start() : m.end()].strip()
        try:
            start, end = build(m, now)
        except ValueError as exc:  # fromisoformat on an impossible date such as 2026-13-40
            if isinstance(exc, BadTimeWindow):
                raise
            raise BadTimeWindow(f"'{phrase}' is not a valid date or time: {exc}") from None
        return _checked(start, end, phrase, now)
    return None


@dataclass(frozen=True)
class Comparison:
    """ "vs yesterday": compare now with the same moment `offset_s` earlier, named `label`."""

    offset_s: int
    label: str  # "the same time yesterday", "this morning (09:00 UTC)"


_COMPARE = re.compile(
    r"\b(?:vs\.?|versus|compared? (?:to|with)|than|against|relative to)\s+(?:the\s+)?"
    r"(?:same (?:time|moment|hour)\s+)?(yesterday|yday|yest|last week|a week ago|this morning|"
    r"an hour ago|(\d+)\s*(h|hr|hrs|hours?|d|days?)\s+ago)\b")
_MORNING_HOUR = 9  # "this morning" is read as 09:00 UTC


def find_comparison(text: str, now: datetime) -> Comparison | None:
    """The earlier moment a question compares now with, or None ("error rate vs yesterday")."""
    m = _COMPARE.search(text.lower())
    if m is None:
        return None
    what = m.group(1)
    if what in ("yesterday", "yday", "yest"):
        return Comparison(86400, "the same time yesterday")
    if what in ("last week", "a week ago"):
        return Comparison(7 * 86400, "the same time last week")
    if what == "an hour ago":
        return Comparison(3600, "an hour ago")
    if what == "this morning":
        morning = now.replace(hour=_MORNING_HOUR, minute=0, second=0, microsecond=0)
        offset = int((now - morning).total_seconds())
        return Comparison(offset, f"this morning ({_MORNING_HOUR:02d}:00 UTC)") \
            if offset > 0 else None
    n, unit = int(m.group(2)), m.group(3)
    seconds = n * (3600 if unit.startswith("h") else 86400)
    return Comparison(seconds, f"{n} {'hours' if unit.startswith('h') else 'days'} ago")


def asked_at(value: str, default: datetime, name: str = "--at") -> datetime:
    """When a question is asked, as `--at` (CLI) or `at` (MCP) give it: HH:MM on the default's
    day, an ISO time (UTC when no zone) or unix seconds. BadTimeWindow names `name`."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        if m := re.fullmatch(r"(\d{1,2}):(\d{2})", text):
            return default.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        raise BadTimeWindow(f"{name} {value!r}: expected HH:MM, an ISO time like "
                            "2026-11-20T14:05Z, or unix seconds") from None
