// Entry point of the extension tests: VS Code loads this module in the extension host (a real
// VS Code 1.100: code-server in Chromium here, or the Electron build with electronRunner.ts)
// and awaits run(). It runs mocha over the compiled suites and, when TASKSCOPE_TEST_RESULTS
// names a file, writes the outcome there as JSON for the runner on the Node side.
import 'source-map-support/register';
import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import Mocha from 'mocha';

/** What the runner on the Node side reads (scripts/test.js counts these). */
export interface TestResults {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  vscodeVersion: string;
  tests: { title: string; file?: string; state: 'passed' | 'failed' | 'pending'; durationMs?: number; error?: string; notes?: string[] }[];
  /** Set when the suites could not even be loaded or run. */
  error?: string;
}

/** What the tests noted for the record (`note` in support.ts), taken when a test ends. */
function takeNotes(): string[] {
  const holder = globalThis as { taskscopeTestNotes?: string[] };
  const notes = holder.taskscopeTestNotes ?? [];
  holder.taskscopeTestNotes = [];
  return notes;
}

function suiteFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

function writeResults(results: TestResults): void {
  const file = process.env.TASKSCOPE_TEST_RESULTS;
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Write then rename, so the runner never reads half a file.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(results, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

export async function run(): Promise<void> {
  const started = Date.now();
  // `require('vscode')` only resolves inside the extension host, so load it lazily.
  const vscodeVersion: string = (await import('vscode')).version;
  const results: TestResults = { passed: 0, failed: 0, pending: 0, durationMs: 0, vscodeVersion, tests: [] };
  // The reporters print printf-style ("%d passing"); the workbench forwards the raw arguments
  // of the extension host's console, so hand it finished lines.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));
  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    timeout: Number(process.env.TASKSCOPE_TEST_TIMEOUT_MS) || 30000,
    grep: process.env.TASKSCOPE_TEST_GREP || undefined,
  });
  const files = suiteFiles(path.join(__dirname, 'suites'));
  files.forEach((f) => mocha.addFile(f));
  try {
    if (!files.length) throw new Error(`no *.test.js under ${path.join(__dirname, 'suites')}`);
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;
      runner.on(EVENT_TEST_PASS, (test) => {
        results.passed++;
        const notes = takeNotes();
        results.tests.push({ title: test.fullTitle(), file: test.file, state: 'passed', durationMs: test.duration, ...(notes.length ? { notes } : {}) });
      });
      runner.on(EVENT_TEST_PENDING, (test) => {
        results.pending++;
        results.tests.push({ title: test.fullTitle(), file: test.file, state: 'pending' });
      });
      // Also fires for a failing hook (its title then names the hook).
      runner.on(EVENT_TEST_FAIL, (test, err: Error) => {
        results.failed++;
        results.tests.push({ title: test.fullTitle(), file: test.file, state: 'failed', error: err?.stack || String(err) });
        console.error(`[taskscope-tests] FAILED ${test.fullTitle()}\n${err?.stack || err}`);
      });
    });
  } catch (err) {
    results.error = err instanceof Error ? err.stack || err.message : String(err);
    results.failed++;
  }
  results.durationMs = Date.now() - started;
  writeResults(results);
  console.log(`[taskscope-tests] ${results.passed} passing, ${results.failed} failing, ${results.pending} pending`);
  if (results.failed) throw new Error(`${results.failed} extension test(s) failed`);
}
