"""An LLM call's stored prompt, system text and response, as a list of messages.

Prompts arrive in many shapes: a plain string; OpenAI/Anthropic message lists whose
content is a string or a list of blocks; OpenTelemetry GenAI messages with ``parts``;
a dict holding ``messages``. Anything else is shown as pretty JSON.
"""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGES = 200


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=str)
    except ValueError:
        return text


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for block in content:
            if isinstance(block, str):
                pieces.append(block)
            elif isinstance(block, dict):
                text = block.get("text", block.get("content"))
                if isinstance(text, str):
                    pieces.append(text)
                else:
                    pieces.append(json.dumps(block, indent=2, ensure_ascii=False))
            else:
                pieces.append(json.dumps(block, ensure_ascii=False))
        return "\n".join(pieces)
    return json.dumps(content, indent=2, ensure_ascii=False)


def _message(item: Any, default_role: str) -> dict[str, str]:
    if isinstance(item, dict):
        role = str(item.get("role") or default_role)
        if "parts" in item:
            body = _content_text(item["parts"])
        elif "content" in item:
            body = _content_text(item["content"])
        else:
            body = json.dumps(item, indent=2, ensure_ascii=False)
        calls = item.get("tool_calls")
        if calls:
            body = (
                (body + "\n" if body else "")
                + "tool calls: "
                + json.dumps(calls, indent=2, ensure_ascii=False)
            )
        return {"role": role, "content": body}
    return {"role": default_role, "content": _content_text(item)}


def messages_from(value: Any, default_role: str) -> list[dict[str, str]]:
    data = _loads(value) if isinstance(value, str) else value
    if data is None:
        return []
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]
    if isinstance(data, dict) and isinstance(data.get("choices"), list):
        data = [c.get("message", c) if isinstance(c, dict) else c for c in data["choices"]]
    if isinstance(data, list):
        return [_message(item, default_role) for item in data[:MAX_MESSAGES]]
    return [_message(data, default_role)]


def transcript(
    system: str | None, prompt: str | None, response: str | None
) -> list[dict[str, str]]:
    """System, prompt and response messages in order; empty when content was not kept."""
    result = []
    if system is not None:
        result.extend(messages_from(system, "system"))
    result.extend(messages_from(prompt, "user"))
    result.extend(messages_from(response, "assistant"))
    return result
