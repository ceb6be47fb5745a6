"""Replay a scripted model through a provider's real HTTP API shape: the test double that ships
with the provider seam (`build_chat_model(settings, transport=...)`).

`ScriptedProvider("openai", [Reply.calls(Call("search_logs", {...})), Reply.say("...")])` is an
`httpx.MockTransport` handler that answers the provider client's requests in order with the
documented response shapes (OpenAI Chat Completions, Anthropic Messages, Ollama /api/chat as
NDJSON) and records every request body it received, so tests can assert on the exact bytes that
would have left the process. Used by the tests and by evals/bench_llm.py. The Anthropic SDK runs on
`httpx2`, the others on `httpx`: `transport()` returns the matching MockTransport.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any] | str  # a str is sent verbatim as the arguments (malformed JSON tests)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    calls: tuple[Call, ...] = ()
    status: int = 200  # not 200: an error reply with `error_body`
    error_body: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (timeouts)
    connect_error: bool = False  # the server cannot be reached
    input_tokens: int = 120
    output_tokens: int = 30

    @staticmethod
    def say(text: str, **kw: Any) -> Reply:
        return Reply(text=text, **kw)

    @staticmethod
    def tools(*calls: Call, text: str = "", **kw: Any) -> Reply:
        return Reply(text=text, calls=tuple(calls), **kw)

    @staticmethod
    def error(status: int, message: str, kind: str = "api_error") -> Reply:
        return Reply(status=status, error_body={"message": message, "type": kind})


Step = Reply | Callable[[dict[str, Any]], Reply]


class ScriptedProvider:
    """An httpx.MockTransport handler speaking one provider's API from a script of replies."""

    def __init__(self, provider: str, script: Sequence[Step], *, repeat_last: bool = False,
                 model: str = "scripted-model") -> None:
        if provider not in ("openai", "anthropic", "ollama"):
            raise ValueError(f"unknown provider {provider!r}")
        self.provider = provider
        self.script = list(script)
        self.repeat_last = repeat_last
        self.model = model
        self.http: Any = httpx2 if provider == "anthropic" else httpx
        self.requests: list[Any] = []
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()

    def transport(self) -> Any:
        return self.http.MockTransport(self)

    @property
    def sent(self) -> bytes:
        """Every request body the provider received, concatenated (what left the process)."""
        return b"\n".join(self.bodies)

    def __call__(self, request: Any) -> Any:
        body = request.read()
        with self._lock:
            index = len(self.bodies)
            self.requests.append(request)
            self.bodies.append(body)
        if index < len(self.script):
            step = self.script[index]
        elif self.repeat_last and self.script:
            step = self.script[-1]
        else:
            return self._error(request, 500, f"script exhausted after {len(self.script)} replies")
        reply = step(json.loads(body or b"{}")) if callable(step) else step
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.connect_error:
            raise self.http.ConnectError("connection refused", request=request)
        if reply.status != 200:
            return self._error(request, reply.status, reply.error_body.get("message", "error"),
                               reply.error_body.get("type", "api_error"))
        return getattr(self, f"_{self.provider}")(reply, index)

    def _error(self, request: Any, status: int, message: str, kind: str = "api_error") -> Any:
        if self.provider == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        elif self.provider == "openai":
            body = {"error": {"message": message, "type": kind, "code": kind}}
        else:
            body = {"error": message}
        headers = {"retry-after": "1"} if status == 429 else {}
        return self.http.Response(status, json=body, headers=headers, request=request)

    def _openai(self, reply: Reply, index: int) -> Any:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            message["tool_calls"] = [
                {"id": f"call_{index}_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": c.args if isinstance(c.args, str)
                              else json.dumps(c.args)}}
                for i, c in enumerate(reply.calls)]
        return self.http.Response(200, json={
            "id": f"chatcmpl-{index}", "object": "chat.completion", "created": 1_764_000_000,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if reply.calls else "stop"}],
            "usage": {"prompt_tokens": reply.input_tokens,
                      "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens},
        })

    def _anthropic(self, reply: Reply, index: int) -> Any:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        content += [{"type": "tool_use", "id": f"toolu_{index}_{i}", "name": c.name,
                     "input": c.args if isinstance(c.args, dict) else {"raw": c.args}}
                    for i, c in enumerate(reply.calls)]
        return self.http.Response(200, json={
            "id": f"msg_{index}", "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": "tool_use" if reply.calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        })

    def _ollama(self, reply: Reply, index: int) -> Any:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": c.args if isinstance(c.args, dict)
                              else {"raw": c.args}}} for c in reply.calls]
        chunk = {"model": self.model, "created_at": "2026-11-29T00:00:00Z", "message": message,
                 "done": True, "done_reason": "stop", "total_duration": 1, "load_duration": 1,
                 "prompt_eval_count": reply.input_tokens, "prompt_eval_duration": 1,
                 "eval_count": reply.output_tokens, "eval_duration": 1}
        return self.http.Response(200, content=(json.dumps(chunk) + "\n").encode(),
                              headers={"content-type": "application/x-ndjson"})
