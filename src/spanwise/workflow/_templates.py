"""Templates in parameters: ``${inputs.name}`` and ``${node_id.key[.sub…]}``.

A string that is exactly one template takes the referenced value as it is (a number stays
a number); templates inside longer text are written as text (JSON for non-strings).
``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_TEMPLATE = re.compile(r"\$\$\{|\$\{([A-Za-z_][\w-]*)((?:\.[\w-]+)*)\}")
INPUTS = "inputs"


class TemplateError(ValueError):
    """A template that cannot be resolved; the message is one line."""


@dataclass(frozen=True)
class Reference:
    text: str  # "${fetch.body}"
    root: str  # "fetch" or "inputs"
    path: tuple[str, ...]  # ("body",)


def references(value: Any) -> Iterator[tuple[str, Reference]]:
    """Every template in a (nested) parameter value, with the parameter path it sits at."""
    yield from _walk_refs(value, "")


def _walk_refs(value: Any, where: str) -> Iterator[tuple[str, Reference]]:
    if isinstance(value, str):
        if "${" in value:
            for match in _TEMPLATE.finditer(value):
                if match.group(1) is not None:
                    yield where, _reference(match)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_refs(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_refs(item, f"{where}.{i}" if where else str(i))


def _reference(match: re.Match[str]) -> Reference:
    path = tuple(p for p in match.group(2).split(".") if p)
    return Reference(match.group(0), match.group(1), path)


def has_templates(value: Any) -> bool:
    return any(True for _ in references(value))


def resolve_params(
    params: dict[str, Any], store: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``params`` with every template replaced, and what each template resolved to:
    ``[{"param": "prompt", "template": "${inputs.topic}", "value": "owls"}, …]``."""
    resolutions: list[dict[str, Any]] = []
    resolved = {key: _resolve(value, store, str(key), resolutions) for key, value in params.items()}
    return resolved, resolutions


def resolve_value(value: Any, store: dict[str, Any]) -> Any:
    return _resolve(value, store, "", [])


def _resolve(value: Any, store: dict[str, Any], where: str, out: list[dict[str, Any]]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = _TEMPLATE.fullmatch(value)
        if whole is not None and whole.group(1) is not None:
            ref = _reference(whole)
            found = lookup(ref, store)
            out.append({"param": where, "template": ref.text, "value": found})
            return found

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "${"
            ref = _reference(match)
            found = lookup(ref, store)
            out.append({"param": where, "template": ref.text, "value": found})
            return as_text(found)

        return _TEMPLATE.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _resolve(v, store, f"{where}.{k}" if where else str(k), out)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve(v, store, f"{where}.{i}" if where else str(i), out)
            for i, v in enumerate(value)
        ]
    return value


def lookup(ref: Reference, store: dict[str, Any]) -> Any:
    """The value a reference points at in the shared store; TemplateError when absent."""
    if ref.root not in store:
        what = "no inputs were given" if ref.root == INPUTS else f"node {ref.root!r} has not run"
        raise TemplateError(f"{ref.text}: {what}")
    current: Any = store[ref.root]
    walked = ref.root
    for part in ref.path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise TemplateError(f"{ref.text}: {_missing(walked, part, current)}")
        walked = f"{walked}.{part}"
    return current


def _missing(walked: str, part: str, current: Any) -> str:
    if isinstance(current, dict):
        keys = ", ".join(sorted(map(str, current))) or "nothing"
        return f"{walked} has no {part!r} (it has: {keys})"
    if isinstance(current, list):
        return f"{walked} has {len(current)} items, no index {part!r}"
    return f"{walked} is a {type(current).__name__}, not an object with {part!r}"


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, default=str)
