// End-to-end test, as a person uses TaskScope: the packaged extension (.vsix) installed into a
// real VS Code 1.100 (code-server), its workbench in Chromium at 1400x900 on the demo folder.
// Open the TaskScope view, open demo/crawler.py, run "TaskScope: Run Python File with Task
// Tracing" from the command palette, watch the crawler's tasks appear, read a task's creation
// site in its tooltip, click the row and land on that line. Every step is a check (counted as
// a test) and leaves a screenshot in artifacts/e2e/. With --update-screenshot the last one
// becomes docs/images/tasks-view.png, the README's picture, when every check passed.
'use strict';
const fs = require('fs');
const path = require('path');
const paths = require('../../scripts/lib/paths');
const proc = require('../../scripts/lib/proc');
const codeServer = require('../../scripts/lib/codeServer');
const browser = require('../../scripts/lib/browser');
const wb = require('../../scripts/lib/workbench');
const { freePort } = require('../../scripts/lib/net');

const OUT = path.join(paths.artifacts, 'e2e');
const README_IMAGE = path.join(paths.root, 'docs', 'images', 'tasks-view.png');
const PROGRAM = 'crawler.py';
const RUN_COMMAND = 'TaskScope: Run Python File with Task Tracing';
/** The crawler's task that lives as long as the program: created once, by main, never awaited. */
const STEADY_TASK = 'progress-reporter';
/** A worker of the crawler's TaskGroup, alone ("worker-3") or folded with its siblings ("×18 Crawler.worker"). */
const WORKER_ROW = /^(worker-\d+|×\d+ .*worker)$/;

/** Runs named checks in order; after the first failure the rest are reported as not reached. */
class Checks {
  constructor(log, page) {
    this.log = log;
    this.page = page;
    this.results = [];
    this.failedOnce = false;
    this.shot = 0;
    this.lastScreenshot = null;
    this.warnings = [];
  }

  async check(title, fn) {
    if (this.failedOnce) {
      this.results.push({ title, state: 'skipped', reason: 'not reached: an earlier check failed' });
      this.log(`  skip ${title} (not reached)`);
      return undefined;
    }
    const started = Date.now();
    try {
      const value = await fn();
      const durationMs = Date.now() - started;
      this.results.push({ title, state: 'passed', durationMs });
      this.log(`  ok   ${title} (${(durationMs / 1000).toFixed(1)} s)`);
      return value;
    } catch (err) {
      this.failedOnce = true;
      this.results.push({ title, state: 'failed', error: err.message, durationMs: Date.now() - started });
      this.log(`  FAIL ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)\n${err.message.replace(/^/gm, '         ')}`);
      await this.screenshot('failure');
      return undefined;
    }
  }

  /** Something a person would notice although the check passed: printed, and kept in results. */
  warn(message) {
    this.warnings.push(message);
    this.log(`  WARNING ${message}`);
  }

  /** `readme: false`: a picture of a step after the one the README shows (not a candidate for it). */
  async screenshot(name, { readme = true } = {}) {
    if (!this.page) return;
    this.shot += 1;
    const file = path.join(OUT, `${String(this.shot).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file }).catch(() => {});
    if (name !== 'failure' && readme) this.lastScreenshot = file;
  }
}

/** Polls `probe` until it returns a truthy value; throws `what` on timeout. */
async function until(what, probe, timeoutMs = 30000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last seen: ${last})` : ''}`);
    await proc.sleep(everyMs);
  }
}

/** The rows of the Tasks view as {label, description, ariaLabel}. */
async function treeRows(pane) {
  return pane.locator('.monaco-list-row').evaluateAll((rows) =>
    rows.map((r) => ({
      label: (r.querySelector('.label-name')?.textContent || '').trim(),
      description: (r.querySelector('.label-description')?.textContent || '').trim(),
      ariaLabel: r.getAttribute('aria-label') || '',
    })),
  );
}

/**
 * The centre of the label of the row called `label`, in page coordinates, or null. The rows are
 * re-rendered while the program runs (several times a second), so the mouse is moved to where
 * the row is rather than waiting for Playwright's "stable element" before a hover or click.
 */
async function rowPoint(pane, label) {
  return pane.locator('.monaco-list-row .label-name').evaluateAll((els, wanted) => {
    const el = els.find((e) => (e.textContent || '').trim() === wanted);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return r.width && r.height ? { x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2 } : null;
  }, label);
}

/**
 * Hovers a row until its tooltip shows, and returns the tooltip's text. While the program runs
 * the row is re-rendered now and then, which drops a pending hover without a new mouse event:
 * so the mouse keeps moving between two points of the row (the label and just right of it).
 */
async function tooltipOf(page, pane, label) {
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Created' }).first();
  return until(`the tooltip of "${label}"`, async () => {
    await page.mouse.move(700, 450); // away first, so hovering again opens a fresh tooltip
    await proc.sleep(200);
    for (let i = 0; i < 20; i++) {
      if (await hover.isVisible()) return (await hover.innerText()).trim();
      const point = await rowPoint(pane, label);
      if (!point) throw new Error(`no visible row "${label}"`);
      await page.mouse.move(point.x + (i % 2) * 30, point.y, { steps: 3 });
      await proc.sleep(250);
    }
    throw new Error('no tooltip showed');
  }, 60000, 100);
}

/** Clicks the row called `label`. */
async function clickRow(page, pane, label) {
  const point = await until(`a visible row "${label}"`, () => rowPoint(pane, label), 10000);
  await page.mouse.click(point.x, point.y);
}

async function runE2E({ log = console.log, updateScreenshot = false, timeoutMs = 600000 } = {}) {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(path.join(paths.demo, PROGRAM))) throw new Error(`demo/${PROGRAM} is missing`);
  await codeServer.ensureCodeServer(log);

  const dataDir = path.join(paths.cache, 'runs', `e2e-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const serverLog = path.join(OUT, 'code-server.log');
  const checks = new Checks(log);
  let b = null;
  let server = null;
  const run = async () => {
    await checks.check('the packaged extension installs into code-server with --install-extension', async () => {
      await codeServer.installExtension(paths.vsix, dataDir, serverLog);
      const installed = fs.readdirSync(path.join(dataDir, 'extensions')).filter((d) => d.startsWith('taskscope.taskscope-'));
      if (!installed.length) throw new Error('no taskscope.taskscope-* folder in the extensions folder');
      const agent = path.join(dataDir, 'extensions', installed[0], 'python', 'taskscope', '__init__.py');
      if (!fs.existsSync(agent)) throw new Error('the installed extension has no python/taskscope/__init__.py (the agent)');
    });
    if (checks.failedOnce) return;

    server = await codeServer.startCodeServer({
      port: await freePort(),
      dataDir,
      workspace: paths.demo,
      logFile: serverLog,
      // Tooltips sooner than a person's 1.5 s; a terminal without the machine's startup files.
      settings: { 'workbench.hover.delay': 300, ...codeServer.TEST_TERMINAL_SETTINGS },
    });
    b = await browser.launch({ viewport: { width: 1400, height: 900 }, consoleLog: path.join(OUT, 'console.log') });
    const page = b.page;
    checks.page = page;
    await page.goto(`${server.url}/?folder=${encodeURIComponent(paths.demo)}`, { waitUntil: 'domcontentloaded' });
    await wb.waitForWorkbench(page);
    const pane = wb.viewPane(page, 'Tasks');

    await checks.check('the activity bar shows the TaskScope view container', async () => {
      await wb.activityBarItem(page, 'TaskScope').waitFor({ timeout: 60000 });
    });
    await checks.check('clicking it opens the Tasks view, empty, with its welcome button to run a file', async () => {
      await wb.activityBarItem(page, 'TaskScope').click();
      await pane.waitFor({ timeout: 15000 });
      await pane.getByRole('button', { name: RUN_COMMAND.replace(/^TaskScope: /, '') }).waitFor({ timeout: 15000 });
      await checks.screenshot('tasks-view-empty');
    });
    await checks.check(`Quick Open opens demo/${PROGRAM} in the editor`, async () => {
      await wb.quickOpen(page, PROGRAM);
      const tab = await wb.activeTabLabel(page);
      if (tab !== PROGRAM) throw new Error(`the active tab is "${tab}"`);
      await checks.screenshot('program-open');
    });
    await checks.check(`the command palette runs "${RUN_COMMAND}" in a terminal`, async () => {
      await wb.runCommand(page, RUN_COMMAND);
      await page.locator('.terminal-tabs-entry, .panel .single-terminal-tab, .panel .action-item', { hasText: `TaskScope: ${PROGRAM}` })
        .first()
        .waitFor({ timeout: 15000 })
        .catch(async () => {
          throw new Error(`no terminal named "TaskScope: ${PROGRAM}" appeared`);
        });
    });
    await checks.check('the program appears in the Tasks view as a connected process', async () => {
      const found = await until(`a "${PROGRAM}" row with its pid`, async () => {
        const r = (await treeRows(pane)).find((x) => x.label === PROGRAM);
        return r && /pid \d+/.test(r.description) ? r : null;
      });
      log(`       ${found.label} — ${found.description}`);
    });
    await checks.check(`its tasks appear: Task-1 (main), ${STEADY_TASK}, and the crawler's workers`, async () => {
      await until(`rows Task-1, ${STEADY_TASK} and worker-N`, async () => {
        const labels = (await treeRows(pane)).map((x) => x.label);
        // The workers show one by one, or folded into one row ("×18 Crawler.worker") once many
        // share their creation site.
        const ok = labels.includes('Task-1') && labels.includes(STEADY_TASK) && labels.some((l) => WORKER_ROW.test(l));
        if (!ok) throw new Error(`rows: ${labels.join(', ') || 'none'}`);
        return true;
      });
      await checks.screenshot('tasks-listed');
    });
    // TASKSCOPE_E2E_SETTLE_SECONDS: let the program run longer first (a busier tree), to reproduce
    // what a slow machine sees.
    await proc.sleep(1000 * (Number(process.env.TASKSCOPE_E2E_SETTLE_SECONDS) || 0));
    let site = null;
    await checks.check(`the tooltip of "${STEADY_TASK}" names its creation site (${PROGRAM}:line)`, async () => {
      const text = await tooltipOf(page, pane, STEADY_TASK);
      const m = text.match(/Created in\s+(\S+)\s+at\s+([^\s:]+):(\d+)/);
      if (!m) throw new Error(`no "Created in FUNCTION at FILE:LINE" in the tooltip:\n${text}`);
      site = { function: m[1], file: m[2], line: Number(m[3]) };
      if (site.file !== PROGRAM) throw new Error(`the creation site is in ${site.file}, not ${PROGRAM}`);
      log(`       created in ${site.function} at ${site.file}:${site.line}`);
      await checks.screenshot('task-tooltip');
      await page.mouse.move(5, 5);
    });
    await checks.check(`clicking the row opens ${PROGRAM} with the cursor on that line (status bar "Ln N")`, async () => {
      await wb.runCommand(page, 'View: Close All Editors');
      await until('no open editor', async () => (await wb.activeTabLabel(page)) === '', 10000);
      // A person clicks again when a click does nothing; so does this test, up to five times,
      // and says so (a warning in the summary): while the program runs the view re-renders its rows several times a second,
      // and a click on a row drawn just before may hit a command VS Code already dropped
      // ("Actual command not found, wanted to execute taskscope.openCreationSite").
      for (let attempt = 1; ; attempt++) {
        await clickRow(page, pane, STEADY_TASK);
        const opened = await until(`the ${PROGRAM} tab`, async () => (await wb.activeTabLabel(page)) === PROGRAM, 5000)
          .then(() => true, () => false);
        if (opened) break;
        const toasts = await wb.notifications(page);
        if (attempt === 5) throw new Error(`five clicks on the row opened no ${PROGRAM} tab${toasts.length ? `; notifications: ${toasts.join(' | ')}` : ''}`);
        const why = toasts.length ? `notification: ${toasts.join(' | ')}` : 'nothing happened';
        checks.warn(`click ${attempt} on "${STEADY_TASK}" opened no editor (${why}); clicking again`);
        await checks.screenshot(`click-${attempt}-missed`);
        await wb.runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
      }
      const pos = await until(`the status bar to say "Ln ${site.line}"`, async () => {
        const p = await wb.cursorPosition(page);
        if (!p || p.line !== site.line) throw new Error(p ? `"${p.text}"` : 'no cursor position');
        return p;
      }, 10000);
      log(`       active tab ${PROGRAM}, status bar "${pos.text}"`);
      await page.mouse.move(700, 450);
      await proc.sleep(500);
      await checks.screenshot('creation-site');
    });
    await checks.check(`line ${site ? site.line : 'N'} of ${PROGRAM} is the create_task call that named "${STEADY_TASK}"`, async () => {
      const text = fs.readFileSync(path.join(paths.demo, PROGRAM), 'utf8').split('\n')[site.line - 1] || '';
      if (!/create_task\(/.test(text) || !text.includes(STEADY_TASK)) {
        throw new Error(`line ${site.line} is: ${text.trim()}`);
      }
    });
    await checks.check(`the agent's finding shows: "${STEADY_TASK}" is fire-and-forget, in the Findings view, its row and the Problems panel`, async () => {
      const findings = wb.viewPane(page, 'Findings');
      await until('a "Fire-and-forget task" group in the Findings view', async () => {
        const rows = await treeRows(findings);
        if (!rows.some((r) => r.label === 'Fire-and-forget task')) throw new Error(rows.map((r) => r.label).join(', ') || 'no rows');
        return true;
      }, 30000);
      await until(`a finding badge on the "${STEADY_TASK}" row, next to its state icon`, async () => {
        const marked = await pane.locator('.monaco-list-row').evaluateAll((rows, wanted) =>
          rows.some((r) => {
            if ((r.querySelector('.label-name')?.textContent || '').trim() !== wanted) return false;
            const label = r.querySelector('.monaco-icon-label');
            const badged = !!label && /-itemBadge-/.test(label.className);
            const stateIcon = !!r.querySelector('.codicon-watch, .codicon-play-circle');
            return badged && stateIcon;
          }), STEADY_TASK);
        if (!marked) throw new Error('no finding badge (or no state icon) on the row');
        return true;
      }, 15000);
      await wb.runCommand(page, 'Problems: Focus on Problems View');
      await until('the finding in the Problems panel', async () => {
        const text = await page.locator('.markers-panel').innerText().catch(() => '');
        if (!/Fire-and-forget task/.test(text)) throw new Error(text.slice(0, 200) || 'empty Problems panel');
        return true;
      }, 15000);
      await page.mouse.move(700, 450);
      await proc.sleep(500);
      await checks.screenshot('findings');
    });
    await checks.check('clicking the status bar item brings the Tasks view back', async () => {
      await wb.activityBarItem(page, 'Explorer').click();
      await until('the Tasks view to be hidden', async () => !(await pane.isVisible()), 10000);
      const item = page.locator('.statusbar-item', { hasText: /\d+ process(es)? · \d+ tasks?/ }).first();
      await item.waitFor({ timeout: 10000 });
      await item.click();
      await until('the Tasks view', async () => pane.isVisible(), 10000);
      await until(`the "${STEADY_TASK}" row`, async () => (await treeRows(pane)).some((r) => r.label === STEADY_TASK), 10000);
    });
    await checks.check(`"Cancel Task" from the row's context menu asks first, naming "${STEADY_TASK}", then cancels it in the program`, async () => {
      const menuItem = page.locator('.context-view .action-label', { hasText: /^Cancel Task$/ }).first();
      const dialog = page.locator('.monaco-dialog-box').first();
      // Once in about four clean-clone runs the menu's click opened no dialog (2026-12-03;
      // three runs of the tier alone right after passed): the menu is opened again once, and
      // the run notes it as a warning, so that a lasting failure still fails.
      for (let attempt = 1; ; attempt++) {
        const point = await until(`a visible row "${STEADY_TASK}"`, () => rowPoint(pane, STEADY_TASK), 10000);
        await page.mouse.click(point.x, point.y, { button: 'right' });
        await menuItem.waitFor({ timeout: 10000 }).catch(async () => {
          const items = await page.locator('.context-view .action-label').allInnerTexts().catch(() => []);
          throw new Error(`no "Cancel Task" in the context menu: ${items.join(', ') || 'no menu'}`);
        });
        // The menu ignores a click that comes right after it opened; a person's click comes later.
        await menuItem.hover();
        await proc.sleep(300);
        await menuItem.click();
        const shown = await dialog.waitFor({ timeout: attempt === 1 ? 5000 : 10000 }).then(() => true, () => false);
        if (shown) break;
        const menuOpen = await page.locator('.context-view .action-label').count().catch(() => 0);
        const why = `no dialog 5 s after the menu's click; the menu is ${menuOpen ? 'still open' : 'closed'}`;
        if (attempt >= 2) throw new Error(`${why} (second try)`);
        checks.warn(`"Cancel Task" from the context menu, try ${attempt}: ${why}; opening the menu again`);
        await page.keyboard.press('Escape');
      }
      const text = (await dialog.innerText()).replace(/\s+/g, ' ');
      log(`       the dialog: ${text}`);
      if (!text.includes(`Cancel task '${STEADY_TASK}' (report_progress)?`)) throw new Error(`the dialog does not name the task: ${text}`);
      if (!text.includes('Cancelling it cancels no other task.')) throw new Error(`the dialog does not say what else is cancelled: ${text}`);
      await checks.screenshot('cancel-confirmation', { readme: false });
      await dialog.locator('.monaco-button', { hasText: /^Cancel Task$/ }).first().click();
      // Drawn finished: cancelled, or done when the task (fire-and-forget: nothing else holds
      // it) was collected before the agent could read how it ended (docs/agent.md).
      await until(`"${STEADY_TASK}" drawn finished`, async () =>
        pane.locator('.monaco-list-row').evaluateAll((rows, wanted) =>
          rows.some((r) => (r.querySelector('.label-name')?.textContent || '').trim() === wanted && !!r.querySelector('.codicon-circle-slash, .codicon-pass')), STEADY_TASK), 15000);
      await checks.screenshot('cancelled', { readme: false });
    });
    await checks.check('a folded row opened and selected by hand stays open and selected while its count and its tasks change', async () => {
      // The crawler's own server handles each request in a task: they fold into one row
      // ("×54 serve_page") whose count changes at every update, its id staying the same.
      const FOLD = /^×\d+ serve_page$/;
      // The row's state, a point to click on its label and on its twistie, and the labels of the
      // rows below it, as drawn now (null: not drawn).
      const drawn = () =>
        pane.locator('.monaco-list-row').evaluateAll((rows, source) => {
          const wanted = new RegExp(source);
          const text = (r) => (r.querySelector('.label-name')?.textContent || '').trim();
          const i = rows.findIndex((r) => wanted.test(text(r)));
          if (i < 0) return null;
          const level = Number(rows[i].getAttribute('aria-level'));
          const below = [];
          for (const r of rows.slice(i + 1)) {
            if (Number(r.getAttribute('aria-level')) <= level) break;
            below.push(text(r));
          }
          const centre = (el) => {
            const b = el?.getBoundingClientRect();
            return b && b.width ? { x: b.left + Math.min(b.width / 2, 40), y: b.top + b.height / 2 } : null;
          };
          return {
            label: text(rows[i]),
            expanded: rows[i].getAttribute('aria-expanded'),
            selected: rows[i].getAttribute('aria-selected'),
            below,
            point: centre(rows[i].querySelector('.label-name')),
            twistie: centre(rows[i].querySelector('.monaco-tl-twistie')),
          };
        }, FOLD.source);
      const first = await until('a visible row "×N serve_page"', async () => (await drawn())?.point && drawn(), 20000);
      await page.mouse.click(first.point.x, first.point.y); // selects it (and may open it)
      await until('the folded row selected and open, its tasks below it', async () => {
        const now = await drawn();
        if (!now) throw new Error('no "×N serve_page" row');
        if (now.selected !== 'true' && now.point) await page.mouse.click(now.point.x, now.point.y);
        else if (now.expanded === 'false' && now.twistie) await page.mouse.click(now.twistie.x, now.twistie.y);
        else if (now.expanded === 'true' && now.below.length > 0) return true;
        await proc.sleep(500);
        return false;
      }, 20000);
      // Requests come and go: the count in the row's label and the rows below it change while
      // it stays open and selected.
      const start = await drawn();
      const seen = [];
      const deadline = Date.now() + 6000;
      let changed = false;
      while (Date.now() < deadline) {
        const now = await drawn();
        seen.push(now ? `${now.label} ${now.expanded}/${now.selected}` : 'gone');
        if (!now || now.expanded !== 'true' || now.selected !== 'true') {
          throw new Error(`the folded row did not stay open and selected: ${seen.join(', ')}`);
        }
        changed ||= now.label !== start.label || now.below.join('\n') !== start.below.join('\n');
        await proc.sleep(250);
      }
      if (!changed) throw new Error(`neither "${start.label}" nor the rows below it changed in 6 s`);
      log(`       ${seen.length} looks in 6 s, open and selected in each: ${seen[0]} … ${seen[seen.length - 1]}`);
      await checks.screenshot('fold-open', { readme: false });
    });
  };

  try {
    await proc.withTimeout(run(), timeoutMs, 'the e2e test');
  } catch (err) {
    // Something outside the checks (code-server or Chromium would not start, overall timeout).
    checks.results.push({ title: 'the e2e test runs to its end', state: 'failed', error: err.message });
    log(`  FAIL the e2e test runs to its end\n${err.message.replace(/^/gm, '         ')}`);
    await checks.screenshot('failure');
  } finally {
    if (b) await b.close();
    if (server) await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const count = (state) => checks.results.filter((r) => r.state === state).length;
  const results = { passed: count('passed'), failed: count('failed'), skipped: count('skipped'), checks: checks.results, warnings: checks.warnings };
  const firstFailure = checks.results.find((r) => r.state === 'failed');
  if (firstFailure) results.note = `failed: ${firstFailure.title}`;
  else if (checks.warnings.length) results.note = `${checks.warnings.length} warning(s): ${checks.warnings[0]}`;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  if (results.failed && b) {
    const lines = b.consoleLines.filter((l) => !/ENOTFOUND|ERR_NAME_NOT_RESOLVED|status of 404|sandbox/.test(l)).slice(-30);
    log(`  page console (last lines; all in ${path.relative(paths.root, path.join(OUT, 'console.log'))}):\n${lines.map((l) => `    ${l}`).join('\n')}`);
  }
  log(`  screenshots: ${path.relative(paths.root, OUT)}/`);
  if (updateScreenshot) {
    if (results.failed || results.skipped || !checks.lastScreenshot) {
      log('  docs/images/tasks-view.png not updated: not every check passed');
    } else {
      fs.mkdirSync(path.dirname(README_IMAGE), { recursive: true });
      fs.copyFileSync(checks.lastScreenshot, README_IMAGE);
      log(`  updated ${path.relative(paths.root, README_IMAGE)} from ${path.relative(paths.root, checks.lastScreenshot)}`);
    }
  }
  return results;
}

module.exports = { runE2E };
