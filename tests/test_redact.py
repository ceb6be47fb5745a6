import pytest

from tools.redact import redact


@pytest.mark.parametrize(("text", "secret"), [
    ("login ok password=hunter2 user=bob", "hunter2"),
    ('config {"api_key": "abcd1234efgh"}', "abcd1234efgh"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sgn4tur3abc", "eyJ"),
    ("using token xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("dsn postgres://app:s3cr3t@db:5432/shop", "s3cr3t"),
])
def test_secrets_are_removed(text, secret):
    assert secret not in redact(text)


def test_ordinary_text_is_untouched():
    line = "GET /api/cart/42 200 in 31 ms user=1234 trace=abc123"
    assert redact(line) == line
