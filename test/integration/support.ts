// What the integration suites share: the extension's id, its API, the workspace's files, and
// a wait for something to become true (the extension and the Python programs are live).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TaskScopeApi } from '../../src/extension';
import type { TasksViewNode } from '../../src/views/taskTreeProvider';

export const EXTENSION_ID = 'taskscope.taskscope';

export async function activateApi(): Promise<TaskScopeApi> {
  const extension = vscode.extensions.getExtension<TaskScopeApi>(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
  return extension.activate();
}

/** Polls `probe` until it returns something other than undefined or false. */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The label of a row of the Tasks view, as the view shows it. */
export function label(api: TaskScopeApi, node: TasksViewNode): string {
  const l = api.tasksView.getTreeItem(node).label;
  return typeof l === 'string' ? l : (l?.label ?? '');
}

export function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder');
  return vscode.Uri.joinPath(folder.uri, name);
}

/** Notes a figure for the record: `npm test` prints it under the test's line (not asserted). */
export function note(text: string): void {
  const holder = globalThis as { taskscopeTestNotes?: string[] };
  (holder.taskscopeTestNotes ??= []).push(text);
}
