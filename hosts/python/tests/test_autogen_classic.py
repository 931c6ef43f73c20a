"""Classic AG2 (``autogen`` 0.14): ``agentrace.autogen`` against AG2's built-in
``autogen.opentelemetry`` on the same scripted run (``classic_scenario.py``).

With ``compat="ag2"`` the span trees must be the same: same hierarchy, names, kinds and error
statuses, span for span. Attributes must agree too, except where listed below with the reason;
each listed difference is where the built-in module departs from GenAI semconv v1.41 (or adds
what agentrace reports under its own names), and the test fails if an unlisted one appears.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from span_trees import CONTENT_OPT_IN, differences, parsed, run, shape

#: The scripted run; the ``builtin`` and ``ours_ag2`` fixtures (conftest.py) run it.
SCENARIO = Path(__file__).with_name("classic_scenario.py")

#: Attributes only the built-in module writes, and why agentrace does not.
BUILTIN_ONLY = {
    **CONTENT_OPT_IN,
    "ag2.code_execution.output": "content (program output)",
    "ag2.chats.summaries": "content (the chats' summaries)",
    # gen_ai.agent.name is not an attribute of inference (chat) spans in v1.41.
    "gen_ai.agent.name": "not defined on inference spans in semconv",
}

#: Attributes only agentrace writes, and why.
AGENTRACE_ONLY = {
    "error.type": "semconv requires error.type on a failed operation; AG2 sets only the status",
    "gen_ai.agent.description": "semconv agent attribute AG2 leaves out",
    "gen_ai.request.temperature": "semconv request attribute AG2 leaves out when set in llm_config",
    "gen_ai.response.id": "semconv recommended; AG2 leaves it out",
    "gen_ai.provider.name": "AG2 reads the recipient's provider only from a positional argument",
    "gen_ai.request.model": "AG2 reads the recipient's model only from a positional argument",
    "agentrace.conversation.method": "agentrace detail: how the conversation started",
    "agentrace.conversation.recipient": "agentrace detail: the agent spoken to",
    "agentrace.human_input.mode": "agentrace detail: the agent's human_input_mode",
    "agentrace.code_execution.executor": "agentrace detail: the code executor's class",
}

#: Attributes both write with different values.
DIFFERENT_VALUES = {
    # semconv: gen_ai.response.finish_reasons is a string[]; AG2 writes one JSON string.
    "gen_ai.response.finish_reasons": lambda builtin, ours: json.loads(builtin) == ours,
    # New ids per run.
    "gen_ai.conversation.id": lambda builtin, ours: bool(builtin) and bool(ours),
    "ag2.chats.ids": lambda builtin, ours: len(json.loads(builtin)) == len(json.loads(ours)),
}


def test_in_the_bench_s_interleaved_runs_each_tracing_traces_its_own_turns_only(tmp_path):
    """bench/run times no tracing, the built-in tracing and agentrace taking turns in one
    process, swapping ``OpenAIWrapper.create`` per turn. A wrapper left in place would trace
    another mode's turn: its model calls would land in the wrong export, and the counts below
    would differ."""
    alone = tmp_path / "alone.json"
    together = tmp_path / "together.json"
    for tracing, out, runs in [("agentrace", alone, "1"), ("interleaved", together, "4")]:
        result = subprocess.run(
            [sys.executable, str(SCENARIO), tracing, str(out), "--runs", runs, "--no-code"],
            cwd=SCENARIO.parent, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    expected = json.loads(alone.read_text())["span_count"]
    report = json.loads(together.read_text())
    assert expected > 40
    assert report["span_count"] == {"none": 0, "builtin": expected, "agentrace": expected}
    assert {mode: len(seconds) for mode, seconds in report["seconds"].items()} == {
        "none": 4, "builtin": 4, "agentrace": 4}


def test_the_run_reaches_every_instrumentation_point(builtin):
    names = [name for _, name, _, _ in shape(builtin)]
    for expected in [
        "conversation user_proxy", "invoke_agent assistant", "chat gpt-4o-mini", "execute_tool get_weather",
        "await_human_input user_proxy", "execute_code code_runner", "speaker_selection",
        "conversation checking_agent", "invoke_agent speaker_selection_agent", "agent.initiate_chats",
        "execute_tool convert_currency", "conversation caller",
    ]:
        assert expected in names, f"{expected} not in {names}"
    assert [name for _, name, _, status in shape(builtin) if status == "ERROR"] == [
        "conversation caller", "invoke_agent flaky", "chat gpt-4o-mini",
    ]
    assert len(builtin) == 54


def test_in_ag2_mode_the_tree_is_the_builtin_tree(builtin, ours_ag2):
    assert shape(ours_ag2) == shape(builtin)


def test_in_ag2_mode_attributes_differ_only_where_listed(builtin, ours_ag2):
    unexplained = differences(builtin, ours_ag2, BUILTIN_ONLY, AGENTRACE_ONLY, DIFFERENT_VALUES)
    assert not unexplained, "\n".join(unexplained)


def test_model_calls_report_the_request_parameters_of_the_agents_llm_config(ours_ag2):
    """The scenario's llm_config sets ``temperature`` beside its config list; AG2 copies it into
    each config entry, where the ``chat`` span reads it (AG2's own tracing leaves it out)."""
    calls = [span for span in ours_ag2 if span["attributes"].get("gen_ai.operation.name") == "chat"]
    assert calls
    assert {parsed(span["attributes"].get("gen_ai.request.temperature")) for span in calls} == {0.2}


def test_the_steps_bench_counts_agentraces_python_instructions_per_span():
    """bench/steps.py on one scripted run: positive totals, and agentrace's Python among the
    functions it lists: the wrappers around AG2's methods on the agent's thread, the
    stack-trace formatting only at the hand-over (a span's own lifecycle runs in native code,
    which the bench does not count)."""
    bench = Path(__file__).resolve().parent.parent / "bench" / "steps.py"
    table = subprocess.run([sys.executable, str(bench), "--runs", "1", "--top", "40"], check=True,
                           capture_output=True, text=True, timeout=300).stdout
    total = next(line for line in table.splitlines() if "**all counted**" in line)
    on_thread, at_hand_over = (float(cell) for cell in total.split("**")[3::2])
    assert on_thread > 0 and at_hand_over > 0, table

    def row(function: str, file: str) -> tuple[float, float]:
        (line,) = [line for line in table.splitlines() if re.match(rf"\| `{function}` \([^)]*agentrace/{file}:\d+\) \|", line)]
        return float(line.split("|")[2]), float(line.split("|")[3])

    assert row("stack_trace", "_tracer.py")[0] == 0 and row("stack_trace", "_tracer.py")[1] > 0, table
    assert row("generate_reply", "autogen.py")[0] > 0 and row("create", "autogen.py")[0] > 0, table


def test_in_semconv_mode_only_the_non_spec_operations_are_renamed(builtin, tmp_path):
    ours = run(SCENARIO, "agentrace", tmp_path)
    # The spec has no operation for these AG2 concepts; agentrace names them after its own
    # operations (gen_ai.operation.name agentrace.*), AG2 after its methods.
    renamed = {"await_human_input": "human_input", "execute_code": "code_execution",
               "agent.initiate_chats": "multi_conversation"}

    def semconv_name(name: str) -> str:
        base, _, target = name.partition(" ")
        return f"{renamed.get(base, base)} {target}".strip()

    assert shape(ours) == [(d, semconv_name(n), k, s) for d, n, k, s in shape(builtin)]
    operations = {s["attributes"]["gen_ai.operation.name"] for s in ours}
    assert operations == {"chat", "invoke_agent", "execute_tool", "agentrace.conversation",
                          "agentrace.human_input", "agentrace.code_execution",
                          "agentrace.speaker_selection", "agentrace.multi_conversation"}, operations
    # Without capture no content leaves the process.
    assert not [k for s in ours for k in s["attributes"] if k.endswith("messages") or "arguments" in k]


def test_with_content_capture_messages_follow_the_parts_format(tmp_path):
    ours = run(SCENARIO, "agentrace-ag2", tmp_path, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    calls = [s for s in ours if s["name"] == "chat gpt-4o-mini" and s["status"] != "ERROR"]
    assert calls
    for call in calls:
        inputs = json.loads(call["attributes"]["gen_ai.input.messages"])
        outputs = json.loads(call["attributes"]["gen_ai.output.messages"])
        assert all("parts" in m and "role" in m for m in inputs)
        # semconv: every output message has a finish_reason (AG2 leaves it out).
        assert all(m.get("finish_reason") for m in outputs), outputs
    tool = next(s for s in ours if s["name"] == "execute_tool get_weather")
    assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    human = next(s for s in ours if s["name"].startswith("await_human_input"))
    assert "ag2.human_input.response" in human["attributes"]


def test_instrumenting_twice_wraps_once_and_uninstrument_restores_the_agents(traced):
    from autogen import ConversableAgent
    from classic_scenario import llm_agent, scripted

    from agentrace.autogen import instrument_agent, uninstrument

    run = traced()
    assistant = llm_agent("assistant", scripted("TwiceClient", "first answer", "second answer"))
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    for agent in (user, assistant, user, assistant):  # each agent twice
        instrument_agent(agent, tracer=run.tracer)
    first = user.initiate_chat(assistant, message="hello", max_turns=1, silent=True)
    assert first.chat_history[-1]["content"] == "first answer"
    run.tracer.flush()
    for agent in (user, assistant):
        assert uninstrument(agent) is agent
    second = user.initiate_chat(assistant, message="again", max_turns=1, silent=True)
    assert second.chat_history[-1]["content"] == "second answer"  # the agents still work
    names = sorted(span.name for span in run.spans())
    # One conversation and one turn of the assistant, each reported once; nothing after.
    assert names == ["conversation user", "invoke_agent assistant"], names
    assert not any(k.startswith("__agentrace") for k in vars(assistant)), sorted(vars(assistant))


def _a2a_run(traced, serve) -> list:
    """A scripted classic-AG2 chat with a remote agent served by ``A2aAgentServer``; ``serve``
    makes the app reachable and returns (url, httpx client factory, stop)."""
    import asyncio

    from autogen import ConversableAgent
    from autogen.a2a import A2aAgentServer, A2aRemoteAgent
    from classic_scenario import llm_agent, scripted

    from agentrace.autogen import instrument_a2a_server, instrument_agent, instrument_llm_wrapper, uninstrument_llm_wrapper

    run = traced()
    instrument_llm_wrapper(tracer=run.tracer)
    try:
        helper = llm_agent("helper", scripted("A2aHelperClient", "remote answer"))
        url, start, stop = serve()
        server = instrument_a2a_server(A2aAgentServer(helper, url=url), tracer=run.tracer)
        factory = start(server.build())
        try:
            remote = A2aRemoteAgent(url=url, name="remote_helper", client=factory)
            asker = ConversableAgent("asker", llm_config=False, human_input_mode="NEVER")
            for agent in (asker, remote):
                instrument_agent(agent, tracer=run.tracer)
            result = asyncio.run(asker.a_initiate_chat(remote, message="hi", max_turns=1, silent=True))
            assert result.chat_history[-1]["content"] == "remote answer"
        finally:
            stop()
    finally:
        uninstrument_llm_wrapper()
    return run.spans()


def _check_a2a_trace(spans, port: int) -> None:
    assert len({span.trace_id for span in spans}) == 1, [(s.name, s.trace_id) for s in spans]
    by_id = {span.span_id: span for span in spans}
    client = next(s for s in spans if s.name == "invoke_agent remote_helper" and s.kind == 3)  # OTLP: CLIENT
    assert client.attributes["server.address"] == "127.0.0.1"
    assert client.attributes["server.port"] == port
    served = next(s for s in spans if s.name == "invoke_agent helper")
    assert served.parent_id == client.span_id
    assert served.kind == 2, served.kind  # OTLP: SERVER, the handling of the remote call
    call = next(s for s in spans if s.name.startswith("chat "))
    assert call.parent_id == served.span_id
    # The caller's side: the conversation holds the remote agent's turn.
    chain = []
    span = client
    while span is not None:
        chain.append(span.name)
        span = by_id.get(span.parent_id)
    assert chain[-1] == "conversation asker", chain


def test_a2a_in_process_over_asgi_is_one_trace(traced):
    import httpx
    from autogen.a2a import HttpxClientFactory

    def serve():
        def start(app):
            return HttpxClientFactory(transport=httpx.ASGITransport(app))

        return "http://127.0.0.1:8123/", start, lambda: None

    _check_a2a_trace(_a2a_run(traced, serve), 8123)


def test_a2a_under_the_asgi_instrumentation_its_server_span_nests_under_agentrace(traced):
    """The served app wrapped in OpenTelemetry's ASGI middleware (the real package, pinned), as a
    FastAPI/Starlette deployment would be: the middleware's server span continues the trace from
    the header agentrace's remote-agent span sent, so it is that span's child."""
    import httpx
    from autogen.a2a import HttpxClientFactory
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_spans))

    def serve():
        def start(app):
            wrapped = OpenTelemetryMiddleware(app, tracer_provider=provider)
            return HttpxClientFactory(transport=httpx.ASGITransport(wrapped))

        return "http://127.0.0.1:8124/", start, lambda: None

    spans = _a2a_run(traced, serve)
    _check_a2a_trace(spans, 8124)
    _check_served_under_the_remote_agent_span(spans, app_spans, remote=False)


def _check_served_under_the_remote_agent_span(spans, app_spans, *, remote: bool) -> None:
    """The ASGI middleware's request spans (the card and the message; below them its send and
    receive spans) are children of agentrace's remote-agent span, in its trace."""
    client = next(s for s in spans if s.name == "invoke_agent remote_helper")
    served = app_spans.get_finished_spans()
    ids = {s.context.span_id for s in served}
    requests = [s for s in served if s.parent is None or s.parent.span_id not in ids]
    assert sorted(s.name for s in requests) == ["GET /.well-known/agent-card.json", "POST /"], [s.name for s in served]
    for request in requests:
        assert f"{request.context.trace_id:032x}" == client.trace_id, request.name
        assert f"{request.parent.span_id:016x}" == client.span_id, request.name
        # Over a real connection the parent arrives in the request's traceparent header.
        assert request.parent.is_remote == remote, request.name
        assert (request.kind.name == "SERVER") == remote, request.kind


def test_a2a_over_a_real_local_port_is_one_trace(traced):
    """Served by uvicorn under OpenTelemetry's ASGI middleware: the middleware's server spans
    continue the trace from the header agentrace's remote-agent span sends."""
    import socket

    import uvicorn
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_spans))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    holder = {}

    def serve():
        def start(app):
            from autogen.a2a import HttpxClientFactory

            app = OpenTelemetryMiddleware(app, tracer_provider=provider)
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            holder["server"] = server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            holder["thread"] = thread
            deadline = time.monotonic() + 20
            while not server.started:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
            return HttpxClientFactory()

        def stop():
            if "server" in holder:
                holder["server"].should_exit = True
                holder["thread"].join(10)

        return f"http://127.0.0.1:{port}/", start, stop

    spans = _a2a_run(traced, serve)
    _check_a2a_trace(spans, port)
    _check_served_under_the_remote_agent_span(spans, app_spans, remote=True)
