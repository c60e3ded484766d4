"""``spanwise.record_llm_call``: one LLM call as a span of kind ``llm``."""

from __future__ import annotations

from contextvars import ContextVar

from spanwise import _internal
from spanwise._llm_record import LlmCall, normalize_input_tokens
from spanwise._runtime import RT
from spanwise._span import Span, settle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"

# True while a recorded LLM call is in progress in this context: inner calls pass through.
# Here rather than with the integrations' shared code, so that the ``llm`` library's
# integration (which ``spanwise run`` loads) needs nothing else of theirs.
llm_call_active: ContextVar[bool] = ContextVar("spanwise.llm_call_active", default=False)


class nested_calls_hidden:
    """Within this block, LLM calls of other integrations are not recorded (for an
    integration that records the outer call itself, e.g. the ``llm`` library)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = llm_call_active.set(True)

    def __exit__(self, *exc: object) -> None:
        llm_call_active.reset(self._token)


def recording_allowed() -> bool:
    """True when spanwise records and no outer LLM call is being recorded here."""
    return RT.emit is not None and not llm_call_active.get()


def _as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int or None, not {value!r}")
    return value


def record_llm_call(
    *,
    provider: str,
    model: str,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    response_model: str | None = None,
    operation: str = "chat",
    duration_ms: float | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    time_to_first_token_ms: float | None = None,
    streamed: bool = False,
    finish_reasons: list[str] | None = None,
    usage_convention: str | None = None,
    prompt: Any = None,
    response: Any = None,
    system: Any = None,
    error: BaseException | None = None,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Span | None:
    """Record one LLM call that already happened, as a child of the current span.

    Token counts of ``None`` mean *unknown* (never 0). ``input_tokens`` is taken in the
    provider's own convention (Anthropic reports cached tokens on top of input; OpenAI
    inside it) unless ``usage_convention`` says ``"inclusive"`` or ``"additive"``; it is
    stored inclusive. Prompts and responses are kept only when content capture is on.
    Returns the span, or None when spanwise is off.
    """
    if RT.emit is None:
        return None
    inp = normalize_input_tokens(
        provider,
        _as_int(input_tokens, "input_tokens"),
        _as_int(cache_read_tokens, "cache_read_tokens"),
        _as_int(cache_write_tokens, "cache_write_tokens"),
        usage_convention,
    )
    call = LlmCall(
        provider,
        model,
        response_model=response_model,
        operation=operation,
        input_tokens=inp,
        output_tokens=_as_int(output_tokens, "output_tokens"),
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=_as_int(reasoning_tokens, "reasoning_tokens"),
        time_to_first_token_ms=time_to_first_token_ms,
        streamed=streamed,
        finish_reasons=finish_reasons,
    )
    if RT.capture_content:
        call.prompt, call.response, call.system = prompt, response, system
    attrs = {
        GEN_AI_OPERATION: operation,
        GEN_AI_PROVIDER: provider,
        GEN_AI_REQUEST_MODEL: model,
    }
    if response_model:
        attrs[GEN_AI_RESPONSE_MODEL] = response_model
    if attributes:
        attrs.update(attributes)
    return emit_llm_span(
        call, name or f"{operation} {model}", attrs, duration_ms, start_ns, end_ns, error
    )


def emit_llm_span(
    call: LlmCall,
    name: str,
    attributes: dict[str, Any],
    duration_ms: float | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    error: BaseException | None = None,
) -> Span | None:
    """Emit ``call`` as an ended ``llm`` span under the current span (for integrations)."""
    rt = RT
    emit = rt.emit
    if emit is None:
        return None
    try:
        s = Span(name, attributes, "llm")
        s._link()
        end = end_ns if end_ns is not None else rt.now_ns()
        if start_ns is None:
            start_ns = end - int((duration_ms or 0.0) * 1e6)
        s.start_ns, s.end_ns = start_ns, max(end, start_ns)
        s.llm = call
        if error is not None:
            s.record_exception(error)
            s.attributes.setdefault("error.type", type(error).__qualname__)
        settle(s)
        emit(s)
        return s
    except Exception as exc:  # noqa: BLE001
        _internal.report("record_llm_call", exc)
        return None
