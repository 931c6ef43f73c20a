// The Vercel AI SDK's own OpenTelemetry (`ai` with `@ai-sdk/otel`), exporting through the
// standard OTLP/HTTP exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`): one generateText call with a tool,
// on the SDK's mock model (`ai/test`), so nothing leaves the machine. The model asks for
// `getWeather`, the tool runs, the model answers.
import { generateText, registerTelemetry, stepCountIs, tool, jsonSchema } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { OpenTelemetry } from '@ai-sdk/otel';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'ai-sdk-producer' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
provider.register();
registerTelemetry(new OpenTelemetry());

const usage = (input, output) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});
const model = new MockLanguageModelV4({
  provider: 'openai.chat',
  modelId: 'gpt-4o-mini',
  doGenerate: [
    {
      content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'getWeather', input: '{"city":"Paris"}' }],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
      usage: usage(11, 1),
      warnings: [],
    },
    {
      content: [{ type: 'text', text: 'Sunny in Paris. Questions to jane.doe@example.com.' }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: usage(15, 6),
      warnings: [],
    },
  ],
});

await generateText({
  model,
  system: 'You are a weather assistant.',
  prompt: 'Weather in Paris? Reply to jane.doe@example.com',
  tools: {
    getWeather: tool({
      description: 'The weather in a city.',
      inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
      execute: async ({ city }) => ({ city, sky: 'sunny' }),
    }),
  },
  stopWhen: stepCountIs(3),
  telemetry: { functionId: 'weather-agent' },
});
await provider.shutdown();
