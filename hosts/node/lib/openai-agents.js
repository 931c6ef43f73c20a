// OpenAI Agents JS (`@openai/agents`) through its trace-processor interface: the SDK's own spans,
// as the package really emits them (captured from 0.20.0, see test/openai-agents.test.js),
// become the GenAI spans the Python integrations make for the same shapes:
//
//   task (the run)            -> invoke_workflow   (workflow_name, run totals, group id)
//   agent                     -> invoke_agent      (name, tools, output type)
//   generation (Chat Completions model) / response (Responses model)
//                             -> chat              (model, parameters, usage, messages)
//   function                  -> execute_tool      (name, arguments, result, error)
//   handoff                   -> handoff           (source, target)
//   guardrail                 -> guardrail         (name, triggered)
//
// The SDK's `turn` spans and the kinds without a GenAI counterpart (speech, transcription,
// MCP listings, custom spans) are not reported; their children attach to the nearest reported
// ancestor, so the tree keeps its shape. Content (messages, tool arguments and results) is only
// built when the tracer records content.
'use strict';

/** Reports the spans of OpenAI Agents JS to an agentrace tracer. Register it with the SDK's
 * `addTraceProcessor(new OpenAIAgentsProcessor())` (beside its own exporter) or
 * `setTraceProcessors([...])` (instead of it). */
class OpenAIAgentsProcessor {
  /** `tracer`: an agentrace `Tracer`; by default the process-wide one (`getTracer()`). */
  constructor(tracer) {
    this._tracer = tracer || null;
    /** Open SDK spans by id: the agentrace span reported for it, or the reported ancestor its
     * children attach to. */
    this._spans = new Map();
    /** Group ids (conversation ids) of open traces, by trace id. */
    this._groups = new Map();
  }

  get tracer() {
    if (this._tracer === null) this._tracer = require('../index.js').getTracer();
    return this._tracer;
  }

  /** Part of the SDK's processor interface; nothing to start. */
  start() {}

  async onTraceStart(trace) {
    this._guard('trace start', () => {
      if (trace.groupId) this._groups.set(trace.traceId, trace.groupId);
    });
  }

  async onTraceEnd(trace) {
    this._groups.delete(trace.traceId);
  }

  async onSpanStart(span) {
    this._guard('span start', () => {
      const parent = span.parentId ? this._spans.get(span.parentId) : undefined;
      const parentSpan = parent ? parent.reported : undefined;
      const shape = startShape(span.spanData, this._groups.get(span.traceId));
      if (shape === null) {
        // Not reported: its children attach to what it would have attached to.
        this._spans.set(span.spanId, { reported: parentSpan, own: null });
        return;
      }
      const options = parentSpan ? { parent: parentSpan } : undefined;
      const reported = this.tracer.startSpan(shape.operation, shape.fields, options);
      this._spans.set(span.spanId, { reported, own: reported });
    });
  }

  async onSpanEnd(span) {
    this._guard('span end', () => {
      const entry = this._spans.get(span.spanId);
      this._spans.delete(span.spanId);
      if (!entry || entry.own === null) return;
      const reported = entry.own;
      reported.set(endFields(span.spanData, this.tracer.captureContent));
      if (span.error) {
        const data = span.error.data || {};
        const type = data.name || data.type || data.errorType || 'AgentsError';
        reported.set({ error: { type: String(type), message: String(span.error.message) } });
      }
      reported.end();
    });
  }

  /** Part of the SDK's processor interface: the agentrace tracer shuts down on its own. */
  async shutdown() {}

  /** Exports what agentrace holds. */
  async forceFlush() {
    await this.tracer.flush();
  }

  /** Runs `fn`; a framework object it cannot read is counted, never thrown into the run. */
  _guard(what, fn) {
    try {
      fn();
    } catch (error) {
      try {
        this.tracer.reject(`openai-agents ${what}: ${error && error.message}`);
      } catch {
        // the tracer itself is unusable; nothing more to report to
      }
    }
  }
}

/** The operation and start fields for an SDK span, or `null` for a span not reported. */
function startShape(data, groupId) {
  const conversation = groupId ? { conversation_id: String(groupId) } : {};
  switch (data.type) {
    case 'task':
      return { operation: 'invoke_workflow', fields: { workflow_name: data.name, ...conversation } };
    case 'agent':
      return {
        operation: 'invoke_agent',
        fields: {
          agent: { name: data.name },
          ...conversation,
          ...(data.output_type ? { request: { output_type: data.output_type } } : {}),
        },
      };
    case 'generation':
    case 'response':
      return { operation: 'chat', fields: { provider: 'openai' } };
    case 'function':
      return { operation: 'execute_tool', fields: { tool: { name: data.name, type: 'function' } } };
    case 'handoff':
      return { operation: 'handoff', fields: {} };
    case 'guardrail':
      return { operation: 'guardrail', fields: { guardrail: { name: data.name } } };
    default:
      return null;
  }
}

/** The fields known when an SDK span ends. */
function endFields(data, capture) {
  switch (data.type) {
    case 'task':
      return data.usage ? { usage: usage(data.usage) } : {};
    case 'agent':
      return data.tools && data.tools.length
        ? { tool_definitions: data.tools.map((name) => ({ type: 'function', name })) }
        : {};
    case 'generation':
      return generationFields(data, capture);
    case 'response':
      return responseFields(data, capture);
    case 'function': {
      const tool = { name: data.name, type: 'function' };
      if (capture) {
        tool.arguments = jsonOrText(data.input);
        tool.result = jsonOrText(data.output);
      }
      return { tool };
    }
    case 'handoff':
      return { handoff: { source: data.from_agent, target: data.to_agent } };
    case 'guardrail':
      return { guardrail: { name: data.name, triggered: Boolean(data.triggered) } };
    default:
      return {};
  }
}

/** Token counts of any of the SDK's usage shapes (task totals, Chat Completions, Responses). */
function usage(raw) {
  if (!raw) return undefined;
  const input = raw.input_tokens ?? raw.prompt_tokens;
  const output = raw.output_tokens ?? raw.completion_tokens;
  const cached = raw.cached_input_tokens
    ?? (raw.prompt_tokens_details && raw.prompt_tokens_details.cached_tokens)
    ?? (raw.input_tokens_details && raw.input_tokens_details.cached_tokens);
  const reasoning = (raw.completion_tokens_details && raw.completion_tokens_details.reasoning_tokens)
    ?? (raw.output_tokens_details && raw.output_tokens_details.reasoning_tokens);
  const result = {};
  if (Number.isInteger(input)) result.input_tokens = input;
  if (Number.isInteger(output)) result.output_tokens = output;
  if (Number.isInteger(cached) && cached > 0) result.cache_read_input_tokens = cached;
  if (Number.isInteger(raw.cache_write_input_tokens) && raw.cache_write_input_tokens > 0) {
    result.cache_creation_input_tokens = raw.cache_write_input_tokens;
  }
  if (Number.isInteger(reasoning) && reasoning > 0) result.reasoning_output_tokens = reasoning;
  return result;
}

/** Model settings of the SDK (`model_config`) as request fields. */
function request(model, config) {
  const result = {};
  if (model) result.model = String(model);
  const c = config || {};
  const number = (value) => (typeof value === 'number' ? value : undefined);
  const fields = {
    temperature: number(c.temperature),
    top_p: number(c.top_p ?? c.topP),
    max_tokens: number(c.max_tokens ?? c.maxTokens),
    frequency_penalty: number(c.frequency_penalty ?? c.frequencyPenalty),
    presence_penalty: number(c.presence_penalty ?? c.presencePenalty),
  };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) result[key] = value;
  return result;
}

/** A Chat Completions model call (`generation`): `output` holds the completion objects. */
function generationFields(data, capture) {
  const completion = (data.output || []).find((item) => item && item.choices) || null;
  const fields = { request: request(data.model, data.model_config) };
  if (completion) {
    fields.response = {
      model: completion.model,
      id: completion.id,
      finish_reasons: completion.choices.map((choice) => choice.finish_reason).filter(Boolean),
    };
    const counts = usage(completion.usage);
    if (counts) fields.usage = counts;
  } else if (data.usage) {
    fields.usage = usage(data.usage);
  }
  if (capture) {
    const { system, messages } = chatMessages(data.input || []);
    if (system.length) fields.system_instructions = system;
    fields.input_messages = messages;
    if (completion) {
      fields.output_messages = completion.choices.map((choice) => ({
        ...chatMessage(choice.message || {}),
        finish_reason: choice.finish_reason || undefined,
      }));
    }
  }
  return fields;
}

/** A Responses model call (`response`): `_response` is the Responses API's response object and
 * `_input` the SDK's own input items. The span does not carry the requested model, so the
 * response's model names the request too. */
function responseFields(data, capture) {
  const response = data._response || {};
  const output = response.output || [];
  const fields = { request: request(response.model, null) };
  fields.response = { model: response.model, id: data.response_id || response.id };
  const calls = output.some((item) => item.type === 'function_call');
  if (response.status) {
    fields.response.finish_reasons = [response.status !== 'completed' ? response.status : calls ? 'tool_call' : 'stop'];
  }
  const counts = usage(response.usage);
  if (counts) fields.usage = counts;
  if (capture) {
    fields.input_messages = typeof data._input === 'string'
      ? [{ role: 'user', parts: [{ type: 'text', content: data._input }] }]
      : responseItems(data._input || []);
    const reason = calls ? 'tool_call' : 'stop';
    fields.output_messages = responseItems(output).map((message) => ({ ...message, finish_reason: reason }));
  }
  return fields;
}

/** Chat Completions messages as GenAI messages; system messages become system instructions. */
function chatMessages(list) {
  const system = [];
  const messages = [];
  for (const message of list) {
    if (message.role === 'system' || message.role === 'developer') {
      system.push(...textParts(message.content));
    } else {
      messages.push(chatMessage(message));
    }
  }
  return { system, messages };
}

function chatMessage(message) {
  const parts = textParts(message.content);
  for (const call of message.tool_calls || []) {
    const fn = call.function || {};
    parts.push({ type: 'tool_call', id: call.id, name: fn.name, arguments: jsonOrText(fn.arguments) });
  }
  if (message.role === 'tool') {
    return {
      role: 'tool',
      parts: [{ type: 'tool_call_response', id: message.tool_call_id, response: jsonOrText(message.content) }],
    };
  }
  return { role: message.role || 'assistant', parts };
}

/** Response items as GenAI messages: the Responses API's (`function_call` with `call_id`) and
 * the SDK's own input items (`callId`, `function_call_result` with a typed output). */
function responseItems(items) {
  const messages = [];
  for (const item of items) {
    const id = item.call_id ?? item.callId;
    if (item.type === 'function_call') {
      messages.push({ role: 'assistant', parts: [{ type: 'tool_call', id, name: item.name, arguments: jsonOrText(item.arguments) }] });
    } else if (item.type === 'function_call_output' || item.type === 'function_call_result') {
      const result = item.output && typeof item.output === 'object' && 'text' in item.output ? item.output.text : item.output;
      messages.push({ role: 'tool', parts: [{ type: 'tool_call_response', id, response: jsonOrText(result) }] });
    } else if (item.role) {
      messages.push({ role: item.role, parts: textParts(item.content) });
    }
  }
  return messages;
}

/** Text content (a string, or a list of content parts) as GenAI text parts. */
function textParts(content) {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return [{ type: 'text', content }];
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === 'string' ? part : part && (part.text ?? part.content)))
      .filter((text) => typeof text === 'string')
      .map((text) => ({ type: 'text', content: text }));
  }
  return [];
}

/** A JSON text as the value it encodes (tool arguments arrive as JSON text); anything else as
 * it is. */
function jsonOrText(value) {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

module.exports = { OpenAIAgentsProcessor };
