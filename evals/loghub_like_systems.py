"""Labelled raw-log generators shaped like the LogHub systems (loghub-2k, LogPAI).

Each system renders whole raw lines: the header layout documented for that system in LogPAI's
benchmark (dates, times, pids, levels, components, node names) followed by the message of one
of its templates. Templates are written from the published event kinds of each system (not
copied from its files); variables are drawn fresh per line (IPs, ports, block ids, paths, hex,
durations, user and host names, words such as true/false, variable-length lists), templates
come with skewed weights (a few very frequent, some rare) and some differ from others in one
word only. The label of a line is its template's name: the truth for group accuracy.

Template mini-language: `{name}` is a fresh value from `Vars`, `{a|b|c}` a fresh choice (a
variable that is a word). `Vars` is seeded, so a system and a seed give the same lines.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
USERS = ("root", "admin", "test", "oracle", "guest", "webmaster", "postgres", "ftpuser", "pi",
         "ubuntu", "support", "git", "nagios", "user1", "www-data")
HOSTS = ("proxy.cse.cuhk.edu.hk", "www.google.com", "clients4.google.com", "play.google.com",
         "api.github.com", "mail.qq.com", "sinaimg.cn", "update.microsoft.com")
PROGRAMS = ("chrome.exe", "firefox.exe", "QQ.exe", "Dropbox.exe", "WeChat.exe", "putty.exe",
            "iexplore.exe", "svchost.exe")


class Vars(dict[str, str]):
    """`template.format_map(Vars(rng))`: each field is a fresh random value."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.r = rng

    def __missing__(self, key: str) -> str:
        if "|" in key:
            return self.r.choice(key.split("|"))
        return str(getattr(self, key)())

    def num(self) -> int:
        return int(self.r.paretovariate(0.6)) if self.r.random() < 0.7 else self.r.randint(0, 10**6)

    def small(self) -> int:
        return self.r.randint(0, 9)

    def ip(self) -> str:
        return f"{self.r.choice((10, 172, 192, 58, 218))}." + ".".join(
            str(self.r.randint(0, 254)) for _ in range(3))

    def port(self) -> int:
        return self.r.randint(1024, 65535)

    def blk(self) -> str:
        return f"blk_{self.r.randint(-(2**63), 2**63)}"

    def hex(self) -> str:
        return f"{self.r.getrandbits(32):08x}"

    def hex32(self) -> str:
        return f"{self.r.getrandbits(128):032x}"

    def uuid(self) -> str:
        h = self.hex32()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def addr(self) -> str:
        return f"0x{self.r.getrandbits(self.r.choice((16, 32, 40))):x}"

    def user(self) -> str:
        return self.r.choice(USERS)

    def host(self) -> str:
        return self.r.choice(HOSTS)

    def word(self) -> str:
        return "".join(self.r.choice(string.ascii_lowercase) for _ in range(self.r.randint(3, 9)))

    def path(self) -> str:
        parts = [self.r.choice(("usr", "var", "opt", "data", "tmp", "home", "mnt", "etc"))]
        parts += [self.word() for _ in range(self.r.randint(1, 4))]
        return "/" + "/".join(parts)

    def ms(self) -> str:
        return f"{self.r.randint(1, 5000)}ms"

    def secs(self) -> str:
        return f"{self.r.uniform(0, 30):.{self.r.choice((3, 7))}f}"

    def size(self) -> str:
        return f"{self.r.uniform(0.1, 900):.2f} {self.r.choice(('KB', 'MB', 'GB'))}"

    def job(self) -> str:
        return f"job_{self.r.randint(1445000000000, 1445999999999)}_{self.r.randint(1, 99):04d}"

    def attempt(self) -> str:
        return (f"attempt_{self.r.randint(1445000000000, 1445999999999)}_"
                f"{self.r.randint(1, 99):04d}_{self.r.choice('mr')}_{self.r.randint(0, 99):06d}_0")

    def node(self) -> str:
        return f"R{self.r.randint(0, 77):02d}-M{self.r.randint(0, 1)}-N{self.r.randint(0, 15)}"

    def pkg(self) -> str:
        return self.r.choice(("com.tencent.mm", "com.android.systemui", "com.huawei.health",
                              "com.tencent.qt.qtl", "com.android.phone"))

    def list(self) -> str:
        return ", ".join(self.word() for _ in range(self.r.randint(1, 5)))

    def epoch(self) -> int:
        return self.r.randint(1_070_000_000, 1_140_000_000)

    def pid(self) -> int:
        return self.r.randint(100, 32000)

    def mac(self) -> str:
        return ":".join(f"{self.r.getrandbits(8):02x}" for _ in range(6))

    def rhost(self) -> str:
        if self.r.random() < 0.5:
            return self.ip()
        a, b = self.r.randint(1, 254), self.r.randint(1, 254)
        return self.r.choice((f"{a}-{b}.dsl.example.net", f"host{a}.topspot.net",
                              "mail.hinet.net", f"ppp-{a}.cable.net"))

    def stack(self) -> str:
        return " ".join(f"@0x{self.r.getrandbits(40):x}" for _ in range(self.r.randint(2, 6)))

    def blks(self) -> str:
        return " ".join(self.blk() for _ in range(self.r.randint(1, 5)))

    def hosts(self) -> str:
        return " ".join(self.ip() for _ in range(self.r.randint(1, 4)))


Header = Callable[[random.Random, Vars, int], str]


@dataclass(frozen=True)
class System:
    name: str
    header: Header  # (rng, vars, unix seconds) -> the line's prefix, ending with its separator
    templates: tuple[tuple[str, float, str], ...]  # (label, weight, message template)

    def generate(self, n: int, seed: int) -> tuple[list[str], list[str]]:
        """`n` raw lines in time order and the label of each."""
        rng = random.Random(f"{self.name}-{seed}")
        v = Vars(rng)
        picks = rng.choices(range(len(self.templates)), [t[1] for t in self.templates], k=n)
        clock = 1_117_838_570 + rng.randint(0, 10**8)
        lines, labels = [], []
        for i in picks:
            label, _, text = self.templates[i]
            clock += rng.choice((0, 0, 1, 1, 2, 5, 30))
            lines.append(self.header(rng, v, clock) + text.format_map(v))
            labels.append(label)
        return lines, labels
