// Each of the six runtime findings, made by a real program under the real agent, reaches the
// Problems panel's data (vscode.languages.getDiagnostics): at the line that created the task
// (for a blocked loop: the running task's; a plain callback's, at the blocking line; for a task a library made, the
// program's line where it waits), source "TaskScope", with the related places that
// matter. The programs are the agent tests' fixtures (test/fixtures/programs), run at once.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import { EXTENSION_ID, until } from '../support';

describe('Findings from real programs', function () {
  this.timeout(90000);
  let api: TaskScopeApi;
  let programs: string;
  let releaseDir: string;
  const children: cp.ChildProcess[] = [];

  const file = (name: string) => path.join(programs, name);
  /** The 1-based line with `# site: <marker>`, or that contains `text`. */
  const line = (name: string, marker: string, text = false): number => {
    const lines = fs.readFileSync(file(name), 'utf8').split('\n');
    const index = lines.findIndex((l) => (text ? l.includes(marker) : l.trimEnd().endsWith(`# site: ${marker}`)));
    assert.ok(index >= 0, `no ${marker} in ${name}`);
    return index + 1;
  };

  function start(name: string, env: Record<string, string> = {}): void {
    const child = cp.spawn('python3', ['-m', 'taskscope', 'run', file(name)], {
      cwd: programs,
      env: {
        ...process.env,
        PYTHONPATH: api.agentRoot,
        TASKSCOPE_CONNECT: api.address,
        TASKSCOPE_INTERVAL: '0.05',
        RELEASE_FILE: path.join(releaseDir, 'release'),
        ...env,
      },
      stdio: 'ignore',
    });
    children.push(child);
  }

  /** The TaskScope diagnostics of one kind in a program, once there are `count` of them. */
  async function diagnostics(name: string, kind: string, count = 1): Promise<vscode.Diagnostic[]> {
    return until(`${count} ${kind} diagnostic(s) in ${name}`, () => {
      const found = vscode.languages
        .getDiagnostics(vscode.Uri.file(file(name)))
        .filter((d) => d.source === 'TaskScope' && d.code === kind)
        .sort((a, b) => a.range.start.line - b.range.start.line);
      return found.length >= count ? found : undefined;
    }, 40000);
  }

  function related(d: vscode.Diagnostic): string[] {
    return (d.relatedInformation ?? []).map((r) => `${path.basename(r.location.uri.fsPath)}:${r.location.range.start.line + 1} ${r.message}`);
  }

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
    programs = path.join(path.dirname(api.agentRoot), 'test', 'fixtures', 'programs');
    releaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-findings-'));
    await vscode.commands.executeCommand('taskscope.clearFindings');
    start('forgets_tasks.py');
    start('destroys_pending_task.py');
    start('exception_handler.py');
    start('orphan_task.py');
    start('stuck_task.py', { TASKSCOPE_STUCK_AFTER: '0.4' });
    start('stuck_connection.py', { TASKSCOPE_STUCK_AFTER: '0.4' });
    start('blocks_loop.py', { BLOCK_SECONDS: '0.8' });
  });

  after(async () => {
    fs.writeFileSync(path.join(releaseDir, 'release'), 'go');
    await vscode.commands.executeCommand('taskscope.clearFindings');
    setTimeout(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      fs.rmSync(releaseDir, { recursive: true, force: true });
    }, 5000);
  });

  it('fire-and-forget: at each create_task whose result is dropped, pointing to where the task waits', async () => {
    const [local, discarded] = await diagnostics('forgets_tasks.py', 'fire-and-forget', 2); // in line order
    assert.deepStrictEqual(
      [local.range.start.line + 1, discarded.range.start.line + 1],
      [line('forgets_tasks.py', 'local'), line('forgets_tasks.py', 'discarded')],
    );
    assert.strictEqual(discarded.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(discarded.message, /^Fire-and-forget task: Task 'poller' \(poll\) was created at forgets_tasks\.py:\d+ and its only reference was dropped/);
    const waits = `forgets_tasks.py:${line('forgets_tasks.py', 'await asyncio.sleep(0.01)', true)} where it waits: hold`;
    assert.deepStrictEqual(related(discarded), [waits]);
    assert.deepStrictEqual(related(local), [waits]);
  });

  it('destroyed-pending: at the task\'s creation, pointing to where it waited', async () => {
    const [d] = await diagnostics('destroys_pending_task.py', 'destroyed-pending');
    assert.strictEqual(d.range.start.line + 1, line('destroys_pending_task.py', 'doomed'));
    assert.strictEqual(d.source, 'TaskScope');
    assert.match(d.message, /destroyed by the garbage collector while still pending/);
    assert.deepStrictEqual(related(d), [`destroys_pending_task.py:${line('destroys_pending_task.py', 'waits')} where it waits: wait_forever`]);
  });

  it('exception-never-retrieved: an error at the task\'s creation, both tasks counted, pointing to the raise', async () => {
    await diagnostics('exception_handler.py', 'exception-never-retrieved');
    const d = await until('both never-retrieved exceptions counted', () =>
      vscode.languages
        .getDiagnostics(vscode.Uri.file(file('exception_handler.py')))
        .find((x) => x.code === 'exception-never-retrieved' && /\(seen 2 times\)$/.test(x.message)),
    );
    assert.strictEqual(d.range.start.line + 1, line('exception_handler.py', 'fails'));
    assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);
    assert.match(d.message, /failed with RuntimeError: nobody retrieves this/);
    assert.deepStrictEqual(related(d), [`exception_handler.py:${line('exception_handler.py', 'raise RuntimeError', true)} where RuntimeError was raised: fails`]);
  });

  it('orphan: at the task\'s creation in the creator that ended, pointing to where it waits', async () => {
    const [d] = await diagnostics('orphan_task.py', 'orphan');
    assert.strictEqual(d.range.start.line + 1, line('orphan_task.py', 'orphan'));
    assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Information);
    assert.deepStrictEqual(related(d), [`orphan_task.py:${line('orphan_task.py', 'await asyncio.sleep(0.01)', true)} where it waits: hold`]);
    // Not the TaskGroup's task, nor the awaited child: one orphan in the whole program.
    assert.strictEqual(vscode.languages.getDiagnostics(vscode.Uri.file(file('orphan_task.py'))).filter((x) => x.source === 'TaskScope').length, 1);
  });

  it('stuck: at the task\'s creation, pointing to the await it is stuck at', async () => {
    const [d] = await diagnostics('stuck_task.py', 'stuck');
    assert.strictEqual(d.range.start.line + 1, line('stuck_task.py', 'name="stuck"', true));
    assert.match(d.message, /has waited on Event\.wait at stuck_task\.py:\d+/);
    assert.deepStrictEqual(related(d), [`stuck_task.py:${line('stuck_task.py', 'stuck')} where it waits: wait_for_event`]);
  });

  it('stuck, a connection task asyncio made: at the program\'s line where it waits, naming the library code that made it', async () => {
    const [d] = await diagnostics('stuck_connection.py', 'stuck');
    assert.strictEqual(d.range.start.line + 1, line('stuck_connection.py', 'stuck'));
    assert.match(d.message, /\(made by library code in StreamReaderProtocol\.connection_made \(streams\.py:\d+\)\)/);
    assert.deepStrictEqual(related(d), [`stuck_connection.py:${line('stuck_connection.py', 'stuck')} where it waits: handle`]);
  });

  it('loop-blocked: at the running task\'s creation, pointing to the blocking line and the calls that led there; a callback at its blocking line; the gutter marks each blocking line, its hover naming the task', async () => {
    const found = await diagnostics('blocks_loop.py', 'loop-blocked', 3);
    assert.deepStrictEqual(
      found.map((d) => d.range.start.line + 1),
      [line('blocks_loop.py', 'callback'), line('blocks_loop.py', 'makes-sleeper'), line('blocks_loop.py', 'makes-spinner')],
    );
    const [, sleeps, spins] = found;
    assert.deepStrictEqual(related(sleeps), [
      `blocks_loop.py:${line('blocks_loop.py', 'sleeps')} where the loop was blocked: parse`,
      `blocks_loop.py:${line('blocks_loop.py', 'calls-parse')} called from: sleeper`,
    ]);
    assert.deepStrictEqual(related(spins), [
      `blocks_loop.py:${line('blocks_loop.py', 'spins')} where the loop was blocked: spin`,
      `blocks_loop.py:${line('blocks_loop.py', '    spin()', true)} called from: spinner`,
    ]);
    await vscode.window.showTextDocument(vscode.Uri.file(file('blocks_loop.py')));
    const marks = await until('the gutter marks', () => {
      const m = api.blockedMarks(vscode.Uri.file(file('blocks_loop.py')));
      return m.length === 3 ? m : undefined;
    });
    const sleepsMark = marks.find((m) => m.line + 1 === line('blocks_loop.py', 'sleeps'))!;
    assert.match(sleepsMark.hover, /the event loop was blocked here\*\* for \d/);
    assert.match(sleepsMark.hover, /running task 'sleeper' \(sleeper\)/);
  });
});
