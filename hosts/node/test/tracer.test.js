// The tracer of the Node package on its own: nesting through AsyncLocalStorage, fields, errors,
// bad input counted and never thrown, policies, stats, the conformance vectors through the
// addon, and export configured by the standard `OTEL_*` variables.
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const agentrace = require('..');
const { readSpans, tempFile, tree } = require('./support');

const REPO = path.resolve(__dirname, '../../..');

/** A tracer writing OTLP/JSON lines to a temporary file, and a way to read them. */
function traced(options = {}) {
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output, ...options });
  return {
    tracer,
    async spans() {
      assert.equal(await tracer.shutdown(), true);
      return readSpans(output);
    },
  };
}

test('spans nest across await, timers and concurrent tasks', async () => {
  const run = traced();
  const { tracer } = run;
  await tracer.invokeAgent({ agent: { name: 'planner' } }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    await Promise.all([
      tracer.chat({ request: { model: 'gpt-4o' }, provider: 'openai' }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 3));
      }),
      new Promise((resolve) => {
        setTimeout(() => {
          tracer.executeTool({ tool: { name: 'search' } }, () => resolve());
        }, 1);
      }),
    ]);
  });
  tracer.chat({ request: { model: 'root' } }, () => {});
  const spans = await run.spans();
  assert.deepEqual(tree(spans), [
    'invoke_agent planner',
    '  chat gpt-4o',
    '  execute_tool search',
    'chat root',
  ]);
  const agent = spans.find((span) => span.name === 'invoke_agent planner');
  const root = spans.find((span) => span.name === 'chat root');
  assert.notEqual(agent.traceId, root.traceId, 'a span outside any other starts a new trace');
});

test('the return value passes through; an error is recorded on the span and rethrown unchanged', async () => {
  const run = traced();
  const { tracer } = run;
  assert.equal(tracer.chat({ request: { model: 'm' } }, () => 42), 42);
  assert.equal(await tracer.chat({ request: { model: 'm' } }, async () => 'async'), 'async');
  class RateLimitError extends Error {}
  const thrown = new RateLimitError('slow down');
  assert.throws(() => tracer.executeTool({ tool: { name: 'fails' } }, () => { throw thrown; }), (e) => e === thrown);
  await assert.rejects(tracer.chat({ request: { model: 'late' } }, async () => { throw new TypeError('boom'); }), TypeError);
  const spans = await run.spans();
  const tool = spans.find((span) => span.name === 'execute_tool fails');
  assert.equal(tool.status.code, 2);
  assert.equal(tool.attributes['error.type'], 'RateLimitError');
  const late = spans.find((span) => span.name === 'chat late');
  assert.equal(late.attributes['error.type'], 'TypeError');
});

test('fields at start, set for the end, updates and events reach the span', async () => {
  const run = traced({ captureContent: true });
  const { tracer } = run;
  tracer.chat({ request: { model: 'gpt-4o', temperature: 0.2 }, provider: 'openai' }, (span) => {
    span.update({ conversation_id: 'conv-7' });
    span.event('gen_ai.first_chunk', { index: 0 });
    span.set({ usage: { input_tokens: 11 } });
    span.set({ usage: { output_tokens: 3 }, response: { finish_reasons: ['stop'] } });
    span.set({ output_messages: [{ role: 'assistant', parts: 'hello' }] });
  });
  const [span] = await run.spans();
  assert.equal(span.attributes['gen_ai.request.temperature'], 0.2);
  assert.equal(span.attributes['gen_ai.conversation.id'], 'conv-7');
  assert.equal(span.attributes['gen_ai.usage.input_tokens'], 11);
  assert.equal(span.attributes['gen_ai.usage.output_tokens'], 3);
  assert.deepEqual(span.attributes['gen_ai.response.finish_reasons'], ['stop']);
  assert.match(span.attributes['gen_ai.output.messages'], /hello/);
  assert.deepEqual(span.events.map((event) => event.name), ['gen_ai.first_chunk']);
});

test('bad input is counted and warned about, never thrown; the span stays in the tree', async () => {
  const warnings = [];
  const onWarning = (warning) => warnings.push(warning.message);
  process.on('warning', onWarning);
  try {
    const run = traced();
    const { tracer } = run;
    await tracer.invokeAgent({ agent: { name: 'a' } }, async () => {
      tracer.chat({ request: { model: 42 } }, (span) => {
        span.set({ usage: { input_tokens: 'many' } });
      });
      tracer.span('not_an_operation', () => {});
      const cyclic = {};
      cyclic.self = cyclic;
      tracer.executeTool({ tool: { name: 't' }, attributes: { cyclic } }, () => {});
      tracer.span('chat', { request: { model: 'ok' } }, { parent: 'garbage' }, () => {});
    });
    const stats = tracer.stats();
    const spans = await run.spans();
    assert.equal(stats.events_rejected, 5, stats.recent_errors.join('\n'));
    assert.ok(stats.recent_errors.some((error) => error.includes('request.model: invalid type')), stats.recent_errors);
    assert.ok(stats.recent_errors.some((error) => error.includes('usage.input_tokens')), stats.recent_errors);
    assert.ok(stats.recent_errors.some((error) => error.includes('not_an_operation')), stats.recent_errors);
    assert.ok(stats.recent_errors.some((error) => error.includes('circular')), stats.recent_errors);
    assert.ok(stats.recent_errors.some((error) => error.includes('traceparent')), stats.recent_errors);
    // The refused fields go; the spans stay, under their parent.
    assert.deepEqual(tree(spans), ['invoke_agent a', '  chat', '  execute_tool', '  chat ok']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(warnings.some((message) => message.includes('request.model')), warnings);
  } finally {
    process.off('warning', onWarning);
  }
});

test('a remote parent from a traceparent continues that trace', async () => {
  const run = traced();
  const { tracer } = run;
  const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  agentrace.continueTrace(header, () => {
    tracer.invokeAgent({ agent: { name: 'remote' } }, (span) => {
      assert.match(span.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    });
  });
  agentrace.continueTrace('not a header', () => tracer.chat({ request: { model: 'm' } }, () => {}));
  const spans = await run.spans();
  const remote = spans.find((span) => span.name === 'invoke_agent remote');
  assert.equal(remote.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(remote.parentSpanId, '00f067aa0ba902b7');
  assert.equal(spans.length, 2);
});

test('an error the function set itself is kept over the one it throws', async () => {
  const run = traced();
  assert.throws(() => run.tracer.chat({ request: { model: 'm' } }, (span) => {
    span.set({ error: { type: 'RateLimited', message: '429' } });
    throw new Error('retry later');
  }), /retry later/);
  const [span] = await run.spans();
  assert.equal(span.attributes['error.type'], 'RateLimited');
});

test('manual spans: startSpan, withSpan, end', async () => {
  const run = traced();
  const { tracer } = run;
  const outer = tracer.startSpan('conversation', { agent: { name: 'user' } });
  tracer.withSpan(outer, () => tracer.chat({ request: { model: 'inner' } }, () => {}));
  const sibling = tracer.startSpan('execute_tool', { tool: { name: 'x' } }, { parent: outer });
  sibling.end();
  sibling.end();
  outer.end();
  assert.equal(agentrace.currentSpan(), null);
  const spans = await run.spans();
  assert.deepEqual(tree(spans), ['conversation user', '  chat inner', '  execute_tool x']);
});

test('two workers export every trace whole', async () => {
  const run = traced({ workers: 2 });
  for (let n = 0; n < 40; n += 1) {
    await run.tracer.invokeAgent({ agent: { name: `agent-${n}` } }, async () => {
      await run.tracer.chat({ request: { model: 'm' } }, async () => {});
    });
  }
  const spans = await run.spans();
  assert.equal(spans.length, 80);
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const children = spans.filter((span) => span.parentSpanId);
  assert.equal(children.length, 40);
  for (const child of children) {
    assert.equal(byId.get(child.parentSpanId).traceId, child.traceId);
  }
  assert.equal(new Set(spans.map((span) => span.traceId)).size, 40);
});

test('the redact policy runs in the addon', async () => {
  const run = traced({ captureContent: true, policies: ['redact'] });
  run.tracer.humanInput({ agent: { name: 'user' } }, (span) => {
    span.set({ human_input: { response: 'mail me at jane.doe@example.com' } });
  });
  const [span] = await run.spans();
  const response = span.attributes['agentrace.human_input.response'];
  assert.ok(response.startsWith('mail me at ') && !response.includes('jane.doe@example.com'), response);
});

test('a mapper component given as a file maps like the embedded one; a missing one is refused at start', async (t) => {
  assert.throws(() => new agentrace.Tracer({ mapper: '/nonexistent/mapper.wasm' }), /nonexistent\/mapper\.wasm/);
  const file = process.env.AGENTRACE_TEST_MAPPER;
  if (!file) {
    t.skip('AGENTRACE_TEST_MAPPER (the built default mapper, set by node_package.rs) is not set');
    return;
  }
  const run = traced({ mapper: file });
  run.tracer.chat({ provider: 'openai', request: { model: 'from-file' } }, () => {});
  const [span] = await run.spans();
  assert.equal(span.name, 'chat from-file');
  assert.equal(span.attributes['gen_ai.provider.name'], 'openai');
});

test('configuration errors throw at construction, with the reason', () => {
  assert.throws(() => new agentrace.Tracer({ policies: ['no-such-policy'] }), /no-such-policy/);
  assert.throws(() => new agentrace.Tracer({ compat: 'nope' }), /nope/);
  assert.throws(() => new agentrace.Tracer({ policies: [42] }), /a policy is a name/);
});

for (const file of fs.readdirSync(path.join(REPO, 'tests/conformance/vectors')).sort()) {
  test(`conformance vector ${file} maps as the Rust host maps it`, async () => {
    const document = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/conformance/vectors', file), 'utf8'));
    const config = document.config;
    const tracer = new agentrace.Tracer({
      output: tempFile('unused.jsonl'),
      captureContent: config['capture-content'] === 'true',
      compat: config.compat,
    });
    try {
      assert.deepEqual(tracer.mapRecords(document.records), document.expected);
    } finally {
      await tracer.shutdown();
    }
  });
}

test('export is configured by the standard OTEL_* variables', () => {
  const script = `
    const { Tracer } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const tracer = new Tracer();
    tracer.chat({ request: { model: 'from-env' } }, () => {});
  `;
  const child = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'node-app',
      OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const line = child.stdout.split('\n').find((text) => text.includes('resourceSpans'));
  assert.ok(line, `no spans on stdout: ${child.stdout}\n${child.stderr}`);
  const document = JSON.parse(line);
  const resource = Object.fromEntries(document.resourceSpans[0].resource.attributes.map((a) => [a.key, a.value.stringValue]));
  assert.equal(resource['service.name'], 'node-app');
  assert.equal(document.resourceSpans[0].scopeSpans[0].spans[0].name, 'chat from-env');
});
