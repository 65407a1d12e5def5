// Tasks a library made in a callback of the event loop, with no frame of the program's on the
// stack that created them: a server's connection tasks (asyncio's streams here; aiohttp's
// request handlers alike). Their row still leads to the code that made them: the library's line.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../../src/extension';
import type { TasksViewNode } from '../../../src/views/taskTreeProvider';
import { EXTENSION_ID, label, until, workspaceFile } from '../support';

describe('Tasks view, tasks a library made', function () {
  this.timeout(60000);
  let api: TaskScopeApi;
  let terminal: vscode.Terminal | undefined;

  before(async () => {
    api = (await vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID)!.activate())!;
  });

  after(() => terminal?.dispose());

  it('names the library code that made a connection task and opens its line', async () => {
    await vscode.window.showTextDocument(workspaceFile('served_tasks.py'));
    const result = (await vscode.commands.executeCommand('taskscope.runFile')) as { terminal: vscode.Terminal };
    terminal = result.terminal;
    const processNode = await until('the process row', () =>
      api.tasksView.getChildren().find((n) => label(api, n) === 'served_tasks.py' && /\bconnected\b/.test(String(api.tasksView.getTreeItem(n).contextValue))),
    );
    const handlerOf = (n: TasksViewNode) => (n.kind === 'task' ? api.model.task(n.processKey, n.taskId) : undefined);
    const rows = await until('the three connection tasks', () => {
      const found = api.tasksView.getChildren(processNode).filter((n) => handlerOf(n)?.coro === 'handle');
      return found.length === 3 ? found : undefined;
    });
    const task = handlerOf(rows[0])!;
    assert.strictEqual(task.site, null, 'no frame of the program made it');
    const made = task.stack?.[0];
    assert.ok(made, 'the agent sent no creation stack');
    assert.strictEqual(path.basename(made.file), 'streams.py');

    const item = await api.tasksView.resolveTreeItem(api.tasksView.getTreeItem(rows[0]), rows[0]);
    assert.strictEqual(item.command?.command, 'taskscope.openCreationSite', 'a click opens where it was made');
    assert.match(String(item.contextValue), /\bhasSite\b/);
    const tooltip = (item.tooltip as vscode.MarkdownString).value;
    assert.ok(tooltip.includes(`Created by library code in \`${made.function}\``), tooltip);
    assert.ok(tooltip.includes(`(${vscode.Uri.file(made.file).with({ fragment: `L${made.line}` }).toString()})`), tooltip);

    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const editor = (await vscode.commands.executeCommand('taskscope.openCreationSite', rows[0])) as vscode.TextEditor | undefined;
    assert.ok(editor, 'the command opened no editor');
    assert.strictEqual(editor.document.uri.fsPath, made.file);
    assert.strictEqual(editor.selection.active.line + 1, made.line);
    assert.match(editor.document.lineAt(made.line - 1).text, /create_task|def connection_made/);
  });
});
