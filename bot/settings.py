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


class PrometheusSettings(BaseModel):
    url: AnyHttpUrl | None = Field(None, description="base URL of a Prometheus HTTP API")
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None


class LokiSettings(BaseModel):
    url: AnyHttpUrl | None = None
    timeout_s: float = Field(5.0, gt=0, le=120)
    bearer_token: SecretStr | None = None


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = Field(None, description="xoxb-... bot token")
    app_token: SecretStr | None = Field(None, description="xapp-... app-level token (Socket Mode)")
    signing_secret: SecretStr | None = Field(None, description="request signing secret (HTTP mode)")
    mode: Literal["socket", "http"] = "socket"
    port: int = Field(3000, ge=1, le=65535)


class LLMSettings(BaseModel):
    provider: Literal["none", "openai", "ollama", "anthropic"] = "none"
    model: str = ""
    base_url: AnyHttpUrl | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0, le=600)


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
    loki: LokiSettings = LokiSettings()
    slack: SlackSettings = SlackSettings()
    llm: LLMSettings = LLMSettings()
    router: RouterSettings = RouterSettings()
    kb: KBSettings = KBSettings()
    runbooks: RunbookSettings = RunbookSettings()

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
