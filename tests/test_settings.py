"""Settings from the environment: nesting, secrets, and errors that name the variable."""

import pytest

from infra.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key in list(__import__("os").environ):
        if key.startswith("OPSCOPILOT_"):
            monkeypatch.delenv(key)


def test_defaults_need_nothing():
    s = load_settings()
    assert s.mode == "deterministic"
    assert s.sandbox.scenario == "bad-deploy-checkout"
    assert s.prometheus.url is None and s.slack.bot_token is None


def test_nested_variables_and_secrets(monkeypatch):
    monkeypatch.setenv("OPSCOPILOT_PROMETHEUS__URL", "http://prom:9090")
    monkeypatch.setenv("OPSCOPILOT_SLACK__BOT_TOKEN", "xoxb-secret-value")
    s = load_settings()
    assert str(s.prometheus.url) == "http://prom:9090/"
    assert s.slack.bot_token is not None
    assert s.slack.bot_token.get_secret_value() == "xoxb-secret-value"
    assert "xoxb-secret-value" not in repr(s)


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("OPSCOPILOT_ROUTER__DEFAULT_WINDOW_MINUTES=45\n")
    assert load_settings().router.default_window_minutes == 45


@pytest.mark.parametrize(("var", "value", "expected"), [
    ("OPSCOPILOT_PROMETHEUS__URL", "not a url", "OPSCOPILOT_PROMETHEUS__URL"),
    ("OPSCOPILOT_PROMETHEUS__TIMEOUT_S", "-1", "greater than 0"),
    ("OPSCOPILOT_MODE", "magic", "'deterministic' or 'llm'"),
    ("OPSCOPILOT_ROUTER__MIN_CONFIDENCE", "2", "OPSCOPILOT_ROUTER__MIN_CONFIDENCE"),
])
def test_bad_values_name_the_variable(monkeypatch, var, value, expected):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    message = str(exc.value)
    assert expected in message and var in message
    assert "\n" not in message


def test_bad_secret_is_not_echoed(monkeypatch):
    monkeypatch.setenv("OPSCOPILOT_LLM__API_KEY", "sk-live-123")
    monkeypatch.setenv("OPSCOPILOT_LLM__TIMEOUT_S", "zero")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert "sk-live-123" not in str(exc.value)
