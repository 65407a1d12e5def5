// The Tasks view with a real Python program, through public surfaces only (the commands, the
// exported tree provider): its tasks by creator, by awaiter and flat; the line that created a
// task (a click) and the line where it waits (the inline action); its creator; its tooltip;
// the filter; hiding finished tasks; cancelling a task, and a task with all it created.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import type { TasksViewNode } from '../../../src/views/taskTreeProvider';
import { EXTENSION_ID, label, note, until, workspaceFile } from '../support';

/**
 * The commands the manifest's view/item/context menus show for a Tasks view row with this
 * contextValue (a `view == …` clause holds; each `viewItem =~ /…/` is tested), inline ones too.
 */
function menuCommandsFor(contextValue: string): string[] {
  const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
    contributes: { menus: Record<string, { command: string; when?: string }[]> };
  };
  return manifest.contributes.menus['view/item/context']
    .filter((m) => (m.when ?? '').includes('view == taskscope.tasks'))
    .filter((m) =>
      [...(m.when ?? '').matchAll(/viewItem =~ \/(.*?)\//g)].every(([, re]) => new RegExp(re).test(contextValue)),
    )
    .map((m) => m.command);
}

/** The 1-based line of the file that contains `text`. */
function lineOf(file: vscode.Uri, text: string): number {
  const index = fs.readFileSync(file.fsPath, 'utf8').split('\n').findIndex((l) => l.includes(text));
  assert.ok(index >= 0, `no line with ${text}`);
  return index + 1;
}

describe('Tasks view, live', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let terminal: vscode.Terminal | undefined;
  const program = () => workspaceFile('nested_tasks.py');

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
  });

  after(() => terminal?.dispose());

  /** The row of the program this suite started (other suites may leave exited runs of it). */
  let processKey: string | undefined;
  const ourProcess = () => api.tasksView.getChildren().find((n) => n.processKey === processKey)!;
  /** The row of leaf-`i`, under main → branch. */
  const leafRow = (i: number) => {
    const [main] = api.tasksView.getChildren(ourProcess());
    const branch = api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch')!;
    return api.tasksView.getChildren(branch).find((n) => label(api, n) === `leaf-${i}`)!;
  };

  it('runs the active Python file with the agent and shows its process', async () => {
    await vscode.window.showTextDocument(program());
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal; launch: { args: string[]; env: Record<string, string> } };
    assert.ok(result, 'the command started nothing');
    terminal = result.terminal;
    assert.deepStrictEqual(result.launch.args.slice(0, 3), ['-m', 'taskscope', 'run']);
    // The settings reach the agent: the history of finished tasks among them.
    const history = vscode.workspace.getConfiguration('taskscope').get<number>('tasks.historySeconds');
    assert.strictEqual(result.launch.env.TASKSCOPE_HISTORY_SECONDS, String(history));
    const processNode = await until('the process row', () =>
      api.tasksView
        .getChildren()
        .find((n) => label(api, n) === 'nested_tasks.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue)) && n.processKey !== processKey),
    );
    processKey = processNode.processKey;
    const item = api.tasksView.getTreeItem(processNode);
    assert.match(String(item.description), /^pid \d+ · Python 3\./);
    assert.match(String(item.contextValue), /\bprocess\b.*\bconnected\b/);
  });

  it('nests each task under the task that created it, with its coroutine', async () => {
    const processNode = ourProcess();
    // Wait for the whole tree: main → branch → leaf-0, leaf-1.
    const leaves = await until('leaf-0 and leaf-1 under branch', () => {
      const [main] = api.tasksView.getChildren(processNode);
      const branch = main && api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch');
      const found = branch ? api.tasksView.getChildren(branch) : [];
      return found.length === 2 ? found : undefined;
    });
    assert.deepStrictEqual(leaves.map((n) => label(api, n)), ['leaf-0', 'leaf-1']);
    const [main] = api.tasksView.getChildren(processNode);
    assert.match(String(api.tasksView.getTreeItem(main).description), /^main\b/);
    const leafItem = api.tasksView.getTreeItem(leaves[0]);
    assert.match(String(leafItem.description), /^leaf · awaiting sleep · /);
    assert.strictEqual((leafItem.iconPath as vscode.ThemeIcon).id, 'watch');
    assert.strictEqual(leafItem.command?.command, 'taskscope.openCreationSite');
    assert.strictEqual(leafItem.id, `${processNode.processKey}/${(leaves[0] as { taskId: string }).taskId}`);
  });

  it('opens the line that created a task, as a click on its row does', async () => {
    const processNode = ourProcess();
    const [main] = api.tasksView.getChildren(processNode);
    const branch = api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch')!;
    const leaf = api.tasksView.getChildren(branch)[1];
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const click = api.tasksView.getTreeItem(leaf).command!;
    assert.strictEqual(click.command, 'taskscope.openCreationSite');
    assert.strictEqual(click.arguments, undefined, 'the row command reads the selection, so a redrawn row still works');
    const revealMs = await api.reveal(leaf); // a click selects the row, then runs its command
    note(`the row was selected ${revealMs} ms after reveal`);
    const opened = (await vscode.commands.executeCommand(click.command)) as vscode.TextEditor | undefined;
    assert.ok(opened, `the command opened no editor (site: ${JSON.stringify(api.model.task(leaf.processKey, (leaf as { taskId: string }).taskId)?.site)})`);
    const editor = await until('an editor', () => vscode.window.activeTextEditor);
    assert.strictEqual(path.basename(editor.document.uri.fsPath), 'nested_tasks.py');
    assert.strictEqual(editor.selection.active.line + 1, lineOf(program(), '# creates the leaves'));

    await vscode.commands.executeCommand('taskscope.openCreationSite', branch);
    assert.strictEqual(vscode.window.activeTextEditor!.selection.active.line + 1, lineOf(program(), '# creates the branch'));
  });

  it('arranges the tasks flat and back by creator from the view\'s commands', async () => {
    const processNode = ourProcess();
    await vscode.commands.executeCommand('taskscope.arrangeFlat');
    const flat = api.tasksView.getChildren(processNode).map((n) => label(api, n));
    assert.deepStrictEqual(flat.slice(1), ['branch', 'leaf-0', 'leaf-1']);
    await vscode.commands.executeCommand('taskscope.arrangeByCreator');
    assert.deepStrictEqual(api.tasksView.getChildren(processNode).length, 1);
  });

  it('filters the tasks, keeping the path to each match', async () => {
    const processNode = ourProcess();
    await vscode.commands.executeCommand('taskscope.filterTasks', 'leaf-1');
    const [main] = api.tasksView.getChildren(processNode);
    const [branch] = api.tasksView.getChildren(main);
    assert.deepStrictEqual(api.tasksView.getChildren(branch).map((n) => label(api, n)), ['leaf-1']);
    await vscode.commands.executeCommand('taskscope.clearFilter');
    assert.strictEqual(api.tasksView.getChildren(branch).length, 2);
  });

  it('arranges the tasks by awaiter, with the gather the branch waits on as a node of its own', async () => {
    const processNode = ourProcess();
    await vscode.commands.executeCommand('taskscope.arrangeByAwaiter');
    try {
      const gather = await until('a gather node under branch', () => {
        const [main] = api.tasksView.getChildren(processNode);
        const branch = main && api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch');
        return branch && api.tasksView.getChildren(branch).find((n) => n.kind === 'join');
      });
      assert.match(label(api, gather), /gather/);
      assert.strictEqual(api.tasksView.getTreeItem(gather).description, '2 tasks');
      assert.deepStrictEqual(api.tasksView.getChildren(gather).map((n) => label(api, n)), ['leaf-0', 'leaf-1']);
    } finally {
      await vscode.commands.executeCommand('taskscope.arrangeByCreator');
    }
  });

  it('opens the line where a task waits now, as the row\'s inline action does', async () => {
    const leaf = leafRow(1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const editor = (await vscode.commands.executeCommand('taskscope.openAwaitPoint', leaf)) as vscode.TextEditor | undefined;
    assert.ok(editor, 'no editor opened');
    assert.strictEqual(path.basename(editor.document.uri.fsPath), 'nested_tasks.py');
    assert.strictEqual(editor.selection.active.line + 1, lineOf(program(), 'await asyncio.sleep(3600)'));
  });

  it('reveals and selects the task that created a task', async () => {
    const revealed = (await vscode.commands.executeCommand('taskscope.revealCreator', leafRow(0))) as TasksViewNode | undefined;
    assert.ok(revealed, 'no creator revealed');
    assert.strictEqual(label(api, revealed), 'branch');
    await until('the creator to be selected', () => api.selection().some((n) => n.id === revealed.id) || undefined);
  });

  it('shows where a task was created and where it waits in its tooltip, each place a link', async () => {
    const leaf = leafRow(1);
    const item = await api.tasksView.resolveTreeItem(api.tasksView.getTreeItem(leaf), leaf);
    const tooltip = item.tooltip as vscode.MarkdownString;
    assert.ok(tooltip instanceof vscode.MarkdownString, 'the tooltip is not Markdown');
    const link = (text: string) => `${vscode.Uri.file(program().fsPath).toString()}#L${lineOf(program(), text)}`;
    assert.match(tooltip.value, /^\*\*leaf\\?-1\*\* · `leaf` · pending/); // the name is escaped for Markdown
    assert.match(tooltip.value, /Created in `branch/);
    assert.ok(tooltip.value.includes(`(${link('# creates the leaves')})`), tooltip.value);
    assert.match(tooltip.value, /Waiting for .* at:/);
    assert.ok(tooltip.value.includes(`(${link('await asyncio.sleep(3600)')})`), tooltip.value);
  });

  it('offers the actions of a live task in its context menu and inline, cancel included', () => {
    const leaf = leafRow(1);
    const contextValue = api.tasksView.getTreeItem(leaf).contextValue!;
    assert.deepStrictEqual(menuCommandsFor(contextValue).sort(), [
      'taskscope.cancelTask', 'taskscope.cancelTask', 'taskscope.cancelTaskTree', 'taskscope.copyStack',
      'taskscope.openAwaitPoint', 'taskscope.openAwaitPoint', 'taskscope.openCreationSite', 'taskscope.revealCreator',
    ]);
    assert.strictEqual(api.rowMark(leaf), undefined, 'a live task without findings has no decoration');
  });

  it('cancels a task in the Python process', async () => {
    const processNode = ourProcess();
    const [main] = api.tasksView.getChildren(processNode);
    const branch = api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch')!;
    const leaf = api.tasksView.getChildren(branch)[0] as { processKey: string; taskId: string };
    // Cancelling the branch would cancel what it waits on: the gather of both leaves.
    const branchTask = branch as { processKey: string; taskId: string };
    const leafIds = api.tasksView.getChildren(branch).map((n) => (n as { taskId: string }).taskId);
    assert.deepStrictEqual([...api.cancelledWith(branchTask.processKey, branchTask.taskId)].sort(), [...leafIds].sort());
    assert.deepStrictEqual(api.cancelledWith(leaf.processKey, leaf.taskId), [], 'a leaf waits on no task');
    // Arranged flat, with its sibling selected: the live update redraws the cancelled task's
    // row alone, and the selection stays; so it does through a redraw of every row (a filter).
    const sibling = api.tasksView.getChildren(branch)[1] as { processKey: string; taskId: string; id?: string };
    await vscode.commands.executeCommand('taskscope.arrangeFlat');
    const fired: (TasksViewNode | undefined)[] = [];
    const listener = api.tasksView.onDidChangeTreeData((n) => fired.push(...(Array.isArray(n) ? n : [n])));
    try {
      // Revealed once the view has drawn the flat rows: until then VS Code cannot resolve them
      // ("Cannot resolve tree item"), so the row is looked up and revealed again.
      const flatRow = () => api.tasksView.getChildren(processNode).find((n) => (n as { taskId?: string }).taskId === sibling.taskId)!;
      let flatSibling: TasksViewNode | undefined;
      for (const started = Date.now(); !flatSibling; ) {
        const row = flatRow();
        try {
          assert.ok(row, 'no flat row for leaf-1');
          await api.reveal(row, 3000);
          flatSibling = row;
        } catch (e) {
          if (Date.now() - started > 20000) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      await new Promise((r) => setTimeout(r, 1500)); // the redraws the arrangement asked for are done
      fired.length = 0;
      const cancelled = await vscode.commands.executeCommand('taskscope.cancelTask', leaf, undefined, { confirm: false });
      assert.deepStrictEqual(cancelled, [leaf.taskId]);
      await until('leaf-0 to be cancelled in the process', () => api.model.task(leaf.processKey, leaf.taskId)?.state === 'cancelled' || undefined);
      await new Promise((r) => setTimeout(r, 1500)); // past the batched redraws
      const redrawn = fired.map((n) => (n === undefined ? 'everything' : n.id));
      assert.ok(redrawn.includes(`${leaf.processKey}/${leaf.taskId}`), `leaf-0's row was not redrawn: ${redrawn.join(', ')}`);
      assert.deepStrictEqual(redrawn.filter((id) => !id.includes('/')), [], 'more than the changed rows were redrawn');
      assert.deepStrictEqual(api.selection().map((n) => n.id), [flatSibling.id], 'the selection did not survive the update');
      await vscode.commands.executeCommand('taskscope.filterTasks', 'leaf');
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepStrictEqual(api.selection().map((n) => n.id), [flatSibling.id], 'the selection did not survive a redraw of every row');
    } finally {
      listener.dispose();
      await vscode.commands.executeCommand('taskscope.clearFilter');
      await vscode.commands.executeCommand('taskscope.arrangeByCreator');
    }
  });

  it('hides finished tasks from the view and shows them again', async () => {
    // leaf-0 was cancelled by the test before.
    const branch = () => api.tasksView.getChildren(api.tasksView.getChildren(ourProcess())[0]).find((n) => label(api, n) === 'branch')!;
    await vscode.commands.executeCommand('taskscope.hideFinished');
    try {
      assert.deepStrictEqual(api.tasksView.getChildren(branch()).map((n) => label(api, n)), ['leaf-1']);
    } finally {
      await vscode.commands.executeCommand('taskscope.showFinished');
    }
    assert.deepStrictEqual(api.tasksView.getChildren(branch()).map((n) => label(api, n)), ['leaf-0', 'leaf-1']);
  });

  it('cancels a task and everything it created, in the Python process', async () => {
    const [main] = api.tasksView.getChildren(ourProcess());
    const branch = api.tasksView.getChildren(main).find((n) => label(api, n) === 'branch') as TasksViewNode & { processKey: string; taskId: string };
    const leaf1 = leafRow(1) as TasksViewNode & { taskId: string };
    const cancelled = (await vscode.commands.executeCommand('taskscope.cancelTaskTree', branch, undefined, { confirm: false })) as string[];
    assert.deepStrictEqual([...cancelled].sort(), [branch.taskId, leaf1.taskId].sort());
    for (const id of [branch.taskId, leaf1.taskId]) {
      await until(`${id} to be cancelled in the process`, () => api.model.task(branch.processKey, id)?.state === 'cancelled' || undefined);
    }
  });

  it('marks the process exited when the program ends', async () => {
    terminal?.dispose();
    terminal = undefined;
    const processNode = await until('the process to exit', () =>
      /exited/.test(String(api.tasksView.getTreeItem(ourProcess()).description)) ? ourProcess() : undefined,
    );
    assert.match(String(api.tasksView.getTreeItem(processNode).contextValue), /\bexited\b/);
    // The process row and its tasks stay, greyed: history (icons, and names through a decoration).
    const processItem = api.tasksView.getTreeItem(processNode);
    assert.strictEqual(((processItem.iconPath as vscode.ThemeIcon).color as vscode.ThemeColor).id, 'disabledForeground');
    assert.strictEqual(api.rowMark(processNode)?.color, 'disabledForeground');
    const [main] = api.tasksView.getChildren(processNode);
    assert.strictEqual(((api.tasksView.getTreeItem(main).iconPath as vscode.ThemeIcon).color as vscode.ThemeColor).id, 'disabledForeground');
    assert.strictEqual(api.rowMark(main)?.color, 'disabledForeground');
    // Nothing left to cancel: the cancel actions are gone from its tasks.
    assert.deepStrictEqual(menuCommandsFor(api.tasksView.getTreeItem(main).contextValue!).filter((c) => c.startsWith('taskscope.cancel')), []);
    await vscode.commands.executeCommand('taskscope.removeProcess', processNode);
    assert.ok(!api.tasksView.getChildren().some((n) => n.processKey === processNode.processKey));
  });
});
