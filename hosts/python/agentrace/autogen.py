"""Classic AG2 (the ``autogen`` package, 0.14): the entry points of ``autogen.opentelemetry``,
reporting to agentrace instead of the OpenTelemetry SDK.

Switch with one import::

    # from autogen.opentelemetry import instrument_agent, instrument_llm_wrapper
    from agentrace.autogen import instrument_agent, instrument_llm_wrapper

    instrument_llm_wrapper()
    instrument_agent(assistant)
    instrument_agent(user_proxy)

The functions wrap the same methods as the built-in module, so the span tree is the same: a
conversation per ``initiate_chat``, ``invoke_agent`` per reply, ``chat`` per LLM call, and tool,
human-input, code-execution, speaker-selection and multi-conversation spans. They report
structured fields (docs/events.md); the host's mapper writes the GenAI semconv v1.41 attributes,
or AG2's own span names and ``ag2.*`` attributes with ``Tracer(compat="ag2")``.

``tracer_provider``, as in the built-in module, is the application's OpenTelemetry
``TracerProvider`` the mapped spans go out through (:func:`agentrace.get_tracer`'s tracer for
that provider); without it, the global SDK provider if there is one, else agentrace's own export
(``OTEL_*`` variables). ``tracer`` picks an :class:`agentrace.Tracer` other than
:func:`agentrace.get_tracer`'s. Content (messages, tool arguments and results, human input,
code output) is reported only when the tracer records content.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from ._tracer import Span, Tracer, continue_trace, current_span, get_tracer, json_or_text

__all__ = [
    "instrument_a2a_server",
    "instrument_agent",
    "instrument_groupchat",
    "instrument_llm_wrapper",
    "instrument_pattern",
    "uninstrument",
    "uninstrument_llm_wrapper",
]

logger = logging.getLogger("agentrace")

#: The code of every wrapper this module made: a function is one of ours when its code is one
#: of these, so that instrumenting twice wraps once. The wrappers themselves carry no mark: an
#: attribute (or ``__wrapped__``) gave each its own ``__dict__``. Every object a wrapper keeps
#: lives as long as its agent, and AG2's agents are freed only by Python's cyclic garbage
#: collector, whose collections grow with them (BENCHMARKS.md, "Python": 108 such objects per
#: instrumented agent before, 61 now).
_WRAPPER_CODES: set[Any] = set()

#: The attribute under which an instrumented object keeps what the wrappers replaced, by the
#: attribute's name (``reply_func:<name>`` for a reply function), for :func:`uninstrument`.
_ORIGINALS = "__agentrace_originals__"


def _wrapped(function: Any) -> bool:
    """Whether ``function`` is a wrapper of this module. A bound method is asked through its
    function: asking the method for an attribute it lacks raises and catches an
    ``AttributeError`` inside ``getattr`` (993 ns against 86 ns, ``timeit`` on Python 3.11),
    and AG2 makes agents during a run, whose methods are all asked."""
    return getattr(getattr(function, "__func__", function), "__code__", None) in _WRAPPER_CODES


def _mark(wrapper: Any, holder: Any, name: str, original: Any) -> Any:
    """Marks ``wrapper`` as ours, and keeps the ``original`` it replaces under ``name`` on
    ``holder`` (the object whose attribute or reply function it replaces). Not
    ``functools.wraps``: copying the original's metadata was half of the cost of instrumenting
    an agent, and AG2 makes agents (the group chat's speaker selectors) during a run."""
    _WRAPPER_CODES.add(wrapper.__code__)
    originals = vars(holder).get(_ORIGINALS)
    if originals is None:
        originals = {}
        setattr(holder, _ORIGINALS, originals)
    originals[name] = original
    return wrapper


def _read(tracer: Tracer, what: str, read: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Fields read off AG2 objects by ``read(*args)``; a surprise there is counted and logged,
    never raised."""
    try:
        return read(*args)
    except Exception as error:  # noqa: BLE001 - tracing must not fail the agent
        tracer._native.reject(f"autogen {what}: {error!r}")
        logger.warning("agentrace: could not read %s: %r", what, error)
        return {}


# --- AG2 objects to fields -------------------------------------------------------------------


def _first_config(agent: Any) -> Any:
    llm_config = getattr(agent, "llm_config", None)
    if not llm_config:
        return None
    # A dict and AG2's ``LLMConfig`` both answer ``get``. Asked for the attribute, ``LLMConfig``
    # answers through its ``__getattr__`` after a failed lookup: 1.59 µs against 0.30 µs
    # (``timeit`` on autogen 0.14.1), once per agent turn.
    get = getattr(llm_config, "get", None)
    config_list = get("config_list") if callable(get) else getattr(llm_config, "config_list", None)
    return config_list[0] if config_list else None


def _model_fields(config: Any, default_provider: str | None) -> dict[str, Any]:
    """``provider`` and ``request.model`` from one LLM config entry. The mapper normalises AG2's
    ``api_type`` spellings to ``gen_ai.provider.name``."""
    fields: dict[str, Any] = {}
    if isinstance(config, dict):
        provider, model = config.get("api_type"), config.get("model")
    else:
        provider, model = getattr(config, "api_type", None), getattr(config, "model", None)
    provider = provider or default_provider
    if provider:
        fields["provider"] = provider
    if model:
        fields["request"] = {"model": model}
    return fields


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One AG2 (OpenAI-style) message as GenAI message parts."""
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for item in content:
            parts.append({"type": "text", "content": item} if isinstance(item, str) else item)
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        parts.append(
            {"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
             "arguments": json_or_text(function.get("arguments"))}
        )
    for response in message.get("tool_responses") or []:
        parts.append(
            {"type": "tool_call_response", "id": response.get("tool_call_id"), "response": response.get("content")}
        )
    if message.get("role") == "tool" and message.get("tool_call_id") and not message.get("tool_responses"):
        parts = [{"type": "tool_call_response", "id": message["tool_call_id"], "response": content}]
    return parts


def _messages(messages: Any) -> list[dict[str, Any]]:
    result = []
    for message in messages or []:
        if isinstance(message, str):
            message = {"role": "user", "content": message}
        role = message.get("role") or "user"
        entry: dict[str, Any] = {"role": "tool" if role == "function" else role, "parts": _parts(message)}
        if message.get("name"):
            entry["name"] = message["name"]
        result.append(entry)
    return result


def _reply_message(reply: Any) -> list[dict[str, Any]]:
    if reply is None:
        return []
    message = {"role": "assistant", "content": reply} if isinstance(reply, str) else {"role": "assistant", **reply}
    (entry,) = _messages([message])
    entry["finish_reason"] = "tool_call" if message.get("tool_calls") else "stop"
    return [entry]


def _usage_of(cost: Any) -> dict[str, Any]:
    """Usage and model from a ChatResult's ``cost`` (``usage_including_cached_inference``)."""
    usage = dict((cost or {}).get("usage_including_cached_inference") or {})
    total_cost = usage.pop("total_cost", None)
    fields: dict[str, Any] = {}
    if usage:
        fields["usage"] = {
            "input_tokens": sum(int(u.get("prompt_tokens", 0)) for u in usage.values()),
            "output_tokens": sum(int(u.get("completion_tokens", 0)) for u in usage.values()),
        }
        fields["response"] = {"model": ", ".join(usage)}
    if total_cost is not None:
        fields.setdefault("usage", {})["cost"] = float(total_cost)
    return fields


def _agent_record(agent: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"name": agent.name}
    description = getattr(agent, "description", None)
    if description:
        record["description"] = description
    return record


# --- Wrappers --------------------------------------------------------------------------------


def _wrap_method(agent: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replaces ``agent.<name>`` by ``make(original)``, once."""
    original = getattr(agent, name, None)
    if original is None or _wrapped(original):
        return
    setattr(agent, name, _mark(make(original), agent, name, original))


def _wrap_reply_func(agent: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replaces a function registered in ``agent._reply_func_list`` (the reply chain calls those,
    not the bound methods), once."""
    for entry in getattr(agent, "_reply_func_list", []):
        function = entry.get("reply_func")
        if getattr(function, "__name__", None) == name and not _wrapped(function):
            replacement = _mark(make(function), agent, f"reply_func:{name}", function)
            replacement.__name__ = name
            entry["reply_func"] = replacement
            return


def _conversation_fields(tracer: Tracer, agent: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    recipient = args[0] if args else kwargs.get("recipient")
    fields: dict[str, Any] = {"agent": _agent_record(agent)}
    conversation: dict[str, Any] = {"method": "initiate_chat"}
    if recipient is not None:
        conversation["recipient"] = recipient.name
        fields.update(_model_fields(_first_config(recipient), None))
    if kwargs.get("max_turns"):
        conversation["max_turns"] = int(kwargs["max_turns"])
    fields["conversation"] = conversation
    message = kwargs.get("message")
    if tracer.capture_content and isinstance(message, (str, dict)):
        fields["input_messages"] = _messages([message])
    return fields


def _conversation_result(tracer: Tracer, result: Any) -> dict[str, Any]:
    fields = _usage_of(getattr(result, "cost", None))
    fields["conversation_id"] = str(result.chat_id)
    fields["conversation"] = {"turns": len(result.chat_history)}
    if getattr(result, "summary", None) and tracer.capture_content:
        fields["conversation"]["summary"] = str(result.summary)
    if tracer.capture_content and result.chat_history:
        fields["output_messages"] = _messages(result.chat_history)
    return fields


def _instrument_initiate_chat(agent: Any, tracer: Tracer, sync_only: bool = False) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def initiate_chat(*args: Any, **kwargs: Any) -> Any:
            fields = _read(tracer, "initiate_chat", _conversation_fields, tracer, agent, args, kwargs)
            with Span(tracer, "conversation", None, fields) as span:
                result = original(*args, **kwargs)
                span.set(**_read(tracer, "chat result", _conversation_result, tracer, result))
                return result

        return initiate_chat

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_initiate_chat(*args: Any, **kwargs: Any) -> Any:
            fields = _read(tracer, "initiate_chat", _conversation_fields, tracer, agent, args, kwargs)
            async with Span(tracer, "conversation", None, fields) as span:
                result = await original(*args, **kwargs)
                span.set(**_read(tracer, "chat result", _conversation_result, tracer, result))
                return result

        return a_initiate_chat

    _wrap_method(agent, "initiate_chat", sync)
    if not sync_only:
        _wrap_method(agent, "a_initiate_chat", asynchronous)


def _instrument_resume(agent: Any, tracer: Tracer) -> None:
    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_resume(*args: Any, **kwargs: Any) -> Any:
            fields = {"agent": _agent_record(agent), "conversation": {"method": "resume"}}
            async with Span(tracer, "conversation", None, fields):
                return await original(*args, **kwargs)

        return a_resume

    _wrap_method(agent, "a_resume", asynchronous)


def _run_chat_fields(tracer: Tracer, agent: Any, messages: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"agent": _agent_record(agent), "conversation": {"method": "run_chat"}}
    if tracer.capture_content and messages:
        fields["input_messages"] = _messages(messages)
    return fields


def _instrument_run_chat(agent: Any, tracer: Tracer) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_chat(messages: Any = None, sender: Any = None, config: Any = None, **kwargs: Any) -> Any:
            with Span(tracer, "conversation", None, _read(tracer, "run_chat", _run_chat_fields, tracer, agent, messages)):
                return original(messages=messages, sender=sender, config=config, **kwargs)

        return run_chat

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_run_chat(messages: Any = None, sender: Any = None, config: Any = None, **kwargs: Any) -> Any:
            fields = _read(tracer, "run_chat", _run_chat_fields, tracer, agent, messages)
            async with Span(tracer, "conversation", None, fields):
                return await original(messages=messages, sender=sender, config=config, **kwargs)

        return a_run_chat

    _wrap_method(agent, "run_chat", sync)
    _wrap_method(agent, "a_run_chat", asynchronous)


def _chats_fields(agent: Any, chat_queue: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    recipients = [getattr(chat.get("recipient"), "name", str(chat.get("recipient"))) for chat in chat_queue]
    return {"agent": _agent_record(agent), "multi_conversation": {"mode": mode, "recipients": recipients}}


def _chats_results(tracer: Tracer, results: list[Any]) -> dict[str, Any]:
    """AG2's own attributes for its dashboards (``compat="ag2"``); summaries are content."""
    attributes = {"ag2.chats.ids": json.dumps([str(r.chat_id) for r in results])}
    if tracer.capture_content:
        attributes["ag2.chats.summaries"] = json.dumps([r.summary for r in results])
    return {"attributes": attributes}


def _instrument_initiate_chats(agent: Any, tracer: Tracer) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def initiate_chats(chat_queue: list[dict[str, Any]]) -> Any:
            fields = _read(tracer, "initiate_chats", _chats_fields, agent, chat_queue, "sequential")
            with Span(tracer, "multi_conversation", None, fields) as span:
                results = original(chat_queue)
                if tracer.compat == "ag2":
                    span.set(**_read(tracer, "chat results", _chats_results, tracer, list(results)))
                return results

        return initiate_chats

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_initiate_chats(chat_queue: list[dict[str, Any]]) -> Any:
            fields = _read(tracer, "initiate_chats", _chats_fields, agent, chat_queue, "parallel")
            async with Span(tracer, "multi_conversation", None, fields) as span:
                results = await original(chat_queue)
                if tracer.compat == "ag2":
                    span.set(**_read(tracer, "chat results", _chats_results, tracer, list(results.values())))
                return results

        return a_initiate_chats

    _wrap_method(agent, "initiate_chats", sync)
    _wrap_method(agent, "a_initiate_chats", asynchronous)


def _reply_fields(tracer: Tracer, agent: Any, messages: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"agent": _agent_record(agent)}
    fields.update(_model_fields(_first_config(agent), None))
    if tracer.capture_content and messages:
        fields["input_messages"] = _messages(messages)
    return fields


def _reply_output(reply: Any) -> dict[str, Any]:
    return {"output_messages": _reply_message(reply)}


def _instrument_generate_reply(agent: Any, tracer: Tracer, sync_only: bool = False) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def generate_reply(messages: Any = None, *args: Any, **kwargs: Any) -> Any:
            with Span(tracer, "invoke_agent", None, _read(tracer, "generate_reply", _reply_fields, tracer, agent, messages)) as span:
                reply = original(messages, *args, **kwargs)
                if tracer.capture_content and reply is not None:
                    span.set(**_read(tracer, "reply", _reply_output, reply))
                return reply

        return generate_reply

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_generate_reply(messages: Any = None, *args: Any, **kwargs: Any) -> Any:
            fields = _read(tracer, "generate_reply", _reply_fields, tracer, agent, messages)
            async with Span(tracer, "invoke_agent", None, fields) as span:
                reply = await original(messages, *args, **kwargs)
                if tracer.capture_content and reply is not None:
                    span.set(**_read(tracer, "reply", _reply_output, reply))
                return reply

        return a_generate_reply

    _wrap_method(agent, "generate_reply", sync)
    if not sync_only:
        _wrap_method(agent, "a_generate_reply", asynchronous)


async def _oai_reply_in_context(self_agent: Any, messages: Any, sender: Any, config: Any, **kwargs: Any) -> Any:
    """``generate_oai_reply`` in an executor thread that runs in a copy of the caller's context
    (see :func:`_instrument_oai_reply_context`)."""
    from autogen.io import IOStream

    context = contextvars.copy_context()
    iostream = IOStream.get_default()

    def call() -> Any:
        with IOStream.set_default(iostream):
            return self_agent.generate_oai_reply(messages, sender, config, **kwargs)

    return await asyncio.get_running_loop().run_in_executor(None, context.run, call)


def _instrument_oai_reply_context(agent: Any) -> None:
    """``a_generate_oai_reply`` runs the LLM call in an executor thread, which does not inherit
    the current span (a ``contextvars`` value); run it in a copy of the caller's context. Both
    the reply chain's entry and the bound method (which A2A's agent service calls) are covered."""

    def make_entry(_original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_generate_oai_reply(
            self_agent: Any, messages: Any = None, sender: Any = None, config: Any = None, **kwargs: Any
        ) -> Any:
            return await _oai_reply_in_context(self_agent, messages, sender, config, **kwargs)

        return a_generate_oai_reply

    def make_method(_original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_generate_oai_reply(
            messages: Any = None, sender: Any = None, config: Any = None, **kwargs: Any
        ) -> Any:
            return await _oai_reply_in_context(agent, messages, sender, config, **kwargs)

        return a_generate_oai_reply

    _wrap_reply_func(agent, "a_generate_oai_reply", make_entry)
    _wrap_method(agent, "a_generate_oai_reply", make_method)


def _tool_fields(tracer: Tracer, agent: Any, func_call: dict[str, Any], call_id: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": func_call.get("name", ""), "type": "function"}
    if call_id:
        tool["call_id"] = call_id
    if tracer.capture_content:
        tool["arguments"] = json_or_text(func_call.get("arguments", "{}"))
    return {"agent": _agent_record(agent), "tool": tool}


def _tool_outcome(tracer: Tracer, span: Span, outcome: tuple[bool, dict[str, Any]]) -> None:
    succeeded, result = outcome
    if not succeeded:
        span.set(error={"type": "ExecutionError", "message": str(result.get("content", ""))[:256]})
    elif tracer.capture_content:
        span.set(tool={"result": json_or_text(result.get("content", ""))})


def _instrument_execute_function(agent: Any, tracer: Tracer) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_function(func_call: dict[str, Any], call_id: Any = None, verbose: bool = False) -> Any:
            fields = _read(tracer, "tool call", _tool_fields, tracer, agent, func_call, call_id)
            with Span(tracer, "execute_tool", None, fields) as span:
                outcome = original(func_call, call_id, verbose)
                _tool_outcome(tracer, span, outcome)
                return outcome

        return execute_function

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_execute_function(func_call: dict[str, Any], call_id: Any = None, verbose: bool = False) -> Any:
            fields = _read(tracer, "tool call", _tool_fields, tracer, agent, func_call, call_id)
            async with Span(tracer, "execute_tool", None, fields) as span:
                outcome = await original(func_call, call_id, verbose)
                _tool_outcome(tracer, span, outcome)
                return outcome

        return a_execute_function

    _wrap_method(agent, "execute_function", sync)
    _wrap_method(agent, "a_execute_function", asynchronous)


def _human_input_fields(tracer: Tracer, agent: Any, prompt: str) -> dict[str, Any]:
    human: dict[str, Any] = {"input_mode": str(getattr(agent, "human_input_mode", ""))}
    if tracer.capture_content:
        human["prompt"] = prompt
    return {"agent": _agent_record(agent), "human_input": human}


def _instrument_human_input(agent: Any, tracer: Tracer) -> None:
    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def get_human_input(prompt: str, *args: Any, **kwargs: Any) -> Any:
            with Span(tracer, "human_input", None, _read(tracer, "human input", _human_input_fields, tracer, agent, prompt)) as span:
                response = original(prompt, *args, **kwargs)
                if tracer.capture_content and isinstance(response, str):
                    span.set(human_input={"response": response})
                return response

        return get_human_input

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_get_human_input(prompt: str, *args: Any, **kwargs: Any) -> Any:
            fields = _read(tracer, "human input", _human_input_fields, tracer, agent, prompt)
            async with Span(tracer, "human_input", None, fields) as span:
                response = await original(prompt, *args, **kwargs)
                if tracer.capture_content and isinstance(response, str):
                    span.set(human_input={"response": response})
                return response

        return a_get_human_input

    _wrap_method(agent, "get_human_input", sync)
    _wrap_method(agent, "a_get_human_input", asynchronous)


def _code_result(tracer: Tracer, span: Span, result: Any) -> None:
    """Exit code and output from the reply text AG2 builds:
    ``exitcode: 0 (execution succeeded)\\nCode output: ...``."""
    if not isinstance(result, str) or not result.startswith("exitcode:"):
        return
    head, _, output = result.partition("\n")
    try:
        exit_code = int(head.split(":", 1)[1].split("(", 1)[0])
    except (IndexError, ValueError):
        return
    record: dict[str, Any] = {"exit_code": exit_code}
    if tracer.capture_content:
        record["output"] = output.removeprefix("Code output:").strip()
    span.set(code_execution=record)
    if exit_code != 0:
        span.set(error={"type": "CodeExecutionError", "message": f"exit code {exit_code}"})


def _code_execution_fields(agent: Any) -> dict[str, Any]:
    executor = (agent._code_execution_config or {}).get("executor")
    record = {"executor": executor if isinstance(executor, str) else type(executor).__name__}
    return {"agent": _agent_record(agent), "code_execution": record}


def _instrument_code_execution(agent: Any, tracer: Tracer) -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def generate_code_execution_reply(
            self_agent: Any, messages: Any = None, sender: Any = None, config: Any = None
        ) -> Any:
            if self_agent._code_execution_config is False:
                return original(self_agent, messages, sender, config)

            fields = _read(tracer, "code execution", _code_execution_fields, self_agent)
            with Span(tracer, "code_execution", None, fields) as span:
                is_final, result = original(self_agent, messages, sender, config)
                if is_final:
                    _code_result(tracer, span, result)
                return is_final, result

        return generate_code_execution_reply

    _wrap_reply_func(agent, "_generate_code_execution_reply_using_executor", make)


def _instrument_remote_reply(agent: Any, tracer: Tracer) -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_generate_remote_reply(self_agent: Any, *args: Any, **kwargs: Any) -> Any:
            fields: dict[str, Any] = {"agent": _agent_record(self_agent)}
            url = getattr(self_agent, "url", None)
            if url:
                fields["server"] = _endpoint(str(url))
            async with Span(tracer, "invoke_agent", None, fields) as span:
                # The remote side continues this trace from the W3C header.
                factory = getattr(self_agent, "_httpx_client_factory", None)
                if factory is not None and span.traceparent and not _wrapped(factory):
                    self_agent._httpx_client_factory = _mark(
                        _propagating(factory), self_agent, "_httpx_client_factory", factory
                    )
                # The agent card is fetched once, on the first reply, by a client made when the
                # agent was: that request carries the header too, for as long as this call runs.
                card_client = None
                if getattr(self_agent, "_agent_card", True) is None and span.traceparent:
                    card_client = getattr(getattr(self_agent, "_card_resolver", None), "httpx_client", None)
                    if card_client is not None:
                        card_client.headers["traceparent"] = span.traceparent
                try:
                    return await original(self_agent, *args, **kwargs)
                finally:
                    if card_client is not None:
                        card_client.headers.pop("traceparent", None)

        return a_generate_remote_reply

    _wrap_reply_func(agent, "a_generate_remote_reply", make)


def _endpoint(url: str) -> dict[str, Any]:
    """``server.address`` (the host alone) and ``server.port`` (the scheme's default when the URL
    has none) of a remote agent's URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname:
        return {"address": url}
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:  # a port that is not a number: leave it out
        port = None
    return {"address": parts.hostname, **({"port": port} if port else {})}


def _propagating(factory: Callable[[], Any]) -> Callable[[], Any]:
    def make_client() -> Any:
        client = factory()
        span = current_span()
        if span is not None and span.traceparent:
            client.headers["traceparent"] = span.traceparent
        return client

    return make_client


@contextmanager
def _instrumenting(executors: Any, tracer: Tracer) -> Any:
    """The executor the context manager ``executors`` gives, instrumented."""
    with executors as executor:
        instrument_agent(executor, tracer=tracer)
        yield executor


def _instrument_create_or_get_executor(agent: Any, tracer: Tracer) -> None:
    """Executors that ``run()`` creates on the fly are instrumented as they appear. The wrapper
    is a plain function: one made by ``@contextmanager`` has the code of contextlib's own
    wrapper, which every such function shares (see :data:`_WRAPPER_CODES`)."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_or_get_executor(*args: Any, **kwargs: Any) -> Any:
            return _instrumenting(original(*args, **kwargs), tracer)

        return create_or_get_executor

    _wrap_method(agent, "_create_or_get_executor", make)


# --- Entry points ----------------------------------------------------------------------------


def instrument_agent(agent: Any, *, tracer: Tracer | None = None, tracer_provider: Any = None) -> Any:
    """Instruments one agent (in place; returned for chaining): its conversations
    (``initiate_chat``, ``a_initiate_chat``, ``a_resume``, ``run_chat``), replies
    (``invoke_agent``), tool calls, human input, code execution, sequential and parallel
    ``initiate_chats``, and remote replies (A2A)."""
    tracer = tracer or get_tracer(tracer_provider)
    _instrument_initiate_chats(agent, tracer)
    _instrument_generate_reply(agent, tracer)
    _instrument_oai_reply_context(agent)
    _instrument_initiate_chat(agent, tracer)
    _instrument_resume(agent, tracer)
    _instrument_run_chat(agent, tracer)
    _instrument_remote_reply(agent, tracer)
    _instrument_execute_function(agent, tracer)
    _instrument_create_or_get_executor(agent, tracer)
    _instrument_human_input(agent, tracer)
    _instrument_code_execution(agent, tracer)
    return agent


def _instrument_speaker_selector(agent: Any, tracer: Tracer) -> Any:
    """Instruments one of the two agents a group chat makes for each LLM speaker selection
    (``checking_agent`` starts a chat with ``speaker_selection_agent``, whose reply is a model
    call), with what they use: the conversation and the replies. They ask no human, call no
    tool and run no code, and they are made anew for every selection, so the rest of
    :func:`instrument_agent` would be paid per span for nothing.

    Outside a running event loop they serve the synchronous selection, which calls only the
    synchronous methods (``a_auto_select_speaker`` is a coroutine, so a loop runs it), and the
    asynchronous ones are left alone."""
    sync_only = asyncio._get_running_loop() is None
    _instrument_initiate_chat(agent, tracer, sync_only)
    _instrument_generate_reply(agent, tracer, sync_only)
    if not sync_only:
        _instrument_oai_reply_context(agent)
    return agent


#: The request parameters a ``chat`` span reports, from the call or else the config entry.
_REQUEST_KEYS = frozenset(("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "seed"))


def instrument_llm_wrapper(
    *, tracer: Tracer | None = None, tracer_provider: Any = None, capture_messages: bool = False
) -> None:
    """Reports every ``OpenAIWrapper.create`` call as a ``chat`` span (process-wide, once).

    ``capture_messages`` is the built-in's switch for content; here the tracer's
    ``capture_content`` decides for every span (a warning says so when they disagree)."""
    from autogen.oai import client as client_module

    tracer = tracer or get_tracer(tracer_provider)
    if capture_messages and not tracer.capture_content:
        logger.warning(
            "agentrace: capture_messages=True, but the tracer does not record content; "
            "use Tracer(capture_content=True) or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true"
        )
    wrapper = client_module.OpenAIWrapper
    original = wrapper.create
    if _wrapped(original):
        return

    def fields_of(self: Any, config: dict[str, Any]) -> dict[str, Any]:
        first = self._config_list[0] if getattr(self, "_config_list", None) else None
        fields = _model_fields(first, "openai")
        request = fields.setdefault("request", {})
        if config.get("model"):
            request["model"] = config["model"]
        # The call's own parameters win over the config entry's. Config entries are dicts in
        # AG2's OpenAIWrapper: only the keys both have are visited (a set intersection).
        if isinstance(first, dict):
            for key in first.keys() & _REQUEST_KEYS - config.keys():
                if first[key] is not None:
                    request[key] = first[key]
        elif first is not None:
            for key in _REQUEST_KEYS - config.keys():
                value = getattr(first, key, None)
                if value is not None:
                    request[key] = value
        for key in config.keys() & _REQUEST_KEYS:
            if config[key] is not None:
                request[key] = config[key]
        agent = config.get("agent")
        if agent is not None and hasattr(agent, "name"):
            fields["agent"] = {"name": agent.name}
        if tracer.capture_content and config.get("messages"):
            fields["input_messages"] = _messages(config["messages"])
        return fields

    def response_fields(response: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        answer: dict[str, Any] = {}
        if getattr(response, "model", None):
            answer["model"] = response.model
        if getattr(response, "id", None):
            answer["id"] = str(response.id)
        choices = getattr(response, "choices", None) or []
        reasons = [str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)]
        if reasons:
            answer["finish_reasons"] = reasons
        if answer:
            fields["response"] = answer
        usage = getattr(response, "usage", None)
        tokens: dict[str, Any] = {}
        if usage is not None:
            if getattr(usage, "prompt_tokens", None) is not None:
                tokens["input_tokens"] = int(usage.prompt_tokens)
            if getattr(usage, "completion_tokens", None) is not None:
                tokens["output_tokens"] = int(usage.completion_tokens)
        if getattr(response, "cost", None) is not None:
            tokens["cost"] = float(response.cost)
        if tokens:
            fields["usage"] = tokens
        if tracer.capture_content and choices:
            out = []
            for choice, reason in zip(choices, reasons or ["stop"] * len(choices)):
                message = choice.message
                if not isinstance(message, dict):
                    message = {"content": getattr(message, "content", None),
                               "tool_calls": [_tool_call_dict(t) for t in getattr(message, "tool_calls", None) or []]}
                (entry,) = _messages([{"role": "assistant", **message}])
                entry["finish_reason"] = reason
                out.append(entry)
            fields["output_messages"] = out
        return fields

    @functools.wraps(original)
    def create(self: Any, **config: Any) -> Any:
        with Span(tracer, "chat", None, _read(tracer, "LLM request", fields_of, self, config)) as span:
            response = original(self, **config)
            span.set(**_read(tracer, "LLM response", response_fields, response))
            return response

    wrapper.create = _mark(create, wrapper, "create", original)


def _tool_call_dict(call: Any) -> dict[str, Any]:
    if isinstance(call, dict):
        return call
    function = call.function
    return {"id": call.id, "function": {"name": function.name, "arguments": function.arguments}}


def instrument_groupchat(groupchat: Any, *, tracer: Tracer | None = None, tracer_provider: Any = None) -> Any:
    """Instruments a GroupChat: each LLM speaker selection is a ``speaker_selection`` span, with
    the selector's internal two-agent chat (``checking_agent``, ``speaker_selection_agent``)
    under it."""
    tracer = tracer or get_tracer(tracer_provider)

    def make_internal(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_internal_agents(*args: Any, **kwargs: Any) -> Any:
            checking_agent, selection_agent = original(*args, **kwargs)
            return _instrument_speaker_selector(checking_agent, tracer), _instrument_speaker_selector(selection_agent, tracer)

        return create_internal_agents

    def fields_of(agents: Any) -> dict[str, Any]:
        candidates = [agent.name for agent in (agents if agents is not None else groupchat.agents)]
        return {"speaker_selection": {"candidates": candidates, "method": str(groupchat.speaker_selection_method)}}

    def selected(span: Span, speaker: Any) -> None:
        span.set(speaker_selection={"selected": getattr(speaker, "name", str(speaker))})

    def make_sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def auto_select_speaker(last_speaker: Any, selector: Any, messages: Any, agents: Any) -> Any:
            with Span(tracer, "speaker_selection", None, _read(tracer, "speaker selection", fields_of, agents)) as span:
                speaker = original(last_speaker, selector, messages, agents)
                selected(span, speaker)
                return speaker

        return auto_select_speaker

    def make_async(original: Callable[..., Any]) -> Callable[..., Any]:
        async def a_auto_select_speaker(last_speaker: Any, selector: Any, messages: Any, agents: Any) -> Any:
            fields = _read(tracer, "speaker selection", fields_of, agents)
            async with Span(tracer, "speaker_selection", None, fields) as span:
                speaker = await original(last_speaker, selector, messages, agents)
                selected(span, speaker)
                return speaker

        return a_auto_select_speaker

    _wrap_method(groupchat, "_create_internal_agents", make_internal)
    _wrap_method(groupchat, "_auto_select_speaker", make_sync)
    _wrap_method(groupchat, "a_auto_select_speaker", make_async)
    return groupchat


def instrument_pattern(pattern: Any, *, tracer: Tracer | None = None, tracer_provider: Any = None) -> Any:
    """Instruments a group-chat Pattern (``AutoPattern`` and the like): the agents, the manager
    and the GroupChat it prepares, including the copy the manager keeps for speaker selection."""
    tracer = tracer or get_tracer(tracer_provider)
    from autogen.agentchat.groupchat import GroupChat

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def prepare_group_chat(*args: Any, **kwargs: Any) -> Any:
            prepared = list(original(*args, **kwargs))
            groupchat, manager = prepared[7], prepared[8]
            groupchat.agents = [instrument_agent(agent, tracer=tracer) for agent in groupchat.agents]
            instrument_agent(manager, tracer=tracer)
            instrument_groupchat(groupchat, tracer=tracer)
            # GroupChatManager registers a shallow copy of the GroupChat with its reply function.
            for entry in manager._reply_func_list:
                config = entry.get("config")
                if isinstance(config, GroupChat) and config is not groupchat:
                    instrument_groupchat(config, tracer=tracer)
            return tuple(prepared)

        return prepare_group_chat

    _wrap_method(pattern, "prepare_group_chat", make)
    return pattern


def uninstrument(target: Any) -> Any:
    """Undoes :func:`instrument_agent`, :func:`instrument_groupchat` or
    :func:`instrument_pattern` on ``target`` (in place; returned): every method and reply
    function this module wrapped on it is the original again. Agents an instrumented run made
    meanwhile (a group chat's speaker selectors) keep their instrumentation."""
    originals = vars(target).get(_ORIGINALS) or {}
    for name, value in list(vars(target).items()):
        if not _wrapped(value):
            continue
        original = originals.get(name)
        if original is None or getattr(original, "__func__", None) is getattr(type(target), name, None):
            delattr(target, name)  # the class's method shows through again
        else:
            setattr(target, name, original)
    for entry in getattr(target, "_reply_func_list", []):
        function = entry.get("reply_func")
        original = originals.get(f"reply_func:{getattr(function, '__name__', '')}")
        if _wrapped(function) and original is not None:
            entry["reply_func"] = original
    if _ORIGINALS in vars(target):
        delattr(target, _ORIGINALS)
    return target


def uninstrument_llm_wrapper() -> None:
    """Undoes :func:`instrument_llm_wrapper`: ``OpenAIWrapper.create`` is the original again."""
    from autogen.oai import client as client_module

    wrapper = client_module.OpenAIWrapper
    original = (vars(wrapper).get(_ORIGINALS) or {}).pop("create", None)
    if _wrapped(wrapper.create) and original is not None:
        wrapper.create = original


def instrument_a2a_server(server: Any, *, tracer: Tracer | None = None, tracer_provider: Any = None) -> Any:
    """Instruments an A2A server (``autogen.a2a.A2aAgentServer``), before ``build()``: each
    request it serves is an ``invoke_agent`` span of the served agent that continues the
    caller's trace from the request's W3C ``traceparent``, with the served agent's model calls
    and tools under it; the served agent is instrumented too.

    The span wraps the A2A executor, since the SDK runs it in a task of its own where the
    request's context does not reach; the header is read from the call context the SDK keeps."""
    tracer = tracer or get_tracer(tracer_provider)
    build = getattr(server, "build_request_handler", None)
    if build is None or _wrapped(build):
        return server

    def build_request_handler(*args: Any, **kwargs: Any) -> Any:
        handler = build(*args, **kwargs)
        executor = getattr(handler, "agent_executor", None)
        if executor is not None:
            _instrument_a2a_executor(executor, server.agent, tracer)
        return handler

    server.build_request_handler = _mark(build_request_handler, server, "build_request_handler", build)
    server.agent = instrument_agent(server.agent, tracer=tracer)
    return server


def _instrument_a2a_executor(executor: Any, agent: Any, tracer: Tracer) -> None:
    original = getattr(executor, "execute", None)
    if original is None or _wrapped(original):
        return

    async def execute(context: Any, event_queue: Any) -> Any:
        call = getattr(context, "call_context", None)
        headers = (getattr(call, "state", None) or {}).get("headers") or {}
        with continue_trace(headers.get("traceparent")):
            fields = _read(tracer, "a2a request", lambda: {"agent": _agent_record(agent)})
            async with Span(tracer, "invoke_agent", None, fields):
                return await original(context, event_queue)

    executor.execute = _mark(execute, executor, "execute", original)
