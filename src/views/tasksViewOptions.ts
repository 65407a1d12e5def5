/**
 * The Tasks view's options: arrangement, filter and hide-finished (kept per workspace, shown
 * through context keys so the title bar offers the right buttons), the fold threshold and
 * the bounded history of finished tasks (settings).
 */

import * as vscode from 'vscode';
import { ContextKeys } from '../constants';
import { getSetting } from '../contributes';
import type { TaskModel } from '../model/taskModel';
import type { Arrangement } from './arrangement';
import type { TaskTreeProvider } from './taskTreeProvider';

const STATE_KEY = 'taskscope.tasksView';
const PRUNE_EVERY_MS = 5000;

interface SavedState {
  arrangement?: Arrangement;
  hideFinished?: boolean;
}

export class TasksViewOptions implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(
    private readonly memento: vscode.Memento,
    private readonly provider: TaskTreeProvider,
    private readonly treeView: vscode.TreeView<unknown>,
    private readonly model: TaskModel,
  ) {
    const saved = memento.get<SavedState>(STATE_KEY, {});
    this.apply({
      arrangement: saved.arrangement ?? 'creator',
      hideFinished: saved.hideFinished ?? false,
      filter: '',
      foldThreshold: getSetting('tasks.foldThreshold') ?? 10,
    });
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('taskscope.tasks.foldThreshold')) this.apply({ foldThreshold: getSetting('tasks.foldThreshold') ?? 10 });
      }),
    );
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
  }

  arrange(arrangement: Arrangement): void {
    this.apply({ arrangement });
  }

  setHideFinished(hide: boolean): void {
    this.apply({ hideFinished: hide });
  }

  async promptFilter(): Promise<string | undefined> {
    const value = await vscode.window.showInputBox({
      title: 'Filter Tasks',
      prompt: 'Show tasks whose name, coroutine or creation file contains this text (and the tasks above them)',
      value: this.provider.arrangement.current.filter,
      placeHolder: 'fetch_page, worker-3, crawler.py …',
    });
    if (value !== undefined) this.setFilter(value);
    return value;
  }

  setFilter(filter: string): void {
    this.apply({ filter });
  }

  /** Forgets finished tasks older than the history setting (of running processes only: see TaskModel.pruneFinished). */
  prune(now = Date.now()): number {
    const seconds = getSetting('tasks.historySeconds') ?? 60;
    return this.model.pruneFinished(now - seconds * 1000);
  }

  dispose(): void {
    clearInterval(this.pruneTimer);
    for (const s of this.subscriptions) s.dispose();
  }

  private apply(options: Partial<{ arrangement: Arrangement; hideFinished: boolean; filter: string; foldThreshold: number }>): void {
    this.provider.configure(options);
    const current = this.provider.arrangement.current;
    void vscode.commands.executeCommand('setContext', ContextKeys.arrangement, current.arrangement);
    void vscode.commands.executeCommand('setContext', ContextKeys.filtered, current.filter !== '');
    void vscode.commands.executeCommand('setContext', ContextKeys.hideFinished, current.hideFinished);
    const labels: Record<Arrangement, string> = { creator: 'by creator', awaiter: 'by awaiter', flat: 'flat' };
    this.treeView.description = labels[current.arrangement] + (current.hideFinished ? ' · live only' : '');
    this.treeView.message = current.filter ? `Showing tasks that match “${current.filter}”.` : undefined;
    void this.memento.update(STATE_KEY, { arrangement: current.arrangement, hideFinished: current.hideFinished } satisfies SavedState);
  }
}
