#!/usr/bin/env node
// Builds the native addon `agentrace.node` from this checkout's Rust host with @napi-rs/cli.
// `npm install` runs it (the package's `install` script), also when an application installs this
// folder (`npm install ./hosts/node`): npm does not install a linked folder's devDependencies
// then, so the pinned @napi-rs/cli is fetched into `.napi-cli/` here first when it is missing.
//
// AGENTRACE_NODE_PROFILE=debug builds without optimisation (the tests do, to share the build);
// the default is release. Needs cargo (rustup's pinned toolchain, rust-toolchain.toml).
'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const manifest = require(path.join(root, 'package.json'));
const cliVersion = manifest.devDependencies['@napi-rs/cli'];

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) {
    console.error(`agentrace: could not run ${command}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** Where the CLI is fetched when npm did not install it here: a folder of its own, so that only
 * the CLI and its dependencies are installed, not this package's devDependencies. */
const fetched = path.join(root, '.napi-cli');

/** The CLI's entry point (its `bin`), resolved through its package.json from `base`. */
function cliEntry(base) {
  const packageJson = require.resolve('@napi-rs/cli/package.json', { paths: [base] });
  return path.join(path.dirname(packageJson), require(packageJson).bin.napi);
}

function napiCli() {
  for (const base of [root, fetched]) {
    try {
      return cliEntry(base);
    } catch {
      // not installed there
    }
  }
  console.error(`agentrace: fetching @napi-rs/cli@${cliVersion} into ${fetched} to build the native addon`);
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  run(npm[0], [...npm[1], 'install', '--prefix', fetched, '--no-save', '--no-audit', '--no-fund',
    '--ignore-scripts', '--no-package-lock', '--loglevel=error', `@napi-rs/cli@${cliVersion}`]);
  return cliEntry(fetched);
}

const profile = process.env.AGENTRACE_NODE_PROFILE || 'release';
if (!['release', 'debug'].includes(profile)) {
  console.error(`agentrace: AGENTRACE_NODE_PROFILE is \`${profile}\`; use release or debug`);
  process.exit(1);
}
const args = [napiCli(), 'build', '--no-dts-header', '--dts', 'native.d.ts'];
if (profile === 'release') args.push('--release');
run(process.execPath, args);
