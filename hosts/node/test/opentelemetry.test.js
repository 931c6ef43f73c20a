// An application with its own OpenTelemetry (the SDK's NodeTracerProvider, the real http
// instrumentation) gets one nested tree through its own exporter: agentrace spans under the
// application's span, the instrumentation's client and server spans under agentrace's span,
// and agentrace's mapped spans out through the provider's processors with its resource.
'use strict';

const assert = require('node:assert/strict');
const test = require('node:test');

const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  AlwaysOffSampler, InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-node');
const api = require('@opentelemetry/api');

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node-app' }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register();
registerInstrumentations({ tracerProvider: provider, instrumentations: [new HttpInstrumentation()] });

// After the instrumentation is registered, so that it wraps the module.
const http = require('node:http');
const agentrace = require('..');
const { tree } = require('./support');

/** A local HTTP server answering every request with `ok`. */
async function server() {
  const listener = http.createServer((request, response) => response.end('ok'));
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return listener;
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      response.resume();
      response.on('end', resolve);
    }).on('error', reject);
  });
}

/** The exporter's spans in the shape of `support.tree`. */
function exported() {
  return exporter.getFinishedSpans().map((span) => ({
    name: span.name,
    spanId: span.spanContext().spanId,
    traceId: span.spanContext().traceId,
    parentSpanId: span.parentSpanContext ? span.parentSpanContext.spanId : '',
    startTimeUnixNano: String(BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1])),
    kind: span.kind,
    resource: span.resource,
    attributes: span.attributes,
  }));
}

test('one trace: the app span, agentrace spans, and the http instrumentation spans inside them', async () => {
  exporter.reset();
  const listener = await server();
  const url = `http://127.0.0.1:${listener.address().port}/v1/chat`;
  const tracer = new agentrace.Tracer({ captureContent: false });
  assert.equal(tracer.tracerProvider, provider, 'the global SDK provider is found');
  const appTracer = api.trace.getTracer('app');
  await appTracer.startActiveSpan('handle request', async (request) => {
    await tracer.invokeAgent({ agent: { name: 'planner' } }, async () => {
      await tracer.chat({ request: { model: 'gpt-4o' }, provider: 'openai' }, async () => {
        await get(url);
      });
      // An agentrace span inside a span of another instrumentation is that span's child.
      await appTracer.startActiveSpan('app step', async (step) => {
        tracer.executeTool({ tool: { name: 'lookup' } }, () => {});
        step.end();
      });
    });
    request.end();
  });
  assert.equal(await tracer.flush(), true);
  listener.close();
  const spans = exported();
  assert.equal(new Set(spans.map((span) => span.traceId)).size, 1, JSON.stringify(tree(spans)));
  assert.deepEqual(tree(spans), [
    'handle request',
    '  invoke_agent planner',
    '    chat gpt-4o',
    '      GET',
    '        GET',
    '    app step',
    '      execute_tool lookup',
  ]);
  const chat = spans.find((span) => span.name === 'chat gpt-4o');
  assert.equal(chat.kind, api.SpanKind.CLIENT);
  assert.equal(chat.attributes['gen_ai.request.model'], 'gpt-4o');
  assert.equal(chat.resource.attributes['service.name'], 'node-app', "the provider's resource");
  await tracer.shutdown();
});

test("the provider's sampler decides for agentrace's traces", async () => {
  const dropped = new InMemorySpanExporter();
  const sampledOut = new NodeTracerProvider({
    sampler: new AlwaysOffSampler(),
    spanProcessors: [new SimpleSpanProcessor(dropped)],
  });
  const tracer = new agentrace.Tracer({ tracerProvider: sampledOut });
  tracer.chat({ request: { model: 'm' } }, () => {});
  assert.equal(await tracer.shutdown(), true);
  assert.equal(dropped.getFinishedSpans().length, 0);
  assert.equal(tracer.stats().spans_exported, 1, 'exported to the provider, which dropped it');
});

test('an explicit output wins over the provider', async () => {
  exporter.reset();
  const { readSpans, tempFile } = require('./support');
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output });
  assert.equal(tracer.tracerProvider, null);
  tracer.chat({ request: { model: 'to-file' } }, () => {});
  await tracer.shutdown();
  assert.deepEqual(readSpans(output).map((span) => span.name), ['chat to-file']);
  assert.equal(exporter.getFinishedSpans().length, 0);
});

test('continueTrace inside an agentrace span continues the remote trace, not the active span', async () => {
  const { readSpans, tempFile } = require('./support');
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output });
  const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  tracer.invokeAgent({ agent: { name: 'local' } }, () => {
    agentrace.continueTrace(header, () => tracer.invokeAgent({ agent: { name: 'served' } }, () => {}));
  });
  await tracer.shutdown();
  const served = readSpans(output).find((span) => span.name === 'invoke_agent served');
  assert.equal(served.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(served.parentSpanId, '00f067aa0ba902b7');
});
