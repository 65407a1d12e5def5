// A real program in which two tasks await one task: by awaiter, the shared task shows under
// both waiters, each row with an id of its own (VS Code refuses a tree with the same id twice:
// "Element with id … is already registered"), and both rows can be revealed and selected.
// A live change redraws only the rows it touched, though by awaiter a change can move rows.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import type { TasksViewNode } from '../../../src/views/taskTreeProvider';
import { EXTENSION_ID, label, until, workspaceFile } from '../support';

describe('Tasks view by awaiter, a task that two tasks await', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let terminal: vscode.Terminal | undefined;
  let processNode: TasksViewNode;
  /** The rows under waiter (waiter-a or waiter-b), under main → gather. */
  const rowsUnder = (waiter: string): TasksViewNode[] => {
    const row = waiterRow(waiter);
    return row ? api.tasksView.getChildren(row) : [];
  };
  const waiterRow = (waiter: string): TasksViewNode | undefined => {
    const [main] = api.tasksView.getChildren(processNode);
    const gather = main ? api.tasksView.getChildren(main).find((n) => n.kind === 'join') : undefined;
    return gather ? api.tasksView.getChildren(gather).find((n) => label(api, n) === waiter) : undefined;
  };

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
  });

  after(async () => {
    terminal?.dispose();
    await vscode.commands.executeCommand('taskscope.arrangeByCreator');
  });

  it('shows it under each waiter with ids of their own, and reveals and selects each', async () => {
    await vscode.window.showTextDocument(workspaceFile('shared_wait.py'));
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal };
    terminal = result.terminal;
    processNode = await until('the process row', () =>
      api.tasksView.getChildren().find((n) => label(api, n) === 'shared_wait.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue))),
    );
    await vscode.commands.executeCommand('taskscope.arrangeByAwaiter');
    const [underA, underB] = await until('the shared task under both waiters', () => {
      const a = rowsUnder('waiter-a').find((n) => label(api, n) === 'shared');
      const b = rowsUnder('waiter-b').find((n) => label(api, n) === 'shared');
      return a && b ? [a, b] : undefined;
    });
    const ids = [api.tasksView.getTreeItem(underA).id, api.tasksView.getTreeItem(underB).id];
    assert.notStrictEqual(ids[0], ids[1], `both rows have the id ${ids[0]}`);
    // Revealing a row makes VS Code fetch (and register) every row on the way: a repeated id
    // fails there. The second place starts closed; its tooltip says why it is there.
    for (const row of [underA, underB, underA]) {
      await api.reveal(row);
      assert.deepStrictEqual(api.selection().map((n) => n.id), [row.id]);
    }
    assert.strictEqual(api.tasksView.getTreeItem(underB).collapsibleState, vscode.TreeItemCollapsibleState.None);
    const tooltip = (await api.tasksView.resolveTreeItem(api.tasksView.getTreeItem(underB), underB)).tooltip as vscode.MarkdownString;
    assert.match(tooltip.value, /More than one task waits on it/);
    // Commands act on the task, whichever row: its creation site is the line in main.
    const editor = (await vscode.commands.executeCommand('taskscope.openCreationSite', underB)) as vscode.TextEditor | undefined;
    assert.ok(editor, 'no editor opened');
    assert.match(editor.document.lineAt(editor.selection.active.line).text, /name="shared"/);
  });

  it('redraws only the rows a live change touched, not the process, and keeps the selection', async () => {
    const waiterA = waiterRow('waiter-a')!;
    const others = ['waiter-b', 'shared'].map((name) => (name === 'shared' ? rowsUnder('waiter-a')[0] : waiterRow(name))!.id);
    const bell = waiterRow('bell') as TasksViewNode & { processKey: string; taskId: string };
    assert.deepStrictEqual(rowsUnder('bell'), [], 'the bell waits on nothing yet');
    await api.reveal(waiterA);
    await new Promise((r) => setTimeout(r, 1500)); // the redraws the reveal asked for are done
    const fired: (TasksViewNode | undefined)[] = [];
    const listener = api.tasksView.onDidChangeTreeData((n) => fired.push(...(Array.isArray(n) ? n : [n])));
    try {
      // The bell, cancelled, goes on to wait on the shared task: a row appears under it.
      const cancelled = await vscode.commands.executeCommand('taskscope.cancelTask', bell, undefined, { confirm: false });
      assert.deepStrictEqual(cancelled, [bell.taskId]);
      await until('the shared task under the bell', () => rowsUnder('bell').some((n) => label(api, n) === 'shared') || undefined);
      await new Promise((r) => setTimeout(r, 1500)); // past the batched redraws
      const redrawn = fired.map((n) => (n === undefined ? 'everything' : n.id));
      assert.ok(redrawn.includes(bell.id), `the bell's row was not redrawn: ${redrawn.join(', ')}`);
      for (const id of ['everything', processNode.id, waiterA.id, ...others]) {
        assert.ok(!redrawn.includes(id), `${id} did not change but was redrawn: ${redrawn.join(', ')}`);
      }
      assert.deepStrictEqual(api.selection().map((n) => n.id), [waiterA.id], 'the selection did not survive the update');
    } finally {
      listener.dispose();
    }
  });

  it('shows a TaskGroup that a task waits on as a node of its own, its tasks under it', async () => {
    await vscode.window.showTextDocument(workspaceFile('task_group.py'));
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal };
    const groupTerminal = result.terminal;
    try {
      const groupProcess = await until('the process row', () =>
        api.tasksView.getChildren().find((n) => label(api, n) === 'task_group.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue))),
      );
      const group = await until('a TaskGroup node under main', () => {
        const [main] = api.tasksView.getChildren(groupProcess);
        const join = main ? api.tasksView.getChildren(main).find((n) => n.kind === 'join') : undefined;
        return join && api.tasksView.getChildren(join).length === 2 ? join : undefined;
      });
      assert.match(String(api.tasksView.getTreeItem(group).label), /TaskGroup/);
      assert.strictEqual(api.tasksView.getTreeItem(group).description, '2 tasks');
      assert.deepStrictEqual(api.tasksView.getChildren(group).map((n) => label(api, n)), ['member-0', 'member-1']);
      await api.reveal(api.tasksView.getChildren(group)[1]); // VS Code draws and selects it
    } finally {
      groupTerminal.dispose();
    }
  });
});
