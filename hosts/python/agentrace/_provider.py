"""Agentrace's spans through the application's own OpenTelemetry ``TracerProvider``.

When the application has an SDK ``TracerProvider`` (given as ``tracer_provider=``, or set
globally), the host hands each exported batch of mapped, policy-checked spans to the callable
:func:`forwarder` makes. It turns them into the SDK's ``ReadableSpan`` objects and ends them
through the provider's span processors, so they reach the application's exporters like its
other spans: one pipeline, nothing else to configure.

What of the provider applies:

- **processors and exporters**: every span goes through ``on_end`` of each processor the
  provider has (batching, filtering, exporting as the application set them up);
- **resource**: the provider's (``service.name`` and the rest); agentrace's own service name
  setting is not used;
- **sampling**: the provider's sampler decides once per trace, as for a root span of that trace
  (so ``ALWAYS_OFF`` drops agentrace's spans, and a ratio keeps or drops whole traces);
- **span limits**: not applied again; the host's mapper and policies shape the spans.

Metrics are not forwarded (the host's metrics go to its own export, if any).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

logger = logging.getLogger("agentrace")

#: Most traces whose sampling decision is remembered (the oldest are forgotten first).
_REMEMBERED_DECISIONS = 65_536


def sdk_provider(explicit: Any = None) -> Any:
    """The provider to forward to: ``explicit`` when given, else the global one when it is an
    SDK ``TracerProvider`` (the API's default proxy or no-op provider has no pipeline); ``None``
    when there is none."""
    if explicit is not None:
        return explicit
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def forwarder(provider: Any) -> Any:
    """The callable the host calls with each batch (OTLP/JSON-shaped ``resourceSpans``)."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    processor = provider._active_span_processor  # the provider's processors, in order
    resource = provider.resource
    sampler = provider.sampler
    decisions: OrderedDict[int, bool] = OrderedDict()
    kinds = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
    statuses = {1: StatusCode.OK, 2: StatusCode.ERROR}
    sampled = TraceFlags(TraceFlags.SAMPLED)

    def keep(trace_id: int, name: str, kind: SpanKind, attributes: dict[str, Any]) -> bool:
        decision = decisions.get(trace_id)
        if decision is None:
            result = sampler.should_sample(None, trace_id, name, kind, attributes)
            decision = result.decision.is_sampled()
            decisions[trace_id] = decision
            if len(decisions) > _REMEMBERED_DECISIONS:
                decisions.popitem(last=False)
        return decision

    def context(trace_id: int, span_id: str, remote: bool = False) -> Any:
        return SpanContext(trace_id, int(span_id, 16), is_remote=remote, trace_flags=sampled)

    def forward(resource_spans: list[dict[str, Any]]) -> None:
        for group in resource_spans:
            for scoped in group.get("scopeSpans", ()):
                scope_info = scoped.get("scope") or {}
                scope = InstrumentationScope(
                    scope_info.get("name", "agentrace"), scope_info.get("version"), scoped.get("schemaUrl") or None
                )
                for span in scoped.get("spans", ()):
                    trace_id = int(span["traceId"], 16)
                    kind = kinds.get(span.get("kind", 1), SpanKind.INTERNAL)
                    attributes = _attributes(span.get("attributes", ()))
                    if not keep(trace_id, span["name"], kind, attributes):
                        continue
                    parent_id = span.get("parentSpanId") or ""
                    status = span.get("status") or {}
                    processor.on_end(
                        ReadableSpan(
                            name=span["name"],
                            context=context(trace_id, span["spanId"]),
                            parent=context(trace_id, parent_id, bool(span.get("flags", 0) & 0x200))
                            if parent_id
                            else None,
                            resource=resource,
                            attributes=attributes,
                            events=[_event(event) for event in span.get("events", ())],
                            links=[_link(link) for link in span.get("links", ())],
                            kind=kind,
                            status=Status(statuses.get(status.get("code", 0), StatusCode.UNSET), status.get("message") or None),
                            start_time=int(span["startTimeUnixNano"]),
                            end_time=int(span["endTimeUnixNano"]),
                            instrumentation_scope=scope,
                        )
                    )

    return forward


def _value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue`` as the SDK's attribute value."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return tuple(_value(item) for item in value["arrayValue"].get("values", ()))
    if "bytesValue" in value:
        return value["bytesValue"]
    if "kvlistValue" in value:  # not an SDK attribute type: kept as its JSON text
        import json

        return json.dumps({kv["key"]: _value(kv.get("value") or {}) for kv in value["kvlistValue"].get("values", ())})
    return None


def _attributes(pairs: Any) -> dict[str, Any]:
    attributes = {}
    for pair in pairs:
        value = _value(pair.get("value") or {})
        if value is not None:
            attributes[pair["key"]] = value
    return attributes


def _event(event: dict[str, Any]) -> Any:
    from opentelemetry.sdk.trace import Event

    return Event(event["name"], _attributes(event.get("attributes", ())), int(event["timeUnixNano"]))


def _link(link: dict[str, Any]) -> Any:
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    context = SpanContext(
        int(link["traceId"], 16), int(link["spanId"], 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    return Link(context, _attributes(link.get("attributes", ())))
