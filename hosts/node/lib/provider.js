// Agentrace's spans through the application's own OpenTelemetry `TracerProvider`.
//
// When the application has an SDK provider (given as `tracerProvider`, or registered globally),
// the host hands each exported batch of mapped, policy-checked spans to the callback `forwarder`
// makes. It turns them into the SDK's `ReadableSpan` shape and ends them through the provider's
// span processors, so they reach the application's exporters like its other spans.
//
// What of the provider applies:
// - processors and exporters: every span goes through `onEnd` of the provider's processors;
// - resource: the provider's; agentrace's own service name setting is not used;
// - sampling: the provider's sampler decides once per trace, as for a root span of that trace;
// - span limits: not applied again; the host's mapper and policies shape the spans.
// Metrics are not forwarded (the host's metrics go to its own export, if any).
'use strict';

/** Most traces whose sampling decision is remembered (the oldest are forgotten first). */
const REMEMBERED_DECISIONS = 65_536;
/** The sampling decision that keeps a span (`SamplingDecision.RECORD_AND_SAMPLED`). */
const RECORD_AND_SAMPLED = 2;

/** The parts of an SDK provider the forwarder needs, or `null` when `provider` has no pipeline
 * (the API's no-op or proxy provider without a delegate). Reads the SDK's fields of 1.x and 2.x. */
function pipelineOf(provider) {
  if (!provider) return null;
  if (typeof provider.getDelegate === 'function') provider = provider.getDelegate();
  const processor = provider._activeSpanProcessor || provider.activeSpanProcessor;
  if (!processor || typeof processor.onEnd !== 'function') return null;
  const sampler = (provider._tracerOptions && provider._tracerOptions.sampler)
    || (provider._config && provider._config.sampler) || null;
  return { provider, processor, sampler, resource: provider._resource || provider.resource };
}

/** The provider to forward to: `explicit` when given, else the global one when it is an SDK
 * provider; `null` when there is none. */
function sdkProvider(api, explicit) {
  if (explicit) return pipelineOf(explicit);
  if (!api) return null;
  return pipelineOf(api.trace.getTracerProvider());
}

/** Nanoseconds since the epoch (a decimal string) as OpenTelemetry's `[seconds, nanos]`. */
function hrTime(nanos) {
  const value = BigInt(nanos || 0);
  return [Number(value / 1_000_000_000n), Number(value % 1_000_000_000n)];
}

function duration(start, end) {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += 1_000_000_000;
  }
  return [seconds, nanos];
}

/** An OTLP/JSON `AnyValue` as an attribute value. */
function value(any) {
  if (!any) return undefined;
  if ('stringValue' in any) return any.stringValue;
  if ('intValue' in any) return Number(any.intValue);
  if ('doubleValue' in any) return Number(any.doubleValue);
  if ('boolValue' in any) return Boolean(any.boolValue);
  if ('arrayValue' in any) return (any.arrayValue.values || []).map(value);
  if ('bytesValue' in any) return any.bytesValue;
  if ('kvlistValue' in any) {
    // Not an attribute type of the SDK: kept as its JSON text.
    const entries = (any.kvlistValue.values || []).map((kv) => [kv.key, value(kv.value)]);
    return JSON.stringify(Object.fromEntries(entries));
  }
  return undefined;
}

function attributes(pairs) {
  const result = {};
  for (const pair of pairs || []) {
    const v = value(pair.value);
    if (v !== undefined) result[pair.key] = v;
  }
  return result;
}

/** The callback the host calls with each batch (OTLP/JSON text of `resourceSpans`). */
function forwarder(api, pipeline) {
  const { processor, sampler, resource } = pipeline;
  const decisions = new Map();
  const SAMPLED = 1;

  function keep(traceId, name, kind, attrs) {
    if (!sampler || !api) return true;
    let decision = decisions.get(traceId);
    if (decision === undefined) {
      const result = sampler.shouldSample(api.ROOT_CONTEXT, traceId, name, kind, attrs, []);
      decision = result.decision === RECORD_AND_SAMPLED;
      decisions.set(traceId, decision);
      if (decisions.size > REMEMBERED_DECISIONS) decisions.delete(decisions.keys().next().value);
    }
    return decision;
  }

  return function forward(json) {
    let batch;
    try {
      batch = JSON.parse(json);
    } catch (error) {
      process.emitWarning(`agentrace: a forwarded batch is not JSON: ${error.message}`, 'AgentraceWarning');
      return;
    }
    for (const group of batch) {
      for (const scoped of group.scopeSpans || []) {
        const scope = scoped.scope || {};
        const instrumentationScope = {
          name: scope.name || 'agentrace',
          version: scope.version || undefined,
          schemaUrl: scoped.schemaUrl || undefined,
        };
        for (const span of scoped.spans || []) {
          // OTLP's kinds count from 1 (INTERNAL); the API's from 0.
          const kind = Math.max(0, (span.kind || 1) - 1);
          const attrs = attributes(span.attributes);
          if (!keep(span.traceId, span.name, kind, attrs)) continue;
          const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: SAMPLED, isRemote: false };
          const parent = span.parentSpanId
            ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: SAMPLED,
              isRemote: Boolean((span.flags || 0) & 0x200) }
            : undefined;
          const startTime = hrTime(span.startTimeUnixNano);
          const endTime = hrTime(span.endTimeUnixNano);
          const status = span.status || {};
          const readable = {
            name: span.name,
            kind,
            spanContext: () => context,
            parentSpanContext: parent,
            // The SDK 1.x name of the parent's id.
            parentSpanId: parent ? parent.spanId : undefined,
            startTime,
            endTime,
            duration: duration(startTime, endTime),
            ended: true,
            status: { code: status.code || 0, message: status.message || undefined },
            attributes: attrs,
            links: (span.links || []).map((link) => ({
              context: { traceId: link.traceId, spanId: link.spanId, traceFlags: SAMPLED, isRemote: true },
              attributes: attributes(link.attributes),
            })),
            events: (span.events || []).map((event) => ({
              name: event.name,
              time: hrTime(event.timeUnixNano),
              attributes: attributes(event.attributes),
            })),
            resource,
            instrumentationScope,
            instrumentationLibrary: instrumentationScope,
            droppedAttributesCount: span.droppedAttributesCount || 0,
            droppedEventsCount: span.droppedEventsCount || 0,
            droppedLinksCount: span.droppedLinksCount || 0,
          };
          try {
            processor.onEnd(readable);
          } catch (error) {
            process.emitWarning(`agentrace: the application's span processor failed: ${error.message}`,
              'AgentraceWarning');
          }
        }
      }
    }
  };
}

module.exports = { sdkProvider, forwarder };
