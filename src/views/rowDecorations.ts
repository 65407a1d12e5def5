/**
 * The Tasks view's row decorations: a task that a finding concerns keeps its state icon and
 * gets a badge (how many kinds of finding) and the warning colour on its name (the error
 * colour for an exception never retrieved), the way the Explorer marks a file with problems;
 * a process that exited, and its tasks, are drawn grey. Rows carry a `taskscope-row:` URI
 * (`resourceUri`) that this provider answers for; the words and colours are in taskText.ts.
 */

import * as vscode from 'vscode';
import type { FindingStore } from '../model/findings';
import type { TaskModel } from '../model/taskModel';
import { processMark, RowMark, taskMark } from './taskText';

export const ROW_SCHEME = 'taskscope-row';

export function taskRowUri(processKey: string, taskId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: ROW_SCHEME, path: `/${encodeURIComponent(processKey)}/${encodeURIComponent(taskId)}` });
}

export function processRowUri(processKey: string): vscode.Uri {
  return vscode.Uri.from({ scheme: ROW_SCHEME, path: `/${encodeURIComponent(processKey)}` });
}

export class RowDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>();
  readonly onDidChangeFileDecorations = this.changeEmitter.event;
  private readonly subscriptions: { dispose(): void }[];

  constructor(
    private readonly model: TaskModel,
    private readonly findings: FindingStore,
  ) {
    this.subscriptions = [
      findings.onDidChange((change) => {
        if (change.cleared) return this.changeEmitter.fire(undefined);
        const uris = [...change.added, ...change.updated].filter((f) => f.taskId).map((f) => taskRowUri(f.processKey, f.taskId!));
        if (uris.length) this.changeEmitter.fire(uris);
      }),
      // A process that exits greys all its rows (rare: one refresh of every decoration).
      model.onDidChange((change) => {
        if (change.processChanged && this.model.process(change.processKey)?.status === 'exited') this.changeEmitter.fire(undefined);
      }),
    ];
  }

  /** The mark of a row's URI (for the view, and for tests). */
  mark(uri: vscode.Uri): RowMark | undefined {
    if (uri.scheme !== ROW_SCHEME) return undefined;
    const [processKey, taskId] = uri.path.split('/').slice(1).map(decodeURIComponent);
    const exited = this.model.process(processKey)?.status === 'exited';
    if (taskId === undefined) return processMark(exited);
    return taskMark(this.findings.kindsOf(processKey, taskId), exited);
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    const mark = this.mark(uri);
    if (!mark) return undefined;
    const decoration = new vscode.FileDecoration(mark.badge, mark.tooltip, mark.color ? new vscode.ThemeColor(mark.color) : undefined);
    decoration.propagate = false;
    return decoration;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changeEmitter.dispose();
  }
}
