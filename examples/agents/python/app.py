"""The example trip planner of ``examples/agents/rust``, in Python: the same scripted agent
(a workflow; the planner asks a model, runs the weather tool the model asked for, asks again and
hands off; the booker makes one more model call), reporting the same spans through agentrace's
WIT ``lifecycle``. Built into a component with componentize-py (world ``traced-agent``)::

    componentize-py -d wit -w traced-agent componentize app -p examples/agents/python -o agent.wasm
    agentrace run agent.wasm -- Lisbon

The first argument is the destination (``Lisbon`` when none is given).
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import lifecycle
from wit_world.imports.agentrace_plugin_types import (
    AgentInfo,
    Attribute,
    HandoffInfo,
    Message,
    MessagePart_Text,
    MessagePart_ToolCall,
    ModelRequest,
    ModelResponse,
    Operation,
    ToolCall,
    ToolCallRequest,
    ToolDefinition,
    Usage,
    Value_Boolean,
    Value_Str,
)
from wit_world.imports.environment import get_arguments, get_environment
from wit_world.imports.lifecycle import Parent_None_, Parent_Span, Span

MODEL = "gpt-4o-mini"


def fields(**given):
    """Span fields with nothing set but ``given``."""
    empty = dict(
        agent=None, conversation_id=None, provider=None, request=None, response=None,
        usage=None, server=None, system_instructions=[], input_messages=[], output_messages=[],
        tool_definitions=[], tool=None, workflow_name=None, retrieval=None, conversation=None,
        multi_conversation=None, speaker_selection=None, human_input=None, code_execution=None,
        handoff=None, guardrail=None, error=None, links=[], provider_details=None, attributes=[],
    )
    empty.update(given)
    return lifecycle.SpanFields(**empty)


def agent(name):
    return AgentInfo(name=name, id=None, description=None, version=None)


def text(role, content, finish_reason=None):
    return Message(role=role, name=None, parts=[MessagePart_Text(content)], finish_reason=finish_reason)


def usage(input_tokens, output_tokens):
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_input_tokens=None,
                 cache_creation_input_tokens=None, reasoning_output_tokens=None, cost=None)


WEATHER_TOOL = ToolDefinition(
    type="function", name="get_weather", description="The weather forecast for a city",
    parameters='{"type":"object","properties":{"city":{"type":"string"}}}',
)


def model_call(parent, messages, answer, tokens):
    """One scripted model call under ``parent``."""
    request = ModelRequest(
        model=MODEL, temperature=0.2, top_p=None, top_k=None, max_tokens=400,
        frequency_penalty=None, presence_penalty=None, stop_sequences=[], seed=None,
        choice_count=None, stream=False, output_type=None, dimension_count=None,
        encoding_formats=[],
    )
    call = Span.start(Operation.CHAT, Parent_Span(parent), fields(
        provider="openai", request=request, tool_definitions=[WEATHER_TOOL],
        input_messages=messages,
    ), None)
    call.end(fields(
        response=ModelResponse(model=f"{MODEL}-2024-07-18", id=f"chatcmpl-{tokens[0]}",
                               finish_reasons=[answer.finish_reason or ""], time_to_first_chunk=None),
        usage=usage(*tokens),
        output_messages=[answer],
    ), None)


def plan_trip(destination):
    granted = any(name == "OPENAI_API_KEY" for name, _ in get_environment())
    workflow = Span.start(Operation.INVOKE_WORKFLOW, Parent_None_(), fields(
        workflow_name="trip-planner", conversation_id="trip-1",
        attributes=[Attribute("example.model_key_granted", Value_Boolean(granted))],
    ), None)

    planner = Span.start(Operation.INVOKE_AGENT, Parent_Span(workflow), fields(
        agent=agent("planner"), provider="openai", conversation_id="trip-1",
    ), None)
    question = text("user", f"Plan a weekend in {destination}.")
    call_id = "call_weather_1"
    arguments = '{"city":"%s"}' % destination
    model_call(planner, [question], Message(
        role="assistant", name=None,
        parts=[MessagePart_ToolCall(ToolCallRequest(id=call_id, name="get_weather", arguments=arguments))],
        finish_reason="tool_call",
    ), (52, 18))

    tool = Span.start(Operation.EXECUTE_TOOL, Parent_Span(planner), fields(tool=ToolCall(
        name="get_weather", call_id=call_id, type="function",
        description="The weather forecast for a city", arguments=arguments, result=None,
    )), None)
    forecast = '{"city":"%s","forecast":"sunny","high_c":24}' % destination
    tool.end(fields(tool=ToolCall(name="get_weather", call_id=None, type=None, description=None,
                                  arguments=None, result=forecast)), None)

    plan = f"Saturday: the old town of {destination}; Sunday: the coast. Sunny."
    model_call(planner, [question], text("assistant", plan, "stop"), (96, 31))

    handoff = Span.start(Operation.HANDOFF, Parent_Span(planner), fields(handoff=HandoffInfo(
        source="planner", target="booker", reason="the plan is ready to book",
    )), None)
    handoff.end(fields(), None)
    planner.end(fields(usage=usage(148, 49)), None)

    booker = Span.start(Operation.INVOKE_AGENT, Parent_Span(workflow), fields(
        agent=agent("booker"), provider="openai", conversation_id="trip-1",
    ), None)
    booker.add_event("booking.requested", [Attribute("booking.destination", Value_Str(destination))], None)
    model_call(booker, [text("user", f"Book the plan: {plan}")],
               text("assistant", f"Booked two nights in {destination}.", "stop"), (61, 12))
    booker.end(fields(), None)
    workflow.end(fields(), None)
    print(f"trip planner: planned and booked {destination}; trace {workflow.traceparent()}")


class Run(exports.Run):
    def run(self) -> None:
        args = get_arguments()[1:]
        try:
            plan_trip(args[0] if args else "Lisbon")
        except Err as refused:
            print(f"trip planner: {refused.value.reason}", file=sys.stderr)
            raise Err(None)
