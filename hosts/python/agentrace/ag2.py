"""AG2 1.x (the ``ag2`` package): a middleware that replaces ``TelemetryMiddleware``.

Switch with one import; the constructor takes the same arguments::

    # from ag2.middleware.builtin.telemetry import TelemetryMiddleware
    from agentrace.ag2 import TelemetryMiddleware

    agent = Agent("lead", config=config, middleware=[TelemetryMiddleware(agent_name="lead")])

Its hooks report to an :class:`agentrace.Tracer`: ``on_turn`` an ``invoke_agent`` span,
``on_llm_call`` a ``chat`` span, ``on_tool_execution`` an ``execute_tool`` span (a sub-agent used
as a tool nests its own turn under it), ``on_human_input`` a ``human_input`` span. The host's
mapper writes GenAI semconv v1.41 (or AG2's names with ``Tracer(compat="ag2")``) and exports.

``tracer_provider`` is the application's OpenTelemetry ``TracerProvider`` the mapped spans go
out through (default: the global SDK provider if there is one, else agentrace's own export);
``tracer`` picks an :class:`agentrace.Tracer` other than :func:`agentrace.get_tracer`'s.
Content is reported when both ``capture_content`` (default ``True``, as in AG2) and the
tracer's content capture are on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from ag2.events import (
    BaseEvent,
    HumanInputRequest,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    TextInput,
    ToolCallEvent,
    ToolErrorEvent,
    ToolResultEvent,
    ToolResultsEvent,
)
from ag2.middleware.base import (
    AgentTurn,
    BaseMiddleware,
    HumanInputHook,
    LLMCall,
    MiddlewareFactory,
    ToolExecution,
    ToolResultType,
)
from ag2.middleware.describe import MiddlewareDescription

from ._tracer import Tracer, get_tracer, json_or_text

__all__ = ["AgentraceMiddleware", "TelemetryMiddleware"]

logger = logging.getLogger("agentrace")

#: Where AG2 relays the ``traceparent`` of a network envelope that started a turn.
_TRACEPARENT_KEY = "ag2.otel.traceparent"

#: AG2's default cap on a tool result recorded as content.
MAX_TOOL_RESULT_CHARS = 8192


class AgentraceMiddleware(MiddlewareFactory):
    """Reports an AG2 agent's turns, LLM calls, tool executions and human input to agentrace.

    Args:
        tracer: the :class:`agentrace.Tracer` (default :func:`agentrace.get_tracer`).
        tracer_provider: the application's ``TracerProvider`` the spans go out through, as in
            ``TelemetryMiddleware`` (default: :func:`agentrace.get_tracer`'s choice).
        capture_content: report messages, tool arguments and results, human input (when the
            tracer records content too).
        max_tool_result_chars: cap on a tool result reported as content (``None``: no cap).
        agent_name, provider_name, model_name: what the turn and model spans name.
        span_attributes: extra attributes on every span.
    """

    def __init__(
        self,
        *,
        tracer: Tracer | None = None,
        tracer_provider: Any = None,
        capture_content: bool = True,
        max_tool_result_chars: int | None = MAX_TOOL_RESULT_CHARS,
        agent_name: str | None = None,
        provider_name: str | None = None,
        model_name: str | None = None,
        span_attributes: dict[str, str] | None = None,
    ) -> None:
        self._tracer = tracer or get_tracer(tracer_provider)
        self._content = capture_content and self._tracer.capture_content
        self._max_tool_result_chars = max_tool_result_chars
        self._agent_name = agent_name or "unknown"
        self._provider_name = provider_name
        self._model_name = model_name
        self._span_attributes = dict(span_attributes or {})

    def describe(self) -> MiddlewareDescription:
        """What AG2 logs about this middleware (attribute keys only: values may be secrets)."""
        return MiddlewareDescription(
            kind=type(self).__qualname__,
            config={
                "capture_content": self._content,
                "max_tool_result_chars": self._max_tool_result_chars,
                "agent_name": self._agent_name,
                "provider_name": self._provider_name,
                "model_name": self._model_name,
                "span_attributes": tuple(sorted(self._span_attributes)),
            },
        )

    def __call__(self, event: BaseEvent, context: Any) -> BaseMiddleware:
        return _Turn(event, context, self)


#: The name AG2 users import; ``from agentrace.ag2 import TelemetryMiddleware`` is the switch.
TelemetryMiddleware = AgentraceMiddleware


class _Turn(BaseMiddleware):
    """One agent turn's middleware instance (AG2 makes one per ``ask``)."""

    def __init__(self, event: BaseEvent, context: Any, factory: AgentraceMiddleware) -> None:
        super().__init__(event, context)
        self._f = factory

    def _fields(self, **fields: Any) -> dict[str, Any]:
        if self._f._span_attributes:
            fields["attributes"] = dict(self._f._span_attributes)
        return fields

    def _model(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self._f._provider_name:
            fields["provider"] = self._f._provider_name
        if self._f._model_name:
            fields["request"] = {"model": self._f._model_name}
        return fields

    def _read(self, what: str, read: Any) -> dict[str, Any]:
        """Fields read off AG2 events; a surprise is counted and logged, never raised."""
        try:
            return read()
        except Exception as error:  # noqa: BLE001 - tracing must not fail the agent
            self._f._tracer._native.reject(f"ag2 {what}: {error!r}")
            logger.warning("agentrace: could not read %s: %r", what, error)
            return {}

    async def on_turn(self, call_next: AgentTurn, event: BaseEvent, context: Any) -> ModelResponse:
        tracer = self._f._tracer
        traceparent = (getattr(context, "dependencies", None) or {}).get(_TRACEPARENT_KEY)
        fields = self._fields(agent={"name": self._f._agent_name}, **self._model())
        async with tracer.invoke_agent(parent=traceparent, **fields):
            return await call_next(event, context)

    async def on_llm_call(self, call_next: LLMCall, events: Sequence[BaseEvent], context: Any) -> ModelResponse:
        tracer = self._f._tracer
        fields = self._fields(**self._model())
        if self._f._content:
            fields.update(self._read("LLM request", lambda: {"input_messages": _input_messages(events)}))
        async with tracer.chat(**fields) as span:
            response = await call_next(events, context)
            span.set(**self._read("LLM response", lambda: self._response_fields(response)))
            return response

    def _response_fields(self, response: ModelResponse) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if response.provider and not self._f._provider_name:
            fields["provider"] = response.provider
        model = response.model or self._f._model_name
        if model and not self._f._model_name:
            fields["request"] = {"model": model}
        answer: dict[str, Any] = {}
        if model:
            answer["model"] = model
        if response.response_id:
            answer["id"] = response.response_id
        if response.finish_reason:
            answer["finish_reasons"] = [response.finish_reason]
        if answer:
            fields["response"] = answer
        usage = response.usage
        tokens = {
            key: int(value)
            for key, value in (
                ("input_tokens", usage.prompt_tokens),
                ("output_tokens", usage.completion_tokens),
                ("cache_read_input_tokens", usage.cache_read_input_tokens),
                ("cache_creation_input_tokens", usage.cache_creation_input_tokens),
                ("reasoning_output_tokens", usage.thinking_tokens),
            )
            if value
        }
        if tokens:
            fields["usage"] = tokens
        if self._f._content and (response.message or response.tool_calls):
            message = _response_message(response)
            message["finish_reason"] = response.finish_reason or ("tool_call" if response.tool_calls else "stop")
            fields["output_messages"] = [message]
        return fields

    async def on_tool_execution(
        self, call_next: ToolExecution, event: ToolCallEvent, context: Any
    ) -> ToolResultType:
        tool: dict[str, Any] = {"name": event.name, "call_id": event.id, "type": "function"}
        if self._f._content:
            tool["arguments"] = json_or_text(event.arguments)
        async with self._f._tracer.execute_tool(**self._fields(tool=tool)) as span:
            result = await call_next(event, context)
            if isinstance(result, ToolErrorEvent):
                span.record_exception(result.error)
            elif self._f._content and isinstance(result, ToolResultEvent):
                span.set(tool={"result": self._read("tool result", lambda: _tool_result(result, self._f))})
            return result

    async def on_human_input(
        self, call_next: HumanInputHook, event: HumanInputRequest, context: Any
    ) -> HumanMessage:
        human: dict[str, Any] = {}
        if self._f._content:
            human["prompt"] = event.content
        fields = self._fields(agent={"name": self._f._agent_name}, human_input=human)
        async with self._f._tracer.human_input(**fields) as span:
            response = await call_next(event, context)
            if self._f._content:
                span.set(human_input={"response": response.content})
            return response


def _tool_result(result: ToolResultEvent, factory: AgentraceMiddleware) -> str:
    texts = []
    for part in result.result.parts:
        if isinstance(part, TextInput):
            texts.append(part.content)
        elif hasattr(part, "data"):
            texts.append(json.dumps(part.data, default=str))
        elif hasattr(part, "url"):
            texts.append(part.url)
    rendered = "\n".join(texts)
    cap = factory._max_tool_result_chars
    return rendered if cap is None or len(rendered) <= cap else rendered[:cap] + "...[truncated]"


def _tool_call_part(call: ToolCallEvent) -> dict[str, Any]:
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": json_or_text(call.arguments)}


def _response_message(response: ModelResponse) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if response.content:
        parts.append({"type": "text", "content": response.content})
    if response.tool_calls:
        parts.extend(_tool_call_part(call) for call in response.tool_calls.calls)
    return {"role": "assistant", "parts": parts}


def _input_messages(events: Sequence[BaseEvent]) -> list[dict[str, Any]]:
    """The history sent to the model, as GenAI messages (binary inputs left out)."""
    messages: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, ModelRequest):
            parts = [{"type": "text", "content": p.content} for p in event.parts if isinstance(p, TextInput)]
            if parts:
                messages.append({"role": "user", "parts": parts})
        elif isinstance(event, ModelResponse):
            messages.append(_response_message(event))
        elif isinstance(event, ToolResultsEvent):
            parts = [
                {"type": "tool_call_response", "id": r.parent_id,
                 "response": "\n".join(p.content for p in r.result.parts if isinstance(p, TextInput))}
                for r in event.results
                if isinstance(r, ToolResultEvent)
            ]
            if parts:
                messages.append({"role": "tool", "parts": parts})
    return messages

