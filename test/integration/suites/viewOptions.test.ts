// The Tasks view's options on a real program: the filter matches a task's coroutine and the
// file that created it, not only its name; siblings made at one line fold into one row once
// there are taskscope.tasks.foldThreshold of them (the setting, changed while the view shows).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import type { TasksViewNode } from '../../../src/views/taskTreeProvider';
import { EXTENSION_ID, label, until, workspaceFile } from '../support';

describe('Tasks view options', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let terminal: vscode.Terminal | undefined;
  let main: () => TasksViewNode;
  const labels = (nodes: TasksViewNode[]) => nodes.map((n) => label(api, n));
  const settings = () => vscode.workspace.getConfiguration('taskscope');

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
    await vscode.window.showTextDocument(workspaceFile('filters_and_folds.py'));
    terminal = ((await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal }).terminal;
    const processNode = await until('the process row', () =>
      api.tasksView.getChildren().find((n) => label(api, n) === 'filters_and_folds.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue))),
    );
    main = () => api.tasksView.getChildren(processNode)[0];
    await until('alpha and the three workers under main', () => {
      const rows = main() ? labels(api.tasksView.getChildren(main())) : [];
      return rows.length === 4 || undefined;
    });
  });

  after(async () => {
    terminal?.dispose();
    await vscode.commands.executeCommand('taskscope.clearFilter');
    await settings().update('tasks.foldThreshold', undefined, vscode.ConfigurationTarget.Global);
  });

  it('filters by coroutine: the task named alpha runs poll_quietly', async () => {
    await vscode.commands.executeCommand('taskscope.filterTasks', 'poll_quietly');
    try {
      assert.deepStrictEqual(labels(api.tasksView.getChildren(main())), ['alpha']);
    } finally {
      await vscode.commands.executeCommand('taskscope.clearFilter');
    }
  });

  it('filters by the file that created a task', async () => {
    await vscode.commands.executeCommand('taskscope.filterTasks', 'FILTER_HELPER.PY');
    try {
      assert.deepStrictEqual(labels(api.tasksView.getChildren(main())), ['w0', 'w1', 'w2']);
    } finally {
      await vscode.commands.executeCommand('taskscope.clearFilter');
    }
    assert.deepStrictEqual(labels(api.tasksView.getChildren(main())), ['alpha', 'w0', 'w1', 'w2']);
  });

  it('folds the siblings made at one line once there are taskscope.tasks.foldThreshold of them', async () => {
    assert.strictEqual(settings().get('tasks.foldThreshold'), 10);
    await settings().update('tasks.foldThreshold', 3, vscode.ConfigurationTarget.Global);
    const fold = await until('a folded row', () => api.tasksView.getChildren(main()).find((n) => n.kind === 'fold'));
    assert.deepStrictEqual(labels(api.tasksView.getChildren(main())), ['alpha', '×3 idle_worker']);
    assert.match(String(api.tasksView.getTreeItem(fold).description), /^filter_helper\.py:\d+$/);
    assert.deepStrictEqual(labels(api.tasksView.getChildren(fold)), ['w0', 'w1', 'w2']);
    // Its tooltip, built on hover, counts its tasks by state.
    const tooltip = (await api.tasksView.resolveTreeItem(api.tasksView.getTreeItem(fold), fold)).tooltip;
    assert.match(String(tooltip), /^3 tasks running idle_worker, created at .*filter_helper\.py:\d+\n3 pending$/);
    await settings().update('tasks.foldThreshold', 4, vscode.ConfigurationTarget.Global);
    await until('the rows unfolded (3 is under the threshold)', () => api.tasksView.getChildren(main()).length === 4 || undefined);
    await settings().update('tasks.foldThreshold', 0, vscode.ConfigurationTarget.Global);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepStrictEqual(labels(api.tasksView.getChildren(main())), ['alpha', 'w0', 'w1', 'w2'], '0 never folds');
  });
});
