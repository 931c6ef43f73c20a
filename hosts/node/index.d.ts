// Type declarations of the `agentrace` Node package (index.js). Fields are the JSON form of
// docs/events.md; they are checked by the host, which counts what it refuses.

/** The operations a span may stand for, in the JSON form. */
export declare const OPERATIONS: readonly string[];

/** Fields of a span in the JSON form of docs/events.md (`agent`, `request`, `usage`, `tool`...). */
export type Fields = Record<string, unknown>;

/** A parent: a span, or a W3C `traceparent` of a span in another process. */
export type Parent = Span | string;

/** Options of a span. */
export interface SpanOptions {
  /** By default the current span (agentrace's or OpenTelemetry's active span, the innermost). */
  parent?: Parent;
}

/** A policy: a shipped policy's name or a `.wasm` file, with its settings. */
export type PolicySpec = string | [string, Record<string, string | number | boolean>];

/** Options of a tracer; without them the standard `OTEL_*` variables decide. */
export interface TracerOptions {
  serviceName?: string;
  captureContent?: boolean;
  /** `'ag2'` for AG2's attribute names beside the standard ones. */
  compat?: string;
  policies?: PolicySpec[];
  /** A shipped mapper by name (`genai`, the default; `openinference`) or a mapper component file. */
  mapper?: string;
  /** OTLP/JSON lines to this file (`'-'` for stdout) instead of the `OTEL_*` export. */
  output?: string;
  /** The application's SDK `TracerProvider`; by default the global one when it is an SDK one. */
  tracerProvider?: unknown;
  queueCapacity?: number;
  maxBatch?: number;
  flushIntervalMs?: number;
  /** Worker threads the pipeline is sharded over by trace id (default 1). */
  workers?: number;
}

/** One span. */
export declare class Span {
  /** The operation this span stands for. */
  readonly operation: string;
  /** 32 hex digits once started; `null` if the start was refused. */
  readonly traceId: string | null;
  /** 16 hex digits once started; `null` if the start was refused. */
  readonly spanId: string | null;
  /** The W3C `traceparent` that makes this span the parent of work in another process. */
  readonly traceparent: string | null;
  /** Keeps fields to report when the span ends (records merged key by key). */
  set(fields: Fields): this;
  /** Reports fields now. */
  update(fields: Fields): void;
  /** Records a point in time inside the span. */
  event(name: string, attributes?: Record<string, unknown>): void;
  /** Marks the span as failed: `error.type` is the error's class name unless given. */
  recordException(error: unknown, errorType?: string): void;
  /** Ends the span; later calls do nothing. */
  end(): void;
}

/** A function run inside a span. */
export type InSpan<T> = (span: Span) => T;

/** Reports agent spans to the agentrace host (wasm mapper, policies, OTLP export). */
export declare class Tracer {
  constructor(options?: TracerOptions);
  /** The application's provider the spans go out through, if any. */
  readonly tracerProvider: unknown | null;
  /** Whether content is recorded. */
  readonly captureContent: boolean;
  /** Runs `fn` inside a span of `operation` and returns what it returns. */
  span<T>(operation: string, fn: InSpan<T>): T;
  span<T>(operation: string, fields: Fields | undefined, fn: InSpan<T>): T;
  span<T>(operation: string, fields: Fields | undefined, options: SpanOptions | undefined, fn: InSpan<T>): T;
  /** A started span that is not current: end it with `span.end()`. */
  startSpan(operation: string, fields?: Fields, options?: SpanOptions): Span;
  /** Runs `fn(span)` with `span` current, without ending it. */
  withSpan<T>(span: Span, fn: InSpan<T>): T;
  /** Maps and exports every span ended so far; whether `timeoutMs` was enough. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Ends open spans (as incomplete), exports everything and stops. */
  shutdown(timeoutMs?: number): Promise<boolean>;
  /** A dry run of the live mapper on agent-span records (the conformance vectors' JSON form). */
  mapRecords(records: unknown[], timeoutMs?: number): unknown;
  /** Counts a problem an integration found itself. */
  reject(message: string): void;
  /** The host's counters and recent errors. */
  stats(): Record<string, number | string[]>;

  chat<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  textCompletion<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  generateContent<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  embeddings<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  retrieval<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  createAgent<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  invokeAgent<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  executeTool<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  invokeWorkflow<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  conversation<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  multiConversation<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  speakerSelection<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  humanInput<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  codeExecution<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  handoff<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
  guardrail<T>(...args: [InSpan<T>] | [Fields | undefined, InSpan<T>] | [Fields | undefined, SpanOptions | undefined, InSpan<T>]): T;
}

/** Reports the spans of OpenAI Agents JS (`addTraceProcessor(new OpenAIAgentsProcessor())`). */
export declare class OpenAIAgentsProcessor {
  /** `tracer`: by default the process-wide one (`getTracer()`). */
  constructor(tracer?: Tracer);
  start(): void;
  onTraceStart(trace: unknown): Promise<void>;
  onTraceEnd(trace: unknown): Promise<void>;
  onSpanStart(span: unknown): Promise<void>;
  onSpanEnd(span: unknown): Promise<void>;
  shutdown(timeout?: number): Promise<void>;
  forceFlush(): Promise<void>;
}

/** The agentrace span current in this asynchronous context, if any. */
export declare function currentSpan(): Span | null;
/** Runs `fn` continuing the trace another process names in a W3C `traceparent`. */
export declare function continueTrace<T>(traceparent: string | null | undefined, fn: () => T): T;
/** The process-wide tracer integrations use, built from the environment on first use. */
export declare function getTracer(): Tracer;
/** Makes `tracer` the one `getTracer` returns. */
export declare function setTracer(tracer: Tracer): void;
/** Uses `api` as `@opentelemetry/api` (or none, with `null`). */
export declare function useOpenTelemetryApi(api: unknown): void;
