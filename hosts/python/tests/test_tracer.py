"""The Python tracer: context-manager spans (sync and async) for every operation, nesting under
agentrace and OpenTelemetry parents, errors, refusals that never raise, policies, the
conformance vectors, and OTLP export to a real receiver configured by ``OTEL_*`` variables."""

from __future__ import annotations

import asyncio
import builtins
import json
import linecache
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from conftest import REPO, forest
from otlp_json import read_log_records, read_spans
from opentelemetry.sdk.trace import TracerProvider

import agentrace


def test_every_operation_has_a_context_manager_that_maps_to_its_span(traced):
    run = traced()
    for operation in agentrace.OPERATIONS:
        with getattr(run.tracer, operation)(agent={"name": "a"}):
            pass
    spans = run.spans()
    assert len(spans) == len(agentrace.OPERATIONS) == 16
    names = {span.name.split(" ")[0] for span in spans}
    # Spec operations keep their names; the agent concepts the spec lacks get agentrace's.
    assert {"chat", "invoke_agent", "execute_tool", "conversation", "human_input"} <= names, names
    assert all(span.attributes.get("gen_ai.operation.name") for span in spans)


def test_spans_nest_in_threads_and_asyncio_tasks(traced):
    run = traced()
    tracer = run.tracer

    async def turn(name: str) -> None:
        async with tracer.invoke_agent(agent={"name": name}):
            await asyncio.sleep(0.01)  # the other task runs here, with its own current span
            async with tracer.chat(request={"model": f"model-{name}"}):
                await asyncio.sleep(0)

    async def main() -> None:
        async with tracer.conversation(agent={"name": "user"}):
            await asyncio.gather(turn("a"), turn("b"))

    asyncio.run(main())

    # Threads: each has its own current span; a barrier makes them overlap.
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with tracer.invoke_agent(agent={"name": name}):
            barrier.wait(timeout=5)
            with tracer.chat(request={"model": f"model-{name}"}):
                pass

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("c", "d")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert agentrace.current_span() is None

    roots = {root.name: root for root in forest(run.spans())}
    assert set(roots) == {"conversation user", "invoke_agent c", "invoke_agent d"}
    turns = {child.name: child for child in roots["conversation user"].children}
    assert set(turns) == {"invoke_agent a", "invoke_agent b"}
    turns.update({name: roots[name] for name in ("invoke_agent c", "invoke_agent d")})
    for name in "abcd":
        (call,) = turns[f"invoke_agent {name}"].children
        assert call.name == f"chat model-{name}"


def test_spans_nest_under_the_active_opentelemetry_span(traced):
    run = traced()
    provider = TracerProvider()
    with provider.get_tracer("app").start_as_current_span("POST /ask") as request:
        with run.tracer.invoke_agent(agent={"name": "planner"}):
            with run.tracer.chat(request={"model": "gpt-4o-mini"}):
                pass
    outer = request.get_span_context()
    agent, call = sorted(run.spans(), key=lambda s: s.name, reverse=True)
    assert agent.name == "invoke_agent planner"
    assert agent.trace_id == f"{outer.trace_id:032x}"
    assert agent.parent_id == f"{outer.span_id:016x}"
    assert call.parent_id == agent.span_id


@pytest.fixture
def local_url():
    """A local HTTP server answering every GET with 204, for the httpx instrumentation."""
    import http.server

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("join", ["wrapped runtime", "public API"])
def test_other_instrumentations_spans_nest_under_the_agentrace_span_they_ran_in(traced, local_url, join, request):
    """Both ways of joining OpenTelemetry's context: through the default runtime's
    ``get_current``, wrapped (``_join_lazily``), and through ``set_span_in_context``/``attach``
    at each span's start and end (any other runtime)."""
    import asyncio
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agentrace import _tracer

    assert not _tracer._JOIN_EAGERLY, "the default runtime context is joined lazily"
    if join == "public API":
        _tracer._join_otel(eagerly=True)
        request.addfinalizer(lambda: _tracer._join_otel(eagerly=False))
    url = local_url
    app_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_spans))
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    run = traced()
    tools = {}
    try:
        with run.tracer.invoke_agent(agent={"name": "fetcher"}):
            # On the agent's thread.
            with run.tracer.execute_tool(tool={"name": "direct"}) as tools["direct"]:
                httpx.get(url)

            # On a worker thread that runs in a copy of the caller's context.
            def in_thread() -> None:
                with run.tracer.execute_tool(tool={"name": "threaded"}) as tools["threaded"]:
                    httpx.get(url)

            with ThreadPoolExecutor(1) as pool:
                pool.submit(contextvars.copy_context().run, in_thread).result()

            # In asyncio tasks running side by side.
            async def in_task(name: str) -> None:
                with run.tracer.execute_tool(tool={"name": name}) as tools[name]:
                    async with httpx.AsyncClient() as client:
                        await client.get(url)

            async def both() -> None:
                await asyncio.gather(in_task("task-a"), in_task("task-b"))

            asyncio.run(both())
        # Outside every agentrace span, OpenTelemetry's context is the app's again.
        httpx.get(url)
    finally:
        HTTPXClientInstrumentor().uninstrument()
    requests = app_spans.get_finished_spans()
    assert len(requests) == 5, [s.name for s in requests]
    by_parent = {span.parent.span_id: span for span in requests if span.parent is not None}
    for name, tool in tools.items():
        request = by_parent.get(tool.handle.span_id)
        assert request is not None, f"no HTTP span under the {name} tool span"
        assert request.context.trace_id == tool.handle.trace_id, name
        assert request.name == "GET", request.name
    (outside,) = [span for span in requests if span.parent is None]
    assert outside.context.trace_id not in {tool.handle.trace_id for tool in tools.values()}
    exported = {span.name for span in run.spans()}
    assert {f"execute_tool {name}" for name in tools} <= exported, exported


def test_opentelemetrys_current_span_follows_agentrace_and_its_own_spans_in_turn(traced):
    """The lazily joined context (``_join_lazily``): an OpenTelemetry span started inside an
    agentrace span is current until it ends, then the agentrace span is again, then, once that
    ends, what was current before it; the context made for the agentrace span keeps the values
    of the one it was made from."""
    from opentelemetry import context, trace

    provider = TracerProvider()
    app_tracer = provider.get_tracer("app")
    run = traced()
    key = context.create_key("request-id")
    token = context.attach(context.set_value(key, "r-1"))
    try:
        before = context.get_current()
        with run.tracer.invoke_agent(agent={"name": "outer"}) as agent:
            joined = trace.get_current_span().get_span_context()
            assert (joined.trace_id, joined.span_id) == (agent.handle.trace_id, agent.handle.span_id)
            assert context.get_value(key) == "r-1"
            assert context.get_current() is context.get_current(), "made once per span"
            with app_tracer.start_as_current_span("app work") as work:
                assert trace.get_current_span() is work
                assert work.parent.span_id == agent.handle.span_id
                with run.tracer.execute_tool(tool={"name": "inner"}) as tool:
                    assert trace.get_current_span().get_span_context().span_id == tool.handle.span_id
                assert trace.get_current_span() is work
            assert trace.get_current_span().get_span_context().span_id == agent.handle.span_id
        assert context.get_current() is before
    finally:
        context.detach(token)
    assert not trace.get_current_span().get_span_context().is_valid


def _completion(request):
    """A Chat Completions answer from a scripted OpenAI endpoint (an httpx transport)."""
    import httpx

    body = json.loads(request.content)
    return httpx.Response(200, json={
        "id": "chatcmpl-7", "object": "chat.completion", "created": 1, "model": body["model"] + "-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "sunny"}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    })


def test_the_openai_instrumentations_spans_nest_under_the_agentrace_span_they_ran_in(traced):
    """The OpenTelemetry openai-v2 instrumentation (the real package, pinned) around the real
    `openai` client, talking to a scripted endpoint: its model-call spans are children of the
    agentrace spans the calls ran in, on the agent's thread, a worker thread and asyncio tasks."""
    import asyncio
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_spans))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    transport = httpx.MockTransport(_completion)
    client = openai.OpenAI(api_key="test", base_url="http://scripted.invalid/v1",
                           http_client=httpx.Client(transport=transport))
    run = traced()
    turns = {}

    def ask() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}])

    try:
        with run.tracer.invoke_agent(agent={"name": "direct"}) as turns["direct"]:
            ask()

        def in_thread() -> None:
            with run.tracer.invoke_agent(agent={"name": "threaded"}) as turns["threaded"]:
                ask()

        with ThreadPoolExecutor(1) as pool:
            pool.submit(contextvars.copy_context().run, in_thread).result()

        async def in_task(name: str) -> None:
            async_client = openai.AsyncOpenAI(api_key="test", base_url="http://scripted.invalid/v1",
                                              http_client=httpx.AsyncClient(transport=transport))
            with run.tracer.invoke_agent(agent={"name": name}) as turns[name]:
                await async_client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}])

        async def both() -> None:
            await asyncio.gather(in_task("task-a"), in_task("task-b"))

        asyncio.run(both())
    finally:
        OpenAIInstrumentor().uninstrument()
    calls = [span for span in app_spans.get_finished_spans() if span.name.startswith("chat")]
    assert len(calls) == 4, [s.name for s in app_spans.get_finished_spans()]
    by_parent = {span.parent.span_id: span for span in calls if span.parent is not None}
    for name, turn in turns.items():
        call = by_parent.get(turn.handle.span_id)
        assert call is not None, f"no openai span under the {name} agent span"
        assert call.context.trace_id == turn.handle.trace_id, name
        assert call.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    exported = {span.name for span in run.spans()}
    assert {f"invoke_agent {name}" for name in turns} <= exported, exported


def _app_provider(sampler=None):
    """An application's SDK provider as a team sets one up: its resource, a processor of its own
    and an exporter (into memory here)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class Names(SpanProcessor):
        def __init__(self):
            self.ended: list[str] = []

        def on_end(self, span):
            self.ended.append(span.name)

    options = {"sampler": sampler} if sampler is not None else {}
    provider = TracerProvider(resource=Resource.create({"service.name": "my-app"}), **options)
    names, exporter = Names(), InMemorySpanExporter()
    provider.add_span_processor(names)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, names, exporter


def test_the_apps_provider_exports_one_nested_tree_with_its_resource_and_processors(local_url):
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.trace import SpanKind

    provider, names, exporter = _app_provider()
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    tracer = agentrace.Tracer(tracer_provider=provider, flush_interval_ms=20)
    assert tracer.tracer_provider is provider
    try:
        with provider.get_tracer("app").start_as_current_span("POST /ask", kind=SpanKind.SERVER):
            with tracer.invoke_agent(agent={"name": "fetcher"}):
                with tracer.chat(provider="openai", request={"model": "gpt-4o-mini"}) as call:
                    call.set(usage={"input_tokens": 3, "output_tokens": 4})
                with tracer.execute_tool(tool={"name": "fetch"}):
                    httpx.get(local_url)
        assert tracer.shutdown(timeout=10)
    finally:
        HTTPXClientInstrumentor().uninstrument()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert sorted(spans) == ["GET", "POST /ask", "chat gpt-4o-mini", "execute_tool fetch", "invoke_agent fetcher"]
    # One tree, one trace: request > agent turn > (model call, tool > HTTP call).
    parent = {name: span.parent.span_id if span.parent else None for name, span in spans.items()}
    ids = {name: span.context.span_id for name, span in spans.items()}
    assert parent["invoke_agent fetcher"] == ids["POST /ask"]
    assert parent["chat gpt-4o-mini"] == parent["execute_tool fetch"] == ids["invoke_agent fetcher"]
    assert parent["GET"] == ids["execute_tool fetch"]
    assert len({span.context.trace_id for span in spans.values()}) == 1
    # Mapped by the host, with the provider's resource, through every processor it has.
    call = spans["chat gpt-4o-mini"]
    assert call.kind == SpanKind.CLIENT
    assert call.attributes["gen_ai.provider.name"] == "openai"
    assert call.attributes["gen_ai.usage.output_tokens"] == 4
    assert call.resource.attributes["service.name"] == "my-app"
    assert call.instrumentation_scope.name == "agentrace"
    assert {"invoke_agent fetcher", "chat gpt-4o-mini", "execute_tool fetch"} <= set(names.ended)


def test_the_apps_sampler_keeps_or_drops_whole_traces():
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, TraceIdRatioBased

    provider, _, exporter = _app_provider(ALWAYS_OFF)
    tracer = agentrace.Tracer(tracer_provider=provider, flush_interval_ms=20)
    with tracer.invoke_agent(agent={"name": "unsampled"}):
        with tracer.chat(request={"model": "m"}):
            pass
    assert tracer.shutdown(timeout=10)
    assert exporter.get_finished_spans() == ()
    assert tracer.stats()["spans_exported"] == 2  # handed over; the app's sampler dropped them

    ratio = TraceIdRatioBased(0.5)
    provider, _, exporter = _app_provider(ratio)
    tracer = agentrace.Tracer(tracer_provider=provider, flush_interval_ms=20)
    traces = []
    for i in range(40):
        with tracer.invoke_agent(agent={"name": f"agent-{i}"}) as turn:
            with tracer.chat(request={"model": "m"}):
                pass
        traces.append(turn.handle.trace_id)
    assert tracer.shutdown(timeout=10)
    kept: dict[int, int] = {}
    for span in exporter.get_finished_spans():
        kept[span.context.trace_id] = kept.get(span.context.trace_id, 0) + 1
    expected = {t for t in traces if ratio.should_sample(None, t, "x").decision.is_sampled()}
    assert set(kept) == expected and 0 < len(expected) < 40, (len(expected), kept)
    assert set(kept.values()) == {2}  # whole traces


def test_the_global_sdk_provider_is_used_by_default_and_output_overrides_it(tmp_path):
    script = (
        "import agentrace\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "through = agentrace.Tracer()\n"
        f"to_file = agentrace.Tracer(output={str(tmp_path / 'out.jsonl')!r})\n"
        "assert through.tracer_provider is provider and to_file.tracer_provider is None\n"
        "for t, name in ((through, 'global'), (to_file, 'file')):\n"
        "    with t.invoke_agent(agent={'name': name}):\n"
        "        pass\n"
        "    t.shutdown()\n"
        "print(sorted(s.name for s in exporter.get_finished_spans()))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True, text=True)
    assert run.stdout.strip() == "['invoke_agent global']", run.stdout + run.stderr
    assert "invoke_agent file" in (tmp_path / "out.jsonl").read_text()


def test_spans_still_open_at_exit_reach_the_apps_exporter_before_it_shuts_down():
    # The provider's batch processor flushes at exit; agentrace must hand its spans over first.
    # agentrace is imported first, so its own exit hook runs after the provider's.
    script = (
        "import agentrace\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult\n"
        "class Printing(SpanExporter):\n"
        "    def export(self, spans):\n"
        "        print(*[s.name for s in spans], flush=True)\n"
        "        return SpanExportResult.SUCCESS\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(BatchSpanProcessor(Printing()))\n"
        "trace.set_tracer_provider(provider)\n"
        "tracer = agentrace.Tracer()\n"
        "with tracer.invoke_agent(agent={'name': 'at-exit'}):\n"
        "    pass\n"
        "tracer.invoke_agent(agent={'name': 'left-open'}).start()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True, text=True)
    assert "invoke_agent at-exit" in run.stdout, run.stdout + run.stderr
    assert "invoke_agent left-open" in run.stdout, run.stdout + run.stderr


def test_an_explicit_traceparent_parent_joins_that_trace(traced):
    run = traced()
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with run.tracer.invoke_agent(parent=header, agent={"name": "remote-callee"}) as span:
        assert span.traceparent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    (agent,) = run.spans()
    assert (agent.trace_id, agent.parent_id) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def test_continue_trace_parents_spans_under_an_incoming_header(traced, caplog):
    run = traced()
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with agentrace.continue_trace(header):  # what an instrumented server does per request
        with run.tracer.invoke_agent(agent={"name": "served"}):
            with run.tracer.chat(request={"model": "m"}):
                pass
    with agentrace.continue_trace("not-a-traceparent"):  # logged; default parents apply
        with run.tracer.invoke_agent(agent={"name": "fresh"}):
            pass
    spans = {s.name: s for s in run.spans()}
    served = spans["invoke_agent served"]
    assert (served.trace_id, served.parent_id) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert spans["chat m"].parent_id == served.span_id
    assert spans["invoke_agent fresh"].trace_id != served.trace_id
    assert "traceparent" in caplog.text


def test_an_exception_is_recorded_and_propagates(traced):
    run = traced()

    class RateLimitError(Exception):
        pass

    with pytest.raises(RateLimitError):
        with run.tracer.chat(request={"model": "gpt-4o-mini"}):
            raise RateLimitError("429")
    (call,) = run.spans()
    assert call.status_code == 2
    assert call.attributes["error.type"] == "test_an_exception_is_recorded_and_propagates.<locals>.RateLimitError"


def _fail_deep(depth: int) -> None:
    if depth:
        _fail_deep(depth - 1)
    {"a": 1}["b"]  # noqa: B018 - the error under test


def test_a_recorded_stack_trace_is_pythons_own_without_the_expression_markers(traced):
    # The standard format, chained causes and contexts and a recursion's counted repeats
    # included; only the ^^^~~~ lines that cost an ast.parse per frame (Python 3.11+) are left
    # out, on the exported exception event too.
    markers = re.compile(r"^ *[\^~]+ *\n", re.MULTILINE)
    try:
        try:
            _fail_deep(8)
        except KeyError as error:
            raise ValueError("wrapped") from error
    except ValueError:
        try:
            len(5)  # type: ignore[arg-type]
        except TypeError as error:
            failure = error
    standard = "".join(traceback.format_exception(failure))
    if sys.version_info >= (3, 11):
        assert markers.search(standard), "nothing to leave out: the test would prove nothing"
    expected = markers.sub("", standard)
    assert "The above exception was the direct cause" in expected and "During handling" in expected
    assert "[Previous line repeated 5 more times]" in expected
    assert agentrace._tracer.stack_trace(failure) == expected
    run = traced()
    with run.tracer.chat(request={"model": "m"}) as call:
        call.record_exception(failure)
    ((name, attributes),) = run.spans()[0].events
    assert name == "exception" and attributes["exception.stacktrace"] == expected


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class _ModuleError(LookupError):
    __module__ = "some.library"


def test_an_exceptions_last_line_is_the_standard_librarys():
    # agentrace writes the last line itself (traceback.format_exception_only builds the whole
    # chain first); every kind of exception it writes, and those it leaves to the library.
    noted = ValueError("with a note")
    noted.add_note("the note") if hasattr(noted, "add_note") else None
    chained = KeyError("outer")
    chained.__context__ = ValueError("inner")
    errors = [ValueError("bad value"), ValueError(), KeyError("key"), _ModuleError("elsewhere"),
              _UnprintableError(), SyntaxError("bad syntax", ("f.py", 3, 5, "a b c\n", 3, 6)),
              noted, chained, OSError(2, "No such file")]
    for error in errors:
        standard = traceback.format_exception_only(type(error), error)
        assert agentrace._tracer._exception_only(error) == standard, (type(error), standard)
    assert agentrace._tracer._exception_only(_ModuleError("x")) == ["some.library._ModuleError: x\n"]


def test_an_exception_group_keeps_its_members_in_the_stack_trace():
    group_type = getattr(builtins, "ExceptionGroup", None)
    if group_type is None:
        pytest.skip("exception groups are Python 3.11+")
    try:
        raise group_type("two failures", [KeyError("first"), ValueError("second")])
    except group_type as error:
        failure = error
    ours = agentrace._tracer.stack_trace(failure)
    assert ours == "".join(traceback.format_exception(failure))
    assert "KeyError: 'first'" in ours and "ValueError: second" in ours


def test_an_exception_and_an_evaluation_reach_the_logs_signal(traced):
    """``record_exception`` reports the standard ``exception`` event with its stack trace and
    ``evaluation`` the GenAI evaluation result; the mapper puts both on the logs signal,
    parented to their spans."""
    run = traced()

    class RateLimitError(Exception):
        pass

    with run.tracer.chat(provider="openai", request={"model": "m"}) as judged:
        judged.evaluation("relevance", score=0.9, label="relevant", explanation="on topic")
    with pytest.raises(RateLimitError):
        with run.tracer.chat(provider="openai", request={"model": "m"}):
            raise RateLimitError("429")
    spans = run.spans()
    records = read_log_records(run.path)
    (evaluation,) = [r for r in records if r.event_name == "gen_ai.evaluation.result"]
    assert evaluation.attributes == {
        "gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.9,
        "gen_ai.evaluation.score.label": "relevant", "gen_ai.evaluation.explanation": "on topic",
    }
    (exception,) = [r for r in records if r.event_name == "gen_ai.client.operation.exception"]
    assert exception.severity == 13
    assert exception.attributes["exception.type"].endswith("RateLimitError")
    assert 'raise RateLimitError("429")' in exception.attributes["exception.stacktrace"]
    failed = next(s for s in spans if s.status_code == 2)
    assert exception.span_id == failed.span_id and exception.trace_id == failed.trace_id
    assert [name for name, _ in failed.events] == ["exception"]
    ok = next(s for s in spans if s.status_code != 2)
    assert evaluation.span_id == ok.span_id
    assert ok.events == [], "the evaluation left the span for the logs signal"


def test_two_workers_export_every_trace_whole(traced):
    run = traced(workers=2)
    for n in range(40):
        with run.tracer.invoke_agent(agent={"name": f"agent-{n}"}):
            with run.tracer.chat(request={"model": "m"}):
                pass
    spans = run.spans()
    assert len(spans) == 80
    by_id = {span.span_id: span for span in spans}
    children = [span for span in spans if span.parent_id]
    assert len(children) == 40
    # Each child is exported in its parent's trace, whichever worker took the trace.
    assert all(by_id[c.parent_id].trace_id == c.trace_id for c in children)
    assert len({span.trace_id for span in spans}) == 40


def test_fields_set_later_are_merged_record_by_record(traced):
    run = traced()
    with run.tracer.chat(provider="openai", request={"model": "gpt-4o-mini"}) as call:
        call.set(usage={"input_tokens": 52})
        call.set(usage={"output_tokens": 47}, response={"finish_reasons": ["stop"]})
        call.update(conversation_id="chat-7")
        call.event("first_chunk", index=0)
    (span,) = run.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 52
    assert span.attributes["gen_ai.usage.output_tokens"] == 47
    assert span.attributes["gen_ai.conversation.id"] == "chat-7"
    assert span.attributes["gen_ai.response.finish_reasons"] == ["stop"]


def test_bad_input_never_raises_is_logged_and_counted(traced, caplog):
    run = traced()
    tracer = run.tracer
    with caplog.at_level(logging.WARNING, logger="agentrace"):
        with tracer.span("no_such_operation"):  # refused: unknown operation
            pass
        with tracer.chat(request={"model": 4}) as call:  # refused fields; the span still exists
            call.set(usage={"input_tokens": "many"})  # refused at the end
            call.update(agent="not a record")  # refused update
            call.event("e", nested={"a": object()})  # refused event attributes
        with tracer.chat(parent=42):  # a parent of the wrong type
            pass
        with tracer.invoke_agent(agent={"name": "fine"}):  # valid, beside the bad ones
            pass
    spans = run.spans()
    stats = tracer.stats()
    assert stats["events_rejected"] == 6, stats
    messages = " | ".join(stats["recent_errors"])
    assert "request.model" in messages and "usage.input_tokens" in messages, messages
    assert "unknown variant `no_such_operation`" in messages, messages
    assert len([r for r in caplog.records if r.name == "agentrace"]) == 6
    names = sorted(span.name for span in spans)
    # The span with bad fields is kept, without them; the unknown operation is not a span.
    assert names == ["chat", "chat", "invoke_agent fine"], names


def test_a_refused_start_under_a_span_keeps_the_span_under_it_without_what_was_refused(traced, caplog):
    """Under a started span the start runs in native code (``SpanCore``); what it refuses is
    counted and logged once, and the span stays under its parent without its fields."""
    run = traced()
    tracer = run.tracer
    with caplog.at_level(logging.WARNING, logger="agentrace"):
        with tracer.invoke_agent(agent={"name": "outer"}) as outer:
            with tracer.chat(request={"model": 4}) as call:  # refused fields
                assert call.handle is not None
            with tracer.span("no_such_operation") as unknown:  # refused: not a span at all
                assert unknown.handle is None
            with tracer.execute_tool(tool={"name": "fine"}):  # valid, beside the bad ones
                pass
    spans = {span.name: span for span in run.spans()}
    stats = tracer.stats()
    assert stats["events_rejected"] == 2, stats
    assert len([r for r in caplog.records if r.name == "agentrace"]) == 2
    assert sorted(spans) == ["chat", "execute_tool fine", "invoke_agent outer"], sorted(spans)
    outer_id = f"{outer.handle.span_id:016x}"
    assert spans["chat"].parent_id == outer_id
    assert spans["execute_tool fine"].parent_id == outer_id
    assert "gen_ai.request.model" not in spans["chat"].attributes


def test_span_records_wait_until_handed_over_then_reach_the_host_in_order(traced, monkeypatch):
    """Starts, updates, events and ends wait in the native module (``handover.rs``), their
    fields unread, until handed over (here by a flush, the hand-over thread held back); they
    reach the host in order, their fields read then."""
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()
    tracer = run.tracer
    native = tracer._native
    assert native.waiting == 0
    with tracer.invoke_agent(agent={"name": "outer"}) as outer:
        for index in range(3):
            with tracer.execute_tool(tool={"name": f"tool{index}"}) as tool:
                tool.set(tool={"call_id": f"call-{index}"})
        outer.update(conversation_id="c-1")
        outer.event("first_chunk", index=1)
    # the root's start and end, three starts and three ends, the update and the event
    assert native.waiting == 10, native.waiting
    assert tracer.flush()
    assert native.waiting == 0
    spans = {span.name: span for span in run.spans()}
    outer_id = f"{outer.handle.span_id:016x}"
    assert sorted(spans) == ["execute_tool tool0", "execute_tool tool1", "execute_tool tool2", "invoke_agent outer"]
    for index in range(3):
        assert spans[f"execute_tool tool{index}"].parent_id == outer_id
        assert spans[f"execute_tool tool{index}"].attributes["gen_ai.tool.call.id"] == f"call-{index}"
    assert spans["invoke_agent outer"].attributes["gen_ai.conversation.id"] == "c-1"
    assert [name for name, _ in spans["invoke_agent outer"].events] == ["first_chunk"]
    stats = tracer.stats()
    assert stats["handed_over"] == 10 and stats["hand_over_seconds"] > 0, stats
    assert stats["events_rejected"] == 0


def test_waiting_spans_reach_the_host_while_the_agent_is_idle(traced):
    """The package's hand-over thread hands over what waited about a tenth of a second, so an
    open root does not hold its children back and the agent's thread does not do it."""
    run = traced()
    tracer = run.tracer
    native = tracer._native
    with tracer.invoke_agent(agent={"name": "outer"}):
        with tracer.execute_tool(tool={"name": "quick"}):
            pass
        assert native.waiting == 3
        deadline = time.monotonic() + 10
        while native.waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        assert native.waiting == 0
        assert tracer.flush()
        assert [span.name for span in read_spans(run.path)] == ["execute_tool quick"]


def test_a_span_made_while_its_tracer_hands_over_waits_for_the_next_hand_over(traced, monkeypatch):
    """Writing an exception's attributes at a hand-over runs Python (the exception's ``str``
    here), which may trace: those spans wait for the next hand-over instead of deadlocking or
    overtaking the batch."""
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()
    tracer = run.tracer

    class Loud(Exception):
        def __str__(self) -> str:
            with tracer.execute_tool(tool={"name": "inside_str"}):
                pass
            return "loud"

    with pytest.raises(Loud), tracer.invoke_agent(agent={"name": "failing"}):
        raise Loud()
    # str() ran once on the agent's thread (the span's error message), and runs twice at the
    # hand-over, for the exception event (its message, the stack trace's last line): those
    # spans' starts and ends wait afterwards.
    assert tracer._native.waiting == 5, tracer._native.waiting
    assert tracer.flush()
    assert tracer._native.waiting == 4
    assert tracer.flush()
    assert tracer._native.waiting == 0
    spans = run.spans()
    assert sorted(span.name for span in spans) == ["execute_tool inside_str"] * 3 + ["invoke_agent failing"]
    (failing,) = [span for span in spans if span.name == "invoke_agent failing"]
    (event,) = failing.events
    assert event[0] == "exception" and event[1]["exception.message"] == "loud"


def test_an_exception_recorded_before_it_is_raised_has_no_frames_in_its_stack_trace(traced, monkeypatch):
    """The stack trace is written at the hand-over from the traceback the exception had when
    recorded: none here, although it has one by the time it is handed over."""
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()
    error = ValueError("not yet raised")
    with run.tracer.execute_tool(tool={"name": "early"}) as tool:
        tool.record_exception(error)
    try:
        raise error
    except ValueError:
        pass
    assert error.__traceback__ is not None
    (span,) = run.spans()
    (event,) = span.events
    assert event[1]["exception.stacktrace"] == "ValueError: not yet raised\n"


def test_an_exception_event_the_package_cannot_write_is_counted_and_the_span_kept(traced, monkeypatch, caplog):
    """Writing the exception event at the hand-over runs Python; when that fails (the
    exception's ``str`` fails the second time here), the event is left out, counted and
    logged, and the span is exported with its error."""
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()

    class Flaky(Exception):
        calls = 0

        def __str__(self) -> str:
            Flaky.calls += 1
            if Flaky.calls > 1:
                raise RuntimeError("str failed")
            return "flaky"

    with caplog.at_level(logging.WARNING, logger="agentrace"):
        with pytest.raises(Flaky), run.tracer.execute_tool(tool={"name": "flaky"}):
            raise Flaky()
        (span,) = run.spans()
    # The mappers still report the span's error as its exception event, without a stack trace.
    assert [name for name, _ in span.events] == ["exception"]
    assert "exception.stacktrace" not in span.events[0][1]
    assert span.attributes["error.type"].endswith("Flaky")
    stats = run.tracer.stats()
    assert stats["events_rejected"] == 1, stats
    assert "exception: attributes" in " | ".join(stats["recent_errors"])
    assert len([r for r in caplog.records if r.name == "agentrace"]) == 1


def test_batches_handed_over_by_several_threads_reach_the_host_in_order(traced):
    """Threads that hand over at once (the hand-over thread, flushes, agents' threads at the
    bound) pass their batches to the host one after the other: writing a stack trace runs
    Python, during which another thread may take the next batch, and it must not arrive first.
    Every span is exported whole, with its exception event."""
    run = traced()
    tracer = run.tracer
    rounds = 150
    done = threading.Event()
    # Threads take turns with the interpreter's lock as often as they can (the test fails
    # in most runs when the hand-overs do not wait for each other).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def agent(name: str) -> None:
        for index in range(rounds):
            with tracer.invoke_agent(agent={"name": name}):
                try:
                    with tracer.execute_tool(tool={"name": f"tool{index}"}):
                        raise ValueError(f"failed {index}")
                except ValueError:
                    pass

    def flushing() -> None:
        while not done.is_set():
            tracer.flush()

    agents = [threading.Thread(target=agent, args=(f"agent{n}",)) for n in range(2)]
    flushers = [threading.Thread(target=flushing) for _ in range(2)]
    for thread in flushers + agents:
        thread.start()
    try:
        for thread in agents:
            thread.join()
    finally:
        done.set()
        for thread in flushers:
            thread.join()
        sys.setswitchinterval(interval)
    spans = run.spans()
    stats = tracer.stats()
    assert stats["events_rejected"] == 0 and stats["events_dropped_queue_full"] == 0, stats
    assert stats["spans_ended_incomplete"] == 0 and stats["spans_exported"] == 4 * rounds, stats
    tools = [span for span in spans if span.name.startswith("execute_tool")]
    assert len(spans) == 4 * rounds and len(tools) == 2 * rounds, len(spans)
    assert all([name for name, _ in tool.events] == ["exception"] for tool in tools)


def test_a_call_that_goes_to_the_host_at_once_hands_over_what_waits_first(traced, monkeypatch):
    """A span started under another process's span goes to the host at once, after the records
    waiting before it: its parent's start among them."""
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()
    tracer = run.tracer
    with tracer.invoke_agent(agent={"name": "outer"}) as outer:
        outer.update(conversation_id="c-1")
        assert tracer._native.waiting == 2
        with tracer.chat(parent=outer.handle, request={"model": "m"}):
            assert tracer._native.waiting == 0
    spans = {span.name: span for span in run.spans()}
    assert spans["invoke_agent outer"].attributes["gen_ai.conversation.id"] == "c-1"
    assert spans["chat m"].parent_id == f"{outer.handle.span_id:016x}"
    assert tracer.stats()["events_rejected"] == 0


def test_reporting_does_not_wait_when_export_is_stuck(tmp_path, monkeypatch):
    # A collector that accepts connections and never answers: the worker waits on export, the
    # agent must not. With a small queue, what does not fit is dropped and counted.
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(64)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{stuck.getsockname()[1]}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "30000")
    tracer = agentrace.Tracer(queue_capacity=64, max_batch=16, flush_interval_ms=1)
    for _ in range(20_000):
        with tracer.chat(request={"model": "m"}):
            pass
    stats = tracer.stats()
    assert stats["events_dropped_queue_full"] > 0, stats
    assert stats["events_queued"] + stats["events_dropped_queue_full"] == 40_000, stats
    assert tracer.shutdown(timeout=0.5) is False  # the collector never answered
    stuck.close()


def test_policies_run_on_what_python_reports(traced):
    run = traced(capture_content=True, policies=["redact"])
    with run.tracer.human_input(agent={"name": "user"}) as wait:
        wait.set(human_input={"response": "mail me at jane.doe@example.com"})
    (span,) = run.spans()
    response = span.attributes["agentrace.human_input.response"]
    # Recorded (content capture is on), with the address masked by the policy.
    assert response.startswith("mail me at ") and "jane.doe@example.com" not in response, response
    assert "jane.doe@example.com" not in json.dumps(span.attributes)


def test_sample_keeps_the_traces_the_opentelemetry_sdk_s_ratio_sampler_keeps(traced):
    # The same trace ids through agentrace's `sample` policy and through the SDK's own
    # TraceIdRatioBased sampler at the same ratio: the same traces are kept, so an app that
    # samples with the SDK and exports through agentrace keeps or drops each trace whole.
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    run = traced(policies=[("sample", {"sampler": "traceidratio", "ratio": "0.3"})])
    ids = [os.urandom(16).hex() for _ in range(600)]
    for trace_id in ids:
        with agentrace.continue_trace(f"00-{trace_id}-00f067aa0ba902b7-01"):
            with run.tracer.invoke_agent(agent={"name": "planner"}):
                pass
    kept = {span.trace_id for span in run.spans()}
    sdk = TraceIdRatioBased(0.3)
    expected = {t for t in ids if sdk.should_sample(None, int(t, 16), "turn").decision.is_sampled()}
    assert kept == expected
    assert 120 < len(kept) < 240, len(kept)
    assert run.tracer.stats()["spans_dropped_by_policy"] == len(ids) - len(kept)


def test_sample_follows_the_sampled_flag_of_an_incoming_traceparent(traced):
    # Parent-based by default: a request its caller sampled is kept whatever the ratio, one
    # it did not is dropped; a trace started here goes by the ratio.
    run = traced(policies=[("sample", {"ratio": "0"})])
    for flags in ("01", "00"):
        with agentrace.continue_trace(f"00-{flags * 16}-00f067aa0ba902b7-{flags}"):
            with run.tracer.invoke_agent(agent={"name": "served"}):
                pass
    with run.tracer.invoke_agent(agent={"name": "local"}):
        pass
    assert [span.trace_id for span in run.spans()] == ["01" * 16]


@pytest.mark.parametrize(
    "vector", sorted((REPO / "tests/conformance/vectors").glob("*.json")), ids=lambda p: p.stem
)
def test_conformance_vectors_map_as_expected(vector: Path):
    document = json.loads(vector.read_text())
    config = document["config"]
    tracer = agentrace.Tracer(
        output=os.devnull,
        capture_content=config.get("capture-content") == "true",
        compat=config.get("compat"),
    )
    try:
        assert tracer.map_records(document["records"]) == document["expected"]
    finally:
        tracer.shutdown()


def _rotel_agent() -> str:
    import rotel  # installed beside the package by the test harness

    return os.path.join(os.path.dirname(rotel.__file__), "rotel-agent")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exports_to_a_real_otlp_receiver_configured_by_otel_variables(tmp_path):
    http, grpc = _free_port(), _free_port()
    log = (tmp_path / "rotel.log").open("w")
    receiver = subprocess.Popen(
        [_rotel_agent(), "start", "--exporter", "blackhole", "--debug-log", "traces",
         "--debug-log-verbosity", "detailed",
         "--otlp-http-endpoint", f"127.0.0.1:{http}", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", http)) != 0:
            assert time.monotonic() < deadline, "rotel did not start"
            time.sleep(0.05)
        # A separate interpreter, configured only by the standard variables.
        script = (
            "import agentrace\n"
            "t = agentrace.Tracer()\n"
            "with t.invoke_agent(agent={'name': 'from-python'}):\n"
            "    with t.chat(provider='openai', request={'model': 'gpt-4o-mini'}) as c:\n"
            "        c.set(usage={'input_tokens': 3, 'output_tokens': 4})\n"
        )
        env = dict(os.environ,
                   OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{grpc}",
                   OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                   OTEL_SERVICE_NAME="python-agents")
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = (tmp_path / "rotel.log").read_text()
            if "Name           : chat gpt-4o-mini" in text and "invoke_agent from-python" in text:
                break
            time.sleep(0.1)
        assert "Name           : chat gpt-4o-mini" in text, text
        assert "invoke_agent from-python" in text, text
        assert "python-agents" in text, text
    finally:
        receiver.kill()
        receiver.wait()


@pytest.mark.skipif(
    "AGENTRACE_TEST_TLS_ENDPOINT" not in os.environ,
    reason="needs a backend behind TLS (python_package.rs starts Arize Phoenix for it)",
)
def test_exports_over_tls_configured_by_otel_variables():
    import ssl
    import urllib.request

    endpoint = os.environ["AGENTRACE_TEST_TLS_ENDPOINT"]
    ca = os.environ["AGENTRACE_TEST_TLS_CA"]
    script = (
        "import agentrace\n"
        "t = agentrace.Tracer()\n"
        "with t.invoke_agent(agent={'name': 'over-tls'}):\n"
        "    with t.chat(provider='openai', request={'model': 'gpt-4o-mini'}) as c:\n"
        "        c.set(usage={'input_tokens': 3, 'output_tokens': 4})\n"
        "assert t.shutdown(timeout=30), t.stats()\n"
        "stats = t.stats()\n"
        "assert stats['spans_exported'] == 2, stats\n"
    )
    # A separate interpreter, configured only by the standard variables: the wheel's own TLS
    # (rustls), trusting the test CA.
    env = dict(os.environ,
               OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
               OTEL_EXPORTER_OTLP_CERTIFICATE=ca,
               OTEL_EXPORTER_OTLP_COMPRESSION="gzip")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    context = ssl.create_default_context(cafile=ca)
    deadline = time.monotonic() + 30
    names: list = []
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{endpoint}/v1/projects/default/spans?limit=100",
                                    context=context) as answer:
            names = sorted(span["name"] for span in json.load(answer)["data"])
        if len(names) >= 2:
            break
        time.sleep(0.2)
    assert names == ["chat gpt-4o-mini", "invoke_agent over-tls"], names

    # Without the CA the export fails, and the failure names the cause.
    del env["OTEL_EXPORTER_OTLP_CERTIFICATE"]
    failing = script.replace("assert t.shutdown(timeout=30), t.stats()",
                             "t.shutdown(timeout=1); print(t.stats()['recent_errors'])")
    failing = failing.replace("assert stats['spans_exported'] == 2, stats", "")
    run = subprocess.run([sys.executable, "-c", failing], env=env, check=True, timeout=60,
                         capture_output=True, text=True)
    assert "UnknownIssuer" in run.stdout and "not signed by a CA" in run.stdout, run.stdout


def test_unusual_python_values_are_refused_with_a_reason_never_a_crash(traced):
    run = traced()
    cycle: dict = {}
    cycle["self"] = cycle
    cases = {
        "nested deeper than 64 levels": {"attributes": {"loop": cycle}},
        "a key of type int is not a string": {"attributes": {"ok": {1: "one"}}},
        "an integer out of range": {"usage": {"input_tokens": 2**70}},
        "unsupported type bytes": {"attributes": {"raw": b"\x00"}},
    }
    for expected, fields in cases.items():
        with run.tracer.chat(**fields):
            pass
    with run.tracer.chat(attributes={"tuple": (1, 2), "ratio": 0.5, "flag": True, "none": None}):
        pass
    stats = run.tracer.stats()
    messages = " | ".join(stats["recent_errors"])
    for expected in cases:
        assert expected in messages, messages
    spans = run.spans()
    assert len(spans) == 5  # every span kept; only the refused fields are left out
    typed = next(s for s in spans if "tuple" in s.attributes)
    assert typed.attributes["tuple"] == [1, 2] and typed.attributes["flag"] is True


@pytest.mark.parametrize(
    ("value", "recorded"),
    [("SPAN_ONLY", True), ("span_and_event", True), ("true", True), ("NO_CONTENT", False),
     ("Event_Only", False), ("FALSE", False), ("sometimes", False)],
)
def test_each_capture_value_of_the_genai_utilities_decides_the_content_and_none_raises(
    traced, monkeypatch, value, recorded
):
    """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` as OpenTelemetry's GenAI
    instrumentations read it; a value nobody defined leaves content out and never raises into
    the application."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    run = traced()
    assert run.tracer.capture_content is recorded
    with run.tracer.chat(request={"model": "m"}, input_messages=[{"role": "user", "parts": [
            {"type": "text", "content": "the secret"}]}]):
        pass
    (span,) = run.spans()
    assert ("gen_ai.input.messages" in span.attributes) is recorded


@pytest.mark.parametrize(
    ("value", "emit", "on_spans", "in_event"),
    [("EVENT_ONLY", None, False, True), ("SPAN_AND_EVENT", None, True, True),
     ("SPAN_ONLY", "true", True, False), ("EVENT_ONLY", "false", False, None)],
)
def test_event_capture_values_write_the_details_event_on_the_logs_signal(
    tmp_path: Path, monkeypatch, value, emit, on_spans, in_event
):
    """``EVENT_ONLY`` and ``SPAN_AND_EVENT`` put the content in the
    ``gen_ai.client.inference.operation.details`` log event (OTLP/JSON ``resourceLogs`` lines in
    the output file); ``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`` turns the event on or off."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    if emit is None:
        monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", raising=False)
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", emit)
    output = tmp_path / "out.jsonl"
    tracer = agentrace.Tracer(output=str(output))
    try:
        with tracer.chat(request={"model": "m"}, input_messages=[{"role": "user", "parts": [
                {"type": "text", "content": "the secret"}]}]):
            pass
        tracer.flush()
    finally:
        tracer.shutdown()
    span_lines, log_records = [], []
    for line in output.read_text().splitlines():
        document = json.loads(line)
        span_lines += [line] if "resourceSpans" in document else []
        for resource in document.get("resourceLogs", []):
            for scope in resource["scopeLogs"]:
                log_records += scope["logRecords"]
    assert ("the secret" in "".join(span_lines)) is on_spans
    details = [r for r in log_records
               if r.get("eventName") == "gen_ai.client.inference.operation.details"]
    if in_event is None:
        assert details == []
    else:
        (record,) = details
        keys = {a["key"] for a in record["attributes"]}
        assert ("gen_ai.input.messages" in keys) is in_event
        assert "gen_ai.request.model" in keys
        assert record["spanId"] and record["traceId"]


def test_provider_details_become_the_providers_own_attributes(traced):
    run = traced()
    with run.tracer.chat(provider="openai", request={"model": "gpt-4o"},
                         provider_details={"request_service_tier": "flex",
                                           "system_fingerprint": "fp_44709d6fcb"}):
        pass
    (span,) = run.spans()
    assert span.attributes["openai.request.service_tier"] == "flex"
    assert span.attributes["openai.response.system_fingerprint"] == "fp_44709d6fcb"


def test_a_shipped_mapper_is_chosen_by_name_and_a_wrong_name_says_the_choices(tmp_path: Path):
    output = tmp_path / "spans.jsonl"
    tracer = agentrace.Tracer(output=str(output), mapper="openinference", capture_content=True)
    try:
        with tracer.invoke_agent(agent={"name": "planner"}):
            with tracer.chat(request={"model": "gpt-4o-mini"}, provider="openai") as chat:
                chat.update(usage={"input_tokens": 12, "output_tokens": 3})
        tracer.flush()
    finally:
        tracer.shutdown()
    spans = {}
    for line in output.read_text().splitlines():
        for resource in json.loads(line).get("resourceSpans", []):
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    attributes = {a["key"]: a["value"] for a in span["attributes"]}
                    spans[span["name"]] = attributes
    assert spans["invoke_agent planner"]["openinference.span.kind"] == {"stringValue": "AGENT"}
    chat_span = spans["chat gpt-4o-mini"]
    assert chat_span["openinference.span.kind"] == {"stringValue": "LLM"}
    assert chat_span["llm.model_name"] == {"stringValue": "gpt-4o-mini"}
    assert chat_span["llm.token_count.total"] == {"intValue": "15"}

    with pytest.raises(RuntimeError, match="not a shipped mapper .choose one of genai, openinference"):
        agentrace.Tracer(output=os.devnull, mapper="openinfrence")


def _fail_through_spans(tracer, depth: int, formatted: list[tuple[str, str]]) -> None:
    """Recurses ``depth`` times, a span at each level, then fails; at each level on the way out
    the span records the exception and the test keeps its stack trace beside the standard one."""
    markers = re.compile(r"^ *[\^~]+ *\n", re.MULTILINE)
    try:
        with tracer.span("invoke_agent", agent={"name": f"level-{depth}"}):
            if depth:
                _fail_through_spans(tracer, depth - 1, formatted)
            else:
                {"a": 1}["b"]  # noqa: B018 - the error under test
    except KeyError as error:
        standard = markers.sub("", "".join(traceback.format_exception(error)))
        formatted.append((agentrace._tracer.stack_trace(error), standard))
        raise


def test_an_exception_leaving_nested_spans_is_formatted_once_per_frame(traced, monkeypatch):
    # Each span the exception leaves records the standard stack trace of that moment, the
    # recursion's counted repeats included; the frames formatted for the span inside are
    # reused, so each source line is read once. The stack traces are written when the spans'
    # records are handed over (held back here until the flush), from each span's traceback as
    # it was when the exception left it; that hand-over lets go of the frames kept.
    monkeypatch.setattr(agentrace._tracer, "_HAND_OVER_AFTER", 3600)
    run = traced()
    reads: list[tuple[str, int]] = []

    class CountingLinecache:
        @staticmethod
        def getline(filename, lineno, module_globals=None):
            reads.append((filename, lineno))
            return linecache.getline(filename, lineno, module_globals)

    monkeypatch.setattr(agentrace._tracer, "linecache", CountingLinecache)
    monkeypatch.setattr(agentrace._tracer, "_FRAME_TEXTS", {})
    formatted: list[tuple[str, str]] = []
    with pytest.raises(KeyError):
        _fail_through_spans(run.tracer, 6, formatted)
    assert len(formatted) == 7
    assert any("[Previous line repeated" in ours for ours, _ in formatted)
    for ours, standard in formatted:
        assert ours == standard
    exported = [attributes["exception.stacktrace"] for span in run.spans() for name, attributes in span.events if name == "exception"]
    assert sorted(exported) == sorted(ours for ours, _ in formatted)
    # The seven traces hold 1 + 2 + ... + 7 frames (each level's own in front of the one
    # inside): the recursion's six frames at one line, and the call into it at another. Each
    # line is read once, when the process first formats it (``_FRAME_TEXTS``).
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 2, reads
    reads.clear()
    with pytest.raises(KeyError):
        _fail_through_spans(run.tracer, 6, [])
    assert reads == []
    assert agentrace._tracer._FORMATTED
    assert run.tracer.flush()
    assert not agentrace._tracer._FORMATTED
