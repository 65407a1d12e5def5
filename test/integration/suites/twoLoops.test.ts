// A real program with an event loop in each of two threads: the Tasks view shows a row per loop
// (named by its thread) with that loop's tasks under it, and marks the task that is running.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import type { TasksViewNode } from '../../../src/views/taskTreeProvider';
import { EXTENSION_ID, label, until, workspaceFile } from '../support';

describe('Tasks view, two event loops', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let terminal: vscode.Terminal | undefined;
  let processKey: string | undefined;

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
  });

  after(() => terminal?.dispose());

  /** The loop rows of the program, once both loops and their tasks are known. */
  async function loopRows(): Promise<TasksViewNode[]> {
    return until('a row per loop, each with its task', () => {
      const processNode = api.tasksView.getChildren().find((n) => n.processKey === processKey);
      const loops = processNode ? api.tasksView.getChildren(processNode).filter((n) => n.kind === 'loop') : [];
      const named = loops.map((l) => api.tasksView.getChildren(l).flatMap((t) => [label(api, t), ...api.tasksView.getChildren(t).map((c) => label(api, c))]));
      return loops.length === 2 && named.some((n) => n.includes('idle')) && named.some((n) => n.includes('busy')) ? loops : undefined;
    });
  }

  it('shows a row for each loop, named by its thread, with that loop\'s tasks under it', async () => {
    await vscode.window.showTextDocument(workspaceFile('two_loops.py'));
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal };
    terminal = result.terminal;
    const processNode = await until('the process row', () =>
      api.tasksView.getChildren().find((n) => label(api, n) === 'two_loops.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue))),
    );
    processKey = processNode.processKey;
    const loops = await loopRows();
    const byThread = new Map(loops.map((l) => [label(api, l), l]));
    assert.deepStrictEqual([...byThread.keys()].sort(), ['loop in MainThread', 'loop in worker']);
    const mainTasks = api.tasksView.getChildren(byThread.get('loop in MainThread')!);
    const workerTasks = api.tasksView.getChildren(byThread.get('loop in worker')!);
    assert.ok(!workerTasks.some((t) => label(api, t) === 'idle'), 'idle runs on the main loop');
    assert.ok(!mainTasks.some((t) => label(api, t) === 'busy'), 'busy runs on the worker loop');
    assert.match(String(api.tasksView.getTreeItem(byThread.get('loop in worker')!).description), /^thread \d+$/);
  });

  it('marks the task that is running', async () => {
    const loops = await loopRows();
    const worker = loops.find((l) => label(api, l) === 'loop in worker')!;
    const busy = await until('busy, seen running', () => {
      const rows = api.tasksView.getChildren(worker).flatMap((t) => [t, ...api.tasksView.getChildren(t)]);
      const row = rows.find((t) => label(api, t) === 'busy');
      return row && /\bstate-running\b/.test(String(api.tasksView.getTreeItem(row).contextValue)) ? row : undefined;
    });
    assert.strictEqual((api.tasksView.getTreeItem(busy).iconPath as vscode.ThemeIcon).id, 'play-circle');
  });
});
