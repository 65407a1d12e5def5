// Running and attaching, through public surfaces: a Python debug session gets the agent
// injected (the 'debugpy' and 'python' types are served by a stand-in adapter, test/fixtures/debugger-standin,
// because the Python Debugger extension cannot be installed here), the setting turns it off,
// and the attach command gives a command line that really connects a program to this window.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import { EXTENSION_ID, until } from '../support';

describe('Run and attach', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let program: string;
  const connectedWithArgv = (argv0: string) =>
    api.model.processes().find((p) => p.status === 'connected' && p.argv[0] === argv0 && api.model.taskCount(p.key) > 0);

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
    program = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'nested_tasks.py');
  });

  afterEach(async () => {
    await vscode.debug.stopDebugging();
    await vscode.workspace.getConfiguration('taskscope').update('debug.injectAgent', undefined, vscode.ConfigurationTarget.Global);
  });

  it('loads the agent into a Python debug session', async () => {
    await debugWithAgent('debugpy');
  });

  it('loads the agent into a debug session of the older \'python\' type too', async () => {
    await debugWithAgent('python');
  });

  async function debugWithAgent(type: string): Promise<void> {
    const started = await vscode.debug.startDebugging(undefined, {
      type, request: 'launch', name: `TaskScope injection test (${type})`, program, env: { APP_SETTING: 'kept' },
    });
    assert.ok(started, 'the debug session did not start');
    const session = await until('the debug session', () => vscode.debug.activeDebugSession);
    const env = session.configuration.env as Record<string, string>;
    assert.strictEqual(env.APP_SETTING, 'kept', 'the configuration\'s own environment must be kept');
    assert.strictEqual(env.TASKSCOPE_CONNECT, api.address);
    assert.strictEqual(env.TASKSCOPE_HISTORY_SECONDS, String(vscode.workspace.getConfiguration('taskscope').get('tasks.historySeconds')));
    assert.ok(env.PYTHONPATH.split(path.delimiter)[0].endsWith(path.join('python', 'taskscope', 'bootstrap')), env.PYTHONPATH);
    // The program itself (not python -m taskscope) connects, through the bootstrap.
    const p = await until('the debugged program to connect', () => connectedWithArgv(program));
    assert.deepStrictEqual(api.model.children(p.key, null).map((t) => t.coro), ['main']);
    assert.strictEqual(session.type, type);
    await vscode.debug.stopDebugging();
    await until('the debugged program to exit', () => api.model.process(p.key)?.status === 'exited');
  }

  it('leaves debug sessions alone when taskscope.debug.injectAgent is off', async () => {
    await vscode.workspace.getConfiguration('taskscope').update('debug.injectAgent', false, vscode.ConfigurationTarget.Global);
    const before = api.model.processes().length;
    await vscode.debug.startDebugging(undefined, { type: 'debugpy', request: 'launch', name: 'TaskScope no injection', program });
    const session = await until('the debug session', () => vscode.debug.activeDebugSession);
    assert.strictEqual((session.configuration.env as Record<string, string> | undefined)?.TASKSCOPE_CONNECT, undefined);
    await new Promise((r) => setTimeout(r, 2000));
    assert.strictEqual(api.model.processes().length, before, 'a process connected although injection was off');
  });

  /** `KEY=value` words of a copied text, unquoted. */
  function envOf(words: string[]): Record<string, string> {
    return Object.fromEntries(words.map((w) => /^(\w+)=(.*)$/.exec(w)!).map(([, k, v]) => [k, v.replace(/^'|'$/g, '')]));
  }

  it('gives a command line that connects a program started elsewhere, over TCP with a token', async () => {
    const text = (await vscode.commands.executeCommand('taskscope.attachCommand', 'tcp')) as string;
    const match = /^TASKSCOPE_TOKEN=(\w+) PYTHONPATH=(\S+) ((?:TASKSCOPE_\w+=\S+ )*)python3 -m taskscope run --connect (tcp:127\.0\.0\.1:\d+) your_app\.py$/.exec(text);
    assert.ok(match, text);
    assert.strictEqual(await vscode.env.clipboard.readText(), text);
    const [, token, pythonPath, settings, address] = match;
    assert.strictEqual(envOf(settings.trim().split(' ')).TASKSCOPE_HISTORY_SECONDS, String(vscode.workspace.getConfiguration('taskscope').get('tasks.historySeconds')));
    const child = cp.spawn('python3', ['-m', 'taskscope', 'run', '--connect', address, program], {
      env: { ...process.env, TASKSCOPE_TOKEN: token, PYTHONPATH: pythonPath.replace(/^'|'$/g, '') },
    });
    const p = await until('the TCP program to connect', () => connectedWithArgv(program)).finally(() => child.kill('SIGTERM'));
    assert.ok(api.model.taskCount(p.key) > 0);
    await until('the TCP program to exit', () => api.model.process(p.key)?.status === 'exited');
  });

  it('connects a program in a container that shares this machine\'s network, with a copy of the agent, never without the token', async () => {
    // No container runtime here: the copied line's pieces are checked, then its program is
    // run the way the container would run it (the agent from a copied folder, its environment).
    const text = (await vscode.commands.executeCommand('taskscope.attachCommand', 'container')) as string;
    const match = /^docker run --rm -it --network host -v (\S+):\/opt\/taskscope:ro ((?:-e \S+ )+)your-image python3 -m taskscope run --connect (tcp:127\.0\.0\.1:\d+) your_app\.py$/.exec(text);
    assert.ok(match, text);
    const [, mounted, envWords, address] = match;
    assert.strictEqual(mounted, api.agentRoot);
    const env = envOf(envWords.trim().split(' ').filter((w) => w !== '-e'));
    assert.strictEqual(env.PYTHONPATH, '/opt/taskscope');
    assert.match(env.TASKSCOPE_TOKEN, /^[0-9a-f]{48}$/);

    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-container-'));
    try {
      const copied = (await vscode.commands.executeCommand('taskscope.copyAgent', vscode.Uri.file(folder))) as string;
      assert.strictEqual(copied, path.join(folder, 'taskscope'));
      for (const file of ['__init__.py', 'agent.py', 'cli.py', path.join('bootstrap', 'sitecustomize.py')]) {
        assert.ok(fs.existsSync(path.join(copied, file)), `${file} was not copied`);
      }
      assert.ok(!fs.readdirSync(copied, { recursive: true }).some((f) => String(f).includes('__pycache__')), 'caches copied');
      const run = (token: string) =>
        cp.spawn('python3', ['-m', 'taskscope', 'run', '--connect', address, program], {
          cwd: folder,
          env: { ...process.env, ...env, PYTHONPATH: folder, TASKSCOPE_TOKEN: token },
        });
      const intruder = run('0'.repeat(48));
      try {
        await new Promise((r) => setTimeout(r, 2000));
        assert.ok(!connectedWithArgv(program), 'a program with the wrong token was let in');
      } finally {
        intruder.kill('SIGTERM');
      }
      const child = run(env.TASKSCOPE_TOKEN);
      const p = await until('the program to connect with the copied agent', () => connectedWithArgv(program)).finally(() => child.kill('SIGTERM'));
      assert.ok(api.model.taskCount(p.key) > 0);
      await until('the program to exit', () => api.model.process(p.key)?.status === 'exited');
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('connects a program in a container on a bridge network once taskscope.attach.listenHost names an address of this machine', async function () {
    // No container runtime here: this machine's own non-loopback address stands for the
    // bridge's gateway. The line's python part runs as the container would run it.
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) {
      this.test!.title += ' (skipped: this machine has no non-loopback IPv4 address)';
      this.skip();
    }
    const config = vscode.workspace.getConfiguration('taskscope');
    let port: number;
    await config.update('attach.listenHost', external, vscode.ConfigurationTarget.Global);
    try {
      const text = (await vscode.commands.executeCommand('taskscope.attachCommand', 'container')) as string;
      const hostPattern = external.replace(/\./g, '\\.');
      const match = new RegExp(
        `^docker run --rm -it -v (\\S+):/opt/taskscope:ro ((?:-e \\S+ )+)your-image python3 -m taskscope run --connect (tcp:${hostPattern}:(\\d+)) your_app\\.py$`,
      ).exec(text);
      assert.ok(match, text);
      const [, mounted, envWords, address, portText] = match;
      port = Number(portText);
      assert.strictEqual(mounted, api.agentRoot);
      const env = envOf(envWords.trim().split(' ').filter((w) => w !== '-e'));
      assert.strictEqual(env.PYTHONPATH, '/opt/taskscope');
      assert.match(env.TASKSCOPE_TOKEN, /^[0-9a-f]{48}$/);
      assert.strictEqual(env.TASKSCOPE_HISTORY_SECONDS, String(config.get('tasks.historySeconds')));
      const child = cp.spawn('python3', ['-m', 'taskscope', 'run', '--connect', address, program], {
        env: { ...process.env, ...env, PYTHONPATH: api.agentRoot },
      });
      try {
        const p = await until('the bridge-network program to connect', () => connectedWithArgv(program));
        assert.ok(api.model.taskCount(p.key) > 0);
        assert.ok(api.tasksView.getChildren().some((n) => n.processKey === p.key), 'the process has no row in the Tasks view');
        child.kill('SIGTERM');
        await until('the bridge-network program to exit', () => api.model.process(p.key)?.status === 'exited');
      } finally {
        child.kill('SIGTERM');
      }
    } finally {
      await config.update('attach.listenHost', undefined, vscode.ConfigurationTarget.Global);
    }
    // Back to the default: the next line is the host-network one, and the listener on the
    // other address takes no new connection.
    const again = (await vscode.commands.executeCommand('taskscope.attachCommand', 'container')) as string;
    assert.match(again, /^docker run --rm -it --network host .* --connect tcp:127\.0\.0\.1:\d+ your_app\.py$/);
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: external, port }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.strictEqual(outcome, 'ECONNREFUSED', `the old listener at ${external}:${port} still takes connections`);
  });

  it('listens on 127.0.0.1 when taskscope.attach.listenHost is not an IP address', async () => {
    const config = vscode.workspace.getConfiguration('taskscope');
    await config.update('attach.listenHost', 'docker0', vscode.ConfigurationTarget.Global);
    try {
      const text = (await vscode.commands.executeCommand('taskscope.attachCommand', 'container')) as string;
      assert.match(text, /^docker run --rm -it --network host .* --connect tcp:127\.0\.0\.1:\d+ your_app\.py$/);
    } finally {
      await config.update('attach.listenHost', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('opens the workspace\'s file for a program that reports the path it has in its container (taskscope.attach.pathMappings)', async () => {
    // No container runtime here: the program runs from a folder that stands for the
    // container's /app (with a copy of the workspace's file), which the setting maps to the workspace.
    const remote = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-app-'));
    const config = vscode.workspace.getConfiguration('taskscope');
    const copy = path.join(remote, path.basename(program));
    fs.copyFileSync(program, copy);
    await config.update('attach.pathMappings', [{ remoteRoot: remote, localRoot: '${workspaceFolder}' }], vscode.ConfigurationTarget.Global);
    const child = cp.spawn('python3', ['-m', 'taskscope', 'run', copy], {
      cwd: remote,
      env: { ...process.env, TASKSCOPE_CONNECT: api.address, PYTHONPATH: api.agentRoot },
    });
    try {
      const p = await until('the program with its leaves', () => {
        const proc = connectedWithArgv(copy);
        return proc && api.model.allTasks(proc.key).some((t) => t.name === 'leaf-1' && t.awaiting?.length) ? proc : undefined;
      });
      const leaf = api.model.allTasks(p.key).find((t) => t.name === 'leaf-1')!;
      assert.strictEqual(leaf.site?.file, program, `the creation site: ${JSON.stringify(leaf.site)}`);
      assert.ok(leaf.awaiting!.some((f) => f.file === program), `where it waits: ${JSON.stringify(leaf.awaiting)}`);
      assert.ok(!JSON.stringify(api.model.allTasks(p.key)).includes(remote), 'a path under the container\'s folder was left unmapped');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const editor = (await vscode.commands.executeCommand('taskscope.openCreationSite', api.tasksView.taskNode(p.key, leaf.id))) as vscode.TextEditor | undefined;
      assert.strictEqual(editor?.document.uri.fsPath, program);
      assert.strictEqual(editor!.selection.active.line + 1, leaf.site!.line);
      child.kill('SIGTERM');
      await until('the program to exit', () => api.model.process(p.key)?.status === 'exited');
    } finally {
      child.kill('SIGTERM');
      await config.update('attach.pathMappings', undefined, vscode.ConfigurationTarget.Global);
      fs.rmSync(remote, { recursive: true, force: true });
    }
  });

  it('opens a recording that the agent wrote with --record, as the process it was', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-record-'));
    const file = path.join(folder, 'hello.taskscope');
    const short = path.join(path.dirname(program), 'hello_tasks.py');
    try {
      const child = cp.spawn('python3', ['-m', 'taskscope', 'run', '--record', file, short], {
        env: { ...process.env, PYTHONPATH: api.agentRoot, TASKSCOPE_INTERVAL: '0.02' },
      });
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.strictEqual(code, 0);
      const summary = (await vscode.commands.executeCommand('taskscope.openRecording', vscode.Uri.file(file))) as {
        processKey: string; invalid: number; truncated: boolean;
      };
      assert.deepStrictEqual([summary.invalid, summary.truncated], [0, false]);
      const info = api.model.process(summary.processKey)!;
      assert.deepStrictEqual([info.status, info.exitCode, info.title], ['exited', 0, 'hello_tasks.py (recording)']);
      const tasks = api.model.allTasks(summary.processKey);
      const greets = tasks.filter((t) => t.coro === 'greet');
      assert.strictEqual(greets.length, 2, tasks.map((t) => `${t.name} ${t.coro}`).join(', '));
      for (const t of greets) {
        assert.strictEqual(t.state, 'done');
        assert.strictEqual(t.site?.file, short);
        assert.strictEqual(api.model.task(summary.processKey, t.parent!)?.coro, 'main');
      }
      assert.ok(api.tasksView.getChildren().some((n) => n.processKey === summary.processKey), 'the recording has no row in the Tasks view');
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('removes every exited process at once, and no connected one', async () => {
    const env = { ...process.env, TASKSCOPE_CONNECT: api.address, PYTHONPATH: api.agentRoot };
    const short = path.join(path.dirname(program), 'hello_tasks.py');
    const live = cp.spawn('python3', ['-m', 'taskscope', 'run', program], { env });
    try {
      // Only this test's own programs are looked at: an earlier test's run of the same file
      // may have been ended by its terminal's disposal, with no exit code to show.
      const pids = new Set<number>();
      for (let i = 0; i < 2; i++) {
        const child = cp.spawn('python3', ['-m', 'taskscope', 'run', short], { env });
        pids.add(child.pid!);
        await new Promise((resolve) => child.on('exit', resolve));
      }
      const shortOnes = await until('both short programs exited', () => {
        const exited = api.model.processes().filter((p) => pids.has(p.pid) && p.status === 'exited');
        return exited.length === 2 && exited;
      });
      const running = await until('the long program', () => connectedWithArgv(program));
      // Each exited row says so, with its exit code (hello_tasks.py ends normally).
      for (const p of shortOnes) {
        assert.match(String(api.tasksView.getTreeItem(api.tasksView.processNode(p.key)).description), /^pid \d+ · Python \S+ · exited \(code 0\)$/);
      }
      const removed = (await vscode.commands.executeCommand('taskscope.removeExitedProcesses')) as number;
      assert.ok(removed >= 2, `removed ${removed}`);
      assert.deepStrictEqual(api.model.processes().filter((p) => p.status === 'exited').map((p) => p.title), []);
      assert.strictEqual(api.model.process(running.key)?.status, 'connected');
      assert.deepStrictEqual(api.tasksView.getChildren().map((n) => n.processKey).filter((k) => api.model.process(k)?.status !== 'connected'), []);
      assert.ok(api.tasksView.getChildren().some((n) => n.processKey === running.key), 'the connected process lost its row');
      live.kill('SIGTERM');
      await until('the long program to exit', () => api.model.process(running.key)?.status === 'exited');
    } finally {
      live.kill('SIGTERM');
    }
  });

  it('copies the stack of a live task, asked of the agent', async () => {
    const child = cp.spawn('python3', ['-m', 'taskscope', 'run', program], {
      env: { ...process.env, TASKSCOPE_CONNECT: api.address, PYTHONPATH: api.agentRoot },
    });
    try {
      const p = await until('the program with its leaves', () => {
        const proc = connectedWithArgv(program);
        return proc && api.model.allTasks(proc.key).some((t) => t.name === 'leaf-1') ? proc : undefined;
      });
      const leaf = api.model.allTasks(p.key).find((t) => t.name === 'leaf-1')!;
      const text = (await vscode.commands.executeCommand('taskscope.copyStack', api.tasksView.taskNode(p.key, leaf.id))) as string;
      assert.match(text, /^Task leaf-1 \(leaf\) · pending\n/);
      assert.match(text, new RegExp(`File "${program.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}", line 8, in leaf`));
      assert.match(text, /Created at \(most recent call last\):/);
      assert.strictEqual(await vscode.env.clipboard.readText(), text);
      child.kill('SIGTERM');
      await until('the program to exit', () => api.model.process(p.key)?.status === 'exited');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
