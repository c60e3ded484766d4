"""What every node type declares: its parameters, its outputs and ``run``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

# JSON kinds a parameter may take, and the Python types that satisfy each.
PARAM_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "any": (object,),
}


class NodeError(Exception):
    """A node failed for a reason worth one line (exit code, HTTP status, missing file)."""


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    kind: str = "string"
    required: bool = False
    default: Any = None

    def accepts(self, value: Any) -> bool:
        if self.kind in ("integer", "number") and isinstance(value, bool):
            return False
        return isinstance(value, PARAM_KINDS[self.kind])


@dataclass
class NodeContext:
    """What a running node may know besides its parameters."""

    node_id: str
    store: dict[str, Any]
    base_dir: Path | None = None
    # Shared by every node of one run (e.g. resolved models, so each is looked up once).
    cache: dict[Any, Any] = field(default_factory=dict)


class NodeType:
    """A kind of node. Subclasses set the class attributes and implement ``run``."""

    type_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    outputs: ClassVar[tuple[tuple[str, str], ...]] = ()
    # True when the node reads or changes the shared store beyond its own outputs.
    uses_store: ClassVar[bool] = False

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def check(cls, params: dict[str, Any]) -> str | None:
        """Extra static checks on the raw parameters; a one-line problem or None."""
        return None

    @classmethod
    def param(cls, name: str) -> Param | None:
        for p in cls.params:
            if p.name == name:
                return p
        return None

    @classmethod
    def with_defaults(cls, params: dict[str, Any]) -> dict[str, Any]:
        merged = dict(params)
        for p in cls.params:
            if p.default is not None and p.name not in merged:
                merged[p.name] = p.default
        return merged

    @classmethod
    def catalog_entry(cls) -> dict[str, Any]:
        return {
            "type": cls.type_name,
            "description": cls.description,
            "params": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "required": p.required,
                    "description": p.description,
                    **({"default": p.default} if p.default is not None else {}),
                }
                for p in cls.params
            ],
            "outputs": [{"name": n, "description": d} for n, d in cls.outputs],
        }
