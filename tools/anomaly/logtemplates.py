"""Online log template mining: header split, masking, then a Drain-style parse tree.

Each raw line is split into its header (timestamp, pid, level, node, thread, component:
`tools.anomaly.logheader`) and its message. In the message, paths, host names and every token
holding a digit (numbers, IPs, ports, ids, block ids, hex, durations, timestamps, versions)
become `<*>` (a `key=` or `key:` prefix and surrounding brackets kept: `(uid=<*>)`, `[<*>]`;
`()` is an empty value, `(<*>)`), as do a unit right after a masked number (`1.2 KB`) and
month or day names in a date; words stay, `user=root` and names ending in a digit or two
(`ssh2`, `en0`) included. In the header, every token holding a digit. The header is split
by the file's `HeaderShape` (`miner_for` learns it from the first lines), so every line of a
file is split alike. Only the message decides the template, as in Drain (He et al., ICWS 2017):

1. a message whose masked tokens were seen before joins the same template (a cache);
2. else one whose constant tokens (the masked tokens without the `<*>`) were seen before joins
   that template: variable-length lists (`to delete blk_1 blk_2`) and optional values stay one
   template;
3. else it is routed by (token count, first token; `<*>` when the first token is variable or an
   HTTP method) to a leaf of candidate templates and joins the most similar one (share of
   positions with the same token, `<*>` included, at least `similarity`), whose differing
   positions become `<*>`; or it starts a new template. A position where only words have
   been seen becomes `<*>` only once more than `variants` words were seen there: Loghub's
   annotators keep `Failed password ...` and `Failed none ...` apart, user names merge.

The header is kept in the template text, masked, and generalised like the message. Lines equal
up to their digits (runs shorter than 6 digits or not) reuse the first such line's split and
masks (`_shapes`). Online: one pass, lines in order, deterministic. Bad lines: a line with NUL
bytes or mostly unprintable characters is one template `<binary>`; a line longer than
`MAX_LINE_CHARS` is mined on its first part only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.anomaly.logheader import NAMES, SAMPLE_LINES, HeaderShape, header_length, learn_shape

WILDCARD = "<*>"
BINARY_TEMPLATE = "<binary>"
MAX_LINE_CHARS = 4096
MAX_TOKENS = 128
_DIGIT = re.compile(r"\d").search
_WORD_NUMBER = re.compile(r"[A-Za-z]{2,}\d{1,2}").fullmatch
_UNIT = re.compile(r"\(?(?:[KMGTP]i?B|B|ms|us|ns|s|sec|secs|min|mins)\)?[,.;:)]?").fullmatch
_DOTTED = re.compile(r"[a-z][a-z\-]*(?:\.[a-z\-]+){2,}").fullmatch
_METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"))
_CACHE_LIMIT = 100_000
# A line's shape (the `_shapes` key): each run of 6+ digits is `\x01`, every shorter run `0`,
# except one or two digits right after an ASCII letter, kept as they are (`ssh2` and `en0` are
# words, not numbers; `_WORD_NUMBER` is ASCII too). Two substitutions with constant
# replacements: a Python callback per digit run was the miner's most expensive step. The second
# pattern starts with a digit (fast to reject) and looks back from it: a run's first digit after
# neither a letter nor a digit, or after a letter when the run is 3+ digits long (runs are
# whole, so the first pass leaves only runs of up to 5 digits). ASCII classes are faster: a
# digit outside ASCII stays as it is (a finer key), and digits after a non-ASCII letter are a
# number, as the masks see them too.
_LONG_RUNS = re.compile(r"(?a)\d{6,}").sub
_SHORT_RUNS = re.compile(r"(?a)\d(?:(?<![A-Za-z0-9]\d)\d*|(?<=[A-Za-z]\d)\d{2,})").sub
_NAMED = re.compile(r"([A-Za-z][A-Za-z_\-]*(?:\.{2,}|\((?!\w+=)|\.(?=\d+$)))").match
_CONTEXT = "\x00context"  # never a token: lines are split on whitespace
_MEMO: dict[str, str] = {}  # token -> its mask on its own (bounded like the line cache)


_OPENERS = "([{\"'"
_CLOSERS = ")]}\"',;:."
_EMPTY = frozenset(("()", "[]", "{}", '""', "''"))


def _mask_one(tok: str) -> str:
    """A token's mask on its own; `_CONTEXT` when it depends on its neighbours. Brackets,
    quotes and trailing punctuation around a variable stay: `(uid=<*>)`, `[<*>]`, `<*>:`;
    an empty pair is an empty value: `()` is `(<*>)`."""
    if len(tok) == 3 and tok.lower() in NAMES or _UNIT(tok):
        return _CONTEXT
    core = tok.lstrip(_OPENERS)
    bare = core.rstrip(_CLOSERS)
    if not bare:
        return tok[0] + WILDCARD + tok[1] if tok in _EMPTY else tok
    masked = _mask_core(bare)
    if masked == bare:
        return tok
    return tok[:len(tok) - len(core)] + masked + core[len(bare):]


def _mask_core(tok: str) -> str:
    if _WORD_NUMBER(tok):
        return tok  # names ending in a digit or two: `ssh2`, `en0`, `IPv6`, `SOCKS5`
    if _DIGIT(tok):
        named = _NAMED(tok)
        if named:  # `core.12345`, `chdir(/p/gb1)`, `instruction......0`: the name stays
            return named.group(1) + WILDCARD  # (a closing bracket was peeled off before)
        key, sep, rest = tok.partition("=")
        if not sep:
            key, sep, rest = tok.partition(":")
            if "." in key or ":" in rest:  # host:port, MAC and IPv6 addresses, times
                sep = ""
        return key + sep + WILDCARD if sep and key and not _DIGIT(key) else WILDCARD
    if "/" in tok:
        key, sep, _ = tok.partition("=")
        return key + sep + WILDCARD if sep else WILDCARD
    if tok.count(".") >= 2 and _DOTTED(tok):
        return WILDCARD  # host names: `mail.example.net`, `www.google.com`
    key, sep, value = tok.partition("=")
    if sep and value and WILDCARD in (masked := _mask_core(value)):
        return key + sep + masked  # `rhost=mail.example.net`
    return tok  # words, `user=root` included: a different word may be a different event


def _mask_all(tokens: list[str]) -> list[str]:
    out: list[str] = []
    memo = _MEMO
    for i, tok in enumerate(tokens):
        masked = memo.get(tok)
        if masked is None:
            masked = _mask_one(tok)
            if WILDCARD not in masked:  # numbers, ids and paths are mostly unique: not kept
                if len(memo) >= _CACHE_LIMIT:
                    memo.clear()
                memo[tok] = masked
        if masked is _CONTEXT:
            after_var = bool(out) and WILDCARD in out[-1]
            if len(tok) == 3 and tok.lower() in NAMES:  # `at Fri Jun 17 20:55:07 2005`
                nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
                var = after_var or bool(_DIGIT(nxt)) or nxt.lower() in NAMES
            else:
                var = after_var  # a unit: `1.2 KB`, `35 ms`
            masked = WILDCARD + tok[len(tok.rstrip(_CLOSERS)):] if var else tok
        out.append(masked)
    return out


def mask_tokens(line: str) -> list[str]:
    """The line's tokens with variable parts as `<*>` (before the parse tree generalises)."""
    return _mask_all(line.split())


def mask(line: str) -> str:
    """Variable parts of a line as `<*>`: paths and every token holding a digit."""
    return " ".join(mask_tokens(line))


def split_line(line: str, shape: HeaderShape | None = None) -> tuple[list[str], list[str]]:
    """(header tokens, message tokens) of a raw line, both masked; the header by the file's
    `shape` when known, else by the line's own scan."""
    if shape is not None:
        head, message = shape.split(line, MAX_TOKENS)
    else:
        if "|" in line:
            line = line.replace("|", " | ")
        tokens = line.split()[:MAX_TOKENS]
        cut = header_length(tokens)
        head, message = tokens[:cut], tokens[cut:]
    return [WILDCARD if _DIGIT(t) else t for t in head], _mask_all(message)


def is_binary(line: str) -> bool:
    if "\x00" in line:
        return True
    sample = line[:512]
    bad = sum(1 for c in sample if not c.isprintable() and c not in "\t")
    return bad > len(sample) * 0.3


@dataclass
class Template:
    id: int
    tokens: list[str]
    count: int = 0
    head: list[str] = field(default_factory=list)
    merged_into: Template | None = None  # set when its event proved one with another's

    def resolved(self) -> Template:
        """The template this one now is (itself unless merged into another)."""
        tpl = self
        while tpl.merged_into is not None:
            tpl = tpl.merged_into
        return tpl

    @property
    def text(self) -> str:
        return " ".join(self.head + self.tokens)

    @property
    def message(self) -> str:
        """The template of the message part only (the header left out)."""
        return " ".join(self.tokens)


def _route(tokens: list[str]) -> tuple[int, str]:
    first = tokens[0] if tokens else ""
    variable = WILDCARD in first or _DIGIT(first) or first.strip('"') in _METHODS
    return len(tokens), WILDCARD if variable else first


@dataclass
class TemplateMiner:
    """Feed lines one by one with `add`; `templates[id].text` is a template's current form."""

    similarity: float = 0.5
    header: HeaderShape | None = None
    variants: int = 3
    templates: list[Template] = field(default_factory=list)
    _leaves: dict[tuple[int, str], list[Template]] = field(default_factory=dict)
    _cache: dict[str, Template] = field(default_factory=dict)
    _skeletons: dict[str, Template] = field(default_factory=dict)
    _shapes: dict[str, tuple[Template, list[str]]] = field(default_factory=dict)
    _binary: Template | None = None
    _siblings: dict[tuple[str, ...], list[Template]] = field(default_factory=dict)

    def add(self, line: str) -> Template:
        """The template `line` belongs to (created or generalised as needed)."""
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        # The header split and the masks see digits only as runs shorter than 6 or not: lines
        # of one shape share them, so most lines skip both (numbers vary, shapes repeat).
        shape = _SHORT_RUNS("0", _LONG_RUNS("\x01", line))
        hit = self._shapes.get(shape)
        if hit is not None:
            tpl, head = hit
            tpl = tpl.resolved()
        else:
            head, tokens = split_line(line, self.header)
            masked = " ".join(tokens)
            found = self._cache.get(masked)
            if found is None:
                if is_binary(line):
                    if self._binary is None:
                        self._binary = self._new([BINARY_TEMPLATE], [])
                    self._binary.count += 1
                    return self._binary
                found = self._match(tokens, head)
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                    self._skeletons.clear()
                self._cache[masked] = found
            tpl = found.resolved()
            if len(self._shapes) >= _CACHE_LIMIT:
                self._shapes.clear()
            self._shapes[shape] = (tpl, head)
        if head != tpl.head:
            tpl.head = _merge(tpl.head, head)
        tpl.count += 1
        return tpl

    def _match(self, tokens: list[str], head: list[str]) -> Template:
        skeleton = " ".join(t for t in tokens if WILDCARD not in t)
        tpl = self._skeletons.get(skeleton) if skeleton else None
        if tpl is not None:
            tpl = tpl.resolved()
            if len(tpl.tokens) == len(tokens):
                tpl.tokens = _generalise(tpl.tokens, tokens)
            return tpl
        leaf = self._leaves.setdefault(_route(tokens), [])
        best, best_sim = None, -1.0
        for cand in leaf:
            same = sum(1 for a, b in zip(cand.tokens, tokens, strict=True)
                       if a == b)
            sim = same / max(1, len(tokens))
            if sim > best_sim:
                best, best_sim = cand, sim
        if best is not None and best_sim >= self.similarity:
            best = self._join(best, tokens, head, leaf)
        else:
            best = self._new(tokens, head)
            leaf.append(best)
        if skeleton:
            self._skeletons[skeleton] = best
        return best

    def _join(self, best: Template, tokens: list[str], head: list[str],
              leaf: list[Template]) -> Template:
        """`tokens` join `best`, unless they differ from it in a word it has always had there:
        words in one place are one event's variable only once more than `variants` of them
        are seen (`Failed password|none for ...` stay apart, user names merge)."""
        merged = _generalise(best.tokens, tokens)
        words = [i for i, (a, b) in enumerate(zip(best.tokens, tokens, strict=True))
                 if a != b and WILDCARD not in a and WILDCARD not in b]
        if not words:
            best.tokens = merged
            return best
        key = tuple(merged)
        siblings = self._siblings.setdefault(key, [best])
        if len(siblings) < self.variants:
            tpl = self._new(tokens, head)
            leaf.append(tpl)
            siblings.append(tpl)
            return tpl
        keep = siblings[0].resolved()
        for other in siblings:
            other = other.resolved()
            if other is not keep:
                keep.tokens = _generalise(keep.tokens, other.tokens)
                keep.count += other.count
                other.count = 0
                other.merged_into = keep
                if other in leaf:
                    leaf.remove(other)
        keep.tokens = _generalise(keep.tokens, tokens)
        del self._siblings[key]
        return keep

    def _new(self, tokens: list[str], head: list[str]) -> Template:
        tpl = Template(len(self.templates) + 1, tokens, head=head)
        self.templates.append(tpl)
        return tpl


def _generalise(old: list[str], new: list[str]) -> list[str]:
    return [a if a == b else WILDCARD for a, b in zip(old, new, strict=True)]


def _merge(old: list[str], new: list[str]) -> list[str]:
    """A template's header generalised by another line's: position-wise when they align."""
    if len(old) != len(new):
        return [WILDCARD] if old or new else []
    return _generalise(old, new)


def miner_for(sample: list[str], similarity: float = 0.5) -> TemplateMiner:
    """A miner for one file, its header shape learnt from `sample` (the file's first lines)."""
    return TemplateMiner(similarity=similarity, header=learn_shape(sample[:SAMPLE_LINES]))


def mine(lines: list[str], similarity: float = 0.5) -> tuple[list[int], TemplateMiner]:
    """Template id of each line (in order) and the miner holding the final templates; the
    header shape is learnt from the first lines."""
    miner = miner_for(lines, similarity)
    assigned = [miner.add(line) for line in lines]
    return [tpl.resolved().id for tpl in assigned], miner


def grouping_accuracy(truth: list[str], predicted: list[int]) -> float:
    """Share of lines whose predicted group holds exactly the lines of their true group
    (the group accuracy of Zhu et al., ICSE-SEIP 2019)."""
    from collections import defaultdict

    by_pred: dict[int, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        by_pred[p].add(i)
        by_true[t].add(i)
    correct = 0
    for members in by_pred.values():
        some = next(iter(members))
        if by_true[truth[some]] == members:
            correct += len(members)
    return correct / max(1, len(truth))
