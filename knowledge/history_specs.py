"""The facts behind the sandbox shop's past incidents; `knowledge.history` words them.

One `IncidentSpec` per past incident: which service, which fault kind (tools.catalog
FAULT_KINDS), what people saw, why it happened, what fixed it. Ids are fixed so the retrieval
eval can name them; dates, numbers and wording come from the generator's seed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncidentSpec:
    id: str
    service: str
    fault: str
    title: str
    symptom: str  # what on-call saw, in their words
    cause: str  # the root cause, one or two sentences
    fix: str  # what resolved it
    alert: str  # the alert that paged
    action: str  # the specific follow-up besides the generic ones
    also: tuple[str, ...] = ()  # other services involved


S = IncidentSpec
SPECS: tuple[IncidentSpec, ...] = (
    # cpu_hog
    S("INC-1001", "recommendation", "cpu_hog", "Recommendation pods pinned at 100% CPU",
      "recommendation p99 latency climbed past 2 s and the pods were CPU throttled",
      "a nightly model-refresh job started retraining inside the serving pods instead of the "
      "batch pool, so every replica spent its CPU on training",
      "moved the retraining job back to the batch node pool and restarted the serving pods",
      "CPUThrottlingHigh", "run model refresh only in the batch pool, guarded by a node selector",
      ("frontend",)),
    S("INC-1002", "ad", "cpu_hog", "Ad service CPU spike from a targeting regex",
      "ad requests timed out and the ad service used all its CPU while traffic was flat",
      "a new keyword-targeting rule used a regular expression with catastrophic backtracking "
      "on long product names",
      "disabled the targeting rule and shipped a linear-time matcher",
      "AdServiceHighCPU", "lint targeting rules for nested quantifiers before they go live"),
    S("INC-1003", "catalog", "cpu_hog", "Catalog serialising the whole catalogue per search",
      "catalog search became slow and CPU saturated on every replica after a cache change",
      "a cache key change made every search miss the cache and re-serialise the full product "
      "catalogue to JSON",
      "restored the previous cache key format and warmed the cache",
      "CatalogHighLatency", "add a cache hit-rate alert for the catalog search cache"),
    S("INC-1004", "frontend", "cpu_hog", "Frontend rendering loop on a malformed promo banner",
      "home page took seconds to load and frontend CPU hit its limit during a promotion",
      "a malformed promo banner definition sent server-side rendering into a retry loop",
      "removed the banner, scaled the frontend out to 12 replicas until load settled",
      "FrontendHighCPU", "validate promo banner definitions in the CMS before publishing"),
    S("INC-1005", "currency", "cpu_hog", "Currency service burning CPU on debug logging",
      "currency conversion calls slowed down and CPU doubled right after a config change",
      "log level was left at DEBUG after an investigation, and formatting every rate table "
      "payload for the log consumed most of the CPU",
      "set the log level back to INFO through the config map and restarted the pods",
      "CurrencyHighCPU", "expire temporary debug log levels automatically after one hour"),
    # memory_leak
    S("INC-1006", "cart", "memory_leak", "Cart pods OOMKilled every few hours",
      "cart pods restarted with OOMKilled roughly every three hours and memory grew in a "
      "straight line",
      "after the Redis client upgrade, session listeners were registered per request and never "
      "removed, so session objects accumulated in memory",
      "rolling restart to buy time, then a patch that unregisters the listener",
      "KubePodCrashLooping", "add a memory growth alert (slope over 6 h) for every service",
      ("redis",)),
    S("INC-1007", "recommendation", "memory_leak", "Unbounded embedding cache in recommendation",
      "recommendation memory kept rising until the container was killed, then started again",
      "the product-embedding cache had no size limit, so it grew with every new product viewed",
      "capped the cache at 50k entries with LRU eviction and redeployed",
      "ContainerMemoryNearLimit", "require a max size on every in-process cache"),
    S("INC-1008", "email", "memory_leak", "Email worker leaking compiled templates",
      "order confirmation emails queued up and email workers were OOM killed repeatedly",
      "the template engine compiled the order template once per message and kept every "
      "compiled copy",
      "compiled templates once at start-up, restarted workers and drained the backlog",
      "EmailQueueBacklog", "load-test the email worker with 100k messages before releases"),
    S("INC-1009", "currency", "memory_leak", "Currency service retaining rate history per request",
      "currency service heap grew steadily and garbage collection pauses made calls slow",
      "each conversion request appended the rate snapshot to a module-level history list",
      "removed the history list, restarted the pods and added a heap size alert",
      "CurrencyHighGCPause", "run a heap profile in staging for every release"),
    S("INC-1010", "shipping", "memory_leak", "Shipping leaked goroutines on carrier timeouts",
      "shipping memory and goroutine count grew during a carrier slowdown and never came back",
      "requests to the carrier API that timed out left their goroutines blocked on an "
      "unbuffered channel",
      "fixed the channel handling, restarted shipping and added a goroutine count panel",
      "ShippingMemoryGrowth", "alert on goroutine count growth"),
    # latency_injection
    S("INC-1011", "checkout", "latency_injection", "Checkout slowed by a synchronous fraud check",
      "checkout p99 jumped from 300 ms to 4 s and customers abandoned carts",
      "a release added a synchronous call to the fraud-scoring service on the checkout path "
      "with a 5 s timeout",
      "made the fraud check asynchronous behind a feature flag and lowered its timeout to 300 ms",
      "CheckoutLatencyHigh", "latency budget review for every new call on the checkout path",
      ("payment",)),
    S("INC-1012", "frontend", "latency_injection", "Chaos latency experiment left on in production",
      "every frontend page was exactly 800 ms slower than usual with no errors",
      "a latency-injection chaos experiment meant for staging was enabled in production and "
      "never switched off",
      "turned the experiment off in the chaos controller; latency returned to normal in a minute",
      "FrontendLatencyHigh", "chaos experiments must carry an expiry time and an owner"),
    S("INC-1013", "payment", "latency_injection",
      "Payment calls slow after provider endpoint change",
      "payment authorisations took 3 to 6 s and checkout timed out waiting for payment",
      "the payment provider base URL pointed at their sandbox region, which adds artificial "
      "latency and rate limits",
      "corrected the provider URL in the secret and restarted payment",
      "PaymentLatencyHigh", "check provider endpoints in the deploy pipeline", ("checkout",)),
    S("INC-1014", "catalog", "latency_injection", "Catalog N+1 queries after ORM upgrade",
      "product pages slowed down and postgres showed thousands of tiny queries per second",
      "an ORM upgrade dropped eager loading of product variants, so every product page issued "
      "one query per variant",
      "restored eager loading with an explicit join and redeployed catalog",
      "CatalogHighLatency", "query-count assertions in the catalog integration tests",
      ("postgres",)),
    # network_delay
    S("INC-1015", "shipping", "network_delay", "Packet loss to the carrier API through NAT",
      "shipping quotes timed out intermittently and retries piled up",
      "the NAT gateway for egress ran out of ports under retry storms, dropping packets to the "
      "carrier API",
      "added a second NAT gateway, capped retries with jitter",
      "ShippingUpstreamTimeouts", "monitor NAT port allocation errors"),
    S("INC-1016", "cart", "network_delay", "Cart to Redis calls crossing zones after failover",
      "every cart call got about 40 ms slower after a redis failover, no errors",
      "the redis failover promoted a replica in another availability zone, so all cart traffic "
      "crossed zones",
      "failed redis back to a replica in the same zone as cart",
      "CartLatencyHigh", "prefer same-zone replicas in the sentinel configuration", ("redis",)),
    S("INC-1017", "payment", "network_delay", "Payment to Postgres latency from a noisy node",
      "payment database queries were slow only from pods on one node",
      "a node with a saturated network interface (a backup job on the same host) added 100 ms "
      "to every round trip",
      "cordoned and drained the node, moved the backup job to off-peak hours",
      "NodeNetworkTransmitErrs", "spread payment pods across nodes with anti-affinity",
      ("postgres",)),
    S("INC-1018", "email", "network_delay", "Slow DNS lookups delaying email",
      "email sending slowed down; each send spent seconds before connecting",
      "ndots:5 in the pod DNS config made every SMTP relay lookup try five search domains first",
      "set ndots to 1 for the email deployment and used the fully qualified relay name",
      "EmailSendLatencyHigh", "use fully qualified names for external hosts"),
    # disk_full
    S("INC-1019", "postgres", "disk_full", "Postgres volume filled by WAL after archiving failed",
      "writes to postgres failed with 'could not extend file: No space left on device'",
      "WAL archiving to object storage had been failing for two days, so pg_wal grew until the "
      "volume was full",
      "fixed the archive command credentials, let the archiver catch up and grew the volume by "
      "50%", "PostgresDiskFull",
      "alert when archiving fails and when pg_wal exceeds 20% of the disk",
      ("checkout", "payment")),
    S("INC-1020", "redis", "disk_full", "Redis refusing writes after its disk filled",
      "cart writes failed with 'MISCONF Redis is configured to save RDB snapshots'",
      "AOF rewrites and RDB snapshots filled the redis data volume, so background saves failed "
      "and redis stopped accepting writes",
      "deleted old snapshot copies, grew the volume, and redis accepted writes again",
      "RedisDiskFull", "keep one snapshot copy and alert at 80% disk", ("cart",)),
    S("INC-1021", "email", "disk_full", "Email spool filled the node disk",
      "email pods were evicted and mail stopped going out",
      "undeliverable messages were kept in the local spool directory, which filled the disk",
      "cleared the spool of undeliverable mail and moved the spool to a sized volume",
      "KubeletDiskPressure", "expire undeliverable mail after 24 h"),
    S("INC-1022", "frontend", "disk_full", "Frontend access logs filled node disks",
      "frontend pods evicted with DiskPressure on three nodes at once",
      "access logs written to the container filesystem were never rotated",
      "enabled log rotation, cleaned up the nodes and rescheduled the pods",
      "NodeFilesystemSpaceFillingUp", "log to stdout only"),
    # bad_deploy
    S("INC-1023", "checkout", "bad_deploy", "Checkout 500s after release v2.14",
      "checkout returned HTTP 500 for most orders right after a deploy",
      "release v2.14 made the tax calculation require a region field that cart does not send",
      "rolled checkout back to v2.13; error rate fell to zero within five minutes",
      "CheckoutErrorRateHigh", "contract tests between cart and checkout", ("cart",)),
    S("INC-1024", "payment", "bad_deploy", "Payment provider rejecting calls after a release",
      "payments failed with 401 Unauthorized from the provider after the afternoon deploy",
      "the new release read the provider API key from a renamed environment variable that was "
      "empty in production",
      "rolled back payment and fixed the variable name in the deployment manifest",
      "PaymentErrorRateHigh", "fail start-up when a required secret is empty", ("checkout",)),
    S("INC-1025", "frontend", "bad_deploy", "Blank pages after a frontend bundle deploy",
      "users saw a blank page; the browser console showed 404 for the main JS bundle",
      "the deploy referenced a CDN asset path that had not been uploaded yet",
      "rolled the frontend back and reordered the pipeline to upload assets first",
      "FrontendErrorRateHigh", "smoke test the deployed page from outside before shifting traffic"),
    S("INC-1026", "currency", "bad_deploy", "Currency rounding bug priced JPY 100x too high",
      "customers paying in yen saw prices a hundred times too high",
      "a release changed rounding to use two decimal places for every currency, including "
      "zero-decimal currencies like JPY",
      "rolled back currency, refunded affected orders",
      "CurrencyConversionAnomaly", "property tests for zero-decimal currencies",
      ("checkout",)),
    S("INC-1027", "ad", "bad_deploy", "Ad rollout stuck with pods never ready",
      "the ad deployment stalled with new pods never becoming ready",
      "the release moved the health endpoint to /healthz but the readiness probe still checked "
      "/health",
      "rolled back, then redeployed with the probe path fixed",
      "KubeDeploymentReplicasMismatch", "probe paths defined next to the code that serves them"),
    # dependency_down
    S("INC-1028", "payment", "dependency_down", "Payment processor outage",
      "card payments failed across the board with connection errors from the processor",
      "our primary payment processor had a regional outage",
      "switched payment to the secondary processor with the failover flag",
      "PaymentErrorRateHigh", "run a monthly failover drill to the secondary processor",
      ("checkout",)),
    S("INC-1029", "shipping", "dependency_down", "Carrier quote API down blocked checkout",
      "checkout could not show shipping options; shipping returned 503",
      "the carrier's quote API was down and shipping had no fallback",
      "enabled flat-rate shipping fallback until the carrier recovered",
      "ShippingErrorRateHigh", "make the flat-rate fallback automatic after 30 s of failures",
      ("checkout",)),
    S("INC-1030", "email", "dependency_down", "SMTP provider suspended our account",
      "no order confirmation emails went out; the provider answered 554 for every message",
      "our SMTP provider suspended sending after we exceeded a quota during a campaign",
      "raised the quota with the provider, retried the queued messages",
      "EmailDeliveryFailures", "split campaign and transactional mail across providers"),
    S("INC-1031", "currency", "dependency_down", "Exchange-rate feed unavailable",
      "currency served stale rates and logged 'rates feed unreachable' every minute",
      "the central bank rates feed was down for maintenance",
      "served the last good rates from cache with a staleness banner until the feed returned",
      "CurrencyRatesStale", "alert when cached rates are older than 6 h"),
    S("INC-1032", "redis", "dependency_down", "Redis primary lost with its node",
      "cart requests failed with 'connection refused' to redis",
      "the node hosting the redis primary failed and sentinel did not promote a replica because "
      "quorum was misconfigured",
      "promoted a replica by hand (sentinel failover) and fixed the quorum setting",
      "RedisDown", "test sentinel failover in staging every quarter", ("cart",)),
    # connection_pool_exhaustion
    S("INC-1033", "checkout", "connection_pool_exhaustion",
      "Checkout database pool exhausted by long transactions",
      "checkout errors said 'timeout acquiring connection from pool' while postgres looked idle",
      "checkout held database transactions open while waiting for slow payment calls, so the "
      "pool of 20 connections ran dry",
      "moved the payment call out of the transaction and raised the pool size to 40",
      "CheckoutErrorRateHigh", "never call remote services inside a database transaction",
      ("postgres", "payment")),
    S("INC-1034", "catalog", "connection_pool_exhaustion",
      "Postgres out of connections after scale-out",
      "catalog and others failed with 'FATAL: sorry, too many clients already'",
      "the catalog autoscaler went to 30 pods with a pool of 10 each, above postgres "
      "max_connections",
      "put pgbouncer in front of postgres and lowered per-pod pool size",
      "PostgresTooManyConnections", "budget connections per service against max_connections",
      ("postgres",)),
    S("INC-1035", "cart", "connection_pool_exhaustion", "Cart leaking Redis connections",
      "cart failed with 'ERR max number of clients reached' from redis",
      "an error path in cart did not return connections to the pool, so each failure leaked one",
      "restarted cart to release connections, then fixed the error path",
      "RedisConnectionsHigh", "pool metrics (in use, waiting) on the cart dashboard",
      ("redis",)),
    S("INC-1036", "payment", "connection_pool_exhaustion", "Payment pool starvation on exceptions",
      "payment hung waiting for database connections after a burst of declined cards",
      "declined-card exceptions skipped the connection release, starving the pool",
      "raised the pool size temporarily, restarted payment, fixed the release in a finally block",
      "PaymentLatencyHigh", "static check for connections acquired outside a context manager",
      ("postgres",)),
    # certificate_expiry
    S("INC-1037", "payment", "certificate_expiry", "Payment mTLS client certificate expired",
      "every payment failed with TLS handshake errors to the processor",
      "the client certificate used for mutual TLS with the processor expired; it had been "
      "renewed by hand last year",
      "issued a new client certificate, updated the secret and restarted payment",
      "PaymentErrorRateHigh", "put the processor client certificate under cert-manager",
      ("checkout",)),
    S("INC-1038", "frontend", "certificate_expiry", "Public TLS certificate expired",
      "browsers showed 'your connection is not private' on the shop",
      "cert-manager could not renew the public certificate because the DNS-01 challenge "
      "credentials had been rotated",
      "fixed the DNS credentials, forced renewal, and the new certificate was served",
      "CertificateExpiringSoon", "alert 14 days before any certificate expires"),
    S("INC-1039", "postgres", "certificate_expiry", "Postgres server certificate expired",
      "services failed to connect to postgres with 'certificate verify failed'",
      "the postgres server certificate expired and clients verify the full chain",
      "rotated the server certificate and reloaded postgres without a restart",
      "PostgresConnectionErrors", "track certificate expiry for databases too",
      ("catalog", "checkout", "payment")),
    S("INC-1040", "email", "certificate_expiry", "SMTP relay certificate expiry broke STARTTLS",
      "email sending failed with 'certificate has expired' during STARTTLS",
      "the internal SMTP relay certificate expired over a weekend",
      "rotated the relay certificate and re-sent queued mail",
      "EmailDeliveryFailures", "relay certificate issued by cert-manager"),
)
