"""A simulated kubectl / helm / cmctl: interprets argv lists against a `SandboxWorld`.

It understands the commands the shipped runbooks use and answers them the way the real tools
do (same output lines, exit 1 and an `error:` line otherwise). A remediation ends the matching
sandbox fault at the virtual time the command runs; each command advances the virtual clock
by roughly what it takes on a real cluster.
"""

from __future__ import annotations

from tools.runbooks.sandbox_target import NAMESPACE, SandboxWorld
from tools.runbooks.seams import CommandResult


def _ok(text: str) -> CommandResult:
    return CommandResult(0, text + "\n", "")


def _fail(text: str, code: int = 1) -> CommandResult:
    return CommandResult(code, "", text + "\n")


class SimulatedCli:
    """The sandbox's `Executor`: every call is recorded in `calls`."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        self.calls.append(list(argv))
        program, args = argv[0], list(argv[1:])
        handler = {"kubectl": self._kubectl, "helm": self._helm, "cmctl": self._cmctl}.get(program)
        if handler is None:
            return _fail(f"{program}: command not found", 127)
        namespace, rest = _namespace(args)
        if namespace != NAMESPACE:
            return _fail(f'Error from server (NotFound): namespaces "{namespace}" not found')
        return handler(rest)

    def _workload(self, kind: str, name: str) -> CommandResult | None:
        w = self.world.workloads.get(name)
        if w is None or w.kind != kind:
            return _fail(f'Error from server (NotFound): {kind}s.apps "{name}" not found')
        return None

    def _kubectl(self, a: list[str]) -> CommandResult:
        w = self.world
        match a:
            case ["rollout", "restart", kind, name] if kind in ("deployment", "statefulset"):
                if err := self._workload(kind, name):
                    return err
                wl = w.workloads[name]
                kinds = ["memory_leak", "cpu_hog"]
                if wl.pending_pool_size and wl.pending_pool_size > wl.pool_size:
                    wl.pool_size, wl.pending_pool_size = wl.pending_pool_size, None
                    kinds.append("connection_pool_exhaustion")
                w.clock.sleep(5)
                w.remediate(f"restart {kind}/{name}", name, tuple(kinds))
                return _ok(f"{kind}.apps/{name} restarted")
            case ["rollout", "status", kind, name, *opts]:
                if err := self._workload(kind, name):
                    return err
                w.clock.sleep(40)
                return _ok(f'Waiting for {kind} "{name}" rollout to finish: 1 of '
                           f'{w.workloads[name].replicas} updated replicas are available...\n'
                           f'{kind} "{name}" successfully rolled out')
            case ["rollout", "undo", "deployment", name, *opts]:
                if err := self._workload("deployment", name):
                    return err
                w.workloads[name].revision += 1
                w.clock.sleep(5)
                w.remediate(f"rollout undo {name}", name, ("bad_deploy", "memory_leak"))
                return _ok(f"deployment.apps/{name} rolled back")
            case ["scale", kind, name, "--replicas", n] if n.isdigit():
                if err := self._workload(kind, name):
                    return err
                wl, new = w.workloads[name], int(n)
                if new > wl.replicas:
                    w.remediate(f"scale {name} to {new}", name, ("cpu_hog",))
                wl.replicas = new
                w.clock.sleep(20)
                return _ok(f"{kind}.apps/{name} scaled")
            case ["get", kind, name, *opts] if kind in ("deployment", "statefulset"):
                if err := self._workload(kind, name):
                    return err
                wl = w.workloads[name]
                return _ok(f"NAME READY UP-TO-DATE AVAILABLE\n{name} {wl.replicas}/{wl.replicas} "
                           f"{wl.replicas} {wl.replicas}")
            case ["get", "pods", "-l", selector, *opts] if selector.startswith("app="):
                name = selector.removeprefix("app=")
                if name not in w.workloads:
                    return _ok("No resources found in shop namespace.")
                wl = w.workloads[name]
                rows = [f"{name}-{i} 1/1 Running 0 2d {wl.node}" for i in range(wl.replicas)]
                return _ok("NAME READY STATUS RESTARTS AGE NODE\n" + "\n".join(rows))
            case ["cordon" | "uncordon" as verb, node]:
                if node not in {x.node for x in w.workloads.values()}:
                    return _fail(f'Error from server (NotFound): nodes "{node}" not found')
                (w.cordoned.add if verb == "cordon" else w.cordoned.discard)(node)
                return _ok(f"node/{node} {verb}ed")
            case ["drain", node, *opts]:
                if node not in {x.node for x in w.workloads.values()}:
                    return _fail(f'Error from server (NotFound): nodes "{node}" not found')
                if "--ignore-daemonsets" not in opts:
                    return _fail("error: unable to drain node: cannot delete DaemonSet-managed "
                                 "Pods (use --ignore-daemonsets to ignore)")
                w.cordoned.add(node)
                moved = w.services_on(node)
                others = [n for n in sorted({x.node for x in w.workloads.values()})
                          if n not in w.cordoned] or [node]
                w.clock.sleep(60)
                for i, service in enumerate(moved):
                    w.workloads[service].node = others[i % len(others)]
                    w.remediate(f"drain {node}", service, ("network_delay",))
                lines = [f"evicting pod shop/{s}-0" for s in moved]
                return _ok("\n".join([f"node/{node} cordoned", *lines, f"node/{node} drained"]))
            case ["exec", pod, "--", *command]:
                return self._exec(pod, command)
        return _fail(f"error: unknown command {' '.join(a[:3])!r} for kubectl in the sandbox")

    def _exec(self, pod: str, command: list[str]) -> CommandResult:
        w = self.world
        service = pod.rsplit("-", 1)[0]
        if service not in w.workloads or w.workloads[service].kind != "statefulset":
            return _fail(f'Error from server (NotFound): pods "{pod}" not found')
        match command:
            case ["redis-cli", "-p", "26379", "SENTINEL", "FAILOVER", _] if service == "redis":
                w.clock.sleep(10)
                w.remediate("redis sentinel failover", "redis", ("dependency_down",))
                return _ok("OK")
            case ["patronictl", "failover", "--candidate", cand, "--force"] \
                    if service == "postgres":
                w.clock.sleep(15)
                w.remediate(f"patroni failover to {cand}", "postgres", ("dependency_down",))
                return _ok(f"Successfully failed over to \"{cand}\"")
            case ["find", path, "-type", "f", "-mtime", days, "-delete"] \
                    if service == "postgres" and days.startswith("+"):
                w.clock.sleep(20)
                if path.startswith("/var/lib/postgresql/data/pg_wal_archive"):
                    w.remediate(f"delete archived WAL older than {days[1:]} days", service,
                                ("disk_full",))
                return _ok("")
            case ["df", "-h", path]:
                return _ok(f"Filesystem Size Used Avail Use% Mounted on\n/dev/sdb 100G "
                           f"{self._disk(service):.0f}G - {self._disk(service):.0f}% {path}")
        return _fail(f"command terminated with exit code 127: {command[0]}: not found", 127)

    def _disk(self, service: str) -> float:
        w = self.world
        if "disk" not in w.sandbox.metric_names(service):
            return 0.0
        return w.sandbox.value_at(service, "disk", w.clock.now(), clean=False)

    def _helm(self, a: list[str]) -> CommandResult:
        w = self.world
        match a:
            case ["rollback", release, revision, *opts] if revision.isdigit():
                if self._workload("deployment", release):
                    return _fail(f"Error: release: not found ({release})")
                wl = w.workloads[release]
                target = int(revision) or wl.revision - 1
                if not 0 < target < wl.revision:
                    return _fail(f"Error: release has no {target} version")
                wl.revision += 1
                w.clock.sleep(30 if "--wait" in opts else 3)
                w.remediate(f"helm rollback {release} to {target}", release,
                            ("bad_deploy", "memory_leak"))
                return _ok("Rollback was a success! Happy Helming!")
            case ["history", release, *opts]:
                if self._workload("deployment", release):
                    return _fail(f"Error: release: not found ({release})")
                rev = w.workloads[release].revision
                rows = [f"{r} deployed" if r == rev else f"{r} superseded"
                        for r in range(max(1, rev - 2), rev + 1)]
                return _ok("REVISION STATUS\n" + "\n".join(rows))
        return _fail(f"Error: unknown command {' '.join(a[:2])!r} for helm in the sandbox")

    def _cmctl(self, a: list[str]) -> CommandResult:
        w = self.world
        match a:
            case ["renew", cert]:
                if cert not in w.certificates:
                    return _fail(f'error: certificates.cert-manager.io "{cert}" not found')
                w.clock.sleep(30)
                w.remediate(f"renew certificate {cert}", w.certificates[cert],
                            ("certificate_expiry",))
                return _ok(f"Manually triggered issuance of Certificate {NAMESPACE}/{cert}")
            case ["status", "certificate", cert]:
                if cert not in w.certificates:
                    return _fail(f'error: certificates.cert-manager.io "{cert}" not found')
                days = w.sandbox.value_at(w.certificates[cert], "cert_expiry", w.clock.now())
                return _ok(f"Name: {cert}\nReady: {days > 0}\nDays until expiry: {days:.1f}")
        return _fail(f"error: unknown command {' '.join(a[:2])!r} for cmctl in the sandbox")


def _namespace(args: list[str]) -> tuple[str, list[str]]:
    """Pull -n/--namespace out of the arguments before any `--`."""
    out, namespace, i = [], NAMESPACE, 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out += args[i:]
            break
        if a in ("-n", "--namespace") and i + 1 < len(args):
            namespace, i = args[i + 1], i + 2
            continue
        if a.startswith("--namespace="):
            namespace = a.split("=", 1)[1]
        else:
            out.append(a)
        i += 1
    return namespace, out
