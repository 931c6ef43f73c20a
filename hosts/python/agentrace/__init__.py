"""agentrace: OpenTelemetry GenAI traces for Python agent runtimes.

Spans are reported to the Rust host in-process; its WebAssembly mapper turns them into GenAI
semconv v1.41 spans, its policies redact them, and it exports OTLP, all on its own worker thread.

    import agentrace

    tracer = agentrace.Tracer(service_name="my-agents")
    with tracer.invoke_agent(agent={"name": "planner"}):
        with tracer.chat(provider="openai", request={"model": "gpt-4o-mini"}) as call:
            ...
            call.set(usage={"input_tokens": 52, "output_tokens": 47})

Integrations: ``agentrace.autogen`` (classic AG2, ``autogen`` 0.14) and ``agentrace.ag2``
(AG2 1.x middleware).
"""

from ._native import SpanHandle
from ._tracer import OPERATIONS, Span, Tracer, continue_trace, current_span, get_tracer, set_tracer

__all__ = [
    "OPERATIONS",
    "Span",
    "SpanHandle",
    "Tracer",
    "continue_trace",
    "current_span",
    "get_tracer",
    "set_tracer",
]
