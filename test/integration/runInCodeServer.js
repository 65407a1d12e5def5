// Node side of the integration tier: runs the extension tests (index.ts, compiled to
// out/test/integration/index.js) inside the extension host of a real VS Code 1.100:
// code-server on a free loopback port, its workbench opened by headless Chromium with the
// `payload` query that names the extension under development and the test entry point.
// The tests write their results to a JSON file named by TASKSCOPE_TEST_RESULTS, an
// environment variable of the code-server process that reaches the extension host.
'use strict';
const fs = require('fs');
const path = require('path');
const paths = require('../../scripts/lib/paths');
const proc = require('../../scripts/lib/proc');
const codeServer = require('../../scripts/lib/codeServer');
const browser = require('../../scripts/lib/browser');
const { freePort } = require('../../scripts/lib/net');

const WORKSPACE = path.join(paths.root, 'test', 'fixtures', 'workspace');
const TEST_ENTRY = path.join(paths.root, 'out', 'test', 'integration', 'index.js');

// Extensions that cannot be installed here (no marketplace), replaced by small stand-ins
// that serve the part TaskScope uses (see each one's package.json).
const STANDINS = ['debugger-standin', 'python-extension-standin'].map((name) => path.join(paths.root, 'test', 'fixtures', name));

/** Packages a stand-in with vsce into the artifacts folder; returns the .vsix path. */
async function packageStandIn(folder, outDir) {
  const name = path.basename(folder);
  const vsix = path.join(outDir, `${name}.vsix`);
  const vsce = path.join(paths.root, 'node_modules', '@vscode', 'vsce', 'vsce');
  await proc.runOrThrow(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', vsix],
    { cwd: folder, logFile: path.join(outDir, `${name}-package.log`) },
  );
  return vsix;
}

/**
 * Runs the suites; resolves to the parsed results ({passed, failed, pending, tests, ...}).
 * Throws (with the page's console lines) when no results arrive within `timeoutMs`.
 */
async function runIntegrationTests({
  timeoutMs = 1000 * (Number(process.env.TASKSCOPE_INTEGRATION_TIMEOUT_S) || 300),
  log = console.log,
} = {}) {
  const outDir = path.join(paths.artifacts, 'integration');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  if (!fs.existsSync(TEST_ENTRY)) throw new Error(`${path.relative(paths.root, TEST_ENTRY)} is missing: the tests were not compiled`);
  await codeServer.ensureCodeServer(log);

  const resultsFile = path.join(outDir, 'results.json');
  const dataDir = path.join(paths.cache, 'runs', `integration-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  // The Python Debugger and Python extensions cannot be installed here (no marketplace):
  // stand-ins serve the 'debugpy' debug type (test/fixtures/debugger-standin) and the Python
  // extension's environments API (test/fixtures/python-extension-standin). code-server loads
  // only one extension under development, so they go in as .vsix files.
  for (const folder of STANDINS) {
    const vsix = await packageStandIn(folder, outDir);
    await codeServer.installExtension(vsix, dataDir, path.join(outDir, `install-${path.basename(folder)}.log`));
  }
  const port = await freePort();
  const started = Date.now();
  const server = await codeServer.startCodeServer({
    port,
    dataDir,
    workspace: WORKSPACE,
    env: { TASKSCOPE_TEST_RESULTS: resultsFile },
    settings: codeServer.TEST_TERMINAL_SETTINGS,
    logFile: path.join(outDir, 'code-server.log'),
  });
  log(`code-server ${codeServer.VERSION} is up on ${server.url} (${Math.round((Date.now() - started) / 1000)} s)`);
  const consoleLog = path.join(outDir, 'console.log');
  const b = await browser.launch({ consoleLog });
  try {
    const remote = `vscode-remote://127.0.0.1:${port}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote + paths.root],
      ['extensionTestsPath', remote + TEST_ENTRY],
    ]);
    const url = `${server.url}/?folder=${encodeURIComponent(WORKSPACE)}&payload=${encodeURIComponent(payload)}`;
    await b.page.goto(url, { waitUntil: 'domcontentloaded' });
    const deadline = Date.now() + timeoutMs;
    while (!fs.existsSync(resultsFile)) {
      if (Date.now() > deadline) {
        await b.page.screenshot({ path: path.join(outDir, 'timeout.png') }).catch(() => {});
        const lines = b.consoleLines.slice(-60).join('\n');
        throw new Error(
          `no results in ${path.relative(paths.root, resultsFile)} after ${timeoutMs / 1000} s ` +
            `(the extension tests did not finish; TASKSCOPE_INTEGRATION_TIMEOUT_S sets the limit).\nLast page console lines ` +
            `(all in ${path.relative(paths.root, consoleLog)}):\n${lines}`,
        );
      }
      if (server.child.exitCode !== null) throw new Error('code-server exited during the test run (see artifacts/integration/code-server.log)');
      await proc.sleep(250);
    }
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    results.consoleLog = consoleLog;
    results.consoleLines = b.consoleLines;
    return results;
  } finally {
    await b.close();
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = { runIntegrationTests };
