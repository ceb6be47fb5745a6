import pytest

from infra.redact import redact


@pytest.mark.parametrize(("text", "secret"), [
    ("login ok password=hunter2 user=bob", "hunter2"),
    ('config {"api_key": "abcd1234efgh"}', "abcd1234efgh"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sgn4tur3abc", "eyJ"),
    ("using token xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("dsn postgres://app:s3cr3t@db:5432/shop", "s3cr3t"),
    ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),  # scheme is not the value
    ('curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA=="', "dXNlcjpwYXNzd29yZA"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
    ('DB_PASSWORD="hunter22"', "hunter22"),
    ("export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
    ("pushed with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
])
def test_secrets_are_removed(text, secret):
    assert secret not in redact(text)


@pytest.mark.parametrize("line", [
    "GET /api/cart/42 200 in 31 ms user=1234 trace=abc123",
    "llm call token_count=312 max_tokens=500 tokens_used=812",
    "error rate 5.2% on checkout; pool size=20",
])
def test_ordinary_text_is_untouched(line):
    assert redact(line) == line
