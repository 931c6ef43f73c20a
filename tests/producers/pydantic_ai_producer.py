"""pydantic-ai's own OpenTelemetry (``Agent.instrument_all``, its default data format), exporting
through the standard OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_*``):

    python pydantic_ai_producer.py

One agent run with a tool, on pydantic-ai's ``FunctionModel`` (scripted, nothing leaves the
machine): the model asks for ``get_weather``, the tool runs, the model answers. Content is what
pydantic-ai records by default (``include_content=True``); the prompt carries an address.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A tool call first; once the tool has answered, a text answer."""
    answered = any(isinstance(part, ToolReturnPart) for message in messages
                   for part in getattr(message, "parts", []))
    if not answered:
        return ModelResponse(parts=[ToolCallPart("get_weather", {"city": "Paris"})])
    return ModelResponse(parts=[TextPart("It is sunny in Paris.")])


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "pydantic-ai-producer"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
    agent = Agent(FunctionModel(scripted, model_name="scripted-weather"), name="weather_agent",
                  instructions="You are a weather assistant.")

    @agent.tool_plain
    def get_weather(city: str) -> dict:
        """The weather in a city."""
        return {"city": city, "sky": "sunny"}

    agent.run_sync("Weather in Paris? Reply to jane.doe@example.com")
    provider.shutdown()


if __name__ == "__main__":
    main()
