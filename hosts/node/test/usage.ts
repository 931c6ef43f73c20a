// What a TypeScript user writes; test/types.test.js type-checks it (it is not run).
import { Tracer, OpenAIAgentsProcessor, continueTrace } from '..';
const tracer = new Tracer({ captureContent: true, policies: ['redact', ['truncate', { max_len: 100 }]] });
async function main(): Promise<number> {
  const n: number = await tracer.invokeAgent({ agent: { name: 'a' } }, async (span) => {
    span.set({ usage: { input_tokens: 1 } });
    return tracer.chat({ request: { model: 'm' } }, () => 42);
  });
  const s = tracer.startSpan('chat', {}, { parent: 'x' });
  s.end();
  continueTrace(s.traceparent, () => 1);
  new OpenAIAgentsProcessor(tracer);
  return n;
}
main();
