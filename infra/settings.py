"""All configuration in one pydantic-settings class, read once at the entry point.

Environment variables use the prefix `OPSCOPILOT_` and `__` between levels, e.g.
`OPSCOPILOT_SLACK__BOT_TOKEN`, `OPSCOPILOT_PROMETHEUS__URL`; a `.env` file in the working
directory is read too. A bad value stops start-up with `SettingsError`, whose message names the
variable and what it expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "OPSCOPILOT_"


class SettingsError(ValueError):
    """Configuration that cannot work; the message names the variable to fix."""


class SandboxSettings(BaseModel):
    scenario: str = Field("bad-deploy-checkout",
                          description="scenario name or YAML path used when no backend is set")
    fallback: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: the sandbox serves every seam while no real backend is set; "
                            "always: it serves each seam no real backend is set for; never")


class PrometheusSettings(BaseModel):
    url: AnyHttpUrl | None = Field(None, description="base URL of a Prometheus HTTP API")
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None
    retries: int = Field(2, ge=0, le=5, description="retries of a failed read, with backoff")
    service_label: str = Field("service", min_length=1, description="label naming the service")
    rate_window: str = Field("2m", pattern=r"^\d+[smhd]$", description="rate() window")
    step_s: int = Field(15, ge=1, le=3600, description="range query resolution")
    templates_file: Path | None = Field(
        None, description="YAML mapping of metric names to PromQL (docs/backends.md)")
    discover_metrics: bool = Field(
        True, description="offer a metric for a service only when its series exist")
    alerts: bool = Field(True, description="read firing alerts from /api/v1/alerts too")


class AlertmanagerSettings(BaseModel):
    url: AnyHttpUrl | None = Field(None, description="base URL of Alertmanager (API v2)")
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None
    retries: int = Field(2, ge=0, le=5)


class LokiSettings(BaseModel):
    url: AnyHttpUrl | None = None
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None
    retries: int = Field(2, ge=0, le=5)
    service_label: str = Field("service", min_length=1, description="stream label of the service")
    level_label: str = Field("level", min_length=1, description="stream label of the level")


class TracesSettings(BaseModel):
    url: AnyHttpUrl | None = Field(None, description="base URL of Jaeger query or Tempo")
    kind: Literal["jaeger", "tempo"] = "jaeger"
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None
    retries: int = Field(2, ge=0, le=5)


class KubernetesSettings(BaseModel):
    enabled: bool = Field(False, description="read pods, workloads, events, nodes and logs "
                                             "(docs/kubernetes.md)")
    in_cluster: bool = Field(False, description="use the pod's service account, not a kubeconfig")
    kubeconfig: Path | None = Field(None, description="kubeconfig file; unset: ~/.kube/config")
    context: str | None = Field(None, description="kubeconfig context; unset: its current one")
    namespaces: list[str] = Field(default_factory=lambda: ["default"], min_length=1,
                                  description="the only namespaces read (JSON list)")
    timeout_s: float = Field(5.0, gt=0, le=120, description="one API read")
    log_lines: int = Field(20, ge=1, le=500, description="container log lines kept per finding")


class BreakerSettings(BaseModel):
    cooldown_s: float = Field(
        15.0, ge=0, le=3600,
        description="after a backend server fails (unreachable, timed out, 5xx, a broken reply), "
                    "how long its reads fail at once before one read tries it again; 0: every "
                    "answer asks again (one answer never asks a failed server twice)")


class TopologySettings(BaseModel):
    file: Path | None = Field(None, description="YAML service graph: service -> services it calls")
    from_traces: bool = Field(True, description="add the calls the traces backend has seen")


class EventsSettings(BaseModel):
    enabled: bool = Field(False, description="the changes tool reads events posted to the "
                                             "receiver (`opscopilot events serve`)")
    host: str = Field("127.0.0.1", description="address the receiver listens on")
    port: int = Field(8089, ge=1, le=65535)
    secret: SecretStr | None = Field(
        None, description="shared secret: X-Opscopilot-Signature sha256=HMAC(body) or Bearer")


class AlertsSettings(BaseModel):
    """The Alertmanager webhook receiver (bot/slack/alerts.py, docs/slack.md)."""

    channel: str = Field("", description="Slack channel ID alert groups are posted to; "
                                         "empty: `serve` starts no receiver")
    host: str = Field("127.0.0.1", description="address the receiver listens on")
    port: int = Field(9095, ge=0, le=65535)
    secret: SecretStr | None = Field(
        None, description="Authorization: Bearer <secret> or X-Opscopilot-Signature "
                          "sha256=HMAC(body); unset: the receiver does not start")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    severities: list[str] = Field(
        default_factory=list, description="severity labels that post (JSON list); empty: all")
    group_interval_s: float = Field(
        60.0, ge=0, description="a group's message is edited at most once per this long, "
                                "unless its status changes")
    posts_per_minute: int = Field(
        5, ge=1, le=1000, description="new group messages per minute; past it, groups are "
                                      "counted in one storm message")


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = Field(None, description="xoxb-... bot token")
    app_token: SecretStr | None = Field(None, description="xapp-... app-level token (Socket Mode)")
    signing_secret: SecretStr | None = Field(None, description="request signing secret (HTTP mode)")
    mode: Literal["socket", "http"] = "socket"
    port: int = Field(3000, ge=1, le=65535)
    host: str = Field("127.0.0.1", min_length=1,
                      description="HTTP mode listen address; 0.0.0.0 for all interfaces")
    # the Slack app's own settings (bot/slack, docs/slack.md)
    summary_channel: str = Field("", description="channel ID for the weekly incident summary")
    summary_at: str = Field("mon 09:00", pattern=r"^(mon|tue|wed|thu|fri|sat|sun) \d\d:\d\d$",
                            description="when the weekly summary is posted (UTC)")
    incident_admins: list[str] = Field(default_factory=list,
                                       description="user IDs invited to every incident (JSON)")
    api_url: str = Field("https://slack.com/api/", description="Web API base URL")


class OnCallSettings(BaseModel):
    provider: Literal["file", "pagerduty", "opsgenie"] = "file"
    schedule_file: Path | None = Field(None, description="YAML; default data_dir/oncall.yaml")
    schedules: list[str] = Field(default_factory=list,
                                 description="PagerDuty schedule ids / Opsgenie names (JSON list)")
    pagerduty_token: SecretStr | None = None
    pagerduty_url: str = "https://api.pagerduty.com"
    opsgenie_api_key: SecretStr | None = None
    opsgenie_url: str = "https://api.opsgenie.com"


class LLMSettings(BaseModel):
    provider: Literal["none", "openai", "ollama", "anthropic"] = "none"
    model: str = ""
    base_url: AnyHttpUrl | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0, le=600, description="one model call")
    # LLM mode (bot/llm, docs/llm.md): bounds, accounting and guardrails
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(1024, ge=16, le=32768, description="per model reply")
    max_steps: int = Field(6, ge=1, le=30, description="model calls per answer")
    answer_timeout_s: float = Field(90.0, gt=0, le=1800, description="whole answer")
    tool_timeout_s: float = Field(15.0, gt=0, le=600, description="one tool call")
    max_context_tokens: int = Field(32000, ge=1000, description="estimated prompt size limit")
    max_malformed: int = Field(2, ge=1, le=10, description="bad tool-call rounds before fallback")
    redact: bool = Field(True, description="redact secrets and personal data sent to the model")
    redact_patterns: list[str] = Field(default_factory=list,
                                       description="extra regexes to redact (JSON list)")
    price_input_per_mtok: float = Field(0.0, ge=0, description="USD per 1M prompt tokens")
    price_output_per_mtok: float = Field(0.0, ge=0, description="USD per 1M completion tokens")


class KBSettings(BaseModel):
    chroma_url: AnyHttpUrl | None = Field(
        None, description="a Chroma server (`chroma run`); unset: the on-disk store in data_dir")
    model: Literal["all-MiniLM-L6-v2", "hashing-384"] = Field(
        "all-MiniLM-L6-v2", description="embedding model; hashing-384 is model-free, for tests")


class RouterSettings(BaseModel):
    min_confidence: float = Field(0.35, ge=0, le=1,
                                  description="below this the copilot asks to rephrase")
    default_window_minutes: int = Field(30, ge=1, le=7 * 24 * 60)


class RunbookSettings(BaseModel):
    policy_file: Path | None = Field(
        None, description="approval policy YAML; unset: the embedded deny-all default")
    library_dirs: list[Path] = Field(
        default_factory=list, description="runbook folders; empty: knowledge/runbooks/library")
    target: Literal["sandbox", "production"] = Field(
        "sandbox", description="sandbox: simulated kubectl/helm/HTTP; production: real ones")
    output_limit: int = Field(4000, ge=200, le=100_000, description="characters kept per step")
    request_ttl_minutes: int = Field(
        240, ge=1, le=30 * 24 * 60,
        description="a request nobody decided on expires after this long (request it again)")


class AuditSettings(BaseModel):
    key: SecretStr | None = Field(
        None, description="HMAC key of the audit chain (16+ characters), never stored in the "
                          "database; unset: a random key generated once into key_file")
    key_file: Path | None = Field(None, description="where the generated key is kept; "
                                                    "default data_dir/audit.key (mode 0600)")
    checkpoint_file: Path | None = Field(
        None, description="signed checkpoints, outside the database; default "
                          "data_dir/audit-checkpoints.jsonl")


class McpSettings(BaseModel):
    host: str = Field("127.0.0.1", description="address `opscopilot mcp --transport http` "
                                               "listens on; loopback unless set")
    port: int = Field(8765, ge=1, le=65535)
    path: str = Field("/mcp", pattern=r"^/[A-Za-z0-9/_-]*$", description="the endpoint's path")
    token: SecretStr | None = Field(
        None, description="bearer token every HTTP request must carry (16+ characters); "
                          "the HTTP transport does not start without it")
    actor: str = Field("mcp", min_length=1, max_length=100,
                       description="who MCP calls act as: the audit log's actor and the "
                                   "requester the runbook policy sees")


class TelemetrySettings(BaseModel):
    """opscopilot's own metrics, logs and traces (docs/operations.md)."""

    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Socket Mode: serve /metrics on this port (HTTP mode "
                                          "serves it beside /slack/events)")
    metrics_host: str = Field("127.0.0.1", min_length=1, description="address of that port")
    otlp_endpoint: str = Field("", description="OTLP/gRPC collector for answer traces, e.g. "
                                               "http://otel-collector:4317; empty: no tracing")
    trace_question_text: bool = Field(False, description="put the (redacted) question on the "
                                                         "answer span")
    json_logs: bool = Field(False, description="log one JSON object a line, with the request id "
                                               "tying a Slack event, its answer and audit entries")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    mode: Literal["deterministic", "llm"] = "deterministic"
    data_dir: Path = Field(Path("~/.local/share/opscopilot"),
                           description="state: incidents, approvals, audit log, eval runs")
    cache_dir: Path = Field(Path("~/.cache/opscopilot"),
                            description="derived files that can be rebuilt (embedding caches)")
    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite under data_dir")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    sandbox: SandboxSettings = SandboxSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    loki: LokiSettings = LokiSettings()
    traces: TracesSettings = TracesSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    breaker: BreakerSettings = BreakerSettings()
    topology: TopologySettings = TopologySettings()
    events: EventsSettings = EventsSettings()
    slack: SlackSettings = SlackSettings()
    alerts: AlertsSettings = AlertsSettings()
    oncall: OnCallSettings = OnCallSettings()
    llm: LLMSettings = LLMSettings()
    router: RouterSettings = RouterSettings()
    kb: KBSettings = KBSettings()
    runbooks: RunbookSettings = RunbookSettings()
    mcp: McpSettings = McpSettings()
    audit: AuditSettings = AuditSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    def resolved_cache_dir(self) -> Path:
        return self.cache_dir.expanduser()

    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser()


def _variable(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p) for p in loc).upper()


def load_settings(**overrides: object) -> Settings:
    """Read the environment and `.env`; raise `SettingsError` naming the variable on bad input."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            given = err.get("input")
            secret = any(w in str(err["loc"]).lower() for w in ("token", "secret", "key"))
            shown = ("" if secret or isinstance(given, dict) or given is None
                     else f" (got {given!r})")
            problems.append(f"{_variable(err['loc'])}: {err['msg']}{shown}")
        raise SettingsError("bad configuration: " + "; ".join(problems)) from None
