#!/usr/bin/env node
// `npm test`: runs the four test tiers in order (unit, agent, integration, e2e), or the ones
// named on the command line, goes on after a failing tier, and ends with a table and one line
// "tests: N passed, N failed[, N skipped]". Exits non-zero when anything failed, including a
// tier that could not run at all.
//
//   node scripts/test.js [unit|agent|integration|e2e ...] [--update-screenshot] [--electron]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const paths = require('./lib/paths');
const proc = require('./lib/proc');
const build = require('./lib/build');
const { ensureDebPackages } = require('./lib/system');

const TIERS = ['unit', 'agent', 'integration', 'e2e'];
const log = (line) => console.log(line);

/** Each tier resolves to {passed, failed, skipped, note?}, or throws when it could not run. */
const tiers = {
  /** Pure TypeScript tests in plain Node: tsc to out/, then mocha. */
  async unit() {
    const compiled = await build.compileTests(log);
    const files = listFiles(path.join(paths.root, 'out', 'test', 'unit'), '.test.js');
    if (!files.length) throw new Error('no tests: tsc wrote no out/test/unit/**/*.test.js');
    const resultsFile = path.join(paths.artifacts, 'unit', 'results.json');
    fs.rmSync(resultsFile, { force: true });
    const mocha = path.join(paths.root, 'node_modules', 'mocha', 'bin', 'mocha.js');
    const result = await proc.run(
      process.execPath,
      [
        mocha,
        '--require', 'source-map-support/register',
        '--reporter', path.join(__dirname, 'lib', 'mochaReporter.js'),
        '--no-color',
        'out/test/unit/**/*.test.js',
      ],
      { cwd: paths.root, echo: true, env: { ...process.env, TASKSCOPE_TEST_RESULTS: resultsFile } },
    );
    if (!fs.existsSync(resultsFile)) throw new Error(`mocha ended (exit code ${result.code}) without running the tests`);
    const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    const counts = { passed: r.passed, failed: r.failed, skipped: r.pending };
    if (!compiled.ok) {
      // Type errors fail the tier even when the emitted JavaScript ran: one failure for them.
      counts.failed += 1;
      counts.note = `tsc found ${compiled.errors} type error(s)`;
    } else if (r.passed + r.failed === 0) {
      throw new Error('no tests: mocha found no test in out/test/unit');
    } else if (result.code !== 0 && r.failed === 0) {
      counts.failed += 1;
      counts.note = `mocha exited with code ${result.code}`;
    }
    return counts;
  },

  /**
   * The Python agent's unittest suites, from the repository root, under each interpreter the
   * agent is tested on (docs/agent.md): the machine's python3 (or $PYTHON), Debian's
   * /usr/bin/python3.11 with python3-uvloop, pyenv's 3.10 and 3.12 where the machine has them
   * (said NOT RUN where it does not), and CPython 3.13 and 3.14 built by scripts/build-python.sh.
   * Counts are summed; an interpreter that could not be had counts as one failure.
   */
  async agent() {
    await ensureDebPackages(['python3-pytest'], log);
    const dir = path.join(paths.root, 'test', 'agent');
    const files = listFiles(dir, '.py').filter((f) => /^test.*\.py$/.test(path.basename(f)));
    if (!files.length) throw new Error('no tests: test/agent has no test*.py file');
    const pythonPath = [path.join(paths.root, 'python'), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
    const totals = { passed: 0, failed: 0, skipped: 0 };
    const notes = [];
    for (const interpreter of await agentInterpreters()) {
      log(`\n--- agent tests on ${interpreter.label} ---`);
      if (interpreter.absent) {
        // Not a failure (the machine does not have it, and it cannot be built here), but
        // said in the tier's summary: nothing was run on it.
        log(`${interpreter.label}: NOT RUN: ${interpreter.absent}`);
        notes.push(`${interpreter.label}: NOT RUN (${interpreter.absent})`);
        continue;
      }
      if (interpreter.error) {
        log(`${interpreter.label}: could not be had:\n${indent(interpreter.error, 2)}`);
        totals.failed += 1;
        notes.push(`${interpreter.label}: NOT RUN (${interpreter.error.split('\n')[0]})`);
        continue;
      }
      log(`$ ${interpreter.python} -m unittest discover -s test/agent -t .   (PYTHONPATH=python)`);
      const result = await proc.run(interpreter.python, ['-m', 'unittest', 'discover', '-s', 'test/agent', '-t', '.'], {
        cwd: paths.root,
        echo: true,
        env: { ...process.env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
      });
      let counts;
      try {
        counts = parseUnittest(result.output, result.code);
      } catch (err) {
        counts = { passed: 0, failed: 1, skipped: 0, note: err.message };
      }
      for (const k of ['passed', 'failed', 'skipped']) totals[k] += counts[k];
      notes.push(`${interpreter.label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
      log(`${interpreter.label}: ${notes[notes.length - 1].slice(interpreter.label.length + 2)}${counts.note ? ` (${counts.note})` : ''}`);
    }
    return { ...totals, note: notes.join('; ') };
  },

  /** Extension tests in the extension host of a real VS Code 1.100 (code-server + Chromium). */
  async integration(options) {
    const compiled = await build.compileTests(log);
    await build.compileExtension(log);
    if (!compiled.ok) log(`(tsc reported ${compiled.errors} type error(s); running the integration tests all the same)`);
    let results;
    if (options.electron) {
      results = await runElectron();
    } else {
      const { runIntegrationTests } = require('../test/integration/runInCodeServer');
      results = await runIntegrationTests({ log });
    }
    for (const t of results.tests || []) {
      const mark = t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip';
      log(`  ${mark} ${t.title}`);
      for (const note of t.notes || []) log(`         ${note}`);
      if (t.error) log(indent(t.error, 8));
    }
    if (results.error) log(`  could not run the suites:\n${indent(results.error, 4)}`);
    if (results.failed && results.consoleLines) {
      log(`  page console (last lines; all in ${path.relative(paths.root, results.consoleLog)}):`);
      log(indent(results.consoleLines.slice(-40).join('\n'), 4));
    }
    if (results.passed + results.failed === 0) throw new Error('no tests: the extension host ran no test');
    return { passed: results.passed, failed: results.failed, skipped: results.pending };
  },

  /** The user's view: the packaged extension in code-server, driven in Chromium. */
  async e2e(options) {
    await build.packageExtension(log);
    const { runE2E } = require('../test/e2e/tasksView.e2e');
    const r = await runE2E({ log, updateScreenshot: options.updateScreenshot });
    return { passed: r.passed, failed: r.failed, skipped: r.skipped || 0, note: r.note };
  },
};

async function runElectron() {
  const resultsFile = path.join(paths.artifacts, 'integration', 'results.json');
  fs.rmSync(resultsFile, { force: true });
  const runner = path.join(paths.root, 'out', 'test', 'integration', 'electronRunner.js');
  // The same user settings as the code-server instances': a quiet workbench, and terminals
  // that do not read the machine's shell startup files (see TEST_TERMINAL_SETTINGS).
  const userDataDir = path.join(paths.cache, 'vscode-test', 'user-data');
  const codeServer = require('./lib/codeServer');
  codeServer.writeUserSettings(userDataDir, codeServer.TEST_TERMINAL_SETTINGS);
  const result = await proc.run(process.execPath, [runner], {
    cwd: paths.root,
    echo: true,
    env: { ...process.env, TASKSCOPE_TEST_RESULTS: resultsFile, TASKSCOPE_TEST_USER_DATA: userDataDir },
  });
  if (!fs.existsSync(resultsFile)) throw new Error(`the Electron runner ended (exit code ${result.code}) without results`);
  return JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
}

/**
 * The interpreters of the agent tier, each {label, python} or {label, error}: the machine's
 * python3, Debian's python3.11 with uvloop, aiohttp, gunicorn and its test suite installed with apt-get when missing,
 * pyenv's 3.10 and 3.12 where the machine has them, and CPython 3.13 and 3.14 from
 * scripts/build-python.sh (which returns at once when they are built).
 */
async function agentInterpreters() {
  const out = [];
  const machine = process.env.PYTHON || 'python3';
  out.push(await describePython('python3', machine));
  const debian = '/usr/bin/python3.11';
  try {
    if (!fs.existsSync(debian)) throw new Error(`${debian} does not exist (Debian's python3.11 package)`);
    // libpython3.11-testsuite: CPython's own asyncio tests, run with the agent (test_cpython_suite.py);
    // python3-gunicorn: a pre-forking server whose workers each get an agent (test_lifecycle.py).
    await ensureDebPackages(['python3-uvloop', 'python3-aiohttp', 'libpython3.11-testsuite', 'python3-gunicorn'], log);
    const probe = await proc.run(debian, ['-c', 'import uvloop, aiohttp']);
    if (probe.code !== 0) throw new Error(`uvloop or aiohttp does not import in ${debian}:\n${tail(probe.output, 5)}`);
    out.push(await describePython('Debian python3.11 + uvloop', debian));
  } catch (err) {
    out.push({ label: 'Debian python3.11 + uvloop', error: err.message });
  }
  // 3.10 (no TaskGroup, no asyncio.timeout) and 3.12 (eager tasks, C current_task, the
  // scheduled-tasks set) from pyenv, where the machine has them: this kind of machine ships
  // them beside its default 3.11, and Debian's archive has no source to build them from.
  for (const minor of ['3.10', '3.12']) {
    const python = pyenvPython(minor);
    if (python) out.push(await describePython(`CPython ${minor} (pyenv)`, python));
    else out.push({ label: `CPython ${minor} (pyenv)`, absent: `no pyenv ${minor} on this machine (${pyenvRoot()}/versions)` });
  }
  // 3.13 and 3.14 differ from 3.11 and from each other where the agent hooks in (eager tasks,
  // per-thread task lists): each found bugs the others did not show.
  for (const minor of ['3.13', '3.14']) {
    try {
      const built = await proc.run('bash', [path.join(__dirname, 'build-python.sh'), minor], { cwd: paths.root });
      const python = built.output.trim().split('\n').pop();
      if (built.code !== 0 || !python || !fs.existsSync(python)) {
        throw new Error(`scripts/build-python.sh ${minor} failed (exit code ${built.code}):\n${tail(built.output, 10)}`);
      }
      out.push(await describePython(`CPython ${minor}`, python));
    } catch (err) {
      out.push({ label: `CPython ${minor}`, error: err.message });
    }
  }
  return out;
}

function pyenvRoot() {
  return process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
}

/** The python3 of pyenv's newest installed `minor` (3.10.13 before 3.10.9), or null. */
function pyenvPython(minor) {
  const versions = path.join(pyenvRoot(), 'versions');
  let names;
  try {
    names = fs.readdirSync(versions);
  } catch {
    return null;
  }
  const patch = (name) => Number(name.slice(minor.length + 1));
  const found = names
    .filter((name) => name.startsWith(`${minor}.`) && /^\d+$/.test(name.slice(minor.length + 1)))
    .sort((a, b) => patch(b) - patch(a))
    .map((name) => path.join(versions, name, 'bin', 'python3'))
    .filter((python) => fs.existsSync(python));
  return found[0] || null;
}

/** {label (with the version), python}, or {label, error} when it does not run. */
async function describePython(label, python) {
  const version = await proc.run(python, ['-c', 'import platform; print(platform.python_version())']);
  if (version.code !== 0) return { label, error: `${python} does not run:\n${tail(version.output, 5)}` };
  return { label: `${label} ${version.output.trim()}`, python };
}

/** Counts from unittest's closing lines ("Ran N tests", "OK (skipped=1)", "FAILED (...)"). */
function parseUnittest(output, code) {
  const ran = output.match(/^Ran (\d+) tests? in /m);
  if (!ran) {
    throw new Error(`unittest printed no "Ran N tests" line (exit code ${code}):\n${tail(output, 20)}`);
  }
  const total = Number(ran[1]);
  if (total === 0) throw new Error('no tests: unittest discovered no test in test/agent');
  const field = (name) => {
    const m = output.match(new RegExp(`^(?:OK|FAILED) \\(.*\\b${name}=(\\d+)`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  const skipped = field('skipped');
  const failed = field('failures') + field('errors') + field('unexpected successes');
  const counts = { passed: total - failed - skipped, failed, skipped };
  if (code !== 0 && failed === 0) {
    counts.failed = 1;
    counts.note = `unittest exited with code ${code}`;
  }
  return counts;
}

function listFiles(dir, suffix) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(suffix) && !f.split(path.sep).includes('__pycache__'))
    .map((f) => path.join(dir, f));
}

function tail(text, n) {
  return text.trim().split('\n').slice(-n).join('\n');
}

function indent(text, n) {
  const pad = ' '.repeat(n);
  return String(text)
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function parseArgs(argv) {
  const options = { tiers: [], updateScreenshot: false, electron: false };
  for (const arg of argv) {
    if (arg === '--update-screenshot') options.updateScreenshot = true;
    else if (arg === '--electron') options.electron = true;
    else if (TIERS.includes(arg)) options.tiers.push(arg);
    else {
      console.error(`unknown argument "${arg}"\nusage: node scripts/test.js [${TIERS.join('|')} ...] [--update-screenshot] [--electron]`);
      process.exit(2);
    }
  }
  // Always in the canonical order, each at most once.
  options.tiers = options.tiers.length ? TIERS.filter((t) => options.tiers.includes(t)) : TIERS;
  return options;
}

function table(rows) {
  const head = ['tier', 'result', 'passed', 'failed', 'skipped', 'time'];
  const body = rows.map((r) => [r.tier, r.status, String(r.passed), String(r.failed), String(r.skipped), `${r.seconds.toFixed(1)} s`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const lines = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    lines.push(line(body[i]) + (r.note ? `  ${r.note.split('\n')[0]}` : ''));
  });
  return lines.join('\n');
}

async function main() {
  proc.exitOnSignals();
  const options = parseArgs(process.argv.slice(2));
  fs.mkdirSync(paths.artifacts, { recursive: true });
  const rows = [];
  for (const tier of options.tiers) {
    log(`\n${'='.repeat(20)} ${tier} tests ${'='.repeat(20)}`);
    const started = Date.now();
    const row = { tier, passed: 0, failed: 0, skipped: 0, status: 'passed', note: '' };
    try {
      Object.assign(row, await tiers[tier](options));
      if (row.failed) row.status = 'FAILED';
    } catch (err) {
      // A tier that could not run is a failure, never a pass.
      row.status = 'FAILED';
      row.failed = Math.max(row.failed, 1);
      row.note = `could not run: ${err.message}`;
      log(`\n${tier}: could not run:\n${indent(err.message, 2)}`);
    } finally {
      await proc.cleanup().catch(() => {});
      proc.resetCleanup();
    }
    row.seconds = (Date.now() - started) / 1000;
    log(`${tier}: ${row.status.toLowerCase()} (${row.passed} passed, ${row.failed} failed${row.skipped ? `, ${row.skipped} skipped` : ''}, ${row.seconds.toFixed(1)} s)`);
    rows.push(row);
  }
  const sum = (k) => rows.reduce((n, r) => n + r[k], 0);
  log(`\n${table(rows)}\n`);
  const skipped = sum('skipped');
  log(`tests: ${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}`);
  // Exit explicitly: nothing started here may keep the process alive after the summary.
  process.exit(rows.some((r) => r.status !== 'passed') ? 1 : 0);
}

main().catch(async (err) => {
  console.error(err.stack || err.message);
  await proc.cleanup();
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
});
