"""Online log template mining: masking, then a Drain-style parse tree (He et al., ICWS 2017).

Each line is masked first: paths and every token holding a digit (numbers, IPs, ports, ids,
block ids, hex, durations, timestamps, versions) become `<*>`, keeping a `key=` prefix. The
masked tokens are routed by (token count, first token) to a leaf holding candidate templates;
the line joins the most similar one (share of positions equal, at least `similarity`), whose
differing positions become `<*>`, or starts a new template. Identical masked lines are cached.

Defined behaviour for bad lines: a line with NUL bytes or mostly unprintable characters is one
template `<binary>`; a line longer than `MAX_LINE_CHARS` is mined on its first part only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WILDCARD = "<*>"
BINARY_TEMPLATE = "<binary>"
MAX_LINE_CHARS = 4096
MAX_TOKENS = 128
_PATH = re.compile(r"(?<![\w.:])/[\w.\-/@~%+]*")
_DIGIT = re.compile(r"\d").search
_CACHE_LIMIT = 100_000


def mask_tokens(line: str) -> list[str]:
    """The line's tokens with variable parts as `<*>` (before the parse tree generalises)."""
    out = []
    for tok in line.split():
        if _DIGIT(tok):
            key, sep, _ = tok.partition("=")
            if not sep:
                key, sep, _ = tok.partition(":")
            out.append(key + sep + WILDCARD if sep and key and not _DIGIT(key) else WILDCARD)
        elif "/" in tok:
            out.append(_PATH.sub(WILDCARD, tok))
        else:
            out.append(tok)
    return out


def mask(line: str) -> str:
    """Variable parts of a line as `<*>`: paths and every token holding a digit."""
    return " ".join(mask_tokens(line))


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

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass
class TemplateMiner:
    """Feed lines one by one with `add`; `templates[id].text` is a template's current form."""

    similarity: float = 0.5
    templates: list[Template] = field(default_factory=list)
    _leaves: dict[tuple[int, str], list[Template]] = field(default_factory=dict)
    _cache: dict[str, Template] = field(default_factory=dict)
    _binary: Template | None = None

    def add(self, line: str) -> Template:
        """The template `line` belongs to (created or generalised as needed)."""
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        tokens = mask_tokens(line)[:MAX_TOKENS]
        masked = " ".join(tokens)
        hit = self._cache.get(masked)
        if hit is not None:
            hit.count += 1
            return hit
        if is_binary(line):
            if self._binary is None:
                self._binary = self._new([BINARY_TEMPLATE])
            self._binary.count += 1
            return self._binary
        first = tokens[0] if tokens else ""
        key = (len(tokens), WILDCARD if WILDCARD in first else first)
        leaf = self._leaves.setdefault(key, [])
        best, best_sim = None, -1.0
        for tpl in leaf:
            same = sum(1 for a, b in zip(tpl.tokens, tokens, strict=True) if a == b)
            sim = same / max(1, len(tokens))
            if sim > best_sim:
                best, best_sim = tpl, sim
        if best is not None and best_sim >= self.similarity:
            best.tokens = [a if a == b else WILDCARD
                           for a, b in zip(best.tokens, tokens, strict=True)]
        else:
            best = self._new(tokens)
            leaf.append(best)
        best.count += 1
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[masked] = best
        return best

    def _new(self, tokens: list[str]) -> Template:
        tpl = Template(len(self.templates) + 1, tokens)
        self.templates.append(tpl)
        return tpl


def mine(lines: list[str], similarity: float = 0.5) -> tuple[list[int], TemplateMiner]:
    """Template id of each line (in order) and the miner holding the final templates."""
    miner = TemplateMiner(similarity=similarity)
    return [miner.add(line).id for line in lines], miner


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
