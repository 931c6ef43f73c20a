"""Real producers of OpenTelemetry around the real ``openai`` client, each exporting through the
standard OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_*``), against ``fake_openai.py``:

    python openai_producers.py {openinference,openai-v2,openllmetry,openllmetry-sdk} BASE_URL

``openllmetry`` is OpenLLMetry's OpenAI instrumentation (``opentelemetry-instrumentation-openai``,
Traceloop's) alone; ``openllmetry-sdk`` the Traceloop SDK around it (``traceloop.*`` workflow
spans), whose loose pins pip could not resolve here on 2026-12-03.

One chat with a tool: the model asks for ``get_weather``, the tool runs (a span of the
producer's own where it makes one), the model answers. Content capture is whatever the
producer does by default.
"""

from __future__ import annotations

import json
import sys


def provider():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return tracer_provider


def chat_with_tool(client, tracer) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    messages = [{"role": "system", "content": "You are a weather assistant."},
                {"role": "user", "content": "Weather in Paris? Reply to jane.doe@example.com"}]
    with tracer.start_as_current_span("weather turn"):
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools,
                                               temperature=0.2)
        call = first.choices[0].message.tool_calls[0]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id,
                         "content": json.dumps({"city": "Paris", "sky": "sunny"})})
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)


def main() -> None:
    mode, base_url = sys.argv[1], sys.argv[2]
    tracer_provider = provider()
    if mode == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    elif mode == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    elif mode == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    elif mode == "openllmetry-sdk":
        # OpenLLMetry's own set-up: Traceloop.init with the standard exporter, its OpenAI
        # instrumentation, and its workflow decorator around the turn (traceloop.* attributes).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from traceloop.sdk import Traceloop
        from traceloop.sdk.decorators import workflow

        Traceloop.init(app_name="openllmetry-producer", exporter=OTLPSpanExporter(),
                       disable_batch=True, telemetry_enabled=False)
        import openai

        client = openai.OpenAI(base_url=base_url, api_key="sk-fake")
        from opentelemetry import trace

        workflow(name="weather_workflow")(chat_with_tool)(client, trace.get_tracer("producer.app"))
        trace.get_tracer_provider().shutdown()
        return
    else:
        raise SystemExit(f"unknown producer {mode}")
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="sk-fake")
    chat_with_tool(client, tracer_provider.get_tracer("producer.app"))
    tracer_provider.shutdown()


if __name__ == "__main__":
    main()
