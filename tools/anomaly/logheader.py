"""Where a raw log line's header (timestamp, pid, level, node, thread, component) ends.

The miner groups lines by their message, so header fields must neither route a line nor count
in its similarity: a level or a node name that varies would split one event, and the header's
shared shape would pull different events together. Nothing is known about the file's format:
the header is recognised by shape, in one left-to-right scan of the first tokens:

- stamp tokens: anything holding a digit (dates, times, epochs, pids, node ids such as
  `R02-M1-N0-C:J12-U11`), month and day names, and the separators `-` and `|`;
- levels (`INFO`, `[notice]`, `Info,`, Android's one-letter `D` after a pid) and bracket groups
  (`[main]`, `[IPC Server handler 5 on 8020]`, `[req-... - - -]`);
- the end: a component ending in `:` (`dfs.DataNode$PacketResponder:`, after a syslog host:
  `LabSZ sshd[24200]:`), a word followed by ` - ` (`chrome.exe - `), or a bracket group
  followed by ` - ` (`[thread] - `), or a level after upper-case words (`RAS KERNEL INFO`).

A line counts as having a header only when a time-like token (`12:04`, `081109`, `2005.06.03`,
an epoch) opens it, so plain messages (`GET /x 200`) keep every token.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

MAX_HEADER_TOKENS = 16
LEVELS = frozenset(("INFO", "INFORMATION", "WARN", "WARNING", "ERROR", "ERR", "DEBUG", "TRACE",
                    "FATAL", "NOTICE", "SEVERE", "CRITICAL", "CRIT", "EMERG", "ALERT", "FINE",
                    "FINER", "FINEST", "CONFIG", "VERBOSE"))
NAMES = frozenset(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                   "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun"))
_DIGIT = re.compile(r"\d").search
_TIMEISH = re.compile(r"\d:\d|\d{6}|\d[-/.]\d+[-/.]\d").search  # digits: < 6 or 6+
_COMPONENT = re.compile(r"[\w.$\-/()\[\]@#<>*]*:").fullmatch
_PLAIN = re.compile(r"[A-Za-z][\w.\-]*").fullmatch
_KEYVALUE = re.compile(r"[A-Za-z_]{2,}[:=]\d[\w.]*,?").fullmatch
_CAPS = re.compile(r"[A-Z][A-Z_]+").fullmatch
_SEPARATORS = frozenset(("-", "|", "--", "::"))


def _level(tok: str) -> bool:
    return tok.strip("[](),:").upper() in LEVELS


def _bracket_end(tokens: list[str], i: int, limit: int) -> int:
    """Index after the bracket group opening at `i`, or -1 if it does not close soon."""
    depth = 0
    for j in range(i, min(limit, i + 10)):
        depth += tokens[j].count("[") - tokens[j].count("]")
        if depth <= 0:
            return j + 1
    return -1


_OPEN, _TIME, _COMP, _NAMESEP, _LEVEL, _PLAINK, _CAPSK, _ANYDIGIT = (1 << b for b in range(8))
_KINDS: dict[str, int] = {}  # token -> its kind bits (bounded; tokens repeat line after line)


def _kind(tok: str) -> int:
    kind = _KINDS.get(tok)
    if kind is not None:
        return kind
    if _DIGIT(tok):  # mostly unique (times, pids, ids): not kept; no level, name or caps
        return ((_OPEN if tok[0] == "[" and "]" not in tok else 0)
                | _ANYDIGIT
                | (_TIME if _TIMEISH(tok) else 0)
                | (_COMP if tok[-1] == ":" and _COMPONENT(tok) else 0)
                | (_PLAINK if _PLAIN(tok) else 0))
    level = _level(tok)
    kind = ((_OPEN if tok[0] == "[" and "]" not in tok and not level else 0)
            | (_COMP if tok[-1] == ":" and _COMPONENT(tok) else 0)
            | (_NAMESEP if tok.lower().strip("[,") in NAMES or tok in _SEPARATORS else 0)
            | (_LEVEL if level else 0)
            | (_PLAINK if _PLAIN(tok) else 0)
            | (_CAPSK if _CAPS(tok) else 0))
    if len(_KINDS) >= 50_000:
        _KINDS.clear()
    _KINDS[tok] = kind
    return kind


def header_length(tokens: list[str]) -> int:
    """How many of `tokens` (a line split on whitespace) form its header; 0 if none."""
    n = min(len(tokens) - 1, MAX_HEADER_TOKENS)  # at least one token stays the message
    i = 0
    timed = False
    after_bracket = False
    prev_number = False
    fields = False  # a `word |` field was seen: digits go on only as fields (`| 3002 |`)
    while i < n:
        tok = tokens[i]
        if _DIGIT(tok) and "=" not in tok and (tok[0] != "[" or "]" in tok):
            if fields and tokens[i + 1] not in _SEPARATORS or timed and _KEYVALUE(tok):
                return i  # `onExtend:1514038530000`: the message has begun
            if not timed and i < 6 and _TIMEISH(tok):
                timed = True
            if timed and tok[-1] == ":" and _COMPONENT(tok):
                return i + 1  # `sshd[24200]:`, `kernel[0]:`, `syslogd 1.4.1:`
            prev_number = tok.isdigit()
            i += 1
            continue
        kind = _kind(tok)
        if kind & _OPEN:
            end = _bracket_end(tokens, i, n)  # `[10.30 16:49:06]`, `[req-1a2b c3 - - -]`
            if end < 0 or not timed and not any(_kind(t) & _TIME for t in tokens[i:end]):
                return i
            i, timed, after_bracket = end, True, True
            continue
        if i == 0 and kind & _CAPSK and n > 1 and _kind(tokens[1]) & _TIME:
            i = 1  # an alert label before the time: `KERNDTLB 1118536327 2005.06.11 ...`
            continue
        if kind & _NAMESEP:
            if tok == "-" and after_bracket:
                return i + 1
            i += 1
            continue
        if not timed:
            return i  # only numbers so far (`460281 node-246`): they are masked anyway
        if kind & _LEVEL or (prev_number and len(tok) == 1 and tok in "VDIWEFA"):
            prev_number = False
            i += 1
            continue
        if tok[0] == "[":
            end = _bracket_end(tokens, i, n)
            if end < 0:
                return i
            i, after_bracket = end, True
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        plain = kind & _PLAINK
        if nxt in ("-", "|") and plain and i + 2 <= n:
            i += 2
            if nxt == "-":
                return i
            fields = True
            continue
        if after_bracket and plain and "-" in tokens[i + 2:i + 4]:
            end = tokens.index("-", i + 2, i + 4)  # `[10.30 16:49:06] WeChatWeb.exe *64 - `
            if end < n and not any(":" in t or "=" in t for t in tokens[i + 1:end]):
                return end + 1
        if nxt.startswith("[") and plain and _kind(tokens[i - 1]) & _LEVEL:
            i += 1  # `INFO nova.compute.manager [req-...]`: a component before its context
            continue
        reach = 1 if after_bracket else 4
        for k in range(i, min(n, i + reach)):
            kk = _kind(tokens[k])
            if kk & _COMP and (k < i + 2 or "[" in tokens[k] or kk & _ANYDIGIT):
                return k + 1  # `LabSZ sshd[24200]:`, `host Google Chrome Helper[9]:`
            if not kk & _PLAINK:
                break
        if kind & _CAPSK and i + 2 < n:
            for k in (i + 1, i + 2):
                kk = _kind(tokens[k])
                if kk & _LEVEL:
                    return k + 1
                if not kk & _CAPSK:
                    break
        return i
    return i


SAMPLE_LINES = 200
# A whole token (from its start, no backtracking inside it: the naive `\S+` retried from every
# character of every token, the most expensive step of a short file) before a run of spaces.
_GAP = re.compile(r"(?<!\S)\S++(?=\s{2,}\S)")
_DASHES = frozenset(("-", "--"))


@dataclass(frozen=True)
class HeaderShape:
    """A file's header, decided once from a sample of its lines so every line is split alike.

    `fixed` whitespace tokens open every header line (time, pid, level, node...); then, by
    `component`, nothing (`""`), a component ending in `:` (`"colon"`, one token, or up to four
    when the last holds a `[pid]`: `Google Chrome Helper[7]:`) or a name ended by ` - `
    (`"dash"`). In a `|`-separated format (`pipes` > 0) the header is the first `pipes`
    fields instead. A line whose own scan finds no header (a stack-trace line) keeps every token.
    """

    fixed: int = 0
    component: str = ""
    pipes: int = 0

    def split(self, line: str, limit: int) -> tuple[list[str], list[str]]:
        """(header tokens, message tokens) of `line`, at most `limit` tokens in all."""
        if self.pipes:
            parts = line.split("|", self.pipes)
            if len(parts) > self.pipes:
                head = [t for p in parts[:-1] for t in (*p.split(), "|")]
                return head, parts[-1].split()[:limit]
        tokens = line.split()[:limit]
        if not self.fixed or len(tokens) <= self.fixed or not header_length(tokens):
            return [], tokens
        cut = self.fixed
        if self.component == "colon":
            for k in range(cut, min(len(tokens) - 1, cut + 4)):
                if tokens[k][-1] == ":" and (k == cut or any(
                        "[" in t or "(" in t or _DIGIT(t) for t in tokens[cut:k + 1])):
                    cut = k + 1  # `Helper[7]:`, `launchd[1] (com.apple...):`, `syslogd 1.4.1:`
                    break
        elif self.component == "dash":
            for k in range(cut + 1, min(len(tokens) - 1, cut + 4)):
                if tokens[k] in _DASHES:
                    cut = k + 1
                    break
        return tokens[:cut], tokens[cut:]


def learn_shape(lines: Sequence[str]) -> HeaderShape:
    """The header shape most of `lines` (a file's first lines) share; no header if none does.

    Each line is scanned on its own (`header_length`); the file's shape is the commonest
    (fixed part, component kind) among the lines that have a header. Columns padded with runs
    of spaces (`Info                  CBS    Loaded ...`) extend the fixed part to the last
    padded column that most lines share, since a padded column is a field, not prose.
    """
    sample = [line for line in lines[:SAMPLE_LINES] if line.strip()]
    if not sample:
        return HeaderShape()
    shapes: Counter[tuple[int, str, int]] = Counter()
    gaps: Counter[int] = Counter()
    for line in sample:
        pipes = 0
        tokens = line.replace("|", " | ").split() if "|" in line else line.split()
        cut = header_length(tokens)
        if not cut:
            shapes[(0, "", 0)] += 1
            continue
        pipes = tokens[:cut].count("|")
        last = tokens[cut - 1]
        if pipes:
            shapes[(0, "", pipes)] += 1
        elif last[-1] == ":" and len(last) > 1:
            shapes[(cut - 1, "colon", 0)] += 1
        elif last in _DASHES and cut >= 2:
            shapes[(cut - 2, "dash", 0)] += 1
        else:
            shapes[(cut, "", 0)] += 1
        head = line[:len(line) - len(line.lstrip())]
        counts = (len(line[:m.end()].split()) for m in reversed(list(
            _GAP.finditer(line, len(head), min(len(line), 400)))))
        gaps[next((c for c in counts if c <= MAX_HEADER_TOKENS), 0)] += 1
    (fixed, component, pipes), _ = shapes.most_common(1)[0]
    gap, n = gaps.most_common(1)[0] if gaps else (0, 0)
    if fixed and not pipes and component != "dash" and n >= 0.6 * len(sample) and (
            gap > fixed or gap == fixed and component):
        fixed, component = gap, ""  # the message starts after the last padded column
    return HeaderShape(fixed, component, pipes)
