// Debian's Chromium, driven headless by playwright-core (no browser download).
'use strict';
const fs = require('fs');
const path = require('path');
const proc = require('./proc');

const CHROMIUM = '/usr/bin/chromium';

/** Flags that keep Chromium quiet on a machine with no network but loopback. */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Launches headless Chromium with one page of `viewport` size. Closing is registered as a
 * cleanup step (proc.cleanup), so Ctrl-C and failures close it too.
 * `consoleLog`: file that receives every console line and page error of the page.
 * Returns {browser, context, page, consoleLines, close()}.
 */
async function launch({ viewport = { width: 1400, height: 900 }, consoleLog } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian package chromium)`);
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    // Our own cleanup closes it; Playwright's handlers would exit the process under us.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 60000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await proc.withTimeout(browser.close(), 10000, 'closing Chromium').catch(() => {});
  };
  proc.onCleanup(close);
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const consoleLines = [];
  let sink = null;
  if (consoleLog) {
    fs.mkdirSync(path.dirname(consoleLog), { recursive: true });
    sink = fs.createWriteStream(consoleLog, { flags: 'w' });
  }
  const record = (line) => {
    consoleLines.push(line);
    if (sink) sink.write(line + '\n');
  };
  // The workbench styles its log lines ("%c INFO color: #33f text"): keep the level and text.
  page.on('console', (msg) =>
    record(`[${msg.type()}] ${msg.text().replace(/^%c\s*(\w+)\s+color:\s*#[0-9a-f]+\s*/i, '$1 ')}`),
  );
  page.on('pageerror', (err) => record(`[pageerror] ${err.stack || err.message}`));
  page.on('crash', () => record('[crash] the page crashed'));
  return {
    browser,
    context,
    page,
    consoleLines,
    close: async () => {
      await close();
      if (sink) sink.end();
    },
  };
}

module.exports = { launch, CHROMIUM };
