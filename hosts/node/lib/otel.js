// The application's `@opentelemetry/api`, when it has one. The API keeps its state (context
// manager, global provider) on the global object, but a copy of it has to be found first: from
// the application's entry point, then its working directory, then beside this package. This
// matters because `npm install ./hosts/node` links this folder, and Node resolves a linked
// package's imports from where the folder really is, not from the application.
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');

let loaded;

/** The `@opentelemetry/api` module, or `null` when the application has none. */
function api() {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const bases = [];
  if (require.main && require.main.filename) bases.push(require.main.filename);
  bases.push(path.join(process.cwd(), 'package.json'), __filename);
  for (const base of bases) {
    try {
      loaded = createRequire(base)('@opentelemetry/api');
      break;
    } catch {
      // not there; the next place
    }
  }
  return loaded;
}

/** Uses `module` as the API from now on (a test, or an application that bundles its own). */
function useApi(module) {
  loaded = module || null;
}

module.exports = { api, useApi };
