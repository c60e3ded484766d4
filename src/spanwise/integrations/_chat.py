"""OpenAI-shaped chat completions — the format of the openai SDK and of litellm — read
from a full response or from a stream of chunks. How usage is read is passed in, as the
two libraries report cached tokens differently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanwise.integrations._common import Recording, field
from spanwise.integrations._streams import Accumulator

UsageReader = Callable[[Recording, Any], None]


def finish_reasons(choices: Any) -> list[str] | None:
    if not isinstance(choices, list):
        return None
    reasons = []
    for choice in choices:
        reason = field(choice, "finish_reason")
        if isinstance(reason, str):
            reasons.append(reason)
    return reasons or None


def read_response(rec: Recording, result: Any, read_usage: UsageReader) -> None:
    """Usage, model, id and finish reasons (and the answer, with capture on) of a response."""
    usage = field(result, "usage")
    if usage is not None:
        read_usage(rec, usage)
    choices = field(result, "choices")
    rec.set_response(field(result, "model"), field(result, "id"), finish_reasons(choices))
    if rec.capture and isinstance(choices, list):
        rec.call.response = [field(c, "message") or field(c, "text") for c in choices]


class ChatAccumulator(Accumulator):
    """Chunks of a streamed chat (or legacy text) completion: model, finish reasons, the
    usage chunk, and with capture on the streamed text and tool calls per choice."""

    __slots__ = ("model", "read_usage", "reasons", "response_id", "texts", "tools", "usage")

    def __init__(self, rec: Recording, read_usage: UsageReader) -> None:
        super().__init__(rec)
        self.read_usage = read_usage
        self.model: Any = None
        self.response_id: Any = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[tuple[int, int], dict[str, Any]] = {}

    def item(self, chunk: Any) -> None:
        if self.model is None:
            self.model = field(chunk, "model")
            self.response_id = field(chunk, "id")
        usage = field(chunk, "usage")
        if usage is not None:
            self.usage = usage
        choices = field(chunk, "choices")
        if not choices:
            return
        rec = self.rec
        for choice in choices:
            index = field(choice, "index") or 0
            delta = field(choice, "delta")
            text = field(delta, "content") if delta is not None else field(choice, "text")
            tool_calls = field(delta, "tool_calls")
            if text or tool_calls or field(delta, "refusal"):
                rec.first_token()
                if rec.capture:
                    self._capture(index, text, tool_calls)
            reason = field(choice, "finish_reason")
            if isinstance(reason, str):
                self.reasons[index] = reason

    def _capture(self, index: int, text: Any, tool_calls: Any) -> None:
        if isinstance(text, str):
            self.texts.setdefault(index, []).append(text)
        for call in tool_calls or ():
            key = (index, field(call, "index") or 0)
            entry = self.tools.setdefault(key, {"id": None, "name": None, "arguments": ""})
            entry["id"] = field(call, "id") or entry["id"]
            function = field(call, "function")
            entry["name"] = field(function, "name") or entry["name"]
            entry["arguments"] += field(function, "arguments") or ""

    def finish(self, complete: bool) -> bool:
        rec = self.rec
        if self.usage is not None:
            self.read_usage(rec, self.usage)
        reasons = [self.reasons[i] for i in sorted(self.reasons)] or None
        rec.set_response(self.model, self.response_id, reasons)
        if rec.capture:
            rec.call.response = [
                self._message(i)
                for i in sorted(set(self.texts) | {choice for choice, _ in self.tools})
            ]
        # Without a finish reason or a usage chunk the stream ended before its end.
        return bool(self.reasons) or self.usage is not None

    def _message(self, index: int) -> dict[str, Any]:
        text = "".join(self.texts.get(index, ()))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        calls = [v for (choice, _), v in sorted(self.tools.items()) if choice == index]
        if calls:
            message["tool_calls"] = calls
        return message
