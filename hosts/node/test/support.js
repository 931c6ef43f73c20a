// Helpers of the Node tests: read the OTLP/JSON lines a tracer wrote, and look at them as trees.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The temporary folders this test process made, removed when it exits. */
const folders = [];
process.on('exit', () => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

/** A fresh file path in a temporary folder of its own, removed when the test process exits. */
function tempFile(name) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'agentrace-node-'));
  folders.push(folder);
  return path.join(folder, name);
}

/** An OTLP/JSON attribute value as a plain value. */
function plain(any) {
  if ('stringValue' in any) return any.stringValue;
  if ('intValue' in any) return Number(any.intValue);
  if ('doubleValue' in any) return any.doubleValue;
  if ('boolValue' in any) return any.boolValue;
  if ('arrayValue' in any) return (any.arrayValue.values || []).map(plain);
  return any;
}

/** The spans of an OTLP/JSON lines file: `{name, kind, traceId, spanId, parentSpanId,
 * attributes, status, events}`, with plain attribute values. */
function readSpans(file) {
  const spans = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const document = JSON.parse(line);
    for (const group of document.resourceSpans || []) {
      for (const scoped of group.scopeSpans || []) {
        for (const span of scoped.spans || []) {
          const attributes = {};
          for (const pair of span.attributes || []) attributes[pair.key] = plain(pair.value);
          spans.push({ ...span, attributes, resource: group.resource });
        }
      }
    }
  }
  return spans;
}

/** `spans` as indented lines `name [KIND]`, children in start order under their parents. */
function tree(spans, nameOf = (span) => span.name) {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const lines = [];
  const walk = (parent, depth) => {
    const list = (children.get(parent) || []).sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
    for (const span of list) {
      lines.push(`${'  '.repeat(depth)}${nameOf(span)}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines;
}

module.exports = { readSpans, tempFile, tree };
