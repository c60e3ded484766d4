"""The difference between two JSON documents as an RFC 6902 JSON Patch.

Only the paths that changed are named: a changed leaf is one ``replace``, a new key an
``add``, a missing key a ``remove``. Lists are compared index by index, then grown with
``add`` or shrunk with ``remove`` from the end, so applying the operations in order
turns ``before`` into ``after``. Types are compared strictly (``1``, ``1.0`` and
``true`` differ), as JSON sees them.
"""

from __future__ import annotations

from typing import Any


def pointer(path: str, key: Any) -> str:
    """``path`` extended by one RFC 6901 reference token."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{token}"


def make_patch(before: Any, after: Any) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    _diff(before, after, "", ops)
    return ops


def _diff(a: Any, b: Any, path: str, ops: list[dict[str, Any]]) -> None:
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict:
        for key in a:
            if key not in b:
                ops.append({"op": "remove", "path": pointer(path, key)})
        for key, value in b.items():
            if key in a:
                _diff(a[key], value, pointer(path, key), ops)
            else:
                ops.append({"op": "add", "path": pointer(path, key), "value": value})
        return
    if ta is list and tb is list:
        common = min(len(a), len(b))
        for i in range(common):
            _diff(a[i], b[i], pointer(path, i), ops)
        for i in range(common, len(b)):
            ops.append({"op": "add", "path": pointer(path, i), "value": b[i]})
        for i in range(len(a) - 1, common - 1, -1):
            ops.append({"op": "remove", "path": pointer(path, i)})
        return
    if ta is tb and ta is not dict and ta is not list and a == b:
        return
    ops.append({"op": "replace", "path": path, "value": b})


def changed_paths(patch: list[dict[str, Any]]) -> list[str]:
    return [op["path"] for op in patch]
