// Debian packages the scripts need: checked with dpkg, installed with apt-get when missing.
'use strict';
const { execFileSync } = require('child_process');
const { runOrThrow } = require('./proc');

/** What each need takes from Debian, and why (shown when something is missing). */
const PACKAGES = {
  'libkrb5-dev': 'builds the `kerberos` native module of code-server',
  ripgrep: 'replaces the rg binary that @vscode/ripgrep would download (search in code-server)',
  chromium: 'the headless browser that drives code-server in the integration and e2e tests',
  'python3-pytest': 'used by the agent tests',
  'python3-uvloop': 'the agent tests on uvloop loops (Debian python3.11)',
  'python3-aiohttp': 'the agent tests and benchmarks with a real aiohttp server (Debian python3.11)',
  'libpython3.11-testsuite': "CPython's own asyncio tests, run with the agent (Debian python3.11)",
  'python3-gunicorn': 'a pre-forking server whose workers the agent tests follow (Debian python3.11)',
};

/** True when dpkg says the package is installed. */
function isInstalled(name) {
  try {
    const status = execFileSync('dpkg-query', ['-W', '-f=${Status}', name], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    return status.includes('install ok installed');
  } catch {
    return false;
  }
}

let updated = false;

/**
 * Installs the Debian packages in `names` that are missing (apt-get update once, then
 * apt-get install), as root. Not root: throws an error naming what is missing and the command.
 */
async function ensureDebPackages(names, log = console.log) {
  const missing = names.filter((n) => !isInstalled(n));
  if (!missing.length) return;
  const why = missing.map((n) => `  ${n}: ${PACKAGES[n] || 'needed by the scripts'}`).join('\n');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `Missing Debian package(s): ${missing.join(', ')}\n${why}\n` +
        `Install them as root:  apt-get update && apt-get install -y ${missing.join(' ')}`,
    );
  }
  log(`Installing Debian package(s): ${missing.join(', ')}\n${why}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    await runOrThrow('apt-get', ['update'], { env });
    updated = true;
  }
  await runOrThrow('apt-get', ['install', '-y', ...missing], { env });
  const still = missing.filter((n) => !isInstalled(n));
  if (still.length) throw new Error(`apt-get install finished but dpkg still lacks: ${still.join(', ')}`);
}

module.exports = { ensureDebPackages, isInstalled, PACKAGES };
