"""Log line templates of the simulated shop, and the variable fields they are filled with.

Templates are grouped: one group per service (normal INFO lines), generic groups, and per fault
kind what the faulty service logs (`own_<kind>`, `warn_<kind>`) and what its callers log about it
(`callee_<kind>`). A template's id is `<group>-<NNN>`, stable as long as groups only grow.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import UTC, datetime

SKUS = ("OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N", "0PUK6V6EV0",
        "LS4PSXUNUM", "9SIQT8TOJO", "6E92ZMYYFZ")
CURRENCIES = ("USD", "EUR", "JPY", "GBP", "CAD", "CHF", "TRY")
WORDS = ("kitchen", "vintage", "camera", "sunglasses", "mug", "bike", "watch", "candle")
PATHS = {
    "frontend": ("/", "/product/{sku}", "/cart", "/cart/checkout", "/setCurrency"),
    "cart": ("/hipstershop.CartService/AddItem", "/hipstershop.CartService/GetCart"),
    "checkout": ("/hipstershop.CheckoutService/PlaceOrder",),
    "payment": ("/hipstershop.PaymentService/Charge",),
    "catalog": ("/hipstershop.ProductCatalogService/ListProducts",
                "/hipstershop.ProductCatalogService/GetProduct"),
}

METHODS = {  # the RPC methods each service serves
    "frontend": ("HomeHandler", "ProductHandler", "AddToCartHandler", "ViewCartHandler",
                 "PlaceOrderHandler"),
    "cart": ("GetCart", "AddItem", "EmptyCart"), "checkout": ("PlaceOrder",),
    "payment": ("Charge",), "currency": ("Convert", "GetSupportedCurrencies"),
    "shipping": ("GetQuote", "ShipOrder"), "email": ("SendOrderConfirmation",),
    "catalog": ("ListProducts", "GetProduct", "SearchProducts"),
    "recommendation": ("ListRecommendations",), "ad": ("GetAds",),
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "frontend": ('GET {path} 200 {ms}ms user={user}',
                 'request served path={path} status=200 duration_ms={ms} session={session}',
                 'rendered product page product_id={sku} currency={cur}'),
    "cart": ('AddItem user_id={user} product_id={sku} quantity={qty}',
             'GetCart user_id={user} items={qty} took {ms}ms', 'EmptyCart user_id={user}'),
    "checkout": ('PlaceOrder order_id={order} user_id={user} items={qty} total={amount} {cur}',
                 'order {order} confirmed, shipping tracking_id={track}'),
    "payment": ('Charge ok transaction_id={txn} amount={amount} {cur} card=****{last4}',
                'authorized payment order_id={order} in {ms}ms'),
    "currency": ('Convert {amount} EUR -> {cur} rate={rate}',
                 'GetSupportedCurrencies returned 33 currencies in {ms}ms'),
    "shipping": ('GetQuote items={qty} quote={amount} USD', 'ShipOrder order_id={order} '
                 'tracking_id={track}'),
    "email": ('SendOrderConfirmation order_id={order} template=confirmation.html took {ms}ms',),
    "catalog": ('ListProducts returned {n} products in {ms}ms', 'GetProduct id={sku} found',
                'SearchProducts query="{word}" results={qty}'),
    "recommendation": ('ListRecommendations user_id={user} product_ids=[{sku}] took {ms}ms',),
    "ad": ('GetAds context_keys=[{word}] served {qty} ads in {ms}ms',),
    "redis": ('Accepted {peer}', '{n} changes in 60 seconds. Saving...',
              'Background saving terminated with success'),
    "postgres": ('LOG:  duration: {ms} ms  statement: SELECT * FROM products WHERE id = $1',
                 'LOG:  checkpoint complete: wrote {n} buffers', 'LOG:  connection authorized: '
                 'user={client} database=shop'),
    "generic": ('handled request {path} in {ms}ms request_id={rid}',),
    "warn": ('slow request {path} took {slow_ms}ms', 'retrying call to {callee} '
             '(attempt 2/3) after {ms}ms'),
    "error": ('HTTP 500 {path}: internal error request_id={rid}',
              'request {rid} failed: rpc error: code = Internal desc = unexpected EOF'),
    "lifecycle": ('deployment event: {change}', 'starting {service} {version}',
                  'received SIGTERM, shutting down'),
    "callee_generic": ('call to {callee} failed: rpc error: code = Unavailable desc = {callee} '
                       'returned 503 request_id={rid}',),
    "callee_dependency_down": ('call to {callee} failed: dial tcp {callee_addr}: connect: '
                               'connection refused',
                               'dial tcp {callee_addr}: connect: connection refused'),
    "callee_network_delay": ('call to {callee} failed: context deadline exceeded (timeout 1000ms)'
                             ' request_id={rid}',),
    "callee_certificate_expiry": ('call to {callee} failed: x509: certificate has expired or is '
                                  'not yet valid: current time {now_iso} is after {expired_iso}',),
    "callee_disk_full": ('query failed: ERROR: could not extend file "base/16384/{n}": No space '
                         'left on device (SQLSTATE 53100)',),
    "callee_connection_pool_exhaustion": ('call to {callee} failed: rpc error: code = '
                                          'DeadlineExceeded desc = context deadline exceeded',),
    "callee_bad_deploy": ('call to {callee} failed: rpc error: code = Internal desc = internal '
                          'error (HTTP 500) request_id={rid}',),
    "callee_memory_leak": ('call to {callee} failed: rpc error: code = Unavailable desc = '
                           'upstream connect error or disconnect/reset before headers. reset '
                           'reason: connection termination',),
    "callee_cpu_hog": ('call to {callee} failed: context deadline exceeded request_id={rid}',),
    "callee_latency_injection": ('call to {callee} failed: context deadline exceeded '
                                 'request_id={rid}',),
    "own_cpu_hog": ('request timed out after {slow_ms}ms: worker pool saturated ({n} queued)',),
    "own_memory_leak": ('java.lang.OutOfMemoryError: Java heap space',),
    "oom_kill": ('container {service} OOMKilled (exit code 137, memory limit {limit} MB); '
                 'restarting',),
    "own_network_delay": ('read tcp {peer}: i/o timeout', 'context deadline exceeded while '
                          'writing response request_id={rid}'),
    "own_disk_full": ('ERROR:  could not extend file "base/16384/{n}": No space left on device',
                      'PANIC:  could not write to file "pg_wal/xlogtemp.{n}": No space left on '
                      'device'),
    "own_bad_deploy": ('panic: runtime error: invalid memory address or nil pointer dereference '
                       '[signal SIGSEGV] goroutine {n} [running]: main.(*{Service}Server).{op}(...)'
                       ' /src/{service}/server.go:{line}',
                       "Unhandled exception in {op}: TypeError: Cannot read properties of "
                       "undefined (reading 'amount') at {Service}Handler.handle "
                       "({service}/handler.js:{line})"),
    "own_connection_pool_exhaustion": ('connection pool exhausted: timeout waiting for connection '
                                       'after 5000ms (pool size {pool}, in use {pool}, waiting '
                                       '{n})',),
    "own_certificate_expiry": ('http: TLS handshake error from {peer}: remote error: tls: bad '
                               'certificate',),
    "own_latency_injection": ('request {rid} failed after {slow_ms}ms: upstream timeout',),
    "own_dependency_down": ('health check failed: connection refused',),
    "warn_cpu_hog": ('worker pool saturated: {n} tasks queued', 'slow request {path} took '
                     '{slow_ms}ms'),
    "warn_memory_leak": ('GC pause {gc}ms, heap {heap} MB of {limit} MB',),
    "warn_latency_injection": ('slow request {path} took {slow_ms}ms',),
    "warn_network_delay": ('slow request {path} took {slow_ms}ms',
                           'tcp retransmission to {peer}: {qty} segments retransmitted'),
    "warn_disk_full": ('disk usage of /var/lib/{service}/data at {disk}%',),
    "warn_bad_deploy": ('retrying {op} after error (attempt 2/3)',),
    "warn_connection_pool_exhaustion": ('waiting for db connection: {slow_ms}ms (pool size '
                                        '{pool})',),
    "warn_certificate_expiry": ('TLS certificate for {service}.shop.internal expires in {days} '
                                'days (renewal failed: acme: urn:ietf:params:acme:error:'
                                'unauthorized)',),
    "warn_cert_expired": ('TLS certificate for {service}.shop.internal expired at {expired_iso}; '
                          'clients fail the handshake (renewal failed: acme: unauthorized)',),
    "warn_dependency_down": ('health check failed: connection refused',),
}


class LineContext:
    """What one log line may mention: four random ints plus the state of its service at ts."""

    __slots__ = ("a", "b", "c", "d", "ts", "service", "callee", "callee_addr", "p50", "p99",
                 "extra")

    def __init__(self, a: int, b: int, c: int, d: int, ts: int, service: str, callee: str,
                 callee_addr: str, p50: float, p99: float, extra: dict[str, str]) -> None:
        self.a, self.b, self.c, self.d = a, b, c, d
        self.ts, self.service, self.callee, self.callee_addr = ts, service, callee, callee_addr
        self.p50, self.p99, self.extra = p50, p99, extra


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(x: LineContext) -> str:
    return f"{x.p50 * (0.6 + 0.9 * ((x.c % 1000) / 1000.0) ** 2):.0f}"


def _slow_ms(x: LineContext) -> str:
    return f"{x.p99 * (1 + (x.c % 500) / 1000.0):.0f}"


def _path(x: LineContext) -> str:
    paths = PATHS.get(x.service, ("/api/v1/items", "/healthz"))
    return paths[x.a % len(paths)].format(sku=SKUS[x.b % len(SKUS)])


FIELDS: dict[str, Callable[[LineContext], str]] = {
    "path": _path,
    "ms": _ms,
    "slow_ms": _slow_ms,
    "user": lambda x: f"u-{x.a % 90000 + 10000}",
    "session": lambda x: f"{x.b:08x}"[:8],
    "sku": lambda x: SKUS[x.b % len(SKUS)],
    "cur": lambda x: CURRENCIES[x.c % len(CURRENCIES)],
    "qty": lambda x: str(1 + x.d % 6),
    "order": lambda x: f"ord-{x.a:08x}"[:12],
    "amount": lambda x: f"{5 + (x.b % 50000) / 100:.2f}",
    "track": lambda x: f"TRK-{x.c % 10**8:08d}",
    "txn": lambda x: f"txn_{x.d:012x}"[:16],
    "last4": lambda x: f"{x.a % 10000:04d}",
    "rate": lambda x: f"{0.5 + (x.c % 1500) / 1000:.4f}",
    "n": lambda x: str(10 + x.d % 990),
    "word": lambda x: WORDS[x.d % len(WORDS)],
    "peer": lambda x: f"10.0.{x.a % 12}.{x.b % 250 + 2}:{30000 + x.c % 30000}",
    "client": lambda x: ("catalog", "payment")[x.a % 2],
    "rid": lambda x: f"{x.d:016x}"[:16],
    "callee": lambda x: x.callee or "upstream",
    "callee_addr": lambda x: x.callee_addr,
    "service": lambda x: x.service,
    "Service": lambda x: x.service.capitalize(),
    "op": lambda x: (m := METHODS.get(x.service, ("HandleRequest",)))[x.a % len(m)],
    "line": lambda x: str(100 + x.b % 400),
    "now_iso": lambda x: iso(x.ts),
    "gc": lambda x: str(200 + x.c % 1800),
}

_FORMATTER = string.Formatter()
_NEEDS: dict[str, tuple[str, ...]] = {
    text: tuple(f for _, f, _, _ in _FORMATTER.parse(text) if f)
    for group in TEMPLATES.values() for text in group
}


def template_id(group: str, index: int) -> str:
    return f"{group}-{index + 1:03d}"


def render(text: str, ctx: LineContext) -> str:
    values = {}
    for name in _NEEDS[text]:
        values[name] = ctx.extra[name] if name in ctx.extra else FIELDS[name](ctx)
    return text.format(**values)
