// Runs the conformance vectors through the mapper in Node:
//   node run-vectors.mjs <jco output folder> <vectors folder>
// Prints one line per vector and exits 1 if any mapped batch differs from `expected`.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadMapper } from './agentrace.mjs';
import { difference, fromComponent, parseJson, toComponent } from './records.mjs';

const [directory, vectors] = process.argv.slice(2);
if (!directory || !vectors) {
  console.error('usage: node run-vectors.mjs <jco output folder> <vectors folder>');
  process.exit(2);
}
let failures = 0;
const files = (await readdir(vectors)).filter((f) => f.endsWith('.json')).sort();
for (const file of files) {
  const vector = parseJson(await readFile(join(vectors, file), 'utf8'));
  const mapper = await loadMapper(directory, { config: vector.config });
  const batch = fromComponent(mapper.mapSpans(vector.records.map((r) => toComponent(r))));
  const found = difference(batch, vector.expected);
  if (found) {
    failures += 1;
    console.log(`FAIL ${file}: differs at ${found}`);
  } else {
    console.log(`ok   ${file}: ${vector.records.length} records, ${batch.spans.length} spans`);
  }
}
console.log(`${files.length - failures} of ${files.length} vectors as expected`);
process.exit(failures ? 1 : 0);
