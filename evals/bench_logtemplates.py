"""Benchmark: log template mining accuracy and speed.

Prints the group accuracy (Zhu et al. 2019) of `tools.anomaly.logtemplates` on
1. sandbox logs (every fault scenario, each service's stream mined on its own; the truth is the
   template text a line was rendered from, since some templates share their text), and
2. a generated labelled HDFS/sshd/web-style set with IPs, ports, block ids, paths, durations,
   user names and look-alike templates that differ in one word,
and the lines per second on one core (a fresh miner over all lines of both sets); and how
the log anomalies (`tools.anomaly.logstats`) line up with each shipped scenario's fault.

    .venv/bin/python -m evals.bench_logtemplates
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import numpy as np

from tools.anomaly.logstats import detect_log_anomalies
from tools.anomaly.logtemplates import grouping_accuracy, mine
from tools.sandbox.log_templates import TEMPLATES
from tools.sandbox.scenario import list_scenarios
from tools.sandbox.simulator import load_sandbox

USERS = ("alice", "bob", "carol", "deploy", "root", "svc-backup", "jenkins")
HOSTS = ("db-primary.internal", "cache-2.internal", "api.example.com", "queue.internal")
WORDS = ("GET", "POST", "PUT", "DELETE")

# (label, generator) pairs: each renders one line of a known template.
HDFS_LIKE = {
    "receiving": lambda r, v: f"Receiving block blk_{v.blk()} src: /{v.ip()}:{v.port()} "
                              f"dest: /{v.ip()}:50010",
    "responder": lambda r, v: f"PacketResponder {r.randint(0, 2)} for block blk_{v.blk()} "
                              f"terminating",
    "received": lambda r, v: f"Received block blk_{v.blk()} of size {r.randint(1, 67108864)} "
                             f"from /{v.ip()}",
    "stored": lambda r, v: f"BLOCK* NameSystem.addStoredBlock: blockMap updated: "
                           f"{v.ip()}:50010 is added to blk_{v.blk()} size {r.randint(1, 99999)}",
    "allocate": lambda r, v: f"BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/"
                             f"_task_{r.randint(1, 9999):04d}_m_{r.randint(0, 999):06d}_0/"
                             f"part-{r.randint(0, 999):05d}. blk_{v.blk()}",
    "verified": lambda r, v: f"Verification succeeded for blk_{v.blk()}",
    "deleting": lambda r, v: f"Deleting block blk_{v.blk()} file /mnt/hadoop/dfs/data/current/"
                             f"subdir{r.randint(0, 63)}/blk_{v.blk()}",
    "transmitted": lambda r, v: f"{v.ip()}:50010:Transmitted block blk_{v.blk()} to "
                                f"/{v.ip()}:50010",
    "exception": lambda r, v: f"writeBlock blk_{v.blk()} received exception "
                              f"java.io.IOException: Connection reset by peer",
    "served": lambda r, v: f"{v.ip()}:50010 Served block blk_{v.blk()} to /{v.ip()}",
    "slow": lambda r, v: f"Slow BlockReceiver write packet to mirror took {r.randint(300, 9000)}"
                         f"ms (threshold=300ms)",
    "http": lambda r, v: f"{r.choice(WORDS)} /api/v{r.randint(1, 3)}/orders/{r.randint(1, 10**6)}"
                         f" completed in {r.uniform(0.1, 900):.1f}ms status={r.choice((200, 201))}",
    "login": lambda r, v: f"Accepted publickey for {r.choice(USERS)} from {v.ip()} port "
                          f"{v.port()} ssh2",
    "failed": lambda r, v: f"Failed password for {r.choice(USERS)} from {v.ip()} port "
                           f"{v.port()} ssh2",
    "closed": lambda r, v: f"Connection closed by {v.ip()} port {v.port()} [preauth]",
    "timeout": lambda r, v: f"connection to {r.choice(HOSTS)} timed out after "
                            f"{r.randint(1, 30)}s (attempt {r.randint(1, 5)} of 5)",
    "gc": lambda r, v: f"GC pause (G1 Evacuation Pause) {r.randint(100, 900)}M->"
                       f"{r.randint(50, 400)}M({r.randint(1024, 4096)}M), "
                       f"{r.uniform(1, 300):.3f} ms",
    "config": lambda r, v: f"loaded configuration from /etc/app/{r.choice(('app', 'db', 'cache'))}"
                           f".yaml in {r.randint(1, 90)}ms",
    "uuid": lambda r, v: f"job {v.uuid()} finished state=SUCCEEDED duration={r.randint(1, 3600)}s",
    "disk": lambda r, v: f"disk usage of /var/lib/postgres/data at {r.uniform(50, 99):.1f}%",
}


class _Vars:
    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def ip(self) -> str:
        return ".".join(str(self.r.randint(1, 254)) for _ in range(4))

    def port(self) -> int:
        return self.r.randint(1024, 65535)

    def blk(self) -> str:
        return str(self.r.randint(-(2**62), 2**62))

    def uuid(self) -> str:
        return f"{self.r.getrandbits(128):032x}"


def hdfs_like(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """`n` lines and their true template labels, templates drawn with skewed frequencies."""
    rng = random.Random(seed)
    v = _Vars(rng)
    labels = list(HDFS_LIKE)
    weights = [1.0 / (1 + i) for i in range(len(labels))]
    chosen = rng.choices(labels, weights, k=n)
    return [HDFS_LIKE[label](rng, v) for label in chosen], chosen


def _text_of(template_id: str) -> str:
    group, index = template_id.rsplit("-", 1)
    return TEMPLATES[group][int(index) - 1]


def sandbox_accuracy(hours: float = 3.0) -> tuple[float, int, list[str]]:
    """Group accuracy over every fault scenario's logs around its fault, mined per service."""
    correct = 0.0
    total = 0
    lines_all: list[str] = []
    for sc in list_scenarios():
        sb = load_sandbox(sc.name)
        records = sb.logs(None, int(sb.now - hours * 3600), sb.now + 1800)
        by_service = defaultdict(list)
        for rec in records:
            by_service[rec.service].append(rec)
        for recs in by_service.values():
            lines = [r.message for r in recs]
            predicted, _ = mine(lines)
            acc = grouping_accuracy([_text_of(r.template_id) for r in recs], predicted)
            correct += acc * len(lines)
            total += len(lines)
            lines_all.extend(lines)
    return correct / max(1, total), total, lines_all


def log_anomaly_quality() -> None:
    """Per shipped scenario: log anomalies (new templates, template rates, error bursts) in the
    3 h before the fault's start + 20 min; inside the fault window counts as found, before it
    (or anywhere in the quiet day) as false."""
    found = faults = false = 0
    delays = []
    for sc in list_scenarios():
        sb = load_sandbox(sc.name)
        start, end = sb.now - 3 * 3600, sb.now + 1200
        anomalies = detect_log_anomalies(sb.logs(None, start, end), start, end)
        fault = sc.faults[0] if sc.faults else None
        inside = [a for a in anomalies if fault and fault.start <= a.start < fault.end + 600]
        false += len(anomalies) - len(inside)
        if fault:
            faults += 1
            found += bool(inside)
            if inside:
                delays.append(min(a.start for a in inside) - fault.start)
    print(f"log anomalies:     {found}/{faults} fault scenarios flagged within the fault window "
          f"(median {np.median(delays) if delays else float('nan'):.0f} s after its start), "
          f"{false} anomalies outside fault windows (quiet day included)")


def main() -> None:
    log_anomaly_quality()
    acc_sb, n_sb, sb_lines = sandbox_accuracy()
    lines, labels = hdfs_like(100_000, seed=42)
    predicted, miner = mine(lines)
    acc_hd = grouping_accuracy(labels, predicted)
    print(f"sandbox logs:      group accuracy {acc_sb:.4f} over {n_sb:,} lines (target >= 0.95)")
    print(f"HDFS-like logs:    group accuracy {acc_hd:.4f} over {len(lines):,} lines, "
          f"{len(miner.templates)} templates found for {len(HDFS_LIKE)} true (target >= 0.95)")
    runs = []
    corpus = sb_lines[:150_000] + lines
    for _ in range(3):
        started = time.process_time()  # CPU time: one core, whatever else the machine runs
        mine(corpus)
        runs.append(len(corpus) / (time.process_time() - started))
    runs.sort()
    print(f"throughput:        {runs[1]:,.0f} lines/s median of 3 runs over {len(corpus):,} "
          f"lines, one core (CPU time; target >= 50,000)")


if __name__ == "__main__":
    main()
