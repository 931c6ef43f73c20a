// OpenAI Agents JS (`@openai/agents`, the real package at the pinned version) run offline: its
// Chat Completions model talks to a scripted OpenAI client (a `fetch` that answers from a
// script), so the SDK makes its real spans, and agentrace's processor turns them into GenAI
// spans: a workflow, agents, model calls, a tool call and a handoff, in one tree.
'use strict';

const assert = require('node:assert/strict');
const test = require('node:test');

const {
  Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, run, setTraceProcessors, setTracingDisabled, tool,
} = require('@openai/agents');
const OpenAI = require('openai').default;
const { z } = require('zod');

const agentrace = require('..');
const { readSpans, tempFile, tree } = require('./support');

/** An OpenAI client whose every request is answered by the next completion of `script`. */
function scriptedClient(script) {
  const requests = [];
  let turn = 0;
  async function fetch(url, init) {
    requests.push(JSON.parse(init.body));
    const step = script[turn];
    turn += 1;
    if (!step) return new Response('{"error": {"message": "script exhausted"}}', { status: 500 });
    const body = {
      id: `chatcmpl-${turn}`, object: 'chat.completion', created: 1, model: 'gpt-4o-mini-2024-07-18',
      choices: [{
        index: 0,
        finish_reason: step.tool_calls ? 'tool_calls' : 'stop',
        message: { role: 'assistant', content: step.content ?? null, tool_calls: step.tool_calls },
      }],
      usage: { prompt_tokens: 50 + turn, completion_tokens: 5, total_tokens: 55 + turn, prompt_tokens_details: { cached_tokens: 3 } },
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }
  return { client: new OpenAI({ apiKey: 'test', baseURL: 'http://127.0.0.1:9/v1', fetch, maxRetries: 0 }), requests };
}

const SCRIPT = [
  { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'transfer_to_writer', arguments: '{}' } }] },
  { content: 'It is sunny in Paris.' },
];

async function scriptedRun(tracerOptions) {
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output, ...tracerOptions });
  setTracingDisabled(false);
  setTraceProcessors([new agentrace.OpenAIAgentsProcessor(tracer)]);
  const { client } = scriptedClient(SCRIPT);
  const model = new OpenAIChatCompletionsModel(client, 'gpt-4o-mini');
  const getWeather = tool({
    name: 'get_weather',
    description: 'The weather of a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  });
  const writer = new Agent({ name: 'writer', instructions: 'Write the answer.', model });
  const planner = new Agent({ name: 'planner', instructions: 'Plan.', model, tools: [getWeather], handoffs: [writer] });
  const result = await run(planner, 'Weather in Paris?');
  assert.equal(result.finalOutput, 'It is sunny in Paris.');
  assert.equal(await tracer.shutdown(), true);
  return { spans: readSpans(output), stats: tracer.stats() };
}

test('agents, model calls, a tool and a handoff become one GenAI tree', async () => {
  const { spans, stats } = await scriptedRun({ captureContent: true });
  assert.equal(stats.events_rejected, 0, stats.recent_errors.join('\n'));
  const kinds = { 1: 'INTERNAL', 3: 'CLIENT' };
  assert.deepEqual(tree(spans, (span) => `${span.name} [${kinds[span.kind] || span.kind}]`), [
    'invoke_workflow Agent workflow [INTERNAL]',
    '  invoke_agent planner [INTERNAL]',
    '    chat gpt-4o-mini [CLIENT]',
    '    execute_tool get_weather [INTERNAL]',
    '    chat gpt-4o-mini [CLIENT]',
    '    handoff writer [INTERNAL]',
    '  invoke_agent writer [INTERNAL]',
    '    chat gpt-4o-mini [CLIENT]',
  ]);
  assert.equal(new Set(spans.map((span) => span.traceId)).size, 1);

  const [firstChat] = spans.filter((span) => span.name === 'chat gpt-4o-mini');
  const a = firstChat.attributes;
  assert.equal(a['gen_ai.operation.name'], 'chat');
  assert.equal(a['gen_ai.provider.name'], 'openai');
  assert.equal(a['gen_ai.request.model'], 'gpt-4o-mini');
  assert.equal(a['gen_ai.response.model'], 'gpt-4o-mini-2024-07-18');
  assert.equal(a['gen_ai.response.id'], 'chatcmpl-1');
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['tool_calls']);
  assert.equal(a['gen_ai.usage.input_tokens'], 51);
  assert.equal(a['gen_ai.usage.output_tokens'], 5);
  assert.equal(a['gen_ai.usage.cache_read.input_tokens'], 3);
  assert.deepEqual(JSON.parse(a['gen_ai.system_instructions']), [{ type: 'text', content: 'Plan.' }]);
  assert.deepEqual(JSON.parse(a['gen_ai.input.messages']), [
    { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
  ]);
  assert.deepEqual(JSON.parse(a['gen_ai.output.messages']), [{
    role: 'assistant',
    parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }],
    finish_reason: 'tool_calls',
  }]);

  const toolSpan = spans.find((span) => span.name === 'execute_tool get_weather');
  assert.equal(toolSpan.attributes['gen_ai.tool.name'], 'get_weather');
  assert.deepEqual(JSON.parse(toolSpan.attributes['gen_ai.tool.call.arguments']), { city: 'Paris' });
  assert.equal(JSON.parse(toolSpan.attributes['gen_ai.tool.call.result']), 'sunny in Paris');

  const agent = spans.find((span) => span.name === 'invoke_agent planner');
  assert.equal(agent.attributes['gen_ai.agent.name'], 'planner');
  const workflow = spans.find((span) => span.name.startsWith('invoke_workflow'));
  assert.equal(workflow.attributes['gen_ai.usage.input_tokens'], 51 + 52 + 53);
});

test('with content capture off, no message, argument or result is recorded', async () => {
  const { spans } = await scriptedRun({ captureContent: false });
  const text = JSON.stringify(spans.map((span) => span.attributes));
  for (const secret of ['Weather in Paris?', 'sunny in Paris', 'Plan.', 'Paris']) {
    assert.ok(!text.includes(secret), `${secret} was recorded: ${text}`);
  }
  assert.equal(spans.length, 8);
});

test('a failing tool marks its span failed and the run goes on', async () => {
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output });
  setTraceProcessors([new agentrace.OpenAIAgentsProcessor(tracer)]);
  const { client } = scriptedClient([
    { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'broken', arguments: '{}' } }] },
    { content: 'done' },
  ]);
  const model = new OpenAIChatCompletionsModel(client, 'gpt-4o-mini');
  const broken = tool({
    name: 'broken', description: 'fails', parameters: z.object({}),
    execute: async () => { throw new RangeError('out of range'); },
  });
  const agent = new Agent({ name: 'solo', instructions: 'Try.', model, tools: [broken] });
  const result = await run(agent, 'go');
  assert.equal(result.finalOutput, 'done');
  await tracer.shutdown();
  const toolSpan = readSpans(output).find((span) => span.name === 'execute_tool broken');
  assert.equal(toolSpan.status.code, 2);
  assert.ok(toolSpan.attributes['error.type'], JSON.stringify(toolSpan.attributes));
});

test('the Responses model: its response spans become chat spans with usage and messages', async () => {
  const output = tempFile('trace.jsonl');
  const tracer = new agentrace.Tracer({ output, captureContent: true });
  setTracingDisabled(false);
  setTraceProcessors([new agentrace.OpenAIAgentsProcessor(tracer)]);
  let turn = 0;
  // Answers in the Responses API's shape: a function call, then a message.
  async function fetch() {
    turn += 1;
    const items = turn === 1
      ? [{ type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' }]
      : [{ type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'It is sunny.', annotations: [] }] }];
    const body = {
      id: `resp_${turn}`, object: 'response', created_at: 1, status: 'completed', model: 'gpt-4o-mini-2024-07-18', output: items,
      usage: { input_tokens: 40 + turn, output_tokens: 6, total_tokens: 46 + turn, input_tokens_details: { cached_tokens: 2 }, output_tokens_details: { reasoning_tokens: 1 } },
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }
  const client = new OpenAI({ apiKey: 'test', baseURL: 'http://127.0.0.1:9/v1', fetch, maxRetries: 0 });
  const getWeather = tool({
    name: 'get_weather', description: 'The weather of a city', parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  });
  const agent = new Agent({ name: 'planner', instructions: 'Plan.', model: new OpenAIResponsesModel(client, 'gpt-4o-mini'), tools: [getWeather] });
  assert.equal((await run(agent, 'Weather?')).finalOutput, 'It is sunny.');
  await tracer.shutdown();
  const spans = readSpans(output);
  assert.deepEqual(tree(spans), [
    'invoke_workflow Agent workflow',
    '  invoke_agent planner',
    '    chat gpt-4o-mini-2024-07-18',
    '    execute_tool get_weather',
    '    chat gpt-4o-mini-2024-07-18',
  ]);
  const [first, second] = spans.filter((span) => span.name.startsWith('chat'))
    .sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
  assert.equal(first.attributes['gen_ai.response.id'], 'resp_1');
  assert.deepEqual(first.attributes['gen_ai.response.finish_reasons'], ['tool_call']);
  assert.equal(first.attributes['gen_ai.usage.input_tokens'], 41);
  assert.equal(first.attributes['gen_ai.usage.cache_read.input_tokens'], 2);
  assert.equal(first.attributes['gen_ai.usage.reasoning.output_tokens'], 1);
  assert.deepEqual(JSON.parse(first.attributes['gen_ai.output.messages']), [
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }], finish_reason: 'tool_call' },
  ]);
  assert.deepEqual(JSON.parse(second.attributes['gen_ai.input.messages']), [
    { role: 'user', parts: [{ type: 'text', content: 'Weather?' }] },
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
    { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'sunny in Paris' }] },
  ]);
  assert.deepEqual(JSON.parse(second.attributes['gen_ai.output.messages']), [
    { role: 'assistant', parts: [{ type: 'text', content: 'It is sunny.' }], finish_reason: 'stop' },
  ]);
});
