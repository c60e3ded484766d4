"""``llm``: one prompt through the ``llm`` library, so any of its models and plugins work
(``echo`` from ``llm-echo`` answers offline)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param


class LlmNode(NodeType):
    type_name = "llm"
    description = (
        "Send a prompt to a language model through the llm library (any installed model or "
        "plugin; 'echo' answers offline by echoing the prompt back)."
    )
    params = (
        Param("prompt", "The prompt text.", required=True),
        Param("model", "Model id or alias (default: llm's default model)."),
        Param("system", "System prompt."),
        Param("options", 'Model options, e.g. {"temperature": 0}.', kind="object"),
    )
    outputs = (("text", "The model's answer."), ("model", "The model id that answered."))

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        try:
            import llm
        except ImportError:
            raise NodeError("llm nodes need the llm library: pip install 'spanwise[llm]'") from None
        name = str(params["model"]) if params.get("model") else None
        key = _cache_key(name)
        model = ctx.cache.get(key)
        if model is None:
            # Looking a model up loads every plugin's model list: once per run is enough.
            try:
                model = ctx.cache[key] = llm.get_model(name)
            except llm.UnknownModelError:
                raise NodeError(f"unknown model {name!r} (see: llm models)") from None
        kwargs: dict[str, Any] = dict(params.get("options") or {})
        if params.get("system"):
            kwargs["system"] = str(params["system"])
        response = model.prompt(_text(params["prompt"]), **kwargs)
        return {"text": response.text(), "model": model.model_id}


def preload_models(specs: Iterable[Any], cache: dict[Any, Any]) -> None:
    """Look up, before the run, the models that ``llm`` nodes name literally (or the
    default model, for nodes that name none), into the run's shared ``cache``.

    The first lookup builds every plugin's model list (a few hundred ms with the openai
    plugin); done here it is part of loading, like the plugins themselves, rather than of
    the first llm node's time. Templated names are left to their node, and so is every
    error: a model that is not found is not cached, and its node reports it.
    """
    names: set[str | None] = set()
    for spec in specs:
        if spec.type != LlmNode.type_name:
            continue
        given = spec.params.get("model")
        if not given:
            names.add(None)
        elif isinstance(given, str) and "${" not in given:
            names.add(given)
    if not names:
        return
    try:
        import llm

        aliases = llm.get_model_aliases()
        for name in names:
            model = aliases.get(name or llm.get_default_model())  # type: ignore[no-untyped-call]
            if model is not None:
                cache[_cache_key(name)] = model
    except Exception:  # noqa: BLE001 - the node looks the model up again and reports
        pass


def _cache_key(name: str | None) -> tuple[str, str | None]:
    return ("llm-model", name)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str)
