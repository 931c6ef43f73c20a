"""The cost on the agent's thread of one span (start, 10 attributes, end): agentrace against the
OpenTelemetry Python SDK creating the same span directly, side by side in one process.

Spans are timed in chunks of 1000 with ``perf_counter_ns``; between chunks (untimed) each side
flushes, so neither queue overflows (a dropped span would be cheaper than a recorded one) and
both background exporters are idle when a chunk starts. Prints one JSON object: per-span
medians over the chunks (µs), and the counts that show nothing was dropped.

    python span_cost.py [--chunks N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import agentrace

CHUNK = 1000


class Discard(SpanExporter):
    """Counts and forgets: the SDK's side of the null sink."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans):  # noqa: ANN001, ANN201 - SDK interface
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def agentrace_chunk(tracer: agentrace.Tracer) -> int:
    """1000 chat spans with 10 attributes: 6 known at start, 4 at the end."""
    began = time.perf_counter_ns()
    for _ in range(CHUNK):
        with tracer.chat(
            provider="openai",
            agent={"name": "planner"},
            request={"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 512, "top_p": 0.9},
        ) as span:
            span.set(
                response={"id": "chatcmpl-1", "finish_reasons": ["stop"]},
                usage={"input_tokens": 52, "output_tokens": 47},
            )
    return time.perf_counter_ns() - began


def sdk_chunk(tracer) -> int:  # noqa: ANN001 - an SDK tracer
    """The same span through the SDK: current span, 10 attributes, end."""
    began = time.perf_counter_ns()
    for _ in range(CHUNK):
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.agent.name", "planner")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.request.temperature", 0.2)
            span.set_attribute("gen_ai.request.max_tokens", 512)
            span.set_attribute("gen_ai.response.id", "chatcmpl-1")
            span.set_attribute("gen_ai.response.finish_reasons", ("stop",))
            span.set_attribute("gen_ai.usage.input_tokens", 52)
            span.set_attribute("gen_ai.usage.output_tokens", 47)
    return time.perf_counter_ns() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args()

    tracer = agentrace.Tracer(output=os.devnull)
    exporter = Discard()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    sdk = provider.get_tracer("bench")

    ours, theirs = [], []
    for round_ in range(args.chunks + 10):
        a = agentrace_chunk(tracer)
        tracer.flush()
        b = sdk_chunk(sdk)
        provider.force_flush()
        if round_ >= 10:  # warm-up chunks are not counted
            ours.append(a / CHUNK / 1000)
            theirs.append(b / CHUNK / 1000)
    tracer.shutdown()
    provider.shutdown()
    stats = tracer.stats()
    total = (args.chunks + 10) * CHUNK
    print(json.dumps({
        "agentrace_us": statistics.median(ours),
        "sdk_us": statistics.median(theirs),
        "agentrace_p90_us": statistics.quantiles(ours, n=10)[-1],
        "sdk_p90_us": statistics.quantiles(theirs, n=10)[-1],
        "spans": total,
        "agentrace_exported": stats["spans_exported"],
        "agentrace_dropped": stats["events_dropped_queue_full"],
        "sdk_exported": exporter.spans,
    }))


if __name__ == "__main__":
    main()
