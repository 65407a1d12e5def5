#!/usr/bin/env node
// `npm start`: TaskScope in a real VS Code (code-server) on the demo folder, with the demo
// program already running under the agent, so its tasks are in the Tasks view when you open
// the printed URL. Ctrl-C stops everything it started.
//
//   node scripts/start.js [--check]
//
// PORT picks the port (default 8080, or a free one when 8080 is taken). --check opens the page
// in headless Chromium, waits for the demo's tasks, saves artifacts/start/check.png and stops.
//
// How the demo starts: code-server gives every browser window its own extension host, and
// TaskScope listens on a socket per extension host, so the program must be started from inside
// the window the person opens. A small helper extension (scripts/demo-autorun/, installed only
// here) runs "TaskScope: Run Python File with Task Tracing" on crawler.py when a window opens
// the demo folder, through the same command a person clicks.
'use strict';
const fs = require('fs');
const path = require('path');
const paths = require('./lib/paths');
const proc = require('./lib/proc');
const build = require('./lib/build');
const codeServer = require('./lib/codeServer');
const { freePort, isPortFree } = require('./lib/net');

const DEMO_FILE = 'crawler.py';
const OUT = path.join(paths.artifacts, 'start');
const log = (line) => console.log(line);

async function checkPython() {
  const r = await proc.run('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
  const version = r.output.trim();
  const [major, minor] = version.split('.').map(Number);
  if (r.code !== 0 || major !== 3 || minor < 11) {
    throw new Error(`the demo needs python3 3.11 or newer on PATH (found: ${r.code === 0 ? version : 'none'})`);
  }
}

async function choosePort() {
  if (process.env.PORT) {
    const port = Number(process.env.PORT);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT=${process.env.PORT} is not a port number`);
    if (!(await isPortFree(port))) throw new Error(`PORT=${port}: 127.0.0.1:${port} is already in use`);
    return port;
  }
  return freePort(8080);
}

/** Packages the helper extension (scripts/demo-autorun) into the cache. */
async function packageDemoAutorun() {
  const src = path.join(__dirname, 'demo-autorun');
  const work = path.join(paths.cache, 'demo-autorun');
  const vsix = path.join(paths.cache, 'demo-autorun.vsix');
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(src, work, { recursive: true });
  await proc.runOrThrow(paths.bin('vsce'), ['package', '--allow-missing-repository', '--skip-license', '--out', vsix], { cwd: work });
  return vsix;
}

async function main() {
  proc.exitOnSignals();
  const check = process.argv.includes('--check');
  if (!fs.existsSync(path.join(paths.demo, DEMO_FILE))) throw new Error(`demo/${DEMO_FILE} is missing`);
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });

  await checkPython();
  await codeServer.ensureCodeServer(log);
  const vsix = await build.packageExtension(log);
  const helper = await packageDemoAutorun();

  // A fresh profile each time, so the window shows exactly this build.
  const dataDir = path.join(paths.cache, 'start');
  fs.rmSync(dataDir, { recursive: true, force: true });
  const serverLog = path.join(OUT, 'code-server.log');
  log('Installing the extension into code-server...');
  await codeServer.installExtension(vsix, dataDir, serverLog);
  await codeServer.installExtension(helper, dataDir, serverLog);

  const port = await choosePort();
  const server = await codeServer.startCodeServer({
    port,
    dataDir,
    workspace: paths.demo,
    env: { TASKSCOPE_DEMO_FILE: DEMO_FILE },
    logFile: serverLog,
  });
  const url = `${server.url}/?folder=${encodeURIComponent(paths.demo)}`;
  log('');
  log(`TaskScope is running in code-server ${codeServer.VERSION} (VS Code 1.100) on the demo folder.`);
  log(`Open:  ${url}`);
  log(`The demo (demo/${DEMO_FILE}) starts under the agent in each window that opens; its tasks show in the TaskScope view.`);
  log(`Log: ${path.relative(paths.root, serverLog)}.  Stop with Ctrl-C.`);

  if (check) {
    const ok = await checkInBrowser(url);
    await proc.cleanup();
    process.exit(ok ? 0 : 1);
  }
  const { code, signal } = await server.child.exited;
  await proc.cleanup();
  throw new Error(`code-server stopped (${signal || `exit code ${code}`}); see ${path.relative(paths.root, serverLog)}`);
}

/** --check: opens the page headless and waits for the demo's tasks in the Tasks view. */
async function checkInBrowser(url) {
  const browser = require('./lib/browser');
  const wb = require('./lib/workbench');
  const b = await browser.launch({ consoleLog: path.join(OUT, 'console.log') });
  const shot = path.join(OUT, 'check.png');
  try {
    await b.page.goto(url, { waitUntil: 'domcontentloaded' });
    await wb.waitForWorkbench(b.page);
    const pane = wb.viewPane(b.page, 'Tasks');
    // The process row, then the program's main task under it.
    await pane.locator('.monaco-list-row .label-name', { hasText: /^crawler\.py$/ }).first().waitFor({ timeout: 90000 });
    await pane.locator('.monaco-list-row .label-name', { hasText: /^Task-1$/ }).first().waitFor({ timeout: 30000 });
    await proc.sleep(1000);
    await b.page.screenshot({ path: shot });
    log(`check: the demo's tasks are in the Tasks view (${path.relative(paths.root, shot)})`);
    return true;
  } catch (err) {
    await b.page.screenshot({ path: shot }).catch(() => {});
    log(`check FAILED: ${err.message.split('\n')[0]} (screenshot: ${path.relative(paths.root, shot)})`);
    return false;
  }
}

main().catch(async (err) => {
  console.error(`npm start: ${err.message}`);
  await proc.cleanup();
  process.exit(1);
});
