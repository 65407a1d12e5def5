// Which Python runs a traced program: the interpreter chosen in the Python extension (here its
// stand-in, test/fixtures/python-extension-standin, since the real one cannot be installed),
// else the taskscope.python.path setting, else python3. Each interpreter is a small shell
// script that notes its pid, then execs python3: the process that connects with that pid
// proves which one ran.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import { EXTENSION_ID, until, workspaceFile } from '../support';

interface RunResult {
  terminal: vscode.Terminal;
  launch: { executable: string; args: string[] };
}

describe('Python interpreter', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let dir: string;
  const terminals: vscode.Terminal[] = [];
  const standin = () => vscode.workspace.getConfiguration('taskscopeTests.pythonStandin');
  const taskscope = () => vscode.workspace.getConfiguration('taskscope');

  /** An executable script that writes its pid to `<name>.pid`, then becomes python3. */
  function interpreter(name: string): { path: string; pidFile: string } {
    const file = path.join(dir, name);
    const pidFile = `${file}.pid`;
    fs.writeFileSync(file, `#!/bin/sh\necho $$ > '${pidFile}'\nexec python3 "$@"\n`, { mode: 0o755 });
    return { path: file, pidFile };
  }

  async function run(): Promise<RunResult> {
    await vscode.window.showTextDocument(workspaceFile('hello_tasks.py'));
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as RunResult;
    assert.ok(result, 'the command started nothing');
    terminals.push(result.terminal);
    return result;
  }

  /** Waits until the script wrote its pid, then for the process with that pid to connect. */
  async function connectedThrough(pidFile: string): Promise<void> {
    const pid = await until(`${path.basename(pidFile)} to be written`, () => {
      const text = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
      return /^\d+$/.test(text) ? Number(text) : undefined;
    });
    await until(`the process with pid ${pid} to connect`, () => api.model.processes().find((p) => p.pid === pid));
  }

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-interpreters-'));
  });

  afterEach(async () => {
    await standin().update('interpreter', undefined, vscode.ConfigurationTarget.Global);
    await taskscope().update('python.path', undefined, vscode.ConfigurationTarget.Global);
  });

  after(() => {
    terminals.forEach((t) => t.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the program with the interpreter chosen in the Python extension', async () => {
    assert.ok(vscode.extensions.getExtension('ms-python.python'), 'the Python extension stand-in is not installed');
    const chosen = interpreter('python-chosen');
    const ignored = interpreter('python-setting');
    await standin().update('interpreter', chosen.path, vscode.ConfigurationTarget.Global);
    await taskscope().update('python.path', ignored.path, vscode.ConfigurationTarget.Global);
    const { launch } = await run();
    assert.strictEqual(launch.executable, chosen.path, 'the Python extension\'s choice comes before the setting');
    assert.deepStrictEqual(launch.args.slice(0, 3), ['-m', 'taskscope', 'run']);
    await connectedThrough(chosen.pidFile);
    assert.ok(!fs.existsSync(ignored.pidFile), 'the setting\'s interpreter ran too');
  });

  it('falls back to the taskscope.python.path setting when the Python extension cannot answer', async () => {
    const configured = interpreter('python-configured');
    await standin().update('interpreter', 'fail', vscode.ConfigurationTarget.Global);
    await taskscope().update('python.path', configured.path, vscode.ConfigurationTarget.Global);
    const { launch } = await run();
    assert.strictEqual(launch.executable, configured.path);
    await connectedThrough(configured.pidFile);
  });

  it('runs python3 when neither names an interpreter', async () => {
    await standin().update('interpreter', 'fail', vscode.ConfigurationTarget.Global);
    const { launch } = await run();
    assert.strictEqual(launch.executable, 'python3');
  });
});
