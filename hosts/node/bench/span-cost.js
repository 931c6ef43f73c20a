#!/usr/bin/env node
// The cost on the JavaScript thread of one span (start, 10 attributes, end): agentrace's addon
// against the OpenTelemetry JS SDK (@opentelemetry/sdk-trace-node) creating the same span, side
// by side in one process; the same workload as hosts/python/bench/span_cost.py.
//
// Spans are timed in chunks of 1000 with process.hrtime.bigint(); between chunks (untimed) each
// side flushes, so neither queue overflows (a dropped span would be cheaper than a recorded one)
// and both exporters are idle when a chunk starts. agentrace is measured twice: joined to the
// application's OpenTelemetry context (the SDK registered, as in an instrumented application),
// and without `@opentelemetry/api`. The SDK is measured twice too: with an exporter that
// discards (the span API alone), and with one that encodes each batch as OTLP/protobuf, as the
// SDK's OTLP exporter does on the JavaScript thread before sending (its flush is then timed with
// the chunk; agentrace encodes on its own worker thread). Prints one JSON object: per-span medians over the chunks
// (µs), p90s, and the counts that show nothing was dropped.
//
//     npm run build                      # release addon (the default profile)
//     node bench/span-cost.js [--chunks N]
'use strict';

const api = require('@opentelemetry/api');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { BatchSpanProcessor, NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

const agentrace = require('..');

const CHUNK = 1000;

/** Counts and forgets: the SDK's side of the null sink. */
class Discard {
  constructor() {
    this.spans = 0;
  }

  export(spans, done) {
    this.spans += spans.length;
    done({ code: 0 });
  }

  shutdown() {
    return Promise.resolve();
  }
}

/** Encodes each batch as an OTLP/protobuf request, then forgets it. */
class EncodeOtlp extends Discard {
  constructor() {
    super();
    this.bytes = 0;
  }

  export(spans, done) {
    this.bytes += ProtobufTraceSerializer.serializeRequest(spans).length;
    super.export(spans, done);
  }
}

/** 1000 chat spans with 10 attributes: 6 known at start, 4 at the end. */
function agentraceChunk(tracer) {
  const began = process.hrtime.bigint();
  for (let i = 0; i < CHUNK; i += 1) {
    tracer.chat({
      provider: 'openai',
      agent: { name: 'planner' },
      request: { model: 'gpt-4o-mini', temperature: 0.2, max_tokens: 512, top_p: 0.9 },
    }, (span) => {
      span.set({
        response: { id: 'chatcmpl-1', finish_reasons: ['stop'] },
        usage: { input_tokens: 52, output_tokens: 47 },
      });
    });
  }
  return Number(process.hrtime.bigint() - began);
}

/** The same span through the SDK: active span, 10 attributes, end. */
function sdkChunk(tracer) {
  const began = process.hrtime.bigint();
  for (let i = 0; i < CHUNK; i += 1) {
    tracer.startActiveSpan('chat gpt-4o-mini', { kind: api.SpanKind.CLIENT }, (span) => {
      span.setAttribute('gen_ai.operation.name', 'chat');
      span.setAttribute('gen_ai.provider.name', 'openai');
      span.setAttribute('gen_ai.agent.name', 'planner');
      span.setAttribute('gen_ai.request.model', 'gpt-4o-mini');
      span.setAttribute('gen_ai.request.temperature', 0.2);
      span.setAttribute('gen_ai.request.max_tokens', 512);
      span.setAttribute('gen_ai.response.id', 'chatcmpl-1');
      span.setAttribute('gen_ai.response.finish_reasons', ['stop']);
      span.setAttribute('gen_ai.usage.input_tokens', 52);
      span.setAttribute('gen_ai.usage.output_tokens', 47);
      span.end();
    });
  }
  return Number(process.hrtime.bigint() - began);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function p90(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))];
}

async function main() {
  const index = process.argv.indexOf('--chunks');
  const chunks = index > 0 ? Number(process.argv[index + 1]) : 200;
  const exporter = new Discard();
  const provider = new NodeTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 4 * CHUNK, maxExportBatchSize: 512 })],
  });
  provider.register();
  const sdk = provider.getTracer('bench');
  const encoder = new EncodeOtlp();
  const encoding = new NodeTracerProvider({
    spanProcessors: [new BatchSpanProcessor(encoder, { maxQueueSize: 4 * CHUNK, maxExportBatchSize: 512 })],
  });
  const sdkEncoding = encoding.getTracer('bench');
  // `output` keeps agentrace's spans to its own (discarded) export, not the provider's.
  const joined = new agentrace.Tracer({ output: '/dev/null' });
  const times = { joined: [], alone: [], sdk: [], sdkEncoding: [] };
  for (let round = 0; round < chunks + 10; round += 1) {
    agentrace.useOpenTelemetryApi(api);
    const a = agentraceChunk(joined);
    await joined.flush();
    agentrace.useOpenTelemetryApi(null);
    const b = agentraceChunk(joined);
    await joined.flush();
    const c = sdkChunk(sdk);
    await provider.forceFlush();
    const began = process.hrtime.bigint();
    sdkChunk(sdkEncoding);
    await encoding.forceFlush();
    const d = Number(process.hrtime.bigint() - began);
    if (round >= 10) { // warm-up chunks are not counted
      times.joined.push(a / CHUNK / 1000);
      times.alone.push(b / CHUNK / 1000);
      times.sdk.push(c / CHUNK / 1000);
      times.sdkEncoding.push(d / CHUNK / 1000);
    }
  }
  await joined.shutdown();
  await provider.shutdown();
  await encoding.shutdown();
  const stats = joined.stats();
  const total = (chunks + 10) * CHUNK;
  console.log(JSON.stringify({
    agentrace_joined_us: median(times.joined),
    agentrace_alone_us: median(times.alone),
    sdk_us: median(times.sdk),
    sdk_with_otlp_encoding_us: median(times.sdkEncoding),
    agentrace_joined_p90_us: p90(times.joined),
    agentrace_alone_p90_us: p90(times.alone),
    sdk_p90_us: p90(times.sdk),
    sdk_with_otlp_encoding_p90_us: p90(times.sdkEncoding),
    spans_per_side: total,
    agentrace_exported: stats.spans_exported,
    agentrace_dropped: stats.events_dropped_queue_full,
    agentrace_rejected: stats.events_rejected,
    sdk_exported: exporter.spans,
    sdk_encoded: encoder.spans,
    sdk_encoded_bytes_per_span: encoder.bytes / encoder.spans,
    node: process.version,
  }));
}

main();
