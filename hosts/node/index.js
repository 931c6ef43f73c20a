// agentrace for Node: agent spans reported to the agentrace Rust host, linked in-process as a
// native addon (`agentrace.node`, napi-rs). The host maps them through its wasm mapper to GenAI
// semconv v1.41 spans, runs the policy chain and exports OTLP, all on its own worker thread:
// each call here is one queue push. Nothing thrown into the agent because of what it reports: a
// refused call is counted by the host (`stats().events_rejected`) and emitted as a process
// warning (`AgentraceWarning`), and the agent carries on.
//
// Spans nest through AsyncLocalStorage, across callbacks, promises and timers. When the
// application has `@opentelemetry/api`, agentrace joins its context both ways: a span started
// inside an OpenTelemetry span is its child, and while an agentrace span runs it is
// OpenTelemetry's active span, so spans other instrumentations make (http, undici, openai...)
// are its children. With an SDK TracerProvider (given, or registered globally) the spans go out
// through that provider's processors and exporters (`lib/provider.js` says what applies).
'use strict';

const { AsyncLocalStorage } = require('node:async_hooks');
const path = require('node:path');
const otel = require('./lib/otel');
const providers = require('./lib/provider');

const native = loadAddon();
const { NativeTracer, parseTraceparent, spanEnd, spanEvent, spanStart, spanUpdate } = native;

/** The operations a span may stand for, in the JSON form (`chat`, `invoke_agent`, ...). */
const OPERATIONS = Object.freeze(NativeTracer.operations());
const KNOWN_OPERATIONS = new Set(OPERATIONS);

/** The prefix of the host's errors for input it refused and has counted already. */
const REFUSED = 'agentrace refused: ';

/** The agentrace span current in this asynchronous context; a remote parent set by
 * `continueTrace` is a `RemoteParent`. */
const current = new AsyncLocalStorage();

/** A span of another process, named by a `traceparent`: the parent of spans continuing its
 * trace. `handle` is its trace id and span id, 48 hex digits, as the addon names spans. */
class RemoteParent {
  constructor(handle) {
    this.handle = handle;
  }
}

/** The remote parent a `traceparent` names. A malformed one throws an error that the caller
 * counts (the addon has no tracer to count it with). */
function remoteParent(traceparent) {
  try {
    return new RemoteParent(parseTraceparent(traceparent));
  } catch (error) {
    throw new Error(error.message.startsWith(REFUSED) ? error.message.slice(REFUSED.length) : error.message);
  }
}

function loadAddon() {
  const file = path.join(__dirname, 'agentrace.node');
  try {
    return require(file);
  } catch (error) {
    error.message = `agentrace: the native addon ${file} could not be loaded (${error.message}); `
      + 'build it with `npm run build` in hosts/node (needs cargo)';
    throw error;
  }
}

function warn(what, error) {
  let message = error && error.message !== undefined ? error.message : String(error);
  if (message.startsWith(REFUSED)) message = message.slice(REFUSED.length);
  process.emitWarning(`agentrace refused a ${what}: ${message}`, 'AgentraceWarning');
}

/** Reports a refused call; counts it unless the host did (its message says so). */
function count(nativeTracer, what, error) {
  const message = error && error.message !== undefined ? error.message : String(error);
  if (!message.startsWith(REFUSED)) nativeTracer.reject(`${what}: ${message}`);
  warn(what, error);
}

/** JSON text of fields, or `undefined` for none. */
function fieldsJson(fields) {
  if (fields === undefined || fields === null) return undefined;
  for (const _ in fields) return JSON.stringify(fields);
  return undefined;
}

/** Merges fields as the host does: records key by key, everything else replaced. */
function merge(into, fields) {
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    const previous = into[key];
    if (isRecord(value) && isRecord(previous)) into[key] = { ...previous, ...value };
    else into[key] = value;
  }
}

function isRecord(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The active OpenTelemetry span's context, when there is a valid one. */
function otelSpanContext(api) {
  const context = api.trace.getSpanContext(api.context.active());
  return context && api.trace.isSpanContextValid(context) ? context : null;
}

/** One span. `tracer.span(...)` starts it, runs a function inside it and ends it; or start it
 * with `tracer.startSpan(...)` and end it yourself. Fields use the JSON form of docs/events.md
 * (`agent`, `request`, `usage`, `tool`, ...): given at creation they are reported at start,
 * `set` keeps them for the end, `update` reports them at once. */
class Span {
  /** @internal */
  constructor(tracer, operation, parent, fields) {
    this._native = tracer._native;
    this._slot = tracer._slot;
    this._operation = operation;
    this._start = fields;
    this._end = null;
    this._parent = parent;
    this._handle = null;
    this._otelContext = null;
    this._ended = false;
  }

  /** The operation this span stands for (`chat`, `invoke_agent`...). */
  get operation() {
    return this._operation;
  }

  /** The trace id (32 hex digits) once started; `null` if the start was refused. */
  get traceId() {
    return this._handle === null ? null : this._handle.slice(0, 32);
  }

  /** The span id (16 hex digits) once started; `null` if the start was refused. */
  get spanId() {
    return this._handle === null ? null : this._handle.slice(32);
  }

  /** The W3C `traceparent` that makes this span the parent of work in another process. */
  get traceparent() {
    return this._handle === null ? null : `00-${this.traceId}-${this.spanId}-01`;
  }

  /** Starts the span under its parent (by default the current span); `tracer.span` calls this. */
  start() {
    if (this._handle !== null) return this;
    const nativeTracer = this._native;
    let fields;
    try {
      fields = fieldsJson(this._start);
    } catch (error) {
      count(nativeTracer, 'start', error);
      fields = undefined;
    }
    try {
      this._handle = startUnder(this._slot, this._operation, this._parent, fields);
    } catch (error) {
      count(nativeTracer, 'start', error);
      if (KNOWN_OPERATIONS.has(this._operation)) {
        // Keep the span in the tree without what was refused: its fields, or a parent that is
        // not one (then the default parent applies).
        const parentIsOne = this._parent instanceof Span || this._parent instanceof RemoteParent;
        const parent = parentIsOne ? this._parent : null;
        // A bad parent keeps the fields; bad fields go.
        const attempts = parentIsOne || this._parent == null ? [undefined] : [fields, undefined];
        for (const attempt of attempts) {
          try {
            this._handle = startUnder(this._slot, this._operation, parent, attempt);
            break;
          } catch (retry) {
            count(nativeTracer, 'start', retry);
          }
        }
      }
    }
    return this;
  }

  /** Keeps fields to report when the span ends (records merged key by key). */
  set(fields) {
    if (this._end === null) this._end = { ...fields };
    else merge(this._end, fields);
    return this;
  }

  /** Reports fields now, for a span that stays open long. */
  update(fields) {
    if (this._handle === null) return;
    try {
      spanUpdate(this._slot, this._handle, fieldsJson(fields));
    } catch (error) {
      count(this._native, 'update', error);
    }
  }

  /** Records a point in time inside the span (a handoff request, the first stream chunk). */
  event(name, attributes) {
    if (this._handle === null) return;
    try {
      spanEvent(this._slot, this._handle, String(name), fieldsJson(attributes));
    } catch (error) {
      count(this._native, 'event', error);
    }
  }

  /** Marks the span as failed: `error.type` is the error's class name unless given. */
  recordException(error, errorType) {
    const type = errorType || (error && error.constructor && error.constructor.name) || 'Error';
    const message = error && error.message !== undefined ? error.message : String(error);
    this.set({ error: { type, message } });
  }

  /** Ends the span with the fields kept by `set`. Later calls do nothing. */
  end() {
    if (this._ended) return;
    this._ended = true;
    if (this._handle === null) return;
    let fields;
    try {
      fields = this._end === null ? undefined : JSON.stringify(this._end);
    } catch (error) {
      count(this._native, 'end', error);
    }
    try {
      spanEnd(this._slot, this._handle, fields);
    } catch (error) {
      count(this._native, 'end', error);
    }
  }

  /** Runs `fn(span)` with this span current (for agentrace and OpenTelemetry). */
  _run(fn) {
    const api = this._handle !== null ? otel.api() : null;
    if (api === null) return current.run(this, fn, this);
    if (this._otelContext === null) {
      this._spanId = this.spanId;
      const wrapped = api.trace.wrapSpanContext({
        traceId: this.traceId, spanId: this._spanId, traceFlags: 1, isRemote: false,
      });
      this._otelContext = api.trace.setSpan(api.context.active(), wrapped);
    }
    return current.run(this, () => api.context.with(this._otelContext, fn, undefined, this));
  }
}

/** Starts a span under any kind of parent: a `Span`, a `RemoteParent`, a `traceparent`, or
 * none (then the innermost of the current agentrace span and the active OpenTelemetry span).
 * Returns the new span's handle. */
function startUnder(slot, operation, parent, fields) {
  if (parent instanceof Span) {
    if (parent._handle !== null) return spanStart(slot, operation, parent._handle, false, fields);
    parent = null;
  } else if (parent instanceof RemoteParent) {
    return spanStart(slot, operation, parent.handle, true, fields);
  } else if (typeof parent === 'string') {
    return spanStart(slot, operation, remoteParent(parent).handle, true, fields);
  } else if (parent !== undefined && parent !== null) {
    throw new TypeError(`parent must be a Span or a traceparent, not ${typeof parent}`);
  }
  const inner = current.getStore();
  // A trace continued by `continueTrace` is what its caller asked for, as in the Python host.
  if (inner instanceof RemoteParent) return spanStart(slot, operation, inner.handle, true, fields);
  const api = otel.api();
  if (api !== null) {
    const outer = otelSpanContext(api);
    // An OpenTelemetry span started inside the current agentrace span is the closer parent.
    if (outer !== null && !(inner instanceof Span && inner._spanId === outer.spanId)) {
      return spanStart(slot, operation, outer.traceId + outer.spanId, true, fields);
    }
  }
  if (inner instanceof Span) return spanStart(slot, operation, inner._handle, false, fields);
  return spanStart(slot, operation, null, false, fields);
}

/** Ends a span that `error` left, recording the error unless `fn` set one itself. */
function failed(span, error) {
  if (!(span._end && span._end.error)) span.recordException(error);
  span.end();
}

/** Runs `fn(span)` inside a started span and ends it when `fn` returns or its promise settles; an
 * error is recorded on the span (its class as `error.type`) and rethrown unchanged. */
function runInside(span, fn) {
  span.start();
  let result;
  try {
    result = span._run(fn);
  } catch (error) {
    failed(span, error);
    throw error;
  }
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error) => {
        failed(span, error);
        throw error;
      },
    );
  }
  span.end();
  return result;
}

/** Policies as the host takes them: a name or `.wasm` path, or `[nameOrPath, {key: value}]`. */
function policyOptions(policies) {
  return (policies || []).map((policy) => {
    if (typeof policy === 'string') return { source: policy };
    if (Array.isArray(policy) && typeof policy[0] === 'string') {
      const config = Object.entries(policy[1] || {}).map(([key, value]) => [key, String(value)]);
      return { source: policy[0], config };
    }
    throw new TypeError('a policy is a name or .wasm path, or a [nameOrPath, {key: value}] pair');
  });
}

const live = new Set();

/** Reports agent spans to the agentrace host, which maps them to GenAI semconv v1.41 spans in
 * its wasm mapper, runs the policy chain, and exports OTLP.
 *
 * Without options the standard variables decide: `OTEL_EXPORTER_OTLP_ENDPOINT` (and the
 * `..._PROTOCOL`, `..._HEADERS`, `..._TIMEOUT`, TLS variables), `OTEL_TRACES_EXPORTER`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and
 * `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
 *
 * Options: `serviceName`; `captureContent`; `compat` (`'ag2'`); `policies` (names, `.wasm`
 * paths, or `[nameOrPath, {key: value}]` pairs); `mapper` (a shipped mapper's name, `genai` or
 * `openinference`, or a component file); `output` (OTLP/JSON
 * lines to this file, `'-'` for stdout); `tracerProvider` (the application's SDK provider; by
 * default the global one when it is an SDK provider); `queueCapacity`, `maxBatch`,
 * `flushIntervalMs`; `workers` (threads the pipeline is sharded over by trace id, default 1). Configuration errors throw here; nothing throws later. */
class Tracer {
  constructor(options = {}) {
    const api = otel.api();
    const pipeline = options.output !== undefined ? null
      : providers.sdkProvider(api, options.tracerProvider);
    /** The application's provider the spans go out through, if any. */
    this.tracerProvider = pipeline ? pipeline.provider : null;
    this._native = new NativeTracer(
      {
        serviceName: options.serviceName,
        captureContent: options.captureContent,
        compat: options.compat,
        policies: policyOptions(options.policies),
        mapper: options.mapper,
        output: options.output,
        queueCapacity: options.queueCapacity,
        maxBatch: options.maxBatch,
        flushIntervalMs: options.flushIntervalMs,
        workers: options.workers,
      },
      pipeline ? providers.forwarder(api, pipeline) : undefined,
    );
    this._slot = this._native.slot;
    this._shutDown = false;
    /** Whether content is recorded; integrations skip building messages when it is not. */
    this.captureContent = this._native.captureContent;
    live.add(this);
  }

  /** `span(operation, [fields], [{parent}], fn)`: runs `fn(span)` inside a span of `operation`
   * (one of `OPERATIONS`) and returns what `fn` returns (a promise for an async function).
   * `parent`: a `Span` or a `traceparent`; by default the current span. */
  span(operation, ...rest) {
    const fn = rest.pop();
    if (typeof fn !== 'function') throw new TypeError('span(operation, [fields], [options], fn): fn is missing');
    const [fields, options] = rest;
    return runInside(new Span(this, operation, options && options.parent, fields), fn);
  }

  /** A started span that is not current: end it with `span.end()`; `withSpan` makes it current. */
  startSpan(operation, fields, options) {
    return new Span(this, operation, options && options.parent, fields).start();
  }

  /** Runs `fn(span)` with `span` current, without ending it. */
  withSpan(span, fn) {
    return span._run(fn);
  }

  /** Maps and exports every span ended so far; resolves to whether `timeoutMs` was enough. With
   * the application's provider, its processors are flushed too. */
  async flush(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    const finished = await this._native.flush(timeoutMs);
    return (await this._forwarded(deadline)) && finished;
  }

  /** Ends open spans (as incomplete), exports everything and stops; runs at exit too. Resolves
   * to `false` when `timeoutMs` ran out first (what was left is counted as dropped). */
  async shutdown(timeoutMs = 5000) {
    if (this._shutDown) return true;
    this._shutDown = true;
    live.delete(this);
    const deadline = Date.now() + timeoutMs;
    const finished = await this._native.shutdown(timeoutMs);
    return (await this._forwarded(deadline)) && finished;
  }

  /** Waits until the forwarded batches reached the application's processors, and flushes them. */
  async _forwarded(deadline) {
    while (this._native.forwardsPending > 0) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.tracerProvider && typeof this.tracerProvider.forceFlush === 'function') {
      await this.tracerProvider.forceFlush();
    }
    return true;
  }

  /** A dry run of the live mapper on agent-span records (the conformance vectors' JSON form):
   * the mapped batch, with nothing exported. */
  mapRecords(records, timeoutMs = 5000) {
    return JSON.parse(this._native.mapRecords(JSON.stringify(records), timeoutMs));
  }

  /** Counts a problem an integration found itself (a framework object it could not read). */
  reject(message) {
    this._native.reject(String(message));
  }

  /** The host's counters (spans started, exported, dropped by reason...) and recent errors. */
  stats() {
    return this._native.stats();
  }
}

function camel(operation) {
  return operation.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());
}

// One method per operation: tracer.chat(...), tracer.invokeAgent(...), tracer.executeTool(...).
for (const operation of OPERATIONS) {
  Object.defineProperty(Tracer.prototype, camel(operation), {
    value(...rest) {
      return this.span(operation, ...rest);
    },
    writable: true,
    configurable: true,
  });
}

/** The agentrace span current in this asynchronous context, if any. */
function currentSpan() {
  const span = current.getStore();
  return span instanceof Span ? span : null;
}

/** Runs `fn` so that spans without a parent of their own continue the trace of another process
 * named by a W3C `traceparent` (an incoming request's header, say). A missing or malformed
 * header leaves the default parents in place; a malformed one is warned about. */
function continueTrace(traceparent, fn) {
  if (!traceparent) return fn();
  let parent;
  try {
    parent = remoteParent(String(traceparent));
  } catch (error) {
    warn('traceparent', error);
    return fn();
  }
  return current.run(parent, fn);
}

let defaultTracer = null;

/** The process-wide tracer integrations use, built from the environment on first use. */
function getTracer() {
  if (defaultTracer === null) defaultTracer = new Tracer();
  return defaultTracer;
}

/** Makes `tracer` the one `getTracer` returns. */
function setTracer(tracer) {
  defaultTracer = tracer;
}

// At exit: when the event loop runs dry, shut the live tracers down (exporting what is left,
// forwarded spans included); on `process.exit()` only the host's own export can still run.
process.once('beforeExit', () => {
  for (const tracer of live) tracer.shutdown().catch((error) => warn('shutdown', error));
});
process.once('exit', () => {
  for (const tracer of live) {
    try {
      tracer._native.shutdownNow(2000);
    } catch (error) {
      warn('shutdown', error);
    }
  }
});

module.exports = {
  OPERATIONS, Span, Tracer, continueTrace, currentSpan, getTracer, setTracer,
  OpenAIAgentsProcessor: require('./lib/openai-agents').OpenAIAgentsProcessor,
  useOpenTelemetryApi: otel.useApi,
};
