// index.d.ts describes index.js as TypeScript users call it: a usage file type-checks with the
// strict compiler (`tsc --noEmit --strict`), with the pinned TypeScript.
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const test = require('node:test');

test('a TypeScript program using the package type-checks against index.d.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'commonjs',
    '--target', 'es2022', path.join(__dirname, 'usage.ts')], { encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
});
