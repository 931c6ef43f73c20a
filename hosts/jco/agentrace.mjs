// The agentrace host module for Node: loads the mapper component (transpiled by jco with
// `--instantiation async`) and gives it what every agentrace plugin may import — its
// configuration and a log — and nothing else: the environment it sees is empty, as under the
// Rust host without grants. Standard output and error come from the WASI shim.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as shim from '@bytecodealliance/preview2-shim';

/**
 * Instantiates the mapper transpiled into `directory` (the `jco transpile -o` folder holding
 * `mapper.js`). `config` is what the component reads through `host.config` (e.g.
 * `{"capture-content": "true", "compat": "ag2"}`); `log(level, message)` receives its log lines.
 * Returns `{ info(), mapSpans(records) }` in jco's representation of the WIT types; `mapSpans`
 * throws when the component returns an error.
 */
export async function loadMapper(directory, { config = {}, log = defaultLog } = {}) {
  const generated = await import(pathToFileURL(join(directory, 'mapper.js')).href);
  const host = {
    config: (key) => (Object.hasOwn(config, key) ? String(config[key]) : undefined),
    log: (level, message) => log(level, message),
  };
  const deniedEnvironment = {
    getEnvironment: () => [],
    getArguments: () => [],
    initialCwd: () => undefined,
  };
  const imports = {
    'agentrace:plugin/host': host,
    'agentrace:plugin/types': {},
    'wasi:cli/environment': deniedEnvironment,
    'wasi:cli/exit': shim.cli.exit,
    'wasi:cli/stderr': shim.cli.stderr,
    'wasi:cli/stdin': shim.cli.stdin,
    'wasi:cli/stdout': shim.cli.stdout,
    'wasi:cli/terminal-input': shim.cli.terminalInput,
    'wasi:cli/terminal-output': shim.cli.terminalOutput,
    'wasi:cli/terminal-stderr': shim.cli.terminalStderr,
    'wasi:cli/terminal-stdin': shim.cli.terminalStdin,
    'wasi:cli/terminal-stdout': shim.cli.terminalStdout,
    'wasi:io/error': shim.io.error,
    'wasi:io/poll': shim.io.poll,
    'wasi:io/streams': shim.io.streams,
  };
  const compile = async (name) => WebAssembly.compile(await readFile(join(directory, name)));
  const root = await generated.instantiate(compile, imports);
  return {
    info: () => root.mapper.info(),
    // With the optional `extended-mapper` export (WIT 0.2.2), `details` (provider details, one
    // per record or none) go in and the batch comes with its log records, flattened into one
    // object as the Rust host's JSON form has it (`logs` left out if empty).
    mapSpans: (records, details = []) => {
      if (!root.extendedMapper) return root.mapper.mapSpans(records);
      const { batch, logs } = root.extendedMapper.mapRecords(records, details);
      return logs.length ? { ...batch, logs } : batch;
    },
  };
}

function defaultLog(level, message) {
  console.error(`agentrace mapper [${level}]: ${message}`);
}
