"""A scripted run of AG2 1.x (``ag2`` 1.2) through its middleware hooks: a lead agent whose
scripted model (``ag2.testing.TestConfig``) calls a tool that asks the human, then a sub-agent
used as a tool, then answers; and an agent whose model call fails.

    python ag2_scenario.py {none,builtin,builtin-otlp,agentrace,agentrace-ag2,interleaved} OUT.json [--runs N]

``builtin-otlp`` is the built-in telemetry also exporting through the standard OTLP/HTTP exporter
(``OTEL_EXPORTER_OTLP_ENDPOINT``).

``OUT.json`` gets the spans of the last run (the plain form of ``otlp_json``), the wall time of
each run, the part of it spent making the middleware, and the number of spans per run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ag2 import Agent, Context
from ag2.events import ToolCallEvent
from ag2.testing import TestConfig
from otlp_json import ExportReader, sdk_recorder
from scenario_runs import Runs, hand_over_seconds

MODEL, PROVIDER = "gpt-4o-mini", "openai"


class ScriptedRateLimitError(Exception):
    """What a provider raises on HTTP 429."""


async def confirm(city: str, context: Context) -> str:
    """Asks the human whether to look the city up."""
    answer = await context.input(f"Look up {city}?")
    return f"the human said {answer}"


async def run_once(middleware: Callable[[str], list[Any]]) -> None:
    """One pass over every hook, with fresh agents and scripts."""
    researcher = Agent(
        "researcher", "You research.", config=TestConfig("Paris is sunny.", model=MODEL, provider=PROVIDER),
        middleware=middleware("researcher"),
    )
    lead = Agent(
        "lead", "You lead.",
        config=TestConfig(
            ToolCallEvent(name="confirm", arguments='{"city": "Paris"}'),
            ToolCallEvent(name="research", arguments='{"objective": "weather in Paris"}'),
            "It is sunny in Paris.",
            model=MODEL, provider=PROVIDER,
        ),
        tools=[confirm, researcher.as_tool(description="Research a question.", name="research")],
        hitl_hook=lambda request: "yes",
        middleware=middleware("lead"),
    )
    reply = await lead.ask("What is the weather in Paris?")
    assert await reply.content() == "It is sunny in Paris."

    flaky = Agent(
        "flaky", config=TestConfig(ScriptedRateLimitError("429 Too Many Requests"), model=MODEL, provider=PROVIDER),
        middleware=middleware("flaky"),
    )
    try:
        await flaky.ask("Hello?")
    except ScriptedRateLimitError:
        pass
    else:
        raise AssertionError("the scripted failure did not reach the caller")


def setup_builtin(otlp: bool = False) -> tuple[Callable[[str], list[Any]], Callable[[], list[dict[str, Any]]]]:
    from ag2.middleware.builtin.telemetry import TelemetryMiddleware

    provider, finish = sdk_recorder(otlp=otlp)

    def middleware(name: str) -> list[Any]:
        return [TelemetryMiddleware(tracer_provider=provider, agent_name=name, model_name=MODEL,
                                    provider_name=PROVIDER)]

    return middleware, finish


def setup_agentrace(output: Path, compat: str | None) -> tuple[Callable[[str], list[Any]], Callable[[], list[dict[str, Any]]]]:
    import agentrace
    from agentrace.ag2 import TelemetryMiddleware

    tracer = agentrace.Tracer(output=str(output), compat=compat)
    reader = ExportReader(output)

    def middleware(name: str) -> list[Any]:
        return [TelemetryMiddleware(tracer=tracer, agent_name=name, model_name=MODEL, provider_name=PROVIDER)]

    def finish() -> list[dict[str, Any]]:
        tracer.flush()
        return reader.new_spans()

    finish.tracer = tracer  # type: ignore[attr-defined] - the benches read its statistics
    return middleware, finish


def interleaved(runs: int, out: Path) -> None:
    """No tracing, AG2's middleware and agentrace's, one run each in turn in this process (the
    middleware is per agent, so the three coexist): each mode's seconds per run, spans per run,
    and seconds spent handing span records over in all runs (agentrace only)."""
    with tempfile.TemporaryDirectory() as scratch:
        setups = {
            "none": (lambda name: [], lambda: []),
            "builtin": setup_builtin(),
            "agentrace": setup_agentrace(Path(scratch) / "spans.jsonl", None),
        }
        seconds: dict[str, list[float]] = {mode: [] for mode in setups}
        spans: dict[str, int] = {}
        for index in range(runs):
            modes = list(setups)
            for mode in modes[index % 3:] + modes[: index % 3]:
                middleware, finish = setups[mode]
                gc.collect()
                started = time.perf_counter()
                asyncio.run(run_once(middleware))
                seconds[mode].append(time.perf_counter() - started)
                spans[mode] = len(finish())
        handing_over = {mode: hand_over_seconds(finish) for mode, (_, finish) in setups.items()}
    out.write_text(json.dumps({"seconds": seconds, "span_count": spans, "hand_over_seconds": handing_over}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tracing", choices=["none", "builtin", "builtin-otlp", "agentrace", "agentrace-ag2", "interleaved"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if args.tracing == "interleaved":
        interleaved(args.runs, args.out)
        return
    with tempfile.TemporaryDirectory() as scratch:
        if args.tracing.startswith("builtin"):
            middleware, finish = setup_builtin(otlp=args.tracing == "builtin-otlp")
        elif args.tracing.startswith("agentrace"):
            compat = "ag2" if args.tracing == "agentrace-ag2" else None
            middleware, finish = setup_agentrace(Path(scratch) / "spans.jsonl", compat)
        else:
            def middleware(name: str) -> list[Any]:
                return []

            def finish() -> list[dict[str, Any]]:
                return []

        runs = Runs()
        timed_middleware = runs.instrumenting(middleware)
        spans: list[dict[str, Any]] = []
        for _ in range(args.runs):
            runs.run(lambda: asyncio.run(run_once(timed_middleware)))
            spans = finish()
    runs.write(args.out, spans)


if __name__ == "__main__":
    main()
