// The records of the conformance vectors (tests/conformance/README.md) in and out of jco's
// representation of the WIT types: snake_case fields ↔ camelCase, `{"Case": value}` variants ↔
// `{tag: 'case', val}`, enum names ↔ kebab-case strings, integers ↔ BigInt (every WIT integer in
// these types is 64-bit except a server's port), `null` ↔ `undefined`.

const kebab = (name) => name.replace(/[A-Z]/g, (c, i) => (i ? '-' : '') + c.toLowerCase());
const pascal = (name) => name.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase());
const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const snake = (name) => name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
// Rust names a WIT field called `type` `type_`.
const toJsKey = (key) => camel(key.endsWith('_') ? key.slice(0, -1) : key);
const toRustKey = (key) => (key === 'type' ? 'type_' : snake(key));

/** Fields whose string value is a WIT enum (by their Rust name). */
const ENUM_FIELDS = new Set(['operation', 'kind']);
/** The only integer field narrower than 64 bits. */
const NUMBER_FIELDS = new Set(['port']);

/** A record (or any value) of the vectors' JSON form, as jco takes it. */
export function toComponent(value, key = '') {
  if (value === null) return undefined;
  if (typeof value === 'bigint') return NUMBER_FIELDS.has(key) ? Number(value) : value;
  if (typeof value === 'string') return ENUM_FIELDS.has(key) ? kebab(value) : value;
  if (Array.isArray(value)) return value.map((item) => toComponent(item, key));
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0])) {
      const [tag, inner] = [keys[0], value[keys[0]]];
      if (tag === 'IntArray') return { tag: 'int-array', val: BigInt64Array.from(inner) };
      if (tag === 'FloatArray') return { tag: 'float-array', val: Float64Array.from(inner) };
      return { tag: kebab(tag), val: toComponent(inner) };
    }
    return Object.fromEntries(keys.map((k) => [toJsKey(k), toComponent(value[k], k)]));
  }
  return value;
}

/** A value jco returned, in the vectors' JSON form. */
export function fromComponent(value, key = '') {
  if (value === undefined) return null;
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return [...value];
  if (ArrayBuffer.isView(value)) return [...value];
  if (typeof value === 'string') return ENUM_FIELDS.has(key) ? pascal(value) : value;
  if (Array.isArray(value)) return value.map((item) => fromComponent(item, key));
  if (value && typeof value === 'object') {
    if (typeof value.tag === 'string' && Object.keys(value).every((k) => k === 'tag' || k === 'val')) {
      return value.val === undefined ? pascal(value.tag) : { [pascal(value.tag)]: fromComponent(value.val) };
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [toRustKey(k), fromComponent(v, toRustKey(k))]),
    );
  }
  return value;
}

/**
 * JSON.parse that keeps integers exact: integer literals become BigInt (trace ids and
 * timestamps exceed 2^53), numbers with a fraction or exponent stay numbers.
 */
export function parseJson(text) {
  let at = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${at}`);
  };
  const space = () => {
    while (' \t\n\r'.includes(text[at]) && at < text.length) at += 1;
  };
  const value = () => {
    space();
    const c = text[at];
    if (c === '{') {
      at += 1;
      const object = {};
      space();
      if (text[at] === '}') return (at += 1), object;
      for (;;) {
        space();
        const key = string();
        space();
        if (text[at] !== ':') fail('expected `:`');
        at += 1;
        object[key] = value();
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === '}') return (at += 1), object;
        else fail('expected `,` or `}`');
      }
    }
    if (c === '[') {
      at += 1;
      const array = [];
      space();
      if (text[at] === ']') return (at += 1), array;
      for (;;) {
        array.push(value());
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === ']') return (at += 1), array;
        else fail('expected `,` or `]`');
      }
    }
    if (c === '"') return string();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, at)) return (at += word.length), result;
    }
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 64));
    if (!number) fail('unexpected character');
    at += number[0].length;
    return number[1] || number[2] ? Number(number[0]) : BigInt(number[0]);
  };
  const string = () => {
    if (text[at] !== '"') fail('expected a string');
    let end = at + 1;
    while (text[end] !== '"') {
      if (end >= text.length) fail('unterminated string');
      end += text[end] === '\\' ? 2 : 1;
    }
    const result = JSON.parse(text.slice(at, end + 1));
    at = end + 1;
    return result;
  };
  const result = value();
  space();
  if (at !== text.length) fail('trailing characters');
  return result;
}

/**
 * Where `a` and `b` differ (a path such as `spans[3].attributes[0].value`), or null when they
 * are the same; a missing field equals null, and integers compare by value whatever their type.
 */
export function difference(a, b, path = '') {
  const absent = (v) => v === null || v === undefined;
  if (absent(a) && absent(b)) return null;
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    const integral = (v) => typeof v === 'bigint' || Number.isInteger(v);
    return integral(a) && integral(b) && BigInt(a) === BigInt(b) ? null : path || '.';
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path} (length ${a.length} vs ${b.length})`;
    for (let i = 0; i < a.length; i += 1) {
      const found = difference(a[i], b[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const found = difference(a[key], b[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
    return null;
  }
  return a === b ? null : path || '.';
}
